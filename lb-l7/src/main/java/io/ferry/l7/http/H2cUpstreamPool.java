package io.ferry.l7.http;

import io.ferry.l4.IdleTimeoutHandler;
import io.ferry.l4.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP/2 cleartext (prior knowledge: no TLS, no upgrade) connections of one event loop, one per endpoint
 * address, each carrying every request of this loop to that endpoint as a stream of its own
 * ({@link H2cUpstreamStream}).
 *
 * <p>A connection is dialled by the first request that needs it; requests that come while it connects wait on the
 * same connect. It serves new streams while it is open, has not received GOAWAY and stays under the server's
 * {@code SETTINGS_MAX_CONCURRENT_STREAMS}; when it is full (or going away), the next request dials a new connection,
 * which from then on takes the new streams, while the old one finishes the streams it has. A connection with no
 * stream is closed after the upstream idle timeout.
 *
 * <p>Confined to its event loop: no locks. Connections are made on that loop.
 */
final class H2cUpstreamPool {

    /** As much response head as an HTTP/1.1 upstream may send ({@code HttpFrontendHandler}'s decoder limit). */
    private static final long MAX_HEADER_LIST = 64 * 1024;

    private final Transport transport;
    private final long idleTimeoutNanos;
    private final Map<InetSocketAddress, ChannelFuture> connections = new HashMap<>();

    H2cUpstreamPool(Transport transport, long idleTimeoutNanos) {
        this.transport = transport;
        this.idleTimeoutNanos = idleTimeoutNanos;
    }

    /**
     * The connection new streams to {@code address} go on: the current one when it can take a stream (its future
     * may still be connecting), else a new one dialled on {@code loop}, which must be this pool's event loop.
     */
    ChannelFuture connection(InetSocketAddress address, EventLoop loop, int connectTimeoutMillis) {
        ChannelFuture current = connections.get(address);
        if (current != null && (!current.isDone() || canOpenStream(current.channel()))) {
            return current;
        }
        ChannelFuture f = dial(address, loop, connectTimeoutMillis);
        connections.put(address, f);
        // Forgotten when it fails or closes, if it is still the current one.
        f.addListener((ChannelFuture done) -> {
            if (!done.isSuccess()) {
                connections.remove(address, done);
            } else {
                done.channel().closeFuture().addListener(c -> connections.remove(address, done));
            }
        });
        return f;
    }

    /** Whether the current connection to {@code address} is connected and can take a stream. */
    boolean ready(InetSocketAddress address) {
        ChannelFuture current = connections.get(address);
        return current != null && current.isDone() && canOpenStream(current.channel());
    }

    /** Connections to {@code address} that new streams could go on (0 or 1). */
    int connectionCount(InetSocketAddress address) {
        return connections.containsKey(address) ? 1 : 0;
    }

    /**
     * Opens a stream on {@code connection} whose pipeline ends with a new {@link H2cUpstreamStream}. The stream
     * does not read until it is attached.
     */
    static Future<Http2StreamChannel> openStream(Channel connection) {
        return new Http2StreamChannelBootstrap(connection)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.pipeline().addLast("h2-http", new Http2StreamFrameToHttpObjectCodec(false))
                                     .addLast("upstream", new H2cUpstreamStream());
                    }
                })
                .open();
    }

    private static boolean canOpenStream(Channel ch) {
        if (!ch.isActive()) {
            return false;
        }
        Http2FrameCodec codec = ch.pipeline().get(Http2FrameCodec.class);
        if (codec == null) {
            return false;
        }
        Http2Connection c = codec.connection();
        return !c.goAwayReceived() && !c.goAwaySent() && c.local().canOpenStream();
    }

    private ChannelFuture dial(InetSocketAddress address, EventLoop loop, int connectTimeoutMillis) {
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channelFactory(transport.socketChannelFactory(address))
                // TCP_NODELAY: on by default in Netty's socket channels.
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                          .addLast("idle", new IdleTimeoutHandler(idleTimeoutNanos, TimeUnit.NANOSECONDS))
                          .addLast("h2", Http2FrameCodecBuilder.forClient()
                                                               .initialSettings(Http2Settings.defaultSettings()
                                                                                             .pushEnabled(false)
                                                                                             .maxHeaderListSize(
                                                                                                     MAX_HEADER_LIST))
                                                               .validateHeaders(true)
                                                               .build())
                          .addLast("h2-streams", new Http2MultiplexHandler(new RefusePushes()))
                          .addLast("idle-close", new IdleClose());
                    }
                });
        return b.connect(address);
    }

    /** Pushed streams are disabled in our SETTINGS; one that comes anyway is closed. */
    private static final class RefusePushes extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRegistered(ChannelHandlerContext ctx) {
            ctx.close();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public boolean isSharable() {
            return true;
        }
    }

    /** Closes a connection idle for the upstream idle timeout with no stream open; errors close it too. */
    private static final class IdleClose extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent) {
                Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
                if (codec == null || codec.connection().numActiveStreams() == 0) {
                    ctx.close();
                }
                return;
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg); // connection-level frames the multiplexer passed on (SETTINGS, PING)
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
