package io.ferry.control;

import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import io.ferry.l4.L4Table;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import io.ferry.l4.RoundRobinBalancer;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l7.http.HttpProxy;
import io.ferry.l7.http.HttpProxyConfig;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs traffic through a private copy of the edge proxy before Ferry opens any listener of its own, so that the
 * first clients meet compiled code rather than the interpreter.
 *
 * <p>A JVM starts cold: until the JIT has compiled the request path, each request costs many times what it costs
 * later. A burst of connections at start (a load balancer's, or a benchmark's: 64 TLS clients at once) then waits
 * seconds for its handshakes; on a busy node, long enough for clients with deadlines to give up, and for
 * {@code h2load -D} to hang (a client it connects after its duration has ended is never stopped). nginx and
 * HAProxy have no such phase. So Ferry goes through it before anyone can connect: a private {@link HttpProxy} on
 * loopback port 0, with its own self-signed certificate and one route to a private backend, on the edge's
 * transport, gets — one kind after the other, in {@value #ROUNDS} rounds, from Netty clients on the same event
 * loops — {@value #H2_REQUESTS} HTTP/2 streams over TLS, {@value #REQUESTS} HTTP/1.1 keep-alive requests in clear
 * text and as many over TLS, and {@value #HANDSHAKES} new TLS connections. A private {@link ServiceProxy} (the L4
 * relay, with the real one's settings, on the relay's transport) on another loopback port 0 relays
 * {@value #L4_REQUESTS} HTTP/1.1 keep-alive requests to the same backend; without HTTP listeners that is the
 * whole warm-up. The same classes serve the real listeners afterwards, so their code is compiled. The time budget
 * caps it all (a starved machine gets a partial warm-up, not a late start). Nothing of the private proxies outlives
 * the call: their connections are drained and closed; their stats and pools are their own.
 *
 * <p>Not warmed: DNS (its per-query code is small) and UDP, and balancers other than round robin.
 */
final class Warmup {

    private static final Logger logger = LoggerFactory.getLogger(Warmup.class);
    /** A small response, as most are. */
    private static final byte[] BODY = "x".repeat(64).getBytes(StandardCharsets.US_ASCII);
    /** Client connections per phase: enough to fill a few event-loop turns, as a loaded proxy sees them. */
    private static final int CONNECTIONS = 8;
    /** Streams in flight per HTTP/2 connection. */
    private static final int STREAMS = 10;
    /** Requests per kind: past the JIT's thresholds for the methods of the request path (C2 at ~10,000 calls). */
    private static final long REQUESTS = 8_000;
    /**
     * HTTP/2 streams: four times the others. HTTP/2 has the most code per request (frames, HPACK, flow control, the
     * conversions to and from HTTP/1), and 8,000 streams left much of it to be compiled under the first real load:
     * pinned to one CPU, the first 4 s of {@code h2load -c64 -m10} ran at 105-109 µs of CPU per request instead of
     * 25, and the next 4 s at 64. With 32,000 they ran at 72 and 35, for 3 s more of warm-up.
     */
    private static final long H2_REQUESTS = 32_000;
    /**
     * Requests through the L4 relay: each is two reads and two writes of its handlers, and most of the rest (epoll,
     * buffers) is the code the HTTP kinds warm too.
     */
    private static final long L4_REQUESTS = 4_000;
    /** New TLS connections, one request each. */
    private static final long HANDSHAKES = 200;
    /** The counts are reached in this many rounds of every kind. */
    private static final int ROUNDS = 8;

    /** What a warm-up did. */
    record Result(long l4, long http1, long https1, long h2, long handshakes, long failures, Duration took) {

        long requests() {
            return l4 + http1 + https1 + h2 + handshakes;
        }
    }

    /** The L4 relay's event loops, and its clients'. */
    private final Transport relayTransport;
    /** The edge proxy's, its clients' and the backend's ({@link #relayTransport} without HTTP). */
    private final Transport httpTransport;
    private final TcpProxyConfig tcp;
    private final boolean http;
    private final AtomicLong l4 = new AtomicLong();
    private final AtomicLong http1 = new AtomicLong();
    private final AtomicLong https1 = new AtomicLong();
    private final AtomicLong h2 = new AtomicLong();
    private final AtomicLong handshakes = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    /** The clients' and the backend's connections: closed at the end, so the private proxy's pooled ones go too. */
    private final ChannelGroup all = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

    private Warmup(Transport relayTransport, Transport httpTransport, TcpProxyConfig tcp) {
        this.relayTransport = relayTransport;
        this.httpTransport = httpTransport == null ? relayTransport : httpTransport;
        this.tcp = tcp;
        this.http = httpTransport != null;
    }

    /** Warms the L4 relay and the edge proxy ({@link #run(Transport, Duration, TcpProxyConfig, boolean)}). */
    static Result run(Transport transport, Duration budget) {
        return run(transport, transport, budget, TcpProxyConfig.builder().build());
    }

    /**
     * Warms the L4 relay's code on {@code relayTransport} (with {@code tcp}, the real relay's settings) and, unless
     * {@code httpTransport} is {@code null}, the edge proxy's on {@code httpTransport} (which may be the same), for
     * about {@code budget}; returns what it did. Failures are counted, never thrown: a warm-up that cannot run
     * leaves Ferry cold, not down.
     */
    static Result run(Transport relayTransport, Transport httpTransport, Duration budget, TcpProxyConfig tcp) {
        long start = System.nanoTime();
        Warmup w = new Warmup(relayTransport, httpTransport, tcp);
        try {
            w.drive(budget);
        } catch (Exception e) {
            w.failures.incrementAndGet();
            logger.warn("Warm-up stopped early: {}", e.toString());
        }
        Result r = new Result(w.l4.get(), w.http1.get(), w.https1.get(), w.h2.get(), w.handshakes.get(),
                              w.failures.get(), Duration.ofNanos(System.nanoTime() - start));
        logger.info("Warm-up: {} requests in {} ms (L4 relay {}, HTTP/1.1 {}, HTTPS {}, HTTP/2 {}, new TLS "
                    + "handshakes {}; {} failed)", r.requests(), r.took().toMillis(), r.l4(), r.http1(), r.https1(),
                    r.h2(), r.handshakes(), r.failures());
        return r;
    }

    private void drive(Duration budget) throws Exception {
        long deadline = System.nanoTime() + budget.toNanos();
        InetAddress loopback = InetAddress.getLoopbackAddress();
        Channel backend = new ServerBootstrap()
                .group(httpTransport.group())
                .channel(httpTransport.serverChannelType())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        all.add(ch);
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                                              new Responder());
                    }
                })
                .bind(new InetSocketAddress(loopback, 0)).sync().channel();
        Backend b = Backend.of("ferry-warmup", List.of(Endpoint.of((InetSocketAddress) backend.localAddress())),
                               RoundRobinBalancer.create());
        ServiceProxy relay = new ServiceProxy(relayTransport, tcp);
        HttpProxy proxy = http ? new HttpProxy(httpTransport, HttpProxyConfig.builder().accessLog(false).build())
                               : null;
        try {
            relay.apply(L4Table.builder().add(ListenerKey.of(loopback, 0, Protocol.TCP), b).build());
            InetSocketAddress tcpAt = (InetSocketAddress) relay.listeners().values().iterator().next().localAddress();
            HttpTargets to = http ? HttpTargets.start(proxy, loopback, b) : null;
            // One kind at a time (side by side, the kinds that start slowest would get the least of a starved CPU),
            // in rounds (so that every kind has had its share when the budget runs out first).
            for (int round = 0; round < ROUNDS && System.nanoTime() - deadline < 0; round++) {
                phase(L4_REQUESTS / ROUNDS, deadline,
                      (left, done) -> keepAlive(relayTransport, tcpAt, null, left, l4, done));
                if (http) {
                    phase(H2_REQUESTS / ROUNDS, deadline, (left, done) -> http2(to.https, to.h2, left, done));
                    phase(REQUESTS / ROUNDS, deadline,
                          (left, done) -> keepAlive(httpTransport, to.plain, null, left, http1, done));
                    phase(REQUESTS / ROUNDS, deadline,
                          (left, done) -> keepAlive(httpTransport, to.https, to.h1, left, https1, done));
                    phase(HANDSHAKES / ROUNDS, deadline, (left, done) -> newConnections(to.https, to.h1, left, done));
                }
            }
        } finally {
            if (proxy != null) {
                proxy.drain();
                proxy.close();
            }
            relay.close();
            backend.close().sync();
            all.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    /** The private edge proxy's listeners, and the client TLS contexts for them (HTTP/1.1 and HTTP/2 by ALPN). */
    private record HttpTargets(InetSocketAddress plain, InetSocketAddress https, SslContext h1, SslContext h2) {

        /** Binds {@code proxy} on {@code loopback} port 0 (clear text and TLS) with one route to {@code backend}. */
        static HttpTargets start(HttpProxy proxy, InetAddress loopback, Backend backend) throws Exception {
            InetSocketAddress plain = proxy.bind(new InetSocketAddress(loopback, 0));
            proxy.applyTls(TlsTable.of(TlsCertificate.generateDefault()));
            InetSocketAddress https = proxy.bindHttps(new InetSocketAddress(loopback, 0));
            HttpRouteTable.Builder<Route> table = HttpRouteTable.builder();
            table.add("", PathType.PREFIX, "/", Route.of("ferry-warmup", backend, RoutePolicy.DEFAULT));
            proxy.apply(table.build());
            SslContext h1 = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build();
            SslContext h2 = SslContextBuilder.forClient()
                                             .trustManager(InsecureTrustManagerFactory.INSTANCE)
                                             .applicationProtocolConfig(new ApplicationProtocolConfig(
                                                     ApplicationProtocolConfig.Protocol.ALPN,
                                                     ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                                                     ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                                                     ApplicationProtocolNames.HTTP_2))
                                             .build();
            return new HttpTargets(plain, https, h1, h2);
        }
    }

    /** What a phase starts on each of its {@link #CONNECTIONS} connections. */
    private interface Client {
        void start(AtomicLong left, CountDownLatch done);
    }

    /** Runs {@code CONNECTIONS} clients until {@code target} requests are answered or {@code deadline} passes. */
    private void phase(long target, long deadline, Client client) throws InterruptedException {
        AtomicLong left = new AtomicLong(target);
        CountDownLatch done = new CountDownLatch(CONNECTIONS);
        for (int i = 0; i < CONNECTIONS; i++) {
            client.start(left, done);
        }
        long wait = deadline - System.nanoTime();
        if (wait <= 0 || !done.await(wait, TimeUnit.NANOSECONDS)) {
            left.set(0); // out of time: the clients stop after the request they are on
            if (!done.await(5, TimeUnit.SECONDS)) {
                failures.incrementAndGet();
            }
        }
    }

    /** Takes one request off {@code left}; {@code false} when none is left. */
    private static boolean take(AtomicLong left) {
        return left.getAndDecrement() > 0;
    }

    private static FullHttpRequest get() {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/warmup",
                                                         Unpooled.EMPTY_BUFFER);
        req.headers().set(HttpHeaderNames.HOST, "localhost");
        return req;
    }

    /**
     * One HTTP/1.1 keep-alive connection to {@code at} (over TLS with {@code tls}) that sends a GET, and the next
     * when it is answered, while requests are {@code left}; then it closes and counts {@code done} down. In clear
     * text it closes as a load generator that stops does: one more request sent, and the connection reset.
     */
    private void keepAlive(Transport on, InetSocketAddress at, SslContext tls, AtomicLong left, AtomicLong answered,
                           CountDownLatch done) {
        connect(on, at, tls, done, ch -> ch.pipeline().addLast(
                new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                new SimpleChannelInboundHandler<FullHttpResponse>() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        next(ctx);
                    }

                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
                        count(res, answered);
                        next(ctx);
                    }

                    private void next(ChannelHandlerContext ctx) {
                        if (take(left)) {
                            ctx.writeAndFlush(get());
                        } else if (tls == null) {
                            // As a load generator stops: a request in flight, then a reset. The proxy's paths for
                            // a client gone mid-exchange (read error, upstream abandoned) get compiled here, not
                            // under the first real load's end.
                            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                            ctx.writeAndFlush(get()).addListener(f -> ctx.close());
                        } else {
                            ctx.close();
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        failures.incrementAndGet();
                        ctx.close();
                    }
                }));
    }

    /** New TLS connections to {@code at}, one request each (the proxy closes), one after the other. */
    private void newConnections(InetSocketAddress at, SslContext tls, AtomicLong left, CountDownLatch done) {
        if (!take(left)) {
            done.countDown();
            return;
        }
        CountDownLatch one = new CountDownLatch(1) {
            @Override
            public void countDown() {
                super.countDown();
                newConnections(at, tls, left, done); // the next one, from the closing connection's loop
            }
        };
        connect(httpTransport, at, tls, one, ch -> ch.pipeline().addLast(
                new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                new SimpleChannelInboundHandler<FullHttpResponse>() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        FullHttpRequest req = get();
                        req.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                        ctx.writeAndFlush(req);
                    }

                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
                        count(res, handshakes);
                        ctx.close();
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        failures.incrementAndGet();
                        ctx.close();
                    }
                }));
    }

    /**
     * One HTTP/2 connection over TLS to {@code at} that keeps {@link #STREAMS} streams open, a new one for each
     * that ends, while requests are {@code left}.
     */
    private void http2(InetSocketAddress at, SslContext tls, AtomicLong left, CountDownLatch done) {
        connect(httpTransport, at, tls, done, ch -> ch.pipeline().addLast(
                Http2FrameCodecBuilder.forClient().build(),
                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()),
                new ChannelInboundHandlerAdapter() {
                    private int open;

                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt instanceof SslHandshakeCompletionEvent) {
                            if (((SslHandshakeCompletionEvent) evt).isSuccess()) {
                                for (int i = 0; i < STREAMS; i++) {
                                    stream(ctx.channel());
                                }
                            } else {
                                failures.incrementAndGet();
                                ctx.close();
                            }
                        }
                        ctx.fireUserEventTriggered(evt);
                    }

                    private void stream(Channel connection) {
                        if (!take(left)) {
                            if (open == 0) {
                                connection.close();
                            }
                            return;
                        }
                        open++;
                        new Http2StreamChannelBootstrap(connection).handler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel st) {
                                st.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false),
                                                      new HttpObjectAggregator(64 * 1024),
                                                      new SimpleChannelInboundHandler<FullHttpResponse>() {
                                    @Override
                                    public void channelActive(ChannelHandlerContext sc) {
                                        sc.writeAndFlush(get());
                                    }

                                    @Override
                                    protected void channelRead0(ChannelHandlerContext sc, FullHttpResponse res) {
                                        count(res, h2);
                                    }

                                    @Override
                                    public void channelInactive(ChannelHandlerContext sc) {
                                        open--;
                                        stream(connection);
                                    }
                                });
                            }
                        }).open();
                    }
                }));
    }

    private void count(FullHttpResponse res, AtomicLong answered) {
        if (res.status().code() == 200) {
            answered.incrementAndGet();
        } else {
            failures.incrementAndGet();
        }
    }

    /**
     * Connects to {@code at} from {@code on}'s event loops, with {@code tls} (if any) first; {@code done} counts down
     * when the connection ends.
     */
    private void connect(Transport on, InetSocketAddress at, SslContext tls, CountDownLatch done,
                         Consumer<Channel> handlers) {
        new Bootstrap()
                .group(on.group())
                .channelFactory(on.socketChannelFactory(at))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        all.add(ch);
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc(), "localhost", at.getPort()));
                        }
                        handlers.accept(ch);
                    }
                })
                .connect(at)
                .addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        f.channel().closeFuture().addListener(c -> done.countDown());
                    } else {
                        failures.incrementAndGet();
                        done.countDown();
                    }
                });
    }

    /** The private backend: 200 and {@link #BODY} for every request, kept alive. */
    private static final class Responder extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                                               Unpooled.wrappedBuffer(BODY));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain").setInt(HttpHeaderNames.CONTENT_LENGTH,
                                                                                  BODY.length);
            ctx.writeAndFlush(res);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
