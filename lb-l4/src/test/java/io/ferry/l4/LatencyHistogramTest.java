package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LatencyHistogramTest {

    private static final long MS = 1_000_000;

    @Test
    void anUnobservedHistogramIsEmpty() {
        LatencyHistogram h = new LatencyHistogram();
        assertThat(h.count()).isZero();
        assertThat(h.sumSeconds()).isZero();
        assertThat(h.bucketCounts()).hasSize(LatencyHistogram.boundsSeconds().length + 1).containsOnly(0L);
    }

    @Test
    void countsEachObservationInTheFirstBucketWhoseBoundIsNotBelowIt() {
        LatencyHistogram h = new LatencyHistogram();
        h.observe(-7);              // counts as 0: first bucket (<= 0.5 ms)
        h.observe(MS / 2);          // exactly 0.5 ms: still the first bucket (le="0.0005")
        h.observe(MS / 2 + 1);      // just over: le="0.001"
        h.observe(30 * MS);         // le="0.05"
        h.observe(10_000 * MS);     // exactly 10 s: le="10"
        h.observe(60_000 * MS);     // +Inf
        long[] b = h.bucketCounts();
        assertThat(b[0]).isEqualTo(2);
        assertThat(b[1]).isEqualTo(1);
        assertThat(b[6]).isEqualTo(1);
        assertThat(b[13]).isEqualTo(1);
        assertThat(b[14]).isEqualTo(1);
        assertThat(h.count()).isEqualTo(6);
        assertThat(h.sumSeconds()).isCloseTo(0.0005 + 0.0005 + 1e-9 + 0.03 + 10 + 60, within(1e-9));
    }

    /** Event loops observing into one histogram at once: every bucket count and the sum come out exact. */
    @Test
    void concurrentObservationsAreNeverLost() throws Exception {
        int threads = 6;
        int perThread = 150_000;
        long[] latencies = { 0, 2 * MS, 70 * MS, 3_000 * MS, 20_000 * MS };
        LatencyHistogram h = new LatencyHistogram();
        StripedCountersTest.hammer(threads, t -> {
            for (int i = 0; i < perThread; i++) {
                h.observe(latencies[i % latencies.length]);
            }
        });
        long each = (long) threads * perThread / latencies.length;
        long[] b = h.bucketCounts();
        assertThat(b[0]).isEqualTo(each);
        assertThat(b[2]).isEqualTo(each);  // 2 ms: le="0.0025"
        assertThat(b[7]).isEqualTo(each);  // 70 ms: le="0.1"
        assertThat(b[12]).isEqualTo(each); // 3 s: le="5"
        assertThat(b[14]).isEqualTo(each); // +Inf
        assertThat(h.count()).isEqualTo((long) threads * perThread);
        assertThat(h.sumSeconds() * 1e9).isEqualTo((double) each * (2 + 70 + 3_000 + 20_000) * MS);
    }
}
