package io.ferry.l7.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/**
 * One HTTP/2 stream to an endpoint, opened on a shared cleartext connection of the {@link H2cUpstreamPool}: the last
 * handler of the stream's child channel ({@code Http2StreamFrameToHttpObjectCodec} before it, so the request is
 * written and the response read as HTTP/1 objects, its trailers as {@code LastHttpContent.trailingHeaders()}).
 * Everything it reads goes to the {@link HttpFrontendHandler} it is attached to. A stream carries one request and
 * is never pooled: it ends with its response, and {@link #release} closes it (a reset) if it is still open.
 *
 * <p>Confined to the event loop of the connection it belongs to, which is the client connection's.
 */
final class H2cUpstreamStream extends ChannelInboundHandlerAdapter implements Upstream {

    private Channel channel;
    private HttpFrontendHandler owner;

    @Override
    public Channel channel() {
        return channel;
    }

    @Override
    public int requests() {
        return 1;
    }

    @Override
    public void attach(HttpFrontendHandler frontend) {
        owner = frontend;
        channel.config().setAutoRead(true);
    }

    @Override
    public void release(boolean keep) {
        owner = null;
        if (channel.isActive()) {
            channel.close();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        HttpFrontendHandler o = owner;
        if (o != null) {
            o.upstreamRead(this, msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        HttpFrontendHandler o = owner;
        if (o != null) {
            o.upstreamReadComplete(this);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        HttpFrontendHandler o = owner;
        if (o != null) {
            o.upstreamWritabilityChanged(this);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        HttpFrontendHandler o = owner;
        owner = null;
        if (o != null) {
            o.upstreamClosed(this, null);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A reset from the server, or a frame it should not have sent: this stream is done, the connection is not.
        HttpFrontendHandler o = owner;
        owner = null;
        if (o != null) {
            o.upstreamClosed(this, cause);
        }
        ctx.close();
    }

    @Override
    public String toString() {
        return "H2cUpstreamStream(" + channel + ')';
    }
}
