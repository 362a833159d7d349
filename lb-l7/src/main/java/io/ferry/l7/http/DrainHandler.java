package io.ferry.l7.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.function.BooleanSupplier;

/**
 * Ends an HTTP/1.1 client connection gracefully when the proxy drains ({@link HttpProxy#drain()}): a connection
 * with no request in flight is closed at once; one with a request in flight finishes it, its response says
 * {@code Connection: close}, and the connection closes once that response is written. A connection that switched
 * protocols (a WebSocket) is left alone: it ends when either side closes it, or when the process stops.
 *
 * <p>Sits between the server codec and {@link HttpFrontendHandler} and only counts: requests in, final responses
 * out. One instance per connection, confined to its event loop.
 */
final class DrainHandler extends ChannelDuplexHandler {

    private final BooleanSupplier proxyDraining;
    private ChannelHandlerContext ctx;
    private int inFlight;
    private boolean interim;
    private boolean upgraded;
    private boolean draining;
    /** A response head that said {@code Connection: close} is being written: its end ends the connection. */
    private boolean closeAfterResponse;

    /** @param proxyDraining whether the proxy drains already (a connection that comes in late) */
    DrainHandler(BooleanSupplier proxyDraining) {
        this.proxyDraining = proxyDraining;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (proxyDraining.getAsBoolean()) {
            // Accepted, or through TLS, just before the listener closed: it may carry one request.
            draining = true;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!upgraded && msg instanceof HttpRequest) {
            inFlight++;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (upgraded) {
            ctx.write(msg, promise);
            return;
        }
        // The proxy's own classes by exact class first: a failing interface check is slow on Java 17 (JDK-8180450).
        Class<?> c = msg.getClass();
        if (c == DefaultHttpContent.class) {
            ctx.write(msg, promise);
            return;
        }
        if (c != DefaultLastHttpContent.class && msg instanceof HttpResponse) {
            HttpResponseStatus status = ((HttpResponse) msg).status();
            if (status.equals(HttpResponseStatus.SWITCHING_PROTOCOLS)) {
                upgraded = true;
                ctx.write(msg, promise);
                return;
            }
            interim = status.codeClass() == HttpStatusClass.INFORMATIONAL;
            if (draining && !interim) {
                ((HttpResponse) msg).headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                closeAfterResponse = true;
            }
        }
        ctx.write(msg, promise);
        if (c == DefaultLastHttpContent.class || c != DefaultHttpResponse.class && msg instanceof LastHttpContent) {
            if (interim) {
                interim = false;
            } else {
                inFlight = Math.max(0, inFlight - 1);
                if (closeAfterResponse || draining && inFlight == 0) {
                    // Requests pipelined behind a Connection: close go unanswered, as the client was told (RFC 9112,
                    // 9.6). A response whose head went out before the drain could not say it; its end closes too.
                    ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                }
            }
        }
    }

    /** Starts the drain on this connection; call on its event loop. */
    void drain() {
        if (draining || upgraded) {
            return;
        }
        draining = true;
        if (inFlight == 0) {
            ctx.channel().close();
        }
    }
}
