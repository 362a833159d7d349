package io.ferry.l4.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** The table's names and its builder's rules, without a server. */
class DnsTableTest {

    @Test
    void everyAncestorOfANameExistsUpToTheApexButNotAbove() throws Exception {
        DnsTable t = DnsTable.builder("Cluster.Local.").srv("_http._tcp.web.ns.svc.cluster.local", 0, 100, 80,
                                                            "web.ns.svc.cluster.local").build();
        assertThat(t.zone()).isEqualTo("cluster.local");
        for (String name : new String[] {"_http._tcp.web.ns.svc.cluster.local", "_tcp.web.ns.svc.cluster.local",
                                         "web.ns.svc.cluster.local", "ns.svc.cluster.local", "svc.cluster.local",
                                         "cluster.local", "dns-version.cluster.local", "pod.cluster.local",
                                         "WEB.NS.SVC.CLUSTER.LOCAL."}) {
            assertThat(t.contains(name)).as(name).isTrue();
        }
        assertThat(t.contains("local")).isFalse();
        assertThat(t.contains("other.svc.cluster.local")).isFalse();
    }

    @Test
    void reverseNamesExistOnlyWhereAPtrWasAdded() throws Exception {
        InetAddress ip = InetAddress.getByName("10.96.0.10");
        DnsTable t = DnsTable.builder("cluster.local").ptr(ip, "web.ns.svc.cluster.local").build();
        assertThat(t.contains("10.0.96.10.in-addr.arpa")).isTrue();
        assertThat(t.contains("0.96.10.in-addr.arpa")).isFalse();
        assertThat(t.contains("in-addr.arpa")).isFalse();
    }

    @Test
    void reverseNamesFollowTheRfcs() throws Exception {
        assertThat(DnsName.reverseName(InetAddress.getByName("10.96.0.1"))).isEqualTo("1.0.96.10.in-addr.arpa");
        assertThat(DnsName.reverseName(InetAddress.getByName("2001:db8::567:89ab")))
                .isEqualTo("b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    }

    @Test
    void theBuilderRefusesWhatCannotBeServed() throws Exception {
        DnsTable.Builder b = DnsTable.builder("cluster.local");
        assertThatThrownBy(() -> b.address("web.example.com", InetAddress.getByName("10.0.0.1")))
                .hasMessageContaining("expected: a name in cluster.local");
        assertThatThrownBy(() -> b.address("bad name.ns.svc.cluster.local", InetAddress.getByName("10.0.0.1")))
                .hasMessageContaining("label \"bad name\"");
        assertThatThrownBy(() -> b.address("a..cluster.local", InetAddress.getByName("10.0.0.1")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.address("x".repeat(64) + ".cluster.local", InetAddress.getByName("10.0.0.1")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.ttl(-1)).hasMessage("ttl: -1 (expected: 0-86400)");
        b.cname("ext.ns.svc.cluster.local", "www.example.com");
        assertThatThrownBy(() -> b.address("ext.ns.svc.cluster.local", InetAddress.getByName("10.0.0.1")))
                .hasMessageContaining("a CNAME cannot share its name");
        assertThatThrownBy(() -> b.cname("ext.ns.svc.cluster.local", "www.example.org"))
                .hasMessageContaining("one CNAME");
        b.cname("ext.ns.svc.cluster.local", "WWW.example.com."); // the same one again is fine
        assertThat(b.build().recordCount()).isEqualTo(2);
    }

    @Test
    void namesLongerThan255BytesAreRefused() {
        String label = "a".repeat(63);
        String name = label + '.' + label + '.' + label + '.' + label.substring(0, 61);
        assertThat(DnsName.isValidName(name)).isTrue(); // 253 characters
        assertThat(DnsName.isValidName(name + "a")).isFalse();
    }

    @Test
    void dashedAddressesParseForPodNames() throws Exception {
        byte[] v4 = "10-1-2-3".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(DnsResponder.dashedAddress(v4, 0, v4.length)).isEqualTo(InetAddress.getByName("10.1.2.3"));
        byte[] v6 = "fd00--1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(DnsResponder.dashedAddress(v6, 0, v6.length)).isEqualTo(InetAddress.getByName("fd00::1"));
        byte[] bad = "10-1-2".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(DnsResponder.dashedAddress(bad, 0, bad.length)).isNull();
    }
}
