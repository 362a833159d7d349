package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Client-side timeouts, and the access log on and off. */
class ClientTimeoutAndLogTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void idleKeepAliveConnectionIsClosed(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false)
                                                       .clientIdleTimeout(Duration.ofMillis(200)).build());
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            // A slow response is not idleness: the timeout counts from the end of the response.
            assertThat(c.get("a", "/delay/400").status()).isEqualTo(200);
            long start = System.nanoTime();
            assertThat(c.closedWithin(5_000)).isTrue();
            assertThat((System.nanoTime() - start) / 1_000_000).isBetween(100L, 3_000L);
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().activeConnections() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void connectionThatNeverSendsIsClosed(Transport.Kind kind) throws Exception {
        h.start(kind, HttpProxyConfig.builder().accessLog(false).clientIdleTimeout(Duration.ofMillis(200)).build());
        try (RawHttp c = h.connect()) {
            c.send("GET / HTTP/1.1\r\nHost:"); // and nothing more
            assertThat(c.closedWithin(5_000)).isTrue();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void accessLogOnOrOffServesTheSame(boolean on) throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        HttpProxy proxy;
        // The log's writer thread takes System.out when the proxy is made.
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            proxy = h.start(Transport.Kind.NIO, HttpProxyConfig.builder().accessLog(on).build());
        } finally {
            System.setOut(stdout);
        }
        EchoServer a = h.echo("a");
        h.routeAll("a", route("t/a:80", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("GET /logged?q=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: test-agent\r\nX-Request-ID: rid-1\r\n\r\n");
            assertThat(c.read().status()).isEqualTo(200);
            assertThat(c.get("nowhere", "/").status()).isEqualTo(404);
        }
        assertThat(proxy.stats().responses(2)).isEqualTo(1);
        assertThat(proxy.stats().responses(4)).isEqualTo(1);
        if (on) {
            await().atMost(Duration.ofSeconds(5))
                   .until(() -> captured.toString(StandardCharsets.UTF_8).lines().count() == 2);
            String[] lines = captured.toString(StandardCharsets.UTF_8).split("\n");
            assertThat(lines[0]).startsWith("127.0.0.1 - - [")
                                .contains("\"GET /logged?q=1 HTTP/1.1\" 200 ")
                                .contains("\"test-agent\"")
                                .contains("[t/a:80]")
                                .contains(a.address().getAddress().getHostAddress() + ":" + a.address().getPort())
                                .endsWith(" 200 rid-1");
            assertThat(lines[1]).contains("\"GET / HTTP/1.1\" 404 ").contains("- - - -");
        } else {
            assertThat(captured.size()).isZero();
        }
    }
}
