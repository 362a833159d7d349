package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameTypes;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.AsciiString;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The HTTP/2 limits of the HTTPS listener that a public edge needs ({@link AlpnHandler}), seen by a raw HTTP/2
 * client that writes frames Netty's own codec would refuse to send: the concurrent stream limit, the rapid-reset
 * guard (CVE-2023-44487), CONTINUATION floods, oversized header lists, window abuse (overflow, zero increments, a
 * window never opened) and empty DATA floods. After each attack a new connection must
 * be served as usual.
 */
class Http2LimitsTest {

    private static final long ERROR_PROTOCOL = Http2Error.PROTOCOL_ERROR.code();
    private static final long ERROR_REFUSED_STREAM = Http2Error.REFUSED_STREAM.code();
    private static final long ERROR_ENHANCE_YOUR_CALM = Http2Error.ENHANCE_YOUR_CALM.code();
    private static final Duration DEADLINE = Duration.ofSeconds(10);

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    private HttpProxy proxy;
    private InetSocketAddress https;
    private EchoServer echo;
    private Transport clients;

    private void start(Transport.Kind kind) throws Exception {
        proxy = h.start(kind);
        proxy.applyTls(TlsTable.of(TlsCertificate.generateDefault()));
        https = proxy.bindHttps(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        echo = h.echo("h2");
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("", PathType.PREFIX, "/", route("h2", echo.address()));
        proxy.apply(b.build());
        clients = h.closeLater(Transport.create(Transport.Kind.NIO, 1));
    }

    private RawH2 connect() throws Exception {
        RawH2 c = h.closeLater(RawH2.connect(clients, https));
        Http2Settings s = c.settings.get(10, TimeUnit.SECONDS);
        assertThat(s).as("server SETTINGS").isNotNull();
        return c;
    }

    private static Http2Headers get(String path) {
        return new DefaultHttp2Headers().method("GET").scheme("https").authority("h2.test").path(path);
    }

    /** After an attack: a new connection is served, and nothing is left open on the proxy. */
    private void aNewConnectionIsServed() throws Exception {
        RawH2 c = connect();
        c.run(ctx -> c.writer.writeHeaders(ctx, 1, get("/after"), 0, true, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> c.ended(1));
        assertThat(c.status(1)).isEqualTo(200);
        assertThat(c.body(1)).isEqualTo("h2\nGET /after\n");
        c.close();
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void streamsBeyondTheConcurrentLimitAreRefusedWhileTheOthersComplete(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        Http2Settings s = c.settings.get();
        assertThat(s.maxConcurrentStreams()).isEqualTo(AlpnHandler.MAX_CONCURRENT_STREAMS).isEqualTo(128L);
        assertThat(s.maxHeaderListSize()).isEqualTo(proxy.config().maxHeaderSize()).isEqualTo(32 * 1024L);

        // The client acknowledged the SETTINGS before it opens anything, so the server enforces them. Every
        // stream is opened at once and stays open a second upstream: the last two are over the limit.
        int streams = 130;
        c.run(ctx -> {
            for (int i = 0; i < streams; i++) {
                c.writer.writeHeaders(ctx, 1 + 2 * i, get("/delay/1000/" + i), 0, true, ctx.newPromise());
            }
        });
        await().atMost(DEADLINE).until(() -> c.ended.size() + c.resets.size() == streams);
        for (int i = 0; i < 128; i++) {
            int id = 1 + 2 * i;
            assertThat(c.status(id)).as("stream %d", id).isEqualTo(200);
            assertThat(c.body(id)).isEqualTo("h2\nGET /delay/1000/" + i + "\n");
        }
        assertThat(c.resets).containsOnlyKeys(257, 259).containsValues(ERROR_REFUSED_STREAM);
        assertThat(c.goAway).isNotDone();
        // Refused streams never reach the backend, and the connection goes on.
        assertThat(echo.requests()).isEqualTo(128);
        c.run(ctx -> c.writer.writeHeaders(ctx, 261, get("/more"), 0, true, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> c.ended(261));
        assertThat(c.status(261)).isEqualTo(200);
        assertThat(proxy.stats().h2Streams()).isEqualTo(129);
        c.close();
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void rapidResetGetsTheConnectionClosedWithEnhanceYourCalm(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        int pairs = 1000;
        // HEADERS and RST_STREAM at once, stream after stream, without waiting for anything: CVE-2023-44487.
        c.run(ctx -> {
            for (int i = 0; i < pairs && ctx.channel().isActive(); i++) {
                int id = 1 + 2 * i;
                c.writer.writeHeaders(ctx, id, get("/delay/1000/" + i), 0, true, ctx.newPromise());
                c.writer.writeRstStream(ctx, id, Http2Error.CANCEL.code(), ctx.newPromise());
                if (i % 50 == 49) {
                    ctx.flush();
                }
            }
        });
        await().atMost(DEADLINE).until(() -> !c.channel.isActive());
        assertThat(c.goAway).isDone();
        assertThat(c.goAway.get()).isEqualTo(ERROR_ENHANCE_YOUR_CALM);
        // The guard allows 200 resets per 30 s: the proxy gave no more streams a chance than that.
        assertThat(proxy.stats().h2Streams()).isBetween(1L, (long) AlpnHandler.MAX_RST_FRAMES + 1);
        assertThat(echo.requests()).isLessThanOrEqualTo(AlpnHandler.MAX_RST_FRAMES + 1);
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);

        aNewConnectionIsServed();
        assertThat(proxy.stats().h2Connections()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aContinuationFloodIsCutOffWithoutBufferingIt(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        // One HEADERS without END_HEADERS, then CONTINUATION frames of 16 KiB of literal headers that never end,
        // up to 64 MiB, written as fast as the connection takes them.
        long flood = 64L << 20;
        ByteBuf block = c.encode(get("/flood"));
        short endStream = new Http2Flags().endOfStream(true).value();
        c.run(ctx -> c.writeFrame(ctx, Http2FrameTypes.HEADERS, endStream, 1, block));
        byte[] fragment = literalHeaders(16 * 1024);
        try (DirectMemoryWatch watch = new DirectMemoryWatch()) {
            c.pump(ctx -> c.writeFrame(ctx, Http2FrameTypes.CONTINUATION, (short) 0, 1,
                                       ctx.alloc().buffer(fragment.length).writeBytes(fragment)),
                   fragment.length + Http2CodecUtil.FRAME_HEADER_LENGTH, flood);
            await().atMost(DEADLINE).until(() -> !c.channel.isActive());
            assertThat(watch.growth()).as("direct memory growth").isLessThan(16L << 20);
        }
        System.out.printf("Http2LimitsTest: CONTINUATION flood over %s cut off after %d KiB written; GOAWAY %s%n",
                          kind, c.pumped.get() / 1024, c.goAway.isDone() ? c.goAway.get() : "not read");
        // Cut off after a few header blocks' worth plus what the socket buffers hold, not after the flood.
        assertThat(c.pumped.get()).isLessThan(16L << 20);
        // Netty's frame reader counts the fragments against 1.25 times the header list limit and fails the
        // connection as soon as they pass it.
        assertThat(c.goAway).isDone();
        assertThat(c.goAway.get()).isEqualTo(ERROR_PROTOCOL);
        assertThat(echo.requests()).isZero();
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);

        aNewConnectionIsServed();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void anOversizedHeaderListIsRefusedAndBounded(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        // A little over the limit: that stream is answered 431 by the codec and the connection goes on.
        Http2Headers over = get("/over").add("x-big", "a".repeat(33 * 1024));
        c.run(ctx -> c.writer.writeHeaders(ctx, 1, over, 0, true, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> c.ended(1) || c.resets.containsKey(1));
        assertThat(c.status(1)).isEqualTo(431);
        c.run(ctx -> c.writer.writeHeaders(ctx, 3, get("/fine"), 0, true, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> c.ended(3));
        assertThat(c.status(3)).isEqualTo(200);
        assertThat(echo.requests()).isEqualTo(1);

        // Far over it (past the codec's GOAWAY threshold of 1.25 times the limit): the connection is closed.
        Http2Headers far = get("/far").add("x-big", "a".repeat(64 * 1024));
        c.run(ctx -> c.writer.writeHeaders(ctx, 5, far, 0, true, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> !c.channel.isActive());
        assertThat(c.goAway).isDone();
        assertThat(c.goAway.get()).isEqualTo(ERROR_PROTOCOL);
        assertThat(echo.requests()).isEqualTo(1);
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);

        aNewConnectionIsServed();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void windowUpdatesThatOverflowTheWindowOrAddNothingEndTheConnection(Transport.Kind kind) throws Exception {
        start(kind);
        // The connection window is 65,535: adding 2^31 - 1 overflows it (RFC 9113 6.9.1).
        RawH2 c = connect();
        c.run(ctx -> c.writer.writeWindowUpdate(ctx, 0, Http2CodecUtil.MAX_INITIAL_WINDOW_SIZE, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> !c.channel.isActive());
        assertThat(c.goAway).isDone();
        assertThat(c.goAway.get()).isEqualTo(Http2Error.FLOW_CONTROL_ERROR.code());

        // An increment of 0 is a protocol error (RFC 9113 6.9); Netty's writer would not send one.
        RawH2 d = connect();
        d.run(ctx -> d.writeFrame(ctx, Http2FrameTypes.WINDOW_UPDATE, (short) 0, 0, ctx.alloc().buffer(4).writeInt(0)));
        await().atMost(DEADLINE).until(() -> !d.channel.isActive());
        assertThat(d.goAway).isDone();
        assertThat(d.goAway.get()).isEqualTo(ERROR_PROTOCOL);
        assertThat(echo.requests()).isZero();
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);

        aNewConnectionIsServed();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aClientThatNeverOpensItsWindowHoldsNoBuffersAndIsTimedOut(Transport.Kind kind) throws Exception {
        start(kind);
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("", PathType.PREFIX, "/", route("h2", RoutePolicy.builder().readTimeout(Duration.ofSeconds(1)).build(),
                                              echo.address()));
        proxy.apply(b.build());
        // A window of 0 for every stream, never opened: the proxy may send HEADERS, never a DATA byte. A large
        // download behind it must stay upstream (backpressure), not pile up in the proxy.
        RawH2 c = h.closeLater(RawH2.connect(clients, https, new Http2Settings().initialWindowSize(0)));
        assertThat(c.settings.get(10, TimeUnit.SECONDS)).isNotNull();
        try (DirectMemoryWatch watch = new DirectMemoryWatch()) {
            c.run(ctx -> c.writer.writeHeaders(ctx, 1, get("/download/" + (64 << 20)), 0, true, ctx.newPromise()));
            // Nothing moves for the route's read timeout: the stream is reset, the connection goes on.
            await().atMost(DEADLINE).until(() -> c.resets.containsKey(1) || c.ended(1));
            assertThat(watch.growth()).as("direct memory growth").isLessThan(16L << 20);
        }
        assertThat(c.status(1)).isEqualTo(200);
        assertThat(c.body(1)).isEmpty();
        assertThat(c.resets).containsKey(1);
        assertThat(c.goAway).isNotDone();
        assertThat(proxy.stats().upstreamTimeouts()).isEqualTo(1);
        c.close();
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);

        aNewConnectionIsServed();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void requestsWithoutBodyAreCompleteSoTheirUpstreamConnectionIsKept(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        for (int i = 0; i < 3; i++) {
            int id = 1 + 2 * i;
            c.run(ctx -> c.writer.writeHeaders(ctx, id, get("/seq/" + id), 0, true, ctx.newPromise()));
            await().atMost(DEADLINE).until(() -> c.ended(id));
            assertThat(c.status(id)).isEqualTo(200);
        }
        // A HEADERS frame that ends the stream is a whole request: its upstream connection goes back to the pool.
        assertThat(echo.connections()).isEqualTo(1);
        assertThat(proxy.stats().upstreamReuses()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aFloodOfEmptyDataFramesEndsTheConnection(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        Http2Headers post = new DefaultHttp2Headers().method("POST").scheme("https").authority("h2.test")
                                                     .path("/upload");
        // Empty DATA frames without END_STREAM cost the server work and carry nothing (CVE-2019-9518).
        c.run(ctx -> {
            c.writer.writeHeaders(ctx, 1, post, 0, false, ctx.newPromise());
            for (int i = 0; i < 1000 && ctx.channel().isActive(); i++) {
                c.writer.writeData(ctx, 1, Unpooled.EMPTY_BUFFER, 0, false, ctx.newPromise());
            }
        });
        await().atMost(DEADLINE).until(() -> !c.channel.isActive());
        assertThat(c.goAway).isDone();
        assertThat(c.goAway.get()).isEqualTo(ERROR_ENHANCE_YOUR_CALM);
        await().atMost(DEADLINE).until(() -> proxy.stats().activeConnections() == 0);

        aNewConnectionIsServed();
    }

    /**
     * The last DATA frame of a small response is written without the flow controller's queue
     * ({@code Http2FrontendStream.writeLastDataNow}), but its bytes still come off the windows: a client that never
     * gives its connection window back gets 65,535 bytes and not one more, until it does.
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void responsesWrittenAtOnceStillCountAgainstTheConnectionWindow(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        int size = 16_000; // one frame of the smallest size a peer may set
        for (int i = 0; i < 4; i++) {
            int id = 1 + 2 * i;
            c.run(ctx -> c.writer.writeHeaders(ctx, id, get("/download/" + size), 0, true, ctx.newPromise()));
            await().atMost(DEADLINE).until(() -> c.ended(id));
            assertThat(c.received.get(id)).isEqualTo((long) size);
        }
        // 64,000 of the connection's 65,535 bytes are spent, and none given back.
        c.run(ctx -> c.writer.writeHeaders(ctx, 9, get("/download/" + size), 0, true, ctx.newPromise()));
        long left = 65_535L - 4L * size;
        await().atMost(DEADLINE).until(() -> c.received.getOrDefault(9, 0L) >= left);
        c.run(ctx -> c.writer.writePing(ctx, false, 9, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> c.pingAcks.contains(9L));
        assertThat(c.received.get(9)).isEqualTo(left);
        assertThat(c.ended(9)).isFalse();

        c.run(ctx -> c.writer.writeWindowUpdate(ctx, 0, 4 * size, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> c.ended(9));
        assertThat(c.received.get(9)).isEqualTo((long) size);
        assertThat(c.goAway).isNotDone();
    }

    /**
     * Many small responses at once: those written past the flow controller come off the connection's window at the
     * connection's next flush, before the flow controller (which writes the rest) looks at it. 70 responses of 1,000
     * bytes, 70,000 bytes against a window of 65,535 that the client never gives back: it gets 65,535 bytes and not
     * one more, until it does.
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void manySmallResponsesAtOnceNeverOverrunTheConnectionWindow(Transport.Kind kind) throws Exception {
        start(kind);
        RawH2 c = connect();
        int size = 1_000; // written with its frame header in one buffer
        int streams = 70;
        c.run(ctx -> {
            for (int i = 0; i < streams; i++) {
                c.writer.writeHeaders(ctx, 1 + 2 * i, get("/download/" + size), 0, true, ctx.newPromise());
            }
        });
        await().atMost(DEADLINE).until(() -> received(c) >= 65_535L);
        c.run(ctx -> c.writer.writePing(ctx, false, 7, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> c.pingAcks.contains(7L));
        assertThat(received(c)).isEqualTo(65_535L);

        c.run(ctx -> c.writer.writeWindowUpdate(ctx, 0, streams * size, ctx.newPromise()));
        await().atMost(DEADLINE).until(() -> received(c) == (long) streams * size);
        for (int i = 0; i < streams; i++) {
            int id = 1 + 2 * i;
            await().atMost(DEADLINE).until(() -> c.ended(id));
        }
        assertThat(c.goAway).isNotDone();
    }

    private static long received(RawH2 c) {
        return c.received.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Literal header field representations without indexing (RFC 7541 6.2.2), {@code size} bytes in all. */
    private static byte[] literalHeaders(int size) {
        byte[] out = new byte[size];
        int n = 0;
        int header = 0;
        while (size - n >= 3 + 8 + 100) {
            byte[] name = String.format("x-f%05d", header++).getBytes(StandardCharsets.US_ASCII);
            out[n++] = 0;
            out[n++] = (byte) name.length;
            System.arraycopy(name, 0, out, n, name.length);
            n += name.length;
            out[n++] = 100;
            for (int i = 0; i < 100; i++) {
                out[n++] = 'v';
            }
        }
        return Arrays.copyOf(out, n);
    }

    /**
     * A raw HTTP/2 client over TLS (ALPN {@code h2}, any certificate trusted). It reads frames with Netty's frame
     * reader and records what it sees; it writes with a bare {@link DefaultHttp2FrameWriter} (or frame by frame)
     * so it can send what a well-behaved codec would not. Writes run on its event loop ({@link #run}).
     */
    private static final class RawH2 extends ByteToMessageDecoder implements AutoCloseable {

        final CompletableFuture<Http2Settings> settings = new CompletableFuture<>();
        final CompletableFuture<Long> goAway = new CompletableFuture<>();
        final Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        final Map<Integer, StringBuilder> bodies = new ConcurrentHashMap<>();
        final Map<Integer, Boolean> ended = new ConcurrentHashMap<>();
        final Map<Integer, Long> resets = new ConcurrentHashMap<>();
        /** DATA bytes received per stream. */
        final Map<Integer, Long> received = new ConcurrentHashMap<>();
        final Set<Long> pingAcks = ConcurrentHashMap.newKeySet();
        final AtomicLong pumped = new AtomicLong();
        final DefaultHttp2FrameWriter writer = new DefaultHttp2FrameWriter();
        private final DefaultHttp2FrameReader reader = new DefaultHttp2FrameReader(true);
        private final DefaultHttp2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder();
        private Channel channel;
        private ChannelHandlerContext ctx;
        private Runnable pump;
        private boolean prefaceSent;
        private final Http2Settings clientSettings;

        private RawH2(Http2Settings clientSettings) {
            this.clientSettings = clientSettings;
        }

        static RawH2 connect(Transport transport, InetSocketAddress address) throws Exception {
            return connect(transport, address, new Http2Settings());
        }

        /** Connects with {@code clientSettings} as the client's SETTINGS. */
        static RawH2 connect(Transport transport, InetSocketAddress address, Http2Settings clientSettings)
                throws Exception {
            SslContext ssl = SslContextBuilder.forClient()
                                              .trustManager(InsecureTrustManagerFactory.INSTANCE)
                                              .applicationProtocolConfig(new ApplicationProtocolConfig(
                                                      ApplicationProtocolConfig.Protocol.ALPN,
                                                      ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                                                      ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                                                      ApplicationProtocolNames.HTTP_2))
                                              .build();
            RawH2 c = new RawH2(clientSettings);
            CompletableFuture<Void> h2 = new CompletableFuture<>();
            // A write that fails because the server cut the connection off must not close it before the GOAWAY
            // the server sent first is read.
            Channel ch = new Bootstrap().group(transport.group()).channel(transport.socketChannelType())
                                        .option(ChannelOption.AUTO_CLOSE, false)
                                        .handler(new ChannelInitializer<>() {
                                            @Override
                                            protected void initChannel(Channel ch) {
                                                SslHandler tls = ssl.newHandler(ch.alloc());
                                                tls.handshakeFuture().addListener(f -> {
                                                    if (f.isSuccess()) {
                                                        h2.complete(null);
                                                    } else {
                                                        h2.completeExceptionally(f.cause());
                                                    }
                                                });
                                                ch.pipeline().addLast(tls, c);
                                            }
                                        })
                                        .connect(address).sync().channel();
            c.channel = ch;
            h2.get(10, TimeUnit.SECONDS);
            assertThat(ch.pipeline().get(SslHandler.class).applicationProtocol()).isEqualTo("h2");
            c.run(c::preface);
            return c;
        }

        /**
         * Writes the connection preface and the client's SETTINGS, once: when the handshake is done, or before the
         * acknowledgement of the server's SETTINGS if those are read first.
         */
        private void preface(ChannelHandlerContext ctx) {
            if (!prefaceSent) {
                prefaceSent = true;
                ctx.write(Http2CodecUtil.connectionPrefaceBuf());
                writer.writeSettings(ctx, clientSettings, ctx.newPromise());
            }
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        /** Runs {@code writes} on the event loop, flushes, and waits for it. */
        void run(Consumer<ChannelHandlerContext> writes) throws Exception {
            channel.eventLoop().submit(() -> {
                writes.accept(ctx);
                ctx.flush();
            }).get(10, TimeUnit.SECONDS);
        }

        /**
         * Writes {@code frame} again and again while the connection is writable, up to {@code limit} bytes of
         * {@code frameSize} each; {@link #pumped} counts the bytes handed to the connection.
         */
        void pump(Consumer<ChannelHandlerContext> frame, int frameSize, long limit) throws Exception {
            pump = () -> {
                while (channel.isActive() && channel.isWritable() && pumped.get() < limit) {
                    frame.accept(ctx);
                    pumped.addAndGet(frameSize);
                    ctx.flush();
                }
            };
            channel.eventLoop().submit(pump).get(10, TimeUnit.SECONDS);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
            if (pump != null && ctx.channel().isWritable()) {
                pump.run();
            }
            super.channelWritabilityChanged(ctx);
        }

        /** A header block encoded with a fresh HPACK context. */
        ByteBuf encode(Http2Headers headers) throws Http2Exception {
            ByteBuf out = channel.alloc().buffer();
            encoder.encodeHeaders(1, headers, out);
            return out;
        }

        /** One frame as it is: 9 bytes of header, then {@code payload} (released). */
        void writeFrame(ChannelHandlerContext ctx, byte type, short flags, int streamId, ByteBuf payload) {
            ByteBuf header = ctx.alloc().buffer(Http2CodecUtil.FRAME_HEADER_LENGTH);
            header.writeMedium(payload.readableBytes()).writeByte(type).writeByte(flags).writeInt(streamId);
            ctx.write(header);
            ctx.write(payload);
        }

        boolean ended(int streamId) {
            return ended.containsKey(streamId);
        }

        Integer status(int streamId) {
            return statuses.get(streamId);
        }

        String body(int streamId) {
            StringBuilder b = bodies.get(streamId);
            return b == null ? "" : b.toString();
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            reader.readFrame(ctx, in, new Http2FrameAdapter() {
                @Override
                public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings s) {
                    preface(ctx);
                    writer.writeSettingsAck(ctx, ctx.newPromise());
                    ctx.flush();
                    settings.complete(s);
                }

                @Override
                public void onPingAckRead(ChannelHandlerContext ctx, long data) {
                    pingAcks.add(data);
                }

                @Override
                public void onPingRead(ChannelHandlerContext ctx, long data) {
                    writer.writePing(ctx, true, data, ctx.newPromise());
                    ctx.flush();
                }

                @Override
                public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
                                          int streamDependency, short weight, boolean exclusive, int padding,
                                          boolean endOfStream) {
                    onHeadersRead(ctx, streamId, headers, padding, endOfStream);
                }

                @Override
                public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
                                          boolean endOfStream) {
                    CharSequence status = headers.status();
                    if (status != null) {
                        statuses.putIfAbsent(streamId, AsciiString.of(status).parseInt());
                    }
                    if (endOfStream) {
                        ended.put(streamId, true);
                    }
                }

                @Override
                public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
                                      boolean endOfStream) {
                    bodies.computeIfAbsent(streamId, id -> new StringBuilder())
                          .append(data.toString(StandardCharsets.UTF_8));
                    received.merge(streamId, (long) data.readableBytes(), Long::sum);
                    if (endOfStream) {
                        ended.put(streamId, true);
                    }
                    return data.readableBytes() + padding;
                }

                @Override
                public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
                    resets.put(streamId, errorCode);
                }

                @Override
                public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode,
                                         ByteBuf debugData) {
                    goAway.complete(errorCode);
                }
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A reset when the server cuts the connection off is what some tests expect.
            ctx.close();
        }

        @Override
        public void close() {
            channel.close().awaitUninterruptibly();
            reader.close();
            writer.close();
        }
    }
}
