package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.Transport;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An edge that starts before it knows its routes ({@link HttpProxy#holdAcceptsUntilFirstTable}) leaves its first
 * clients in the accept queue until the first table, then serves them by it: late, not a 404.
 */
class FirstTableTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aClientThatCameBeforeTheFirstTableIsServedByIt(Transport.Kind kind) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        HttpProxy proxy = h.closeLater(new HttpProxy(h.closeLater(Transport.create(kind, 1)), ProxyHarness.QUIET));
        proxy.holdAcceptsUntilFirstTable();
        InetSocketAddress at = proxy.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        EchoServer app = h.echo("app");

        RawHttp early = h.closeLater(RawHttp.connect(at)); // the kernel completes the handshake: it is queued
        early.send("GET /first HTTP/1.1\r\nHost: app.example\r\n\r\n");
        // Without the hold the empty table's 404 would arrive at once, and closedWithin fails on its bytes.
        assertThat(early.closedWithin(300)).as("held open, unanswered").isFalse();
        assertThat(proxy.stats().connections.sum()).as("not accepted yet").isZero();

        HttpRouteTable.Builder<Route> table = HttpRouteTable.builder();
        table.add("app.example", PathType.PREFIX, "/", route("app", app.address()));
        proxy.apply(table.build());

        RawHttp.Response r = early.read();
        assertThat(r.status()).isEqualTo(200);
        assertThat(new String(r.body(), StandardCharsets.UTF_8)).endsWith("GET /first\n");
        assertThat(h.closeLater(RawHttp.connect(at)).get("app.example", "/second").status())
                .as("and later clients as usual").isEqualTo(200);
    }
}
