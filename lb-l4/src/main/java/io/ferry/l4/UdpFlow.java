package io.ferry.l4;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UDP flow: a client's address and port on one listener, the endpoint the balancer chose for it, and the
 * upstream socket, connected to that endpoint, that carries its datagrams. The flow is that socket's handler: what
 * the endpoint sends back goes to the client through the listener's socket, so it comes from the Service address.
 *
 * <p>Started by {@link UdpListenerHandler} on a client's first datagram and confined to the listener's event loop,
 * which the upstream socket shares; nothing here is thread-safe. The {@link Backend} and endpoint are chosen once
 * and kept. The first reply clears the endpoint's passive-health failures; an upstream error counts as one.
 * Datagrams that arrive before the upstream socket is connected wait in a short queue. A flow is closed
 * once, by whichever comes first: the idle sweep, a table that takes its endpoint out, an error on the upstream
 * socket (an ICMP port unreachable, mostly), or its listener closing.
 */
final class UdpFlow extends ChannelInboundHandlerAdapter {

    private static final Logger logger = LoggerFactory.getLogger(UdpFlow.class);

    /** Datagrams kept while the upstream socket connects (it connects at once in practice: UDP has no handshake). */
    private static final int MAX_PENDING = 16;

    final InetSocketAddress client;
    final InetSocketAddress endpoint;
    private final UdpListenerHandler listener;
    private final Backend backend;
    private final int index;
    private final UdpStats stats;
    private final BackendStats backendStats;
    private final int maxDatagramSize;
    // The client's address when the Service port has ClientIP affinity (its pin is touched when the flow ends).
    private final InetAddress pinnedClient;

    private Channel upstream;
    private boolean connected;
    private boolean answered;
    private boolean closed;
    private ArrayDeque<ByteBuf> pending;

    // The listener's idle list, least recently active first, and the sweep in which the flow last had traffic.
    // Owned by the listener handler.
    UdpFlow prev;
    UdpFlow next;
    long lastSweep;

    UdpFlow(UdpListenerHandler listener, InetSocketAddress client, Backend backend, int index,
            InetAddress pinnedClient) {
        this.listener = listener;
        this.pinnedClient = pinnedClient;
        this.client = client;
        this.backend = backend;
        this.index = index;
        this.endpoint = backend.endpoint(index).address();
        this.stats = listener.proxy().stats();
        this.backendStats = backend.stats();
        this.maxDatagramSize = listener.proxy().config().maxDatagramSize();
    }

    /** Takes the endpoint in the balancer's count and opens the upstream socket on {@code loop}. */
    void open(EventLoop loop) {
        backend.balancer().acquire(backend, index);
        stats.flowsCreated.increment();
        stats.flowsActive.increment();
        backendStats.addConnections(1);
        backendStats.addActive(1);
        Channel ch;
        try {
            ch = listener.proxy().newUpstreamChannel();
        } catch (RuntimeException e) { // socket(2) failed: out of file descriptors, most likely
            connectFailed(e);
            return;
        }
        upstream = ch;
        ch.pipeline().addLast(this);
        // On the loop itself both steps complete at once: registration is direct, and connect(2) on a UDP socket
        // only sets the peer (binding an ephemeral port if need be).
        loop.register(ch).addListener((ChannelFuture registered) -> {
            if (!registered.isSuccess()) {
                connectFailed(registered.cause());
            } else if (!closed) {
                ch.connect(endpoint).addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        connected();
                    } else {
                        connectFailed(f.cause());
                    }
                });
            }
        });
    }

    private void connected() {
        if (closed) {
            return;
        }
        connected = true;
        if (pending != null) {
            for (ByteBuf buf; (buf = pending.poll()) != null; ) {
                send(buf);
            }
            pending = null;
        }
    }

    private void connectFailed(Throwable cause) {
        if (closed) {
            return; // closed for another reason first
        }
        stats.upstreamConnectFailures.increment();
        backendStats.addConnectFailures(1);
        if (logger.isDebugEnabled()) {
            logger.debug("UDP flow {} -> {}: cannot open the upstream socket: {}", client, endpoint, cause.toString());
        }
        close();
    }

    /** Relays a datagram of {@code bytes} bytes from the client; takes ownership of {@code content}. */
    void fromClient(ByteBuf content, int bytes) {
        if (closed) { // it failed to open just now; that drop is counted
            content.release();
            return;
        }
        backendStats.addBytesFromClients(bytes);
        listener.touch(this);
        if (connected) {
            send(content);
        } else {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            if (pending.size() < MAX_PENDING) {
                pending.add(content);
            } else {
                stats.sendDrops.increment();
                content.release();
            }
        }
    }

    private void send(ByteBuf content) {
        // The socket is connected, so the payload goes as it is: no envelope, and no copy but forQueue's.
        if (upstream.isWritable()) {
            upstream.writeAndFlush(listener.proxy().forQueue(content, upstream.alloc()), upstream.voidPromise());
        } else {
            stats.sendDrops.increment();
            content.release();
        }
    }

    /** A datagram from the endpoint (a connected socket receives from its peer only). */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        ByteBuf content = ((DatagramPacket) msg).content();
        int n = content.readableBytes();
        stats.datagramsToClients.increment();
        stats.bytesToClients.add(n);
        if (closed) {
            content.release();
            return;
        }
        if (n > maxDatagramSize) {
            stats.oversizeDrops.increment();
            content.release();
            return;
        }
        backendStats.addBytesToClients(n);
        if (!answered) {
            answered = true;
            backend.health(index).succeeded();
        }
        listener.touch(this);
        listener.sendToClient(content, client);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A read or a (void-promise) write failed: an ICMP port unreachable from the endpoint, mostly. The client
        // cannot be told (Java sends no ICMP), but its next datagram starts a new flow, balanced afresh, and passive
        // health may skip this endpoint for a while.
        if (closed) {
            return;
        }
        stats.upstreamErrors.increment();
        UdpProxyConfig config = listener.proxy().config();
        if (backend.health(index).failed(System.nanoTime(), config.maxFails(), config.failTimeout().toNanos())) {
            stats.endpointsSkipped.increment();
        }
        if (logger.isDebugEnabled()) {
            logger.debug("UDP flow {} -> {} closed: {}", client, endpoint, cause.toString());
        }
        close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        close();
    }

    /** Forgets the flow, gives its endpoint back to the balancer and closes the upstream socket. Idempotent. */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        listener.remove(this);
        backend.balancer().release(backend, index);
        if (pinnedClient != null) {
            backend.affinity().touch(pinnedClient);
        }
        stats.flowsActive.decrement();
        backendStats.addActive(-1);
        if (pending != null) {
            for (ByteBuf buf; (buf = pending.poll()) != null; ) {
                buf.release();
            }
            pending = null;
        }
        Channel ch = upstream;
        if (ch != null) {
            if (ch.isRegistered()) {
                ch.close();
            } else {
                ch.unsafe().closeForcibly();
            }
        }
    }

    @Override
    public String toString() {
        return "UdpFlow(" + Endpoint.hostPort(client) + " -> " + Endpoint.hostPort(endpoint) + ')';
    }
}
