package io.ferry.l7.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The child handler of one listener: holds its open connections to {@link HttpProxyConfig#maxConnections()}. A
 * connection under the limit gets the listener's own initializer; one over it is closed before anything is read,
 * and counted ({@link HttpStats#connectionsRejected()}).
 *
 * <p>One instance per listener, shared by its connections (which may be on any event loop: the count is atomic).
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInitializer<Channel> {

    private final int max;
    private final HttpStats stats;
    private final ChannelInitializer<Channel> next;
    private final AtomicInteger open = new AtomicInteger();

    ConnectionLimit(int max, HttpStats stats, ChannelInitializer<Channel> next) {
        this.max = max;
        this.stats = stats;
        this.next = next;
    }

    @Override
    protected void initChannel(Channel ch) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            stats.connectionsRejected.increment();
            ch.close();
            return;
        }
        ch.closeFuture().addListener(f -> open.decrementAndGet());
        ch.pipeline().addLast(next);
    }

    /** Connections of this listener open now. */
    int open() {
        return open.get();
    }
}
