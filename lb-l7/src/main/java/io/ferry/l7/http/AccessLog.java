package io.ferry.l7.http;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * The access log: one line per request, written by a thread of its own so that no event loop ever waits for the
 * terminal or a file. Event loops hand lines over through a lock-free queue; when more than {@code capacity} lines
 * are waiting, new ones are dropped and counted rather than slowing traffic down.
 */
final class AccessLog implements AutoCloseable {

    private final Queue<String> lines = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size = new AtomicInteger();
    private final LongAdder dropped = new LongAdder();
    private final int capacity;
    private final Writer out;
    private final Thread writer;
    private volatile boolean closed;

    AccessLog(int capacity) {
        this.capacity = capacity;
        this.out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 64 * 1024);
        this.writer = new Thread(this::run, "ferry-access-log");
        writer.setDaemon(true);
        writer.start();
    }

    /** Queues one line (without the line break). Never blocks. */
    void log(String line) {
        if (size.incrementAndGet() > capacity) {
            size.decrementAndGet();
            dropped.increment();
            return;
        }
        lines.add(line);
    }

    /** Lines dropped because the writer fell behind. */
    long dropped() {
        return dropped.sum();
    }

    private void run() {
        while (true) {
            String line = lines.poll();
            if (line == null) {
                try {
                    out.flush();
                } catch (IOException ignored) {
                    // stdout is gone; keep draining so that memory stays bounded
                }
                if (closed) {
                    return;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                continue;
            }
            size.decrementAndGet();
            try {
                out.write(line);
                out.write('\n');
            } catch (IOException ignored) {
                // as above
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(writer);
        try {
            writer.join(TimeUnit.SECONDS.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
