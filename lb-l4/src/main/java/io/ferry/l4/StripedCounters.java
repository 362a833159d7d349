package io.ferry.l4;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * A fixed number of {@code long} counters ("slots") that every event loop adds to without locks, read at scrape
 * time: the storage behind {@link LatencyHistogram}, {@link BackendStats} and the per-route counters of the HTTP
 * proxy.
 *
 * <p>It does what one {@link LongAdder} per slot would, at a fraction of the memory when, as in a table of
 * thousands of Services and Ingress routes, most objects are never used: an object that was never added to holds
 * no storage at all (24 bytes in all, against 32 bytes per {@code LongAdder}), and the first {@link #add} allocates
 * one {@code long[]} of every slot. Like {@code LongAdder}, it spreads contended writers over more cells: when an
 * atomic update of a cell fails because another thread got there first, the cells double (up to the number of
 * CPUs, rounded up to a power of two) and each thread then adds to the cell its id hashes to. The old cells stay
 * in the grown array, so a thread still adding to one loses nothing; a cell is never copied or dropped. Where
 * {@code LongAdder} gives a thread that collides with another a new hash of its own, this (having no per-thread
 * state) draws a new hash seed for the object once the cells can grow no more, until its writers land apart.
 *
 * <p>So {@link #add} is lock-free, never loses an update, and allocates only on the object's first add and the
 * few times contention first grows its cells (at most log2 of the CPU count). {@link #sum} adds up the cells: a
 * read during a burst of writes may miss the ones in flight, as {@link LongAdder#sum()} may.
 */
public final class StripedCounters {

    private static final VarHandle CELLS;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    /** The most cells an object gets: enough for every CPU to have one when their threads' ids hash apart. */
    private static final int MAX_CELLS = cellsFor(Runtime.getRuntime().availableProcessors());

    /**
     * {@code long}s of padding after the slots of a cell made for a contended object, so that two cells allocated
     * one after the other do not share a cache line (the first cell, the only one of an uncontended object, has
     * none).
     */
    private static final int PAD = 8;

    static {
        try {
            CELLS = MethodHandles.lookup().findVarHandle(StripedCounters.class, "cells", long[][].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int slots;
    /**
     * Odd multiplier of the thread hash. Written without synchronisation: a racing reader sees the old seed or the
     * new one, and both are valid.
     */
    private int seed = 0x9E3779B9;
    /** Null until the first add; then a power-of-two number of cells of {@code slots} longs (or more) each. */
    private volatile long[][] cells;

    /**
     * Counters of {@code slots} slots, numbered from 0, each starting at 0.
     *
     * @throws IllegalArgumentException if {@code slots} is not positive
     */
    public StripedCounters(int slots) {
        if (slots <= 0) {
            throw new IllegalArgumentException("slots: " + slots + " (expected: > 0)");
        }
        this.slots = slots;
    }

    /** The number of slots. */
    public int slots() {
        return slots;
    }

    /** Adds {@code delta} (which may be negative) to the counter of {@code slot}. */
    public void add(int slot, long delta) {
        Objects.checkIndex(slot, slots);
        long[][] cs = cells;
        if (cs == null) {
            cs = firstCells();
        }
        long[] cell = cs.length == 1 ? cs[0] : cs[index(cs.length)];
        long v = (long) LONGS.getVolatile(cell, slot);
        if (!LONGS.compareAndSet(cell, slot, v, v + delta)) {
            contended(cs, slot, delta);
        }
    }

    /** Adds one to the counter of {@code slot}. */
    public void increment(int slot) {
        add(slot, 1);
    }

    /** The counter of {@code slot}: the sum of every add to it. */
    public long sum(int slot) {
        Objects.checkIndex(slot, slots);
        long[][] cs = cells;
        if (cs == null) {
            return 0;
        }
        long sum = 0;
        for (long[] cell : cs) {
            sum += (long) LONGS.getVolatile(cell, slot);
        }
        return sum;
    }

    private long[][] firstCells() {
        long[][] mine = { new long[slots] };
        long[][] witness = (long[][]) CELLS.compareAndExchange(this, null, mine);
        return witness == null ? mine : witness;
    }

    /**
     * The slow path after a failed update of a cell: doubles the cells (if they may still grow and nobody did so
     * meanwhile), then adds unconditionally to this thread's cell of whatever cells are current.
     */
    private void contended(long[][] seen, int slot, long delta) {
        long[][] cs = seen;
        if (cs.length < MAX_CELLS) {
            long[][] grown = new long[cs.length << 1][];
            System.arraycopy(cs, 0, grown, 0, cs.length);
            for (int i = cs.length; i < grown.length; i++) {
                grown[i] = new long[slots + PAD];
            }
            long[][] witness = (long[][]) CELLS.compareAndExchange(this, cs, grown);
            cs = witness == cs ? grown : witness;
        } else {
            int x = seed; // xorshift: a new seed, odd so that the hash stays a bijection of the thread id
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            seed = x | 1;
        }
        LONGS.getAndAdd(cs[index(cs.length)], slot, delta);
    }

    /** The number of CPUs rounded up to a power of two. */
    private static int cellsFor(int cpus) {
        return cpus <= 1 ? 1 : Integer.highestOneBit(cpus - 1) << 1;
    }

    /** This thread's cell of {@code length} (a power of two): the high bits of its id times the seed. */
    @SuppressWarnings("deprecation") // Thread.threadId() is Java 19+
    private int index(int length) {
        return ((int) Thread.currentThread().getId() * seed >>> 16) & (length - 1);
    }
}
