package io.ferry.l4;

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

class StripedCountersTest {

    @Test
    void startsAtZeroAndSumsAddsPerSlot() {
        StripedCounters c = new StripedCounters(3);
        assertThat(c.sum(0)).isZero();
        assertThat(c.sum(2)).isZero();
        c.increment(0);
        c.add(2, 40);
        c.add(2, 2);
        c.add(1, -5);
        assertThat(c.sum(0)).isEqualTo(1);
        assertThat(c.sum(1)).isEqualTo(-5);
        assertThat(c.sum(2)).isEqualTo(42);
        assertThat(c.slots()).isEqualTo(3);
    }

    @Test
    void rejectsASlotOutOfRangeBeforeAndAfterItsFirstAdd() {
        StripedCounters c = new StripedCounters(2);
        assertThatThrownBy(() -> c.sum(2)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> c.add(2, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        c.increment(1);
        assertThatThrownBy(() -> c.add(-1, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(c.sum(0) + c.sum(1)).isEqualTo(1);
        assertThatThrownBy(() -> new StripedCounters(0)).hasMessage("slots: 0 (expected: > 0)");
    }

    /**
     * Threads adding to one object at once, released together so that they race on its first add and then contend
     * on its cells (which makes them grow on a machine with more than one CPU): not one add may be lost.
     */
    @Test
    void concurrentAddsAreNeverLost() throws Exception {
        int threads = 8;
        int adds = 200_000;
        for (int round = 0; round < 5; round++) {
            StripedCounters c = new StripedCounters(4);
            hammer(threads, t -> {
                for (int i = 0; i < adds; i++) {
                    c.increment(0);
                    c.add(1, t + 1);
                    c.increment(2);
                    c.add(2, -1); // a gauge up and down, as BackendStats.active
                    c.add(3, i & 7);
                }
            });
            assertThat(c.sum(0)).isEqualTo((long) threads * adds);
            assertThat(c.sum(1)).isEqualTo((long) adds * threads * (threads + 1) / 2);
            assertThat(c.sum(2)).isZero();
            assertThat(c.sum(3)).isEqualTo((long) threads * (adds / 8) * 28);
        }
    }

    /** Runs {@code body} on {@code threads} threads released at once, and waits for them (rethrowing a failure). */
    static void hammer(int threads, ThreadBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    start.await();
                    body.run(id);
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** The work of one hammering thread, numbered from 0. */
    @FunctionalInterface
    interface ThreadBody {
        void run(int thread);
    }
}
