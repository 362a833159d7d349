package io.ferry.l4;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.io.IOException;

/**
 * The upstream half of a relayed TCP connection: copies what the endpoint sends to the client.
 *
 * <p>Owned by the event loop of the client's channel, which the upstream channel shares. Reads stop while the
 * client's channel is not writable and resume when it drains (backpressure both ways with
 * {@link TcpFrontendHandler}).
 */
final class TcpBackendHandler extends ChannelInboundHandlerAdapter {

    private final Channel inbound;
    private final ProxyStats stats;
    private final BackendStats backendStats;

    TcpBackendHandler(Channel inbound, ProxyStats stats, BackendStats backendStats) {
        this.inbound = inbound;
        this.stats = stats;
        this.backendStats = backendStats;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf) {
            int n = ((ByteBuf) msg).readableBytes();
            stats.bytesToClients.add(n);
            backendStats.addBytesToClients(n);
        }
        inbound.write(msg, inbound.voidPromise());
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        inbound.flush();
        if (!inbound.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // The upstream drained: let the client talk again.
        inbound.config().setAutoRead(ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            Relay.propagateFin(ctx.channel(), inbound);
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Relay.closeOnFlush(inbound);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A reset from the endpoint is passed on to the client as a reset, never as a clean end.
        if (cause instanceof IOException) {
            Relay.reset(inbound);
        } else {
            inbound.close();
        }
        ctx.close();
    }
}
