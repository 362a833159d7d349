package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The HTTP/2 front end ({@link Http2Frontend} and its {@link Http2FrontendStream}s) with a real HTTP/2 client over
 * TLS (Netty's frame codec with a child channel per stream, which sends DATA only as the proxy's windows allow):
 * uploads far larger than the 64 KiB window through a backend that stalls first, early answers to a client still
 * uploading (RST_STREAM NO_ERROR after the whole response, RFC 9113 8.1), streams reset by the client while their
 * backend answers, and large chunked responses with trailers. Backends are raw sockets that share no code with the
 * proxy.
 */
class Http2FrontendTest {

    private static final Duration DEADLINE = Duration.ofSeconds(20);
    private static final long MIB = 1024 * 1024;
    private static final long NO_ERROR = Http2Error.NO_ERROR.code();
    private static final long CANCEL = Http2Error.CANCEL.code();
    /** The upload that an early answer interrupts. */
    private static final long UPLOAD = 8 * MIB;

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    private HttpProxy proxy;
    private InetSocketAddress https;
    private Transport clients;
    private EchoServer echo;
    private Exchange early;

    private void start(Transport.Kind kind) throws IOException {
        start(kind, ProxyHarness.QUIET);
    }

    private void start(Transport.Kind kind, HttpProxyConfig config) throws IOException {
        proxy = h.start(kind, config);
        proxy.applyTls(TlsTable.of(TlsCertificate.generateDefault()));
        https = proxy.bindHttps(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        clients = h.closeLater(Transport.create(Transport.Kind.NIO, 1));
    }

    private void routes(Map<String, Route> byPrefix) {
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        byPrefix.forEach((prefix, route) -> b.add("", PathType.PREFIX, prefix, route));
        proxy.apply(b.build());
    }

    private H2Client connect() throws Exception {
        return h.closeLater(H2Client.connect(clients, https));
    }

    private static Http2Headers request(String method, String path) {
        return new DefaultHttp2Headers().method(method).scheme("https").authority("h2.test").path(path);
    }

    /** What {@link PatternStream} of {@code length} bytes sums to: {@code "<bytes> <crc32c>"}. */
    private static String checksumOf(long length) throws IOException {
        try (PatternStream p = new PatternStream(length)) {
            p.transferTo(OutputStream.nullOutputStream());
            return p.checksum().toString();
        }
    }

    // ---- 1. request bodies and flow control ----------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void uploadsFarLargerThanTheWindowArriveWholeThroughABackendThatStallsFirst(Transport.Kind kind)
            throws Exception {
        start(kind);
        CountDownLatch release = new CountDownLatch(1);
        h.closeLater(release::countDown);
        AtomicInteger heads = new AtomicInteger();
        TestBackend slow = h.raw(s -> {
            InputStream in = new BufferedInputStream(s.getInputStream());
            for (Head head; (head = Head.read(in)) != null; ) {
                heads.incrementAndGet();
                awaitQuietly(release); // reads nothing at first: the proxy's writes back up to the client's window
                PatternStream.Checksum sum = new PatternStream.Checksum();
                head.readBody(in, sum);
                respond(s, 200, head.target + " " + sum);
            }
        });
        routes(Map.of("/", ProxyHarness.route("slow", RoutePolicy.builder().maxBodySize(0).build(),
                                              slow.address())));

        H2Client c = connect();
        // Lengths that differ, so that bodies mixed up between streams show; one without Content-Length (chunked
        // to the backend).
        long[] lengths = {8 * MIB, 8 * MIB + 3, 8 * MIB + 70_001};
        List<Exchange> uploads = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            Http2Headers head = request("POST", "/up/" + i);
            if (i != 1) {
                head.setLong("content-length", lengths[i]);
            }
            uploads.add(c.open(head, lengths[i]));
        }
        await().atMost(DEADLINE).until(() -> heads.get() == lengths.length);
        // The backend takes nothing: once the upstream sockets are full the proxy takes no more from the
        // client's streams, and gives back no window, so the client cannot send. The client stays stuck well short
        // of the end of each body.
        AtomicLong last = new AtomicLong(-1);
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(100)).during(Duration.ofMillis(700))
               .until(() -> {
                   long now = sent(uploads);
                   return last.getAndSet(now) == now;
               });
        long proxyTookIn = proxy.stats().bytesFromClients();
        System.out.printf("Http2FrontendTest: %s stalled upload: client sent %s, proxy took in %d%n", kind,
                          uploads.stream().map(x -> Long.toString(x.sent.get())).toList(), proxyTookIn);
        for (int i = 0; i < lengths.length; i++) {
            assertThat(uploads.get(i).sent.get()).as("stream %d sent while the backend stalls", i)
                                                 .isLessThan(lengths[i]);
            assertThat(uploads.get(i).ended).isNotDone();
        }
        assertThat(proxyTookIn).isLessThanOrEqualTo(sent(uploads));

