package io.ferry.l4.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading upstreams from resolv.conf, and the configuration's bounds. */
class DnsServerConfigTest {

    @Test
    void nameserverLinesAreTheUpstreamsInOrder(@TempDir Path dir) throws Exception {
        Path resolvConf = dir.resolve("resolv.conf");
        Files.writeString(resolvConf, """
                # generated
                search default.svc.cluster.local svc.cluster.local
                nameserver 10.0.0.2
                nameserver   fe80::1%no-such-interface0
                nameserver fe80::2%lo
                nameserver not-an-ip
                ;nameserver 10.0.0.9
                options ndots:5
                nameserver 127.0.0.53
                """);
        List<InetSocketAddress> upstreams = DnsServerConfig.nameservers(resolvConf);
        assertThat(upstreams).hasSize(4);
        assertThat(upstreams.get(0)).isEqualTo(new InetSocketAddress("10.0.0.2", 53));
        assertThat(upstreams.get(1)).isEqualTo(new InetSocketAddress("fe80::1", 53));
        // A link-local address keeps its interface, when there is one.
        assertThat(upstreams.get(2).getAddress().getHostAddress()).startsWith("fe80:0:0:0:0:0:0:2");
        assertThat(upstreams.get(3)).isEqualTo(new InetSocketAddress("127.0.0.53", 53));
        assertThat(DnsServerConfig.nameservers(dir.resolve("missing"))).isEmpty();
    }

    @Test
    void forwardingIsOffWithoutUpstreamsAndBoundsAreChecked() {
        DnsServerConfig c = DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 10053)).build();
        assertThat(c.forwarding()).isFalse();
        assertThat(c.maxUdpPayload()).isEqualTo(1232);
        assertThat(c.upstreamTimeout()).isEqualTo(Duration.ofSeconds(2));
        DnsServerConfig.Builder b = DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 10053));
        assertThat(b.upstreams(List.of(new InetSocketAddress("10.0.0.2", 53))).build().forwarding()).isTrue();
        assertThatThrownBy(() -> b.maxUdpPayload(100)).hasMessage("maxUdpPayload: 100 (expected: 512-65535)");
        assertThatThrownBy(() -> b.upstreams(List.of(InetSocketAddress.createUnresolved("dns.example", 53))))
                .hasMessageContaining("expected: an IP address and port");
        assertThatThrownBy(() -> DnsServerConfig.builder(InetSocketAddress.createUnresolved("localhost", 53)))
                .hasMessageContaining("expected: an IP address and port");
    }
}
