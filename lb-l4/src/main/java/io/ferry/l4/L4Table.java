package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The immutable layer-4 routing table: for each listener ({@code address:port/protocol}), the {@link Backend} its
 * connections go to.
 *
 * <p>Built off the hot path by the compiler and published by {@link ServiceProxy#apply(L4Table)} with one volatile
 * write. {@link #lookup(ListenerKey)} goes through a {@link ListenerIndex}: for an IPv4 listener, a probe of an
 * open-addressing {@code long[]} with the key's packed form, computed once per key; no allocation, no key object
 * followed, and so about two cache misses when the table no longer fits in the cache.
 */
public final class L4Table {

    /** The table with no listeners. */
    public static final L4Table EMPTY = new L4Table(Map.of());

    private final Map<ListenerKey, Backend> entries;
    private final ListenerIndex index;

    private L4Table(Map<ListenerKey, Backend> entries) {
        this.entries = entries;
        this.index = entries.isEmpty() ? ListenerIndex.EMPTY : ListenerIndex.of(entries);
    }

    /** Returns a new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The backend for connections accepted on {@code key}, or {@code null} if there is none. */
    public Backend lookup(ListenerKey key) {
        return index.lookup(key);
    }

    /** Every listener of the table. */
    public Set<ListenerKey> listeners() {
        return entries.keySet();
    }

    /** Every entry, read-only. */
    public Map<ListenerKey, Backend> entries() {
        return entries;
    }

    public int size() {
        return entries.size();
    }

    @Override
    public String toString() {
        return "L4Table(" + entries.size() + " listeners)";
    }

    /** Builds an {@link L4Table}; not thread-safe. */
    public static final class Builder {

        private final Map<ListenerKey, Backend> entries = new HashMap<>();

        private Builder() {
        }

        /**
         * Adds a listener.
         *
         * @throws IllegalArgumentException if {@code key} is already taken
         */
        public Builder add(ListenerKey key, Backend backend) {
            requireNonNull(key, "key");
            requireNonNull(backend, "backend");
            Backend previous = entries.putIfAbsent(key, backend);
            if (previous != null) {
                throw new IllegalArgumentException("listener: " + key + " (already taken by " + previous.name() + ')');
            }
            return this;
        }

        /** Whether {@code key} is taken. */
        public boolean contains(ListenerKey key) {
            return entries.containsKey(key);
        }

        /** The backend already at {@code key}, or {@code null}. */
        public Backend get(ListenerKey key) {
            return entries.get(key);
        }

        public L4Table build() {
            return entries.isEmpty() ? EMPTY : new L4Table(Map.copyOf(entries));
        }
    }
}
