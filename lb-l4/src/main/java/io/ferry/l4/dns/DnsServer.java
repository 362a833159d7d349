package io.ferry.l4.dns;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.IdleTimeoutHandler;
import io.ferry.l4.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster DNS server: answers the names of a {@link DnsTable} over UDP and TCP on one address, and forwards
 * the rest (see {@link DnsServerConfig}).
 *
 * <p>{@link #start(Transport, DnsServerConfig)} binds and returns a server that answers SERVFAIL until the first
 * {@link #apply(DnsTable)}. {@code apply} publishes a table with one volatile write: each query reads the table
 * once, so a query is answered wholly from one table, and the next query sees the new one. On io_uring and epoll
 * there is one UDP socket per event loop ({@code SO_REUSEPORT}), so the kernel spreads queries over every loop; on
 * NIO one socket. TCP connections are accepted on the transport's group. {@code start}, {@code apply} and {@code close}
 * are for the control thread; they never run on an event loop.
 */
public final class DnsServer implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(DnsServer.class);
    /**
     * With port 0, how many free UDP ports to try for TCP too. On a machine whose clients hold many ephemeral TCP
     * ports (load generators), a port free for UDP is often taken for TCP: 8 tries were seen to fail.
     */
    private static final int BIND_ATTEMPTS = 32;
    /** The largest query read over UDP (the size Netty reads a datagram into by default); longer ones are cut. */
    static final int MAX_QUERY = 2048;
    /** Queries read per recvmmsg call at most. */
    static final int RECV_BATCH = 16;

    private final Transport transport;
    private final DnsServerConfig config;
    private final DnsStats stats = new DnsStats();
    private final List<Channel> udpChannels = new ArrayList<>();
    private final ChannelGroup connections = new DefaultChannelGroup("ferry-dns", GlobalEventExecutor.INSTANCE);
    private volatile Map<EventLoop, DnsForwarder> forwarders = Map.of();
    private Channel tcpChannel;
    private InetSocketAddress localAddress;
    private volatile DnsTable table = DnsTable.NOT_READY;
    private boolean closed;

    private DnsServer(Transport transport, DnsServerConfig config) {
        this.transport = transport;
        this.config = config;
    }

    /**
     * Binds the server's UDP and TCP sockets on {@code config.address()} (with port 0, one free port for both) and,
     * when forwarding is on, a UDP socket per event loop for upstream queries. Blocks while binding.
     *
     * @throws IOException if an address cannot be bound (nothing stays bound then)
     */
    public static DnsServer start(Transport transport, DnsServerConfig config) throws IOException {
        requireNonNull(transport, "transport");
        requireNonNull(config, "config");
        DnsServer server = new DnsServer(transport, config);
        try {
            server.bind();
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        return server;
    }

    private void bind() throws IOException {
        List<EventLoop> loops = new ArrayList<>();
        for (EventExecutor e : transport.group()) {
            loops.add((EventLoop) e);
        }
        // The forwarders first: a query may arrive as soon as a listener is bound.
        List<InetSocketAddress> upstreams = new ArrayList<>();
        for (InetSocketAddress u : config.upstreams()) {
            InetSocketAddress own = config.address();
            boolean self = u.getPort() == own.getPort()
                           && (u.getAddress().equals(own.getAddress())
                               || own.getAddress().isAnyLocalAddress() && u.getAddress().isLoopbackAddress());
            if (self) {
                logger.warn("DNS upstream {} is this server; not forwarding to it", u);
            } else {
                upstreams.add(u);
            }
        }
        if (!upstreams.isEmpty()) {
            Map<EventLoop, DnsForwarder> map = new HashMap<>();
            try {
                for (EventLoop loop : loops) {
                    DnsForwarder f = new DnsForwarder(this, loop, upstreams);
                    f.bind();
                    map.put(loop, f);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                map.values().forEach(DnsForwarder::close);
                throw new IOException("interrupted while binding the DNS forwarder", e);
            } catch (RuntimeException e) {
                map.values().forEach(DnsForwarder::close);
                throw e;
            }
            forwarders = Map.copyOf(map);
        }
        boolean reusePort = transport.isNative();
        InetSocketAddress wanted = config.address();
        for (int attempt = 1; ; attempt++) {
            Channel first = bindUdp(loops.get(0), wanted, reusePort);
            udpChannels.add(first);
            InetSocketAddress bound = new InetSocketAddress(wanted.getAddress(),
                                                            ((InetSocketAddress) first.localAddress()).getPort());
            try {
                tcpChannel = bindTcp(bound);
                localAddress = bound;
                break;
            } catch (IOException e) {
                // With port 0 the UDP port may be taken for TCP by someone else: pick another.
                closeUdp();
                if (wanted.getPort() != 0 || attempt == BIND_ATTEMPTS) {
                    throw e;
                }
            }
        }
        if (reusePort) {
            for (int i = 1; i < loops.size(); i++) {
                udpChannels.add(bindUdp(loops.get(i), localAddress, true));
            }
        }
        logger.info("DNS server on {} (udp sockets: {}, forwarding to {})", localAddress, udpChannels.size(),
                    upstreams.isEmpty() ? "none: REFUSED" : upstreams);
    }

    private Channel bindUdp(EventLoop loop, InetSocketAddress address, boolean reusePort) throws IOException {
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(transport.datagramChannelType())
                .handler(new DnsUdpHandler(this));
        if (reusePort) {
            b.option(UnixChannelOption.SO_REUSEPORT, true);
        }
        ChannelOption<Integer> payloadSize = transport.datagramPayloadSizeOption();
        if (payloadSize != null) {
            // Up to RECV_BATCH queries per read, each in a MAX_QUERY slot of one buffer: one recvmmsg under epoll,
            // RECV_BATCH recvmsg entries submitted together under io_uring. Netty stops reading after RECV_BATCH
            // messages (a datagram channel's maxMessagesPerRead), so the answers of one batch go out together
            // (sendmmsg; or sendmsg entries in one submission) before the next batch is read.
            b.option(payloadSize, MAX_QUERY)
             .option(ChannelOption.RECVBUF_ALLOCATOR,
                     new FixedRecvByteBufAllocator(MAX_QUERY * RECV_BATCH).maxMessagesPerRead(RECV_BATCH));
        }
        return await(b.bind(address), "udp " + address);
    }

    private Channel bindTcp(InetSocketAddress address) throws IOException {
        long idleMillis = config.tcpIdleTimeout().toMillis();
        ServerBootstrap b = new ServerBootstrap()
                .group(transport.group())
                .channel(transport.serverChannelType())
                .option(ChannelOption.SO_REUSEADDR, true)
                // TCP_NODELAY: on by default in Netty's socket channels.
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        ch.pipeline().addLast(new IdleTimeoutHandler(idleMillis, TimeUnit.MILLISECONDS),
                                              new LengthFieldBasedFrameDecoder(65535 + 2, 0, 2, 0, 2),
                                              new LengthFieldPrepender(2),
                                              new DnsTcpHandler(DnsServer.this));
                    }
                });
        return await(b.bind(address), "tcp " + address);
    }

    private static Channel await(ChannelFuture f, String what) throws IOException {
        f.awaitUninterruptibly();
        if (!f.isSuccess()) {
            Throwable cause = f.cause();
            throw cause instanceof IOException ? new IOException(what + ": " + cause.getMessage(), cause)
                                               : new IOException(what + ": " + cause, cause);
        }
        return f.channel();
    }

    /** Publishes {@code next}: the next query is answered from it. One volatile write; never blocks. */
    public void apply(DnsTable next) {
        table = requireNonNull(next, "next");
    }

    /** The live table ({@link DnsTable#NOT_READY} before the first apply). Read once per query. */
    public DnsTable table() {
        return table;
    }

    public DnsStats stats() {
        return stats;
    }

    public DnsServerConfig config() {
        return config;
    }

    Transport transport() {
        return transport;
    }

    /** The address the server listens on, UDP and TCP (with the port chosen when the configured one was 0). */
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    /** Whether names outside the zone are forwarded (some upstream was given, other than this server itself). */
    public boolean forwarding() {
        return !forwarders.isEmpty();
    }

    /** The forwarder of {@code loop}; only called when {@link #forwarding()}. */
    DnsForwarder forwarder(EventLoop loop) {
        return forwarders.get(loop);
    }

    /**
     * Stops listening, closes TCP connections and forgets queries waiting on upstreams. Call it before closing the
     * transport. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeUdp();
        if (tcpChannel != null) {
            tcpChannel.close().awaitUninterruptibly();
        }
        connections.close().awaitUninterruptibly();
        for (DnsForwarder f : forwarders.values()) {
            try {
                f.close();
            } catch (RuntimeException e) {
                logger.debug("Closing a DNS forwarder: {}", e.toString());
            }
        }
    }

    private void closeUdp() {
        for (Channel ch : udpChannels) {
            ch.close().awaitUninterruptibly();
        }
        udpChannels.clear();
    }

    @Override
    public String toString() {
        return "DnsServer(" + localAddress + ", " + table + ')';
    }
}
