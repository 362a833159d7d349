package io.ferry.l4;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handler of one UDP listener socket and the owner of its flow table.
 *
 * <p>The life of a datagram: the listener reads it; a client address and port with a {@link UdpFlow} goes straight
 * to that flow's upstream socket. Otherwise the live {@link L4Table} is looked up once with the listener's key, an
 * endpoint is chosen (the client's {@code ClientIP} pin if the Service port has affinity, else the balancer's pick,
 * moved on past endpoints passive health skips), and a new flow opens its upstream socket on this event loop,
 * connected to the endpoint. What the endpoint answers comes back through {@link #sendToClient}, out of this socket, so its source is
 * the Service address. A Service port with no endpoint, a full flow table or an oversized datagram drops the
 * datagram and bumps a counter; nothing is ever answered (Java cannot send the ICMP error kube-proxy's REJECT would).
 *
 * <p>Idle flows: a periodic sweep counts time in sweeps. Each flow remembers the sweep in which it last had traffic
 * and sits in a list ordered by that, least recent first (traffic moves a flow to the end, once per sweep at most),
 * so a sweep only looks at the flows it expires. {@link #retainEndpoints} closes the flows whose endpoint a new table
 * removed.
 *
 * <p>One instance per listener socket, confined to that socket's event loop, which every upstream socket of its
 * flows shares: the flow table needs no lock. Only {@link UdpProxy} creates it.
 */
final class UdpListenerHandler extends ChannelInboundHandlerAdapter {

    private static final Logger logger = LoggerFactory.getLogger(UdpListenerHandler.class);

    private final UdpProxy proxy;
    private final ListenerKey key;
    private final UdpStats stats;
    private final int maxFlows;
    private final int maxDatagramSize;
    private final long sweepIntervalMillis;
    private final long idleSweeps;
    private final Map<InetSocketAddress, UdpFlow> flows = new HashMap<>();
    private UdpFlow head;
    private UdpFlow tail;
    private long sweeps;
    private ScheduledFuture<?> sweeper;
    private volatile Channel channel;

    UdpListenerHandler(UdpProxy proxy, ListenerKey key) {
        this.proxy = proxy;
        this.key = key;
        this.stats = proxy.stats();
        UdpProxyConfig config = proxy.config();
        this.maxFlows = config.maxFlowsPerListener();
        this.maxDatagramSize = config.maxDatagramSize();
        this.sweepIntervalMillis = config.sweepIntervalMillis();
        this.idleSweeps = config.idleSweeps();
    }

    UdpProxy proxy() {
        return proxy;
    }

    ListenerKey key() {
        return key;
    }

    /** The listener socket; {@code null} until this handler is added to it. */
    Channel channel() {
        return channel;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        // Fixed delay, not fixed rate: after a stall, sweeps must not run back to back and count time that the
        // flows' traffic, read in the same stall, did not get to mark. A late sweep only makes a flow live longer.
        sweeper = ctx.executor().scheduleWithFixedDelay(this::sweep, sweepIntervalMillis, sweepIntervalMillis,
                                                        TimeUnit.MILLISECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        DatagramPacket packet = (DatagramPacket) msg;
        ByteBuf content = packet.content();
        int n = content.readableBytes();
        stats.datagramsFromClients.increment();
        stats.bytesFromClients.add(n);
        if (n > maxDatagramSize) {
            // The read buffer is one byte larger than the limit, so a longer datagram shows here, cut short.
            stats.oversizeDrops.increment();
            packet.release();
            return;
        }
        InetSocketAddress client = packet.sender();
        UdpFlow flow = flows.get(client);
        if (flow == null && (flow = newFlow(client)) == null) {
            packet.release();
            return;
        }
        flow.fromClient(content, n);
    }

    private UdpFlow newFlow(InetSocketAddress client) {
        Backend backend = proxy.table().lookup(key);
        if (backend == null || backend.isEmpty()) {
            stats.noEndpointDrops.increment();
            if (backend != null) {
                backend.stats().addNoEndpointRejects(1);
            }
            return null;
        }
        if (flows.size() >= maxFlows) {
            stats.flowLimitDrops.increment();
            return null;
        }
        int index = -1;
        InetAddress pinnedClient = null;
        SessionAffinity affinity = backend.affinity();
        if (affinity != null) {
            pinnedClient = client.getAddress();
            InetSocketAddress pinned = affinity.lookup(pinnedClient);
            index = pinned == null ? -1 : backend.indexOf(pinned);
            if (index >= 0 && !backend.health(index).isAvailable(System.nanoTime())) {
                // UDP has no failed connect to fail over from (the TCP proxy's way out of a dead pin), so a pin to
                // an endpoint passive health skips is not followed: the client is pinned anew below.
                index = -1;
            }
        }
        if (index < 0) {
            index = available(backend, backend.balancer().select(backend, client));
        }
        if (affinity != null) {
            affinity.pin(pinnedClient, backend.endpoint(index).address());
        }
        UdpFlow flow = new UdpFlow(this, client, backend, index, pinnedClient);
        flows.put(client, flow);
        flow.lastSweep = sweeps;
        append(flow);
        flow.open(channel.eventLoop());
        return flow;
    }

    /**
     * The first endpoint from {@code index} on, in table order and wrapping, that passive health does not skip;
     * {@code index} itself if every one is skipped (better a datagram that may be answered than a certain drop).
     */
    private static int available(Backend backend, int index) {
        int n = backend.size();
        if (n == 1) {
            return index;
        }
        long now = System.nanoTime();
        for (int k = 0; k < n; k++) {
            int i = (index + k) % n;
            if (backend.health(i).isAvailable(now)) {
                return i;
            }
        }
        return index;
    }

    /** Sends {@code content} from the endpoint to {@code client}, from the Service address; takes ownership. */
    void sendToClient(ByteBuf content, InetSocketAddress client) {
        Channel ch = channel;
        if (ch.isWritable()) {
            ch.writeAndFlush(new DatagramPacket(proxy.forQueue(content, ch.alloc()), client), ch.voidPromise());
        } else {
            stats.sendDrops.increment();
            content.release();
        }
    }

    /** Notes traffic on {@code flow}: it moves to the end of the idle list, at most once per sweep. */
    void touch(UdpFlow flow) {
        if (flow.lastSweep == sweeps) {
            return;
        }
        flow.lastSweep = sweeps;
        if (flow != tail) {
            unlink(flow);
            append(flow);
        }
    }

    /** Called by {@link UdpFlow#close()} only. */
    void remove(UdpFlow flow) {
        flows.remove(flow.client, flow);
        unlink(flow);
    }

    /** Closes the flows idle for longer than the timeout: the head of the idle list. */
    void sweep() {
        long now = ++sweeps;
        for (UdpFlow f = head; f != null && now - f.lastSweep > idleSweeps; f = head) {
            stats.flowsExpired.increment();
            f.close();
        }
    }

    /**
     * Closes every flow whose endpoint is not in {@code endpoints}: a new table took it out of this listener's
     * Service port. Flows to the endpoints that stay are left alone. Runs on this listener's event loop.
     */
    void retainEndpoints(Set<InetSocketAddress> endpoints) {
        UdpFlow next;
        for (UdpFlow f = head; f != null; f = next) {
            next = f.next;
            if (!endpoints.contains(f.endpoint)) {
                stats.flowsEndpointRemoved.increment();
                f.close();
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        while (head != null) {
            head.close();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A failed send to one client (a void-promise write) or a failed read: the listener carries on.
        if (cause instanceof IOException) {
            if (logger.isDebugEnabled()) {
                logger.debug("UDP listener {}: {}", key, cause.toString());
            }
        } else {
            logger.warn("UDP listener {}: unexpected error", key, cause);
        }
    }

    private void append(UdpFlow flow) {
        flow.prev = tail;
        flow.next = null;
        if (tail == null) {
            head = flow;
        } else {
            tail.next = flow;
        }
        tail = flow;
    }

    private void unlink(UdpFlow flow) {
        UdpFlow p = flow.prev;
        UdpFlow n = flow.next;
        if (p == null) {
            if (head == flow) {
                head = n;
            }
        } else {
            p.next = n;
        }
        if (n == null) {
            if (tail == flow) {
                tail = p;
            }
        } else {
            n.prev = p;
        }
        flow.prev = null;
        flow.next = null;
    }
}
