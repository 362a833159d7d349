package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
}
