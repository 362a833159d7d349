package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.DatagramChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The UDP service proxy: the UDP half of what kube-proxy does, driven by the same {@link L4Table} as the TCP
 * {@link ServiceProxy}, of which it serves the keys whose protocol is {@link Protocol#UDP}.
 *
 * <p>{@link #apply(L4Table)} is called by the control thread only. It binds the UDP listeners the new table adds
 * (reading nothing yet), publishes the table with one volatile write, starts the new listeners reading, tells every
 * kept listener whose Service port changed to close the flows whose endpoint is gone (on the listener's event loop;
 * flows to endpoints that stay are left alone), then closes the listeners the table dropped, and their flows with
 * them. A new flow reads the table once, on its first datagram, and keeps the {@link Backend} and endpoint it got.
 *
 * <p>Each listener owns its flows (see {@link UdpListenerHandler}): a flow is one client address and port, relayed
 * through its own upstream socket, connected to one endpoint, on the listener's event loop. The endpoint therefore
 * sees one source per flow, and replies reach the client from the Service address.
 */
public final class UdpProxy implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(UdpProxy.class);

    /** Datagrams read per wake-up of a socket: Netty's default for datagram channels. */
    private static final int MAX_MESSAGES_PER_READ = 16;

    /**
     * A listener sends the replies of all its flows, so it may queue more than an upstream socket (which keeps
     * Netty's default, 32-64 KiB). Both count queued datagrams by buffer capacity; past the high mark, datagrams
     * are dropped rather than queued.
     */
    private static final WriteBufferWaterMark LISTENER_WATER_MARK = new WriteBufferWaterMark(512 * 1024, 1024 * 1024);

    /**
     * Sizes a queued datagram by its buffer's capacity rather than its payload: every read buffer is as large as the
     * largest datagram, so counting payload would let thousands of tiny datagrams pin megabytes.
     */
    private static final MessageSizeEstimator CAPACITY_ESTIMATOR = new MessageSizeEstimator() {
        private final Handle handle = msg -> {
            if (msg instanceof ByteBufHolder) {
                return ((ByteBufHolder) msg).content().capacity();
            }
            if (msg instanceof ByteBuf) {
                return ((ByteBuf) msg).capacity();
            }
            return 0;
        };

        @Override
        public Handle newHandle() {
            return handle;
        }
    };

    /** Unused room past which {@link #forQueue} copies a datagram into a buffer of its own size. */
    private static final int QUEUE_SLACK = 1024;

    private final Transport transport;
    private final boolean sendsQueue;
    private final UdpProxyConfig config;
    private final UdpStats stats = new UdpStats();
    private final ChannelFactory<? extends DatagramChannel> channelFactory;
    private final FixedRecvByteBufAllocator recvAllocator;
    private volatile L4Table table = L4Table.EMPTY;

    // Control thread only (apply and close are synchronized on this).
    private final Map<ListenerKey, UdpListenerHandler> listeners = new LinkedHashMap<>();
    // Published copies for readers on other threads.
    private volatile Map<ListenerKey, Channel> publishedListeners = Map.of();
    private volatile Map<ListenerKey, String> bindErrors = Map.of();
    private boolean closed;

    /**
     * Creates a proxy with no listener; the first {@link #apply(L4Table)} binds them.
     *
     * @param transport the event loops every listener and upstream socket runs on
     */
    public UdpProxy(Transport transport, UdpProxyConfig config) {
        this.transport = requireNonNull(transport, "transport");
        this.config = requireNonNull(config, "config");
        this.sendsQueue = transport.kind() == Transport.Kind.IO_URING;
        this.channelFactory = new ReflectiveChannelFactory<>(transport.datagramChannelType());
        // One byte more than the largest datagram relayed: a datagram that fills it was larger, and is dropped.
        FixedRecvByteBufAllocator allocator = new FixedRecvByteBufAllocator(config.maxDatagramSize() + 1);
        allocator.maxMessagesPerRead(MAX_MESSAGES_PER_READ);
        this.recvAllocator = allocator;
    }

    /** The table new flows are routed by. Read once per new flow, on an event loop. */
    public L4Table table() {
        return table;
    }

    public Transport transport() {
        return transport;
    }

    public UdpProxyConfig config() {
        return config;
    }

    public UdpStats stats() {
        return stats;
    }

    /**
     * Makes {@code next} live for its UDP keys: binds the new listeners, publishes the table, closes the flows whose
     * endpoint left their Service port, then closes the listeners the table dropped. A listener that cannot be bound
     * is reported in the result and retried on the next apply; the rest of the table goes live regardless. Blocks
     * while binding and closing; never call it on an event loop.
     */
    public synchronized ServiceProxy.ApplyResult apply(L4Table next) {
        requireNonNull(next, "next");
        if (closed) {
            throw new IllegalStateException("closed");
        }
        L4Table previous = table;
        List<UdpListenerHandler> added = new ArrayList<>();
        Map<ListenerKey, String> errors = new TreeMap<>(Comparator.comparing(ListenerKey::toString));
        for (ListenerKey key : next.listeners()) {
            if (key.protocol() != Protocol.UDP || listeners.containsKey(key)) {
                continue;
            }
            try {
                UdpListenerHandler handler = bind(key);
                listeners.put(key, handler);
                added.add(handler);
            } catch (Exception e) {
                String message = describe(e);
                errors.put(key, message);
                if (!message.equals(bindErrors.get(key))) {
                    logger.warn("Cannot listen on {}: {}", key, message);
                }
            }
        }
        table = next;
        for (UdpListenerHandler h : added) {
            h.channel().config().setAutoRead(true);
        }
        for (UdpListenerHandler h : listeners.values()) {
            Backend now = next.lookup(h.key());
            Backend was = previous.lookup(h.key());
            if (now != null && was != null && !now.equals(was)) {
                retainEndpoints(h, now);
            }
        }
        List<ListenerKey> removed = new ArrayList<>();
        listeners.entrySet().removeIf(e -> {
            if (next.lookup(e.getKey()) == null) {
                e.getValue().channel().close().awaitUninterruptibly();
                removed.add(e.getKey());
                return true;
            }
            return false;
        });
        bindErrors = Collections.unmodifiableMap(errors);
        publish();
        if (!added.isEmpty() || !removed.isEmpty()) {
            logger.info("UDP listeners: {} added, {} removed, {} live, {} failed",
                        added.size(), removed.size(), listeners.size(), errors.size());
        }
        return new ServiceProxy.ApplyResult(added.size(), removed, bindErrors);
    }

    private static void retainEndpoints(UdpListenerHandler handler, Backend backend) {
        List<InetSocketAddress> addresses = new ArrayList<>(backend.size());
        for (Endpoint e : backend.endpoints()) {
            addresses.add(e.address());
        }
        Set<InetSocketAddress> keep = Set.copyOf(addresses);
        try {
            handler.channel().eventLoop().execute(() -> handler.retainEndpoints(keep));
        } catch (RejectedExecutionException e) {
            // The event loops are shutting down: the flows go with them.
        }
    }

    private UdpListenerHandler bind(ListenerKey key) throws InterruptedException, ListenerException {
        UdpListenerHandler handler = new UdpListenerHandler(this, key);
        Bootstrap b = new Bootstrap()
                .group(transport.group())
                .channelFactory(channelFactory)
                // As for TCP. For UDP it lets a specific address share a port with a wildcard listener (the kernel
                // hands each datagram to the most specific socket); see docs/udp.md for its price.
                .option(ChannelOption.SO_REUSEADDR, true)
                // Read nothing until the table that routes this listener is published.
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.RCVBUF_ALLOCATOR, recvAllocator)
                .option(ChannelOption.MESSAGE_SIZE_ESTIMATOR, CAPACITY_ESTIMATOR)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, LISTENER_WATER_MARK)
                .handler(handler);
        if (transport.freeBindOption() != null && !key.isWildcard()) {
            // A ClusterIP need not be a local address yet (the node's route for the service CIDR may come later).
            b.option(transport.freeBindOption(), true);
        }
        ChannelFuture f = b.bind(key.address()).await();
        if (!f.isSuccess()) {
            throw new ListenerException(f.cause());
        }
        return handler;
    }

    /**
     * {@code content}, about to be sent, in a buffer that fits it where sends queue: io_uring completes every send
     * later, so a burst of datagrams waits in the outbound buffer, each counted (and pinned) at its read buffer's
     * capacity, and a few dozen small replies would cross the high water mark and be dropped. Epoll sends at once;
     * there {@code content} goes as it is. Takes ownership of {@code content}.
     */
    ByteBuf forQueue(ByteBuf content, ByteBufAllocator alloc) {
        int n = content.readableBytes();
        if (!sendsQueue || content.capacity() - n <= QUEUE_SLACK) {
            return content;
        }
        ByteBuf copy = alloc.directBuffer(n, n);
        try {
            copy.writeBytes(content);
        } finally {
            content.release();
        }
        return copy;
    }

    /**
     * A new, unregistered upstream socket, configured like the listeners: reads as large as the largest datagram,
     * queued writes counted by buffer capacity. Called on event loops.
     *
     * @throws io.netty.channel.ChannelException if the socket cannot be created
     */
    Channel newUpstreamChannel() {
        Channel ch = channelFactory.newChannel();
        ChannelConfig c = ch.config();
        c.setRecvByteBufAllocator(recvAllocator);
        c.setMessageSizeEstimator(CAPACITY_ESTIMATOR);
        return ch;
    }

    private void publish() {
        Map<ListenerKey, Channel> m = new LinkedHashMap<>();
        listeners.forEach((k, h) -> m.put(k, h.channel()));
        publishedListeners = Map.copyOf(m);
    }

    private static String describe(Throwable e) {
        Throwable t = e instanceof ListenerException && e.getCause() != null ? e.getCause() : e;
        String m = t.getMessage();
        return m == null ? t.getClass().getSimpleName() : m;
    }

    /** The UDP listeners bound now, with the address each actually bound (useful with port 0 in tests). */
    public Map<ListenerKey, Channel> listeners() {
        return publishedListeners;
    }

    /** The UDP listeners the last apply could not bind, with why. */
    public Map<ListenerKey, String> bindErrors() {
        return bindErrors;
    }

    /**
     * Closes every listener, and with them every flow (a flow's replies can only leave through its listener). Later
     * applies fail.
     */
    @Override
    public synchronized void close() {
        closed = true;
        for (UdpListenerHandler h : listeners.values()) {
            h.channel().close().awaitUninterruptibly();
        }
        listeners.clear();
        publishedListeners = Map.of();
        table = L4Table.EMPTY;
    }

    @Override
    public String toString() {
        return "UdpProxy(" + transport + ", " + publishedListeners.size() + " listeners)";
    }

    private static final class ListenerException extends Exception {
        private static final long serialVersionUID = 1L;

        ListenerException(Throwable cause) {
            super(cause.getMessage(), cause);
        }
    }
}
