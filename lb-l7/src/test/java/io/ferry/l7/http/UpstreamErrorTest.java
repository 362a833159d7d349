package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static io.ferry.l7.http.RawHttp.readHead;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** What the client sees when the upstream refuses, stalls, breaks or talks nonsense. */
class UpstreamErrorTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void refusedConnectIs502(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        h.routeAll("", route("dead", ProxyHarness.closedPort()));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("a", "/");
            assertThat(r.status()).isEqualTo(502);
            assertThat(r.text()).contains("502 Bad Gateway");
            // A bodyless request was answered in full: the client connection goes on.
            assertThat(c.get("a", "/again").status()).isEqualTo(502);
        }
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void silentUpstreamIs504AfterTheReadTimeout(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        CountDownLatch release = new CountDownLatch(1);
        h.closeLater(release::countDown);
        TestBackend silent = h.raw(s -> {
            readHead(s.getInputStream());
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        RoutePolicy quick = RoutePolicy.builder().readTimeout(Duration.ofMillis(300)).build();
        h.routeAll("", route("silent", quick, silent.address()));

        try (RawHttp c = h.connect()) {
            long start = System.nanoTime();
            RawHttp.Response r = c.get("a", "/");
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            assertThat(r.status()).isEqualTo(504);
            assertThat(r.text()).contains("504 Gateway Timeout");
            assertThat(tookMillis).isBetween(250L, 5_000L);
            assertThat(r.has("connection")).isFalse();
            // The exchange ended cleanly: the connection carries the next request.
            assertThat(c.get("a", "/again").status()).isEqualTo(504);
        }
        assertThat(proxy.stats().upstreamTimeouts()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void readTimeoutAlsoHoldsOnAPooledConnection(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        // Two routes to one endpoint: the connection the patient one opens is pooled and reused by the quick one,
        // whose request head goes out before its end is read; the read timeout must start at that end.
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("patient", PathType.PREFIX, "/", route("patient", a.address()));
        b.add("quick", PathType.PREFIX, "/", route("quick", RoutePolicy.builder().readTimeout(Duration.ofMillis(300))
                                                                 .build(), a.address()));
        proxy.apply(b.build());

        try (RawHttp c = h.connect()) {
            assertThat(c.get("patient", "/warm-up").status()).isEqualTo(200);
            long start = System.nanoTime();
            assertThat(c.get("quick", "/hang").status()).isEqualTo(504);
            assertThat((System.nanoTime() - start) / 1_000_000).isBetween(250L, 5_000L);
        }
        assertThat(proxy.stats().upstreamReuses()).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"EPOLL:length", "EPOLL:chunked", "NIO:length", "NIO:chunked"})
    void upstreamClosingMidResponseClosesTheClient(String kindAndFraming) throws Exception {
        String[] parts = kindAndFraming.split(":");
        HttpProxy proxy = h.start(Transport.Kind.valueOf(parts[0]));
        boolean chunked = parts[1].equals("chunked");
        TestBackend cut = h.raw(s -> {
            readHead(s.getInputStream());
            String head = chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n"
                                  : "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
            s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(new byte[1000]);
            s.getOutputStream().flush();
        });
        h.routeAll("", route("cut", cut.address()));

        try (RawHttp c = h.connect()) {
            long start = System.nanoTime();
            c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            // Cut inside a Content-Length body, or before the last chunk: either way the client can tell.
            assertThatThrownBy(c::read).isInstanceOf(EOFException.class)
                                       .hasMessageContaining(chunked ? "connection closed" : "cut at 1000");
            assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5_000L);
        }
        assertThat(proxy.stats().upstreamErrors()).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "EPOLL:HTTP/1.1 abc\r\n\r\n",
        "NIO:HTTP/1.1 abc\r\n\r\n",
        "EPOLL:HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "NIO:HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "EPOLL:SSH-2.0-OpenSSH_9.6\r\n",
        "NIO:HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    })
    void malformedResponseIs502(String kindAndReply) throws Exception {
        int colon = kindAndReply.indexOf(':');
        HttpProxy proxy = h.start(Transport.Kind.valueOf(kindAndReply.substring(0, colon)));
        byte[] reply = kindAndReply.substring(colon + 1).getBytes(StandardCharsets.US_ASCII);
        TestBackend nonsense = h.raw(s -> {
            readHead(s.getInputStream());
            s.getOutputStream().write(reply);
            s.getOutputStream().flush();
            s.getInputStream().read(); // until the proxy lets go
        });
        h.routeAll("", route("nonsense", nonsense.address()));

        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/").status()).isEqualTo(502);
        }
        assertThat(proxy.stats().upstreamErrors()).isPositive();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientLeavingMidDownloadReleasesEverything(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("GET /download/" + (256 * 1024 * 1024) + " HTTP/1.1\r\nHost: a\r\n\r\n");
            c.socket().getInputStream().readNBytes(1024 * 1024);
        }
        await().atMost(Duration.ofSeconds(5))
                                 .until(() -> proxy.stats().activeConnections() == 0);
        assertThat(proxy.stats().clientAborts()).isEqualTo(1);
        assertThat(proxy.stats().bytesToClients()).isLessThan(64L * 1024 * 1024);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientGoingAwayReleasesTheUpstream(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        CountDownLatch upstreamClosed = new CountDownLatch(1);
        TestBackend slow = h.raw(s -> {
            readHead(s.getInputStream());
            try {
                s.getInputStream().read(); // the proxy closes it when the client leaves
            } catch (IOException ignored) {
                // reset: closed as well
            }
            upstreamClosed.countDown();
        });
        h.routeAll("", route("slow", slow.address()));

        try (RawHttp c = h.connect()) {
            c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            await().atMost(Duration.ofSeconds(5)).until(() -> slow.accepted() == 1);
        }
        assertThat(upstreamClosed.await(5, TimeUnit.SECONDS)).isTrue();
        await().atMost(Duration.ofSeconds(5))
                                 .until(() -> proxy.stats().activeConnections() == 0);
        assertThat(proxy.stats().clientAborts()).isEqualTo(1);
    }
}
