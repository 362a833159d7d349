package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class RoundRobinBalancerTest {

    private static Backend backend(int endpoints, Balancer balancer) {
        List<Endpoint> list = new ArrayList<>();
        for (int i = 0; i < endpoints; i++) {
            list.add(Endpoint.of(new InetSocketAddress("127.0.0.1", 8000 + i)));
        }
        return Backend.of("ns/web:80", list, balancer);
    }

    @Test
    void visitsEveryEndpointInTurn() {
        Backend b = backend(3, RoundRobinBalancer.startingAt(1));
        List<Integer> picks = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            picks.add(b.balancer().select(b, null));
        }
        assertThat(picks).containsExactly(1, 2, 0, 1, 2, 0, 1);
    }

    @Test
    void oneEndpointIsAlwaysChosen() {
        Backend b = backend(1, RoundRobinBalancer.create());
        for (int i = 0; i < 5; i++) {
            assertThat(b.balancer().select(b, null)).isZero();
        }
    }

    @Test
    void staysInRangeAcrossTheCounterWrap() {
        Backend b = backend(3, RoundRobinBalancer.startingAt(Integer.MAX_VALUE - 2));
        for (int i = 0; i < 10; i++) {
            assertThat(b.balancer().select(b, null)).isBetween(0, 2);
        }
    }

    @Test
    void sharesTheTurnFairlyAcrossThreads() throws Exception {
        Backend b = backend(4, RoundRobinBalancer.create());
        AtomicIntegerArray counts = new AtomicIntegerArray(4);
        int threads = 4;
        int perThread = 10_000;
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread w = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                for (int i = 0; i < perThread; i++) {
                    counts.incrementAndGet(b.balancer().select(b, null));
                }
            });
            w.start();
            workers.add(w);
        }
        start.countDown();
        for (Thread w : workers) {
            w.join();
        }
        // One shared counter: every endpoint gets exactly its share.
        for (int i = 0; i < 4; i++) {
            assertThat(counts.get(i)).isEqualTo(threads * perThread / 4);
        }
    }

    @Test
    void rejectsANegativeStart() {
        assertThatThrownBy(() -> RoundRobinBalancer.startingAt(-1)).hasMessage("start: -1 (expected: >= 0)");
    }

    @Test
    void isNamedAsIngressNginxNamesIt() {
        assertThat(RoundRobinBalancer.create().name()).isEqualTo("round_robin");
    }
}
