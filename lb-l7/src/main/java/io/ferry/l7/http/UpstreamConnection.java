package io.ferry.l7.http;

import io.ferry.l4.IdleTimeoutHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * One HTTP/1.1 connection to an endpoint, the {@link Upstream} of routes that speak HTTP to their endpoints: the last handler of its pipeline ({@link Http1ClientCodec} before it).
 * While a request uses it, everything it reads goes to that request's {@link HttpFrontendHandler} (the owner);
 * while it sits in the {@link UpstreamPool} it has no owner, and anything it reads, or its closing, takes it out.
 *
 * <p>Confined to the event loop of the client connections that use it.
 */
final class UpstreamConnection extends ChannelInboundHandlerAdapter implements Upstream {

    private final InetSocketAddress address;
    private final UpstreamPool pool;
    private Channel channel;
    /** The pool's idle timeout; suspended while a request has the connection (its own timers govern then). */
    private IdleTimeoutHandler idle;
    private HttpFrontendHandler owner;
    private int requests;
    private boolean pooled;

    UpstreamConnection(InetSocketAddress address, UpstreamPool pool) {
        this.address = address;
        this.pool = pool;
    }

    InetSocketAddress address() {
        return address;
    }

    @Override
    public Channel channel() {
        return channel;
    }

    /** Requests sent on this connection so far. */
    @Override
    public int requests() {
        return requests;
    }

    /** Gives the connection to {@code frontend} for one request. */
    @Override
    public void attach(HttpFrontendHandler frontend) {
        owner = frontend;
        pooled = false;
        requests++;
        if (idle != null) {
            idle.suspend();
        }
        channel.config().setAutoRead(true);
    }

    /**
     * Takes the connection back from its request; {@code keep} puts it in the pool (from which a request waiting for
     * its endpoint takes it in a later task), else it is closed.
     */
    @Override
    public void release(boolean keep) {
        owner = null;
        if (keep && channel.isActive() && pool.offer(this)) {
            pooled = true;
            if (idle != null) {
                idle.resume();
            }
            // Keep reading while idle: a server that closes (or talks out of turn) is noticed at once.
            channel.config().setAutoRead(true);
            pool.serveWaiters(address, channel.eventLoop());
        } else {
            channel.close();
        }
    }

    /** Detaches without pooling or closing: the connection is being switched to a raw relay. */
    void detach() {
        owner = null;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        idle = ctx.pipeline().get(IdleTimeoutHandler.class);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        HttpFrontendHandler o = owner;
        if (o != null) {
            o.upstreamRead(this, msg);
        } else {
            // A response nobody asked for: the connection is out of step, drop it.
            ReferenceCountUtil.release(msg);
            ctx.close();
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
        } else if (pooled) {
            pool.remove(this);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent && owner == null) {
            ctx.close();
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        HttpFrontendHandler o = owner;
        owner = null;
        if (o != null) {
            o.upstreamClosed(this, cause);
        }
        ctx.close();
    }

    @Override
    public String toString() {
        return "UpstreamConnection(" + address + ", " + requests + " requests)";
    }
}
