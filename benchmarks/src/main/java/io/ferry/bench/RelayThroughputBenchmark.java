package io.ferry.bench;

import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import io.ferry.l4.L4Table;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import io.ferry.l4.RoundRobinBalancer;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l7.http.HttpProxy;
import io.ferry.l7.http.HttpProxyConfig;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.EventExecutor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * In-process HTTP/1.1 keep-alive round trips per second through Ferry's L4 relay and L7 proxy, on loopback only.
 *
 * <p>One Netty HTTP backend answers every request with a fixed {@code 200} of {@link #bodySize} bytes. A Netty client
 * holds {@link #connections} keep-alive connections to the {@link #target}:
 * <ul>
 *   <li>{@code direct}: the backend itself (the ceiling);</li>
 *   <li>{@code l4}: a {@link ServiceProxy} listener on {@code 127.0.0.1} whose backend is the server (TCP relay);</li>
 *   <li>{@code l7}: an {@link HttpProxy} listener with one route (host {@code bench.ferry.test}, Prefix {@code /})
 *       to the server (HTTP parsed, routed and forwarded over a pooled upstream connection).</li>
 * </ul>
 * One operation is one request/response round trip. Each benchmark invocation makes {@value #ROUND_TRIPS} of them,
 * spread evenly over the connections, each connection sending its next request as soon as its response is complete
 * (closed loop, one request in flight per connection); the benchmark thread waits, parked, until all are done, at
 * most 10 s.
 *
 * <p>Threads: the proxy has its own event loop group of {@link #proxyThreads} threads (default 1, as a one-worker
 * nginx or HAProxy); the client and the backend share one other event loop. With the benchmark thread mostly
 * parked, that is two busy threads on a 2-core machine.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RelayThroughputBenchmark {

    /** Round trips per invocation; {@link #connections} must divide it. */
    static final int ROUND_TRIPS = 64;
    private static final String HOST = "bench.ferry.test";
    private static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    @Param({ "direct", "l4", "l7" })
    public String target;

    @Param({ "1", "16" })
    public int connections;

    @Param("64")
    public int bodySize;

    @Param("1")
    public int proxyThreads;

    private Transport load;
    private Transport proxyTransport;
    private ServiceProxy serviceProxy;
    private HttpProxy httpProxy;
    private Channel server;
    private Client[] clients;
    private ByteBuf request;
    private ByteBuf response;
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private volatile Thread waiter;
    private long[] loadThreadIds;
    private long[] proxyThreadIds;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        if (connections < 1 || ROUND_TRIPS % connections != 0) {
            throw new IllegalArgumentException("connections: " + connections + " (expected: a divisor of "
                                               + ROUND_TRIPS + ')');
        }
        InetAddress loopback = InetAddress.getLoopbackAddress();
        request = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(
                ("GET /api/items/42 HTTP/1.1\r\nHost: " + HOST + "\r\nUser-Agent: ferry-bench\r\nAccept: */*\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII)));
        byte[] body = new byte[bodySize];
        java.util.Arrays.fill(body, (byte) 'x');
        response = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(
                ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + bodySize + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII)).writeBytes(body));

        load = Transport.create(Transport.Kind.best(), 1);
        server = new ServerBootstrap()
                .group(load.group()).channel(load.serverChannelType())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpRequestDecoder(), new BackendHandler());
                    }
                })
                .bind(new InetSocketAddress(loopback, 0)).sync().channel();
        InetSocketAddress backendAddress = (InetSocketAddress) server.localAddress();

        InetSocketAddress connectTo;
        switch (target) {
            case "direct":
                connectTo = backendAddress;
                break;
            case "l4": {
                proxyTransport = Transport.create(Transport.Kind.best(), proxyThreads);
                serviceProxy = new ServiceProxy(proxyTransport, TcpProxyConfig.DEFAULT);
                ListenerKey key = ListenerKey.of(loopback, 0, Protocol.TCP);
                Backend backend = Backend.of("bench/backend:80/TCP", List.of(Endpoint.of(backendAddress)),
                                             RoundRobinBalancer.create());
                ServiceProxy.ApplyResult r = serviceProxy.apply(L4Table.builder().add(key, backend).build());
                if (!r.bindErrors().isEmpty()) {
                    throw new IllegalStateException("bind: " + r.bindErrors());
                }
                connectTo = (InetSocketAddress) serviceProxy.listeners().get(key).localAddress();
                break;
            }
            case "l7": {
                proxyTransport = Transport.create(Transport.Kind.best(), proxyThreads);
                httpProxy = new HttpProxy(proxyTransport, HttpProxyConfig.builder().accessLog(false).build());
                Backend backend = Backend.of("bench/backend:80", List.of(Endpoint.of(backendAddress)),
                                             RoundRobinBalancer.create());
                HttpRouteTable.Builder<Route> table = HttpRouteTable.builder();
                table.add(HOST, PathType.PREFIX, "/", Route.of("bench/ingress:" + HOST + "/", backend,
                                                                 RoutePolicy.DEFAULT));
                httpProxy.apply(table.build());
                connectTo = httpProxy.bind(new InetSocketAddress(loopback, 0));
                break;
            }
            default:
                throw new IllegalArgumentException("target: " + target + " (expected: direct, l4 or l7)");
        }

        clients = new Client[connections];
        Bootstrap b = new Bootstrap().group(load.group()).channel(load.socketChannelType())
                                     .option(ChannelOption.TCP_NODELAY, true);
        for (int i = 0; i < connections; i++) {
            Client c = new Client();
            c.channel = b.clone().handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(new HttpResponseDecoder(), c);
                }
            }).connect(connectTo).sync().channel();
            clients[i] = c;
        }
        loadThreadIds = threadIds(load.group());
        proxyThreadIds = proxyTransport == null ? new long[0] : threadIds(proxyTransport.group());
        // One batch to check every connection answers 200 before anything is measured.
        roundTrips();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (clients != null) {
            for (Client c : clients) {
                if (c != null && c.channel != null) {
                    c.channel.close().awaitUninterruptibly();
                }
            }
        }
        if (serviceProxy != null) {
            serviceProxy.close();
        }
        if (httpProxy != null) {
            httpProxy.close();
        }
        if (proxyTransport != null) {
            proxyTransport.close();
        }
        if (server != null) {
            server.close().awaitUninterruptibly();
        }
        load.close();
    }

    /**
     * CPU time of the event-loop threads, beside JMH's score: on a shared machine throughput also counts the time
     * the threads waited for a core; the CPU time per round trip does not. Per iteration: {@code roundTrips} (the
     * count), {@code proxyCpuMicros} (the proxy's event loops; 0 for {@code direct}) and {@code loadCpuMicros} (the
     * client's and backend's event loop); divide by {@code roundTrips} for the CPU time per round trip.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Cpu {
        public long roundTrips;
        long proxyNanos;
        long loadNanos;

        @Setup(Level.Iteration)
        public void reset() {
            roundTrips = 0;
            proxyNanos = 0;
            loadNanos = 0;
        }

        public long proxyCpuMicros() {
            return proxyNanos / 1000;
        }

        public long loadCpuMicros() {
            return loadNanos / 1000;
        }
    }

    /** {@value #ROUND_TRIPS} round trips, spread over the connections; returns when all are answered. */
    @Benchmark
    @OperationsPerInvocation(ROUND_TRIPS)
    public void roundTrips(Cpu cpu) {
        long proxy0 = cpuNanos(proxyThreadIds);
        long load0 = cpuNanos(loadThreadIds);
        roundTrips();
        cpu.proxyNanos += cpuNanos(proxyThreadIds) - proxy0;
        cpu.loadNanos += cpuNanos(loadThreadIds) - load0;
        cpu.roundTrips += ROUND_TRIPS;
    }

    private static long cpuNanos(long[] threadIds) {
        long sum = 0;
        for (long id : threadIds) {
            sum += THREADS.getThreadCpuTime(id);
        }
        return sum;
    }

    /** The ids of the threads of {@code group}'s event loops. */
    private static long[] threadIds(EventLoopGroup group) throws Exception {
        List<Long> ids = new java.util.ArrayList<>();
        for (EventExecutor e : group) {
            ids.add(e.submit(() -> Thread.currentThread().getId()).get(10, TimeUnit.SECONDS));
        }
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    private void roundTrips() {
        int each = ROUND_TRIPS / connections;
        waiter = Thread.currentThread();
        pending.set(connections);
        for (Client c : clients) {
            c.start(each);
        }
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (pending.get() > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IllegalStateException("timed out: " + pending.get() + " connections still waiting");
            }
            LockSupport.parkNanos(this, left);
        }
        String f = failure.get();
        if (f != null) {
            throw new IllegalStateException(f);
        }
    }

    private void done() {
        if (pending.decrementAndGet() == 0) {
            LockSupport.unpark(waiter);
        }
    }

    /** Answers each complete request with the fixed response. */
    private final class BackendHandler extends SimpleChannelInboundHandler<HttpObject> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof LastHttpContent) {
                ctx.write(response.duplicate());
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /** One keep-alive client connection: sends its quota of requests one after another. */
    private final class Client extends SimpleChannelInboundHandler<HttpObject> {
        Channel channel;
        private int remaining;

        /** Called on the benchmark thread; hands the batch to the event loop. */
        void start(int count) {
            channel.eventLoop().execute(() -> {
                remaining = count;
                channel.writeAndFlush(request.duplicate(), channel.voidPromise());
            });
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpResponse) {
                int status = ((HttpResponse) msg).status().code();
                if (status != 200 || msg.decoderResult().isFailure()) {
                    failure.compareAndSet(null, target + ": status " + status + ", " + msg.decoderResult());
                }
            }
            if (msg instanceof LastHttpContent) {
                if (--remaining > 0) {
                    ctx.writeAndFlush(request.duplicate(), ctx.voidPromise());
                } else {
                    done();
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (remaining > 0) {
                failure.compareAndSet(null, target + ": connection closed with " + remaining + " requests to go");
                remaining = 0;
                done();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failure.compareAndSet(null, target + ": " + cause);
            ctx.close();
        }
    }
}
