package io.ferry.l4;

import static io.ferry.l4.MaglevBalancerTest.endpoints;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.testing.TestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LeastConnectionsBalancerTest {

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private static Backend backend(List<Endpoint> endpoints, LeastConnectionsBalancer previous) {
        return Backend.of("ns/web:80/TCP", endpoints, LeastConnectionsBalancer.create(endpoints, previous));
    }

    private static LeastConnectionsBalancer lc(Backend b) {
        return (LeastConnectionsBalancer) b.balancer();
    }

    @Test
    void avoidsTheEndpointWithMoreConnections() {
        Backend b = backend(endpoints(3), null);
        b.balancer().acquire(b, 0);
        b.balancer().acquire(b, 0);
        boolean[] seen = new boolean[3];
        for (int i = 0; i < 1_000; i++) {
            int pick = b.balancer().select(b, null);
            assertThat(pick).isNotZero();
            seen[pick] = true;
        }
        assertThat(seen).containsExactly(false, true, true); // the tie between 1 and 2 goes either way
    }

    @Test
    void picksTheFewest() {
        Backend b = backend(endpoints(3), null);
        b.balancer().acquire(b, 0);
        b.balancer().acquire(b, 0);
        b.balancer().acquire(b, 1);
        for (int i = 0; i < 100; i++) {
            assertThat(b.balancer().select(b, null)).isEqualTo(2);
        }
        b.balancer().release(b, 0);
        b.balancer().release(b, 0);
        for (int i = 0; i < 100; i++) {
            assertThat(b.balancer().select(b, null)).isIn(0, 2);
        }
    }

    @Test
    void breaksTiesUniformly() {
        Backend b = backend(endpoints(4), null);
        int[] counts = new int[4];
        for (int i = 0; i < 40_000; i++) {
            counts[b.balancer().select(b, null)]++;
        }
        // 10,000 expected each, standard deviation 87: 1,000 off is 11 of them.
        for (int count : counts) {
            assertThat(count).isBetween(9_000, 11_000);
        }
    }

    @Test
    void connectionsThatStayOpenAreSpreadExactly() {
        Backend b = backend(endpoints(5), null);
        for (int i = 0; i < 500; i++) {
            b.balancer().acquire(b, b.balancer().select(b, null));
        }
        for (int i = 0; i < 5; i++) {
            assertThat(lc(b).connections(i)).isEqualTo(100);
        }
    }

    @Test
    void largeBackendsUseTheBetterOfTwoChoices() {
        int n = 200;
        assertThat(n).isGreaterThan(LeastConnectionsBalancer.FULL_SCAN_MAX);
        Backend b = backend(endpoints(n), null);
        for (int i = 0; i < 10; i++) {
            b.balancer().acquire(b, 7);
        }
        for (int i = 0; i < 10_000; i++) {
            assertThat(b.balancer().select(b, null)).isNotEqualTo(7); // whatever it is drawn with has fewer
        }
        for (int i = 0; i < 20_000; i++) {
            b.balancer().acquire(b, b.balancer().select(b, null));
        }
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (int i = 0; i < n; i++) {
            min = Math.min(min, lc(b).connections(i));
            max = Math.max(max, lc(b).connections(i));
        }
        // 100 each on average. Random picks would leave the fullest near 130 and the emptiest near 70; with two
        // choices the fullest stays within 3 of the mean (its tail falls doubly exponentially: in 2,000 simulated
        // runs it never passed 3) and the emptiest within 7 (in 2,000 runs; its tail falls about 5-fold a step).
        assertThat(max).isLessThanOrEqualTo(106);
        assertThat(min).isGreaterThanOrEqualTo(85);
    }

    @Test
    void countsNeverGoNegative() {
        Backend b = backend(endpoints(2), null);
        b.balancer().release(b, 0);
        assertThat(lc(b).connections(0)).isZero();
        b.balancer().acquire(b, 1);
        b.balancer().release(b, 1);
        b.balancer().release(b, 1);
        assertThat(lc(b).connections(1)).isZero();
        b.balancer().release(b, -1);
        b.balancer().release(b, 2);
        b.balancer().acquire(b, 2);
        assertThat(lc(b).connections(0)).isZero();
        assertThat(lc(b).connections(1)).isZero();
    }

    @Test
    void aNewTableSharesTheCountsOfTheEndpointsItKeeps() {
        List<Endpoint> abc = endpoints(3);
        Backend old = backend(abc, null);
        old.balancer().acquire(old, 0);
        old.balancer().acquire(old, 0);
        old.balancer().acquire(old, 2);

        // Endpoint 1 goes away, a new one comes, and the order changes: 0 is now at index 1, 2 at index 0.
        List<Endpoint> next = List.of(abc.get(2), abc.get(0), endpoints(4).get(3));
        Backend swapped = backend(next, lc(old));
        assertThat(lc(swapped).connections(0)).isEqualTo(1);
        assertThat(lc(swapped).connections(1)).isEqualTo(2);
        assertThat(lc(swapped).connections(2)).isZero();
        assertThat(swapped.balancer().select(swapped, null)).isEqualTo(2);

        // The old connections end through the table they started with.
        old.balancer().release(old, 0);
        old.balancer().release(old, 0);
        old.balancer().release(old, 2);
        assertThat(lc(swapped).connections(0)).isZero();
        assertThat(lc(swapped).connections(1)).isZero();
        assertThat(lc(old).connections(0)).isZero();
    }

    @Test
    void acquireAndReleaseFromManyThreadsBalanceOut() throws Exception {
        Backend b = backend(endpoints(3), null);
        int threads = 4;
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
                for (int i = 0; i < 50_000; i++) {
                    int pick = b.balancer().select(b, null);
                    b.balancer().acquire(b, pick);
                    b.balancer().release(b, pick);
                }
            });
            w.start();
            workers.add(w);
        }
        start.countDown();
        for (Thread w : workers) {
            w.join();
        }
        for (int i = 0; i < 3; i++) {
            assertThat(lc(b).connections(i)).isZero();
        }
    }

    @Test
    void aBackendOfAnotherSizeGetsAValidIndexAndIsNotCounted() {
        LeastConnectionsBalancer balancer = LeastConnectionsBalancer.create(endpoints(5));
        Backend smaller = Backend.of("ns/web:80/TCP", endpoints(2), balancer);
        for (int i = 0; i < 100; i++) {
            assertThat(balancer.select(smaller, null)).isBetween(0, 1);
        }
        balancer.acquire(smaller, 1);
        assertThat(balancer.connections(1)).isZero();
    }

    @Test
    void isNamedAsTheAnnotationSpellsIt() {
        assertThat(LeastConnectionsBalancer.create(endpoints(2)).name()).isEqualTo("least-connections");
    }

    /**
     * Through the real proxy: open connections count, closed ones stop counting, and a refused endpoint's failed
     * attempt is released.
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void theProxyCountsOpenConnections(Transport.Kind kind) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        Transport transport = Transport.create(kind, 2);
        closeables.add(transport);
        ServiceProxy proxy = new ServiceProxy(transport, TcpProxyConfig.DEFAULT);
        closeables.add(proxy);
        TestBackend a = TestBackend.start(TestBackend.greetThenEcho("a"));
        closeables.add(a);
        TestBackend b = TestBackend.start(TestBackend.greetThenEcho("b"));
        closeables.add(b);
        InetSocketAddress refusing;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            refusing = new InetSocketAddress(InetAddress.getLoopbackAddress(), s.getLocalPort());
        }
        List<Endpoint> eps = List.of(Endpoint.of(a.address()), Endpoint.of(b.address()), Endpoint.of(refusing));
        LeastConnectionsBalancer balancer = LeastConnectionsBalancer.create(eps);
        ListenerKey key = ListenerKey.of(InetAddress.getLoopbackAddress(), 0, Protocol.TCP);
        proxy.apply(L4Table.builder().add(key, Backend.of("t/lc:1/TCP", eps, balancer)).build());
        InetSocketAddress listener = (InetSocketAddress) proxy.listeners().get(key).localAddress();

        List<Socket> open = new ArrayList<>();
        List<String> greetings = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Socket s = new Socket();
            closeables.add(s);
            s.connect(listener, 5_000);
            s.setSoTimeout(20_000);
            open.add(s);
            greetings.add(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                                  .readLine());
        }
        // Connections to the refusing endpoint fail over to the next one and release their attempt.
        assertThat(greetings).containsOnly("a", "b");
        await().atMost(Duration.ofSeconds(10)).until(() -> balancer.connections(2) == 0);
        assertThat(balancer.connections(0) + balancer.connections(1)).isEqualTo(6);

        for (int i = 0; i < open.size(); i++) {
            if (greetings.get(i).equals("a")) {
                open.get(i).close();
            }
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> balancer.connections(0) == 0);
        // a has none now, b has some: the next connection goes to a (or fails over from the refusing one to a).
        try (Socket s = new Socket()) {
            s.connect(listener, 5_000);
            s.setSoTimeout(20_000);
            assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                               .readLine()).isEqualTo("a");
        }
        for (Socket s : open) {
            s.close();
        }
        await().atMost(Duration.ofSeconds(10))
               .until(() -> balancer.connections(0) + balancer.connections(1) + balancer.connections(2) == 0);
    }
}
