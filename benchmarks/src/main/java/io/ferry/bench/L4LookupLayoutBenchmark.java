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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * The L4 lookup with three memory layouts, on the same listeners and probe order in one run, to tell what makes
 * {@link L4TableLookupBenchmark}'s cost grow from 10 to 100,000 Service ports and what would flatten it:
 *
 * <ul>
 *   <li>{@code table*}: {@link L4Table#lookup(ListenerKey)} as it is (since issue 7, the packed layout of
 *       {@code flat*} inside {@code L4Table}; before, a {@code Map.copyOf} of {@link ListenerKey} objects compared
 *       by {@code InetSocketAddress.equals}); probes are new {@code ListenerKey}s, as in
 *       {@link L4TableLookupBenchmark}.</li>
 *   <li>{@code flatKeyMap*}: the same {@code Map.copyOf}, but keyed by {@link FlatL4Index.Key}, which compares one
 *       {@code long} (the key flattened, the table not).</li>
 *   <li>{@code flat*}: {@link FlatL4Index}, open addressing over a {@code long[]}, probed with
 *       {@link FlatL4Index.Key} objects (what a listener holding a {@code ListenerKey} with a packed {@code long}
 *       field would pass).</li>
 *   <li>{@code flatLong*}: {@link FlatL4Index} probed with bare {@code long}s read from a {@code long[]}: no probe
 *       object at all, the floor of the layout.</li>
 * </ul>
 *
 * Listeners and probes are built as in {@link L4TableLookupBenchmark}: ClusterIPs drawn at random (fixed seed) from
 * {@code 10.96.0.0/12} on ports 80, 443, 8080 and 9090; misses are other addresses of the range; every variant walks
 * the same shuffled order of listeners, one per call, over a power-of-two array.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class L4LookupLayoutBenchmark {

    private static final int SERVICE_CIDR_BASE = (10 << 24) | (96 << 16);
    private static final int SERVICE_CIDR_SIZE = 1 << 20;
    private static final int POD_CIDR_BASE = (10 << 24) | (128 << 16);
    private static final int[] PORTS = { 80, 443, 8080, 9090 };
    private static final long SEED = 0x5eed_fe77L;

    @Param({ "10", "1000", "100000" })
    public int servicePorts;

    private L4Table table;
    private Map<FlatL4Index.Key, Backend> flatKeyMap;
    private FlatL4Index flat;

    private ListenerKey[] hitKeys;
    private ListenerKey[] missKeys;
    private FlatL4Index.Key[] hitFlat;
    private FlatL4Index.Key[] missFlat;
    private long[] hitLong;
    private long[] missLong;
    private int mask;

    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup(Level.Trial)
    public void setUp() throws UnknownHostException {
        SplittableRandom random = new SplittableRandom(SEED);
        int[] offsets = distinctOffsets(random, 2 * servicePorts);

        L4Table.Builder builder = L4Table.builder();
        Map<FlatL4Index.Key, Backend> keyed = new HashMap<>();
        for (int i = 0; i < servicePorts; i++) {
            ListenerKey k = key(offsets[i], PORTS[i % PORTS.length]);
            Backend b = backend(i);
            builder.add(k, b);
            keyed.put(new FlatL4Index.Key(k), b);
        }
        table = builder.build();
        flatKeyMap = Map.copyOf(keyed);
        flat = FlatL4Index.of(table.entries());

        int length = Integer.highestOneBit(servicePorts);
        if (length < servicePorts) {
            length <<= 1;
        }
        mask = length - 1;
        int[] order = new int[length];
        for (int i = 0; i < length; i++) {
            order[i] = i % servicePorts;
        }
        for (int i = length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int o = order[i];
            order[i] = order[j];
            order[j] = o;
        }
        // Each family of probe objects is allocated in listener order, in its own loop, as the table's keys were.
        ListenerKey[] hitByService = new ListenerKey[servicePorts];
        ListenerKey[] missByService = new ListenerKey[servicePorts];
        for (int s = 0; s < servicePorts; s++) {
            hitByService[s] = key(offsets[s], PORTS[s % PORTS.length]);
            missByService[s] = key(offsets[servicePorts + s], PORTS[s % PORTS.length]);
        }
        FlatL4Index.Key[] hitFlatByService = new FlatL4Index.Key[servicePorts];
        FlatL4Index.Key[] missFlatByService = new FlatL4Index.Key[servicePorts];
        for (int s = 0; s < servicePorts; s++) {
            hitFlatByService[s] = new FlatL4Index.Key(key(offsets[s], PORTS[s % PORTS.length]));
            missFlatByService[s] = new FlatL4Index.Key(key(offsets[servicePorts + s], PORTS[s % PORTS.length]));
        }
        hitKeys = new ListenerKey[length];
        missKeys = new ListenerKey[length];
        hitFlat = new FlatL4Index.Key[length];
        missFlat = new FlatL4Index.Key[length];
        hitLong = new long[length];
        missLong = new long[length];
        for (int i = 0; i < length; i++) {
            int s = order[i];
            hitKeys[i] = hitByService[s];
            missKeys[i] = missByService[s];
            hitFlat[i] = hitFlatByService[s];
            missFlat[i] = missFlatByService[s];
            hitLong[i] = hitFlat[i].packed;
            missLong[i] = missFlat[i].packed;
        }
        check();
    }

    @Benchmark
    public Backend tableHit(Cursor c) {
        return table.lookup(hitKeys[c.next++ & mask]);
    }

    @Benchmark
    public Backend tableMiss(Cursor c) {
        return table.lookup(missKeys[c.next++ & mask]);
    }

    @Benchmark
    public Backend flatKeyMapHit(Cursor c) {
        return flatKeyMap.get(hitFlat[c.next++ & mask]);
    }

    @Benchmark
    public Backend flatKeyMapMiss(Cursor c) {
        return flatKeyMap.get(missFlat[c.next++ & mask]);
    }

    @Benchmark
    public Backend flatHit(Cursor c) {
        return flat.lookup(hitFlat[c.next++ & mask]);
    }

    @Benchmark
    public Backend flatMiss(Cursor c) {
        return flat.lookup(missFlat[c.next++ & mask]);
    }

    @Benchmark
    public Backend flatLongHit(Cursor c) {
        return flat.lookup(hitLong[c.next++ & mask]);
    }

    @Benchmark
    public Backend flatLongMiss(Cursor c) {
        return flat.lookup(missLong[c.next++ & mask]);
    }

    private void check() {
        if (flat.size() != servicePorts || flatKeyMap.size() != servicePorts || table.size() != servicePorts) {
            throw new IllegalStateException("sizes: " + table.size() + ", " + flatKeyMap.size() + ", " + flat.size());
        }
        for (int i = 0; i <= mask; i++) {
            Backend expected = table.lookup(hitKeys[i]);
            if (expected == null || flat.lookup(hitFlat[i]) != expected || flat.lookup(hitLong[i]) != expected
                || flatKeyMap.get(hitFlat[i]) != expected) {
                throw new IllegalStateException("hit " + hitKeys[i] + ": variants disagree");
            }
            if (table.lookup(missKeys[i]) != null || flat.lookup(missFlat[i]) != null
                || flat.lookup(missLong[i]) != null || flatKeyMap.get(missFlat[i]) != null) {
                throw new IllegalStateException("miss " + missKeys[i] + ": found");
            }
        }
    }

    private static int[] distinctOffsets(SplittableRandom random, int count) {
        BitSet taken = new BitSet(SERVICE_CIDR_SIZE);
        taken.set(0);
        taken.set(SERVICE_CIDR_SIZE - 1);
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
        Endpoint[] endpoints = new Endpoint[2];
        for (int j = 0; j < endpoints.length; j++) {
            endpoints[j] = Endpoint.of(new InetSocketAddress(ipv4(POD_CIDR_BASE + service * 2 + j), 8080));
        }
        return Backend.of("bench/svc-" + service + ':' + PORTS[service % PORTS.length] + "/TCP", List.of(endpoints),
                          RandomBalancer.INSTANCE);
    }

    private static InetAddress ipv4(int address) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {
                (byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address });
    }
}
