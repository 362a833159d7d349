package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.backend;
import static io.ferry.l7.http.RawHttp.readHead;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.RandomBalancer;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code --upstream-max-connections}: at the limit, a request waits for a connection to its endpoint to come free
 * (or to close, so that another may be opened), and gets 503 when none does within the connect timeout.
 *
 * <p>The limit is per event loop, and the harness's proxy has two: with one connection per loop allowed, requests
 * on {@code n} client connections open at most two upstream connections, and {@code n} minus the number of loops
 * that got a client wait.
 */
class UpstreamLimitTest {

    private static final Duration DEADLINE = Duration.ofSeconds(10);
    private static final int LOOPS = 2;
    private static final byte[] OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(US_ASCII);
    private static final byte[] OK_CLOSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            .getBytes(US_ASCII);

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    private HttpProxy start(Transport.Kind kind) throws IOException {
        return h.start(kind, HttpProxyConfig.builder().accessLog(false).upstreamMaxConnectionsPerEndpoint(1).build());
    }

    /** A keep-alive backend that answers each request once {@code go} is open; counts the requests it has read. */
    private TestBackend heldBackend(CountDownLatch go, AtomicInteger heads, byte[] response) throws IOException {
        return h.raw(s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            while (true) {
                readHead(in);
                heads.incrementAndGet();
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                out.write(response);
                out.flush();
                if (response == OK_CLOSE) {
                    return;
                }
            }
        });
    }

    private List<RawHttp> sendGets(int n) throws IOException {
        List<RawHttp> clients = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            RawHttp c = h.connect();
            c.send("GET /" + i + " HTTP/1.1\r\nHost: a\r\n\r\n");
            clients.add(c);
        }
        return clients;
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void requestsOverTheLimitWaitAndTakeTheConnectionsOthersRelease(Transport.Kind kind) throws Exception {
        HttpProxy proxy = start(kind);
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger heads = new AtomicInteger();
        TestBackend backend = heldBackend(go, heads, OK);
        h.routeAll("", ProxyHarness.route("limited", backend.address()));

        List<RawHttp> clients = sendGets(6);
        await().atMost(DEADLINE).until(() -> heads.get() + proxy.stats().upstreamQueued() == 6);
        int accepted = backend.accepted();
        assertThat(accepted).isBetween(1, LOOPS);
        assertThat(heads.get()).isEqualTo(accepted);
        assertThat(proxy.stats().upstreamQueued()).isEqualTo(6 - accepted);

        go.countDown();
        for (RawHttp c : clients) {
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("ok");
        }
        // The waiting requests went out on the connections the first ones released: none was opened for them.
        assertThat(backend.accepted()).isEqualTo(accepted);
        assertThat(proxy.stats().upstreamConnects()).isEqualTo(accepted);
        assertThat(proxy.stats().upstreamQueueTimeouts()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aConnectionThatClosesLetsAWaitingRequestOpenAnother(Transport.Kind kind) throws Exception {
        HttpProxy proxy = start(kind);
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger heads = new AtomicInteger();
        TestBackend backend = heldBackend(go, heads, OK_CLOSE);
        h.routeAll("", ProxyHarness.route("limited", backend.address()));

        List<RawHttp> clients = sendGets(4);
        await().atMost(DEADLINE).until(() -> heads.get() + proxy.stats().upstreamQueued() == 4);
        assertThat(backend.accepted()).isBetween(1, LOOPS);

        go.countDown();
        for (RawHttp c : clients) {
            assertThat(c.read().status()).isEqualTo(200);
        }
        assertThat(backend.accepted()).isEqualTo(4);
        assertThat(heads.get()).isEqualTo(4);
        assertThat(proxy.stats().upstreamQueueTimeouts()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aRequestThatWaitsLongerThanTheConnectTimeoutGets503(Transport.Kind kind) throws Exception {
        HttpProxy proxy = start(kind);
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger heads = new AtomicInteger();
        TestBackend backend = heldBackend(go, heads, OK);
        RoutePolicy policy = RoutePolicy.builder().connectTimeout(Duration.ofMillis(300)).build();
        h.routeAll("", Route.of("limited", backend("limited", RandomBalancer.INSTANCE, backend.address()), policy));

        // Three clients on two event loops: at least two share one, and one of those waits.
        List<RawHttp> clients = sendGets(3);
        await().atMost(DEADLINE).until(() -> heads.get() + proxy.stats().upstreamQueued() == 3);
        long queued = proxy.stats().upstreamQueued();
        assertThat(queued).isBetween(1L, 2L);
        await().atMost(DEADLINE).until(() -> proxy.stats().upstreamQueueTimeouts() == queued);

        go.countDown();
        int ok = 0;
        int unavailable = 0;
        for (RawHttp c : clients) {
            int status = c.read().status();
            if (status == 200) {
                ok++;
            } else {
                assertThat(status).isEqualTo(503);
                unavailable++;
            }
        }
        assertThat(unavailable).isEqualTo(queued);
        assertThat(ok).isEqualTo(heads.get());
        assertThat(backend.accepted()).isEqualTo(heads.get());
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aClientThatLeavesWhileWaitingCostsNoConnection(Transport.Kind kind) throws Exception {
        HttpProxy proxy = start(kind);
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger heads = new AtomicInteger();
        TestBackend backend = heldBackend(go, heads, OK);
        h.routeAll("", ProxyHarness.route("limited", backend.address()));

        // Clients until one waits: the first to share an event loop with a client that holds a connection.
        List<RawHttp> holding = new ArrayList<>();
        RawHttp waiting = null;
        for (int sent = 1; waiting == null; sent++) {
            assertThat(sent).as("clients sent").isLessThanOrEqualTo(LOOPS + 1);
            RawHttp c = h.connect();
            c.send("GET /" + sent + " HTTP/1.1\r\nHost: a\r\n\r\n");
            int expected = sent;
            await().atMost(DEADLINE).until(() -> heads.get() + proxy.stats().upstreamQueued() == expected);
            if (proxy.stats().upstreamQueued() == 1) {
                waiting = c;
            } else {
                holding.add(c);
            }
        }
        waiting.close();
        await().atMost(DEADLINE).until(() -> proxy.stats().clientAborts() == 1);

        go.countDown();
        for (RawHttp c : holding) {
            assertThat(c.read().status()).isEqualTo(200);
        }
        for (int i = 0; i < 4; i++) {
            try (RawHttp c = h.connect()) {
                assertThat(c.get("a", "/again").status()).isEqualTo(200);
            }
        }
        // The released connections went back to their pools, not to the client that had left, and were reused.
        assertThat(proxy.stats().upstreamConnects()).isEqualTo(holding.size());
        assertThat(backend.accepted()).isEqualTo(holding.size());
        assertThat(proxy.stats().upstreamQueueTimeouts()).isZero();
    }
}