        release.countDown();
        for (int i = 0; i < lengths.length; i++) {
            Exchange x = uploads.get(i);
            x.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
            assertThat(x.status()).isEqualTo(200);
            assertThat(x.text()).isEqualTo("/up/" + i + " " + checksumOf(lengths[i]));
            assertThat(x.reset).isNotDone();
        }
        assertThat(proxy.stats().bytesFromClients()).isEqualTo(lengths[0] + lengths[1] + lengths[2]);
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);
        assertThat(c.goAway).isNotDone();
    }

    private static long sent(List<Exchange> xs) {
        return xs.stream().mapToLong(x -> x.sent.get()).sum();
    }

    // ---- 2. an answer before the request is all sent ---------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aBodyOverTheRouteLimitIsAnswered413WholeWhileTheClientUploads(Transport.Kind kind) throws Exception {
        H2Client c = earlyAnswer(kind, "/limited/x", 413, "413 Request Entity Too Large");
        aGetIsServed(c);
    }


    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aBodyOverTheRouteLimitIsAnswered413ThenResetWithNoErrorAndTheConnectionTakesUploads(Transport.Kind kind)
            throws Exception {
        H2Client c = earlyAnswer(kind, "/limited/x", 413, "413 Request Entity Too Large");
        assertThat(early.reset.get(DEADLINE.toSeconds(), TimeUnit.SECONDS)).as("RST_STREAM error code")
                                                                            .isEqualTo(NO_ERROR);
        anUploadIsServed(c);
        aGetIsServed(c);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void anUploadToAnUnknownPathIsAnswered404WholeThenResetAndTheConnectionGoesOn(Transport.Kind kind)
            throws Exception {
        H2Client c = earlyAnswer(kind, "/nowhere", 404, "404 Not Found");
        // Reset after the response: the client stops sending, the stream and its window are given up.
        assertThat(early.reset.get(DEADLINE.toSeconds(), TimeUnit.SECONDS)).as("RST_STREAM error code")
                                                                            .isIn(NO_ERROR, CANCEL);
        assertThat(early.sent.get()).isLessThan(UPLOAD);
        anUploadIsServed(c);
        aGetIsServed(c);
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);
    }


    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void anUploadToAnUnknownPathIsAnswered404ThenResetWithNoError(Transport.Kind kind) throws Exception {
        earlyAnswer(kind, "/nowhere", 404, "404 Not Found");
        assertThat(early.reset.get(DEADLINE.toSeconds(), TimeUnit.SECONDS)).as("RST_STREAM error code")
                                                                            .isEqualTo(NO_ERROR);
    }

    /**
     * An upload of {@link #UPLOAD} bytes to {@code path}, answered {@code status} by the proxy itself while the
     * client is still sending ({@link #early}): the client gets the whole answer, the stream ended by the server.
     */
    private H2Client earlyAnswer(Transport.Kind kind, String path, int status, String page) throws Exception {
        start(kind);
        echo = h.echo("echo");
        routes(Map.of("/limited", ProxyHarness.route("limited", RoutePolicy.builder().maxBodySize(MIB).build(),
                                                     echo.address()),
                      "/upload", ProxyHarness.route("upload", RoutePolicy.builder().maxBodySize(0).build(),
                                                    echo.address())));
        H2Client c = connect();
        early = c.open(request("POST", path).setLong("content-length", UPLOAD), UPLOAD);
        early.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        assertThat(early.status()).isEqualTo(status);
        assertThat(early.text()).contains(page);
        assertThat(early.head.getLong("content-length")).isEqualTo((long) early.body.size());
        assertThat(echo.requests()).isZero();
        assertThat(proxy.stats().responses(4)).isEqualTo(1);
        return c;
    }

    /** An upload of four windows on {@code c}: it needs the connection's window, all of it given back. */
    private void anUploadIsServed(H2Client c) throws Exception {
        long length = 256 * 1024;
        Exchange upload = c.open(request("POST", "/upload").setLong("content-length", length), length);
        upload.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        assertThat(upload.status()).isEqualTo(200);
        assertThat(upload.text()).isEqualTo(checksumOf(length));
    }

    private void aGetIsServed(H2Client c) throws Exception {
        Exchange get = c.open(request("GET", "/upload/get"), 0);
        get.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        assertThat(get.status()).isEqualTo(200);
        assertThat(get.text()).isEqualTo("echo\nGET /upload/get\n");
        assertThat(c.goAway).isNotDone();
    }

    // ---- 3. streams reset by the client ------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aStreamResetByTheClientIsAnAbortItsUpstreamIsClosedAndTheOtherStreamsComplete(Transport.Kind kind)
            throws Exception {
        ByteArrayOutputStream accessLog = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        // The access log writes to the System.out of its creation: this proxy's lines are kept here.
        System.setOut(new PrintStream(accessLog, true, StandardCharsets.UTF_8));
        try {
            start(kind, HttpProxyConfig.builder().accessLog(true).build());
        } finally {
            System.setOut(stdout);
        }
        echo = h.echo("echo");
        CountDownLatch slowClosed = new CountDownLatch(1);
        CountDownLatch hangClosed = new CountDownLatch(1);
        AtomicInteger hangs = new AtomicInteger();
        // /slow: a head and 64 KiB of a 4 MiB body, then nothing; /hang: no answer at all; anything else a small
        // answer on a kept-alive connection. The first two wait for the proxy to let go of the connection.
        TestBackend backend = h.raw(s -> {
            InputStream in = new BufferedInputStream(s.getInputStream());
            for (Head head; (head = Head.read(in)) != null; ) {
                head.readBody(in, new PatternStream.Checksum());
                if (head.target.startsWith("/slow")) {
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + 4 * MIB + "\r\n\r\n")
                                      .getBytes(StandardCharsets.US_ASCII));
                    new PatternStream(64 * 1024).transferTo(out);
                    out.flush();
                    untilClosed(in);
                    slowClosed.countDown();
                    return;
                }
                if (head.target.startsWith("/hang")) {
                    hangs.incrementAndGet();
                    untilClosed(in);
                    hangClosed.countDown();
                    return;
                }
                respond(s, 200, "fresh " + head.target);
            }
        });
        routes(Map.of("/", ProxyHarness.route("backend", backend.address()),
                      "/upload", ProxyHarness.route("upload", RoutePolicy.builder().maxBodySize(0).build(),
                                                    echo.address())));
        H2Client c = connect();

        Exchange slow = c.open(request("GET", "/slow"), 0);
        Exchange hang = c.open(request("GET", "/hang"), 0);
        long length = 4 * MIB;
        Exchange upload = c.open(request("POST", "/upload").setLong("content-length", length), length);
        await().atMost(DEADLINE).until(() -> slow.head != null && slow.body.size() > 0 && hangs.get() == 1);

        // Both reset while their backend is answering: one after the response started, one before.
        slow.resetByClient();
        hang.resetByClient();
        assertThat(slowClosed.await(DEADLINE.toSeconds(), TimeUnit.SECONDS))
                .as("the upstream connection of the cut response is closed, not kept").isTrue();
        assertThat(hangClosed.await(DEADLINE.toSeconds(), TimeUnit.SECONDS)).isTrue();
        await().atMost(DEADLINE).until(() -> proxy.stats().clientAborts() == 2);
        assertThat(slow.status()).isEqualTo(200);
        assertThat(slow.endStream).isFalse();
        assertThat(hang.head).isNull();

        upload.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        assertThat(upload.status()).isEqualTo(200);
        assertThat(upload.text()).isEqualTo(checksumOf(length));
        // A new request to that backend on the same connection: a half-read connection taken from the pool would
        // answer it with the rest of the cut body.
        Exchange fresh = c.open(request("GET", "/fresh"), 0);
        fresh.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        assertThat(fresh.status()).isEqualTo(200);
        assertThat(fresh.text()).isEqualTo("fresh /fresh");
        assertThat(backend.accepted()).isEqualTo(3);
        assertThat(c.goAway).isNotDone();
        assertThat(c.connection.isActive()).isTrue();
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);
        assertThat(proxy.stats().clientAborts()).isEqualTo(2);
        // nginx's 499 for the request that had no response yet; the cut response keeps its status.
        await().atMost(DEADLINE).until(() -> accessLog.toString(StandardCharsets.UTF_8).lines().count() == 4);
        String log = accessLog.toString(StandardCharsets.UTF_8);
        assertThat(log).containsPattern("\"GET /hang HTTP/1.1\" 499 ").containsPattern("\"GET /slow HTTP/1.1\" 200 ")
                       .containsPattern("\"GET /fresh HTTP/1.1\" 200 ");
    }

    // ---- 4. large responses and trailers -------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void largeChunkedResponsesWithTrailersArriveWhole(Transport.Kind kind) throws Exception {
        start(kind);
        long length = 4 * MIB;
        String sum = checksumOf(length);
        // 4 MiB in chunks of odd sizes, then a trailer with the checksum.
        TestBackend backend = h.raw(s -> {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            for (Head head; (head = Head.read(in)) != null; ) {
                head.readBody(in, new PatternStream.Checksum());
                out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTrailer: x-checksum\r\n"
                           + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                byte[] buf = new byte[100_003];
                try (PatternStream body = new PatternStream(length)) {
                    for (int n; (n = body.read(buf, 0, buf.length)) > 0; ) {
                        out.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.write(buf, 0, n);
                        out.write('\r');
                        out.write('\n');
                    }
                }
                out.write(("0\r\nx-checksum: " + sum + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        });
        routes(Map.of("/", ProxyHarness.route("big", backend.address())));
        H2Client c = connect();

        List<Exchange> downloads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            downloads.add(c.open(request("GET", "/big/" + i), 0));
        }
        for (Exchange x : downloads) {
            x.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
            assertThat(x.status()).isEqualTo(200);
            assertThat(x.head.contains("transfer-encoding")).isFalse();
            assertThat(x.bodyChecksum()).isEqualTo(sum);
            assertThat(x.trailers).as("trailing HEADERS end the stream").isNotNull();
            assertThat(x.trailers.get("x-checksum").toString()).isEqualTo(sum);
            assertThat(x.reset).isNotDone();
        }
        assertThat(proxy.stats().bytesToClients()).isEqualTo(3 * length);
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);
    }

    // ---- 5. response heads ----------------------------------------------------------------------------------

    /**
     * Response heads reach the client as the backend wrote them, whichever way they go out (with a small body in
     * one buffer, alone before a larger or chunked body, ending the stream themselves, through Netty's encoder): names
     * in lower case (the client's decoder refuses others), connection-specific fields and those {@code Connection}
     * names left out, repeated fields and long values whole. A client that shrinks its HPACK table to nothing gets
     * the same, with the table size update its decoder requires before the next header block.
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void responseHeadsArriveAsTheBackendWroteThem(Transport.Kind kind) throws Exception {
        start(kind);
        String longValue = "v".repeat(300);
        String twoKib = "k".repeat(2048);
        TestBackend backend = h.raw(s -> {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            for (Head head; (head = Head.read(in)) != null; ) {
                String r = switch (head.target) {
                    case "/nginx" -> "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 18:00:00 GMT\r\n"
                                     + "Content-Type: text/plain\r\nContent-Length: 14\r\nConnection: keep-alive\r\n"
                                     + "Keep-Alive: timeout=5\r\nETag: \"5f-abc\"\r\nSet-Cookie: a=1\r\n"
                                     + "Set-Cookie: b=2; Path=/\r\nX-Long: " + longValue + "\r\n\r\n"
                                     + "fourteen bytes";
                    case "/nocontent" -> "HTTP/1.1 204 No Content\r\nX-Thing: yes\r\n\r\n";
                    case "/created" -> "HTTP/1.1 201 Created\r\nLocation: /created/1\r\nContent-Length: 4\r\n\r\n"
                                       + "made";
                    case "/private" -> "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: secret\r\n"
                                       + "X-Public: shown\r\nContent-Length: 2\r\n\r\nok";
                    case "/2k" -> "HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n" + twoKib;
                    case "/chunked" -> "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Thing: chunked\r\n\r\n"
                                       + "5\r\nhello\r\n0\r\n\r\n";
                    case "/head" -> "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Thing: head\r\n\r\n";
                    default -> "HTTP/1.1 500 Unknown\r\nContent-Length: 0\r\n\r\n";
                };
                out.write(r.getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            }
        });
        routes(Map.of("/", ProxyHarness.route("heads", backend.address())));

        for (Http2Settings settings : List.of(Http2Settings.defaultSettings(),
                                              Http2Settings.defaultSettings().headerTableSize(0))) {
            H2Client c = h.closeLater(H2Client.connect(clients, https, settings));
            for (int round = 0; round < 3; round++) { // again, after whatever the first round left in the tables
                Exchange nginx = c.open(request("GET", "/nginx"), 0);
                Exchange noContent = c.open(request("GET", "/nocontent"), 0);
                Exchange created = c.open(request("GET", "/created"), 0);
                Exchange hidden = c.open(request("GET", "/private"), 0);
                Exchange big = c.open(request("GET", "/2k"), 0);
                Exchange chunked = c.open(request("GET", "/chunked"), 0);
                Exchange head = c.open(request("HEAD", "/head"), 0);
                for (Exchange x : List.of(nginx, noContent, created, hidden, big, chunked, head)) {
                    x.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
                    assertThat(x.endStream).isTrue();
                    assertThat(x.reset).isNotDone();
                }
                String table = "table " + settings.headerTableSize() + ", round " + round;
                assertThat(nginx.status()).as(table).isEqualTo(200);
                assertThat(names(nginx.head)).as(table).containsExactlyInAnyOrder(
                        ":status", "server", "date", "content-type", "content-length", "etag", "set-cookie",
                        "set-cookie", "x-long", "strict-transport-security");
                assertThat(nginx.head.get("server").toString()).isEqualTo("nginx/1.22.1");
                assertThat(nginx.head.get("date").toString()).isEqualTo("Fri, 27 Nov 2026 18:00:00 GMT");
                assertThat(nginx.head.get("etag").toString()).isEqualTo("\"5f-abc\"");
                assertThat(nginx.head.getAll("set-cookie")).map(CharSequence::toString)
                                                           .containsExactly("a=1", "b=2; Path=/");
                assertThat(nginx.head.get("x-long").toString()).isEqualTo(longValue);
                assertThat(nginx.text()).isEqualTo("fourteen bytes");

                assertThat(noContent.status()).isEqualTo(204);
                assertThat(noContent.head.get("x-thing").toString()).isEqualTo("yes");
                assertThat(noContent.body.size()).isZero();

                assertThat(created.status()).isEqualTo(201);
                assertThat(created.head.get("location").toString()).isEqualTo("/created/1");
                assertThat(created.text()).isEqualTo("made");

                assertThat(names(hidden.head)).containsExactlyInAnyOrder(":status", "x-public", "content-length",
                                                                         "strict-transport-security");
                assertThat(hidden.text()).isEqualTo("ok");

                assertThat(big.text()).isEqualTo(twoKib);

                assertThat(names(chunked.head)).containsExactlyInAnyOrder(":status", "x-thing",
                                                                          "strict-transport-security");
                assertThat(chunked.text()).isEqualTo("hello");

                assertThat(head.status()).isEqualTo(200);
                assertThat(head.head.get("content-length").toString()).isEqualTo("1000");
                assertThat(head.head.get("x-thing").toString()).isEqualTo("head");
                assertThat(head.body.size()).isZero();
            }
            assertThat(c.goAway).isNotDone();
        }
    }

    /** The field names of {@code headers}, a repeated one as often as it is there. */
    private static List<String> names(Http2Headers headers) {
        List<String> names = new ArrayList<>();
        headers.forEach(e -> names.add(e.getKey().toString()));
        return names;
    }

    // ---- 6. streams in flight across a GOAWAY -----------------------------------------------------------------

    /**
     * Streams open when a GOAWAY goes either way are still answered in full: the client's (as a load generator that
     * stops sends one) and the proxy's own (a drain). Both take the response path's going-away branch (Netty's
     * encoder rather than a frame written past the flow controller), one test for both, so that the JIT has seen it
     * whichever side sent the GOAWAY.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void streamsInFlightWhenAGoAwayGoesEitherWayAreStillAnswered(boolean byClient) throws Exception {
        start(Transport.Kind.best());
        CountDownLatch release = new CountDownLatch(1);
        h.closeLater(release::countDown);
        AtomicInteger heads = new AtomicInteger();
        TestBackend held = h.raw(s -> {
            InputStream in = new BufferedInputStream(s.getInputStream());
            for (Head head; (head = Head.read(in)) != null; ) {
                heads.incrementAndGet();
                awaitQuietly(release); // answers only once the GOAWAY has gone
                respond(s, 200, "answer to " + head.target);
            }
        });
        routes(Map.of("/", ProxyHarness.route("held", held.address())));

        H2Client c = connect();
        List<Exchange> xs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            xs.add(c.open(request("GET", "/held/" + i), 0));
        }
        await().atMost(DEADLINE).until(() -> heads.get() == 3);
        if (byClient) {
            c.connection.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR))
                        .get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        } else {
            proxy.drain();
            assertThat(c.goAway.get(DEADLINE.toSeconds(), TimeUnit.SECONDS)).isEqualTo(NO_ERROR);
        }
        release.countDown();
        for (int i = 0; i < xs.size(); i++) {
            Exchange x = xs.get(i);
            x.ended.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
            assertThat(x.status()).as("stream %d", i).isEqualTo(200);
            assertThat(x.text()).isEqualTo("answer to /held/" + i);
            assertThat(x.endStream).isTrue();
            assertThat(x.reset).isNotDone();
        }
    }

    // ---- raw backends ------------------------------------------------------------------------------------

    /** A request head as a raw backend reads it: the target and the header fields (names lowercased). */
    private record Head(String target, Map<String, String> headers) {

        /** The next head, or {@code null} at the end of the connection. */
        static Head read(InputStream in) throws IOException {
            String requestLine = line(in);
            if (requestLine == null) {
                return null;
            }
            Map<String, String> headers = new HashMap<>();
            for (String f; !(f = line(in)).isEmpty(); ) {
                int colon = f.indexOf(':');
                headers.put(f.substring(0, colon).trim().toLowerCase(Locale.ROOT), f.substring(colon + 1).trim());
            }
            return new Head(requestLine.split(" ")[1], headers);
        }

        /** Reads the body (Content-Length or chunked) into {@code sum}. */
        void readBody(InputStream in, PatternStream.Checksum sum) throws IOException {
            byte[] buf = new byte[64 * 1024];
            if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
                for (long size; (size = Long.parseLong(line(in).split(";")[0].trim(), 16)) > 0; ) {
                    copy(in, size, buf, sum);
                    line(in);
                }
                while (!line(in).isEmpty()) {
                    // trailers
                }
            } else if (headers.containsKey("content-length")) {
                copy(in, Long.parseLong(headers.get("content-length")), buf, sum);
            }
        }

        private static void copy(InputStream in, long n, byte[] buf, PatternStream.Checksum sum)
                throws IOException {
            while (n > 0) {
                int r = in.read(buf, 0, (int) Math.min(buf.length, n));
                if (r < 0) {
                    throw new IOException("closed in the body");
                }
                sum.update(buf, 0, r);
                n -= r;
            }
        }

        /** One line without its CRLF; {@code null} at the end of the stream before any byte. */
        private static String line(InputStream in) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int ch; (ch = in.read()) != -1; ) {
                if (ch == '\n') {
                    String s = b.toString(StandardCharsets.ISO_8859_1);
                    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
                }
                b.write(ch);
            }
            if (b.size() == 0) {
                return null;
            }
            throw new IOException("closed in a line");
        }
    }

    private static void respond(Socket s, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        OutputStream out = s.getOutputStream();
        out.write(("HTTP/1.1 " + status + " OK\r\nContent-Length: " + b.length + "\r\n\r\n")
                          .getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();
    }

    /** Reads and drops until the proxy closes (or resets) the connection. */
    private static void untilClosed(InputStream in) {
        try {
            while (in.read() != -1) {
                // nothing more is expected
            }
        } catch (IOException reset) {
            // closed as well
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(DEADLINE.toSeconds() * 2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- the client --------------------------------------------------------------------------------------

    /**
     * An HTTP/2 client connection over TLS (ALPN {@code h2}, any certificate trusted): Netty's frame codec and a
     * child channel per stream ({@link Exchange}). It returns window for what its streams read, at once.
     */
    private static final class H2Client implements AutoCloseable {

        final Channel connection;
        final CompletableFuture<Long> goAway = new CompletableFuture<>();

        private H2Client(Channel connection) {
            this.connection = connection;
        }

        static H2Client connect(Transport transport, InetSocketAddress address) throws Exception {
            return connect(transport, address, Http2Settings.defaultSettings());
        }

        /** With {@code settings} as the client's own (its HPACK table size, for one). */
        static H2Client connect(Transport transport, InetSocketAddress address, Http2Settings settings)
                throws Exception {
            SslContext ssl = SslContextBuilder.forClient()
                                              .trustManager(InsecureTrustManagerFactory.INSTANCE)
                                              .applicationProtocolConfig(new ApplicationProtocolConfig(
                                                      ApplicationProtocolConfig.Protocol.ALPN,
                                                      ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                                                      ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                                                      ApplicationProtocolNames.HTTP_2))
                                              .build();
            CompletableFuture<Long> goAway = new CompletableFuture<>();
            Channel ch = new Bootstrap().group(transport.group()).channel(transport.socketChannelType())
                                        .handler(new ChannelInitializer<>() {
                                            @Override
                                            protected void initChannel(Channel ch) {
                                                ch.pipeline().addLast(
                                                        ssl.newHandler(ch.alloc(), "h2.test", address.getPort()),
                                                        Http2FrameCodecBuilder.forClient().initialSettings(settings)
                                                                              .build(),
                                                        new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()),
                                                        new ChannelInboundHandlerAdapter() {
                                                            @Override
                                                            public void channelRead(ChannelHandlerContext ctx,
                                                                                    Object msg) {
                                                                if (msg instanceof Http2GoAwayFrame) {
                                                                    goAway.complete(
                                                                            ((Http2GoAwayFrame) msg).errorCode());
                                                                }
                                                                ReferenceCountUtil.release(msg);
                                                            }
                                                        });
                                            }
                                        })
                                        .connect(address).sync().channel();
            ch.pipeline().get(SslHandler.class).handshakeFuture().sync();
            assertThat(ch.pipeline().get(SslHandler.class).applicationProtocol()).isEqualTo("h2");
            H2Client c = new H2Client(ch);
            goAway.whenComplete((code, t) -> c.goAway.complete(code));
            return c;
        }

        /** Opens a stream with {@code head}, then sends {@code bodyLength} bytes of {@link PatternStream}. */
        Exchange open(Http2Headers head, long bodyLength) throws Exception {
            Exchange x = new Exchange(bodyLength);
            Http2StreamChannel stream = new Http2StreamChannelBootstrap(connection).handler(x).open()
                                                                                  .get(10, TimeUnit.SECONDS);
            stream.eventLoop().submit(() -> {
                stream.write(new DefaultHttp2HeadersFrame(head, bodyLength == 0));
                x.pump();
                stream.flush();
            }).get(10, TimeUnit.SECONDS);
            return x;
        }

        @Override
        public void close() {
            connection.close().awaitUninterruptibly();
        }
    }

    /**
     * One stream of an {@link H2Client}: sends its request body as the stream's window allows (while the child
     * channel is writable), and records the response's head, body, trailers and end, or the stream's reset.
     */
    private static final class Exchange extends ChannelInboundHandlerAdapter {

        final CompletableFuture<Void> ended = new CompletableFuture<>();
        final CompletableFuture<Long> reset = new CompletableFuture<>();
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        /** Request body bytes handed to the stream. */
        final AtomicLong sent = new AtomicLong();
        volatile Http2Headers head;
        volatile Http2Headers trailers;
        /** Whether the server ended the stream (END_STREAM), as opposed to a reset. */
        volatile boolean endStream;
        private final PatternStream upload;
        private final long uploadLength;
        private Channel channel;

        Exchange(long uploadLength) {
            this.uploadLength = uploadLength;
            this.upload = new PatternStream(uploadLength);
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            channel = ctx.channel();
        }

        /** Writes DATA frames while the stream is writable, the last one with END_STREAM. */
        void pump() {
            boolean wrote = false;
            byte[] chunk = new byte[16 * 1024];
            while (channel.isActive() && channel.isWritable() && sent.get() < uploadLength && !reset.isDone()) {
                int n = upload.read(chunk, 0, chunk.length);
                ByteBuf data = channel.alloc().buffer(n).writeBytes(chunk, 0, n);
                boolean last = sent.addAndGet(n) == uploadLength;
                channel.write(new DefaultHttp2DataFrame(data, last));
                wrote = true;
            }
            if (wrote) {
                channel.flush();
            }
        }

        /** Sends RST_STREAM CANCEL. */
        void resetByClient() throws Exception {
            channel.eventLoop().submit(() -> channel.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL)))
                   .get(10, TimeUnit.SECONDS);
        }

        Integer status() {
            Http2Headers h = head;
            return h == null ? null : Integer.parseInt(h.status().toString());
        }

        String text() {
            return body.toString(StandardCharsets.UTF_8);
        }

        String bodyChecksum() {
            PatternStream.Checksum sum = new PatternStream.Checksum();
            byte[] b = body.toByteArray();
            sum.update(b, 0, b.length);
            return sum.toString();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame) {
                Http2HeadersFrame f = (Http2HeadersFrame) msg;
                if (head == null) {
                    head = f.headers();
                } else {
                    trailers = f.headers();
                }
                if (f.isEndStream()) {
                    endStream = true;
                    ended.complete(null);
                }
            } else if (msg instanceof Http2DataFrame) {
                Http2DataFrame f = (Http2DataFrame) msg;
                ByteBuf data = f.content();
                byte[] b = new byte[data.readableBytes()];
                data.readBytes(b);
                body.write(b, 0, b.length);
                if (f.isEndStream()) {
                    endStream = true;
                    ended.complete(null);
                }
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame) {
                reset.complete(((Http2ResetFrame) evt).errorCode());
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            pump();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ended.completeExceptionally(new IllegalStateException("stream closed before its end; reset: "
                                                                  + reset.getNow(null)));
        }
    }
}
