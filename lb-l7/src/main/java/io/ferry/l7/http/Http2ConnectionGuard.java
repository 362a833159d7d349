package io.ferry.l7.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * The last handler of an HTTP/2 connection's pipeline: closes the connection when it has been idle with no open
 * stream for the client idle timeout (nginx's {@code http2 idle_timeout}), and ends connection errors — a client
 * that breaks the protocol (rapid resets, CONTINUATION floods, bad frames) — quietly: counted and closed, not logged
 * with a stack trace, so that a client cannot fill the log.
 *
 * <p>One instance per connection, on its event loop.
 */
final class Http2ConnectionGuard extends ChannelInboundHandlerAdapter {

    private final HttpStats stats;

    Http2ConnectionGuard(HttpStats stats) {
        this.stats = stats;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            Http2ConnectionHandler codec = ctx.pipeline().get(Http2ConnectionHandler.class);
            if (codec == null || codec.connection().numActiveStreams() == 0) {
                ctx.close();
            }
            return;
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        stats.h2ConnectionErrors.increment();
        if (Http2CodecUtil.getEmbeddedHttp2Exception(cause) == null) {
            ctx.close(); // an I/O error: the connection is gone
        }
        // An HTTP/2 protocol error: the codec sends GOAWAY with its error code and closes; closing here first
        // would send a graceful GOAWAY (NO_ERROR) instead.
    }
}
