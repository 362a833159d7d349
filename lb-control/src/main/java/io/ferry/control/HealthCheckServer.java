package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.control.compile.CompiledServices.HealthCheck;
import io.ferry.l4.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
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
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code healthCheckNodePort} servers of LoadBalancer Services with {@code externalTrafficPolicy: Local}, as
 * kube-proxy serves them: an HTTP GET on the port answers 200 when this node has endpoints of the Service and
 * the proxy is healthy, 503 otherwise, with kube-proxy's JSON body and its
 * {@code X-Load-Balancing-Endpoint-Weight} header. Cloud load balancers probe it to send traffic only to nodes
 * that can serve it.
 *
 * <p>{@link #apply(List)} runs on the control thread with each snapshot: it binds the ports that are new, publishes
 * the counts with one volatile write and closes the ports that are gone. Requests are answered on the event loops
 * from the published map.
 */
public final class HealthCheckServer implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(HealthCheckServer.class);

    private final Transport transport;
    private final List<InetAddress> addresses;
    private final BooleanSupplier proxyHealthy;
    private final Handler handler = new Handler();
    // Control thread only.
    private final Map<Integer, List<Channel>> bound = new HashMap<>();
    private volatile Map<Integer, HealthCheck> checks = Map.of();
    private volatile Map<Integer, String> bindErrors = Map.of();

    /**
     * @param addresses where to listen (the node-port addresses; the wildcard for every local address)
     * @param proxyHealthy whether the proxy itself is healthy (the {@code /healthz} verdict)
     */
    public HealthCheckServer(Transport transport, List<InetAddress> addresses, BooleanSupplier proxyHealthy) {
        this.transport = requireNonNull(transport, "transport");
        this.addresses = List.copyOf(requireNonNull(addresses, "addresses"));
        this.proxyHealthy = requireNonNull(proxyHealthy, "proxyHealthy");
    }

    /** Serves exactly {@code next}; a port that cannot be bound is logged and tried again on the next apply. */
    public synchronized void apply(List<HealthCheck> next) {
        Map<Integer, HealthCheck> byPort = new LinkedHashMap<>();
        for (HealthCheck c : next) {
            byPort.putIfAbsent(c.port(), c);
        }
        Map<Integer, String> errors = new HashMap<>();
        for (Integer port : byPort.keySet()) {
            if (bound.containsKey(port)) {
                continue;
            }
            List<Channel> channels = new ArrayList<>();
            try {
                for (InetAddress address : addresses) {
                    channels.add(bind(new InetSocketAddress(address, port)));
                }
                bound.put(port, channels);
            } catch (Exception e) {
                channels.forEach(Channel::close);
                String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                if (!message.equals(bindErrors.get(port))) {
                    logger.warn("Cannot serve the health check of {} on port {}: {}", byPort.get(port), port,
                                message);
                }
                errors.put(port, message);
            }
        }
        checks = Map.copyOf(byPort);
        bound.entrySet().removeIf(e -> {
            if (!byPort.containsKey(e.getKey())) {
                e.getValue().forEach(ch -> ch.close().awaitUninterruptibly());
                return true;
            }
            return false;
        });
        bindErrors = Map.copyOf(errors);
    }

    private Channel bind(InetSocketAddress address) throws Exception {
        ChannelFuture f = new ServerBootstrap()
                .group(transport.group())
                .channel(transport.serverChannelType())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(4096, 8192, 8192),
                                              new HttpObjectAggregator(4096), handler);
                    }
                })
                .bind(address).await();
        if (!f.isSuccess()) {
            throw new Exception(f.cause().getMessage(), f.cause());
        }
        return f.channel();
    }

    /** The ports served now, with the address each listener actually bound. */
    public synchronized Map<Integer, List<InetSocketAddress>> boundAddresses() {
        Map<Integer, List<InetSocketAddress>> out = new HashMap<>();
        bound.forEach((port, channels) -> out.put(port, channels.stream()
                                                              .map(ch -> (InetSocketAddress) ch.localAddress())
                                                              .toList()));
        return out;
    }

    /** The ports the last apply could not bind, with why. */
    public Map<Integer, String> bindErrors() {
        return bindErrors;
    }

    @Override
    public synchronized void close() {
        bound.values().forEach(channels -> channels.forEach(ch -> ch.close().awaitUninterruptibly()));
        bound.clear();
        checks = Map.of();
    }

    /** kube-proxy's body, byte for byte in content. */
    static String body(HealthCheck c, boolean healthy) {
        return "{\n\t\"service\": {\n\t\t\"namespace\": \"" + c.namespace() + "\",\n\t\t\"name\": \"" + c.name()
               + "\"\n\t},\n\t\"localEndpoints\": " + c.localEndpoints() + ",\n\t\"serviceProxyHealthy\": "
               + healthy + "\n}";
    }

    @ChannelHandler.Sharable
    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            int port = ((InetSocketAddress) ctx.channel().localAddress()).getPort();
            HealthCheck c = checks.get(port);
            FullHttpResponse res;
            if (c == null) {
                res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND,
                                                  Unpooled.EMPTY_BUFFER);
            } else {
                boolean healthy = proxyHealthy.getAsBoolean();
                byte[] body = body(c, healthy).getBytes(StandardCharsets.UTF_8);
                res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                  c.localEndpoints() > 0 && healthy ? HttpResponseStatus.OK
                                                          : HttpResponseStatus.SERVICE_UNAVAILABLE,
                                                  Unpooled.wrappedBuffer(body));
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                   .set("X-Content-Type-Options", "nosniff")
                   .set("X-Load-Balancing-Endpoint-Weight", c.localEndpoints());
            }
            HttpUtil.setContentLength(res, res.content().readableBytes());
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            HttpUtil.setKeepAlive(res, keepAlive);
            ChannelFuture f = ctx.writeAndFlush(res);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
