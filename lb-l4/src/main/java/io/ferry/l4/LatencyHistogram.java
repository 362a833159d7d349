package io.ferry.l4;

/**
 * A latency histogram with fixed bucket bounds, written by every event loop without locks and read at scrape time.
 *
 * <p>The bounds are those of a Prometheus classic histogram (in seconds: 0.5 ms to 10 s, then {@code +Inf}), so
 * that {@code /metrics} can show it as one with no conversion. {@link #observe(long)} is a short scan over 14
 * {@code long}s and two atomic adds into {@link StripedCounters}: no lock, and no allocation after the first
 * observation (and the few times contention first spreads the counts over more cells). A histogram never observed
 * holds no bucket storage (40 bytes in all), which matters because there is one per Service port and per Ingress
 * route and most of them see no traffic. Counts taken during a burst of writes may be a few observations apart, as
 * with any lock-free histogram.
 *
 * <p>Not HdrHistogram: the buckets must be Prometheus's fixed ones, and an HdrHistogram recorder per route would
 * cost kilobytes before its first value.
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

    /** The slots: one per bucket plus one for {@code +Inf} (not cumulative), then the sum in nanoseconds. */
    private static final int BUCKETS = BOUNDS_SECONDS.length + 1;
    private static final int SUM_NANOS = BUCKETS;

    private final StripedCounters counts = new StripedCounters(BUCKETS + 1);

    /** Records one observation of {@code nanos} (negative values count as zero). */
    public void observe(long nanos) {
        long n = Math.max(0, nanos);
        int i = 0;
        while (i < BOUNDS_NANOS.length && n > BOUNDS_NANOS[i]) {
            i++;
        }
        counts.increment(i);
        counts.add(SUM_NANOS, n);
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
        long[] buckets = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            buckets[i] = counts.sum(i);
        }
        return buckets;
    }

    /** How many observations there were. */
    public long count() {
        long n = 0;
        for (int i = 0; i < BUCKETS; i++) {
            n += counts.sum(i);
        }
        return n;
    }

    /** The sum of every observation, in seconds. */
    public double sumSeconds() {
        return counts.sum(SUM_NANOS) / 1e9;
    }
}
