package io.ferry.l4.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.Transport;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Names outside the zone, relayed to upstream resolvers started by the test on loopback ({@link FakeUpstream},
 * never an outside resolver), and ExternalName targets resolved through them.
 */
class DnsForwardingTest {

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private DnsServer server;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private FakeUpstream upstream() throws Exception {
        FakeUpstream u = new FakeUpstream();
        closeables.add(u);
        return u.answer("www.example.com", "192.0.2.53").answer("tc.example.com", "192.0.2.54");
    }

    private void start(Transport.Kind kind, List<InetSocketAddress> upstreams, Duration timeout) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        Transport transport = Transport.create(kind, 2);
        closeables.add(transport);
        server = DnsServer.start(transport, DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 0))
                                                          .upstreams(upstreams).upstreamTimeout(timeout).build());
        closeables.add(server);
        server.apply(DnsServerTest.cluster().build());
    }

    private DnsTestClient client(boolean tcpFallback) {
        DnsTestClient c = new DnsTestClient(server.localAddress(), 1232, tcpFallback);
        closeables.add(c);
        return c;
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void namesOutsideTheZoneAreRelayedToTheUpstream(Transport.Kind kind) throws Exception {
        FakeUpstream up = upstream();
        start(kind, List.of(up.address()), Duration.ofSeconds(2));
        DnsTestClient.Reply r = client(false).query("www.example.com", "A");
        assertThat(r.rcode).isEqualTo("NOERROR");
        assertThat(r.authoritative).isFalse();
        assertThat(r.recursionAvailable).isTrue();
        assertThat(r.answers).containsExactly("www.example.com. 300 A 192.0.2.53");
        assertThat(client(false).query("nx.example.com", "A").rcode).isEqualTo("NXDOMAIN");
        assertThat(up.received).containsExactly("udp www.example.com. A", "udp nx.example.com. A");
        assertThat(server.stats().forwarded()).isEqualTo(2);
        // Names in the zone never leave.
        assertThat(client(false).query("nope.ns.svc.cluster.local", "A").rcode).isEqualTo("NXDOMAIN");
        assertThat(up.received).hasSize(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aTruncatedUpstreamAnswerIsRelayedAndTheTcpRetryGoesUpstreamOverTcp(Transport.Kind kind) throws Exception {
        FakeUpstream up = upstream();
        start(kind, List.of(up.address()), Duration.ofSeconds(2));
        DnsTestClient.Reply udp = client(false).query("tc.example.com", "A");
        assertThat(udp.truncated).isTrue();
        DnsTestClient.Reply tcp = client(true).query("tc.example.com", "A");
        assertThat(tcp.truncated).isFalse();
        assertThat(tcp.answerData()).containsExactly("192.0.2.54", "10.9.9.0", "10.9.9.1", "10.9.9.2");
        assertThat(up.received).containsExactly("udp tc.example.com. A", "udp tc.example.com. A",
                                                "tcp tc.example.com. A");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aSilentUpstreamIsSkippedAfterTheTimeout(Transport.Kind kind) throws Exception {
        FakeUpstream silent = upstream().silent(true);
        FakeUpstream live = upstream();
        start(kind, List.of(silent.address(), live.address()), Duration.ofMillis(300));
        DnsTestClient.Reply r = client(false).query("www.example.com", "A");
        assertThat(r.answerData()).containsExactly("192.0.2.53");
        assertThat(silent.received).containsExactly("udp www.example.com. A");
        assertThat(server.stats().forwardTimeouts()).isEqualTo(1);
    }

    @Test
    void whenNoUpstreamAnswersTheClientGetsServfail() throws Exception {
        FakeUpstream silent = upstream().silent(true);
        start(Transport.Kind.best(), List.of(silent.address()), Duration.ofMillis(200));
        assertThat(client(false).query("www.example.com", "A").rcode).isEqualTo("SERVFAIL");
        assertThat(client(true).query("www.example.com", "A").rcode).isEqualTo("SERVFAIL");
        assertThat(server.stats().forwardFailures()).isEqualTo(2);
        assertThat(server.stats().responsesByRcode()).containsEntry("SERVFAIL", 2L);
    }

    @Test
    void anUpstreamThatRefusesTcpConnectionsIsSkippedAtOnce() throws Exception {
        FakeUpstream live = upstream();
        InetSocketAddress closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = new InetSocketAddress(InetAddress.getLoopbackAddress(), s.getLocalPort());
        }
        start(Transport.Kind.best(), List.of(closedPort, live.address()), Duration.ofSeconds(30));
        long t0 = System.nanoTime();
        // Over TCP (UDP would wait for the timeout: nothing says no to a datagram).
        try (java.net.Socket t = new java.net.Socket()) {
            t.connect(server.localAddress(), 5_000);
            t.setSoTimeout(10_000);
            byte[] q = DnsMalformedTest.message(77, 0x0100, 1, 0, 0, 0,
                                                DnsMalformedTest.question("www.example.com", 1));
            java.io.DataOutputStream out = new java.io.DataOutputStream(t.getOutputStream());
            out.writeShort(q.length);
            out.write(q);
            out.flush();
            java.io.DataInputStream in = new java.io.DataInputStream(t.getInputStream());
            byte[] r = new byte[in.readUnsignedShort()];
            in.readFully(r);
            assertThat(((r[0] & 0xFF) << 8) | (r[1] & 0xFF)).isEqualTo(77);
            assertThat(r[3] & 0xF).isZero();
            assertThat(r[7]).as("answers").isEqualTo((byte) 1);
        }
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
        assertThat(live.received).containsExactly("tcp www.example.com. A");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void anExternalNameTargetIsResolvedUpstreamIntoTheAnswer(Transport.Kind kind) throws Exception {
        FakeUpstream up = upstream();
        start(kind, List.of(up.address()), Duration.ofSeconds(2));
        DnsTestClient c = client(true);
        DnsTestClient.Reply r = c.query("ext.ns.svc.cluster.local", "A");
        assertThat(r.rcode).isEqualTo("NOERROR");
        assertThat(r.authoritative).isTrue();
        assertThat(r.answers).containsExactly("ext.ns.svc.cluster.local. 5 CNAME www.example.com.",
                                              "www.example.com. 300 A 192.0.2.53");
        assertThat(c.resolveAll("ext.ns.svc.cluster.local")).containsExactly(InetAddress.getByName("192.0.2.53"));
        assertThat(server.stats().chased()).isGreaterThanOrEqualTo(1);

        // The CNAME query itself is not chased; an upstream NXDOMAIN for the target is the answer's RCODE.
        assertThat(c.query("ext.ns.svc.cluster.local", "CNAME").answers).hasSize(1);
        DnsTable.Builder b = DnsServerTest.cluster();
        b.cname("nx.ns.svc.cluster.local", "nx.example.com");
        server.apply(b.build());
        DnsTestClient.Reply nx = c.query("nx.ns.svc.cluster.local", "A");
        assertThat(nx.rcode).isEqualTo("NXDOMAIN");
        assertThat(nx.answers).containsExactly("nx.ns.svc.cluster.local. 5 CNAME nx.example.com.");
    }

    @Test
    void aChasedTargetThatUpstreamTruncatesMakesTheClientRetryOverTcp() throws Exception {
        FakeUpstream up = upstream();
        start(Transport.Kind.best(), List.of(up.address()), Duration.ofSeconds(2));
        DnsTable.Builder b = DnsServerTest.cluster();
        b.cname("many.ns.svc.cluster.local", "tc.example.com");
        server.apply(b.build());
        DnsTestClient.Reply udp = client(false).query("many.ns.svc.cluster.local", "A");
        assertThat(udp.truncated).isTrue();
        DnsTestClient.Reply tcp = client(true).query("many.ns.svc.cluster.local", "A");
        assertThat(tcp.answers).hasSize(5);
        assertThat(up.received).contains("tcp tc.example.com. A");
    }

    @Test
    void whenTheChaseFailsTheCnameIsAnsweredAlone() throws Exception {
        FakeUpstream silent = upstream().silent(true);
        start(Transport.Kind.best(), List.of(silent.address()), Duration.ofMillis(200));
        DnsTestClient.Reply r = client(false).query("ext.ns.svc.cluster.local", "A");
        assertThat(r.rcode).isEqualTo("NOERROR");
        assertThat(r.answers).containsExactly("ext.ns.svc.cluster.local. 5 CNAME www.example.com.");
    }

    @Test
    void aServerThatNamesItselfAsUpstreamDoesNotForwardToItself() throws Exception {
        InetSocketAddress own = new InetSocketAddress("127.0.0.1", portFreeForUdpAndTcp());
        Transport transport = Transport.create(Transport.Kind.best(), 1);
        closeables.add(transport);
        server = DnsServer.start(transport, DnsServerConfig.builder(own).upstreams(List.of(own)).build());
        closeables.add(server);
        server.apply(DnsServerTest.cluster().build());
        assertThat(server.forwarding()).isFalse();
        assertThat(client(false).query("www.example.com", "A").rcode).isEqualTo("REFUSED");
    }

    @Test
    void onlyPrivateClientsAreForwardedForByDefault() throws Exception {
        for (String ip : List.of("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1",
                                 "::1", "fd00::1", "fe80::1")) {
            assertThat(DnsResponder.isPrivate(InetAddress.getByName(ip))).as(ip).isTrue();
        }
        for (String ip : List.of("8.8.8.8", "100.128.0.1", "203.0.113.9", "2001:db8::1")) {
            assertThat(DnsResponder.isPrivate(InetAddress.getByName(ip))).as(ip).isFalse();
        }
    }

    @Test
    void closingTheServerWithQueriesInFlightLeaksNothing() throws Exception {
        FakeUpstream silent = upstream().silent(true);
        start(Transport.Kind.best(), List.of(silent.address()), Duration.ofSeconds(30));
        DnsTestClient c = new DnsTestClient(server.localAddress(), 1232, false);
        try {
            for (int i = 0; i < 5; i++) {
                String name = "q" + i + ".example.com";
                new Thread(() -> {
                    try {
                        c.query(name, "A");
                    } catch (Exception e) {
                        // The server goes away: the client times out.
                    }
                }).start();
            }
            await().until(() -> silent.received.size() == 5);
            server.close();
        } finally {
            c.close();
        }
    }

    /** A loopback port free for both UDP and TCP when probed (a free UDP port may be taken for TCP). */
    private static int portFreeForUdpAndTcp() throws Exception {
        for (int attempt = 0; attempt < 64; attempt++) {
            try (java.net.ServerSocket tcp = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                try (DatagramSocket udp = new DatagramSocket(tcp.getLocalPort(), InetAddress.getLoopbackAddress())) {
                    return udp.getLocalPort();
                } catch (java.net.SocketException taken) {
                    // try another
                }
            }
        }
        throw new IllegalStateException("no loopback port free for UDP and TCP in 64 tries");
    }
}
