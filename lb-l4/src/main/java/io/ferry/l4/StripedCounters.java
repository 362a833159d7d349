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
 * one {@code long[]} of every slot, the base cell. Like {@code LongAdder}, it spreads contended writers over more
 * cells: when an atomic update fails because another thread got there first, two cells padded against false
 * sharing are added (then four, up to the number of CPUs rounded up to a power of two), and from then on each
 * thread adds to the padded cell its id hashes to. The base cell stays in the array (a thread that read the array
 * before it grew may still add to it), so no add is lost; a cell is never copied or dropped. Where
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

    /**
     * The most padded cells an object gets: enough for every CPU to have one when their threads' ids hash apart
     * (and two at least, so that a preempted writer on one CPU does not make the cells grow for nothing).
     */
    private static final int MAX_CELLS = Math.max(2, cellsFor(Runtime.getRuntime().availableProcessors()));

    /**
     * {@code long}s (a cache line) of padding before and after the slots of a padded cell, so that neither its slots
     * nor its header (its length, read on every add) share a cache line with another cell's slots.
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
    /**
     * Null until the first add; then the base cell ({@code slots} longs) alone, or followed by a power of two of
     * padded cells ({@code PAD + slots + PAD} longs, slot {@code i} at {@code PAD + i}).
     */
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
        long[] cell;
        int i;
        if (cs.length == 1) {
            cell = cs[0];
            i = slot;
        } else {
            cell = cs[1 + index(cs.length - 1)];
            i = PAD + slot;
        }
        long v = (long) LONGS.getVolatile(cell, i);
        if (!LONGS.compareAndSet(cell, i, v, v + delta)) {
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
        long sum = (long) LONGS.getVolatile(cs[0], slot);
        for (int c = 1; c < cs.length; c++) {
            sum += (long) LONGS.getVolatile(cs[c], PAD + slot);
        }
        return sum;
    }

    private long[][] firstCells() {
        long[][] mine = { new long[slots] };
        long[][] witness = (long[][]) CELLS.compareAndExchange(this, null, mine);
        return witness == null ? mine : witness;
    }

    /**
     * The slow path after a failed update of a cell: adds padded cells or doubles them (if they may still grow and
     * nobody did so meanwhile), else draws a new seed; then adds unconditionally to this thread's padded cell of
     * whatever cells are current.
     */
    private void contended(long[][] seen, int slot, long delta) {
        long[][] cs = seen;
        int padded = cs.length - 1;
        if (padded < MAX_CELLS) {
            long[][] grown = new long[1 + Math.max(2, padded << 1)][];
            System.arraycopy(cs, 0, grown, 0, cs.length);
            for (int c = cs.length; c < grown.length; c++) {
                grown[c] = new long[PAD + slots + PAD];
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
        LONGS.getAndAdd(cs[1 + index(cs.length - 1)], PAD + slot, delta);
    }

    /** The number of CPUs rounded up to a power of two. */
    private static int cellsFor(int cpus) {
        return cpus <= 1 ? 1 : Integer.highestOneBit(cpus - 1) << 1;
    }

    /** This thread's padded cell of {@code length} (a power of two): the high bits of its id times the seed. */
    @SuppressWarnings("deprecation") // Thread.threadId() is Java 19+
    private int index(int length) {
        return ((int) Thread.currentThread().getId() * seed >>> 16) & (length - 1);
    }
}
