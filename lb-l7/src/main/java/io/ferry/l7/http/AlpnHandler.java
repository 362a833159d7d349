package io.ferry.l7.http;

import io.ferry.l4.IdleTimeoutHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import java.util.concurrent.TimeUnit;

/**
 * After the TLS handshake, builds the rest of an HTTPS connection's pipeline for the protocol ALPN agreed on:
 * {@code h2} gets {@link Http2Frontend}, Netty's HTTP/2 connection handler with a frame listener that gives every
 * stream its own {@link HttpFrontendHandler} (so streams are proxied independently, each with its own flow-control
 * window and backpressure, without a child channel per stream); anything else gets HTTP/1.1.
 *
 * <p>The HTTP/2 limits a public edge needs: at most {@value #MAX_CONCURRENT_STREAMS} concurrent streams, a header
 * list limit, and Netty's rapid-reset guard (at most {@value #MAX_RST_FRAMES} RST_STREAMs per
 * {@value #RST_WINDOW_SECONDS} s, the connection is closed beyond); a connection with no open stream is closed after
 * the client idle timeout, and protocol errors end the connection quietly ({@link Http2ConnectionGuard}). Flushes
 * of the streams are consolidated ({@link FlushConsolidationHandler}): responses that complete in the same turn of
 * the event loop share a TLS record and a {@code write}.
 *
 * <p>A connection that fails before the handshake completes (a bad ClientHello, a refused protocol version, the
 * handshake timeout, a client that resets mid-handshake) is closed and counted in
 * {@link HttpStats#tlsHandshakeFailures()}, and logged at debug level only: scanners and load generators that cut
 * connections short must not fill the log with stack traces, as Netty's default handling would (two warnings with
 * a stack trace each).
 */
final class AlpnHandler extends ApplicationProtocolNegotiationHandler {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(AlpnHandler.class);

    static final int MAX_CONCURRENT_STREAMS = 128;
    static final int MAX_RST_FRAMES = 200;
    static final int RST_WINDOW_SECONDS = 30;

    private final HttpProxy proxy;
    private final int localPort;

    AlpnHandler(HttpProxy proxy, int localPort) {
        super(ApplicationProtocolNames.HTTP_1_1);
        this.proxy = proxy;
        this.localPort = localPort;
    }

    @Override
    protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
        if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
            proxy.stats().h2Connections.increment();
            // Connection-level frames (SETTINGS, PING, WINDOW_UPDATE) must always be read; each stream has its own
            // flow-control window and is read on demand (Http2FrontendStream).
            ctx.channel().config().setAutoRead(true);
            Http2Settings settings = Http2Settings.defaultSettings()
                                                  .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
                                                  .maxHeaderListSize(proxy.config().maxHeaderSize());
            ctx.pipeline().addLast("h2-idle", new IdleTimeoutHandler(proxy.config().clientIdleTimeout().toNanos(),
                                                                   TimeUnit.NANOSECONDS))
                          // Streams answered in one turn of the event loop leave in one TLS record and one write.
                          .addLast("h2-flush", new FlushConsolidationHandler(
                                  FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true))
                          .addLast("h2", new Http2Frontend.Builder(proxy, localPort)
                                                   .settings(settings)
                                                   .headerValidation(true)
                                                   .maxRstFramesPerWindow(MAX_RST_FRAMES, RST_WINDOW_SECONDS)
                                                   .build())
                          .addLast("h2-guard", new Http2ConnectionGuard(proxy.stats()));
        } else {
            // The handler starts reading as soon as it is added: the connection is already active.
            ctx.pipeline().addLast("http", proxy.newServerCodec())
                          .addLast("drain", new DrainHandler(proxy::isDraining))
                          .addLast("proxy", new HttpFrontendHandler(proxy, "https", localPort));
        }
    }

    @Override
    protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
        proxy.stats().tlsHandshakeFailures.increment();
        if (logger.isDebugEnabled()) {
            logger.debug("{} TLS handshake failed: {}", ctx.channel(), cause.toString());
        }
        ctx.close();
    }

    /**
     * An exception before the handshake completed (the handler leaves the pipeline then): the connection is closed,
     * which fails the handshake, so it is counted once, in {@link #handshakeFailure} or {@link #channelInactive}.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (logger.isDebugEnabled()) {
            logger.debug("{} closed before the TLS handshake completed: {}", ctx.channel(), cause.toString());
        }
        ctx.close();
    }

    /**
     * Closed while this handler is still in the pipeline, with no handshake outcome: the connection ended before
     * its ClientHello was complete (or was not TLS at all), so no {@code SslHandler} was ever added to report it.
     */
    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        proxy.stats().tlsHandshakeFailures.increment();
        super.channelInactive(ctx);
    }
}
