package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l4.testing.UdpTestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
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
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Service with a TCP and a UDP port of the same number, as kube-dns has, served end to end from manifests:
 * datagrams to the ClusterIP reach the endpoint and its replies come back from the ClusterIP; moving the endpoint
 * drops the old flows at once, and both protocols show in {@code /config_dump} and {@code /metrics}.
 */
class UdpServiceIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Ferry ferry;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void write(String file, String text) throws IOException {
        Path tmp = dir.resolve(file + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, dir.resolve(file), StandardCopyOption.ATOMIC_MOVE);
    }

    private static String slices(int udpPort, int tcpPort) {
        return """
               apiVersion: discovery.k8s.io/v1
               kind: EndpointSlice
               metadata:
                 name: dns-udp
                 namespace: kube-system
                 labels: {kubernetes.io/service-name: dns}
               addressType: IPv4
               ports: [{name: dns, port: %d, protocol: UDP}]
               endpoints:
               - addresses: ["127.0.0.1"]
               ---
               apiVersion: discovery.k8s.io/v1
               kind: EndpointSlice
               metadata:
                 name: dns-tcp
                 namespace: kube-system
                 labels: {kubernetes.io/service-name: dns}
               addressType: IPv4
               ports: [{name: dns-tcp, port: %d, protocol: TCP}]
               endpoints:
               - addresses: ["127.0.0.1"]
               ---
               """.formatted(udpPort, tcpPort);
    }

    private static String ask(DatagramSocket client, String text) throws IOException {
        byte[] out = text.getBytes(StandardCharsets.UTF_8);
        client.send(new DatagramPacket(out, out.length, new InetSocketAddress("127.79.0.10", 5353)));
        byte[] buf = new byte[2048];
        DatagramPacket in = new DatagramPacket(buf, buf.length);
        client.receive(in);
        assertThat(in.getSocketAddress()).isEqualTo(new InetSocketAddress("127.79.0.10", 5353));
        return new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
    }

    private static String askOrTimeout(DatagramSocket client, String text) {
        try {
            return ask(client, text);
        } catch (SocketTimeoutException e) {
            return "timeout";
        } catch (IOException e) {
            return e.getClass().getSimpleName();
        }
    }

    private String admin(String path) throws Exception {
        return HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminAddress().getPort() + path))
                           .build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void aDnsLikeServiceOverUdpAndTcp() throws Exception {
        UdpTestBackend a = UdpTestBackend.start("a");
        closeables.add(a);
        UdpTestBackend b = UdpTestBackend.start("b");
        closeables.add(b);
        TestBackend tcp = TestBackend.start(TestBackend.greetThenEcho("tcp-dns"));
        closeables.add(tcp);
        write("service.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: dns, namespace: kube-system}
                spec:
                  clusterIP: 127.79.0.10
                  ports:
                  - {name: dns, port: 5353, protocol: UDP}
                  - {name: dns-tcp, port: 5353, protocol: TCP}
                ---
                """);
        write("slices.yaml", slices(a.address().getPort(), tcp.address().getPort()));
        ferry = Ferry.start(FerryOptions.builder()
                                        .addManifests(dir)
                                        .adminPort(0)
                                        .ioThreads(2)
                                        .minSyncPeriod(Duration.ofMillis(10))
                                        .httpPort(-1)
                                        .httpsPort(-1)
                                        .build());
        closeables.add(ferry);
        await().atMost(DEADLINE).until(() -> ferry.controlLoop().status().ready());
        assertThat(ferry.controlLoop().status().problems()).isEmpty();

        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             Socket s = new Socket("127.79.0.10", 5353)) {
            client.setSoTimeout(2_000);
            assertThat(ask(client, "hello")).startsWith("a ").endsWith(" hello");
            assertThat(ask(client, "again")).startsWith("a ").endsWith(" again");
            s.setSoTimeout(10_000);
            assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                               .readLine()).isEqualTo("tcp-dns");

            // The endpoint is replaced: its flow is dropped at once, and the next datagram goes to the new one.
            write("slices.yaml", slices(b.address().getPort(), tcp.address().getPort()));
            await().atMost(DEADLINE).until(() -> ferry.udpProxy().stats().flowsEndpointRemoved() == 1);
            await().atMost(DEADLINE).until(() -> askOrTimeout(client, "moved").startsWith("b "));
        }

        JsonNode dump = new ObjectMapper().readTree(admin("/config_dump"));
        List<String> states = new ArrayList<>();
        dump.path("listeners").forEach(l -> states.add(l.path("listener").asText() + " " + l.path("state").asText()));
        assertThat(states).contains("127.79.0.10:5353/UDP bound", "127.79.0.10:5353/TCP bound");
        assertThat(admin("/metrics")).contains("ferry_udp_flows_total 2.0")
                                     .contains("ferry_udp_flows_endpoint_removed_total 1.0")
                                     .contains("ferry_l4_service_connections_total{service=\"kube-system/dns:5353/UDP\"} 2.0");
    }
}
