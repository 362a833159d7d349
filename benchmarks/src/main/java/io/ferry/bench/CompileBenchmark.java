package io.ferry.bench;

import io.ferry.control.ClusterState;
import io.ferry.control.Snapshot;
import io.ferry.control.SnapshotCompiler;
import io.ferry.l7.tls.TlsCertificate;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of {@link SnapshotCompiler#compile}: a {@link ClusterFixture} cluster of {@link #services} Services ×
 * {@link #endpoints} endpoints (one EndpointSlice each) and {@link #ingresses} Ingresses (one host, two paths each).
 *
 * <ul>
 *   <li>{@link #cold()}: a new compiler each time, as at start-up: every Service is validated and admitted, every
 *       Ingress planned, and the tables built.</li>
 *   <li>{@link #oneEndpointChanged()}: a compiler that has compiled the cluster once, compiling it again with one
 *       endpoint of one Service moved (alternating between two such versions so each compile sees a change): the
 *       common case under pod churn. Every unchanged object is the same instance as before, as an informer cache
 *       hands them over.</li>
 * </ul>
 *
 * With {@code ingresses > 0} the compiler also has the Ingress and TLS compilers, as {@code Ferry} builds it with
 * HTTP and HTTPS on. Run with {@code -prof gc} for the allocation per compile.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
public class CompileBenchmark {

    @Param("10000")
    public int services;

    @Param("10")
    public int endpoints;

    @Param({ "0", "10000" })
    public int ingresses;

    private ClusterState state;
    private ClusterState[] changed;
    private TlsCertificate defaultCertificate;
    private SnapshotCompiler warm;
    private long generation;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        ClusterFixture fixture = ClusterFixture.create(services, endpoints, ingresses,
                                                       ClusterFixture.SERVICE_CIDR_10_96);
        state = fixture.state();
        int victim = services / 2;
        changed = new ClusterState[] {
                fixture.withEndpointChanged(victim).state(),
                fixture.withEndpointChanged(victim).withEndpointChanged(victim).state() };
        defaultCertificate = ingresses > 0 ? TlsCertificate.generateDefault() : null;
        warm = ClusterFixture.compiler(ingresses > 0, defaultCertificate);
        check(warm.compile(++generation, Instant.now(), state));
    }

    /**
     * The compiling thread's CPU time, beside JMH's wall-clock score: on a shared machine the wall clock also counts
     * the time the thread waited for a core (and for GC pauses), the CPU time does not. Shown per iteration as
     * {@code cpuMillis} (total) and {@code compiles}; their ratio is the CPU time per compile.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Cpu {
        private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
        private long nanos;
        public long compiles;

        @Setup(Level.Iteration)
        public void reset() {
            nanos = 0;
            compiles = 0;
        }

        public long cpuMillis() {
            return nanos / 1_000_000;
        }

        long start() {
            return THREADS.getCurrentThreadCpuTime();
        }

        void stop(long start) {
            nanos += THREADS.getCurrentThreadCpuTime() - start;
            compiles++;
        }
    }

    /** Compiles the whole cluster with a new compiler, as at start-up. */
    @Benchmark
    public Snapshot cold(Cpu cpu) {
        long t = cpu.start();
        Snapshot s = ClusterFixture.compiler(ingresses > 0, defaultCertificate).compile(++generation, Instant.EPOCH,
                                                                                       state);
        cpu.stop(t);
        return s;
    }

    /** Compiles the cluster again after one endpoint of one Service changed. */
    @Benchmark
    public Snapshot oneEndpointChanged(Cpu cpu) {
        long t = cpu.start();
        Snapshot s = warm.compile(++generation, Instant.EPOCH, changed[next++ & 1]);
        cpu.stop(t);
        return s;
    }

    private void check(Snapshot s) {
        if (s.l4().size() != services || !s.problems().isEmpty() || s.http().hostCount() != ingresses
            || s.http().ruleCount() != 2 * ingresses) {
            throw new IllegalStateException(s + ": " + s.http() + ", problems " + s.problems().subList(0,
                    Math.min(5, s.problems().size())) + " (expected: " + services + " listeners, " + ingresses
                                            + " hosts, no problem)");
        }
        int backendEndpoints = s.l4().entries().values().iterator().next().size();
        if (backendEndpoints != endpoints) {
            throw new IllegalStateException("endpoints per backend: " + backendEndpoints + " (expected: " + endpoints
                                            + ')');
        }
    }
}
