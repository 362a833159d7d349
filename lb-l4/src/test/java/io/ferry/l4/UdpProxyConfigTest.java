package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class UdpProxyConfigTest {

    @Test
    void defaultsFollowConntrack() {
        UdpProxyConfig c = UdpProxyConfig.DEFAULT;
        assertThat(c.idleTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.maxFlowsPerListener()).isEqualTo(65_536);
        assertThat(c.maxDatagramSize()).isEqualTo(UdpProxyConfig.MAX_UDP_PAYLOAD);
        assertThat(c.maxFails()).isEqualTo(1);
        assertThat(c.failTimeout()).isEqualTo(Duration.ofSeconds(10));
        // Swept once a second: a flow idle for 30 s is gone within 31 s.
        assertThat(c.sweepIntervalMillis()).isEqualTo(1000);
        assertThat(c.idleSweeps()).isEqualTo(30);
    }

    @Test
    void shortTimeoutsAreSweptFourTimesPerTimeout() {
        UdpProxyConfig c = UdpProxyConfig.builder().idleTimeout(Duration.ofMillis(200)).build();
        assertThat(c.sweepIntervalMillis()).isEqualTo(50);
        assertThat(c.idleSweeps()).isEqualTo(4);
        UdpProxyConfig tiny = UdpProxyConfig.builder().idleTimeout(Duration.ofMillis(3)).build();
        assertThat(tiny.sweepIntervalMillis()).isEqualTo(1);
        assertThat(tiny.idleSweeps()).isEqualTo(3);
        UdpProxyConfig odd = UdpProxyConfig.builder().idleTimeout(Duration.ofMillis(2500)).build();
        assertThat(odd.sweepIntervalMillis()).isEqualTo(625);
        assertThat(odd.idleSweeps()).isEqualTo(4);
    }

    @Test
    void badValuesNameThemselves() {
        assertThatThrownBy(() -> UdpProxyConfig.builder().idleTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("idleTimeout: PT0S");
        assertThatThrownBy(() -> UdpProxyConfig.builder().maxFlowsPerListener(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxFlowsPerListener: 0 (expected: >= 1)");
        assertThatThrownBy(() -> UdpProxyConfig.builder().maxFails(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxFails: 0 (expected: >= 1)");
        assertThatThrownBy(() -> UdpProxyConfig.builder().failTimeout(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("failTimeout: PT-1S (expected: >= 0)");
        assertThatThrownBy(() -> UdpProxyConfig.builder().maxDatagramSize(65_528))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxDatagramSize: 65528 (expected: 1-65527)");
    }
}
