package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class SourceRangesTest {

    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal); // literals only: no lookup happens
    }

    @Test
    void admitsAddressesInsideIpv4Ranges() throws Exception {
        SourceRanges r = SourceRanges.parse("10.0.0.0/8, 192.168.1.0/24");
        assertThat(r.allows(ip("10.1.2.3"))).isTrue();
        assertThat(r.allows(ip("10.255.255.255"))).isTrue();
        assertThat(r.allows(ip("192.168.1.77"))).isTrue();
        assertThat(r.allows(ip("11.0.0.1"))).isFalse();
        assertThat(r.allows(ip("192.168.2.1"))).isFalse();
        assertThat(r.allows(ip("::1"))).isFalse();
    }

    @Test
    void bareAddressesAreSingleHosts() throws Exception {
        SourceRanges r = SourceRanges.parse("203.0.113.7,2001:db8::1");
        assertThat(r.allows(ip("203.0.113.7"))).isTrue();
        assertThat(r.allows(ip("203.0.113.8"))).isFalse();
        assertThat(r.allows(ip("2001:db8::1"))).isTrue();
        assertThat(r.allows(ip("2001:db8::2"))).isFalse();
        assertThat(r.cidrs()).containsExactly("203.0.113.7/32", "2001:db8::1/128");
    }

    @Test
    void admitsAddressesInsideIpv6Ranges() throws Exception {
        SourceRanges r = SourceRanges.parse("fd00::/8,2001:db8:abcd:12::/64,2001:db8::/100");
        assertThat(r.allows(ip("fd12:3456::1"))).isTrue();
        assertThat(r.allows(ip("fe00::1"))).isFalse();
        assertThat(r.allows(ip("2001:db8:abcd:12:ffff::1"))).isTrue();
        assertThat(r.allows(ip("2001:db8:abcd:13::1"))).isFalse();
        assertThat(r.allows(ip("2001:db8::0fff:ffff"))).isTrue();
        assertThat(r.allows(ip("2001:db8::1000:0"))).isFalse();
        assertThat(r.allows(ip("10.0.0.1"))).isFalse();
    }

    @Test
    void zeroPrefixesAdmitTheirWholeFamily() throws Exception {
        SourceRanges v4 = SourceRanges.parse("0.0.0.0/0");
        assertThat(v4.allows(ip("1.2.3.4"))).isTrue();
        assertThat(v4.allows(ip("::1"))).isFalse();
        SourceRanges v6 = SourceRanges.parse("::/0");
        assertThat(v6.allows(ip("2001:db8::1"))).isTrue();
        assertThat(v6.allows(ip("1.2.3.4"))).isFalse();
    }

    @Test
    void clearsHostBitsBelowThePrefix() throws Exception {
        SourceRanges r = SourceRanges.parse("10.1.2.3/8, 2001:db8::ff/120");
        assertThat(r.cidrs()).containsExactly("10.0.0.0/8", "2001:db8::/120");
        assertThat(r.allows(ip("10.200.0.1"))).isTrue();
        assertThat(r).hasToString("10.0.0.0/8,2001:db8::/120");
    }

    @Test
    void ipv4MappedAddressesMeetIpv4Ranges() throws Exception {
        SourceRanges r = SourceRanges.parse("10.0.0.0/8");
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = 10;
        mapped[15] = 1;
        // The JDK folds ::ffff:a.b.c.d into an Inet4Address; a scoped Inet6Address keeps the mapped form.
        assertThat(r.allows(Inet6Address.getByAddress(null, mapped, -1))).isTrue();

        SourceRanges mappedRange = SourceRanges.parse("::ffff:10.0.0.0/104");
        assertThat(mappedRange.cidrs()).containsExactly("10.0.0.0/8");
        assertThat(mappedRange.allows(ip("10.9.9.9"))).isTrue();
    }

    @Test
    void anyAdmitsEveryoneAndNoneNobody() throws Exception {
        assertThat(SourceRanges.ANY.allows(ip("1.2.3.4"))).isTrue();
        assertThat(SourceRanges.ANY.allows(null)).isTrue();
        assertThat(SourceRanges.ANY.isAny()).isTrue();
        assertThat(SourceRanges.ANY).hasToString("any");
        assertThat(SourceRanges.NONE.allows(ip("1.2.3.4"))).isFalse();
        assertThat(SourceRanges.NONE.allows(ip("::1"))).isFalse();
        assertThat(SourceRanges.NONE).hasToString("none");
        assertThat(SourceRanges.parse("10.0.0.0/8").allows(null)).isFalse();
    }

    @Test
    void rejectsWhatIsNotARange() {
        assertThatThrownBy(() -> SourceRanges.parse(""))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected: comma-separated CIDRs");
        assertThatThrownBy(() -> SourceRanges.parse("10.0.0.0/33"))
                .hasMessage("source range: \"10.0.0.0/33\" in \"10.0.0.0/33\" (expected: a prefix length 0-32)");
        assertThatThrownBy(() -> SourceRanges.parse("fd00::/129")).hasMessageContaining("0-128");
        assertThatThrownBy(() -> SourceRanges.parse("10.0.0.0/")).hasMessageContaining("prefix length");
        assertThatThrownBy(() -> SourceRanges.parse("10.0.0.0/-1")).hasMessageContaining("prefix length");
        assertThatThrownBy(() -> SourceRanges.parse("10.0.0.0/8,"))
                .hasMessage("source range: \"\" in \"10.0.0.0/8,\" (expected: an IPv4 or IPv6 address, "
                            + "optionally /prefix)");
        assertThatThrownBy(() -> SourceRanges.parse("example.com")).hasMessageContaining("\"example.com\"");
        assertThatThrownBy(() -> SourceRanges.parse("10.0.0")).hasMessageContaining("\"10.0.0\"");
        assertThatThrownBy(() -> SourceRanges.parse("300.0.0.1/8")).hasMessageContaining("\"300.0.0.1/8\"");
        assertThatThrownBy(() -> SourceRanges.parse("fe80::1%eth0")).hasMessageContaining("fe80::1%eth0");
    }

    @Test
    void inet4AddressHashCodeIsTheAddress() throws Exception {
        // allows() relies on it to read an IPv4 address without allocating.
        assertThat(ip("10.1.2.3").hashCode()).isEqualTo(10 << 24 | 1 << 16 | 2 << 8 | 3);
        assertThat(ip("255.255.255.254").hashCode()).isEqualTo(0xfffffffe);
    }

    @Test
    void equalRangesAreEqual() {
        assertThat(SourceRanges.parse("10.1.0.0/8")).isEqualTo(SourceRanges.parse("10.0.0.0/8"));
        assertThat(SourceRanges.parse("10.0.0.0/8")).isNotEqualTo(SourceRanges.parse("10.0.0.0/9"));
        assertThat(SourceRanges.ANY).isNotEqualTo(SourceRanges.NONE);
    }
}
