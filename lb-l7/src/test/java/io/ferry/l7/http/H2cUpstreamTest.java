package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Transport;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Routes whose {@code backend-protocol} is GRPC or H2C reach their endpoints over HTTP/2 cleartext, one multiplexed
 * connection per event loop and endpoint, and the response's trailers reach HTTP/1.1 and HTTP/2 clients.
 */
class H2cUpstreamTest {

    private static final RoutePolicy GRPC = RoutePolicy.builder()
                                                       .backendProtocol(RoutePolicy.BackendProtocol.GRPC).build();

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void trailersReachAnHttp11ClientAsChunkedTrailers(Transport.Kind kind) throws Exception {
        h.start(kind);
        H2cServer server = h.closeLater(H2cServer.start());
        h.routeAll("", ProxyHarness.route("grpc", GRPC, server.address()));

        try (Socket s = socket()) {
            send(s, "GET /pkg.Greeter/Hello HTTP/1.1\r\nHost: grpc.test\r\nTE: trailers\r\n"
                    + "Connection: keep-alive, TE\r\n\r\n");
            Chunked r = Chunked.read(s.getInputStream());
            assertThat(r.status).isEqualTo(200);
            assertThat(r.headers.get("transfer-encoding")).isEqualTo("chunked");
            assertThat(r.headers.get("x-path")).isEqualTo("/pkg.Greeter/Hello");
            assertThat(r.headers.get("x-te")).as("te: trailers reaches the h2c upstream").isEqualTo("trailers");
            assertThat(r.headers.get("x-authority")).isEqualTo("grpc.test");
            assertThat(r.headers.get("x-scheme")).isEqualTo("http");
            assertThat(r.headers).doesNotContainKey("x-http2-stream-id");
            assertThat(r.body).isEmpty();
            assertThat(r.trailers).containsEntry("grpc-status", "0").containsEntry("grpc-message", "ok");

            // The client connection stays usable: a second request on it, a new stream upstream.
            send(s, "GET /again HTTP/1.1\r\nHost: grpc.test\r\nTE: trailers\r\n\r\n");
            Chunked again = Chunked.read(s.getInputStream());
            assertThat(again.headers.get("x-path")).isEqualTo("/again");
            assertThat(again.trailers).containsEntry("grpc-status", "0");
        }
        assertThat(server.accepted()).isEqualTo(1);
        assertThat(server.streams()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void trailersReachAnHttp2ClientAsTrailingHeaders(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        proxy.applyTls(TlsTable.of(TlsCertificate.generateDefault()));
        InetSocketAddress https = proxy.bindHttps(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        H2cServer server = h.closeLater(H2cServer.start());
        h.routeAll("", ProxyHarness.route("grpc", GRPC, server.address()));

        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            SslContext ssl = SslContextBuilder.forClient()
                                              .trustManager(InsecureTrustManagerFactory.INSTANCE)
                                              .applicationProtocolConfig(new ApplicationProtocolConfig(
                                                      ApplicationProtocolConfig.Protocol.ALPN,
                                                      ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                                                      ApplicationProtocolConfig.SelectedListenerFailureBehavior
                                                              .ACCEPT,
                                                      ApplicationProtocolNames.HTTP_2))
                                              .build();
            Channel conn = new Bootstrap().group(group).channel(NioSocketChannel.class)
                                          .handler(new ChannelInitializer<>() {
                                              @Override
                                              protected void initChannel(Channel ch) {
                                                  ch.pipeline().addLast(ssl.newHandler(ch.alloc(), "grpc.test",
                                                                                       https.getPort()))
                                                               .addLast(Http2FrameCodecBuilder.forClient().build())
                                                               .addLast(new Http2MultiplexHandler(
                                                                       new ChannelInboundHandlerAdapter()));
                                              }
                                          })
                                          .connect(https).sync().channel();
            LinkedBlockingQueue<Object> frames = new LinkedBlockingQueue<>();
            Http2StreamChannel stream = new Http2StreamChannelBootstrap(conn)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            if (msg instanceof Http2DataFrame) {
                                Http2DataFrame d = (Http2DataFrame) msg;
                                frames.add(d.content().toString(StandardCharsets.UTF_8) + (d.isEndStream() ? "|end"
                                                                                                         : ""));
                                d.release();
                            } else if (msg instanceof Http2HeadersFrame) {
                                frames.add(msg);
                            } else {
                                ReferenceCountUtil.release(msg);
                            }
                        }
                    })
                    .open().sync().getNow();
            Http2Headers req = new DefaultHttp2Headers().method("POST").path("/pkg.Greeter/Hello").scheme("https")
                                                        .authority("grpc.test").add("te", "trailers")
                                                        .add("content-type", "application/grpc");
            stream.write(new DefaultHttp2HeadersFrame(req, false));
            stream.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.copiedBuffer("ping", StandardCharsets.UTF_8),
                                                           true));

            Http2HeadersFrame head = (Http2HeadersFrame) poll(frames);
            assertThat(head.headers().status().toString()).isEqualTo("200");
            assertThat(head.headers().get("x-te").toString()).isEqualTo("trailers");
            assertThat(head.isEndStream()).isFalse();
            StringBuilder body = new StringBuilder();
            Object next;
            while ((next = poll(frames)) instanceof String) {
                body.append(((String) next).replace("|end", ""));
                assertThat((String) next).as("the stream ends with the trailers").doesNotEndWith("|end");
            }
            assertThat(body.toString()).isEqualTo("ping");
            Http2HeadersFrame trailers = (Http2HeadersFrame) next;
            assertThat(trailers.isEndStream()).isTrue();
            assertThat(trailers.headers().get("grpc-status").toString()).isEqualTo("0");
            assertThat(trailers.headers().get("grpc-message").toString()).isEqualTo("ok");
            conn.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void concurrentRequestsShareOneConnectionPerEventLoop(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        H2cServer server = h.closeLater(H2cServer.start());
        h.routeAll("", ProxyHarness.route("grpc", GRPC, server.address()));

        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            HttpRequest r = HttpRequest.newBuilder(h.uri("/n/" + i)).timeout(Duration.ofSeconds(20))
                                       .POST(HttpRequest.BodyPublishers.ofString("body-" + i)).build();
            all.add(client.sendAsync(r, HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < all.size(); i++) {
            HttpResponse<String> r = all.get(i).get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("body-" + i);
        }
        assertThat(server.streams()).isEqualTo(64);
        // The proxy runs two event loops: at most one connection each.
        assertThat(server.accepted()).isBetween(1, 2);
        assertThat(proxy.stats().upstreamConnects()).isLessThanOrEqualTo(64);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aPostBodyStreamsToTheBackendAndBack(Transport.Kind kind) throws Exception {
        h.start(kind);
        H2cServer server = h.closeLater(H2cServer.start());
        h.routeAll("", ProxyHarness.route("grpc", GRPC, server.address()));

        byte[] body = new byte[1 << 20];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) ('a' + i % 26);
        }
        try (Socket s = socket()) {
            OutputStream out = s.getOutputStream();
            out.write("POST /upload HTTP/1.1\r\nHost: grpc.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                              .getBytes(StandardCharsets.ISO_8859_1));
            // Sent while the echo comes back: the response is read on another thread.
            CompletableFuture<Chunked> response = CompletableFuture.supplyAsync(() -> {
                try {
                    return Chunked.read(s.getInputStream());
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            for (int off = 0; off < body.length; off += 16384) {
                out.write((Integer.toHexString(16384) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.write(body, off, 16384);
                out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            Chunked r = response.get(30, TimeUnit.SECONDS);
            assertThat(r.status).isEqualTo(200);
            assertThat(r.body).isEqualTo(body);
            assertThat(r.trailers).containsEntry("grpc-status", "0");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aRefusingEndpointIsSkippedForAWorkingOne(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        H2cServer server = h.closeLater(H2cServer.start());
        RoutePolicy h2c = RoutePolicy.builder().backendProtocol(RoutePolicy.BackendProtocol.H2C).build();
        Route route = ProxyHarness.route("h2c", h2c, ProxyHarness.closedPort(), server.address());
        h.routeAll("", route);

        for (int i = 0; i < 20; i++) {
            try (Socket s = socket()) {
                send(s, "GET /r/" + i + " HTTP/1.1\r\nHost: grpc.test\r\n\r\n");
                Chunked r = Chunked.read(s.getInputStream());
                assertThat(r.status).as("request %d", i).isEqualTo(200);
                assertThat(r.headers.get("x-path")).isEqualTo("/r/" + i);
            }
        }
        assertThat(proxy.stats().upstreamConnectFailures()).isPositive();
        assertThat(server.streams()).isEqualTo(20);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private Socket socket() throws IOException {
        Socket s = new Socket(h.address().getAddress(), h.address().getPort());
        s.setSoTimeout(20_000);
        return s;
    }

    private static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
    }

    private static Object poll(LinkedBlockingQueue<Object> q) throws InterruptedException {
        Object o = q.poll(20, TimeUnit.SECONDS);
        assertThat(o).as("a frame within 20 s").isNotNull();
        return o;
    }

    /** A chunked HTTP/1.1 response with its trailers (which {@link RawHttp} skips). Names lowercased. */
    private static final class Chunked {
        int status;
        final Map<String, String> headers = new LinkedHashMap<>();
        final Map<String, String> trailers = new LinkedHashMap<>();
        byte[] body;

        /** Reads one response; the stream is not buffered beyond it (pipelined reads stay possible). */
        static Chunked read(InputStream in) throws IOException {
            Chunked r = new Chunked();
            String status = line(in);
            r.status = Integer.parseInt(status.split(" ")[1]);
            fields(in, r.headers);
            assertThat(r.headers.get("transfer-encoding")).as("chunked: " + r.headers).isEqualTo("chunked");
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            while (true) {
                String size = line(in);
                int semi = size.indexOf(';');
                int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
                if (n == 0) {
                    fields(in, r.trailers);
                    r.body = body.toByteArray();
                    return r;
                }
                body.write(in.readNBytes(n));
                line(in);
            }
        }

        private static void fields(InputStream in, Map<String, String> into) throws IOException {
            for (String l; !(l = line(in)).isEmpty(); ) {
                int colon = l.indexOf(':');
                into.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
            }
        }

        private static String line(InputStream in) throws IOException {
            StringBuilder sb = new StringBuilder();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) {
                    throw new IOException("end of stream after \"" + sb + '"');
                }
                if (c != '\r') {
                    sb.append((char) c);
                }
            }
            return sb.toString();
        }
    }

    /**
     * An h2c (prior knowledge) server in the manner of a gRPC one: each stream gets HEADERS (with what it saw of the
     * request: {@code x-path}, {@code x-te}, {@code x-authority}, {@code x-scheme}), DATA echoing the request body
     * as it comes, and trailing HEADERS {@code grpc-status: 0}, {@code grpc-message: ok}.
     */
    static final class H2cServer implements AutoCloseable {
        private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        private final AtomicInteger accepted = new AtomicInteger();
        private final AtomicInteger streams = new AtomicInteger();
        private Channel server;

        static H2cServer start() throws InterruptedException {
            H2cServer s = new H2cServer();
            s.server = new ServerBootstrap().group(s.group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            s.accepted.incrementAndGet();
                            ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build())
                                         .addLast(new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
                                             @Override
                                             protected void initChannel(Channel stream) {
                                                 s.streams.incrementAndGet();
                                                 stream.pipeline().addLast(new EchoStream());
                                             }
                                         }));
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            return s;
        }

        InetSocketAddress address() {
            return (InetSocketAddress) server.localAddress();
        }

        int accepted() {
            return accepted.get();
        }

        int streams() {
            return streams.get();
        }

        @Override
        public void close() throws InterruptedException {
            server.close().sync();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static final class EchoStream extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            boolean end;
            if (msg instanceof Http2HeadersFrame) {
                Http2HeadersFrame f = (Http2HeadersFrame) msg;
                Http2Headers in = f.headers();
                Http2Headers out = new DefaultHttp2Headers().status("200").add("content-type", "application/grpc")
                                                            .add("x-path", in.path())
                                                            .add("x-scheme", in.scheme())
                                                            .add("x-authority", in.authority())
                                                            .add("x-te", String.valueOf(in.get("te")));
                ctx.write(new DefaultHttp2HeadersFrame(out, false));
                end = f.isEndStream();
            } else if (msg instanceof Http2DataFrame) {
                Http2DataFrame d = (Http2DataFrame) msg;
                end = d.isEndStream();
                ByteBuf content = d.content().retain();
                d.release();
                if (content.isReadable()) {
                    ctx.write(new DefaultHttp2DataFrame(content, false));
                } else {
                    content.release();
                }
            } else {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (end) {
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().add("grpc-status", "0")
                                                                              .add("grpc-message", "ok"), true));
            }
            ctx.flush();
        }
    }
}
