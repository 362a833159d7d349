package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.backend;
import static io.ferry.l7.http.ProxyHarness.route;
import static io.ferry.l7.http.RawHttp.readHead;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Backend;
import io.ferry.l4.Balancer;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.net.SocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A failed try goes to the next endpoint only when that cannot run a request twice. */
class RetryTest {

    /** Always the first endpoint: the failing one, in these tests. */
    private static final Balancer FIRST = new Balancer() {
        @Override
        public int select(Backend backend, SocketAddress client) {
            return 0;
        }

        @Override
        public String name() {
            return "first";
        }
    };

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void refusedEndpointIsSkipped(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer live = h.echo("live");
        h.routeAll("", route("half-dead", ProxyHarness.closedPort(), live.address()));

        for (int i = 0; i < 20; i++) {
            // New client connections each time: no pooled connection hides the dead endpoint.
            try (RawHttp c = h.connect()) {
                RawHttp.Response r = c.get("a", "/" + i);
                assertThat(r.status()).as("request %d", i).isEqualTo(200);
                assertThat(r.text()).startsWith("live\n");
            }
        }
        assertThat(proxy.stats().upstreamConnectFailures()).isPositive();
        assertThat(proxy.stats().retries()).isEqualTo(proxy.stats().upstreamConnectFailures());
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void postThatReachedAnEndpointIsNotRetried(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        TestBackend hangsUp = h.raw(s -> readHead(s.getInputStream()));
        EchoServer live = h.echo("live");
        h.routeAll("", Route.of("flaky", backend("flaky", FIRST, hangsUp.address(), live.address()),
                                RoutePolicy.DEFAULT));

        try (RawHttp c = h.connect()) {
            c.send("POST /order HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(502);
        }
        assertThat(hangsUp.accepted()).isEqualTo(1);
        assertThat(live.requests()).isZero();
        assertThat(proxy.stats().retries()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void getThatReachedAnEndpointIsRetriedOnTheNext(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        TestBackend hangsUp = h.raw(s -> readHead(s.getInputStream()));
        EchoServer live = h.echo("live");
        h.routeAll("", Route.of("flaky", backend("flaky", FIRST, hangsUp.address(), live.address()),
                                RoutePolicy.DEFAULT));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("a", "/catalog");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("live\nGET /catalog\n");
        }
        assertThat(hangsUp.accepted()).isEqualTo(1);
        assertThat(proxy.stats().retries()).isEqualTo(1);
    }

    /** A server out of connections takes one and drops it unanswered (nginx closes its newest idle ones). */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void getDroppedByTheOnlyEndpointIsRetriedThereOnANewConnection(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        AtomicInteger connections = new AtomicInteger();
        TestBackend dropsFirst = h.raw(s -> {
            readHead(s.getInputStream());
            if (connections.incrementAndGet() == 1) {
                s.setSoLinger(true, 0); // a reset, as a server closing with the request unread sends
                return;
            }
            s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond".getBytes(US_ASCII));
            s.getOutputStream().flush();
            s.getInputStream().read(); // until the proxy closes or reuses it
        });
        h.routeAll("", route("only", dropsFirst.address()));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("a", "/catalog");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("second");
        }
        assertThat(dropsFirst.accepted()).isEqualTo(2);
        assertThat(proxy.stats().retries()).isEqualTo(1);
        assertThat(proxy.stats().upstreamConnectFailures()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void postDroppedByTheOnlyEndpointIsNotRetried(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        TestBackend hangsUp = h.raw(s -> readHead(s.getInputStream()));
        h.routeAll("", route("only", hangsUp.address()));

        try (RawHttp c = h.connect()) {
            c.send("POST /order HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
            assertThat(c.read().status()).isEqualTo(502);
        }
        assertThat(hangsUp.accepted()).isEqualTo(1);
        assertThat(proxy.stats().retries()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void anEndpointThatDropsEveryRequestIsTriedMaxAttemptsTimes(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        TestBackend hangsUp = h.raw(s -> readHead(s.getInputStream()));
        h.routeAll("", route("only", hangsUp.address()));

        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/").status()).isEqualTo(502);
        }
        assertThat(hangsUp.accepted()).isEqualTo(3);
        assertThat(proxy.stats().retries()).isEqualTo(2);
        assertThat(proxy.stats().upstreamErrors()).isEqualTo(3);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aRefusedOnlyEndpointIsNotTriedAgain(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        h.routeAll("", route("dead", ProxyHarness.closedPort()));

        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/").status()).isEqualTo(502);
        }
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(1);
        assertThat(proxy.stats().retries()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void triesStopAtMaxAttempts(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false).maxAttempts(2).build());
        h.routeAll("", Route.of("dead", backend("dead", FIRST, ProxyHarness.closedPort(), ProxyHarness.closedPort(),
                                                ProxyHarness.closedPort()), RoutePolicy.DEFAULT));

        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/").status()).isEqualTo(502);
        }
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(2);
        assertThat(proxy.stats().retries()).isEqualTo(1);
    }
}
