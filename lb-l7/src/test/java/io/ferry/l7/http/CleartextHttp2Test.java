package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrame;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * HTTP/2 with prior knowledge on the plain HTTP port ({@link CleartextHttp2Detector}), with Netty's HTTP/2 client
 * (frame codec, a child channel per stream) and raw sockets; the backend is the JDK's HTTP server. HTTP/1.1 on the
 * same port, methods that start like the preface included, is unchanged.
 */
class CleartextHttp2Test {

    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    /** An empty SETTINGS frame: length 0, type 4, no flags, stream 0. */
    private static final byte[] EMPTY_SETTINGS = {0, 0, 0, 4, 0, 0, 0, 0, 0};

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    private EchoServer echo;

    private void start(Transport.Kind kind) throws Exception {
        h.start(kind);
        echo = h.echo("a");
        h.routeAll("", ProxyHarness.route("a", echo.address()));
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void streamsWithPriorKnowledgeAreProxiedAsHttp2WithSchemeHttp(Transport.Kind kind) throws Exception {
        start(kind);
        Channel connection = h2cClient(null);
        List<CompletableFuture<Response>> responses = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            responses.add(get(connection, "/h2c/" + i));
        }
        for (int i = 0; i < 10; i++) {
            Response r = responses.get(i).get(10, TimeUnit.SECONDS);
            assertThat(r.status).isEqualTo("200");
            assertThat(r.body).startsWith("a\nGET /h2c/" + i + "\n");
        }
        EchoServer.Seen seen = echo.take();
        assertThat(seen.headers().getFirst("X-Forwarded-Proto")).isEqualTo("http");
        assertThat(h.proxy().stats().h2Connections()).isEqualTo(1);
        assertThat(h.proxy().stats().h2Streams()).isEqualTo(10);
        // The HTTP/1.1 handler that was there first took back its count when it left.
        assertThat(h.proxy().stats().connections()).isZero();
        connection.close().sync();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aPrefaceWrittenAByteAtATimeIsStillHttp2(Transport.Kind kind) throws Exception {
        start(kind);
        Channel connection = h2cClient(new ChannelOutboundHandlerAdapter() {
            private boolean first = true;

            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                if (first && msg instanceof ByteBuf) {
                    // The codec's first write is the preface: one flushed write per byte.
                    first = false;
                    ByteBuf buf = (ByteBuf) msg;
                    while (buf.readableBytes() > 1) {
                        ctx.writeAndFlush(buf.readRetainedSlice(1));
                    }
                    ctx.write(buf, promise);
                } else {
                    ctx.write(msg, promise);
                }
            }
        });
        Response r = get(connection, "/slow-preface").get(10, TimeUnit.SECONDS);
        assertThat(r.status).isEqualTo("200");
        assertThat(r.body).startsWith("a\nGET /slow-preface\n");
        connection.close().sync();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void theServerAnswersThePrefaceWithItsSettings(Transport.Kind kind) throws Exception {
        start(kind);
        try (Socket s = new Socket()) {
            s.connect(h.address(), 10_000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(PREFACE);
            s.getOutputStream().write(EMPTY_SETTINGS);
            s.getOutputStream().flush();
            byte[] head = s.getInputStream().readNBytes(9);
            assertThat(head).hasSize(9);
            assertThat(head[3]).as("frame type").isEqualTo((byte) 4); // SETTINGS, not an HTTP/1.1 status line
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void http11StaysHttp11EvenWhenItStartsLikeThePreface(Transport.Kind kind) throws Exception {
        start(kind);
        for (String method : List.of("POST", "PUT", "PATCH", "GET")) {
            RawHttp.Response r = h.connect().send(method + " /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                                  .read();
            assertThat(r.version()).isEqualTo("HTTP/1.1");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).startsWith("a\n" + method + " /p\n");
        }
        // A method that is the preface's first word: still HTTP/1.1, whatever HTTP/1.1 says to it.
        RawHttp.Response pri = h.connect().send("PRI /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").read();
        assertThat(pri.version()).isEqualTo("HTTP/1.1");
        // An HTTP/1.1 upgrade to h2c is answered in HTTP/1.1 (the upgrade is not offered).
        RawHttp.Response upgrade = h.connect().send("GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings"
                                                    + "\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
                                           .read();
        assertThat(upgrade.status()).isEqualTo(200);
        assertThat(upgrade.text()).startsWith("a\nGET /u\n");
        assertThat(h.proxy().stats().h2Connections()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aClientThatStopsInsideThePrefaceIsClosedByTheHeaderTimeout(Transport.Kind kind) throws Exception {
        h.start(kind, HttpProxyConfig.builder().accessLog(false).clientHeaderTimeout(Duration.ofMillis(300))
                                     .build());
        try (Socket s = new Socket()) {
            s.connect(h.address(), 10_000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(PREFACE, 0, 10);
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            // Closed by the proxy (end of stream) well before the 10 s read timeout, with at most an HTTP/1.1 answer.
            for (int b; (b = in.read()) >= 0; ) {
                got.write(b);
            }
            assertThat(got.toString(StandardCharsets.US_ASCII)).satisfiesAnyOf(
                    t -> assertThat(t).isEmpty(), t -> assertThat(t).startsWith("HTTP/1.1 408"));
        }
    }

    // ---- a small HTTP/2 client with prior knowledge -----------------------------------------------------------

    private static final class Response {
        String status;
        String body;
    }

    private Channel h2cClient(ChannelOutboundHandlerAdapter first) throws Exception {
        Transport clients = h.closeLater(Transport.create(Transport.Kind.NIO, 1));
        InetSocketAddress to = h.address();
        return new Bootstrap().group(clients.group()).channel(clients.socketChannelType())
                              .handler(new ChannelInitializer<>() {
                                  @Override
                                  protected void initChannel(Channel ch) {
                                      if (first != null) {
                                          ch.pipeline().addLast(first);
                                      }
                                      ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                                            new Http2MultiplexHandler(
                                                                    new ChannelInboundHandlerAdapter()));
                                  }
                              })
                              .connect(to).sync().channel();
    }

    private static CompletableFuture<Response> get(Channel connection, String path) throws Exception {
        CompletableFuture<Response> done = new CompletableFuture<>();
        Response r = new Response();
        StringBuilder body = new StringBuilder();
        Http2StreamChannel stream = new Http2StreamChannelBootstrap(connection).handler(
                new SimpleChannelInboundHandler<Http2StreamFrame>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, Http2StreamFrame frame) {
                        boolean end = false;
                        if (frame instanceof Http2HeadersFrame) {
                            Http2HeadersFrame f = (Http2HeadersFrame) frame;
                            if (r.status == null) {
                                r.status = String.valueOf(f.headers().status());
                            }
                            end = f.isEndStream();
                        } else if (frame instanceof Http2DataFrame) {
                            Http2DataFrame f = (Http2DataFrame) frame;
                            body.append(f.content().toString(StandardCharsets.UTF_8));
                            end = f.isEndStream();
                        }
                        if (end) {
                            r.body = body.toString();
                            done.complete(r);
                        }
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        done.completeExceptionally(new AssertionError("stream closed before its end: " + path));
                    }
                }).open().get(10, TimeUnit.SECONDS);
        Http2Headers head = new DefaultHttp2Headers().method("GET").scheme("http").authority("h2c.test").path(path);
        stream.writeAndFlush(new DefaultHttp2HeadersFrame(head, true));
        return done;
    }
}
