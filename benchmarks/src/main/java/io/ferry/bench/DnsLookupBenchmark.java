package io.ferry.bench;

import io.ferry.l4.dns.DnsName;
import io.ferry.l4.dns.DnsTable;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * The cost of the DNS server's one table access per query, {@link DnsTable#containsWire(byte[], int)} (a hash over
 * the lowercase wire name, then one probe sequence), as the table grows from 10 to 100,000 Services; and the cost
 * of building the table, which the control thread pays on every change.
 *
 * <p>Each Service {@code svc-<i>.ns-<i % 100>} has a ClusterIP from {@code 10.96.0.0/12}, its PTR record and one
 * named port ({@code _http._tcp}), as the compiler builds them: about five names per Service. {@link #hit(Cursor)}
 * asks Service names; {@link #miss(Cursor)} asks the names a pod's search path makes of an outside name
 * ({@code www.example.com.ns-7.svc.cluster.local}), which are in the zone and answered NXDOMAIN. Probes are wire
 * names prepared in setup and walked in a shuffled order over every Service; neither method allocates (check with
 * {@code -prof gc}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DnsLookupBenchmark {

    private static final long SEED = 0xd45_fe77L;

    /** The number of Services in the table. */
    @Param({ "10", "100000" })
    public int services;

    private DnsTable table;
    private byte[][] hits;
    private byte[][] misses;
    private int mask;

    /** Where one benchmark thread is in the probe arrays. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup(Level.Trial)
    public void setUp() throws UnknownHostException {
        table = build(services);
        int length = Integer.highestOneBit(services);
        if (length < services) {
            length <<= 1;
        }
        mask = length - 1;
        hits = new byte[length][];
        misses = new byte[length][];
        SplittableRandom random = new SplittableRandom(SEED);
        for (int i = 0; i < length; i++) {
            int s = i % services;
            hits[i] = DnsName.toWire(name(s));
            misses[i] = DnsName.toWire("www.example.com.ns-" + (s % 100) + ".svc.cluster.local");
        }
        shuffle(hits, random);
        shuffle(misses, random);
        for (int i = 0; i < length; i++) {
            if (!table.containsWire(hits[i], hits[i].length) || table.containsWire(misses[i], misses[i].length)) {
                throw new IllegalStateException("probe " + i + " does not do what its name says");
            }
        }
    }

    private static String name(int service) {
        return "svc-" + service + ".ns-" + (service % 100) + ".svc.cluster.local";
    }

    static DnsTable build(int services) throws UnknownHostException {
        DnsTable.Builder b = DnsTable.builder("cluster.local");
        for (int i = 0; i < services; i++) {
            int ip = (10 << 24) | (96 << 16) | (i + 1);
            InetAddress a = InetAddress.getByAddress(new byte[] {
                    (byte) (ip >>> 24), (byte) (ip >>> 16), (byte) (ip >>> 8), (byte) ip });
            String name = name(i);
            b.address(name, a).ptr(a, name).srv("_http._tcp." + name, 0, 100, 80, name);
        }
        return b.build();
    }

    /** Looks up the name of a Service. */
    @Benchmark
    public boolean hit(Cursor cursor) {
        byte[] name = hits[cursor.next++ & mask];
        return table.containsWire(name, name.length);
    }

    /** Looks up a search-path expansion that is in the zone but names nothing (NXDOMAIN). */
    @Benchmark
    public boolean miss(Cursor cursor) {
        byte[] name = misses[cursor.next++ & mask];
        return table.containsWire(name, name.length);
    }

    /** Builds the whole table (what each change costs the control thread). */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 2)
    @Measurement(iterations = 3)
    public DnsTable build() throws UnknownHostException {
        return build(services);
    }

    private static void shuffle(byte[][] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            byte[] t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
