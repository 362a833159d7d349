package io.ferry.control.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Service;
import io.ferry.control.Cidr;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestSourceTest {

    @TempDir
    Path dir;

    private ManifestSource source(Path... paths) {
        return new ManifestSource(List.of(paths), Cidr.parse("10.96.0.0/12"), s -> { }, Duration.ofMillis(10),
                                  Clock.systemUTC());
    }

    private static final String TWO_SERVICES = """
            apiVersion: v1
            kind: Service
            metadata: {name: a}
            spec:
              ports: [{port: 80}]
            ---
            # a comment-only document is fine
            ---
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: b, namespace: other}
              spec:
                type: NodePort
                clusterIP: 127.5.0.1
                ports: [{name: http, port: 80}, {name: admin, port: 81, nodePort: 31000}]
            - apiVersion: apps/v1
              kind: Deployment
              metadata: {name: ignored}
            """;

    private static Service service(ClusterState s, String name) {
        return s.services().stream().filter(x -> x.getMetadata().getName().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void readsDocumentsAndListsAndFillsInWhatTheApiServerWould() throws Exception {
        Files.writeString(dir.resolve("svc.yaml"), TWO_SERVICES);
        Files.writeString(dir.resolve("notes.txt"), "not a manifest");
        ManifestSource source = source(dir);
        ClusterState s = source.load();

        assertThat(s.problems()).isEmpty();
        assertThat(s.services()).hasSize(2);
        Service a = service(s, "a");
        assertThat(a.getMetadata().getNamespace()).isEqualTo("default");
        assertThat(a.getMetadata().getCreationTimestamp()).isNotNull();
        assertThat(Cidr.parse("10.96.0.0/12").contains(java.net.InetAddress.getByName(a.getSpec().getClusterIP())))
                .isTrue();
        Service b = service(s, "b");
        assertThat(b.getSpec().getClusterIP()).isEqualTo("127.5.0.1");
        assertThat(b.getSpec().getPorts().get(0).getNodePort()).isBetween(30000, 32767).isNotEqualTo(31000);
        assertThat(b.getSpec().getPorts().get(1).getNodePort()).isEqualTo(31000);

        // Allocations and timestamps are stable across reloads.
        ClusterState again = source.load();
        assertThat(service(again, "a").getSpec().getClusterIP()).isEqualTo(a.getSpec().getClusterIP());
        assertThat(service(again, "a").getMetadata().getCreationTimestamp())
                .isEqualTo(a.getMetadata().getCreationTimestamp());
        assertThat(service(again, "b").getSpec().getPorts().get(0).getNodePort())
                .isEqualTo(b.getSpec().getPorts().get(0).getNodePort());
    }

    @Test
    void aFileThatStopsParsingKeepsItsLastGoodObjects() throws Exception {
        Path file = dir.resolve("svc.yaml");
        Files.writeString(file, TWO_SERVICES);
        ManifestSource source = source(dir);
        assertThat(source.load().services()).hasSize(2);

        Files.writeString(file, TWO_SERVICES.replace("kind: List", "kind: List\n  bad: [unclosed"));
        ClusterState broken = source.load();
        assertThat(broken.services()).hasSize(2);
        assertThat(broken.problems()).singleElement().extracting(ConfigProblem::message).asString()
                                     .contains("document 3").contains("last good objects stay live");

        Files.writeString(file, "apiVersion: v1\nkind: Service\nmetadata: {name: only}\nspec: {ports: [{port: 1}]}\n");
        ClusterState fixed = source.load();
        assertThat(fixed.problems()).isEmpty();
        assertThat(fixed.services()).extracting(x -> x.getMetadata().getName()).containsExactly("only");
    }

    @Test
    void aMissingDirectoryKeepsItsObjectsAndADeletedFileTakesThemAway() throws Exception {
        Path sub = Files.createDirectory(dir.resolve("sub"));
        Path file = sub.resolve("svc.yaml");
        Files.writeString(file, TWO_SERVICES);
        ManifestSource source = source(sub);
        assertThat(source.load().services()).hasSize(2);

        Path moved = dir.resolve("moved");
        Files.move(sub, moved);
        ClusterState missing = source.load();
        assertThat(missing.services()).hasSize(2);
        assertThat(missing.problems()).singleElement().extracting(ConfigProblem::message).asString()
                                      .contains("not found");

        Files.move(moved, sub);
        assertThat(source.load().problems()).isEmpty();
        Files.delete(file);
        assertThat(source.load().services()).isEmpty();
    }

    @Test
    void objectsWithoutKindOrNameAreErrors() throws Exception {
        Files.writeString(dir.resolve("a.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {}\n");
        Files.writeString(dir.resolve("b.yaml"), "just: a map\n");
        ClusterState s = source(dir).load();
        assertThat(s.problems()).extracting(ConfigProblem::message).containsExactlyInAnyOrder(
                "document 1: Service: metadata.name is required",
                "document 1: apiVersion and kind are required");
    }

    @Test
    void theSameObjectInTwoFilesIsReportedAndTheFirstWins() throws Exception {
        String svc = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: %s, ports: [{port: 1}]}\n";
        Files.writeString(dir.resolve("1.yaml"), svc.formatted("127.5.0.1"));
        Files.writeString(dir.resolve("2.yaml"), svc.formatted("127.5.0.2"));
        ClusterState s = source(dir).load();
        assertThat(s.services()).singleElement().extracting(x -> x.getSpec().getClusterIP()).isEqualTo("127.5.0.1");
        assertThat(s.problems()).singleElement().asString().contains("2.yaml").contains("also defined in");
    }

    @Test
    void otherFilesAndUnchangedRewritesPublishNothing() throws Exception {
        Path svc = dir.resolve("svc.yaml");
        Files.writeString(svc, TWO_SERVICES);
        List<ClusterState> states = new java.util.concurrent.CopyOnWriteArrayList<>();
        ManifestSource source = new ManifestSource(List.of(dir), Cidr.parse("10.96.0.0/12"), states::add,
                                                   Duration.ofMillis(10), Clock.systemUTC());
        try {
            source.start();
            assertThat(states).hasSize(1);

            // A log written into the manifest directory: its events are ignored, nothing is reloaded.
            Path log = dir.resolve("ferry.log");
            for (int i = 0; i < 20; i++) {
                Files.writeString(log, "line " + i + "\n", java.nio.file.StandardOpenOption.CREATE,
                                  java.nio.file.StandardOpenOption.APPEND);
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                                     .until(() -> source.ignoredEvents() >= 1);
            assertThat(source.reloads()).isZero();

            // The manifest rewritten with the same bytes: reloaded, nothing new published.
            Files.writeString(svc, TWO_SERVICES);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> source.reloads() >= 1);
            assertThat(source.published()).isZero();
            assertThat(states).hasSize(1);

            // A real edit is published once.
            Files.writeString(svc, TWO_SERVICES.replace("name: a}", "name: c}"));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> states.size() == 2);
            assertThat(service(states.get(1), "c")).isNotNull();
            assertThat(source.published()).isEqualTo(1);
        } finally {
            source.close();
        }
    }
}
