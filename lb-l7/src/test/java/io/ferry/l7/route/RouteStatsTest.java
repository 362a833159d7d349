package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RouteStatsTest {

    @Test
    void countsResponsesByClassAndTheRestApart() {
        RouteStats s = new RouteStats();
        s.response(101);
        s.response(200);
        s.response(204);
        s.response(302);
        s.response(404);
        s.response(503);
        s.response(599);
        s.response(99); // no class: counted apart, in none of 1 to 5
        assertThat(s.responses(1)).isEqualTo(1);
        assertThat(s.responses(2)).isEqualTo(2);
        assertThat(s.responses(3)).isEqualTo(1);
        assertThat(s.responses(4)).isEqualTo(1);
        assertThat(s.responses(5)).isEqualTo(2);
        assertThat(s.requests()).isZero();
        assertThatThrownBy(() -> s.responses(6)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void anUnusedRouteReadsZeroEverywhere() {
        RouteStats s = new RouteStats();
        assertThat(s.requests()).isZero();
        assertThat(s.responses(2)).isZero();
        assertThat(s.bytesFromClients()).isZero();
        assertThat(s.bytesToClients()).isZero();
        assertThat(s.noEndpoints()).isZero();
        assertThat(s.upstreamConnectFailures()).isZero();
        assertThat(s.retries()).isZero();
        assertThat(s.upstreamLatency().count()).isZero();
    }

    /** Exchanges on several event loops at once into one route: every counter comes out exact. */
    @Test
    void concurrentExchangesAreNeverLost() throws Exception {
        int threads = 6;
        int perThread = 100_000;
        RouteStats s = new RouteStats();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < perThread; i++) {
                        s.request();
                        s.bytesFromClient(3);
                        s.upstreamLatency(1_000_000);
                        s.response((i & 1) == 0 ? 200 : 502);
                        s.bytesToClient(7);
                        if ((i & 3) == 0) {
                            s.retry();
                            s.upstreamConnectFailure();
                            s.noEndpoint();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        long total = (long) threads * perThread;
        assertThat(s.requests()).isEqualTo(total);
        assertThat(s.responses(2)).isEqualTo(total / 2);
        assertThat(s.responses(5)).isEqualTo(total / 2);
        assertThat(s.bytesFromClients()).isEqualTo(3 * total);
        assertThat(s.bytesToClients()).isEqualTo(7 * total);
        assertThat(s.retries()).isEqualTo(total / 4);
        assertThat(s.upstreamConnectFailures()).isEqualTo(total / 4);
        assertThat(s.noEndpoints()).isEqualTo(total / 4);
        assertThat(s.upstreamLatency().count()).isEqualTo(total);
        assertThat(s.upstreamLatency().bucketCounts()[1]).isEqualTo(total); // 1 ms: le="0.001"
    }
}
