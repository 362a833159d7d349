package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The passive health half of {@link RoutePolicy}: nginx's {@code max_fails} and {@code fail_timeout}. */
class RoutePolicyTest {

    @Test
    void passiveHealthDefaultsAreNginxs() {
        assertThat(RoutePolicy.DEFAULT.maxFails()).isEqualTo(1);
        assertThat(RoutePolicy.DEFAULT.failTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(RoutePolicy.DEFAULT.toString()).contains("max-fails 1, fail-timeout PT10S");
    }

    @Test
    void maxFailsZeroTurnsPassiveHealthOffAndBelowZeroIsRefused() {
        assertThat(RoutePolicy.builder().maxFails(0).build().maxFails()).isZero();
        assertThatThrownBy(() -> RoutePolicy.builder().maxFails(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxFails: -1 (expected: >= 0)");
        assertThatThrownBy(() -> RoutePolicy.builder().failTimeout(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("failTimeout: PT-1S (expected: >= 0)");
    }
}
