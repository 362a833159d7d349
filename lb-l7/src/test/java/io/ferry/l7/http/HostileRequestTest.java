package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 8's list of ambiguous or malformed HTTP/1 requests (request smuggling, header injection), byte for byte on
 * a raw socket, beyond the cases of {@link BadRequestTest}: each is answered with one exact status line and a closed
 * connection, and the backend — {@link StrictBackend}, which would report anything it could not parse — never reads
 * a whole request. The last group are inputs RFC 9112 lets a server accept, which Ferry serves.
 */
class HostileRequestTest {

    private static final String POST_CHUNKED = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    static Stream<Arguments> refused() {
        Object[][] cases = {
            // obs-fold (RFC 9112 5.2): Netty would join the lines; refused instead.
            {"obs-fold with a space", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
            {"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400},
            {"obs-fold of Transfer-Encoding",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
            {"obs-fold of Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n 0\r\n\r\nabc", 400},
            {"first header line starts with a space", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
            // Whitespace between a field name and its colon (RFC 9112 5.1: MUST 400).
            {"space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
            {"tab before the colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
            {"space before the colon of Transfer-Encoding",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
            // Bytes before the request line (empty lines are allowed, see below).
            {"space before the request line", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"tab before the request line", "\tGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"NUL before the request line", "\0GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"a line of garbage before the request line", "xx\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            // Transfer-Encoding other than exactly one final chunked.
            {"chunked twice in one field",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
            {"chunked in two fields",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
             400},
            {"a coding before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
             400},
            {"a coding after chunked, in a second field",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", 400},
            {"identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\nabc", 400},
            {"a lookalike of chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
            {"chunked with a parameter",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400},
            {"chunked after a vertical tab",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\u000bchunked\r\n\r\n0\r\n\r\n", 400},
            {"an empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400},
            {"Transfer-Encoding in HTTP/1.0",
             "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
            {"Content-Length with Transfer-Encoding in HTTP/1.0",
             "POST / HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", 400},
            {"Transfer-Encoding before Content-Length",
             "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
            // Content-Length that is not one decimal number.
            {"negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
            {"Content-Length with a sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400},
            {"hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400},
            {"Content-Length list of equal values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
             400},
            {"Content-Length list of different values",
             "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,6\r\n\r\nhello", 400},
            {"Content-Length with a space inside", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello",
             400},
            {"Content-Length over a long", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
             400},
            {"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400},
            {"Content-Length in exponent form", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e1\r\n\r\n", 400},
            // Line ends and control bytes.
            {"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", 400},
            {"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
            {"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
            {"bare CR ending a header", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rContent-Length: 5\r\n\r\nhello", 400},
            {"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u007fb\r\n\r\n", 400},
            {"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400},
            {"a byte above 0x7f in a name", "GET / HTTP/1.1\r\nHost: a\r\nX\u00e9: b\r\n\r\n", 400},
            {"an empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
            {"a header line without a colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n", 400},
            {"a control byte in the target", "GET /a\u0001b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"DEL in the target", "GET /a\u007fb HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"NUL in the target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"a space in the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"trailing space on the request line", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
            {"userinfo in the target", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
            {"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400},
            {"HTTP/0.9", "GET /\r\n\r\n", 400},
            {"two-digit minor version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
            {"HTTP/2.0 on an HTTP/1 connection", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
            {"HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
        };
        return Stream.of(cases).map(c -> Arguments.of(c[0], c[1], c[2]));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void refusedAndClosedBeforeTheBackend(String what, String request, int status) throws Exception {
        HttpProxy proxy = h.start(Transport.Kind.NIO);
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));

        try (RawHttp c = h.connect()) {
            c.send(request);
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(status);
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        assertThat(proxy.stats().badRequests()).isEqualTo(1);
        assertThat(backend.complete()).isZero();
        assertThat(backend.malformed()).isEmpty();
        // The proxy is still answering.
        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/after").header("x-backend")).isEqualTo("strict");
        }
    }

    static Stream<Arguments> badChunks() {
        Object[][] cases = {
            {"negative size", "-1\r\nabc\r\n0\r\n\r\n"},
            {"0x prefix", "0x3\r\nabc\r\n0\r\n\r\n"},
            {"size over 2^31", "ffffffffffff\r\nabc\r\n0\r\n\r\n"},
            {"size that wraps to 3 in 32 bits", "100000003\r\nabc\r\n0\r\n\r\n"},
            {"space before the size", " 3\r\nabc\r\n0\r\n\r\n"},
            {"space after the size", "3 \r\nabc\r\n0\r\n\r\n"},
            {"empty size", "\r\nabc\r\n0\r\n\r\n"},
            {"bare LF after the size", "3\nabc\r\n0\r\n\r\n"},
            {"bare LF after an extension", "3;x\nabc\r\n0\r\n\r\n"},
            {"data longer than the size", "3\r\nabcX\r\n0\r\n\r\n"},
            {"bare LF after the data", "3\r\nabc\n0\r\n\r\n"},
            {"a smuggled request after a short chunk",
             "3\r\nabcGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n0\r\n\r\n"},
            {"a good chunk, then a bad one", "3\r\nabc\r\nzz\r\nabc\r\n0\r\n\r\n"},
        };
        return Stream.of(cases).map(c -> Arguments.of(c[0], c[1]));
    }

    /**
     * A bad chunk size breaks a request whose head was good, and may already have gone upstream (the body streams).
     * The client gets 400 and a closed connection; the upstream connection is closed in the middle of the request,
     * so the backend never reads a whole request, and never one that hid in the body.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badChunks")
    void badChunkIsRefusedAndTheBackendNeverReadsAWholeRequest(String what, String body) throws Exception {
        HttpProxy proxy = h.start(Transport.Kind.NIO);
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));
        // A kept-alive upstream connection first, so that the head goes upstream at once.
        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/warm").status()).isEqualTo(200);
        }

        try (RawHttp c = h.connect()) {
            c.send(POST_CHUNKED + body);
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        assertThat(proxy.stats().badRequests()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().activeConnections() == 0);
        assertThat(backend.complete()).isEqualTo(1);
        assertThat(backend.targets()).containsExactly("/warm");
        assertThat(backend.malformed()).isEmpty();
    }

    static Stream<Arguments> tolerated() {
        Object[][] cases = {
            {"empty lines before the request line (RFC 9112 2.2)", "\r\n\r\nGET /t HTTP/1.1\r\nHost: a\r\n\r\n"},
            {"chunked in capitals", "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n"},
            {"Content-Length with leading zeros", "POST /t HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello"},
            {"whitespace before a chunk extension",
             "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x=y\r\nabc\r\n0\r\n\r\n"},
            {"a tab inside a value", "GET /t HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n"},
            {"a byte above 0x7f in a value (obs-text)", "GET /t HTTP/1.1\r\nHost: a\r\nX: \u00e9\r\n\r\n"},
            {"a trailer the proxy must drop (Content-Length)",
             "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 9\r\n\r\n"},
        };
        return Stream.of(cases).map(c -> Arguments.of(c[0], c[1]));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tolerated")
    void toleratedAndForwardedWellFormed(String what, String request) throws Exception {
        HttpProxy proxy = h.start(Transport.Kind.NIO);
        StrictBackend backend = h.closeLater(StrictBackend.start());
        h.routeAll("", route("a", backend.address()));

        try (RawHttp c = h.connect()) {
            c.send(request);
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("x-backend")).isEqualTo("strict");
            assertThat(c.get("a", "/next").status()).isEqualTo(200);
        }
        assertThat(proxy.stats().badRequests()).isZero();
        assertThat(backend.targets()).containsExactly("/t", "/next");
        assertThat(backend.malformed()).isEmpty();
    }
}
