package io.ferry.l4;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The client half of a relayed TCP connection.
 *
 * <p>The life of a connection: the listener accepts with auto-read off; {@link #channelActive} looks the live
 * {@link L4Table} up once with the listener's key and keeps that {@link Backend} for the connection's whole life;
 * the balancer picks an endpoint; the upstream connection is made on this channel's event loop with auto-read off;
 * a refused or timed-out connect tries the next endpoint while the connect budget lasts; once connected both sides
 * read, with backpressure (writability ↔ auto-read) and half-close passed through; when one side closes, the
 * other closes after its pending writes. A backend with no endpoint, or none reachable, gets the client reset.
 *
 * <p>One instance per connection, confined to that connection's event loop.
 */
final class TcpFrontendHandler extends ChannelInboundHandlerAdapter {

    private final ServiceProxy proxy;
    private final ListenerKey key;
    private final ProxyStats stats;

    private Backend backend;
    private BackendStats backendStats;
    private Channel outbound;
    private int attempts;
    // The endpoint this connection holds in the balancer's count (acquire/release), or -1.
    private int acquired = -1;
    // The endpoint tried first; failover walks from it in table order.
    private int start;
    // The client's address when the backend has session affinity, else null.
    private InetAddress client;
    private long connectDeadlineNanos;
    // Bytes and a FIN that arrived before the upstream connected. Epoll reads a peer's last bytes on RDHUP even
    // with auto-read off, so a client that writes and shuts down at once is seen before the endpoint answers.
    private ArrayDeque<Object> pending;
    private boolean finPending;

    TcpFrontendHandler(ServiceProxy proxy, ListenerKey key) {
        this.proxy = proxy;
        this.key = key;
        this.stats = proxy.stats();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        stats.accepted.increment();
        stats.active.increment();
        Backend b = proxy.table().lookup(key);
        if (b != null) {
            backendStats = b.stats();
            backendStats.addConnections(1);
            backendStats.addActive(1);
        }
        if (b == null || b.isEmpty()) {
            stats.noEndpointRejects.increment();
            if (b != null) {
                backendStats.addNoEndpointRejects(1);
            }
            Relay.reset(ctx.channel());
            return;
        }
        backend = b;
        connectDeadlineNanos = System.nanoTime() + proxy.config().connectTimeout().toNanos();
        SocketAddress remote = ctx.channel().remoteAddress();
        int first = -1;
        if (b.affinity() != null && remote instanceof InetSocketAddress) {
            client = ((InetSocketAddress) remote).getAddress();
            InetSocketAddress pinned = b.affinity().lookup(client);
            first = pinned == null ? -1 : b.indexOf(pinned);
        }
        if (first < 0) {
            first = available(b.balancer().select(b, remote), 0);
        }
        start = first;
        connect(ctx, first);
    }

    /**
     * The first endpoint from {@code index} on (in table order, wrapping, at most {@code size() - skipped}
     * steps) that passive health does not skip; {@code index} itself if every one is skipped (better a try than a
     * certain reset).
     */
    private int available(int index, int skipped) {
        long now = System.nanoTime();
        int n = backend.size();
        for (int k = 0; k < n - skipped; k++) {
            int i = (index + k) % n;
            if (backend.health(i).isAvailable(now)) {
                return i;
            }
        }
        return index;
    }

    private void connect(ChannelHandlerContext ctx, int index) {
        Channel inbound = ctx.channel();
        long remainingMillis = TimeUnit.NANOSECONDS.toMillis(connectDeadlineNanos - System.nanoTime());
        attempts++;
        acquired = index;
        backend.balancer().acquire(backend, index);
        InetSocketAddress address = backend.endpoint(index).address();
        long connectStart = System.nanoTime();
        ChannelFuture f = open(inbound, address, (int) Math.max(1, remainingMillis));
        f.addListener((ChannelFuture future) -> {
            if (future.isSuccess()) {
                backendStats.connectLatency.observe(System.nanoTime() - connectStart);
                backend.health(index).succeeded();
                if (!inbound.isActive()) {
                    future.channel().close();
                    return;
                }
                if (client != null) {
                    backend.affinity().pin(client, address);
                }
                outbound = future.channel();
                if (backend.proxyProtocol()) {
                    ProxyProtocol.write(outbound, inbound);
                }
                if (pending != null) {
                    for (Object m; (m = pending.poll()) != null; ) {
                        outbound.write(m, outbound.voidPromise());
                    }
                    pending = null;
                }
                outbound.flush();
                outbound.config().setAutoRead(true);
                if (finPending) {
                    Relay.propagateFin(inbound, outbound);
                } else {
                    inbound.config().setAutoRead(true);
                }
            } else {
                // Closed now, as a Bootstrap does: left open, epoll still reports the refusing peer's hang-up, and
                // TcpBackendHandler would pass it on to the client as a FIN. (A socket that could not be opened
                // fails on the client's channel instead, which must stay open for the next try.)
                if (future.channel() != inbound) {
                    future.channel().close();
                }
                releaseEndpoint();
                stats.connectFailures.increment();
                backendStats.addConnectFailures(1);
                if (backend.health(index).failed(System.nanoTime(), proxy.config().maxFails(),
                                                 proxy.config().failTimeout().toNanos())) {
                    stats.endpointsSkipped.increment();
                }
                retryOrReset(ctx, index);
            }
        });
    }

    /** Opens the upstream channel on {@code inbound}'s event loop and connects it ({@link Transport#connect}). */
    private ChannelFuture open(Channel inbound, InetSocketAddress address, int connectTimeoutMillis) {
        return proxy.transport().connect(inbound, address, connectTimeoutMillis, ch -> {
            ChannelConfig c = ch.config();
            c.setAutoRead(false);
            c.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true); // TCP_NODELAY: Netty's default (ServiceProxy)
            if (proxy.socketKeepAlive()) {
                c.setOption(ChannelOption.SO_KEEPALIVE, true);
            }
            c.setWriteBufferWaterMark(proxy.waterMark());
            ch.pipeline().addLast(new TcpBackendHandler(inbound, stats, backendStats));
        });
    }

    private void retryOrReset(ChannelHandlerContext ctx, int failedIndex) {
        Channel inbound = ctx.channel();
        if (!inbound.isActive()) {
            return;
        }
        boolean budgetLeft = connectDeadlineNanos - System.nanoTime() > 0;
        int n = backend.size();
        if (budgetLeft && attempts < Math.min(n, proxy.config().maxConnectAttempts())) {
            // The endpoints after the failed one, in table order, skipping those passive health skips while there
            // are others: each is tried at most once, as the walk never passes the first one tried.
            int walked = Math.floorMod(failedIndex - start, n) + 1;
            int next = (failedIndex + 1) % n;
            int chosen = available(next, walked);
            if (Math.floorMod(chosen - start, n) < walked) {
                chosen = next; // every endpoint left is skipped: try the next one anyway
            }
            stats.retries.increment();
            backendStats.addRetries(1);
            connect(ctx, chosen);
        } else {
            stats.upstreamUnreachable.increment();
            Relay.reset(inbound);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf) {
            int n = ((ByteBuf) msg).readableBytes();
            stats.bytesFromClients.add(n);
            if (backendStats != null) {
                backendStats.addBytesFromClients(n);
            }
        }
        if (outbound != null) {
            outbound.write(msg, outbound.voidPromise());
        } else {
            if (pending == null) {
                pending = new ArrayDeque<>(2);
            }
            pending.add(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (outbound != null) {
            outbound.flush();
            if (!outbound.isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // The client drained: let the endpoint talk again.
        if (outbound != null) {
            outbound.config().setAutoRead(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            if (outbound != null) {
                Relay.propagateFin(ctx.channel(), outbound);
            } else {
                finPending = true;
            }
        } else if (evt instanceof IdleStateEvent) {
            stats.idleTimeouts.increment();
            ctx.close();
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void releaseEndpoint() {
        if (client != null) {
            backend.affinity().touch(client);
        }
        if (acquired >= 0) {
            backend.balancer().release(backend, acquired);
            acquired = -1;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseEndpoint();
        stats.active.decrement();
        if (backendStats != null) {
            backendStats.addActive(-1);
        }
        if (pending != null) {
            for (Object m; (m = pending.poll()) != null; ) {
                ReferenceCountUtil.release(m);
            }
        }
        if (outbound != null) {
            Relay.closeOnFlush(outbound);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (outbound != null) {
            if (cause instanceof IOException) {
                Relay.reset(outbound);
            } else {
                outbound.close();
            }
        }
        ctx.close();
    }
}
