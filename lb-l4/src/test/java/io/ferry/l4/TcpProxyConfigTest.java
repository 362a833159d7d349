package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TcpProxyConfigTest {

    @Test
    void theBufferIsHalfAMebibyteUnlessSetAndNeverTiny() {
        assertThat(TcpProxyConfig.DEFAULT.bufferSize()).isEqualTo(512 * 1024);
        assertThat(TcpProxyConfig.builder().bufferSize(64 * 1024).build().bufferSize()).isEqualTo(64 * 1024);
        assertThatThrownBy(() -> TcpProxyConfig.builder().bufferSize(100))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bufferSize: 100 (expected: >= 4096)");
    }

    @Test
    void bothLegsOfARelayGetTheBufferAsTheirHighWaterMark() {
        try (Transport transport = Transport.create(Transport.Kind.NIO, 1)) {
            ServiceProxy proxy = new ServiceProxy(transport, TcpProxyConfig.builder().bufferSize(8192).build());
            assertThat(proxy.waterMark().high()).isEqualTo(8192);
            assertThat(proxy.waterMark().low()).isEqualTo(4096);
            proxy.close();
        }
    }

    @Test
    void keepaliveProbesOnlyWhereTheyCanStartBeforeTheIdleTimeout() {
        // The default 1 h idle timeout closes a quiet connection before the kernel's first probe (7,200 s).
        assertThat(TcpProxyConfig.DEFAULT.socketKeepAlive(7200)).isFalse();
        assertThat(TcpProxyConfig.builder().idleTimeout(Duration.ZERO).build().socketKeepAlive(7200)).isTrue();
        assertThat(TcpProxyConfig.builder().idleTimeout(Duration.ofHours(3)).build().socketKeepAlive(7200)).isTrue();
        assertThat(TcpProxyConfig.DEFAULT.socketKeepAlive(600)).isTrue();
    }

    @Test
    void theKernelsKeepaliveTimeIsReadWhole() throws Exception {
        // Files.readString once gave "7" of "7200" (procfs files have no length), and 1 h looked longer than it.
        Path sysctl = Path.of("/proc/sys/net/ipv4/tcp_keepalive_time");
        long expected = Files.isReadable(sysctl) ? Long.parseLong(Files.readAllLines(sysctl).get(0).trim()) : 7200;
        assertThat(ServiceProxy.keepaliveTimeSeconds()).isEqualTo(expected);
    }
}
