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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8's churn test, short form (the benchmarks' {@code ChurnMain} runs the same engine for minutes or hours):
 * keep-alive HTTP/1.1 over HTTP and HTTPS, a new TLS connection ten times a second, and WebSockets echoing all
 * along, through one in-process Ferry whose manifests change every 20 ms (endpoints, Service ports and labels,
 * another Ingress, the TLS Secret). Not one request may fail and not one WebSocket may drop; the snapshot
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
            ChurnRun.Result r = churn.run(http, https, new InProcessProbe(ferry), System.out);

            assertThat(r.failureSamples()).as(r.summary()).isEmpty();
            assertThat(r.failedRequests()).isZero();
            assertThat(r.droppedWebSockets()).isZero();
            assertThat(r.requests()).as("requests").isGreaterThan(500);
            assertThat(r.webSocketMessages()).as("WebSocket messages").isGreaterThan(500);
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
