package io.ferry.control.admin;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.ferry.control.ControlLoop;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The admin HTTP server.
 *
 * <ul>
 *   <li>{@code /livez} — 200 while the process works.</li>
 *   <li>{@code /readyz} — 200 once the first snapshot is applied, 503 before and while draining.</li>
 *   <li>{@code /healthz} — kube-proxy's rule: 503 when changes have been pending longer than the limit without
 *       being applied; JSON with {@code lastUpdated} and {@code currentTime}, and {@code source}: whether the
 *       source's last state was whole, since when it has not been and why (the tables stay live meanwhile, and
 *       the status code does not change for it).</li>
 *   <li>{@code /config_dump} — JSON of the live tables, listeners, problems and counters.</li>
 *   <li>{@code /metrics} — the {@link Metrics} in the Prometheus text format, or OpenMetrics when the
 *       {@code Accept} header asks for it.</li>
 * </ul>
 * Binds loopback by default; runs on the shared event loops, and every handler only reads volatile state.
 */
public final class AdminServer implements AutoCloseable {

    private final Channel channel;
    private final Metrics metrics;

    private AdminServer(Channel channel, Metrics metrics) {
        this.metrics = metrics;
        this.channel = channel;
    }

    /** What {@code /metrics} serves; more collectors can be registered once their sources exist. */
    public Metrics metrics() {
        return metrics;
    }

    /**
     * Binds the admin server.
     *
     * @param draining whether the process is shutting down ({@code /readyz} then answers 503)
     * @param healthzTimeout how long changes may stay pending before {@code /healthz} fails
     */
    public static AdminServer start(Transport transport, InetSocketAddress address, ControlLoop loop,
                                    ServiceProxy proxy, BooleanSupplier draining, Duration healthzTimeout,
                                    Clock clock) throws InterruptedException {
        requireNonNull(address, "address");
        Metrics metrics = Metrics.create(requireNonNull(loop, "loop"), requireNonNull(proxy, "proxy"));
        Handler handler = new Handler(loop, proxy, requireNonNull(draining, "draining"), healthzTimeout, clock,
                                      metrics);
        Channel ch = new ServerBootstrap()
                .group(transport.group())
                .channel(transport.serverChannelType())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(4096, 8192, 8192),
                                              new HttpObjectAggregator(64 * 1024), handler);
                    }
                })
                .bind(address).sync().channel();
        return new AdminServer(ch, metrics);
    }

    /** Where it listens (the real port when started on port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
    }

    @ChannelHandler.Sharable
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private static final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                                                                    .registerModule(new JavaTimeModule())
                                                                    .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

        private final ControlLoop loop;
        private final ServiceProxy proxy;
        private final BooleanSupplier draining;
        private final Duration healthzTimeout;
        private final Clock clock;
        private final Metrics metrics;

        Handler(ControlLoop loop, ServiceProxy proxy, BooleanSupplier draining, Duration healthzTimeout,
                Clock clock, Metrics metrics) {
            this.loop = loop;
            this.proxy = proxy;
            this.draining = draining;
            this.healthzTimeout = healthzTimeout;
            this.clock = clock;
            this.metrics = metrics;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) throws Exception {
            if (!req.decoderResult().isSuccess()) {
                respond(ctx, req, HttpResponseStatus.BAD_REQUEST, "text/plain", "bad request\n");
                return;
            }
            if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
                respond(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain", "use GET\n");
                return;
            }
            String path = new QueryStringDecoder(req.uri()).path();
            switch (path) {
                case "/livez":
                    respond(ctx, req, HttpResponseStatus.OK, "text/plain", "ok\n");
                    break;
                case "/readyz": {
                    boolean ready = loop.status().ready() && !draining.getAsBoolean();
                    respond(ctx, req, ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                            "text/plain", ready ? "ok\n" : draining.getAsBoolean() ? "draining\n" : "not ready\n");
                    break;
                }
                case "/healthz":
                    healthz(ctx, req);
                    break;
                case "/config_dump":
                    respond(ctx, req, HttpResponseStatus.OK, "application/json",
                            json.writeValueAsString(ConfigDump.build(loop, proxy)) + '\n');
                    break;
                case "/metrics": {
                    Metrics.Scrape scrape = metrics.scrape(req.headers().get(HttpHeaderNames.ACCEPT));
                    respond(ctx, req, HttpResponseStatus.OK, scrape.contentType(), scrape.body());
                    break;
                }
                default:
                    respond(ctx, req, HttpResponseStatus.NOT_FOUND, "text/plain",
                            "not found; try /healthz, /livez, /readyz, /metrics or /config_dump\n");
            }
        }

        private void healthz(ChannelHandlerContext ctx, FullHttpRequest req) throws Exception {
            Instant now = clock.instant();
            Instant pending = loop.pendingSince();
            boolean healthy = pending == null || Duration.between(pending, now).compareTo(healthzTimeout) <= 0;
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("lastUpdated", loop.status().appliedAt() == null ? null : loop.status().appliedAt().toString());
            body.put("currentTime", now.toString());
            body.put("pendingSince", pending == null ? null : pending.toString());
            body.put("healthy", healthy);
            // The control plane's side: a source that cannot be read (a manifest directory gone, the API server
            // down) leaves the last tables serving. That is reported, not failed: a 503 here would take every node
            // out of its load balancer at once when the API server goes away, while each one still routes.
            ControlLoop.SourceHealth source = loop.sourceHealth();
            Map<String, Object> src = new LinkedHashMap<>();
            src.put("healthy", source.healthy());
            src.put("failingSince", source.failingSince() == null ? null : source.failingSince().toString());
            src.put("problems", source.problems().stream().map(Object::toString).toList());
            body.put("source", src);
            respond(ctx, req, healthy ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "application/json", json.writeValueAsString(body) + '\n');
        }

        private static void respond(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status,
                                    String contentType, String body) {
            respond(ctx, req, status, contentType + "; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
        }

        /** {@code contentType} is sent as it is, parameters included. */
        private static void respond(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status,
                                    String contentType, byte[] bytes) {
            boolean head = req.method() == HttpMethod.HEAD;
            FullHttpResponse res = new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1, status, head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(bytes));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (keepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(res);
            } else {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
