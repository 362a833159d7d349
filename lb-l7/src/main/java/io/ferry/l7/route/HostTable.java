package io.ferry.l7.route;

import java.util.function.IntConsumer;

/**
 * An immutable open-addressing hash table from host names to the entries of a {@link PathMatcher}, probed with a
 * region of a {@link CharSequence} compared ASCII-case-insensitively, as {@link HostIndex} is. Unlike
 * {@link HostIndex} it holds no objects: one {@code int[]} of (hash, entry) pairs, eight to a cache line; the names
 * themselves are in the entries' records, beside the keys a lookup reads next.
 *
 * <p>Built by {@link HttpRouteTable.Builder#build()}, twice per table: for exact hosts, and for wildcards keyed by
 * what follows {@code *.}. Read by every event loop without locks.
 */
final class HostTable {

    /** {@code [2 * slot]} the spread hash of the name, {@code [2 * slot + 1]} its entry, {@code 0} when empty. */
    private final int[] slots;
    private final int mask;
    private final int size;
    /** The characters of each stored name this table ignores: 2 for {@code *.}, else 0. */
    private final int skip;
    /** Holds the entries, and so the names. */
    private final PathMatcher<?> names;

    /**
     * Indexes {@code entries} of {@code names} by their host names without the first {@code skip} characters.
     *
     * @param skip {@code 2} for a table of wildcards ({@code *.foo.com} is found as {@code foo.com}), else {@code 0}
     */
    HostTable(PathMatcher<?> names, int[] entries, int skip) {
        int capacity = PathMatcher.tableSize(entries.length);
        slots = new int[2 * capacity];
        mask = capacity - 1;
        size = entries.length;
        this.skip = skip;
        this.names = names;
        for (int entry : entries) {
            int hash = PathMatcher.spread(names.nameHash(entry, skip));
            int slot = hash & mask;
            while (slots[2 * slot + 1] != 0) {
                slot = (slot + 1) & mask;
            }
            slots[2 * slot] = hash;
            slots[2 * slot + 1] = entry;
        }
    }

    /**
     * The entry of the host {@code s[start, end)} in any ASCII case, or {@code 0}. Allocates nothing.
     *
     * @param polynomialHash {@link #hash} of {@code s[start, end)}, which the caller may have computed in passing
     */
    int get(CharSequence s, int start, int end, int polynomialHash) {
        int hash = PathMatcher.spread(polynomialHash);
        for (int slot = hash & mask; ; slot = (slot + 1) & mask) {
            int entry = slots[2 * slot + 1];
            if (entry == 0) {
                return 0;
            }
            if (slots[2 * slot] == hash && names.nameEquals(entry, skip, s, start, end)) {
                return entry;
            }
        }
    }

    int size() {
        return size;
    }

    /** Calls {@code action} with every entry, in no particular order. */
    void forEach(IntConsumer action) {
        for (int slot = 0; slot <= mask; slot++) {
            if (slots[2 * slot + 1] != 0) {
                action.accept(slots[2 * slot + 1]);
            }
        }
    }

    /** The 31-polynomial hash of {@code s[start, end)} lowercased in ASCII, before spreading. */
    static int hash(CharSequence s, int start, int end) {
        int h = 0;
        for (int i = start; i < end; i++) {
            h = 31 * h + HostIndex.toLowerAscii(s.charAt(i));
        }
        return h;
    }
}
