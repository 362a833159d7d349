package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
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
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link EventLoopGroup} of one I/O kind and the channel types that go with it.
 *
 * <p>A data plane's listeners and upstream connections run on its transport; a downstream connection and its
 * upstream connection share one event loop. Ferry makes one for the HTTP edge ({@link Kind#best()}: io_uring where
 * the kernel allows it, epoll where its native library loads, NIO otherwise) and, where the kind differs, one for
 * the L4 relay, UDP and DNS ({@link Kind#bestForRelay()}: epoll first).
 */
public final class Transport implements AutoCloseable {

    /** Which I/O mechanism a {@link Transport} uses. */
    public enum Kind {
        /** Linux io_uring through Netty's native transport: the fewest system calls per request. */
        IO_URING,
        /** Linux epoll through Netty's native transport. */
        EPOLL,
        /** The JDK's NIO selector; works everywhere. */
        NIO;

        /**
         * The best kind this machine runs: io_uring where the kernel lets the process set up a ring (seccomp
         * profiles such as Docker's default and the {@code kernel.io_uring_disabled} sysctl often forbid it), else
         * epoll where its native library loads, else NIO.
         */
        public static Kind best() {
            return IO_URING.isAvailable() ? IO_URING : EPOLL.isAvailable() ? EPOLL : NIO;
        }

        /**
         * The best kind for the L4 relay, UDP and DNS: epoll where its native library loads, else {@link #best()}.
         * io_uring's batched submissions save the HTTP edge a sixth of its CPU per request, but a relay turns each
         * read into one write and gains nothing from the batch: its CPU is the kernel's TCP work either way. It
         * pays in latency instead (a write waits for the end of the event-loop turn), and a ping-pong load through
         * it ran 5-8 % fewer requests per second than on epoll; DNS cost 45 % more CPU per query.
         */
        public static Kind bestForRelay() {
            return EPOLL.isAvailable() ? EPOLL : best();
        }

        /** Whether this kind can run here. */
        public boolean isAvailable() {
            return unavailabilityCause() == null;
        }

        /** Why this kind cannot run here, or {@code null} where it can. */
        Throwable unavailabilityCause() {
            switch (this) {
                case IO_URING:
                    return IoUring.unavailabilityCause();
                case EPOLL:
                    return Epoll.unavailabilityCause();
                default:
                    return null;
            }
        }

        /** Parses {@code auto}, {@code io_uring}, {@code epoll} or {@code nio}, in any case. */
        public static Kind parse(String name) {
            requireNonNull(name, "name");
            switch (name.toLowerCase(Locale.ROOT)) {
                case "auto":
                    return best();
                case "io_uring":
                case "io-uring":
                case "iouring":
                    return IO_URING;
                case "epoll":
                    return EPOLL;
                case "nio":
                    return NIO;
                default:
                    throw new IllegalArgumentException("transport: " + name
                                                       + " (expected: auto, io_uring, epoll or nio)");
            }
        }
    }

    private static final Logger logger = LoggerFactory.getLogger(Transport.class);
    /** How long {@link #close()} waits for the event loops to report that they stopped. */
    private static final long CLOSE_WAIT_SECONDS = 10;

    private final Kind kind;
    private final MultiThreadIoEventLoopGroup group;

    private Transport(Kind kind, int threads, String threadPrefix) {
        this.kind = kind;
        IoHandlerFactory factory = kind == Kind.EPOLL ? new EpollRegistrationFix()
                : kind == Kind.IO_URING ? IoUringIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(threadPrefix, true), factory);
    }

    /**
     * Creates a transport of the given kind with {@code threads} event loops ({@code 0}: the number of cores).
     *
     * @throws IllegalStateException if io_uring or epoll is asked for where it is not available
     */
    public static Transport create(Kind kind, int threads) {
        return create(kind, threads, "ferry-io");
    }

    /**
     * {@link #create(Kind, int)} with event-loop threads named {@code threadPrefix-N-M}.
     *
     * @throws IllegalStateException if io_uring or epoll is asked for where it is not available
     */
    public static Transport create(Kind kind, int threads, String threadPrefix) {
        requireNonNull(kind, "kind");
        requireNonNull(threadPrefix, "threadPrefix");
        if (threads < 0) {
            throw new IllegalArgumentException("threads: " + threads + " (expected: >= 0)");
        }
        if (!kind.isAvailable()) {
            throw new IllegalStateException(kind.name().toLowerCase(Locale.ROOT) + " is not available here",
                                            kind.unavailabilityCause());
        }
        return new Transport(kind, threads == 0 ? Runtime.getRuntime().availableProcessors() : threads, threadPrefix);
    }

    /** The best transport for this machine, one event loop per core. */
    public static Transport best() {
        return create(Kind.best(), 0);
    }

    public Kind kind() {
        return kind;
    }

    /** How many event loops the group has. */
    public int eventLoops() {
        return group.executorCount();
    }

    public EventLoopGroup group() {
        return group;
    }

    /** Whether this is a native Linux transport (io_uring or epoll), which has the Linux-only socket options. */
    public boolean isNative() {
        return kind != Kind.NIO;
    }

    /**
     * The {@code IP_FREEBIND} option of this transport's channels (bind to an address the node does not have
     * yet), or {@code null} under NIO, which has none.
     */
    public ChannelOption<Boolean> freeBindOption() {
        switch (kind) {
            case IO_URING:
                return IoUringChannelOption.IP_FREEBIND;
            case EPOLL:
                return EpollChannelOption.IP_FREEBIND;
            default:
                return null;
        }
    }

    /**
     * The option that splits a datagram channel's read buffer into slots of a given size, so that one read takes
     * several datagrams ({@code recvmmsg} under epoll, several {@code recvmsg} entries under io_uring), or
     * {@code null} under NIO, which has none.
     */
    public ChannelOption<Integer> datagramPayloadSizeOption() {
        switch (kind) {
            case IO_URING:
                return IoUringChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE;
            case EPOLL:
                return EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE;
            default:
                return null;
        }
    }

    /** The server channel type for TCP listeners. */
    public Class<? extends ServerChannel> serverChannelType() {
        return kind == Kind.EPOLL ? EpollServerSocketChannel.class
               : kind == Kind.IO_URING ? IoUringServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** The client channel type for upstream TCP connections. */
    public Class<? extends SocketChannel> socketChannelType() {
        return kind == Kind.EPOLL ? EpollSocketChannel.class
               : kind == Kind.IO_URING ? IoUringSocketChannel.class : NioSocketChannel.class;
    }

    /**
     * Makes upstream TCP channels of the family of {@code remote}'s address: an IPv4 socket for an IPv4 endpoint
     * rather than the dual-stack IPv6 socket a plain {@link #socketChannelType()} opens (which the kernel then
     * connects through its IPv6 path with a mapped address). Use with {@link #connect} or
     * {@code Bootstrap.channelFactory}.
     */
    public ChannelFactory<SocketChannel> socketChannelFactory(InetSocketAddress remote) {
        boolean v4 = remote.getAddress() instanceof Inet4Address;
        boolean v6 = remote.getAddress() instanceof Inet6Address;
        if (kind == Kind.EPOLL) {
            return v4 ? EPOLL_V4 : v6 ? EPOLL_V6 : EpollSocketChannel::new;
        }
        if (kind == Kind.IO_URING) {
            // Netty's io_uring channel takes no family: it opens the dual-stack socket, IPv4 where IPv6 is off.
            return IoUringSocketChannel::new;
        }
        return v4 ? NIO_V4 : v6 ? NIO_V6 : NioSocketChannel::new;
    }

    /**
     * Opens an upstream TCP channel ({@link #socketChannelFactory}) on {@code owner}'s event loop, lets {@code init}
     * configure it (options, handlers) and connects it to {@code remote}, as a {@code Bootstrap} would without its
     * per-connection work: an options map and an attributes map copied into the channel, a task for the connect, and
     * a lock around the address-resolver lookup for an address that is already resolved. That work was also code
     * that runs once per upstream connection inlined into the hot request path: when a pool retired its connections
     * under load, its first new shape sent the JIT back to recompile the request start (docs/benchmarks.md).
     *
     * <p>A socket that cannot be opened, configured or registered fails the returned future, as a refused connect
     * does; such a future is {@code owner}'s, the channel that asked (there is no upstream channel to speak of).
     * Runs on {@code owner}'s event loop.
     */
    public ChannelFuture connect(Channel owner, InetSocketAddress remote, int connectTimeoutMillis,
                                 Consumer<Channel> init) {
        Channel ch;
        try {
            ch = socketChannelFactory(remote).newChannel();
        } catch (RuntimeException e) {
            return owner.newFailedFuture(e); // socket(2) failed: EMFILE, ENFILE, ENOBUFS
        }
        try {
            ch.config().setConnectTimeoutMillis(connectTimeoutMillis);
            init.accept(ch);
        } catch (RuntimeException e) {
            ch.unsafe().closeForcibly();
            return owner.newFailedFuture(e);
        }
        ChannelFuture registered = owner.eventLoop().register(ch);
        if (registered.isDone()) { // the usual case: registering on the loop this runs on completes at once
            return registered.isSuccess() ? ch.connect(remote) : closeFailed(registered);
        }
        ChannelPromise connected = ch.newPromise();
        registered.addListener((ChannelFuture r) -> {
            if (r.isSuccess()) {
                ch.connect(remote, connected);
            } else {
                connected.setFailure(closeFailed(r).cause());
            }
        });
        return connected;
    }

    private static ChannelFuture closeFailed(ChannelFuture registration) {
        Channel ch = registration.channel();
        if (ch.isRegistered()) {
            ch.close();
        } else {
            ch.unsafe().closeForcibly();
        }
        return registration;
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
        return kind == Kind.EPOLL ? EpollDatagramChannel.class
               : kind == Kind.IO_URING ? IoUringDatagramChannel.class : NioDatagramChannel.class;
    }

    /** Shuts the event loops down without a quiet period; returns when they have stopped. */
    @Override
    public void close() {
        Future<?> f = group.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        // Bounded: the event loops stop within the 5 s above, and a termination that is never reported must not
        // keep the process from exiting (the event-loop threads are daemons).
        if (!f.awaitUninterruptibly(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
            logger.warn("{}: event loops not reported terminated after {} s; going on", this, CLOSE_WAIT_SECONDS);
        }
    }

    @Override
    public String toString() {
        return "Transport(" + kind.name().toLowerCase(Locale.ROOT) + ')';
    }
}
