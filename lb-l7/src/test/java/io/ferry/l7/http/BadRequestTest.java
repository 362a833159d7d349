package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Transport;
import io.ferry.l7.route.RoutePolicy;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Requests the proxy refuses: malformed or ambiguous framing is answered and the connection closed, never guessed
 * at, and nothing reaches the backend.
 */
class BadRequestTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    static Stream<Arguments> malformed() {
        String longLine = "GET /" + "a".repeat(8200) + " HTTP/1.1\r\nHost: a\r\n\r\n";
        String bigHeaders = "GET / HTTP/1.1\r\nHost: a\r\n" + ("X-Filler: " + "b".repeat(1000) + "\r\n").repeat(40)
                            + "\r\n";
        Object[][] cases = {
            {"bad request line", "GARBAGE\r\n\r\n", 400},
            {"bad method token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"bad version", "GET / HTTP/9.9x\r\nHost: a\r\n\r\n", 400},
            {"two different Content-Lengths",
             "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
            {"two equal Content-Lengths",
             "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
            {"Content-Length with Transfer-Encoding",
             "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
            {"Transfer-Encoding not ending in chunked",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400},
            {"space in a header name", "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400},
            {"control byte in a header value", "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\u0001b\r\n\r\n", 400},
            {"NUL in a header name", "GET / HTTP/1.1\r\nHost: a\r\nX-B\u0000d: v\r\n\r\n", 400},
            {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
            {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
            {"slash in Host", "GET / HTTP/1.1\r\nHost: a.example.com/evil\r\n\r\n", 400},
            {"space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
            {"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400},
            {"dot-dot in Host", "GET / HTTP/1.1\r\nHost: a..example.com\r\n\r\n", 400},
            {"bad authority in the target", "GET http://a\\b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"unknown scheme in the target", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"path above the root", "GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", 400},
            {"request line over 8 KiB", longLine, 414},
            {"headers over 32 KiB", bigHeaders, 431},
        };
        Stream.Builder<Arguments> out = Stream.builder();
        for (Transport.Kind kind : Transport.Kind.values()) {
            for (Object[] c : cases) {
                out.add(Arguments.of(kind, c[0], c[1], c[2]));
            }
        }
        return out.build();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("malformed")
    void malformedRequestIsAnsweredAndClosed(Transport.Kind kind, String what, String request, int status)
            throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send(request);
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(status);
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        // "bad chunk size" has a valid head, which may have gone upstream before the body broke.
        if (!what.equals("bad chunk size")) {
            assertThat(a.requests()).isZero();
            assertThat(proxy.stats().badRequests()).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void sizedBodyOverTheLimitIs413BeforeTheBody(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", RoutePolicy.builder().maxBodySize(1000).build(), a.address()));

        try (RawHttp c = h.connect()) {
            c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(413);
            assertThat(r.text()).contains("413 Request Entity Too Large");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        try (RawHttp c = h.connect()) {
            c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(1000));
            assertThat(c.read().status()).isEqualTo(200);
        }
        assertThat(a.requests()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void chunkedBodyOverTheLimitIs413(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", RoutePolicy.builder().maxBodySize(1000).build(), a.address()));

        try (RawHttp c = h.connect()) {
            String chunk = Integer.toHexString(600) + "\r\n" + "y".repeat(600) + "\r\n";
            c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + "0\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(413);
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        try (RawHttp c = h.connect()) {
            String chunk = Integer.toHexString(500) + "\r\n" + "y".repeat(500) + "\r\n";
            c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + "0\r\n\r\n");
            assertThat(c.read().text()).endsWith("y".repeat(1000));
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void unlimitedBodySizeTakesMoreThanTheDefault(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", RoutePolicy.builder().maxBodySize(0).build(), a.address()));

        int size = 3 * 1024 * 1024;
        try (RawHttp c = h.connect()) {
            c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + size + "\r\n\r\n" + "z".repeat(size));
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body().length).isEqualTo("a\nPOST /\n".length() + size);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void unsupportedExpectationIs417(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: something-else\r\n\r\n");
            assertThat(c.read().status()).isEqualTo(417);
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        assertThat(a.requests()).isZero();
    }
}
