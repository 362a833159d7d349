package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.ferry.control.admin.AdminServer;
import io.ferry.control.compile.ServiceCompiler;
import io.ferry.control.source.KubernetesSource;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane goes away — the manifest directory is removed, the API server stops — and comes back. While it
 * is gone the last tables keep serving, {@code /healthz} says that the source is failing (and since when, and why)
 * without failing itself, {@code ferry_source_healthy} is 0; once it is back the report clears and changes apply
 * again.
 */
class ControlPlaneOutageTest {

    private static final Duration DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private InetSocketAddress admin;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private TestBackend backend(String name) throws IOException {
        TestBackend b = TestBackend.start(TestBackend.greetThenEcho(name));
        closeables.add(b);
        return b;
    }

    @Test
    void aRemovedManifestDirectoryLeavesTheTablesLiveAndHealthzSaysSo() throws Exception {
        TestBackend blue = backend("blue");
        TestBackend green = backend("green");
        Path dir = Files.createDirectory(tmp.resolve("manifests"));
        Files.writeString(dir.resolve("web.yaml"), service("127.77.20.1", blue));
        Ferry ferry = Ferry.start(FerryOptions.builder().addManifests(dir).adminPort(0).transport(Transport.Kind.NIO)
                                              .ioThreads(1).minSyncPeriod(Duration.ofMillis(10)).httpPort(-1)
                                              .httpsPort(-1).build());
        closeables.add(ferry);
        admin = ferry.adminAddress();
        await().atMost(DEADLINE).until(() -> get("/readyz").statusCode() == 200);
        assertThat(greeting("127.77.20.1")).isEqualTo("blue");
        assertThat(source().get("healthy").asBoolean()).isTrue();
        assertThat(metric("ferry_source_healthy")).isEqualTo("1.0");

        // The directory goes (a volume unmounted, an rm -r by mistake).
        deleteTree(dir);
        await().atMost(DEADLINE).until(() -> !source().get("healthy").asBoolean());
        JsonNode source = source();
        assertThat(source.get("failingSince").isNull()).isFalse();
        assertThat(source.get("problems").toString()).contains(dir.toString()).contains("not found")
                                                    .contains("last objects stay live");
        HttpResponse<String> healthz = get("/healthz");
        assertThat(healthz.statusCode()).as("the tables are live: no 503 for it").isEqualTo(200);
        assertThat(get("/readyz").statusCode()).isEqualTo(200);
        assertThat(metric("ferry_source_healthy")).isEqualTo("0.0");
        for (int i = 0; i < 5; i++) {
            assertThat(greeting("127.77.20.1")).isEqualTo("blue");
        }

        // It comes back, edited: the report clears and the edit applies.
        Path staging = Files.createDirectory(tmp.resolve("staging"));
        Files.writeString(staging.resolve("web.yaml"), service("127.77.20.1", green));
        Files.move(staging, dir);
        await().atMost(DEADLINE).until(() -> greetingOrError("127.77.20.1").equals("green"));
        await().atMost(DEADLINE).until(() -> source().get("healthy").asBoolean());
        assertThat(source().get("failingSince").isNull()).isTrue();
        assertThat(metric("ferry_source_healthy")).isEqualTo("1.0");
    }

