package io.ferry.bench;

import io.ferry.l4.BackendStats;
import io.ferry.l4.LatencyHistogram;
import io.ferry.l7.route.RouteStats;
import java.lang.reflect.Method;
import java.util.Locale;

/**
 * The bytes one set of per-route and per-Service counters holds: never used, used by one event loop, and used by
 * two at once (which, with {@code LongAdder}s or striped cells, spreads the counts over more cells), each sized
 * with JOL's {@code GraphLayout} (the object and everything it reaches).
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar:jol-core-0.17.jar io.ferry.bench.StatsFootprintMain
 * </pre>
 * {@code org.openjdk.jol:jol-core} must be on the class path (it is not shaded into the jar). Uses only the counters'
 * public API, so the same class runs against an older jar put first on the class path.
 */
public final class StatsFootprintMain {

    private static final int EXCHANGES = 2_000_000;

    private StatsFootprintMain() {
    }

    public static void main(String[] args) throws Exception {
        Method parse = Class.forName("org.openjdk.jol.info.GraphLayout").getMethod("parseInstance", Object[].class);
        Method totalSize = parse.getReturnType().getMethod("totalSize");

        RouteStats one = new RouteStats();
        exchanges(one);
        RouteStats two = new RouteStats();
        Thread other = new Thread(() -> exchanges(two));
        other.start();
        exchanges(two);
        other.join();
        LatencyHistogram observed = new LatencyHistogram();
        observed.observe(3_000_000);

        Object[][] rows = {
                { "RouteStats, never used", new RouteStats() },
                { "RouteStats, used by one thread", one },
                { "RouteStats, used by two threads at once", two },
                { "LatencyHistogram, never used", new LatencyHistogram() },
                { "LatencyHistogram, one observation", observed },
                { "BackendStats, never used", new BackendStats() },
        };
        for (Object[] row : rows) {
            long bytes = (Long) totalSize.invoke(parse.invoke(null, (Object) new Object[] { row[1] }));
            System.out.printf(Locale.ROOT, "%-42s %,8d bytes%n", row[0], bytes);
        }
        if (two.requests() != 2L * EXCHANGES) {
            throw new AssertionError("lost requests: " + two.requests());
        }
    }

    /** What a busy route counts: the five counts of a proxied exchange, many times. */
    private static void exchanges(RouteStats s) {
        for (int i = 0; i < EXCHANGES; i++) {
            s.request();
            s.bytesFromClient(100);
            s.upstreamLatency(1_000_000 + (i & 0xffff) * 1_000L);
            s.response(200);
            s.bytesToClient(1_000);
        }
    }
}
