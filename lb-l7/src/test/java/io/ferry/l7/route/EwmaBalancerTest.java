package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class EwmaBalancerTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private final AtomicLong clock = new AtomicLong(1_000 * SECOND);

    private static List<Endpoint> endpoints(int... ports) {
        List<Endpoint> list = new ArrayList<>();
        for (int port : ports) {
            list.add(Endpoint.of(new InetSocketAddress("127.0.0.1", port)));
        }
        return list;
    }

    private Backend backend(List<Endpoint> endpoints, EwmaBalancer previous) {
        return Backend.of("ns/web:80", endpoints, EwmaBalancer.create(endpoints, previous, clock::get));
    }

    private static EwmaBalancer ewma(Backend b) {
        return (EwmaBalancer) b.balancer();
    }

    @Test
    void theFirstSampleIsTheAverage() {
        Backend b = backend(endpoints(1, 2), null);
        assertThat(ewma(b).score(0)).isZero();
        ewma(b).observe(b, 0, 40 * MS);
        assertThat(ewma(b).score(0)).isEqualTo(40.0 * MS);
    }

    @Test
    void laterSamplesWeighByTheTimeSinceThePrevious() {
        Backend b = backend(endpoints(1, 2), null);
        ewma(b).observe(b, 0, 100 * MS);
        clock.addAndGet(10 * SECOND); // one decay time: the old average keeps weight 1/e
        ewma(b).observe(b, 0, 0);
        assertThat(ewma(b).score(0)).isCloseTo(100.0 * MS * Math.exp(-1), within(1.0));
    }

    @Test
    void scoresFadeWhileAnEndpointIsLeftAlone() {
        Backend b = backend(endpoints(1, 2), null);
        ewma(b).observe(b, 0, 100 * MS);
        clock.addAndGet(20 * SECOND);
        assertThat(ewma(b).score(0)).isCloseTo(100.0 * MS * Math.exp(-2), within(1.0));
    }

    @Test
    void ofTwoEndpointsTheFasterIsAlwaysChosen() {
        Backend b = backend(endpoints(1, 2), null);
        ewma(b).observe(b, 0, 300 * MS);
        ewma(b).observe(b, 1, 10 * MS);
        for (int i = 0; i < 100; i++) {
            assertThat(b.balancer().select(b, null)).isEqualTo(1);
        }
    }

    @Test
    void theSlowestOfSeveralIsNeverChosenAndTheRestShareTheLoad() {
        Backend b = backend(endpoints(1, 2, 3, 4), null);
        ewma(b).observe(b, 0, 10 * MS);
        ewma(b).observe(b, 1, 20 * MS);
        ewma(b).observe(b, 2, 30 * MS);
        ewma(b).observe(b, 3, 900 * MS);
        int[] counts = new int[4];
        for (int i = 0; i < 6_000; i++) {
            counts[b.balancer().select(b, null)]++;
        }
        // P2C: the worst never wins a comparison; the best wins every one it is drawn into (half the draws).
        assertThat(counts[3]).isZero();
        assertThat(counts[0]).isBetween(2_700, 3_300);
        assertThat(counts[0]).isGreaterThan(counts[1]);
        assertThat(counts[1]).isGreaterThan(counts[2]);
    }

    @Test
    void aSingleEndpointNeedsNoChoice() {
        Backend b = backend(endpoints(1), null);
        assertThat(b.balancer().select(b, null)).isZero();
    }

    @Test
    void anEndpointNeverObservedIsTriedFirst() {
        Backend b = backend(endpoints(1, 2), null);
        ewma(b).observe(b, 0, 5 * MS);
        assertThat(b.balancer().select(b, null)).isEqualTo(1);
    }

    @Test
    void keepsWhatThePreviousTableLearntAndStartsNewcomersAtTheMean() {
        Backend old = backend(endpoints(1, 2), null);
        ewma(old).observe(old, 0, 100 * MS);
        ewma(old).observe(old, 1, 300 * MS);

        Backend next = backend(endpoints(2, 3), ewma(old));
        assertThat(ewma(next).score(0)).isEqualTo(300.0 * MS); // port 2 keeps its average
        assertThat(ewma(next).score(1)).isEqualTo(200.0 * MS); // port 3 starts at the mean
    }

    @Test
    void ignoresIndexesItDoesNotKnow() {
        Backend b = backend(endpoints(1, 2), null);
        ewma(b).observe(b, 2, 5 * MS);
        ewma(b).observe(b, -1, 5 * MS);
        assertThat(ewma(b).score(0)).isZero();
        assertThat(ewma(b).score(1)).isZero();
    }

    @Test
    void negativeLatenciesCountAsZero() {
        Backend b = backend(endpoints(1, 2), null);
        ewma(b).observe(b, 0, -5);
        assertThat(ewma(b).score(0)).isZero();
    }

    @Test
    void concurrentObservationsNeverCorruptTheAverage() throws Exception {
        List<Endpoint> eps = endpoints(1, 2);
        Backend b = Backend.of("ns/web:80", eps, EwmaBalancer.create(eps));
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread w = new Thread(() -> {
                for (int i = 0; i < 20_000; i++) {
                    ewma(b).observe(b, i & 1, 50 * MS);
                    b.balancer().select(b, null);
                }
            });
            w.start();
            threads.add(w);
        }
        for (Thread w : threads) {
            w.join();
        }
        // Every sample was 50 ms, so every average is 50 ms whatever the interleaving.
        assertThat(ewma(b).score(0)).isCloseTo(50.0 * MS, within(1.0 * MS));
        assertThat(ewma(b).score(1)).isCloseTo(50.0 * MS, within(1.0 * MS));
        assertThat(b.balancer().name()).isEqualTo("ewma");
    }
}
