package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.util.Locale;

/**
 * The one {@link EventLoopGroup} of the process and the channel types that go with it.
 *
 * <p>Every listener and every upstream connection runs on this group; a downstream connection and its upstream
 * connection share one event loop. Epoll is used when its native library loads, NIO otherwise.
 */
public final class Transport implements AutoCloseable {

    /** Which I/O mechanism a {@link Transport} uses. */
    public enum Kind {
        /** Linux epoll through Netty's native transport. */
        EPOLL,
        /** The JDK's NIO selector; works everywhere. */
        NIO;

        /** Epoll when its native library is usable here, NIO otherwise. */
        public static Kind best() {
            return Epoll.isAvailable() ? EPOLL : NIO;
        }

        /** Parses {@code auto}, {@code epoll} or {@code nio}, in any case. */
        public static Kind parse(String name) {
            requireNonNull(name, "name");
            switch (name.toLowerCase(Locale.ROOT)) {
                case "auto":
                    return best();
                case "epoll":
                    return EPOLL;
                case "nio":
                    return NIO;
                default:
                    throw new IllegalArgumentException("transport: " + name + " (expected: auto, epoll or nio)");
            }
        }
    }

    private final Kind kind;
    private final EventLoopGroup group;

    private Transport(Kind kind, int threads) {
        this.kind = kind;
        IoHandlerFactory factory = kind == Kind.EPOLL ? new EpollRegistrationFix() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("ferry-io", true), factory);
    }

    /**
     * Creates a transport of the given kind with {@code threads} event loops ({@code 0}: the number of cores).
     *
     * @throws IllegalStateException if epoll is asked for where it is not available
     */
    public static Transport create(Kind kind, int threads) {
        requireNonNull(kind, "kind");
        if (threads < 0) {
            throw new IllegalArgumentException("threads: " + threads + " (expected: >= 0)");
        }
        if (kind == Kind.EPOLL && !Epoll.isAvailable()) {
            throw new IllegalStateException("epoll is not available here", Epoll.unavailabilityCause());
        }
        return new Transport(kind, threads == 0 ? Runtime.getRuntime().availableProcessors() : threads);
    }

    /** The best transport for this machine, one event loop per core. */
    public static Transport best() {
        return create(Kind.best(), 0);
    }

    public Kind kind() {
        return kind;
    }

    public EventLoopGroup group() {
        return group;
    }

    /** The server channel type for TCP listeners. */
    public Class<? extends ServerChannel> serverChannelType() {
        return kind == Kind.EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** The client channel type for upstream TCP connections. */
    public Class<? extends SocketChannel> socketChannelType() {
        return kind == Kind.EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /**
     * Makes upstream TCP channels of the family of {@code remote}'s address: an IPv4 socket for an IPv4 endpoint
     * rather than the dual-stack IPv6 socket a plain {@link #socketChannelType()} opens (which the kernel then
     * connects through its IPv6 path with a mapped address). Use with {@code Bootstrap.channelFactory}.
     */
    public ChannelFactory<SocketChannel> socketChannelFactory(InetSocketAddress remote) {
        boolean v4 = remote.getAddress() instanceof Inet4Address;
        boolean v6 = remote.getAddress() instanceof Inet6Address;
        if (kind == Kind.EPOLL) {
            return v4 ? EPOLL_V4 : v6 ? EPOLL_V6 : EpollSocketChannel::new;
        }
        return v4 ? NIO_V4 : v6 ? NIO_V6 : NioSocketChannel::new;
    }

    private static final ChannelFactory<SocketChannel> EPOLL_V4 =
            () -> new EpollSocketChannel(SocketProtocolFamily.INET);
    private static final ChannelFactory<SocketChannel> EPOLL_V6 =
            () -> new EpollSocketChannel(SocketProtocolFamily.INET6);
    private static final ChannelFactory<SocketChannel> NIO_V4 =
            () -> new NioSocketChannel(SelectorProvider.provider(), SocketProtocolFamily.INET);
    private static final ChannelFactory<SocketChannel> NIO_V6 =
            () -> new NioSocketChannel(SelectorProvider.provider(), SocketProtocolFamily.INET6);

    /** The channel type for UDP listeners and upstream UDP sockets. */
    public Class<? extends DatagramChannel> datagramChannelType() {
        return kind == Kind.EPOLL ? EpollDatagramChannel.class : NioDatagramChannel.class;
    }

    /** Shuts the event loops down without a quiet period; returns when they have stopped. */
    @Override
    public void close() {
        Future<?> f = group.shutdownGracefully(0, 5, java.util.concurrent.TimeUnit.SECONDS);
        f.awaitUninterruptibly();
    }

    @Override
    public String toString() {
        return "Transport(" + kind.name().toLowerCase(Locale.ROOT) + ')';
    }
}
