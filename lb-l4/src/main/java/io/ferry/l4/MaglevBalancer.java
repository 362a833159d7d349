package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Consistent hashing of the client IP address with Google's Maglev lookup table ({@code ferry.io/lb-algorithm:
 * maglev}; IPVS's {@code mh}): a client keeps its endpoint while the endpoints stay the same, and when one of
 * {@code N} endpoints goes away only about {@code 1/N} of the clients move (those it had, plus a few percent of the
 * rest), where a plain hash modulo {@code N} would move almost all of them.
 *
 * <p>The table ({@code M} slots, {@code M} prime) is filled as in the paper (Eisenbud et al., NSDI 2016, section
 * 3.4): each endpoint has a permutation of the slots, {@code (offset + j * skip) mod M}, with {@code offset} and
 * {@code skip} taken from two hashes of its {@code address:port}; the endpoints take turns claiming the next free
 * slot of their permutation until the table is full. Every endpoint ends up with {@code floor(M/N)} or
 * {@code ceil(M/N)} slots. The turns go in {@code address:port} order, so the table depends only on the set of
 * endpoints, not on their order in the backend, and every Ferry process (every node, every restart) builds the same
 * one. A lookup hashes the client's address (as {@link SourceHashBalancer} does) onto a slot.
 *
 * <p>{@code M} is {@value #DEFAULT_TABLE_SIZE} for up to 655 endpoints; beyond, the smallest of 131071, 262139,
 * 524287 and 1048573 that is at least 100 times the endpoint count (the most endpoints: 1048572). It depends on the
 * count alone, so every process agrees on it, and it only changes where the count crosses 655 or a later step: a
 * rolling update of an ordinary Service never changes it (a change of {@code M} moves most clients, once). The
 * table is an {@code int[M]}: 256 KiB per Service port at the default size, built in a few milliseconds off the hot
 * path (about {@code M ln M} probes).
 *
 * <p>A connection with no client address ({@code null}, or one that is not an IP socket address) goes to an
 * endpoint picked at random.
 *
 * <p>One instance belongs to one {@link Backend}: build it from the list the backend is built from. Immutable; safe
 * on every event loop; {@link #select} neither locks nor allocates. Called with a backend of another size, it
 * reduces the client hash modulo that size instead, so that the index is always valid.
 */
public final class MaglevBalancer implements Balancer {

    /** The table size of the Maglev paper, and Ferry's for up to 655 endpoints: a prime. */
    public static final int DEFAULT_TABLE_SIZE = 65537;

    /** Larger primes, each about twice the one before, for backends with more than 655 endpoints. */
    private static final int[] LARGER_TABLE_SIZES = { 131071, 262139, 524287, 1048573 };
    /** The slots per endpoint below which a larger table is chosen (the paper's advice: {@code M >> N}). */
    private static final int SLOTS_PER_ENDPOINT = 100;

    private static final long OFFSET_SEED = 0x6a09_e667_f3bc_c908L;
    private static final long SKIP_SEED = 0xbb67_ae85_84ca_a73bL;

    private final int[] table;
    private final InetSocketAddress[] addresses;

    private MaglevBalancer(int[] table, InetSocketAddress[] addresses) {
        this.table = table;
        this.addresses = addresses;
    }

    /**
     * A balancer for {@code endpoints} with a table of {@link #tableSizeFor(int)} slots.
     *
     * @param endpoints the endpoints of the backend this balancer will serve, in the backend's order, without
     *                  duplicates; may be empty
     */
    public static MaglevBalancer create(List<Endpoint> endpoints) {
        requireNonNull(endpoints, "endpoints");
        return create(endpoints, tableSizeFor(endpoints.size()));
    }

    /**
     * A balancer for {@code endpoints} with a table of {@code tableSize} slots; a smaller table saves memory and
     * moves more clients when the endpoints change.
     *
     * @param endpoints the endpoints of the backend this balancer will serve, in the backend's order, without
     *                  duplicates; may be empty
     * @param tableSize a prime, larger than the number of endpoints
     */
    public static MaglevBalancer create(List<Endpoint> endpoints, int tableSize) {
        requireNonNull(endpoints, "endpoints");
        if (tableSize < 2 || !BigInteger.valueOf(tableSize).isProbablePrime(30)) {
            throw new IllegalArgumentException("tableSize: " + tableSize + " (expected: a prime)");
        }
        if (tableSize <= endpoints.size()) {
            throw new IllegalArgumentException("tableSize: " + tableSize + " (expected: > " + endpoints.size()
                                               + ", the number of endpoints)");
        }
        InetSocketAddress[] addresses = SourceHashBalancer.addresses(endpoints);
        return new MaglevBalancer(populate(addresses, tableSize), addresses);
    }

    /** The table size {@link #create(List)} uses for {@code endpoints} endpoints. */
    public static int tableSizeFor(int endpoints) {
        if (endpoints < 0) {
            throw new IllegalArgumentException("endpoints: " + endpoints + " (expected: >= 0)");
        }
        long wanted = (long) endpoints * SLOTS_PER_ENDPOINT;
        if (wanted <= DEFAULT_TABLE_SIZE) {
            return DEFAULT_TABLE_SIZE;
        }
        for (int size : LARGER_TABLE_SIZES) {
            if (wanted <= size) {
                return size;
            }
        }
        return LARGER_TABLE_SIZES[LARGER_TABLE_SIZES.length - 1];
    }

    private static int[] populate(InetSocketAddress[] addresses, int m) {
        int n = addresses.length;
        int[] table = new int[m];
        if (n == 0) {
            return table; // never read: a backend with no endpoint is never asked to select
        }
        String[] keys = new String[n];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            keys[i] = Endpoint.hostPort(addresses[i]);
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparing((Integer i) -> keys[i]).thenComparing(i -> i));
        // Turn t belongs to endpoint order[t]; next[t] is the slot its permutation offers next. Slots and skips are
        // below M, so one subtraction does for the modulo.
        int[] next = new int[n];
        int[] skip = new int[n];
        for (int t = 0; t < n; t++) {
            byte[] key = keys[order[t]].getBytes(StandardCharsets.UTF_8);
            next[t] = (int) Long.remainderUnsigned(hash64(key, OFFSET_SEED), m);
            skip[t] = (int) Long.remainderUnsigned(hash64(key, SKIP_SEED), m - 1) + 1;
        }
        Arrays.fill(table, -1);
        for (int filled = 0; ; ) {
            for (int t = 0; t < n; t++) {
                int slot = next[t];
                while (table[slot] >= 0) {
                    slot = step(slot, skip[t], m);
                }
                table[slot] = order[t];
                next[t] = step(slot, skip[t], m);
                if (++filled == m) {
                    return table;
                }
            }
        }
    }

    private static int step(int slot, int skip, int m) {
        int s = slot + skip;
        return s >= m ? s - m : s;
    }

    /** FNV-1a over {@code bytes} from {@code seed}, then MurmurHash3's 64-bit finalizer. */
    private static long hash64(byte[] bytes, long seed) {
        long h = 0xcbf2_9ce4_8422_2325L ^ seed;
        for (byte b : bytes) {
            h ^= b & 0xff;
            h *= 0x0000_0100_0000_01b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51_afd7_ed55_8ccdL;
        h ^= h >>> 33;
        h *= 0xc4ce_b9fe_1a85_ec53L;
        h ^= h >>> 33;
        return h;
    }

    @Override
    public int select(Backend backend, SocketAddress client) {
        int n = backend.size();
        if (n == 1) {
            return 0;
        }
        if (!(client instanceof InetSocketAddress) || ((InetSocketAddress) client).getAddress() == null) {
            return ThreadLocalRandom.current().nextInt(n);
        }
        int hash = SourceHashBalancer.clientHash(((InetSocketAddress) client).getAddress());
        if (n != addresses.length) {
            return SourceHashBalancer.reduce(hash, n); // a backend this balancer was not built for
        }
        return table[SourceHashBalancer.reduce(hash, table.length)];
    }

    /** Whether this balancer was built for endpoints at exactly these addresses, in this order. */
    boolean isFor(List<Endpoint> endpoints) {
        return Arrays.equals(addresses, SourceHashBalancer.addresses(endpoints));
    }

    /** The number of endpoints this balancer was built for. */
    public int size() {
        return addresses.length;
    }

    /** The number of slots in the lookup table. */
    public int tableSize() {
        return table.length;
    }

    /** The endpoint index in table slot {@code slot}; for tests. */
    int slot(int slot) {
        return table[slot];
    }

    @Override
    public String name() {
        return "maglev";
    }

    @Override
    public String toString() {
        return name();
    }
}
