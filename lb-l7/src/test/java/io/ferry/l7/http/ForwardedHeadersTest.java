package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static io.ferry.l7.http.RawHttp.readHead;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.Headers;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The headers each side sees: hop-by-hop ones stay on their leg; the backend learns who the client is. */
class ForwardedHeadersTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void backendSeesForwardedHeadersAndNoHopByHopOnes(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("GET /h HTTP/1.1\r\n"
                   + "Host: Shop.Example.com:8080\r\n"
                   + "Connection: keep-alive, X-Hop\r\n"
                   + "Keep-Alive: timeout=5\r\n"
                   + "TE: trailers\r\n"
                   + "Upgrade: h2c\r\n"
                   + "Proxy-Connection: keep-alive\r\n"
                   + "X-Hop: secret\r\n"
                   + "X-Forwarded-For: 203.0.113.7\r\n"
                   + "X-Forwarded-For: 198.51.100.1, 192.0.2.9\r\n"
                   + "X-Forwarded-Proto: https\r\n"
                   + "X-Real-IP: 203.0.113.7\r\n"
                   + "X-Request-ID: abc-123\r\n"
                   + "X-Keep: yes\r\n"
                   + "\r\n");
            assertThat(c.read().status()).isEqualTo(200);
        }
        Headers seen = a.take().headers();
        for (String hop : new String[] {"Connection", "Keep-Alive", "TE", "Upgrade", "Proxy-Connection", "X-Hop"}) {
            assertThat(seen.containsKey(hop)).as(hop).isFalse();
        }
        assertThat(seen.get("Host")).containsExactly("Shop.Example.com:8080");
        assertThat(seen.get("X-Forwarded-For")).containsExactly("203.0.113.7, 198.51.100.1, 192.0.2.9, 127.0.0.1");
        assertThat(seen.get("X-Forwarded-Proto")).containsExactly("http");
        assertThat(seen.get("X-Forwarded-Host")).containsExactly("Shop.Example.com:8080");
        assertThat(seen.get("X-Forwarded-Port")).containsExactly(Integer.toString(h.address().getPort()));
        assertThat(seen.get("X-Real-IP")).containsExactly("127.0.0.1");
        assertThat(seen.get("X-Request-ID")).containsExactly("abc-123");
        assertThat(seen.get("X-Keep")).containsExactly("yes");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void requestIdIsMadeWhenTheClientSentNone(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/1").status()).isEqualTo(200);
            assertThat(c.get("a", "/2").status()).isEqualTo(200);
            c.send("GET /3 HTTP/1.1\r\nHost: a\r\nX-Request-ID: bad id with spaces\r\n\r\n");
            assertThat(c.read().status()).isEqualTo(200);
        }
        String first = a.take().headers().getFirst("X-Request-ID");
        String second = a.take().headers().getFirst("X-Request-ID");
        Headers third = a.take().headers();
        assertThat(first).matches("[0-9a-f]{32}");
        assertThat(second).matches("[0-9a-f]{32}").isNotEqualTo(first);
        // An ID that could break a log line is replaced, not passed on.
        assertThat(third.get("X-Request-ID")).singleElement().asString().matches("[0-9a-f]{32}");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientSeesNoHopByHopHeadersOfTheResponse(Transport.Kind kind) throws Exception {
        h.start(kind);
        answering("HTTP/1.1 200 OK\r\n"
                  + "Connection: keep-alive, X-Secret\r\n"
                  + "Keep-Alive: timeout=5, max=100\r\n"
                  + "Proxy-Connection: keep-alive\r\n"
                  + "Upgrade: h2c\r\n"
                  + "X-Secret: 1\r\n"
                  + "X-Visible: 2\r\n"
                  + "Content-Length: 2\r\n"
                  + "\r\nok");

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("a", "/");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("ok");
            assertThat(r.header("x-visible")).isEqualTo("2");
            assertThat(r.header("content-length")).isEqualTo("2");
            for (String hop : new String[] {"connection", "keep-alive", "proxy-connection", "upgrade", "x-secret"}) {
                assertThat(r.has(hop)).as(hop).isFalse();
            }
        }
    }

    /** With no other hop-by-hop header (the decoder says so), what {@code Connection} names still goes. */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientSeesNoHeaderTheResponsesConnectionNames(Transport.Kind kind) throws Exception {
        h.start(kind);
        answering("HTTP/1.1 200 OK\r\n"
                  + "Connection: keep-alive, X-Secret\r\n"
                  + "X-Secret: 1\r\n"
                  + "X-Visible: 2\r\n"
                  + "Content-Length: 2\r\n"
                  + "\r\nok");

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("a", "/");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("x-visible")).isEqualTo("2");
            assertThat(r.has("x-secret")).isFalse();
            assertThat(r.has("connection")).isFalse();
        }
    }

    /** Routes everything to a backend that answers each connection's first request with {@code response}. */
    private void answering(String response) throws Exception {
        TestBackend server = h.raw(s -> {
            readHead(s.getInputStream());
            s.getOutputStream().write(response.getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            s.getInputStream().read();
        });
        h.routeAll("", route("server", server.address()));
    }
}
