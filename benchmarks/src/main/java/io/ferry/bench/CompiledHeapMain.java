package io.ferry.bench;

import io.ferry.control.ClusterState;
import io.ferry.control.Snapshot;
import io.ferry.control.SnapshotCompiler;
import io.ferry.l7.tls.TlsCertificate;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.reflect.Method;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.management.ObjectName;

/**
 * The retained heap of a compiled {@link Snapshot} of a {@link ClusterFixture} cluster, by GC deltas: the heap used
 * after full GCs with the cluster state alone, then with the state, the compiler and its snapshot, then with the
 * state and the snapshot only (the compiler dropped). Each round compiles anew with a new compiler; the medians of
 * the rounds are printed.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.ferry.bench.CompiledHeapMain [services [endpoints [ingresses [rounds]]]]
 * </pre>
 * Defaults: 10000 10 10000 5. Run it alone, with a fixed heap so the GC sizing does not move:
 * {@code java -Xms4g -Xmx4g -XX:+UseG1GC -cp ...}. When {@code org.openjdk.jol:jol-core} is on the class path, the
 * snapshot's reachable graph is also sized with JOL's {@code GraphLayout} (which counts shared objects, such as
 * strings the state also holds, so it reads higher than the delta). With {@code -Dhistogram=true}, it also prints
 * the classes of the objects the snapshot alone holds (a difference of two {@code GC.class_histogram}s).
 */
public final class CompiledHeapMain {

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    private CompiledHeapMain() {
    }

    public static void main(String[] args) throws Exception {
        int services = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int endpoints = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int ingresses = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 5;

        TlsCertificate certificate = ingresses > 0 ? TlsCertificate.generateDefault() : null;
        // Warm the compile path (class loading, JIT) on a small cluster first, so its metadata is not counted.
        ClusterFixture small = ClusterFixture.create(100, endpoints, Math.min(100, ingresses),
                                                     ClusterFixture.SERVICE_CIDR_10_96);
        ClusterFixture.compiler(ingresses > 0, certificate).compile(1, Instant.now(), small.state());

        long empty = usedAfterGc();
        ClusterFixture fixture = ClusterFixture.create(services, endpoints, ingresses,
                                                       ClusterFixture.SERVICE_CIDR_10_96);
        ClusterState state = fixture.state();
        // The same cluster with one endpoint moved, sharing every other object: what a recompile sees.
        ClusterState changed = fixture.withEndpointChanged(services / 2).state();
        long stateBytes = usedAfterGc() - empty;
        System.out.printf(Locale.ROOT, "cluster: %d Services x %d endpoints, %d Ingresses; state %s%n",
                          services, endpoints, ingresses, mib(stateBytes));

        long[] withCompiler = new long[rounds];
        long[] snapshotOnly = new long[rounds];
        long[] compileMillis = new long[rounds];
        Snapshot last = null;
        for (int r = 0; r < rounds; r++) {
            last = null;
            long before = usedAfterGc();
            SnapshotCompiler compiler = ClusterFixture.compiler(ingresses > 0, certificate);
            long t0 = System.nanoTime();
            Snapshot snapshot = compiler.compile(r + 1, Instant.now(), state);
            compileMillis[r] = (System.nanoTime() - t0) / 1_000_000;
            withCompiler[r] = usedAfterGc() - before;
            compiler = null; // the compiler's memory (admitted versions, carried counters) is dropped here
            snapshotOnly[r] = usedAfterGc() - before;
            System.out.printf(Locale.ROOT, "round %d: compile %d ms; retained: snapshot + compiler %s, snapshot %s"
                                           + " (%s)%n", r + 1, compileMillis[r], mib(withCompiler[r]),
                              mib(snapshotOnly[r]), snapshot);
            last = snapshot;
        }
        System.out.printf(Locale.ROOT, "median: snapshot + compiler %s, snapshot alone %s, cold compile %d ms%n",
                          mib(median(withCompiler)), mib(median(snapshotOnly)), median(compileMillis));
        jol(last);
        if (Boolean.getBoolean("histogram")) {
            // What the snapshot holds, by class: the live-object histogram with it, minus the one without it.
            Map<String, long[]> with = histogram();
            last = null;
            Map<String, long[]> without = histogram();
            printDiff(with, without, 25);
        }
        last = null;
        recompile(state, changed, ingresses > 0, certificate);
    }

