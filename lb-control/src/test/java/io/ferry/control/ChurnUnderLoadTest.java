package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.control.churn.ChurnRun;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8's churn test, short form (the benchmarks' {@code ChurnMain} runs the same engine for minutes or hours):
 * keep-alive HTTP/1.1 over HTTP and HTTPS, a new TLS connection ten times a second, and WebSockets echoing all
 * along, through one in-process Ferry whose manifests change every 20 ms (endpoints, Service ports and labels,
 * another Ingress, the TLS Secret). Not one request may fail, not one WebSocket may drop (a WebSocket keeps its
 * backend connection when its endpoint leaves the table, as with ingress-nginx), no edit may be reported as a
 * configuration problem (each file is written whole, by rename); the snapshot
 * generation must advance all along; the heap after a full GC at the end must be about what it was after the
 * warm-up; and Netty's leak detector (PARANOID) must find nothing.
 */
class ChurnUnderLoadTest {

    /**
     * How much the heap after a full GC may grow from the warm-up to the end: the test JVM holds the clients,
     * backends and JUnit too, and the access log and histograms fill their fixed buffers. A leak of one object
     * per request or per edit would show as tens of MiB here (tens of thousands of requests, ~750 edits).
     */
    private static final long HEAP_TOLERANCE = 16L << 20;

    @TempDir
    Path dir;

    @Test
    void noRequestFailsAndNoWebSocketDropsWhileEverythingChanges() throws Exception {
        ChurnRun.Options options = new ChurnRun.Options().duration(Duration.ofSeconds(15))
                                                         .warmUp(Duration.ofSeconds(4))
                                                         .sampleEvery(Duration.ofSeconds(5));
        try (ChurnRun churn = ChurnRun.prepare(dir, options);
             Ferry ferry = Ferry.start(FerryOptions.builder()
                                                   .addManifests(dir)
                                                   .adminPort(0)
                                                   .httpAddress(InetAddress.getLoopbackAddress())
                                                   .httpPort(0)
                                                   .httpsPort(0)
                                                   .serviceCidr(Cidr.parse("127.96.0.0/16"))
                                                   .accessLog(false)
                                                   .ioThreads(2)
                                                   .build())) {
            await().atMost(Duration.ofSeconds(15)).until(() -> ferry.controlLoop().status().ready());
            InetSocketAddress http = ferry.httpProxy().boundAddresses().get(0);
            InetSocketAddress https = ferry.httpProxy().boundAddresses().get(1);
            // Every status a sync publishes lives at least --min-sync-period (50 ms): polling every 5 ms sees each.
            Set<String> problems = ConcurrentHashMap.newKeySet();
            ScheduledExecutorService watcher = Executors.newSingleThreadScheduledExecutor();
            watcher.scheduleWithFixedDelay(() -> ferry.controlLoop().status().problems()
                                                      .forEach(p -> problems.add(p.toString())),
                                           0, 5, TimeUnit.MILLISECONDS);
            ChurnRun.Result r;
            try {
                r = churn.run(http, https, new InProcessProbe(ferry), System.out);
            } finally {
                watcher.shutdownNow();
            }
            assertThat(problems).as("configuration problems reported during the churn").isEmpty();

            assertThat(r.failureSamples()).as(r.summary()).isEmpty();
            assertThat(r.failedRequests()).isZero();
            assertThat(r.droppedWebSockets()).isZero();
            // Counts low enough for a loaded CI machine (PARANOID leak detection slows every buffer), but the load
            // must run all along: every sampling interval saw more requests and more messages.
            assertThat(r.requests()).as("requests").isGreaterThan(200);
            assertThat(r.webSocketMessages()).as("WebSocket messages").isGreaterThan(400);
            for (int i = 1; i < r.samples().size(); i++) {
                assertThat(r.samples().get(i).requests()).isGreaterThan(r.samples().get(i - 1).requests());
                assertThat(r.samples().get(i).webSocketMessages())
                        .isGreaterThan(r.samples().get(i - 1).webSocketMessages());
            }
            assertThat(r.serverCloses()).as("keep-alive connections closed by the proxy").isZero();
            assertThat(r.edits()).as("manifest edits").isGreaterThan(300);
            assertThat(r.certificatesSeen()).as("rotated certificates served to new connections")
                                            .isGreaterThanOrEqualTo(2);
            // The manifest source coalesces bursts (100 ms, at most 200 ms), the loop syncs at least 50 ms apart.
            assertThat(r.last().generation() - r.warm().generation()).as("table swaps after the warm-up")
                                                                    .isGreaterThan(20);
            assertThat(r.last().heapBytes()).as("heap after full GC, end vs warm-up")
                                            .isLessThan(r.warm().heapBytes() + HEAP_TOLERANCE);
        }
    }

    /** Heap of this JVM after {@link System#gc()}, the generation from the control loop. */
    private static final class InProcessProbe implements ChurnRun.Probe {
        private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        private final Ferry ferry;

        InProcessProbe(Ferry ferry) {
            this.ferry = ferry;
        }

        @Override
        public long heapAfterFullGc() {
            System.gc();
            System.gc();
            return memory.getHeapMemoryUsage().getUsed();
        }

        @Override
        public long rssBytes() {
            return -1;
        }

        @Override
        public long generation() {
            return ferry.controlLoop().status().generation();
        }
    }
}
