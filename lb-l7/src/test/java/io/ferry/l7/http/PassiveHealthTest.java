package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.backend;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Backend;
import io.ferry.l4.Balancer;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Passive health at L7, nginx's {@code max_fails}/{@code fail_timeout} ({@link RoutePolicy#maxFails()},
 * {@link RoutePolicy#failTimeout()}): an endpoint whose try failed — a refused connect, a connection reset as soon
 * as it was accepted — is skipped by new requests for the fail timeout, then tried again. The balancer here always
 * picks the first endpoint, the failing one, so every request would pay for it without passive health.
 */
class PassiveHealthTest {

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
    void aRefusingEndpointIsSkippedForTheFailTimeoutThenTriedAgain(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        InetSocketAddress dead = ProxyHarness.closedPort();
        EchoServer live = h.echo("live");
        Duration failTimeout = Duration.ofSeconds(2);
        RoutePolicy policy = RoutePolicy.builder().failTimeout(failTimeout).build();
        h.routeAll("", Route.of("r", backend("r", FIRST, dead, live.address()), policy));

        long ejected = System.nanoTime();
        assertThat(get("/first")).isEqualTo("live\nGET /first\n");
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(1);
        assertThat(proxy.stats().endpointEjections()).isEqualTo(1);
        assertThat(proxy.stats().retries()).isEqualTo(1);

        // Within the fail timeout: straight to the live endpoint, no connect to the dead one.
        for (int i = 0; i < 10; i++) {
            assertThat(get("/" + i)).isEqualTo("live\nGET /" + i + "\n");
        }
        assertThat((System.nanoTime() - ejected) / 1_000_000).as("the requests ran within the fail timeout")
                                                           .isLessThan(failTimeout.toMillis());
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(1);
        assertThat(proxy.stats().retries()).isEqualTo(1);

        // The endpoint comes back on its address; once the fail timeout is over it is tried, and used again.
        KillableBackend revived = h.closeLater(KillableBackend.start("revived", 0, dead.getPort()));
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100))
               .until(() -> get("/probe").startsWith("revived"));
        assertThat((System.nanoTime() - ejected) / 1_000_000).as("skipped until the fail timeout was over")
                                                           .isGreaterThanOrEqualTo(failTimeout.toMillis());
        assertThat(get("/again")).isEqualTo("revived GET /again");
        assertThat(proxy.stats().endpointEjections()).isEqualTo(1);
        assertThat(revived.received()).contains("/again");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void anEndpointThatResetsOnAcceptIsRetriedElsewhereAndSkipped(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        TestBackend resets = h.raw(s -> {
            s.setSoLinger(true, 0);
            s.close();
        });
        EchoServer live = h.echo("live");
        h.routeAll("", Route.of("r", backend("r", FIRST, resets.address(), live.address()), RoutePolicy.DEFAULT));

        for (int i = 0; i < 10; i++) {
            assertThat(get("/" + i)).isEqualTo("live\nGET /" + i + "\n");
        }
        // One try reached it; the other requests skipped it (the default fail timeout is 10 s).
        assertThat(resets.accepted()).isEqualTo(1);
        assertThat(proxy.stats().endpointEjections()).isEqualTo(1);
        assertThat(proxy.stats().retries()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void withoutAFailTimeoutEveryRequestTriesTheDeadEndpoint(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer live = h.echo("live");
        RoutePolicy off = RoutePolicy.builder().failTimeout(Duration.ZERO).build();
        h.routeAll("", Route.of("r", backend("r", FIRST, ProxyHarness.closedPort(), live.address()), off));

        for (int i = 0; i < 5; i++) {
            assertThat(get("/" + i)).isEqualTo("live\nGET /" + i + "\n");
        }
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(5);
        assertThat(proxy.stats().endpointEjections()).isZero();
    }

    /** A GET on a new client connection (no pooled upstream connection carries over between requests). */
    private String get(String path) throws Exception {
        try (RawHttp c = RawHttp.connect(h.address())) {
            RawHttp.Response r = c.get("a", path);
            assertThat(r.status()).as("GET %s", path).isEqualTo(200);
            return r.text();
        }
    }
}