    /**
     * The heap of a recompile, as the control loop does one: the compiler and the live snapshot (which the data
     * plane serves until the new one is applied) stay reachable while the new snapshot is compiled. Prints what the
     * new snapshot adds to the live heap (what it does not share with the old one), the bytes the compile allocates,
     * and their sum with the live heap before it: the heap the recompile needs if no GC ran during it, an upper
     * bound of its peak.
     */
    private static void recompile(ClusterState state, ClusterState changed, boolean http, TlsCertificate certificate)
            throws InterruptedException {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long base = usedAfterGc(); // the two states
        SnapshotCompiler compiler = ClusterFixture.compiler(http, certificate);
        Snapshot live = compiler.compile(1, Instant.now(), state);
        long before = usedAfterGc();
        long allocated0 = threads.getCurrentThreadAllocatedBytes();
        long t0 = System.nanoTime();
        Snapshot next = compiler.compile(2, Instant.now(), changed);
        long millis = (System.nanoTime() - t0) / 1_000_000;
        long allocated = threads.getCurrentThreadAllocatedBytes() - allocated0;
        long after = usedAfterGc();
        System.out.printf(Locale.ROOT, "recompile (one endpoint changed): %d ms; live before %s above the states"
                                       + " (compiler + live snapshot); new snapshot adds %s; allocated %s;"
                                       + " states + live + allocated %s%n",
                          millis, mib(before - base), mib(after - before), mib(allocated),
                          mib(before + allocated));
        if (live.generation() == next.generation()) {
            System.out.println(); // keeps both reachable to here
        }
    }

    /** Sizes {@code snapshot}'s reachable graph with JOL when it is on the class path. */
    private static void jol(Snapshot snapshot) {
        try {
            Class<?> layout = Class.forName("org.openjdk.jol.info.GraphLayout");
            Method parse = layout.getMethod("parseInstance", Object[].class);
            Object graph = parse.invoke(null, (Object) new Object[] { snapshot });
            long total = (Long) layout.getMethod("totalSize").invoke(graph);
            long count = (Long) layout.getMethod("totalCount").invoke(graph);
            System.out.printf(Locale.ROOT, "JOL: snapshot reaches %d objects, %s%n", count, mib(total));
        } catch (ClassNotFoundException e) {
            System.out.println("JOL: not on the class path; skipped");
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.out.println("JOL: failed: " + e);
        }
    }

    /** The live objects by class ({@code jcmd GC.class_histogram}, which runs a full GC): name -> {count, bytes}. */
    private static Map<String, long[]> histogram() throws Exception {
        String text = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                new Object[] { new String[0] }, new String[] { String[].class.getName() });
        Map<String, long[]> out = new HashMap<>();
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && f[0].endsWith(":")) {
                out.put(f[3], new long[] { Long.parseLong(f[1]), Long.parseLong(f[2]) });
            }
        }
        return out;
    }

    private static void printDiff(Map<String, long[]> with, Map<String, long[]> without, int top) {
        List<Map.Entry<String, long[]>> diff = new ArrayList<>();
        long total = 0;
        long objects = 0;
        for (Map.Entry<String, long[]> e : with.entrySet()) {
            long[] base = without.getOrDefault(e.getKey(), new long[2]);
            long[] d = { e.getValue()[0] - base[0], e.getValue()[1] - base[1] };
            total += d[1];
            objects += d[0];
            diff.add(Map.entry(e.getKey(), d));
        }
        diff.sort((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]));
        System.out.printf(Locale.ROOT, "held by the snapshot alone (class histogram difference): %d objects, %s%n",
                          objects, mib(total));
        for (int i = 0; i < Math.min(top, diff.size()); i++) {
            long[] d = diff.get(i).getValue();
            System.out.printf(Locale.ROOT, "  %10d objects %10.1f MiB  %s%n", d[0], d[1] / (1024.0 * 1024.0),
                              diff.get(i).getKey());
        }
    }

    private static long usedAfterGc() throws InterruptedException {
        long used = Long.MAX_VALUE;
        // Full GCs until the used heap stops shrinking (finalizers, reference processing).
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            long now = MEMORY.getHeapMemoryUsage().getUsed();
            if (now >= used - 64 * 1024) {
                return Math.min(now, used);
            }
            used = now;
        }
        return used;
    }

    private static long median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
