package io.ferry.control.churn;

import static java.util.Objects.requireNonNull;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The churn-under-load engine, shared by {@code ChurnUnderLoadTest} (in-process Ferry, seconds) and the
 * benchmarks' {@code ChurnMain} (Ferry as a child process, minutes to hours).
 *
 * <p>It has two halves. {@link #prepare} starts the live backends and writes the starting manifests into the
 * directory the proxy watches; the caller then starts (or already runs) Ferry on that directory. {@link #run}
 * then drives keep-alive HTTP/1.1 clients over HTTP and HTTPS, a client that opens a new TLS connection per
 * request, and WebSockets that echo all along, while one thread edits the manifests every
 * {@code churnInterval} ({@link ChurnManifests}: endpoints, Service ports and labels, an Ingress, a TLS Secret).
 * Every request and every WebSocket message is counted; the {@link Probe} is sampled after the warm-up, every
 * {@code sampleEvery}, and at the end, while the load still runs.
 */
public final class ChurnRun implements AutoCloseable {

    /** What the run asks of the process under test. */
    public interface Probe {
        /** Heap in use after a full collection, in bytes. */
        long heapAfterFullGc() throws Exception;

        /** Resident set size in bytes, or -1 when unknown. */
        long rssBytes() throws Exception;

        /** The generation of the live snapshot. */
        long generation() throws Exception;
    }

    /** One reading of the {@link Probe}. */
    public record Sample(Duration elapsed, long heapBytes, long rssBytes, long generation, long requests,
                         long failedRequests, long webSocketMessages, long droppedWebSockets) {
        @Override
        public String toString() {
            return String.format("t=%4ds heap=%6.1f MiB rss=%6.1f MiB generation=%6d requests=%9d failed=%d "
                                 + "ws-messages=%8d ws-dropped=%d",
                                 elapsed.toSeconds(), heapBytes / 1048576.0, rssBytes / 1048576.0, generation,
                                 requests, failedRequests, webSocketMessages, droppedWebSockets);
        }
    }

    /** What a run saw. */
    public record Result(Duration duration, long requests, long failedRequests, long connections, long serverCloses,
                         long webSocketMessages, int webSockets, long droppedWebSockets, long edits,
                         Map<String, Long> editsByKind, int certificatesSeen, List<Sample> samples,
                         List<String> failureSamples) {

        public Sample warm() {
            return samples.get(0);
        }

        public Sample last() {
            return samples.get(samples.size() - 1);
        }

        public String summary() {
            return String.format("%ds: %d requests (%d failed) over %d connections (%d closed by the proxy); "
                                 + "%d WebSockets, %d messages, %d dropped; %d edits %s; %d certificates seen; "
                                 + "generation %d -> %d; heap after full GC %.1f -> %.1f MiB",
                                 duration.toSeconds(), requests, failedRequests, connections, serverCloses,
                                 webSockets, webSocketMessages, droppedWebSockets, edits, editsByKind,
                                 certificatesSeen, warm().generation(), last().generation(),
                                 warm().heapBytes() / 1048576.0, last().heapBytes() / 1048576.0);
        }
    }

    private final Options options;
    private final EventLoopGroup backendGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final List<ChurnBackend> backends = new ArrayList<>();
    private ChurnManifests manifests;

    private ChurnRun(Options options) {
        this.options = options;
    }

    /** Starts the backends and writes the starting manifests into {@code dir}. */
    public static ChurnRun prepare(Path dir, Options options) throws InterruptedException {
        ChurnRun run = new ChurnRun(requireNonNull(options, "options"));
        try {
            List<Integer> ports = new ArrayList<>();
            for (int i = 0; i < options.backends; i++) {
                ChurnBackend b = new ChurnBackend("b" + i, run.backendGroup);
                run.backends.add(b);
                ports.add(b.port());
            }
            run.manifests = new ChurnManifests(requireNonNull(dir, "dir"), ports);
            run.manifests.writeInitial();
        } catch (InterruptedException | RuntimeException e) {
            run.close();
            throw e;
        }
        return run;
    }

    /**
     * Runs the load and the churn against the proxy at {@code http} and {@code https} for the options' duration
     * and returns what it saw. The WebSockets open first (all of them, or the run fails fast).
     */
    public Result run(InetSocketAddress http, InetSocketAddress https, Probe probe, PrintStream log)
            throws Exception {
        ChurnCounters counters = new ChurnCounters();
        long start = System.nanoTime();
        long end = start + options.duration.toNanos();
        BooleanClock running = new BooleanClock(end);
        List<Thread> threads = new ArrayList<>();
        List<WebSocketLoadClient> sockets = new ArrayList<>();
        for (int i = 0; i < options.webSockets; i++) {
            boolean tls = i % 2 == 1;
            WebSocketLoadClient ws = new WebSocketLoadClient("ws" + i, tls ? https : http,
                                                             tls ? ChurnManifests.TLS_HOST : ChurnManifests.PLAIN_HOST,
                                                             tls, options.webSocketIntervalMillis, running, counters);
            sockets.add(ws);
            threads.add(start(ws, "churn-ws" + i));
        }
        long openBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (counters.openWebSockets.get() + counters.droppedWebSockets.intValue() < options.webSockets
               && System.nanoTime() < openBy) {
            TimeUnit.MILLISECONDS.sleep(10); // poll with a deadline
        }
        for (int i = 0; i < options.httpClients; i++) {
            boolean tls = i % 2 == 1;
            threads.add(start(new HttpLoadClient("c" + i, tls ? https : http,
                                                 tls ? ChurnManifests.TLS_HOST : ChurnManifests.PLAIN_HOST, tls,
                                                 false, options.requestsPerSecond, running, counters),
                              "churn-http" + i));
        }
        threads.add(start(new HttpLoadClient("handshakes", https, ChurnManifests.TLS_HOST, true, true,
                                             options.handshakesPerSecond, running, counters), "churn-handshakes"));
        Map<String, Long> editsByKind = new TreeMap<>();
        long[] edits = new long[1];
        Thread churner = start(() -> {
            long next = System.nanoTime();
            while (running.getAsBoolean()) {
                editsByKind.merge(manifests.editOnce().name().toLowerCase(Locale.ROOT), 1L, Long::sum);
                edits[0]++;
                next += options.churnInterval.toNanos();
                long wait = next - System.nanoTime();
                try {
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait); // pacing
                    }
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "churn-edits");

        List<Sample> samples = new ArrayList<>();
        long warmAt = start + options.warmUp.toNanos();
        sleepUntil(warmAt);
        samples.add(sample(probe, start, counters));
        log.println("churn warm: " + samples.get(0));
        long sampleEvery = options.sampleEvery.toNanos();
        for (long at = warmAt + sampleEvery; at < end - options.warmUp.toNanos() / 2; at += sampleEvery) {
            sleepUntil(at);
            Sample s = sample(probe, start, counters);
            samples.add(s);
            log.println("churn: " + s);
        }
        sleepUntil(end - TimeUnit.SECONDS.toNanos(1));
        samples.add(sample(probe, start, counters)); // the last sample, while the load still runs
        log.println("churn end: " + samples.get(samples.size() - 1));
        churner.join();
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
        }
        Result r = new Result(Duration.ofNanos(System.nanoTime() - start), counters.requests.sum(),
                              counters.failedRequests.sum(), counters.connections.sum(), counters.serverCloses.sum(),
                              counters.webSocketMessages.sum(), options.webSockets,
                              counters.droppedWebSockets.sum(), edits[0],
                              Collections.unmodifiableMap(new TreeMap<>(editsByKind)),
                              counters.certificateSerials.size(), List.copyOf(samples), counters.failureSamples());
        log.println("churn result: " + r.summary());
        r.failureSamples().forEach(f -> log.println("  failure: " + f));
        return r;
    }

    private static Sample sample(Probe probe, long start, ChurnCounters c) throws Exception {
        return new Sample(Duration.ofNanos(System.nanoTime() - start), probe.heapAfterFullGc(), probe.rssBytes(),
                          probe.generation(), c.requests.sum(), c.failedRequests.sum(), c.webSocketMessages.sum(),
                          c.droppedWebSockets.sum());
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long wait = nanoTime - System.nanoTime();
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait); // the run's schedule, not a wait for a condition
        }
    }

    private static Thread start(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    @Override
    public void close() {
        backends.forEach(ChurnBackend::close);
        backendGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** True until a deadline on {@link System#nanoTime()}. */
    private record BooleanClock(long end) implements java.util.function.BooleanSupplier {
        @Override
        public boolean getAsBoolean() {
            return System.nanoTime() - end < 0;
        }
    }

    /** How hard and how long to churn. */
    public static final class Options {
        Duration duration = Duration.ofSeconds(15);
        Duration warmUp = Duration.ofSeconds(3);
        Duration sampleEvery = Duration.ofSeconds(60);
        Duration churnInterval = Duration.ofMillis(20);
        int backends = 4;
        int httpClients = 4;
        double requestsPerSecond = 200;
        double handshakesPerSecond = 10;
        int webSockets = 8;
        long webSocketIntervalMillis = 20;

        public Options duration(Duration d) { duration = requireNonNull(d, "duration"); return this; }
        public Options warmUp(Duration d) { warmUp = requireNonNull(d, "warmUp"); return this; }
        public Options sampleEvery(Duration d) { sampleEvery = requireNonNull(d, "sampleEvery"); return this; }
        public Options churnInterval(Duration d) { churnInterval = requireNonNull(d, "churnInterval"); return this; }
        public Options backends(int n) { backends = n; return this; }
        public Options httpClients(int n) { httpClients = n; return this; }
        public Options requestsPerSecond(double r) { requestsPerSecond = r; return this; }
        public Options handshakesPerSecond(double r) { handshakesPerSecond = r; return this; }
        public Options webSockets(int n) { webSockets = n; return this; }
        public Options webSocketIntervalMillis(long ms) { webSocketIntervalMillis = ms; return this; }

        @Override
        public String toString() {
            return "duration=" + duration + " warmUp=" + warmUp + " churnInterval=" + churnInterval + " backends="
                   + backends + " httpClients=" + httpClients + "x" + requestsPerSecond + "/s handshakes="
                   + handshakesPerSecond + "/s webSockets=" + webSockets + " every " + webSocketIntervalMillis + "ms";
        }
    }
}
