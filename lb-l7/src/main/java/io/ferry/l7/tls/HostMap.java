package io.ferry.l7.tls;

import java.util.Map;

/**
 * An immutable open-addressing hash table from lowercase host names to values, probed with a region of a
 * {@link CharSequence} compared ASCII-case-insensitively, so that {@code Foo.COM} in {@code "Foo.COM:8443"} finds
 * {@code foo.com} without a substring or a lowercase copy. Also the host-name helpers of this package.
 *
 * <p>Keys are folded in ASCII only: DNS names are ASCII, and internationalized names arrive as punycode. Keys come
 * from configuration, never from clients; a client only chooses what to probe.
 *
 * <p>(The same structure as {@code io.ferry.l7.route.HostIndex}, which is private to the route package.)
 *
 * <p>Built once; read by every event loop without locks.
 *
 * @param <V> the value stored per host
 */
final class HostMap<V> {

    private static final HostMap<Object> EMPTY = new HostMap<>(Map.of());

    private final int[] hashes;
    /** {@code [2 * slot]} the key's characters, {@code [2 * slot + 1]} its value. */
    private final Object[] table;
    private final int mask;
    private final int size;

    /** Indexes {@code entries}, whose keys must already be lowercase in ASCII. */
    HostMap(Map<String, V> entries) {
        int capacity = tableSize(entries.size());
        hashes = new int[capacity];
        table = new Object[2 * capacity];
        mask = capacity - 1;
        for (Map.Entry<String, V> e : entries.entrySet()) {
            String key = e.getKey();
            int hash = hash(key, 0, key.length());
            int slot = hash & mask;
            while (table[2 * slot] != null) {
                slot = (slot + 1) & mask;
            }
            hashes[slot] = hash;
            table[2 * slot] = key.toCharArray();
            table[2 * slot + 1] = e.getValue();
        }
        size = entries.size();
    }

    @SuppressWarnings("unchecked")
    static <V> HostMap<V> empty() {
        return (HostMap<V>) EMPTY;
    }

    /** The value of the host {@code s[start, end)} in any ASCII case, or {@code null}. Allocates nothing. */
    @SuppressWarnings("unchecked")
    V get(CharSequence s, int start, int end) {
        if (size == 0 || start >= end) {
            return null;
        }
        int hash = hash(s, start, end);
        for (int slot = hash & mask; ; slot = (slot + 1) & mask) {
            char[] key = (char[]) table[2 * slot];
            if (key == null) {
                return null;
            }
            if (hashes[slot] == hash && equalsIgnoreAsciiCase(key, s, start, end)) {
                return (V) table[2 * slot + 1];
            }
        }
    }

    /**
     * The value of {@code s[start, end)} itself, else of the wildcard that takes it from {@code wildcards} (keyed by
     * what follows {@code *.}): {@code *.foo.com} takes {@code bar.foo.com}, neither {@code a.bar.foo.com} nor
     * {@code foo.com}. {@code null} when neither has it.
     */
    static <V> V lookup(HostMap<V> exact, HostMap<V> wildcards, CharSequence s, int start, int end) {
        V v = exact.get(s, start, end);
        if (v != null) {
            return v;
        }
        int dot = indexOf(s, '.', start, end);
        return dot > start && dot < end - 1 ? wildcards.get(s, dot + 1, end) : null;
    }

    int size() {
        return size;
    }

    /**
     * The end of the host name in a Host header or {@code :authority} ({@code s[0, end)}): without a {@code :port}
     * and without one trailing dot. {@code -1} when there is no DNS name to look up: {@code null}, empty, or an IPv6
     * literal ({@code [::1]:8443}), which no certificate name or Ingress host can be.
     */
    static int hostEnd(CharSequence s) {
        if (s == null || s.length() == 0 || s.charAt(0) == '[') {
            return -1;
        }
        int end = indexOf(s, ':', 0, s.length());
        if (end < 0) {
            end = s.length();
        }
        return trimDot(s, end);
    }

    /** The end of an SNI host name ({@code s[0, end)}) without one trailing dot; {@code -1} when empty. */
    static int sniEnd(CharSequence s) {
        if (s == null || s.length() == 0) {
            return -1;
        }
        return trimDot(s, s.length());
    }

    private static int trimDot(CharSequence s, int end) {
        if (end > 0 && s.charAt(end - 1) == '.') {
            end--;
        }
        return end > 0 ? end : -1;
    }

    private static int indexOf(CharSequence s, char c, int start, int end) {
        for (int i = start; i < end; i++) {
            if (s.charAt(i) == c) {
                return i;
            }
        }
        return -1;
    }

    /** The ASCII-lowercase of {@code c}; other characters unchanged. */
    static char toLowerAscii(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
    }

    /** {@code s} with ASCII letters lowercased. */
    static String toLowerAscii(String s) {
        char[] chars = s.toCharArray();
        for (int i = 0; i < chars.length; i++) {
            chars[i] = toLowerAscii(chars[i]);
        }
        return new String(chars);
    }

    /** A power of two at least twice {@code entries}, so that probes stay short. */
    private static int tableSize(int entries) {
        int n = 2;
        while (n < 2 * entries) {
            n <<= 1;
        }
        return n;
    }

    private static int hash(CharSequence s, int start, int end) {
        int h = 0;
        for (int i = start; i < end; i++) {
            h = 31 * h + toLowerAscii(s.charAt(i));
        }
        return h ^ (h >>> 16);
    }

    private static boolean equalsIgnoreAsciiCase(char[] lowerKey, CharSequence s, int start, int end) {
        if (lowerKey.length != end - start) {
            return false;
        }
        for (int i = 0; i < lowerKey.length; i++) {
            if (lowerKey[i] != toLowerAscii(s.charAt(start + i))) {
                return false;
            }
        }
        return true;
    }
}
