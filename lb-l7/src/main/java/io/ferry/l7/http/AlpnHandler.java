package io.ferry.l7.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

/**
 * After the TLS handshake, builds the rest of an HTTPS connection's pipeline for the protocol ALPN agreed on:
 * {@code h2} gets HTTP/2 ({@link HttpProxy#addHttp2}, where its limits are described); anything else gets HTTP/1.1.
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
            proxy.addHttp2(ctx.pipeline(), localPort, "https");
        } else {
            // The handler starts reading as soon as it is added: the connection is already active.
            proxy.addHttp1(ctx.pipeline(), localPort, "https");
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
