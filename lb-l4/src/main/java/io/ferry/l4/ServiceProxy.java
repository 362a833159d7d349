package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.util.concurrent.EventExecutor;
import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP service proxy: owns the live {@link L4Table} and the listeners it calls for.
 *
 * <p>{@link #apply(L4Table)} is called by the control thread only. It binds the listeners the new table adds
 * (accepting nothing yet), publishes the table with one volatile write, starts the new listeners accepting, then
 * closes the listeners the table dropped. Established connections are never touched: each keeps the
 * {@link Backend} and endpoint it was given. Event loops read the table once per accepted connection.
 */
public final class ServiceProxy implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(ServiceProxy.class);

    private final Transport transport;
    private final TcpProxyConfig config;
    private final WriteBufferWaterMark waterMark;
    private final boolean socketKeepAlive;
    private final ProxyStats stats = new ProxyStats();
    private volatile L4Table table = L4Table.EMPTY;

    // Control thread only (apply and close are synchronized on this).
    private final Map<ListenerKey, List<Channel>> listeners = new LinkedHashMap<>();
    // Published copies for readers on other threads (the admin server runs on event loops and must never wait
    // for apply, which itself waits for binds on event loops).
    private volatile Map<ListenerKey, Channel> publishedListeners = Map.of();
    private volatile Map<ListenerKey, String> bindErrors = Map.of();
    private boolean closed;

    public ServiceProxy(Transport transport, TcpProxyConfig config) {
        this.transport = requireNonNull(transport, "transport");
        this.config = requireNonNull(config, "config");
        this.waterMark = new WriteBufferWaterMark(config.bufferSize() / 2, config.bufferSize());
        this.socketKeepAlive = config.socketKeepAlive(keepaliveTimeSeconds());
    }

    /** The table new connections are routed by. Read once per connection, on an event loop. */
    public L4Table table() {
        return table;
    }

    public Transport transport() {
        return transport;
    }

    public TcpProxyConfig config() {
        return config;
    }

    /** Both legs' write buffer bounds: {@link TcpProxyConfig#bufferSize()} and half of it. */
    WriteBufferWaterMark waterMark() {
        return waterMark;
    }

    public ProxyStats stats() {
        return stats;
    }

    /** {@code SO_KEEPALIVE} for both legs of a connection: {@link TcpProxyConfig#socketKeepAlive}. */
    boolean socketKeepAlive() {
        return socketKeepAlive;
    }

    /** The kernel's {@code net.ipv4.tcp_keepalive_time}: 7,200 s where it cannot be read. */
    static long keepaliveTimeSeconds() {
        // A reader, not Files.readString: Java 17 sizes that read by the file's length, and procfs says 0 (it
        // returned "7" of "7200").
        try (BufferedReader r = Files.newBufferedReader(Path.of("/proc/sys/net/ipv4/tcp_keepalive_time"))) {
            String line = r.readLine();
            return line == null ? 7200 : Long.parseLong(line.trim());
        } catch (IOException | RuntimeException e) {
            return 7200;
        }
    }

    /**
     * Makes {@code next} live: binds its new TCP listeners, publishes it, then stops accepting on the listeners it
     * dropped. A listener that cannot be bound is reported in the result and retried on the next apply; the rest
     * of the table goes live regardless. Blocks while binding; never call it on an event loop.
     */
    public synchronized ApplyResult apply(L4Table next) {
        requireNonNull(next, "next");
        if (closed) {
            throw new IllegalStateException("closed");
        }
        List<Channel> added = new ArrayList<>();
        Map<ListenerKey, String> errors = new TreeMap<>(Comparator.comparing(ListenerKey::toString));
        for (ListenerKey key : next.listeners()) {
            if (key.protocol() != Protocol.TCP || listeners.containsKey(key)) {
                continue;
            }
            try {
                List<Channel> chs = bind(key);
                listeners.put(key, chs);
                added.addAll(chs);
            } catch (Exception e) {
                String message = describe(e);
                errors.put(key, message);
                if (!message.equals(bindErrors.get(key))) {
                    logger.warn("Cannot listen on {}: {}", key, message);
                }
            }
        }
        table = next;
        for (Channel ch : added) {
            ch.config().setAutoRead(true);
        }
        List<ListenerKey> removed = new ArrayList<>();
        listeners.entrySet().removeIf(e -> {
            if (next.lookup(e.getKey()) == null) {
                e.getValue().forEach(ch -> ch.close().awaitUninterruptibly());
                removed.add(e.getKey());
                return true;
            }
            return false;
        });
        if (!added.isEmpty() || !removed.isEmpty() || !errors.equals(bindErrors)) {
            // Only a change of listeners is worth the copies: an endpoint change is just the table write above.
            bindErrors = Collections.unmodifiableMap(errors);
            publish();
        }
        if (!added.isEmpty() || !removed.isEmpty()) {
            logger.info("Listeners: {} added, {} removed, {} live, {} failed",
                        added.size(), removed.size(), listeners.size(), errors.size());
        }
        return new ApplyResult(added.size(), removed, bindErrors);
    }

    private void publish() {
        Map<ListenerKey, Channel> first = new LinkedHashMap<>();
        listeners.forEach((k, chs) -> first.put(k, chs.get(0)));
        publishedListeners = Map.copyOf(first);
    }

    /**
     * Binds {@code key}: under io_uring or epoll with {@link TcpProxyConfig#reusePort()} and several event loops,
     * one socket per event loop with {@code SO_REUSEPORT}, each accepting onto its own loop, so the kernel spreads
     * connections over the loops and a connection's accept and relay never change threads; otherwise one socket whose
     * connections go to the loops in turn.
     */
    private List<Channel> bind(ListenerKey key) throws InterruptedException, ListenerException {
        List<EventLoop> loops = new ArrayList<>();
        for (EventExecutor e : transport.group()) {
            loops.add((EventLoop) e);
        }
        if (!transport.isNative() || !config.reusePort() || loops.size() < 2) {
            return List.of(bind(key, key.address(), null));
        }
        List<Channel> bound = new ArrayList<>(loops.size());
        InetSocketAddress at = key.address();
        try {
            for (EventLoop loop : loops) {
                Channel ch = bind(key, at, loop);
                bound.add(ch);
                if (at.getPort() == 0) {
                    at = new InetSocketAddress(at.getAddress(), ((InetSocketAddress) ch.localAddress()).getPort());
                }
            }
        } catch (InterruptedException | ListenerException | RuntimeException e) {
            bound.forEach(ch -> ch.close().awaitUninterruptibly());
            throw e;
        }
        return bound;
    }

    private Channel bind(ListenerKey key, InetSocketAddress address, EventLoop loop)
            throws InterruptedException, ListenerException {
        ServerBootstrap b = new ServerBootstrap()
                .channel(transport.serverChannelType())
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, 4096)
                // Accept nothing until the table that routes this listener is published.
                .option(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                // TCP_NODELAY is on already: Netty's socket channels (epoll, io_uring, NIO) set it when created,
                // and setting it again is one more setsockopt per connection.
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        long idleMillis = config.idleTimeout().toMillis();
                        if (idleMillis > 0) {
                            ch.pipeline().addLast(new IdleTimeoutHandler(idleMillis, TimeUnit.MILLISECONDS));
                        }
                        ch.pipeline().addLast(new TcpFrontendHandler(ServiceProxy.this, key));
                    }
                });
        if (socketKeepAlive) {
            b.childOption(ChannelOption.SO_KEEPALIVE, true); // else not set at all: a setsockopt saved
        }
        if (loop != null) {
            b.group(loop, loop).option(UnixChannelOption.SO_REUSEPORT, true);
        } else {
            b.group(transport.group());
        }
        if (transport.freeBindOption() != null && !key.isWildcard()) {
            // A ClusterIP need not be a local address yet (the node's route for the service CIDR may come later).
            b.option(transport.freeBindOption(), true);
        }
        ChannelFuture f = b.bind(address).await();
        if (!f.isSuccess()) {
            throw new ListenerException(f.cause());
        }
        return f.channel();
    }

    private static String describe(Throwable e) {
        Throwable t = e instanceof ListenerException && e.getCause() != null ? e.getCause() : e;
        String m = t.getMessage();
        return m == null ? t.getClass().getSimpleName() : m;
    }

    /** The TCP listeners bound now, with the address each actually bound (useful with port 0 in tests). */
    public Map<ListenerKey, Channel> listeners() {
        return publishedListeners;
    }

    /** Every socket of the listener at {@code key} (several with {@code SO_REUSEPORT}); for tests. */
    synchronized List<Channel> sockets(ListenerKey key) {
        return List.copyOf(listeners.getOrDefault(key, List.of()));
    }

    /** The listeners the last apply could not bind, with why. */
    public Map<ListenerKey, String> bindErrors() {
        return bindErrors;
    }

    /** Stops accepting on every listener; established connections carry on. */
    public synchronized void closeListeners() {
        for (List<Channel> chs : listeners.values()) {
            chs.forEach(ch -> ch.close().awaitUninterruptibly());
        }
        listeners.clear();
        publishedListeners = Map.of();
    }

    /** Stops accepting; established connections are left to the transport's shutdown. */
    @Override
    public synchronized void close() {
        closed = true;
        closeListeners();
        table = L4Table.EMPTY;
    }

    /** What one {@link #apply(L4Table)} did. */
    public static final class ApplyResult {
        private final int added;
        private final List<ListenerKey> removed;
        private final Map<ListenerKey, String> bindErrors;

        ApplyResult(int added, List<ListenerKey> removed, Map<ListenerKey, String> bindErrors) {
            this.added = added;
            this.removed = List.copyOf(removed);
            this.bindErrors = bindErrors;
        }

        /** This result and {@code other} together (the TCP and UDP data planes of one apply). */
        public ApplyResult merge(ApplyResult other) {
            List<ListenerKey> allRemoved = new ArrayList<>(removed);
            allRemoved.addAll(other.removed);
            Map<ListenerKey, String> errors = new TreeMap<>(Comparator.comparing(ListenerKey::toString));
            errors.putAll(bindErrors);
            errors.putAll(other.bindErrors);
            return new ApplyResult(added + other.added, allRemoved, Collections.unmodifiableMap(errors));
        }

        /** How many listeners were bound. */
        public int added() {
            return added;
        }

        /** The listeners that stopped accepting. */
        public List<ListenerKey> removed() {
            return removed;
        }

        /** The listeners that could not be bound, with why. */
        public Map<ListenerKey, String> bindErrors() {
            return bindErrors;
        }
    }

    private static final class ListenerException extends Exception {
        private static final long serialVersionUID = 1L;

        ListenerException(Throwable cause) {
            super(cause.getMessage(), cause);
        }
    }
}
