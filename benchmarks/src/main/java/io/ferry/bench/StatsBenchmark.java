package io.ferry.bench;

import io.ferry.l4.LatencyHistogram;
import io.ferry.l7.route.RouteStats;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The hot-path cost of the per-route and per-Service metrics: {@link LatencyHistogram#observe(long)} and the
 * {@link RouteStats} counters an HTTP exchange touches.
 * <ul>
 *   <li>{@link #observe(Cursor)}: one observation, walking 1,024 latencies spread over the buckets (fixed seed);</li>
 *   <li>{@link #request()}: one counter increment;</li>
 *   <li>{@link #exchange(Cursor)}: what one proxied exchange counts into its route: the request, the response
 *       class, the body bytes both ways and the time to the response head.</li>
 * </ul>
 *
 * <p>Single-threaded by default; with {@code -t 2} both threads share the one histogram and route (as two event
 * loops serving one hot route do) and each keeps its own cursor. None of them allocates: with {@code -prof gc},
 * {@code gc.alloc.rate.norm} stays at about 0 B/op.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class StatsBenchmark {

    private static final int LATENCIES = 1024;

    private final LatencyHistogram histogram = new LatencyHistogram();
    private final RouteStats route = new RouteStats();
    private final long[] latencies = new long[LATENCIES];

    /** Where one benchmark thread is in the latency array. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup
    public void setUp() {
        SplittableRandom random = new SplittableRandom(0x5eed_57a7L);
        for (int i = 0; i < LATENCIES; i++) {
            // Log-uniform from 100 µs to 1 s: most observations land in the middle buckets.
            latencies[i] = (long) (100_000 * Math.pow(10, random.nextDouble(4)));
        }
    }

    @Benchmark
    public void observe(Cursor c) {
        histogram.observe(latencies[c.next++ & (LATENCIES - 1)]);
    }

    @Benchmark
    public void request() {
        route.request();
    }

    @Benchmark
    public void exchange(Cursor c) {
        RouteStats r = route;
        r.request();
        r.bytesFromClient(512);
        r.upstreamLatency(latencies[c.next++ & (LATENCIES - 1)]);
        r.response(200);
        r.bytesToClient(4096);
    }
}
