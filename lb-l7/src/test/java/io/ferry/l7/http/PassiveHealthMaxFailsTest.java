package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.backend;
import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Backend;
import io.ferry.l4.Balancer;
import io.ferry.l4.Transport;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.net.SocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link RoutePolicy#maxFails()} other than nginx's default 1 ({@code upstream-max-fails}): the endpoint is skipped
 * only at the {@code max_fails}-th failed try in a row, and {@code 0} never skips it. As in
 * {@link PassiveHealthTest}, the balancer always picks the first endpoint, the refusing one, so each request tries
 * it unless passive health skips it; each is answered by the live one.
 */
class PassiveHealthMaxFailsTest {

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
    void withMaxFailsTwoTheSecondFailureInARowEjects(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer live = h.echo("live");
        RoutePolicy two = RoutePolicy.builder().maxFails(2).failTimeout(Duration.ofMinutes(1)).build();
        h.routeAll("", Route.of("r", backend("r", FIRST, ProxyHarness.closedPort(), live.address()), two));

        assertThat(get("/1")).isEqualTo("live\nGET /1\n");
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(1);
        assertThat(proxy.stats().endpointEjections()).as("after one failure").isZero();

        assertThat(get("/2")).isEqualTo("live\nGET /2\n");
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(2);
        assertThat(proxy.stats().endpointEjections()).as("after two failures").isEqualTo(1);

        for (int i = 3; i < 8; i++) {
            assertThat(get("/" + i)).isEqualTo("live\nGET /" + i + "\n");
        }
        assertThat(proxy.stats().upstreamConnectFailures()).as("skipped for the fail timeout").isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void withMaxFailsZeroEveryRequestTriesTheDeadEndpoint(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer live = h.echo("live");
        RoutePolicy off = RoutePolicy.builder().maxFails(0).build();
        h.routeAll("", Route.of("r", backend("r", FIRST, ProxyHarness.closedPort(), live.address()), off));

        for (int i = 0; i < 5; i++) {
            assertThat(get("/" + i)).isEqualTo("live\nGET /" + i + "\n");
        }
        assertThat(proxy.stats().upstreamConnectFailures()).isEqualTo(5);
        assertThat(proxy.stats().retries()).isEqualTo(5);
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
