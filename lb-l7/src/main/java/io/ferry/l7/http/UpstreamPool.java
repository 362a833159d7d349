package io.ferry.l7.http;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * The HTTP/1.1 upstream connections of one event loop, per endpoint address: the idle kept-alive ones, and, when
 * {@code --upstream-max-connections} limits them, how many are open and which requests wait for one. The most
 * recently used idle connection is handed out first (it is the least likely to have been closed by the server).
 *
 * <p>With a limit, a connection that is released goes to the first request waiting for its endpoint (in a task
 * of the loop, once the read that released it is over), and one that closes lets the first waiting request open a
 * new one. Waiting
 * requests are {@link HttpFrontendHandler}s; one that no longer waits (its client left, its wait timed out) says
 * so when its turn comes and the next one is asked.
 *
 * <p>Confined to its event loop: no locks. A connection is in the idle list only while no request uses it.
 */
final class UpstreamPool {

    /** Set on a connection while it counts towards its endpoint's limit. */
    private static final AttributeKey<Boolean> COUNTED = AttributeKey.valueOf(UpstreamPool.class, "counted");

    private final Map<InetSocketAddress, Connections> endpoints = new HashMap<>();
    private final int maxIdlePerEndpoint;
    /** {@code 0}: no limit, and open connections are not counted. */
    private final int maxPerEndpoint;

    UpstreamPool(int maxIdlePerEndpoint, int maxPerEndpoint) {
        this.maxIdlePerEndpoint = maxIdlePerEndpoint;
        this.maxPerEndpoint = maxPerEndpoint;
    }

    /** An open idle connection to {@code address}, taken out of the pool, or {@code null}. */
    UpstreamConnection poll(InetSocketAddress address) {
        Connections s = endpoints.get(address);
        if (s == null) {
            return null;
        }
        for (UpstreamConnection c; (c = s.idle.pollLast()) != null; ) {
            if (c.channel().isActive()) {
                return c;
            }
        }
        return null;
    }

    /** Whether a new connection to {@code address} may be opened now. */
    boolean mayOpen(InetSocketAddress address) {
        if (maxPerEndpoint == 0) {
            return true;
        }
        Connections s = endpoints.get(address);
        return s == null || s.open < maxPerEndpoint;
    }

    /** Counts {@code channel}, a connection being opened to {@code address}, until it closes (with a limit only). */
    void opened(InetSocketAddress address, Channel channel) {
        if (maxPerEndpoint == 0) {
            return;
        }
        connections(address).open++;
        channel.attr(COUNTED).set(Boolean.TRUE);
        channel.closeFuture().addListener(f -> uncount(address, channel));
    }

    /**
     * Stops counting {@code channel}, a connection to {@code address}: it closed, or it left HTTP for a raw relay (a
     * WebSocket, which may stay open for hours and is not what the limit is for). The first waiting request may
     * open a connection in its place.
     */
    void uncount(InetSocketAddress address, Channel channel) {
        if (maxPerEndpoint != 0 && channel.attr(COUNTED).getAndSet(null) != null) {
            closed(address);
        }
    }

    /** Queues {@code waiter} for the next connection to {@code address} that comes free or may be opened. */
    void await(InetSocketAddress address, HttpFrontendHandler waiter) {
        Connections s = connections(address);
        if (s.waiters == null) {
            s.waiters = new ArrayDeque<>();
        }
        s.waiters.add(waiter);
    }

    /** Takes {@code waiter} out of the queue for {@code address}. */
    void cancel(InetSocketAddress address, HttpFrontendHandler waiter) {
        Connections s = endpoints.get(address);
        if (s != null && s.waiters != null) {
            s.waiters.remove(waiter);
            forgetIfUnused(address, s);
        }
    }

    /**
     * If requests wait for a connection to {@code address}, hands them idle ones in a task of {@code loop}: after the
     * read in which a connection was released has ended, so that nothing more of that read can reach the request
     * that takes the connection next.
     */
    void serveWaiters(InetSocketAddress address, EventExecutor loop) {
        Connections s = endpoints.get(address);
        if (s == null || s.waiters == null || s.waiters.isEmpty() || s.serving) {
            return;
        }
        s.serving = true;
        loop.execute(() -> {
            s.serving = false;
            while (s.waiters != null && !s.waiters.isEmpty()) {
                UpstreamConnection c = poll(address);
                if (c == null) {
                    return;
                }
                if (!handOver(s, c)) {
                    s.idle.addLast(c); // nobody waits any more: back to the pool, still pooled
                    return;
                }
            }
        });
    }

    private static boolean handOver(Connections s, UpstreamConnection c) {
        for (HttpFrontendHandler w; (w = s.waiters.poll()) != null; ) {
            if (w.takeWaitedConnection(c)) {
                return true;
            }
        }
        return false;
    }

    /** Keeps {@code c} for later; returns {@code false} (the caller closes it) when the endpoint has enough. */
    boolean offer(UpstreamConnection c) {
        Connections s = connections(c.address());
        if (s.idle.size() >= maxIdlePerEndpoint) {
            return false;
        }
        s.idle.addLast(c);
        return true;
    }

    /** Forgets {@code c}, which closed while idle. */
    void remove(UpstreamConnection c) {
        Connections s = endpoints.get(c.address());
        if (s != null) {
            s.idle.remove(c);
            forgetIfUnused(c.address(), s);
        }
    }

    /** Idle connections to {@code address}. */
    int idleCount(InetSocketAddress address) {
        Connections s = endpoints.get(address);
        return s == null ? 0 : s.idle.size();
    }

    /** A counted connection to {@code address} is gone: the first waiting request may open one. */
    private void closed(InetSocketAddress address) {
        Connections s = endpoints.get(address);
        if (s == null) {
            return;
        }
        s.open--;
        if (s.waiters != null) {
            for (HttpFrontendHandler w; s.open < maxPerEndpoint && (w = s.waiters.poll()) != null; ) {
                if (w.connectionMayOpen(address)) {
                    break;
                }
            }
        }
        forgetIfUnused(address, s);
    }

    private Connections connections(InetSocketAddress address) {
        return endpoints.computeIfAbsent(address, a -> new Connections());
    }

    private void forgetIfUnused(InetSocketAddress address, Connections s) {
        if (s.open == 0 && s.idle.isEmpty() && (s.waiters == null || s.waiters.isEmpty())) {
            endpoints.remove(address);
        }
    }

    /** What the pool knows of one endpoint. */
    private static final class Connections {
        final ArrayDeque<UpstreamConnection> idle = new ArrayDeque<>(4);
        /** Connections open (connecting, in use or idle), when there is a limit. */
        int open;
        ArrayDeque<HttpFrontendHandler> waiters;
        /** A task that hands idle connections to the waiters is scheduled. */
        boolean serving;
    }
}
