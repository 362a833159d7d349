package io.ferry.l7.route;

import java.util.Map;
import java.util.function.BiConsumer;

/**
 * An immutable open-addressing hash table from lowercase host names to values, probed with a region of a
 * {@link CharSequence} compared ASCII-case-insensitively: {@code Foo.COM} in {@code "Foo.COM:8080"} finds
 * {@code foo.com} without a substring or a lowercase copy.
 *
 * <p>Keys are folded in ASCII only. That is all a Host header needs: DNS names are ASCII, and internationalized
 * names arrive as punycode ({@code xn--...}). Keys come from Ingress objects, never from clients; a client only
 * chooses what to probe.
 *
 * <p>Laid out for few cache misses: the hashes in one {@code int[]}, and each key (a {@code char[]}) next to its
 * value in one {@code Object[]}, so a probe reads the two arrays in parallel and then the key's characters.
 *
 * <p>Built once, by the TLS table (the route table has its own {@link HostTable}, whose entries sit beside their
 * path keys); read by every event loop without locks.
 *
 * @param <V> the value stored per host
 */
public final class HostIndex<V> {

    private final int[] hashes;
    /** {@code [2 * slot]} the key's characters, {@code [2 * slot + 1]} its value. */
    private final Object[] table;
    private final int mask;
    private final int size;

    /** Indexes {@code entries}, whose keys must already be lowercase in ASCII. */
    public HostIndex(Map<String, V> entries) {
        int capacity = PathMatcher.tableSize(entries.size());
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

    /** The value of the host {@code s[start, end)} in any ASCII case, or {@code null}. Allocates nothing. */
    @SuppressWarnings("unchecked")
    public V get(CharSequence s, int start, int end) {
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

    public int size() {
        return size;
    }

    /** Calls {@code action} for every entry, in no particular order. */
    @SuppressWarnings("unchecked")
    public void forEach(BiConsumer<String, V> action) {
        for (int slot = 0; slot <= mask; slot++) {
            if (table[2 * slot] != null) {
                action.accept(new String((char[]) table[2 * slot]), (V) table[2 * slot + 1]);
            }
        }
    }

    /** The ASCII-lowercase of {@code c}; other characters unchanged. */
    public static char toLowerAscii(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
    }

    /** {@code s} with ASCII letters lowercased; {@code s} itself when it has none. */
    public static String toLowerAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                char[] chars = s.toCharArray();
                for (int j = i; j < chars.length; j++) {
                    chars[j] = toLowerAscii(chars[j]);
                }
                return new String(chars);
            }
        }
        return s;
    }

    private static int hash(CharSequence s, int start, int end) {
        int h = 0;
        for (int i = start; i < end; i++) {
            h = 31 * h + toLowerAscii(s.charAt(i));
        }
        return PathMatcher.spread(h);
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
