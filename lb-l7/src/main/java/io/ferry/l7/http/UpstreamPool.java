package io.ferry.l7.http;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Idle kept-alive upstream connections of one event loop, per endpoint address. The most recently used connection
 * is handed out first (it is the least likely to have been closed by the server).
 *
 * <p>Confined to its event loop: no locks. A connection is in the pool only while no request uses it.
 */
final class UpstreamPool {

    private final Map<InetSocketAddress, ArrayDeque<UpstreamConnection>> idle = new HashMap<>();
    private final int maxIdlePerEndpoint;

    UpstreamPool(int maxIdlePerEndpoint) {
        this.maxIdlePerEndpoint = maxIdlePerEndpoint;
    }

    /** An open idle connection to {@code address}, taken out of the pool, or {@code null}. */
    UpstreamConnection poll(InetSocketAddress address) {
        ArrayDeque<UpstreamConnection> q = idle.get(address);
        if (q == null) {
            return null;
        }
        for (UpstreamConnection c; (c = q.pollLast()) != null; ) {
            if (c.channel().isActive()) {
                return c;
            }
        }
        return null;
    }

    /** Keeps {@code c} for later; returns {@code false} (the caller closes it) when the endpoint has enough. */
    boolean offer(UpstreamConnection c) {
        ArrayDeque<UpstreamConnection> q = idle.computeIfAbsent(c.address(), a -> new ArrayDeque<>(4));
        if (q.size() >= maxIdlePerEndpoint) {
            return false;
        }
        q.addLast(c);
        return true;
    }

    /** Forgets {@code c}, which closed while idle. */
    void remove(UpstreamConnection c) {
        ArrayDeque<UpstreamConnection> q = idle.get(c.address());
        if (q != null) {
            q.remove(c);
            if (q.isEmpty()) {
                idle.remove(c.address());
            }
        }
    }

    /** Idle connections to {@code address}. */
    int idleCount(InetSocketAddress address) {
        ArrayDeque<UpstreamConnection> q = idle.get(address);
        return q == null ? 0 : q.size();
    }
}
