package io.ferry.l4.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.Transport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The DNS server over real loopback sockets, asked by a real resolver (Netty's {@code DnsNameResolver}): every
 * record kind, negative answers, truncation and TCP, EDNS0, table swaps.
 */
class DnsServerTest {

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private DnsServer server;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    /** The cluster of these tests, built as the compiler builds it. */
    static DnsTable.Builder cluster() throws Exception {
        String zone = "cluster.local";
        DnsTable.Builder b = DnsTable.builder(zone).ttl(5);
        service(b, "web.ns.svc." + zone, "10.96.0.10", "_http._tcp", 80);
        b.srv("_dns._udp.web.ns.svc." + zone, 0, 100, 53, "web.ns.svc." + zone);
        service(b, "v6.ns.svc." + zone, "fd00::10", "_http._tcp", 80);
        service(b, "dual.ns.svc." + zone, "10.96.0.11", null, 0);
        service(b, "dual.ns.svc." + zone, "fd00::11", null, 0);
        headless(b, "db.ns.svc." + zone, List.of("10.1.0.1", "10.1.0.2", "10.1.0.3"),
                 new String[] {"db-0", "db-1", null}, "_mysql._tcp", 3306);
        b.cname("ext.ns.svc." + zone, "www.example.com");
        b.cname("alias.ns.svc." + zone, "web.ns.svc." + zone);
        b.cname("gone.ns.svc." + zone, "missing.ns.svc." + zone);
        b.cname("loop1.ns.svc." + zone, "loop2.ns.svc." + zone);
        b.cname("loop2.ns.svc." + zone, "loop1.ns.svc." + zone);
        headless(b, "big.ns.svc." + zone, range("10.2.0.", 100), new String[100], "_http._tcp", 8080);
        headless(b, "mid.ns.svc." + zone, range("10.3.0.", 60), new String[60], null, 0);
        return b;
    }

    static List<String> range(String prefix, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            out.add(prefix + i);
        }
        return out;
    }

    static void service(DnsTable.Builder b, String name, String ip, String srv, int port) throws Exception {
        InetAddress a = InetAddress.getByName(ip);
        b.address(name, a).ptr(a, name);
        if (srv != null) {
            b.srv(srv + '.' + name, 0, 100, port, name);
        }
    }

    static void headless(DnsTable.Builder b, String name, List<String> ips, String[] hostnames, String srv, int port)
            throws Exception {
        for (int i = 0; i < ips.size(); i++) {
            InetAddress a = InetAddress.getByName(ips.get(i));
            String host = (hostnames[i] != null ? hostnames[i] : ips.get(i).replace('.', '-')) + '.' + name;
            b.address(name, a).address(host, a).ptr(a, host);
            if (srv != null) {
                b.srv(srv + '.' + name, 0, Math.max(1, 100 / ips.size()), port, host);
            }
        }
    }

    private void start(Transport.Kind kind, DnsServerConfig.Builder config) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        Transport transport = Transport.create(kind, 2);
        closeables.add(transport);
        server = DnsServer.start(transport, config.build());
        closeables.add(server);
    }

    private void start(Transport.Kind kind) throws Exception {
        start(kind, DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 0)));
        server.apply(cluster().build());
    }

    private DnsTestClient client(int edns, boolean tcpFallback) {
        DnsTestClient c = new DnsTestClient(server.localAddress(), edns, tcpFallback);
        closeables.add(c);
        return c;
    }

    private DnsTestClient client() {
        return client(1232, true);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aClusterIpServiceAnswersItsAddress(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient.Reply r = client().query("web.ns.svc.cluster.local", "A");
        assertThat(r.rcode).isEqualTo("NOERROR");
        assertThat(r.authoritative).isTrue();
        assertThat(r.answers).containsExactly("web.ns.svc.cluster.local. 5 A 10.96.0.10");
        assertThat(r.ednsPayload).isEqualTo(1232);
        assertThat(client().resolveAll("web.ns.svc.cluster.local"))
                .containsExactly(InetAddress.getByName("10.96.0.10"));
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void ipv6AndDualStackServicesAnswerAaaa(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient c = client();
        assertThat(c.query("v6.ns.svc.cluster.local", "AAAA").answerData()).containsExactly("fd00:0:0:0:0:0:0:10");
        DnsTestClient.Reply v4 = c.query("v6.ns.svc.cluster.local", "A");
        assertThat(v4.rcode).isEqualTo("NOERROR");
        assertThat(v4.answers).isEmpty();
        assertThat(c.query("dual.ns.svc.cluster.local", "A").answerData()).containsExactly("10.96.0.11");
        assertThat(c.query("dual.ns.svc.cluster.local", "AAAA").answerData()).containsExactly("fd00:0:0:0:0:0:0:11");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aNamedPortAnswersSrvWithTheServiceAddressAsAdditional(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient.Reply r = client().query("_http._tcp.web.ns.svc.cluster.local", "SRV");
        assertThat(r.answers)
                .containsExactly("_http._tcp.web.ns.svc.cluster.local. 5 SRV 0 100 80 web.ns.svc.cluster.local.");
        assertThat(r.additional).containsExactly("web.ns.svc.cluster.local. 5 A 10.96.0.10");
        assertThat(client().query("_dns._udp.web.ns.svc.cluster.local", "SRV").answerData())
                .containsExactly("0 100 53 web.ns.svc.cluster.local.");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clusterIpsHaveReverseNames(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient c = client();
        assertThat(c.query("10.0.96.10.in-addr.arpa", "PTR").answers)
                .containsExactly("10.0.96.10.in-addr.arpa. 5 PTR web.ns.svc.cluster.local.");
        String v6 = DnsName.reverseName(InetAddress.getByName("fd00::10"));
        assertThat(c.query(v6, "PTR").answerData()).containsExactly("v6.ns.svc.cluster.local.");
        // A reverse name the table has, asked for another type: NODATA with the reverse zone's SOA.
        DnsTestClient.Reply nodata = c.query("10.0.96.10.in-addr.arpa", "A");
        assertThat(nodata.rcode).isEqualTo("NOERROR");
        assertThat(nodata.authority).singleElement().asString().startsWith("in-addr.arpa. 5 SOA");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aHeadlessServiceAnswersItsEndpointsAndTheirHostnames(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient c = client();
        assertThat(c.query("db.ns.svc.cluster.local", "A").answerData())
                .containsExactlyInAnyOrder("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assertThat(c.query("db-1.db.ns.svc.cluster.local", "A").answers)
                .containsExactly("db-1.db.ns.svc.cluster.local. 5 A 10.1.0.2");
        assertThat(c.query("10-1-0-3.db.ns.svc.cluster.local", "A").answerData()).containsExactly("10.1.0.3");
        DnsTestClient.Reply srv = c.query("_mysql._tcp.db.ns.svc.cluster.local", "SRV");
        assertThat(srv.answerData()).containsExactly("0 33 3306 db-0.db.ns.svc.cluster.local.",
                                                     "0 33 3306 db-1.db.ns.svc.cluster.local.",
                                                     "0 33 3306 10-1-0-3.db.ns.svc.cluster.local.");
        assertThat(srv.additional).containsExactly("db-0.db.ns.svc.cluster.local. 5 A 10.1.0.1",
                                                   "db-1.db.ns.svc.cluster.local. 5 A 10.1.0.2",
                                                   "10-1-0-3.db.ns.svc.cluster.local. 5 A 10.1.0.3");
        assertThat(c.query("1.0.1.10.in-addr.arpa", "PTR").answerData())
                .containsExactly("db-0.db.ns.svc.cluster.local.");
    }

    @Test
    void theRecordsOfAHeadlessServiceRotateFromOneAnswerToTheNext() throws Exception {
        start(Transport.Kind.best());
        DnsTestClient c = client();
        List<String> first = c.query("db.ns.svc.cluster.local", "A").answerData();
        List<String> second = c.query("db.ns.svc.cluster.local", "A").answerData();
        assertThat(second).containsExactlyInAnyOrderElementsOf(first).isNotEqualTo(first);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void anExternalNameServiceIsACname(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient c = client();
        // Forwarding is off: the CNAME alone, which the client follows itself.
        assertThat(c.query("ext.ns.svc.cluster.local", "A").answers)
                .containsExactly("ext.ns.svc.cluster.local. 5 CNAME www.example.com.");
        assertThat(c.query("ext.ns.svc.cluster.local", "CNAME").answers)
                .containsExactly("ext.ns.svc.cluster.local. 5 CNAME www.example.com.");
        // A target in the zone comes with its records, as an authoritative server chases its own CNAMEs.
        assertThat(c.query("alias.ns.svc.cluster.local", "A").answers)
                .containsExactly("alias.ns.svc.cluster.local. 5 CNAME web.ns.svc.cluster.local.",
                                 "web.ns.svc.cluster.local. 5 A 10.96.0.10");
        DnsTestClient.Reply gone = c.query("gone.ns.svc.cluster.local", "A");
        assertThat(gone.rcode).isEqualTo("NXDOMAIN");
        assertThat(gone.answers).containsExactly("gone.ns.svc.cluster.local. 5 CNAME missing.ns.svc.cluster.local.");
        assertThat(gone.authority).singleElement().asString().startsWith("cluster.local. 5 SOA");
        DnsTestClient.Reply loop = c.query("loop1.ns.svc.cluster.local", "A");
        assertThat(loop.rcode).isEqualTo("NOERROR");
        assertThat(loop.answers).hasSize(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void unknownNamesAreNxdomainAndKnownNamesWithoutTheTypeNodata(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient c = client();
        DnsTestClient.Reply nx = c.query("nope.ns.svc.cluster.local", "A");
        assertThat(nx.rcode).isEqualTo("NXDOMAIN");
        assertThat(nx.authoritative).isTrue();
        assertThat(nx.answers).isEmpty();
        assertThat(nx.authority).containsExactly(
                "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5");
        assertThat(c.query("web.ns.svc.cluster.local.ns.svc.cluster.local", "A").rcode).isEqualTo("NXDOMAIN");
        assertThat(c.query("other.svc.cluster.local", "A").rcode).isEqualTo("NXDOMAIN");
        for (String name : List.of("web.ns.svc.cluster.local", "ns.svc.cluster.local", "svc.cluster.local",
                                   "_tcp.web.ns.svc.cluster.local", "cluster.local")) {
            DnsTestClient.Reply nodata = c.query(name, "MX");
            assertThat(nodata.rcode).as(name).isEqualTo("NOERROR");
            assertThat(nodata.answers).as(name).isEmpty();
            assertThat(nodata.authority).as(name).singleElement().asString().startsWith("cluster.local. 5 SOA");
        }
        assertThat(c.query("cluster.local", "SOA").answers).singleElement().asString()
                .startsWith("cluster.local. 5 SOA");
        assertThat(c.query("cluster.local", "NS").answerData()).containsExactly("ns.dns.cluster.local.");
        assertThat(c.query("dns-version.cluster.local", "TXT").answerData()).containsExactly("\"1.1.0\"");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void namesMatchInAnyCaseAndTheAnswerKeepsTheQuestionsCase(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient.Reply r = client().query("WeB.nS.SVC.Cluster.Local", "A");
        assertThat(r.answers).containsExactly("WeB.nS.SVC.Cluster.Local. 5 A 10.96.0.10");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aLargeAnswerIsTruncatedOverUdpAndWholeOverTcp(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient.Reply udp = client(4096, false).query("big.ns.svc.cluster.local", "A");
        assertThat(udp.truncated).isTrue();
        assertThat(udp.answers).isEmpty();
        assertThat(server.stats().truncated()).isGreaterThanOrEqualTo(1);
        DnsTestClient.Reply tcp = client(4096, true).query("big.ns.svc.cluster.local", "A");
        assertThat(tcp.truncated).isFalse();
        assertThat(tcp.answerData()).hasSize(100).containsAll(range("10.2.0.", 100));
        assertThat(server.stats().tcpQueries()).isGreaterThanOrEqualTo(1);
        // 100 SRV records fit over TCP with their 100 addresses in the additional section.
        DnsTestClient.Reply srv = client(4096, true).query("_http._tcp.big.ns.svc.cluster.local", "SRV");
        assertThat(srv.answers).hasSize(100);
        assertThat(srv.additional).hasSize(100);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void theClientsEdnsBufferSizeIsHonoured(Transport.Kind kind) throws Exception {
        start(kind);
        // 60 A records are ~1 KB: over 512 bytes, under 1232.
        DnsTestClient.Reply plain = client(0, false).query("mid.ns.svc.cluster.local", "A");
        assertThat(plain.truncated).isTrue();
        assertThat(plain.ednsPayload).isEqualTo(-1);
        DnsTestClient.Reply small = client(800, false).query("mid.ns.svc.cluster.local", "A");
        assertThat(small.truncated).isTrue();
        DnsTestClient.Reply large = client(1232, false).query("mid.ns.svc.cluster.local", "A");
        assertThat(large.truncated).isFalse();
        assertThat(large.answers).hasSize(60);
        // A buffer larger than the server's maximum is capped at it.
        DnsTestClient.Reply huge = client(65000, false).query("big.ns.svc.cluster.local", "A");
        assertThat(huge.truncated).isTrue();
    }

    @Test
    void whenOnlyTheAdditionalSectionDoesNotFitItIsDroppedWithoutTruncation() throws Exception {
        start(Transport.Kind.best());
        // 8 SRV records of 54 bytes fit in 512 bytes; with their 8 addresses (16 bytes each) they do not.
        DnsTable.Builder b = DnsTable.builder("cluster.local");
        headless(b, "srv.ns.svc.cluster.local", range("10.4.0.", 8), new String[8], "_http._tcp", 80);
        server.apply(b.build());
        DnsTestClient.Reply r = client(0, false).query("_http._tcp.srv.ns.svc.cluster.local", "SRV");
        assertThat(r.truncated).isFalse();
        assertThat(r.answers).hasSize(8);
        assertThat(r.additional).isEmpty();
        DnsTestClient.Reply full = client(1232, false).query("_http._tcp.srv.ns.svc.cluster.local", "SRV");
        assertThat(full.additional).hasSize(8);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aNewTableIsVisibleInTheNextAnswer(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient c = client();
        assertThat(c.query("web.ns.svc.cluster.local", "A").answerData()).containsExactly("10.96.0.10");
        DnsTable.Builder next = DnsTable.builder("cluster.local").serial(2);
        service(next, "web.ns.svc.cluster.local", "10.96.0.99", null, 0);
        service(next, "new.ns.svc.cluster.local", "10.96.0.100", null, 0);
        server.apply(next.build());
        assertThat(c.query("web.ns.svc.cluster.local", "A").answerData()).containsExactly("10.96.0.99");
        assertThat(c.query("new.ns.svc.cluster.local", "A").answerData()).containsExactly("10.96.0.100");
        assertThat(c.query("db.ns.svc.cluster.local", "A").rcode).isEqualTo("NXDOMAIN");
        assertThat(c.query("nope.ns.svc.cluster.local", "A").authority).singleElement().asString()
                .contains(" 2 7200 1800 86400 5");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void namesOutsideTheZoneAreRefusedWhenForwardingIsOff(Transport.Kind kind) throws Exception {
        start(kind);
        DnsTestClient.Reply r = client().query("www.example.com", "A");
        assertThat(r.rcode).isEqualTo("REFUSED");
        assertThat(r.authoritative).isFalse();
        assertThat(r.recursionAvailable).isFalse();
        // Reverse names the table does not have are outside it too.
        assertThat(client().query("4.3.2.1.in-addr.arpa", "PTR").rcode).isEqualTo("REFUSED");
        assertThat(server.stats().refused()).isEqualTo(2);
    }

    @Test
    void beforeTheFirstTableEveryQueryIsServfail() throws Exception {
        start(Transport.Kind.best(), DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 0)));
        assertThat(client().query("web.ns.svc.cluster.local", "A").rcode).isEqualTo("SERVFAIL");
        server.apply(cluster().build());
        assertThat(client().query("web.ns.svc.cluster.local", "A").rcode).isEqualTo("NOERROR");
    }

    @Test
    void podNamesAnswerTheAddressTheyEncode() throws Exception {
        start(Transport.Kind.best());
        DnsTestClient c = client();
        assertThat(c.query("10-244-1-7.ns.pod.cluster.local", "A").answers)
                .containsExactly("10-244-1-7.ns.pod.cluster.local. 5 A 10.244.1.7");
        assertThat(c.query("fd00--7.ns.pod.cluster.local", "AAAA").answerData())
                .containsExactly("fd00:0:0:0:0:0:0:7");
        assertThat(c.query("10-244-1-7.ns.pod.cluster.local", "AAAA").rcode).isEqualTo("NOERROR");
        assertThat(c.query("not-an-ip.ns.pod.cluster.local", "A").rcode).isEqualTo("NXDOMAIN");
        assertThat(c.query("ns.pod.cluster.local", "A").rcode).isEqualTo("NOERROR");
        server.apply(cluster().podRecords(false).build());
        assertThat(c.query("10-244-1-7.ns.pod.cluster.local", "A").rcode).isEqualTo("NXDOMAIN");
    }

    @Test
    void countersFollowTheQueries() throws Exception {
        start(Transport.Kind.best());
        DnsTestClient c = client();
        c.query("web.ns.svc.cluster.local", "A");
        c.query("web.ns.svc.cluster.local", "AAAA");
        c.query("_http._tcp.web.ns.svc.cluster.local", "SRV");
        c.query("nope.ns.svc.cluster.local", "A");
        DnsStats s = server.stats();
        await().untilAsserted(() -> {
            assertThat(s.queriesByType()).containsEntry("A", 2L).containsEntry("AAAA", 1L).containsEntry("SRV", 1L);
            assertThat(s.responsesByRcode()).containsEntry("NOERROR", 3L).containsEntry("NXDOMAIN", 1L);
            assertThat(s.latency().count()).isEqualTo(4);
        });
        assertThat(s.queries()).isEqualTo(4);
        assertThat(s.udpQueries()).isEqualTo(4);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void itServesOverIpv6(Transport.Kind kind) throws Exception {
        InetAddress v6 = InetAddress.getByName("::1");
        boolean available;
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket(new InetSocketAddress(v6, 0))) {
            available = true;
        } catch (java.io.IOException e) {
            available = false;
        }
        assumeTrue(available, "no IPv6 loopback here");
        start(kind, DnsServerConfig.builder(new InetSocketAddress(v6, 0)));
        server.apply(cluster().build());
        DnsTestClient.Reply r = client().query("db.ns.svc.cluster.local", "A");
        assertThat(r.answers).hasSize(3);
        assertThat(client(4096, true).query("big.ns.svc.cluster.local", "A").answers).hasSize(100);
    }

    @Test
    void theAnyQueryAnswersEveryRecordOfTheName() throws Exception {
        start(Transport.Kind.best());
        List<String> types = client().query("dual.ns.svc.cluster.local", "ANY").answers.stream()
                                     .map(a -> a.split(" ")[2]).collect(Collectors.toList());
        assertThat(types).containsExactlyInAnyOrder("A", "AAAA");
    }
}
