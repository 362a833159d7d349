package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
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
 * The process with {@code --dns-address}: a Service from the manifests answers by name, an edit to its ClusterIP is
 * in the next answer (the DNS table is swapped with the listeners), an unknown name is NXDOMAIN, and
 * {@code /metrics} counts the queries. The queries are written by hand here, byte by byte, so the server meets a
 * client that shares none of its code.
 */
class DnsIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();

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

    private static String service(String clusterIp) {
        return """
               apiVersion: v1
               kind: Service
               metadata: {name: mysql, namespace: demo}
               spec:
                 clusterIP: %s
                 ports: [{name: mysql, port: 3306}]
               ---
               """.formatted(clusterIp);
    }

    /** Ferry on the manifest directory with DNS on a free loopback port, forwarding off; returns once ready. */
    private Ferry startFerry() throws Exception {
        Ferry ferry = Ferry.start(FerryOptions.builder()
                                              .addManifests(dir)
                                              .dnsAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                                              .dnsForward(false)
                                              .adminPort(0)
                                              .ioThreads(2)
                                              .minSyncPeriod(Duration.ofMillis(10))
                                              .httpPort(-1)
                                              .httpsPort(-1)
                                              .build());
        closeables.add(ferry);
        await().atMost(DEADLINE).until(() -> ferry.controlLoop().status().ready());
        return ferry;
    }

    /** Asks {@code name} IN A; returns the rcode and the addresses of the answer section. */
    private static List<String> queryA(InetSocketAddress server, String name) throws IOException {
        ByteArrayOutputStream q = new ByteArrayOutputStream();
        q.writeBytes(new byte[] {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}); // id, RD, 1 question
        for (String label : name.split("\\.")) {
            q.write(label.length());
            q.writeBytes(label.getBytes(StandardCharsets.US_ASCII));
        }
        q.writeBytes(new byte[] {0, 0, 1, 0, 1}); // root, type A, class IN
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSoTimeout(5_000);
            byte[] out = q.toByteArray();
            s.send(new DatagramPacket(out, out.length, server));
            byte[] buf = new byte[1500];
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            s.receive(p);
            ByteBuffer r = ByteBuffer.wrap(buf, 0, p.getLength());
            assertThat(r.getShort()).isEqualTo((short) 0x1234);
            int flags = r.getShort() & 0xffff;
            int qd = r.getShort();
            int an = r.getShort();
            r.getShort();
            r.getShort();
            List<String> result = new ArrayList<>();
            result.add("rcode=" + (flags & 0xf) + (((flags >> 10) & 1) == 1 ? " aa" : ""));
            for (int i = 0; i < qd; i++) {
                skipName(r);
                r.getInt();
            }
            for (int i = 0; i < an; i++) {
                skipName(r);
                int type = r.getShort();
                r.getShort();
                int ttl = r.getInt();
                int len = r.getShort();
                byte[] data = new byte[len];
                r.get(data);
                if (type == 1) {
                    result.add(InetAddress.getByAddress(data).getHostAddress() + " ttl=" + ttl);
                }
            }
            return result;
        }
    }

    private static void skipName(ByteBuffer r) {
        while (true) {
            int len = r.get() & 0xff;
            if (len == 0) {
                return;
            }
            if ((len & 0xc0) == 0xc0) {
                r.get();
                return;
            }
            r.position(r.position() + len);
        }
    }

    @Test
    void serviceNamesAnswerFromTheLiveTables() throws Exception {
        write("mysql.yaml", service("127.108.214.84"));
        Ferry ferry = startFerry();
        InetSocketAddress dns = ferry.dnsServer().localAddress();

        assertThat(queryA(dns, "mysql.demo.svc.cluster.local"))
                .containsExactly("rcode=0 aa", "127.108.214.84 ttl=5");
        assertThat(queryA(dns, "nosuch.demo.svc.cluster.local")).containsExactly("rcode=3 aa"); // NXDOMAIN
        assertThat(queryA(dns, "example.com")).containsExactly("rcode=5"); // REFUSED: forwarding is off

        // The Service moves: the next answer has the new address.
        write("mysql.yaml", service("127.108.214.85"));
        await().atMost(DEADLINE).until(() -> queryA(dns, "mysql.demo.svc.cluster.local")
                .contains("127.108.214.85 ttl=5"));

        String metrics = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminAddress().getPort() + "/metrics"))
                           .build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("ferry_dns_queries_total{type=\"A\"}")
                           .contains("ferry_dns_responses_total{rcode=\"NXDOMAIN\"} 1.0")
                           .contains("ferry_dns_refused_total 1.0");
    }

    /**
     * The tutorial's path in one process: a pod asks the {@code kube-dns} Service's ClusterIP, the UDP proxy relays
     * the query to the DNS endpoint (here Ferry's own DNS server, as CoreDNS would be), and the answer comes back
     * from the ClusterIP.
     */
    @Test
    void dnsQueriesThroughAUdpServiceReachTheDnsEndpoint() throws Exception {
        write("mysql.yaml", service("127.108.214.84"));
        Ferry ferry = startFerry();
        int dnsPort = ferry.dnsServer().localAddress().getPort();
        write("kube-dns.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: kube-dns, namespace: kube-system}
                spec:
                  clusterIP: 127.79.0.53
                  ports:
                  - {name: dns, port: 5353, protocol: UDP}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: kube-dns-1
                  namespace: kube-system
                  labels: {kubernetes.io/service-name: kube-dns}
                addressType: IPv4
                ports: [{name: dns, port: %d, protocol: UDP}]
                endpoints:
                - addresses: ["127.0.0.1"]
                ---
                """.formatted(dnsPort));
        InetSocketAddress kubeDns = new InetSocketAddress("127.79.0.53", 5353);
        await().atMost(DEADLINE).ignoreExceptions().until(() -> queryA(kubeDns, "mysql.demo.svc.cluster.local")
                .equals(List.of("rcode=0 aa", "127.108.214.84 ttl=5")));
        // and the kube-dns Service itself has a name
        assertThat(queryA(kubeDns, "kube-dns.kube-system.svc.cluster.local"))
                .containsExactly("rcode=0 aa", "127.79.0.53 ttl=5");
        assertThat(ferry.udpProxy().stats().flowsCreated()).isGreaterThanOrEqualTo(2);
    }
}
