package io.ferry.l4;

import java.util.concurrent.atomic.LongAdder;

/**
 * A latency histogram with fixed bucket bounds, written by every event loop without locks and read at scrape time.
 *
 * <p>The bounds are those of a Prometheus classic histogram (in seconds: 0.5 ms to 10 s, then {@code +Inf}), so
 * that {@code /metrics} can show it as one with no conversion. {@link #observe(long)} is a short scan over 14
 * {@code long}s and two {@link LongAdder} increments: no allocation, no lock. A reader sees each adder's own sum;
 * counts taken during a burst of writes may be a few observations apart, as with any lock-free histogram.
 */
public final class LatencyHistogram {

    private static final double[] BOUNDS_SECONDS = {
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
    private static final long[] BOUNDS_NANOS = new long[BOUNDS_SECONDS.length];

    static {
        for (int i = 0; i < BOUNDS_SECONDS.length; i++) {
            BOUNDS_NANOS[i] = (long) (BOUNDS_SECONDS[i] * 1e9);
        }
    }

    // One adder per bucket plus one for +Inf; not cumulative.
    private final LongAdder[] buckets = new LongAdder[BOUNDS_SECONDS.length + 1];
    private final LongAdder sumNanos = new LongAdder();

    public LatencyHistogram() {
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = new LongAdder();
        }
    }

    /** Records one observation of {@code nanos} (negative values count as zero). */
    public void observe(long nanos) {
        long n = Math.max(0, nanos);
        int i = 0;
        while (i < BOUNDS_NANOS.length && n > BOUNDS_NANOS[i]) {
            i++;
        }
        buckets[i].increment();
        sumNanos.add(n);
    }

    /** The upper bounds of the finite buckets, in seconds, ascending; the last bucket ({@code +Inf}) is implied. */
    public static double[] boundsSeconds() {
        return BOUNDS_SECONDS.clone();
    }

    /**
     * The count of each bucket (not cumulative): one per bound of {@link #boundsSeconds()}, then the {@code +Inf}
     * bucket.
     */
    public long[] bucketCounts() {
        long[] counts = new long[buckets.length];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = buckets[i].sum();
        }
        return counts;
    }

    /** How many observations there were. */
    public long count() {
        long n = 0;
        for (LongAdder b : buckets) {
            n += b.sum();
        }
        return n;
    }

    /** The sum of every observation, in seconds. */
    public double sumSeconds() {
        return sumNanos.sum() / 1e9;
    }
}
