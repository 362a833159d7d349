package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** nginx's {@code max_fails}/{@code fail_timeout} accounting, on an injected clock (nanosecond timestamps). */
class EndpointHealthTest {

    private static final long TIMEOUT = TimeUnit.SECONDS.toNanos(10);

    @Test
    void maxFailsFailuresInARowSkipTheEndpointForTheFailTimeout() {
        EndpointHealth h = new EndpointHealth();
        long now = 1_000;
        assertThat(h.failed(now, 3, TIMEOUT)).isFalse();
        assertThat(h.failed(now, 3, TIMEOUT)).isFalse();
        assertThat(h.isAvailable(now)).isTrue();
        assertThat(h.failed(now, 3, TIMEOUT)).isTrue();
        assertThat(h.isAvailable(now)).isFalse();
        assertThat(h.isAvailable(now + TIMEOUT - 1)).isFalse();
        assertThat(h.isAvailable(now + TIMEOUT)).isTrue();
    }

    @Test
    void aSuccessStartsTheCountOver() {
        EndpointHealth h = new EndpointHealth();
        assertThat(h.failed(0, 2, TIMEOUT)).isFalse();
        h.succeeded();
        assertThat(h.failed(0, 2, TIMEOUT)).isFalse();
        assertThat(h.isAvailable(0)).isTrue();
        assertThat(h.failed(0, 2, TIMEOUT)).isTrue();
    }

    @Test
    void maxFailsZeroNeverSkipsTheEndpoint() {
        EndpointHealth h = new EndpointHealth();
        for (int i = 0; i < 100; i++) {
            assertThat(h.failed(i, 0, TIMEOUT)).as("failure %d", i).isFalse();
            assertThat(h.isAvailable(i)).isTrue();
        }
        // Nothing was counted: with accounting back on, it takes max_fails failures again.
        assertThat(h.failed(100, 2, TIMEOUT)).isFalse();
        assertThat(h.failed(100, 2, TIMEOUT)).isTrue();
    }

    @Test
    void aZeroFailTimeoutNeverSkipsTheEndpoint() {
        EndpointHealth h = new EndpointHealth();
        for (int i = 0; i < 10; i++) {
            assertThat(h.failed(i, 1, 0)).isFalse();
            assertThat(h.isAvailable(i)).isTrue();
        }
    }
}
