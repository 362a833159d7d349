package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers the queries of one TCP connection (RFC 7766): each frame (the length prefix is stripped before and added
 * after this handler) is one query; several may be in flight, and forwarded ones may be answered out of order. A
 * message that is not a query closes the connection, as does a connection idle for the configured timeout.
 *
 * <p>One instance per connection, confined to its event loop.
 */
final class DnsTcpHandler extends ChannelInboundHandlerAdapter {

    private static final Logger logger = LoggerFactory.getLogger(DnsTcpHandler.class);

    private final DnsServer server;
    private final DnsResponder responder;
    private boolean needsFlush;

    DnsTcpHandler(DnsServer server) {
        this.server = server;
        this.responder = new DnsResponder(server);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        server.stats().tcpConnections.increment();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        ByteBuf frame = (ByteBuf) msg;
        try {
            long start = System.nanoTime();
            server.stats().tcpQueries.increment();
            ByteBuf out = responder.respond(frame, ctx.channel(), (InetSocketAddress) ctx.channel().remoteAddress(),
                                            true, start);
            if (out != null) {
                ctx.write(out);
                needsFlush = true;
            } else if (responder.dropped()) {
                ctx.close();
            }
        } finally {
            frame.release();
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
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            ctx.close();
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A frame longer than any DNS message, a reset: this connection only.
        logger.debug("DNS TCP connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