    @Test
    void anApiServerThatGoesAwayLeavesTheTablesLiveAndHealthzSaysSo() throws Exception {
        KubernetesCrudDispatcher store = new KubernetesCrudDispatcher();
        KubernetesMockServer[] server = {apiServer(store, 0)};
        closeables.add(() -> {
            if (server[0] != null) {
                server[0].destroy();
            }
        });
        int port = server[0].getPort();
        KubernetesClient client = server[0].createClient(b -> b.editOrNewConfig().withWatchReconnectInterval(100)
                                                               .withRequestTimeout(2_000).withConnectionTimeout(2_000)
                                                               .withRequestRetryBackoffLimit(1)
                                                               .withWatchReconnectLimit(-1).endConfig());
        closeables.add(client);
        Transport transport = Transport.create(Transport.Kind.NIO, 1);
        closeables.add(transport);
        ServiceProxy proxy = new ServiceProxy(transport, TcpProxyConfig.DEFAULT);
        closeables.add(proxy);
        ControlLoop loop = new ControlLoop(SnapshotCompiler.servicesOnly(new ServiceCompiler(List.of())),
                                           new Dataplane(proxy), Duration.ofMillis(10), Clock.systemUTC());
        closeables.add(loop);
        AdminServer adminServer = AdminServer.start(transport, new InetSocketAddress(InetAddress.getLoopbackAddress(),
                                                                                     0),
                                                    loop, proxy, () -> false, Duration.ofSeconds(60),
                                                    Clock.systemUTC());
        closeables.add(adminServer);
        admin = adminServer.address();
        TestBackend blue = backend("blue");
        client.services().inNamespace("po").resource(new ServiceBuilder()
                .withNewMetadata().withName("web").withNamespace("po").endMetadata()
                .withNewSpec().withClusterIP("127.77.21.1")
                .addNewPort().withPort(7200).withTargetPort(new IntOrString(8080)).endPort().endSpec().build())
              .create();
        client.discovery().v1().endpointSlices().inNamespace("po").resource(new EndpointSliceBuilder()
                .withNewMetadata().withName("web-x1").withNamespace("po")
                .withLabels(Map.of("kubernetes.io/service-name", "web")).endMetadata()
                .withAddressType("IPv4").addNewPort().withPort(blue.address().getPort()).endPort()
                .withEndpoints(new EndpointBuilder().withAddresses("127.0.0.1").withNewConditions().withReady(true)
                                                    .endConditions().build()).build())
              .create();
        KubernetesSource source = new KubernetesSource(client, loop::submit, Duration.ofMillis(20));
        closeables.add(source);
        source.start();
        await().atMost(DEADLINE).until(() -> greetingOrError("127.77.21.1").equals("blue"));
        assertThat(source().get("healthy").asBoolean()).isTrue();

        server[0].destroy();
        server[0] = null;
        await().atMost(DEADLINE).until(() -> !source().get("healthy").asBoolean());
        assertThat(source().get("problems").toString()).contains("watch ");
        assertThat(get("/healthz").statusCode()).isEqualTo(200);
        assertThat(metric("ferry_source_healthy")).isEqualTo("0.0");
        for (int i = 0; i < 5; i++) {
            assertThat(greeting("127.77.21.1")).isEqualTo("blue");
        }

        server[0] = apiServer(store, port);
        await().atMost(DEADLINE).until(() -> source().get("healthy").asBoolean());
        assertThat(greeting("127.77.21.1")).isEqualTo("blue");
        assertThat(metric("ferry_source_healthy")).isEqualTo("1.0");
    }

    private static KubernetesMockServer apiServer(KubernetesCrudDispatcher store, int port) {
        KubernetesMockServer s = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), store,
                                                          false);
        s.init(InetAddress.getLoopbackAddress(), port);
        return s;
    }

    private static String service(String clusterIp, TestBackend endpoint) {
        return """
               apiVersion: v1
               kind: Service
               metadata: {name: web, namespace: po}
               spec:
                 clusterIP: %1$s
                 ports: [{port: 7200, targetPort: 8080}]
               ---
               apiVersion: discovery.k8s.io/v1
               kind: EndpointSlice
               metadata:
                 name: web-x1
                 namespace: po
                 labels: {kubernetes.io/service-name: web}
               addressType: IPv4
               ports: [{port: %2$d}]
               endpoints:
               - addresses: ["127.0.0.1"]
               """.formatted(clusterIp, endpoint.address().getPort());
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.getPort() + path)).build(),
                         HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode source() throws Exception {
        return new ObjectMapper().readTree(get("/healthz").body()).get("source");
    }

    /** The value of an unlabelled sample in {@code /metrics}. */
    private String metric(String name) throws Exception {
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return line.substring(name.length() + 1).trim();
            }
        }
        throw new AssertionError(name + " not in /metrics");
    }

    private static String greeting(String host) throws IOException {
        try (Socket s = new Socket(host, 7200)) {
            s.setSoTimeout(10_000);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    private static String greetingOrError(String host) {
        try {
            return greeting(host);
        } catch (IOException e) {
            return e.getClass().getSimpleName();
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
