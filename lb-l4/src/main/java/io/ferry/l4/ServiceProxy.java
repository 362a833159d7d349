package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.handler.timeout.IdleStateHandler;
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
    private final ProxyStats stats = new ProxyStats();
    private volatile L4Table table = L4Table.EMPTY;

    // Control thread only (apply and close are synchronized on this).
    private final Map<ListenerKey, Channel> listeners = new LinkedHashMap<>();
    // Published copies for readers on other threads (the admin server runs on event loops and must never wait
    // for apply, which itself waits for binds on event loops).
    private volatile Map<ListenerKey, Channel> publishedListeners = Map.of();
    private volatile Map<ListenerKey, String> bindErrors = Map.of();
    private boolean closed;

    public ServiceProxy(Transport transport, TcpProxyConfig config) {
        this.transport = requireNonNull(transport, "transport");
        this.config = requireNonNull(config, "config");
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

    public ProxyStats stats() {
        return stats;
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
                Channel ch = bind(key);
                listeners.put(key, ch);
                added.add(ch);
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
                e.getValue().close().awaitUninterruptibly();
                removed.add(e.getKey());
                return true;
            }
            return false;
        });
        bindErrors = Collections.unmodifiableMap(errors);
        publishedListeners = Map.copyOf(listeners);
        if (!added.isEmpty() || !removed.isEmpty()) {
            logger.info("Listeners: {} added, {} removed, {} live, {} failed",
                        added.size(), removed.size(), listeners.size(), errors.size());
        }
        return new ApplyResult(added.size(), removed, bindErrors);
    }

    private Channel bind(ListenerKey key) throws InterruptedException, ListenerException {
        ServerBootstrap b = new ServerBootstrap()
                .group(transport.group())
                .channel(transport.serverChannelType())
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, 4096)
                // Accept nothing until the table that routes this listener is published.
                .option(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        long idleMillis = config.idleTimeout().toMillis();
                        if (idleMillis > 0) {
                            ch.pipeline().addLast(new IdleStateHandler(0, 0, idleMillis, TimeUnit.MILLISECONDS));
                        }
                        ch.pipeline().addLast(new TcpFrontendHandler(ServiceProxy.this, key));
                    }
                });
        if (transport.kind() == Transport.Kind.EPOLL && !key.isWildcard()) {
            // A ClusterIP need not be a local address yet (the node's route for the service CIDR may come later).
            b.option(EpollChannelOption.IP_FREEBIND, true);
        }
        ChannelFuture f = b.bind(key.address()).await();
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

    /** The listeners the last apply could not bind, with why. */
    public Map<ListenerKey, String> bindErrors() {
        return bindErrors;
    }

    /** Stops accepting on every listener; established connections carry on. */
    public synchronized void closeListeners() {
        for (Channel ch : listeners.values()) {
            ch.close().awaitUninterruptibly();
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
