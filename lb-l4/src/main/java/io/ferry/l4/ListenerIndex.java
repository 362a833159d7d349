package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.util.HashMap;
import java.util.Map;

/**
 * The lookup structure behind {@link L4Table}: IPv4 listeners by their packed key ({@link ListenerKey#packed()}) in
 * an open-addressing table of {@code long}s, the rest (IPv6) in an ordinary map.
 *
 * <p>The packed table is linear probing over a {@code long[]} of keys and a parallel array of backends, at most half
 * full, indexed by Fibonacci hashing (the key times 2<sup>64</sup>/φ, top bits), which spreads the clustered
 * addresses of a Service CIDR over the whole array. A hit reads one slot of the keys (one cache line, usually) and
 * one of the backends; a miss reads the keys slot and, rarely, its neighbours. No key object is followed, so a
 * lookup in a table too big for the cache costs about two cache misses rather than the six or so of a map of
 * {@link ListenerKey}s (whose {@code equals} walks {@code InetSocketAddress} → holder → {@code Inet4Address} →
 * holder on both sides).
 *
 * <p>Immutable once built, and published with the {@link L4Table} that holds it: safe to read from every event
 * loop without locks.
 */
final class ListenerIndex {

    static final ListenerIndex EMPTY = new ListenerIndex(new long[2], new Backend[2], Map.of());

    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;

    private final long[] keys;
    private final Backend[] backends;
    private final int mask;
    private final int shift;
    private final Map<ListenerKey, Backend> unpacked;

    private ListenerIndex(long[] keys, Backend[] backends, Map<ListenerKey, Backend> unpacked) {
        this.keys = keys;
        this.backends = backends;
        this.mask = keys.length - 1;
        this.shift = 64 - Integer.numberOfTrailingZeros(keys.length);
        this.unpacked = unpacked;
    }

    /** Indexes {@code entries}, whose keys are distinct. */
    static ListenerIndex of(Map<ListenerKey, Backend> entries) {
        int packedCount = 0;
        for (ListenerKey k : entries.keySet()) {
            if (k.packed() != ListenerKey.UNPACKED) {
                packedCount++;
            }
        }
        // A power of two at least twice the packed keys: at most half full, so probe runs stay short.
        int capacity = Math.max(2, Integer.highestOneBit(Math.max(1, packedCount)) << 2);
        long[] keys = new long[capacity];
        Backend[] backends = new Backend[capacity];
        int shift = 64 - Integer.numberOfTrailingZeros(capacity);
        Map<ListenerKey, Backend> unpacked = new HashMap<>();
        for (Map.Entry<ListenerKey, Backend> e : entries.entrySet()) {
            long k = e.getKey().packed();
            Backend b = requireNonNull(e.getValue(), "backend");
            if (k == ListenerKey.UNPACKED) {
                unpacked.put(e.getKey(), b);
                continue;
            }
            int i = slot(k, shift);
            while (keys[i] != ListenerKey.UNPACKED) {
                if (keys[i] == k) {
                    throw new IllegalArgumentException("listener: " + e.getKey() + " (expected: distinct keys)");
                }
                i = (i + 1) & (capacity - 1);
            }
            keys[i] = k;
            backends[i] = b;
        }
        return new ListenerIndex(keys, backends, unpacked.isEmpty() ? Map.of() : Map.copyOf(unpacked));
    }

    private static int slot(long packed, int shift) {
        return (int) ((packed * GOLDEN) >>> shift);
    }

    /** The backend of {@code key}, or {@code null}. No allocation; for an IPv4 key, no key object is read. */
    Backend lookup(ListenerKey key) {
        long p = key.packed();
        return p != ListenerKey.UNPACKED ? lookup(p) : unpacked.get(key);
    }

    /** The backend of a packed IPv4 key, or {@code null}. */
    Backend lookup(long packed) {
        long[] k = keys;
        int i = slot(packed, shift);
        for (;;) {
            long e = k[i];
            if (e == packed) {
                return backends[i];
            }
            if (e == ListenerKey.UNPACKED) {
                return null;
            }
            i = (i + 1) & mask;
        }
    }
}
