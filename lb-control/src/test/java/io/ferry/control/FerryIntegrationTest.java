package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole process on manifests it watches, with real sockets: edits, removals, broken input and NodePorts, on
 * every transport.
 */
class FerryIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private Ferry ferry;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void start(Transport.Kind kind) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        ferry = Ferry.start(FerryOptions.builder()
                                        .addManifests(dir)
                                        .adminPort(0)
                                        .transport(kind)
                                        .ioThreads(2)
                                        .minSyncPeriod(Duration.ofMillis(10))
                                        .addNodePortAddresses(Cidr.parse("127.0.0.0/8"))
                                        .httpPort(-1)
                                        .httpsPort(-1)
                                        .build());
        closeables.add(ferry);
        await().atMost(DEADLINE).until(() -> admin("/readyz").statusCode() == 200);
    }

    private TestBackend backend(String name) throws IOException {
        TestBackend b = TestBackend.start(TestBackend.greetThenEcho(name));
        closeables.add(b);
        return b;
    }

    private static String service(String name, String clusterIp, int port, TestBackend endpoint) {
        return """
               apiVersion: v1
               kind: Service
               metadata: {name: %1$s, namespace: it}
               spec:
                 clusterIP: %2$s
                 ports: [{port: %3$d, targetPort: 8080}]
               ---
               apiVersion: discovery.k8s.io/v1
               kind: EndpointSlice
               metadata:
                 name: %1$s-x1
                 namespace: it
                 labels: {kubernetes.io/service-name: %1$s}
               addressType: IPv4
               ports: [{port: %4$d}]
               endpoints:
               - addresses: ["127.0.0.1"]
               ---
               """.formatted(name, clusterIp, port, endpoint.address().getPort());
    }

    private HttpResponse<String> admin(String path) throws Exception {
        InetSocketAddress a = ferry.adminAddress();
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + path)).build(),
                         HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode configDump() throws Exception {
        return new ObjectMapper().readTree(admin("/config_dump").body());
    }

    private static String greeting(String host, int port) throws IOException {
        try (Socket s = new Socket(host, port)) {
            s.setSoTimeout(10_000);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    private static String greetingOrError(String host, int port) {
        try {
            return greeting(host, port);
        } catch (IOException e) {
            return e.getClass().getSimpleName();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void manifestEditsApplyLiveAndBrokenInputKeepsTheLastGoodTable(Transport.Kind kind) throws Exception {
        TestBackend a = backend("a");
        TestBackend b = backend("b");
        Path file = dir.resolve("svc.yaml");
        Files.writeString(file, service("web", "127.77.0.1", 7001, a) + service("db", "127.77.0.2", 7002, a));
        start(kind);
        assertThat(greeting("127.77.0.1", 7001)).isEqualTo("a");

        try (Socket open = new Socket("127.77.0.1", 7001)) {
            open.setSoTimeout(10_000);
            BufferedReader reader = new BufferedReader(new InputStreamReader(open.getInputStream(),
                                                                             StandardCharsets.UTF_8));
            assertThat(reader.readLine()).isEqualTo("a");

            // An edit moves new connections; the open one stays where it was.
            Files.writeString(file, service("web", "127.77.0.1", 7001, b) + service("db", "127.77.0.2", 7002, a));
            await().atMost(DEADLINE).until(() -> "b".equals(greetingOrError("127.77.0.1", 7001)));
            open.getOutputStream().write("still a\n".getBytes(StandardCharsets.UTF_8));
            assertThat(reader.readLine()).isEqualTo("still a");

            // Broken YAML: reported, and the last good table stays live.
            long generation = ferry.controlLoop().status().generation();
            Files.writeString(file, "apiVersion: v1\nkind: Service\nmetadata: {name: web\n");
            await().atMost(DEADLINE).until(() -> configDump().path("problems").toString().contains("svc.yaml"));
            assertThat(ferry.controlLoop().status().generation()).isGreaterThan(generation);
            assertThat(greeting("127.77.0.1", 7001)).isEqualTo("b");
            assertThat(greeting("127.77.0.2", 7002)).isEqualTo("a");
            assertThat(admin("/readyz").statusCode()).isEqualTo(200);

            // Removing a Service stops its listener; the other Service and the open connection carry on.
            Files.writeString(file, service("db", "127.77.0.2", 7002, a));
            await().atMost(DEADLINE).untilAsserted(() -> assertThatThrownBy(() -> greeting("127.77.0.1", 7001))
                    .isInstanceOf(ConnectException.class));
            assertThat(greeting("127.77.0.2", 7002)).isEqualTo("a");
            open.getOutputStream().write("still here\n".getBytes(StandardCharsets.UTF_8));
            assertThat(reader.readLine()).isEqualTo("still here");
        }
        assertThat(configDump().path("problems")).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void nodePortsAreAllocatedValidatedAndServed(Transport.Kind kind) throws Exception {
        TestBackend a = backend("a");
        String nodePorts = """
                apiVersion: v1
                kind: Service
                metadata: {name: np, namespace: it}
                spec:
                  type: NodePort
                  clusterIP: 127.77.1.1
                  ports: [{port: 80}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: np-bad, namespace: it}
                spec:
                  type: NodePort
                  clusterIP: 127.77.1.2
                  ports: [{port: 80, nodePort: 40000}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: np-1
                  namespace: it
                  labels: {kubernetes.io/service-name: np}
                addressType: IPv4
                ports: [{port: %d}]
                endpoints:
                - addresses: ["127.0.0.1"]
                """.formatted(a.address().getPort());
        Files.writeString(dir.resolve("np.yaml"), nodePorts);
        start(kind);

        JsonNode dump = configDump();
        JsonNode np = null;
        for (JsonNode s : dump.path("services")) {
            if (s.path("name").asText().equals("np")) {
                np = s;
            }
        }
        assertThat(np).isNotNull();
        int nodePort = np.path("ports").get(0).path("nodePort").asInt();
        assertThat(nodePort).isBetween(30000, 32767);
        assertThat(dump.path("problems").toString())
                .contains("Service it/np-bad").contains("nodePort: 40000 (expected: 30000-32767)");

        assertThat(greeting("127.0.0.1", nodePort)).isEqualTo("a");
        assertThat(greeting("127.77.1.1", 80)).isEqualTo("a");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aServiceWithoutEndpointsResetsAndTheAdminServerAnswers(Transport.Kind kind) throws Exception {
        Files.writeString(dir.resolve("empty.yaml"), """
                apiVersion: v1
                kind: Service
                metadata: {name: empty, namespace: it}
                spec:
                  clusterIP: 127.77.2.1
                  ports: [{port: 7003}]
                """);
        start(kind);
        await().atMost(DEADLINE).until(() -> ferry.serviceProxy().listeners().size() == 1);
        assertThatThrownBy(() -> {
            try (Socket s = new Socket("127.77.2.1", 7003)) {
                s.setSoTimeout(5_000);
                int r = s.getInputStream().read();
                s.getOutputStream().write(1);
                s.getOutputStream().write(1);
                throw new AssertionError("read " + r + ", expected a reset");
            }
        }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        assertThat(ferry.serviceProxy().stats().noEndpointRejects()).isEqualTo(1);

        assertThat(admin("/livez").statusCode()).isEqualTo(200);
        HttpResponse<String> healthz = admin("/healthz");
        assertThat(healthz.statusCode()).isEqualTo(200);
        assertThat(healthz.body()).contains("lastUpdated").contains("currentTime");
        assertThat(admin("/nope").statusCode()).isEqualTo(404);
        JsonNode dump = configDump();
        assertThat(dump.path("ready").asBoolean()).isTrue();
        assertThat(dump.path("listeners").get(0).path("listener").asText()).isEqualTo("127.77.2.1:7003/TCP");
        assertThat(dump.path("listeners").get(0).path("state").asText()).isEqualTo("bound");
        assertThat(dump.path("stats").path("l4").path("noEndpointRejects").asLong()).isEqualTo(1);
    }
}
