package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * Relays raw bytes to a peer channel after a protocol switch ({@code 101 Switching Protocols}: WebSocket and other
 * {@code Upgrade}s), with backpressure. Either side closing closes the other once its writes are out; an idle
 * timeout (the route's read timeout, as ingress-nginx applies {@code proxy-read-timeout} to WebSockets) closes
 * both.
 *
 * <p>One instance per side; both sides live on one event loop.
 */
final class RawRelay extends ChannelInboundHandlerAdapter {

    private final Channel peer;
    private final HttpStats stats;
    private final boolean fromClient;

    RawRelay(Channel peer, HttpStats stats, boolean fromClient) {
        this.peer = peer;
        this.stats = stats;
        this.fromClient = fromClient;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf) {
            int n = ((ByteBuf) msg).readableBytes();
            if (fromClient) {
                stats.bytesFromClients.add(n);
            } else {
                stats.bytesToClients.add(n);
            }
            peer.write(msg, peer.voidPromise());
        } else {
            // The codec's end-of-message marker for the 101 response, or similar: nothing to relay.
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        peer.flush();
        if (!peer.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        peer.config().setAutoRead(ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            ctx.close();
            return;
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (peer.isActive()) {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
