package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l7.route.RoutePolicy;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Slow and greedy clients (issue 8): slowloris (a head trickled byte by byte), slow POST (a body that stops
 * coming), more connections than a listener takes, more pipelined requests than a connection queues. Each ends
 * that client's connection within a bound and leaves the proxy serving others.
 */
class ClientLimitsTest {

    private static final Duration SHORT = Duration.ofMillis(500);

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void slowlorisTricklingAHeadIsClosedAtTheHeaderDeadline(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false).clientHeaderTimeout(SHORT).build());
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));

        byte[] head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ".getBytes();
        try (RawHttp c = h.connect()) {
            long start = System.nanoTime();
            boolean cut = false;
            // A byte every 50 ms: each read is fresh, the head never ends. The deadline is for the whole head.
            for (int i = 0; !cut && System.nanoTime() - start < 5_000_000_000L; i++) {
                try {
                    c.send(new byte[] {i < head.length ? head[i] : (byte) 'x'});
                } catch (SocketException e) {
                    cut = true;
                    break;
                }
                cut = c.closedWithin(50);
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertThat(cut).as("closed while trickling").isTrue();
            assertThat(millis).isBetween(400L, 3_000L);
        }
        assertThat(backend.complete()).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().activeConnections() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void slowPostIsAnswered408AtTheBodyTimeoutWhateverTheRouteSendTimeout(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false).clientBodyTimeout(SHORT).build());
        StrictBackend backend = h.closeLater(StrictBackend.start());
        // An upload route with a long proxy-send-timeout: it must not let a client hold the connection that long.
        RoutePolicy uploads = RoutePolicy.builder().sendTimeout(Duration.ofMinutes(10)).build();
        h.routeAll("", route("a", uploads, backend.address()));

        try (RawHttp c = h.connect()) {
            long start = System.nanoTime();
            c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789"); // then nothing
            RawHttp.Response r = c.read();
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertThat(r.status()).isEqualTo(408);
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(c.closedWithin(5_000)).isTrue();
            assertThat(millis).isBetween(400L, 3_000L);
        }
        assertThat(backend.complete()).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().activeConnections() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aBodyThatKeepsComingIsNotCutByTheBodyTimeout(Transport.Kind kind) throws Exception {
        h.start(kind, HttpProxyConfig.builder().accessLog(false).clientBodyTimeout(SHORT).build());
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));

        try (RawHttp c = h.connect()) {
            // 10 parts 100 ms apart: 1 s in all, twice the timeout, which counts between reads (as nginx's).
            c.send("POST /steady HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n");
            for (int i = 0; i < 10; i++) {
                LockSupport.parkNanos(100_000_000L);
                c.send("x");
            }
            assertThat(c.read().status()).isEqualTo(200);
        }
        assertThat(backend.targets()).containsExactly("/steady");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void connectionsBeyondTheListenerLimitAreClosedAtOnce(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false).maxConnections(3).build());
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));

        List<RawHttp> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            RawHttp c = h.connect();
            assertThat(c.get("a", "/held").status()).isEqualTo(200);
            held.add(c);
        }
        try (RawHttp over = h.connect()) {
            try {
                over.send("GET /over HTTP/1.1\r\nHost: a\r\n\r\n");
            } catch (SocketException e) {
                // already closed: as good
            }
            assertThat(over.closedWithin(5_000)).isTrue();
        }
        assertThat(proxy.stats().connectionsRejected()).isEqualTo(1);
        // The held connections go on; when one leaves, a new one is taken.
        assertThat(held.get(0).get("a", "/again").status()).isEqualTo(200);
        held.get(1).close();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            try (RawHttp c = h.connect()) {
                assertThat(c.get("a", "/next").status()).isEqualTo(200);
            }
        });
        assertThat(backend.targets()).doesNotContain("/over");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void morePipelinedRequestsThanTheQueueTakesCloseTheConnection(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));

        int sent = 2 * Http1ServerCodec.MAX_PIPELINE_DEPTH;
        int answered = 0;
        try (RawHttp c = h.connect()) {
            c.send("GET /p HTTP/1.1\r\nHost: a\r\n\r\n".repeat(sent));
            try {
                while (true) {
                    assertThat(c.read().status()).isEqualTo(200);
                    answered++;
                }
            } catch (EOFException | SocketException e) {
                // closed by the proxy
            }
        }
        assertThat(answered).isLessThanOrEqualTo(Http1ServerCodec.MAX_PIPELINE_DEPTH);
        assertThat(backend.complete()).isLessThanOrEqualTo(Http1ServerCodec.MAX_PIPELINE_DEPTH);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().activeConnections() == 0);
        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/after").status()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void pipelinedRequestsWithinTheQueueAreAllAnswered(Transport.Kind kind) throws IOException {
        h.start(kind);
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));

        int sent = Http1ServerCodec.MAX_PIPELINE_DEPTH;
        try (RawHttp c = h.connect()) {
            c.send("GET /p HTTP/1.1\r\nHost: a\r\n\r\n".repeat(sent - 1) + "HEAD /p HTTP/1.1\r\nHost: a\r\n\r\n");
            for (int i = 0; i < sent - 1; i++) {
                assertThat(c.read().text()).isEqualTo("ok");
            }
            RawHttp.Response head = c.read(true);
            assertThat(head.header("content-length")).isEqualTo("2");
            assertThat(c.get("a", "/after").text()).isEqualTo("ok");
        }
        assertThat(backend.complete()).isEqualTo(sent + 1);
    }
}
