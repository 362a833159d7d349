package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.testing.TestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kube-proxy's traffic policies end to end from manifests: a LoadBalancer Service with
 * {@code externalTrafficPolicy: Local} on node {@code node-a}, one endpoint here and one on {@code node-b}.
 * ClusterIP traffic reaches both; node-port, external-IP and load-balancer traffic only the local one; the
 * {@code healthCheckNodePort} says 200 while there is a local endpoint and 503 once there is none.
 */
class ServicePolicyIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private TestBackend greeter(String name) throws IOException {
        TestBackend b = TestBackend.start(TestBackend.greetThenEcho(name));
        closeables.add(b);
        return b;
    }

    /** A port in the node-port range that is free on 127.0.0.1 now. */
    private static int freeNodePort(Set<Integer> taken) throws IOException {
        for (int port = 30000 + (int) (ProcessHandle.current().pid() % 2000); ; port++) {
            if (taken.contains(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                taken.add(port);
                return port;
            } catch (IOException busy) {
                // try the next one
            }
        }
    }

    private void write(String file, String text) throws IOException {
        Path tmp = dir.resolve(file + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, dir.resolve(file), StandardCopyOption.ATOMIC_MOVE);
    }

    private static String slice(String name, String node, int port) {
        return """
               apiVersion: discovery.k8s.io/v1
               kind: EndpointSlice
               metadata:
                 name: %s
                 namespace: pol
                 labels: {kubernetes.io/service-name: shop}
               addressType: IPv4
               ports: [{name: tcp, port: %d}]
               endpoints:
               - addresses: ["127.0.0.1"]
                 nodeName: %s
               ---
               """.formatted(name, port, node);
    }

    private static String greetingOrError(String host, int port) {
        try (Socket s = new Socket(host, port)) {
            s.setSoTimeout(10_000);
            return String.valueOf(new BufferedReader(new InputStreamReader(s.getInputStream(),
                                                                           StandardCharsets.UTF_8)).readLine());
        } catch (IOException e) {
            return e.getClass().getSimpleName();
        }
    }

    private Set<String> greetings(String host, int port, int n) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            seen.add(greetingOrError(host, port));
        }
        return seen;
    }

    private HttpResponse<String> healthCheck(int port) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).build(),
                         HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void externalTrafficPolicyLocalAndItsHealthCheckNodePort() throws Exception {
        TestBackend local = greeter("local");
        TestBackend remote = greeter("remote");
        Set<Integer> taken = new HashSet<>();
        int nodePort = freeNodePort(taken);
        int healthPort = freeNodePort(taken);
        write("service.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: shop, namespace: pol}
                spec:
                  type: LoadBalancer
                  clusterIP: 127.78.0.1
                  externalTrafficPolicy: Local
                  healthCheckNodePort: %d
                  externalIPs: [127.78.1.1]
                  ports: [{name: tcp, port: 7300, targetPort: 8080, nodePort: %d}]
                status:
                  loadBalancer:
                    ingress: [{ip: 127.78.2.1}]
                ---
                """.formatted(healthPort, nodePort));
        write("slices.yaml", slice("shop-a", "node-a", local.address().getPort())
                             + slice("shop-b", "node-b", remote.address().getPort()));
        Ferry ferry = Ferry.start(FerryOptions.builder()
                                              .addManifests(dir)
                                              .nodeName("node-a")
                                              .addNodePortAddresses(Cidr.parse("127.0.0.0/8"))
                                              .adminPort(0)
                                              .ioThreads(2)
                                              .minSyncPeriod(Duration.ofMillis(10))
                                              .httpPort(-1)
                                              .httpsPort(-1)
                                              .build());
        closeables.add(ferry);
        await().atMost(DEADLINE).until(() -> ferry.controlLoop().status().ready());
        assertThat(ferry.controlLoop().status().problems()).isEmpty();

        // ClusterIP traffic (internalTrafficPolicy Cluster) is spread over both nodes' endpoints.
        await().atMost(DEADLINE).until(() -> greetings("127.78.0.1", 7300, 20).equals(Set.of("local", "remote")));
        // Everything that comes from outside stays on this node.
        assertThat(greetings("127.0.0.1", nodePort, 20)).containsExactly("local");
        assertThat(greetings("127.78.1.1", 7300, 20)).containsExactly("local");
        assertThat(greetings("127.78.2.1", 7300, 20)).containsExactly("local");

        HttpResponse<String> ok = healthCheck(healthPort);
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(ok.headers().firstValue("X-Load-Balancing-Endpoint-Weight")).hasValue("1");
        assertThat(ok.body().replaceAll("\\s", ""))
                .isEqualTo("{\"service\":{\"namespace\":\"pol\",\"name\":\"shop\"},\"localEndpoints\":1,"
                           + "\"serviceProxyHealthy\":true}");

        // The local endpoint moves to the other node: outside traffic is refused here, the health check fails
        // (so the load balancer stops sending), and ClusterIP traffic still flows.
        write("slices.yaml", slice("shop-a", "node-b", local.address().getPort())
                             + slice("shop-b", "node-b", remote.address().getPort()));
        await().atMost(DEADLINE).until(() -> healthCheck(healthPort).statusCode() == 503);
        assertThat(healthCheck(healthPort).body()).contains("\"localEndpoints\": 0");
        assertThat(greetingOrError("127.0.0.1", nodePort)).isIn("null", "SocketException");
        assertThat(greetings("127.78.0.1", 7300, 20)).isSubsetOf("local", "remote").isNotEmpty()
                                                       .doesNotContain("null", "SocketException");

        // The Service goes: so does its health check port.
        Files.delete(dir.resolve("service.yaml"));
        await().atMost(DEADLINE).until(() -> ferry.healthChecks().boundAddresses().isEmpty());
        assertThat(greetingOrError("127.0.0.1", healthPort)).isEqualTo("ConnectException");
    }
}
