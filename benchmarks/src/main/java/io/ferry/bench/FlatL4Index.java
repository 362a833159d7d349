package io.ferry.bench;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.Backend;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Map;

/**
 * A prototype of a flatter L4 table, for {@link L4LookupLayoutBenchmark}. Ferry's {@link io.ferry.l4.L4Table} now
 * looks up through the same layout ({@code io.ferry.l4.ListenerIndex}, with the packed key a field of
 * {@link ListenerKey}); this copy stays so that the benchmark can compare layouts side by side.
 *
 * <p>An IPv4 listener {@code address:port/protocol} packs into one {@code long} ({@link #pack}): 32 bits of
 * address, 16 of port, 8 of protocol (its ordinal + 1, so that no key is {@code 0}, the empty slot). The table is
 * open addressing with linear probing over a {@code long[]} of packed keys and a parallel array of backends, at
 * most half full, indexed by Fibonacci hashing (the key times 2<sup>64</sup>/φ, top bits), which spreads the
 * clustered addresses of a Service CIDR over the whole array. A hit reads one slot of {@code keys} (one cache
 * line, usually) and one of {@code backends}; a miss reads the {@code keys} slot and, rarely, its neighbours. No
 * key object is followed: compare this with {@link io.ferry.l4.L4Table}, whose {@code Map.copyOf} slots hold
 * {@link ListenerKey}s whose {@code equals} walks {@code InetSocketAddress} → its holder → {@code Inet4Address}
 * → its holder on both sides.
 *
 * <p>A listener would keep its packed key (for instance in a {@code long} field of {@link ListenerKey}) and look
 * up with it; IPv6 and other keys that do not pack go to an ordinary map on the side.
 */
final class FlatL4Index {

    /** The empty slot, and the packed form of a key that does not pack (IPv6). */
    static final long NONE = 0L;
    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;

    private final long[] keys;
    private final Backend[] backends;
    private final int mask;
    private final int shift;
    private final int size;
    private final Map<ListenerKey, Backend> unpacked;

    private FlatL4Index(long[] keys, Backend[] backends, int size, Map<ListenerKey, Backend> unpacked) {
        this.keys = keys;
        this.backends = backends;
        this.mask = keys.length - 1;
        this.shift = 64 - Integer.numberOfTrailingZeros(keys.length);
        this.size = size;
        this.unpacked = unpacked;
    }

    /** Indexes {@code entries} (for instance an {@code L4Table}'s). */
    static FlatL4Index of(Map<ListenerKey, Backend> entries) {
        int capacity = Math.max(2, Integer.highestOneBit(Math.max(1, entries.size()) * 2 - 1) << 1);
        long[] keys = new long[capacity];
        Backend[] backends = new Backend[capacity];
        Map<ListenerKey, Backend> unpacked = new java.util.HashMap<>();
        int size = 0;
        for (Map.Entry<ListenerKey, Backend> e : entries.entrySet()) {
            long k = pack(e.getKey());
            if (k == NONE) {
                unpacked.put(e.getKey(), e.getValue());
                continue;
            }
            int i = (int) ((k * GOLDEN) >>> (64 - Integer.numberOfTrailingZeros(capacity)));
            while (keys[i] != NONE) {
                if (keys[i] == k) {
                    throw new IllegalArgumentException("duplicate: " + e.getKey());
                }
                i = (i + 1) & (capacity - 1);
            }
            keys[i] = k;
            backends[i] = requireNonNull(e.getValue(), "backend");
            size++;
        }
        return new FlatL4Index(keys, backends, size, Map.copyOf(unpacked));
    }

    /** {@code address:port/protocol} as one {@code long}, or {@link #NONE} for a non-IPv4 address. */
    static long pack(ListenerKey key) {
        InetAddress a = key.address().getAddress();
        if (!(a instanceof Inet4Address)) {
            return NONE;
        }
        byte[] b = a.getAddress();
        int ipv4 = (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | b[3] & 0xff;
        return pack(ipv4, key.port(), key.protocol());
    }

    static long pack(int ipv4, int port, Protocol protocol) {
        return (ipv4 & 0xFFFF_FFFFL) << 24 | (long) (port & 0xFFFF) << 8 | (protocol.ordinal() + 1);
    }

    /** The backend of a packed IPv4 key, or {@code null}. No allocation, no key object read. */
    Backend lookup(long packed) {
        long[] k = keys;
        int i = (int) ((packed * GOLDEN) >>> shift);
        for (;;) {
            long e = k[i];
            if (e == packed) {
                return backends[i];
            }
            if (e == NONE) {
                return null;
            }
            i = (i + 1) & mask;
        }
    }

    /** The lookup a listener would make with its key: the packed form when it has one, else the side map. */
    Backend lookup(Key key) {
        long p = key.packed;
        return p != NONE ? lookup(p) : unpacked.get(key.key);
    }

    int size() {
        return size + unpacked.size();
    }

    /**
     * A listener's key with its packed form computed once, as a {@code long packed} field of {@link ListenerKey}
     * would carry it.
     */
    static final class Key {
        final long packed;
        final ListenerKey key;

        Key(ListenerKey key) {
            this.key = key;
            this.packed = pack(key);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key && ((Key) o).packed == packed && (packed != NONE || ((Key) o).key.equals(key));
        }

        @Override
        public int hashCode() {
            return Long.hashCode(packed * GOLDEN);
        }
    }
}
