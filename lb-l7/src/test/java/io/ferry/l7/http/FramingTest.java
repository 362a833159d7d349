package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static io.ferry.l7.http.RawHttp.readHead;
import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.RoutePolicy;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Message framing on the client connection: pipelining, 100-continue, responses without a body, HTTP/1.0. */
class FramingTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void pipelinedRequestsAreAnsweredInOrder(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            // The first takes longest and the second is fastest: answered out of order, it would show.
            c.send("GET /delay/300/first HTTP/1.1\r\nHost: a\r\n\r\n"
                   + "POST /delay/0/second HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                   + "POST /delay/100/third HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                   + "GET /delay/0/fourth HTTP/1.1\r\nHost: a\r\n\r\n");
            assertThat(c.read().text()).isEqualTo("a\nGET /delay/300/first\n");
            assertThat(c.read().text()).isEqualTo("a\nPOST /delay/0/second\nhello");
            assertThat(c.read().text()).isEqualTo("a\nPOST /delay/100/third\nabcde");
            assertThat(c.read().text()).isEqualTo("a\nGET /delay/0/fourth\n");
            // And the connection goes on after the pipeline.
            assertThat(c.get("a", "/fifth").text()).isEqualTo("a\nGET /fifth\n");
        }
        assertThat(a.connections()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void pipelinedRequestsAfterALocalAnswerAreAnsweredInOrder(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("a", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("GET /1 HTTP/1.1\r\nHost: nowhere\r\n\r\n"
                   + "POST /2 HTTP/1.1\r\nHost: nowhere\r\nContent-Length: 3\r\n\r\nxyz"
                   + "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
                   + "GET /4 HTTP/1.1\r\nHost: nowhere\r\n\r\n");
            assertThat(c.read().status()).isEqualTo(404);
            assertThat(c.read().status()).isEqualTo(404);
            assertThat(c.read().text()).isEqualTo("a\nGET /3\n");
            assertThat(c.read().status()).isEqualTo(404);
            assertThat(c.get("a", "/5").status()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void expectContinueGets100ThenTheResponse(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
            assertThat(c.read().status()).isEqualTo(100);
            c.send("hello");
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("a\nPOST /up\nhello");
            assertThat(c.get("a", "/next").status()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void expectContinueOverTheLimitIs413WithoutTheBody(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", RoutePolicy.builder().maxBodySize(1000).build(), a.address()));

        try (RawHttp c = h.connect()) {
            c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(413);
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        assertThat(a.requests()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void expectContinueAnsweredByTheProxyClosesTheConnection(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("a", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            // The client may never send the body it announced, or may send it after all: either way the next
            // bytes cannot be trusted to start a request, so the proxy must not wait for more on this connection.
            c.send("POST /up HTTP/1.1\r\nHost: nowhere\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(404);
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void headHasNoBodyOnTheWireButKeepsContentLength(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("HEAD /thing HTTP/1.1\r\nHost: a\r\n\r\n");
            RawHttp.Response head = c.read(true);
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.header("content-length")).isEqualTo(Integer.toString("a\nHEAD /thing\n".length()));
            assertThat(head.has("transfer-encoding")).isFalse();
            // A stray body byte would be read as the start of this response.
            assertThat(c.get("a", "/after").text()).isEqualTo("a\nGET /after\n");
        }
        assertThat(a.connections()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void noContentAndNotModifiedHaveNoBody(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            for (int code : new int[] {204, 304, 204}) {
                RawHttp.Response r = c.get("a", "/status/" + code);
                assertThat(r.status()).isEqualTo(code);
                assertThat(r.has("transfer-encoding")).isFalse();
                assertThat(c.get("a", "/after").text()).isEqualTo("a\nGET /after\n");
            }
        }
        // Bodyless answers end on their own: the upstream connection is kept.
        assertThat(a.connections()).isEqualTo(1);
        assertThat(proxy.stats().upstreamConnects()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void closeDelimitedResponseIsChunkedToTheClient(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        TestBackend old = h.raw(s -> {
            readHead(s.getInputStream());
            s.getOutputStream().write("HTTP/1.0 200 OK\r\nX-Old: yes\r\n\r\nuntil the end"
                                              .getBytes(StandardCharsets.US_ASCII));
        });
        h.routeAll("", route("old", old.address()));

        try (RawHttp c = h.connect()) {
            for (int i = 0; i < 2; i++) {
                RawHttp.Response r = c.get("a", "/");
                assertThat(r.header("transfer-encoding")).isEqualTo("chunked");
                assertThat(r.text()).isEqualTo("until the end");
            }
        }
        // The end of such a response is the end of its connection: none is reused.
        assertThat(old.accepted()).isEqualTo(2);
        assertThat(proxy.stats().upstreamReuses()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void interimResponsesNobodyAskedForAreDropped(Transport.Kind kind) throws Exception {
        h.start(kind);
        TestBackend hints = h.raw(s -> {
            readHead(s.getInputStream());
            s.getOutputStream().write(("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                                       + "HTTP/1.1 100 Continue\r\n\r\n"
                                       + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                                              .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            s.getInputStream().read();
        });
        h.routeAll("", route("hints", hints.address()));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("a", "/");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("ok");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void http10ClientsAreAnsweredAndClosedUnlessKeepAlive(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("GET /old HTTP/1.0\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.text()).isEqualTo("a\nGET /old\n");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
        try (RawHttp c = h.connect()) {
            c.send("GET /kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.header("connection")).isEqualToIgnoringCase("keep-alive");
            assertThat(r.text()).isEqualTo("a\nGET /kept\n");
            c.send("GET /again HTTP/1.0\r\n\r\n");
            assertThat(c.read().text()).isEqualTo("a\nGET /again\n");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void connectionCloseFromTheClientClosesAfterTheResponse(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            c.send("GET /bye HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(r.text()).isEqualTo("a\nGET /bye\n");
            assertThat(c.closedWithin(5_000)).isTrue();
        }
    }
}
