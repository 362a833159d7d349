package io.ferry.l7.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Samples the direct memory Netty's default allocator holds (what the proxy's channels buffer) every millisecond on
 * a thread of its own, and keeps the peak.
 */
final class DirectMemoryWatch implements AutoCloseable {

    private final long baseline = used();
    private final AtomicLong peak = new AtomicLong(baseline);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread sampler = new Thread(this::sample, "direct-memory-watch");

    DirectMemoryWatch() {
        sampler.setDaemon(true);
        sampler.start();
    }

    static long used() {
        return ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric().usedDirectMemory();
    }

    private void sample() {
        while (running.get()) {
            peak.accumulateAndGet(used(), Math::max);
            LockSupport.parkNanos(1_000_000);
        }
    }

    long baseline() {
        return baseline;
    }

    long peak() {
        return Math.max(peak.get(), used());
    }

    /** The highest use seen above the use at the start. */
    long growth() {
        return peak() - baseline;
    }

    @Override
    public void close() {
        running.set(false);
        try {
            sampler.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
