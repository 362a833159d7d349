package io.ferry.bench;

import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import io.ferry.l4.L4Table;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import io.ferry.l4.RandomBalancer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.BitSet;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
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
 * The cost of {@link L4Table#lookup(ListenerKey)}, the one table access of every accepted TCP connection, as the
 * table grows from 10 to 100,000 Service ports.
 *
 * <p>The table holds {@link #servicePorts} ClusterIP listeners at distinct addresses drawn at random (fixed seed)
 * from {@code 10.96.0.0/12}, Kubernetes' default Service range, on ports 80, 443, 8080 and 9090, each with two
 * endpoints. The probes are {@link ListenerKey}s built anew from the same address, port and protocol, as a
 * listener holds its own key: equal to the table's keys but sharing no object with them. {@link #hit(Cursor)}
 * and {@link #miss(Cursor)} walk their probes in a shuffled order, one per call, over a power-of-two array that
 * covers every listener, so the benchmark sees the whole table rather than one hot key
 * ({@link #hotListeners} narrows that down).
 *
 * <p>Neither method allocates: run with {@code -prof gc} and {@code gc.alloc.rate.norm} stays at about 0 B/op.
 * Single-threaded by default; with {@code -t N} the threads share the table and each keeps its own cursor.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class L4TableLookupBenchmark {

    /** Kubernetes' default Service CIDR, {@code 10.96.0.0/12}: where the ClusterIPs are drawn from. */
    private static final int SERVICE_CIDR_BASE = (10 << 24) | (96 << 16);
    private static final int SERVICE_CIDR_SIZE = 1 << 20;
    /** Where the endpoints' pod addresses are numbered from, {@code 10.128.0.0/9}. */
    private static final int POD_CIDR_BASE = (10 << 24) | (128 << 16);
    private static final int[] PORTS = { 80, 443, 8080, 9090 };
    private static final int ENDPOINTS_PER_SERVICE = 2;
    private static final long SEED = 0x5eed_fe77L;

    /** The number of Service ports (listeners) in the table. */
    @Param({ "10", "1000", "100000" })
    public int servicePorts;

    /**
     * How many of the listeners the probes cover: {@code 0}, the default, for all of them; a smaller number (such as
     * {@code -p hotListeners=1024}) keeps the probed working set in cache, which tells the cost of the hash table
     * itself apart from the cost of cache misses.
     */
    @Param("0")
    public int hotListeners;

    private L4Table table;
    private ListenerKey[] hitKeys;
    private ListenerKey[] missKeys;
    private int mask;

    /** Where one benchmark thread is in the probe array. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup(Level.Trial)
    public void setUp() throws UnknownHostException {
        if (servicePorts < 1 || servicePorts > SERVICE_CIDR_SIZE / 2 - 1) {
            throw new IllegalArgumentException(
                    "servicePorts: " + servicePorts + " (expected: 1-" + (SERVICE_CIDR_SIZE / 2 - 1) + ')');
        }
        if (hotListeners < 0) {
            throw new IllegalArgumentException("hotListeners: " + hotListeners + " (expected: >= 0)");
        }
        SplittableRandom random = new SplittableRandom(SEED);
        // 2 x servicePorts distinct addresses: the first half are ClusterIPs, the second half are in no table.
        int[] offsets = distinctOffsets(random, 2 * servicePorts);

        L4Table.Builder builder = L4Table.builder();
        for (int i = 0; i < servicePorts; i++) {
            builder.add(key(offsets[i], PORTS[i % PORTS.length]), backend(i));
        }
        table = builder.build();

        int probed = hotListeners == 0 ? servicePorts : Math.min(hotListeners, servicePorts);
        int length = Integer.highestOneBit(probed);
        if (length < probed) {
            length <<= 1;
        }
        mask = length - 1;
        hitKeys = new ListenerKey[length];
        missKeys = new ListenerKey[length];
        for (int i = 0; i < length; i++) {
            int s = i % probed;
            hitKeys[i] = key(offsets[s], PORTS[s % PORTS.length]);
            missKeys[i] = key(offsets[servicePorts + s], PORTS[s % PORTS.length]);
        }
        shuffle(hitKeys, random);
        shuffle(missKeys, random);
        check();
    }

    /** Looks up a listener that is in the table. */
    @Benchmark
    public Backend hit(Cursor cursor) {
        return table.lookup(hitKeys[cursor.next++ & mask]);
    }

    /** Looks up a listener that is not in the table (an address of the same range with no Service). */
    @Benchmark
    public Backend miss(Cursor cursor) {
        return table.lookup(missKeys[cursor.next++ & mask]);
    }

    private static int[] distinctOffsets(SplittableRandom random, int count) {
        BitSet taken = new BitSet(SERVICE_CIDR_SIZE);
        taken.set(0); // the network address
        taken.set(SERVICE_CIDR_SIZE - 1); // the broadcast address
        int[] offsets = new int[count];
        for (int i = 0; i < count; i++) {
            int offset;
            do {
                offset = random.nextInt(SERVICE_CIDR_SIZE);
            } while (taken.get(offset));
            taken.set(offset);
            offsets[i] = offset;
        }
        return offsets;
    }

    private static ListenerKey key(int serviceOffset, int port) throws UnknownHostException {
        return ListenerKey.of(ipv4(SERVICE_CIDR_BASE + serviceOffset), port, Protocol.TCP);
    }

    private static Backend backend(int service) throws UnknownHostException {
        Endpoint[] endpoints = new Endpoint[ENDPOINTS_PER_SERVICE];
        for (int j = 0; j < endpoints.length; j++) {
            InetAddress pod = ipv4(POD_CIDR_BASE + service * ENDPOINTS_PER_SERVICE + j);
            endpoints[j] = Endpoint.of(new InetSocketAddress(pod, 8080));
        }
        String name = "bench/svc-" + service + ':' + PORTS[service % PORTS.length] + "/TCP";
        return Backend.of(name, List.of(endpoints), RandomBalancer.INSTANCE);
    }

    private static InetAddress ipv4(int address) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {
                (byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address });
    }

    private static void shuffle(ListenerKey[] keys, SplittableRandom random) {
        for (int i = keys.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            ListenerKey k = keys[i];
            keys[i] = keys[j];
            keys[j] = k;
        }
    }

    /** Fails the trial if the probes do not do what their names say. */
    private void check() {
        if (table.size() != servicePorts) {
            throw new IllegalStateException("table: " + table + " (expected: " + servicePorts + " listeners)");
        }
        Set<ListenerKey> tableKeys = Collections.newSetFromMap(new IdentityHashMap<>());
        tableKeys.addAll(table.listeners());
        for (ListenerKey k : hitKeys) {
            if (table.lookup(k) == null) {
                throw new IllegalStateException("hit key: " + k + " (expected: in " + table + ')');
            }
            if (tableKeys.contains(k)) {
                throw new IllegalStateException("hit key: " + k + " (expected: a new instance, not the table's)");
            }
        }
        for (ListenerKey k : missKeys) {
            if (table.lookup(k) != null) {
                throw new IllegalStateException("miss key: " + k + " (expected: not in " + table + ')');
            }
        }
    }
}
