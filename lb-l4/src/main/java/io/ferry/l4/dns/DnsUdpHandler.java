package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers the queries of one UDP listener channel: each datagram is answered (or forwarded, or dropped) and
 * released; responses are flushed once per read batch. Bad datagrams never close the channel.
 *
 * <p>One instance per channel, confined to its event loop.
 */
final class DnsUdpHandler extends ChannelInboundHandlerAdapter {

    private static final Logger logger = LoggerFactory.getLogger(DnsUdpHandler.class);

    private final DnsServer server;
    private final DnsResponder responder;
    private boolean needsFlush;

    DnsUdpHandler(DnsServer server) {
        this.server = server;
        this.responder = new DnsResponder(server);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        DatagramPacket packet = (DatagramPacket) msg;
        try {
            long start = System.nanoTime();
            server.stats().udpQueries.increment();
            ByteBuf out = responder.respond(packet.content(), ctx.channel(), packet.sender(), false, start);
            if (out != null) {
                ctx.write(new DatagramPacket(out, packet.sender()), ctx.voidPromise());
                needsFlush = true;
            }
        } finally {
            packet.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (needsFlush) {
            needsFlush = false;
            ctx.flush();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        responder.release();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A failed send to one client (an unreachable address, a full buffer) is that client's problem only.
        logger.debug("DNS UDP listener {}: {}", ctx.channel().localAddress(), cause.toString());
    }
}
