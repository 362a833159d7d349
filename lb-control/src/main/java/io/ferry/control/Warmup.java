package io.ferry.control;

import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import io.ferry.l4.L4Table;
import io.ferry.l4.LeastConnectionsBalancer;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.MaglevBalancer;
import io.ferry.l4.Protocol;
import io.ferry.l4.RandomBalancer;
import io.ferry.l4.RoundRobinBalancer;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.SourceHashBalancer;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l4.UdpProxy;
import io.ferry.l7.http.HttpProxy;
import io.ferry.l7.http.HttpProxyConfig;
import io.ferry.l7.route.EwmaBalancer;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpScheme;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAccumulator;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.function.Consumer;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs traffic through a private copy of the edge proxy before Ferry opens any listener of its own, so that the
 * first clients meet compiled code rather than the interpreter.
 *
 * <p>A JVM starts cold: until the JIT has compiled the request path, each request costs many times what it costs
 * later. A burst of connections at start (a load balancer's, or a benchmark's: 64 TLS clients at once) then waits
 * seconds for its handshakes; on a busy node, long enough for clients with deadlines to give up, and for
 * {@code h2load -D} to hang (a client it connects after its duration has ended is never stopped). nginx and
 * HAProxy have no such phase. So Ferry goes through it before anyone can connect: a private {@link HttpProxy} on
 * loopback port 0, with its own self-signed certificate and routes to a private backend, on the edge's transport,
 * gets — one kind after the other, in {@value #ROUNDS} rounds, from Netty clients on the same event loops —
 * {@value #H2_REQUESTS} HTTP/2 streams over TLS, {@value #REQUESTS} HTTP/1.1 keep-alive requests in clear text and
 * as many over TLS, and {@value #HANDSHAKES} new TLS connections. A private {@link ServiceProxy} (the L4 relay,
 * with the real one's settings, on the relay's transport) on another loopback port 0 relays {@value #L4_REQUESTS}
 * HTTP/1.1 keep-alive requests to the same backend, and {@value #L4_CONNECTIONS} new connections of one request
 * each; without HTTP listeners that is the whole warm-up. After each phase it lets C2's queue shorten
 * ({@link #awaitCompilerQueue}: the JIT promotes nothing while it is long). Then it waits for the JIT to finish
 * what the rounds started, and touches every kind again until that sets nothing more compiling
 * ({@link #settle}). The same classes serve the real listeners afterwards, so their code is compiled. The time
 * budget caps it all (a starved machine gets a partial warm-up, not a late start). Nothing of the private proxies
 * outlives the call: their connections are drained and closed; their stats and pools are their own.
 *
 * <p>Compiled code is only as good as the traffic it was compiled for. The JIT compiles a branch that the warm-up
 * never took as a trap: the first real request that takes it throws the whole compiled method away (and every
 * method inlined into it), and the JIT compiles it again, on the one CPU the proxy has, under the first real load.
 * So the warm-up looks like real traffic, not like one request repeated: requests in four shapes (wrk's, curl's, a
 * browser's, h2load's: an IP address and port or a name as host, header names in either case, cookies never
 * indexed in HPACK, a few fields too large for its table), responses in nginx's shape and in a minimal one, TLS
 * clients with and without SNI, a route table with host rules and one without, a new endpoint each round, more
 * connections each round (8 up to 64, as load generators open), and some clients that stop as load generators stop
 * (requests in flight, then gone).
 * Response bodies stay small: a warm-up that also streamed 4 KiB and chunked bodies left the small-response path
 * slower for good (19.9 against 17.9 µs of CPU per HTTP/2 request, compiled for both). Classes the start-up loads
 * later are loaded first ({@link #LOADED_LATER}).
 *
 * <p>Not warmed: DNS (its per-query code is small) and UDP, and balancers other than round robin.
 */
final class Warmup {

    private static final Logger logger = LoggerFactory.getLogger(Warmup.class);
    /** A small response, as most are. */
    private static final byte[] BODY = "x".repeat(64).getBytes(StandardCharsets.US_ASCII);
    /** Client connections per phase: enough to fill a few event-loop turns, as a loaded proxy sees them. */
    private static final int CONNECTIONS = 8;
    /** Streams in flight per HTTP/2 connection. */
    private static final int STREAMS = 10;
    /** Requests per kind: past the JIT's thresholds for the methods of the request path (C2 at ~10,000 calls). */
    private static final long REQUESTS = 8_000;
    /**
     * HTTP/2 streams: twice the others. HTTP/2 has the most code per request (frames, HPACK, flow control, the
     * conversions to and from HTTP/1). 32,000 took half the budget, and did not get the code compiled: while C2's
     * queue is long, the JIT does not promote anything to it ({@link #awaitCompilerQueue}).
     */
    private static final long H2_REQUESTS = 16_000;
    /**
     * Requests through the L4 relay: each is two reads and two writes of its handlers. The relay runs on its own
     * transport (epoll, where the HTTP edge has io_uring), so its event loop's code is warmed here alone. With 4,000,
     * the relay's request path ({@code EpollIoHandler.run} and {@code processReady}, the handlers' reads) was still
     * at tier 3 after the warm-up and was compiled under the first {@code wrk -c64} through the relay: 290-560 ms of
     * C2 on the proxy's CPU in its first 6 s, p99 4.4-5.2 ms; with 16,000 (0.8 s more of the budget), 140-150 ms
     * of per-connection code, p99 2.7-3.6 ms.
     */
    private static final long L4_REQUESTS = 16_000;
    /**
     * New connections through the L4 relay, one request each. A connection's start and end (accept, the upstream
     * connect, the channels' set-up, the FIN or reset passed on, the close of both) is code that a keep-alive load
     * runs only when it starts and stops: 64 connections a run. Left to real load, it reached the JIT's thresholds
     * a method at a time, run after run, and each compile (tens of milliseconds of C2 on the proxy's one CPU) held
     * the relayed requests of that moment: 25-100 ms at the top of every 8 s run of {@code wrk -c64}, against 5-10
     * for nginx. With this many, and the settle passes, the first runs of {@code wrk -c64} after the start saw
     * 0-90 ms of C2 each instead of 40-410, and a p99 level with nginx's instead of 2-3 times it; a few methods
     * still reach their thresholds later, a run at a time.
     */
    private static final long L4_CONNECTIONS = 2_400;
    /** New TLS connections, one request each. */
    private static final long HANDSHAKES = 200;
    /**
     * Requests per pooled upstream connection in the private proxy (the real one's default is 10,000). With the
     * default, no warm-up connection reached its limit, and the branch that retires a connection was compiled as a
     * trap: under {@code wrk -c64}, 10,000 requests per upstream connection came 16 s into the first HTTP load, and
     * the trap threw away the compiled {@code upstreamRead} (and {@code responseDone} inlined in it), 0.9 s of C2
     * on the proxy's one CPU in the middle of a measured run. Retired this often, the connections the private
     * backend sees come and go as they do under a long load.
     */
    private static final int UPSTREAM_REQUESTS = 100;
    /** Channels closed at once at the end (io_uring: a few completions each, 4,096 at most in one loop turn). */
    private static final int CLOSE_BATCH = 256;
    /** Passes of every kind at most once the rounds are done, while they still set the JIT compiling. */
    private static final int SETTLE_PASSES = 4;
    /**
     * Requests of each keep-alive kind per settle pass. The JIT looks at a method compiled by C1 with a profile
     * (tier 3, where most of the request path is when the rounds end) once every 1,024 calls
     * ({@code -XX:Tier3InvokeNotifyFreqLog=10}), not at each: a pass that calls it fewer times may never let the
     * JIT see that its count is past C2's threshold, and then the first real load does.
     */
    private static final int SETTLE_REQUESTS = 2_048;
    /** The settle passes send their requests a chunk of each kind at a time, C2's queue shortened in between. */
    private static final int SETTLE_CHUNK = 256;
    /**
     * The length of C2's queue the warm-up waits for after each phase and chunk. The JIT promotes a method to C2
     * only if its count is past the threshold times (1 + queue length / 3), so with a queue of 30 (as a warm-up
     * that does not wait keeps it) a request path method needs 55,000 calls instead of 5,000.
     */
    private static final int COMPILER_QUEUE = 3;
    /** The longest wait for C2's queue to shorten, in case one compile takes seconds. */
    private static final long COMPILER_QUEUE_WAIT_MILLIS = 1_000;
    private static final ObjectName DIAGNOSTIC_COMMANDS = diagnosticCommands();
    /** How long the JIT must have compiled nothing to count as idle: longer than most single compiles take. */
    private static final long JIT_QUIET_MILLIS = 200;
    private static final CompilationMXBean JIT = ManagementFactory.getCompilationMXBean();
    /** The counts are reached in this many rounds of every kind. */
    private static final int ROUNDS = 8;
    /** Request shapes ({@link #request}) and TLS client hellos ({@link #clientTls}). */
    private static final int SHAPES = 4;
    /** The private routes' host name; {@code *.}{@value} has a route too, and any other host the catch-all. */
    private static final String HOST = "warm.example";

    /**
     * Classes that the rest of the start-up (the control plane, the metrics, the end of the warm-up itself) would
     * load only after the warm-up, and whose arrival throws compiled code of the request path away: the JIT compiles
     * a call through a type with one loaded implementation as a direct, inlined call, and a second implementation
     * loaded later makes every such method invalid (a class hierarchy dependency), to be compiled again under the
     * first real load. The first {@code DoubleAdder} alone (the metrics') invalidated the compiled request start of
     * HTTP/1.1 and HTTP/2, which count with {@code LongAdder}; {@code ImmediateEventExecutor} 42 methods that call
     * {@code EventExecutor.inEventLoop}. Found with {@code -XX:+LogCompilation} ({@code dependency_failed}).
     */
    private static final List<String> LOADED_LATER = List.of(
            ImmediateEventExecutor.class.getName(),
            DoubleAdder.class.getName(),
            DoubleAccumulator.class.getName(),
            LongAccumulator.class.getName(),
            "java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask",
            "java.util.ArrayList$ListItr",
            "com.fasterxml.jackson.core.util.InternCache",
            // The UDP relay's message size estimator (a second MessageSizeEstimator), created with the class.
            UdpProxy.class.getName(),
            // The balancers the warm-up does not use (it uses round robin): the real tables do.
            RandomBalancer.class.getName(),
            SourceHashBalancer.class.getName(),
            MaglevBalancer.class.getName(),
            LeastConnectionsBalancer.class.getName(),
            EwmaBalancer.class.getName());

    /** What a warm-up did. */
    record Result(long l4, long l4Connections, long http1, long https1, long h2, long handshakes, long failures,
                  Duration took, int settlePasses, long settleRequests) {

        /** The requests of the rounds (not of the settle passes). */
        long requests() {
            return l4 + l4Connections + http1 + https1 + h2 + handshakes;
        }
    }

    /** The L4 relay's event loops, and its clients'. */
    private final Transport relayTransport;
    /** The edge proxy's, its clients' and the backend's ({@link #relayTransport} without HTTP). */
    private final Transport httpTransport;
    private final TcpProxyConfig tcp;
    private final boolean http;
    private final AtomicLong l4 = new AtomicLong();
    private final AtomicLong l4Connections = new AtomicLong();
    /** New L4 connections started: which way each ends ({@link #shortConnections}). */
    private final AtomicLong shortConnections = new AtomicLong();
    private final AtomicLong http1 = new AtomicLong();
    private final AtomicLong https1 = new AtomicLong();
    private final AtomicLong h2 = new AtomicLong();
    private final AtomicLong handshakes = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    /** The private backend's connections by the listener that accepted them. */
    private final Map<Channel, Set<Channel>> accepted = new ConcurrentHashMap<>();
    /**
     * Time spent per kind, in nanoseconds: L4, HTTP/2, HTTP/1.1, HTTPS, handshakes, L4 connections, and the settle
     * passes (for the log).
     */
    private final long[] spent = new long[7];
    /** The counts when the rounds ended ({@link #counts}), before the settle passes; null if they did not end. */
    private long[] counted;
    private int settlePasses;
    /** The clients' and the backend's connections: closed at the end, so the private proxy's pooled ones go too. */
    private final ChannelGroup all = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

    private Warmup(Transport relayTransport, Transport httpTransport, TcpProxyConfig tcp) {
        this.relayTransport = relayTransport;
        this.httpTransport = httpTransport == null ? relayTransport : httpTransport;
        this.tcp = tcp;
        this.http = httpTransport != null;
    }

    /** Warms the L4 relay and the edge proxy ({@link #run(Transport, Duration, TcpProxyConfig, boolean)}). */
    static Result run(Transport transport, Duration budget) {
        return run(transport, transport, budget, TcpProxyConfig.builder().build());
    }

    /**
     * Warms the L4 relay's code on {@code relayTransport} (with {@code tcp}, the real relay's settings) and, unless
     * {@code httpTransport} is {@code null}, the edge proxy's on {@code httpTransport} (which may be the same), for
     * about {@code budget}; returns what it did. Failures are counted, never thrown: a warm-up that cannot run
     * leaves Ferry cold, not down.
     */
    static Result run(Transport relayTransport, Transport httpTransport, Duration budget, TcpProxyConfig tcp) {
        long start = System.nanoTime();
        loadLateClasses();
        Warmup w = new Warmup(relayTransport, httpTransport, tcp);
        try {
            w.drive(budget);
        } catch (Exception e) {
            w.failures.incrementAndGet();
            logger.warn("Warm-up stopped early: {}", e.toString());
        }
        long[] n = w.counted != null ? w.counted : w.counts();
        long settleRequests = w.counted != null ? Arrays.stream(w.counts()).sum() - Arrays.stream(n).sum() : 0;
        Result r = new Result(n[0], n[1], n[2], n[3], n[4], n[5], w.failures.get(),
                              Duration.ofNanos(System.nanoTime() - start), w.settlePasses, settleRequests);
        long[] ms = Arrays.stream(w.spent).map(TimeUnit.NANOSECONDS::toMillis).toArray();
        logger.info("Warm-up: {} requests in {} ms (L4 relay {} in {} ms, new L4 connections {} in {} ms, HTTP/1.1 {} "
                    + "in {} ms, HTTPS {} in {} ms, HTTP/2 {} in {} ms, new TLS handshakes {} in {} ms; {} failed); "
                    + "then {} settle passes, {} requests, {} ms", r.requests(), r.took().toMillis(), r.l4(), ms[0],
                    r.l4Connections(), ms[5], r.http1(), ms[2], r.https1(), ms[3], r.h2(), ms[1], r.handshakes(),
                    ms[4], r.failures(), r.settlePasses(), r.settleRequests(), ms[6]);
        return r;
    }

    /**
     * Loads and initializes the classes of {@link #LOADED_LATER} (initialized, so linked: linking is when the JIT's
     * view of the class hierarchy takes a class in).
     */
    private static void loadLateClasses() {
        ClassLoader loader = Warmup.class.getClassLoader();
        for (String name : LOADED_LATER) {
            try {
                Class.forName(name, true, loader);
            } catch (ClassNotFoundException | LinkageError e) {
                logger.debug("Warm-up: {} not loaded ({})", name, e.toString());
            }
        }
    }

    private void drive(Duration budget) throws Exception {
        long deadline = System.nanoTime() + budget.toNanos();
        InetAddress loopback = InetAddress.getLoopbackAddress();
        // The backend listens on a port per round: each round's table sends the proxy to an endpoint it has no
        // connections to yet, as a table swap does (a pool's first connection to an endpoint is a path of its own).
        ServerBootstrap server = new ServerBootstrap()
                .group(httpTransport.group())
                .channel(httpTransport.serverChannelType())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        all.add(ch);
                        accepted.computeIfAbsent(ch.parent(), l -> ConcurrentHashMap.newKeySet()).add(ch);
                        // Request lines and heads up to 16 KiB, as nginx's large_client_header_buffers: a few of
                        // HTTP/2's requests carry a 4 KiB query (h2Request).
                        ch.pipeline().addLast(new HttpServerCodec(16 * 1024, 16 * 1024, 8192),
                                              new HttpObjectAggregator(64 * 1024), new Responder());
                    }
                });
        List<Channel> backends = new ArrayList<>(ROUNDS);
        ServiceProxy relay = new ServiceProxy(relayTransport, tcp);
        HttpProxy proxy = http ? new HttpProxy(httpTransport, HttpProxyConfig.builder()
                                                                         .accessLog(false)
                                                                         .upstreamMaxRequests(UPSTREAM_REQUESTS)
                                                                         .build())
                               : null;
        try {
            for (int i = 0; i < ROUNDS; i++) {
                backends.add(server.bind(new InetSocketAddress(loopback, 0)).sync().channel());
            }
            // The relay's endpoint: the last backend listener, the one that stays open to the end.
            relay.apply(L4Table.builder()
                               .add(ListenerKey.of(loopback, 0, Protocol.TCP), backend(backends, ROUNDS - 1))
                               .build());
            InetSocketAddress tcpAt = (InetSocketAddress) relay.listeners().values().iterator().next().localAddress();
            HttpTargets to = http ? HttpTargets.start(proxy, loopback) : null;
            // One kind at a time (side by side, the kinds that start slowest would get the least of a starved CPU),
            // in rounds (so that every kind has had its share when the budget runs out first). The HTTP kinds have
            // more connections each round, up to what a load generator opens (h2load -c64), so that the proxy's
            // pools, timers and connection counts grow under load here rather than under the first real one.
            for (int round = 0; round < ROUNDS && System.nanoTime() - deadline < 0; round++) {
                pacedPhase(0, L4_REQUESTS / ROUNDS, CONNECTIONS, deadline,
                           (left, done, abruptly) -> keepAlive(relayTransport, tcpAt, null, left, l4, done, abruptly));
                pacedPhase(5, L4_CONNECTIONS / ROUNDS, CONNECTIONS, deadline,
                           (left, done, abruptly) -> shortConnections(tcpAt, left, done));
                if (round > 0) {
                    // The last round's listener closes, awaited, as the real proxies close and await theirs on a
                    // table change: the event loop's paths for a listener that ends (io_uring: a multishot accept
                    // that completes for the last time) and for a promise that a thread waits on are compiled with
                    // the rest, not thrown away when the warm-up closes its own.
                    Channel last = backends.get(round - 1);
                    last.close().awaitUninterruptibly();
                    // And its connections: the proxy's pooled ones read the end and leave the pool, as when a
                    // backend closes idle keep-alive connections. Without this every round's pool stayed open, up
                    // to 5,900 descriptors at the end.
                    Set<Channel> gone = accepted.remove(last);
                    if (gone != null) {
                        closeInBatches(gone);
                    }
                }
                if (http) {
                    proxy.apply(HttpTargets.table(round, backend(backends, round)));
                    int clients = CONNECTIONS * (round + 1);
                    pacedPhase(1, H2_REQUESTS / ROUNDS, clients, deadline,
                               (left, done, abruptly) -> http2(to.https, to.h2, left, done, abruptly));
                    pacedPhase(2, REQUESTS / ROUNDS, clients, deadline,
                               (left, done, abruptly) -> keepAlive(httpTransport, to.plain, null, left, http1, done,
                                                                     abruptly));
                    pacedPhase(3, REQUESTS / ROUNDS, clients, deadline,
                               (left, done, abruptly) -> keepAlive(httpTransport, to.https, to.h1, left, https1, done,
                                                                     abruptly));
                    pacedPhase(4, HANDSHAKES / ROUNDS, CONNECTIONS, deadline,
                               (left, done, abruptly) -> newConnections(to.https, to.h1, left, done));
                }
            }
            counted = counts();
            settle(deadline, tcpAt, to);
        } finally {
            // The backend's side of every pooled upstream connection first, a batch at a time: the proxy's sides
            // close as they read the end. Thousands of channels closed in one event loop turn overflow io_uring's
            // completion queue (a warning in the log).
            closeInBatches(all);
            if (proxy != null) {
                proxy.drain();
                proxy.close();
            }
            relay.close();
            for (Channel b : backends) {
                b.close().sync();
            }
            all.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    /** The answered requests per kind: L4, L4 connections, HTTP/1.1, HTTPS, HTTP/2, handshakes. */
    private long[] counts() {
        return new long[] {l4.get(), l4Connections.get(), http1.get(), https1.get(), h2.get(), handshakes.get()};
    }

    /**
     * Lets the JIT finish before Ferry opens its listeners, so that it does not compile under the first real load.
     *
     * <p>Where the rounds leave it: compiling a backlog, and methods whose counts passed the C2 threshold meanwhile
     * still waiting to be noticed. The JIT notices a method compiled by C1 with a profile once every 1,024 calls (a
     * C1 method without one every 2,048), so these would be compiled under the first real load: tens of
     * milliseconds of C2 each on the proxy's CPU, holding every request of that moment. So: wait until the JIT is
     * idle, run a pass of every kind that calls the request path's methods more than 1,024 times, a
     * {@value #SETTLE_CHUNK}-request chunk of each kind at a time (each phase waits for C2's queue to shorten, so
     * that the JIT promotes what it notices), new connections of both kinds, and again until a pass sets nothing
     * compiling, at most {@value #SETTLE_PASSES} passes, within the budget.
     */
    private void settle(long deadline, InetSocketAddress tcpAt, HttpTargets to) throws InterruptedException {
        long start = System.nanoTime();
        try {
            while (settlePasses < SETTLE_PASSES && awaitJitIdle(deadline)) {
                long compiled = compilationMillis();
                settlePasses++;
                for (int sent = 0; sent < SETTLE_REQUESTS && System.nanoTime() - deadline < 0; sent += SETTLE_CHUNK) {
                    // The kinds in turn, a chunk each: the methods they share are called as often as each kind's
                    // own, and none goes stale in C2's queue (the JIT drops a task whose method is not called for
                    // 50 ms, unless it has been called 50,000 times) while another kind runs for seconds.
                    phase(6, SETTLE_CHUNK, CONNECTIONS, deadline,
                          (left, done, abruptly) -> keepAlive(relayTransport, tcpAt, null, left, l4, done, abruptly));
                    if (http) {
                        int clients = CONNECTIONS * ROUNDS;
                        phase(6, SETTLE_CHUNK, clients, deadline,
                              (left, done, abruptly) -> http2(to.https, to.h2, left, done, abruptly));
                        phase(6, SETTLE_CHUNK, clients, deadline,
                              (left, done, abruptly) -> keepAlive(httpTransport, to.plain, null, left, http1, done,
                                                                    abruptly));
                        phase(6, SETTLE_CHUNK, clients, deadline,
                              (left, done, abruptly) -> keepAlive(httpTransport, to.https, to.h1, left, https1, done,
                                                                    abruptly));
                    }
                    awaitCompilerQueue(deadline);
                }
                phase(6, CONNECTIONS * 4, CONNECTIONS, deadline,
                      (left, done, abruptly) -> shortConnections(tcpAt, left, done));
                if (http) {
                    phase(6, SHAPES, CONNECTIONS / 2, deadline,
                          (left, done, abruptly) -> newConnections(to.https, to.h1, left, done));
                }
                if (!awaitJitIdle(deadline) || compilationMillis() == compiled) {
                    break;
                }
            }
        } finally {
            // The whole of it, waits included: replaces what its phases added, which would count them twice.
            spent[6] = System.nanoTime() - start;
        }
    }

    /**
     * Waits until the JIT has compiled nothing for {@value #JIT_QUIET_MILLIS} ms; {@code false} if the deadline
     * came first (or the JVM does not report compile time).
     */
    private static boolean awaitJitIdle(long deadline) throws InterruptedException {
        return awaitJitIdle(deadline, JIT_QUIET_MILLIS);
    }

    /**
     * Waits, at most {@value #COMPILER_QUEUE_WAIT_MILLIS} ms and not past {@code deadline}, until C2's queue holds
     * {@value #COMPILER_QUEUE} tasks or fewer, so that the calls that follow find the JIT ready to promote what they
     * make hot.
     *
     * <p>On one CPU the load of a phase makes methods hot faster than C2 compiles them: its queue stayed at 24-32
     * tasks through the rounds, and the JIT, which scales its C2 thresholds by the queue's length, promoted nothing
     * of the request path that it had not promoted in the first seconds. {@code startExchange} went through the
     * whole warm-up at tier 3, 33,792 calls, and was compiled under the first real load with 70-90 other methods of
     * the HTTP/1.1 path (0.7-1 s of C2 on the proxy's CPU; 90-190 methods and 1.2-3.3 s under the first
     * {@code h2load}). Without the queue's length (a JVM without the diagnostic command), it waits for the JIT to be
     * idle for a short while instead.
     */
    private static void awaitCompilerQueue(long deadline) throws InterruptedException {
        long until = Math.min(deadline, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(COMPILER_QUEUE_WAIT_MILLIS));
        while (System.nanoTime() - until < 0) {
            int n = compilerQueue();
            if (n < 0) {
                awaitJitIdle(until, 50);
                return;
            }
            if (n <= COMPILER_QUEUE) {
                return;
            }
            Thread.sleep(5);
        }
    }

    /**
     * The number of tasks in C2's queue, from HotSpot's {@code Compiler.queue} diagnostic command (what
     * {@code jcmd PID Compiler.queue} prints); -1 where there is no such command or no C2 queue in its answer.
     */
    static int compilerQueue() {
        if (DIAGNOSTIC_COMMANDS == null) {
            return -1;
        }
        String out;
        try {
            out = (String) ManagementFactory.getPlatformMBeanServer()
                                            .invoke(DIAGNOSTIC_COMMANDS, "compilerQueue", null, null);
        } catch (Exception | LinkageError e) {
            return -1;
        }
        int at = out == null ? -1 : out.indexOf("C2 compile queue:");
        if (at < 0) {
            return -1;
        }
        // "C2 compile queue:", then "Empty" or a line per task that starts with its compile id; a blank line ends it.
        int tasks = 0;
        for (String line : out.substring(at).split("\n", -1)) {
            String l = line.strip();
            if (!l.isEmpty() && Character.isDigit(l.charAt(0))) {
                tasks++;
            }
        }
        return tasks;
    }

    private static ObjectName diagnosticCommands() {
        try {
            return new ObjectName("com.sun.management:type=DiagnosticCommand");
        } catch (Exception e) {
            return null;
        }
    }

    private static boolean awaitJitIdle(long deadline, long quietMillis) throws InterruptedException {
        if (!JIT.isCompilationTimeMonitoringSupported()) {
            return false;
        }
        long last = compilationMillis();
        long quietSince = System.nanoTime();
        while (System.nanoTime() - deadline < 0) {
            Thread.sleep(10);
            long now = compilationMillis();
            if (now != last) {
                last = now;
                quietSince = System.nanoTime();
            } else if (System.nanoTime() - quietSince >= TimeUnit.MILLISECONDS.toNanos(quietMillis)) {
                return true;
            }
        }
        return false;
    }

    /** Milliseconds the JIT has spent compiling since the JVM started; it moves when a compile ends. */
    private static long compilationMillis() {
        return JIT.getTotalCompilationTime();
    }

    /** Closes {@code channels} {@value #CLOSE_BATCH} at a time, each batch once the one before has closed. */
    private static void closeInBatches(Iterable<Channel> channels) {
        List<ChannelFuture> batch = new ArrayList<>(CLOSE_BATCH);
        for (Channel ch : channels) {
            batch.add(ch.close());
            if (batch.size() == CLOSE_BATCH) {
                awaitAll(batch);
            }
        }
        awaitAll(batch);
    }

    private static void awaitAll(List<ChannelFuture> futures) {
        for (ChannelFuture f : futures) {
            f.awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        futures.clear();
    }

    private static Backend backend(List<Channel> backends, int round) {
        return Backend.of("ferry-warmup", List.of(Endpoint.of((InetSocketAddress) backends.get(round).localAddress())),
                          RoundRobinBalancer.create());
    }

    /** The private edge proxy's listeners, and the client TLS contexts for them (HTTP/1.1 and HTTP/2 by ALPN). */
    private record HttpTargets(InetSocketAddress plain, InetSocketAddress https, SslContext h1, SslContext h2) {

        /**
         * The private routes of {@code round}, to {@code backend}: in even rounds one catch-all rule (as a cluster
         * with one Ingress without a host has), in odd ones rules for {@value #HOST}, for {@code *.}{@value #HOST}
         * and the catch-all (as most have). The route lookup's branches for both kinds of table are compiled.
         */
        static HttpRouteTable<Route> table(int round, Backend backend) {
            HttpRouteTable.Builder<Route> table = HttpRouteTable.builder();
            // Without the redirect to HTTPS that a host with TLS gets by default: every request goes upstream.
            Route route = Route.of("ferry-warmup", backend, RoutePolicy.builder().sslRedirect(false).build());
            if (round % 2 == 1) {
                table.add(HOST, PathType.EXACT, "/", route);
                table.add(HOST, PathType.PREFIX, "/warmup", route);
                table.add("*." + HOST, PathType.PREFIX, "/static", route);
            }
            table.add("", PathType.PREFIX, "/", route);
            return table.build();
        }

        /** Binds {@code proxy} on {@code loopback} port 0 (clear text and TLS); the routes come with each round. */
        static HttpTargets start(HttpProxy proxy, InetAddress loopback) throws Exception {
            InetSocketAddress plain = proxy.bind(new InetSocketAddress(loopback, 0));
            TlsCertificate certificate = TlsCertificate.generateDefault();
            TlsTable.Builder tls = TlsTable.builder(certificate);
            tls.add(HOST, certificate);
            tls.add("*." + HOST, certificate);
            proxy.applyTls(tls.build());
            InetSocketAddress https = proxy.bindHttps(new InetSocketAddress(loopback, 0));
            SslContext h1 = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build();
            SslContext h2 = SslContextBuilder.forClient()
                                             .trustManager(InsecureTrustManagerFactory.INSTANCE)
                                             .applicationProtocolConfig(new ApplicationProtocolConfig(
                                                     ApplicationProtocolConfig.Protocol.ALPN,
                                                     ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                                                     ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                                                     ApplicationProtocolNames.HTTP_2))
                                             .build();
            return new HttpTargets(plain, https, h1, h2);
        }
    }

    /** What a phase starts on each of its connections. */
    private interface Client {
        /**
         * Starts a client that takes requests off {@code left} and counts {@code done} down when it has closed;
         * when nothing is left, it stops {@code abruptly} (requests in flight, then gone) or cleanly.
         */
        void start(AtomicLong left, CountDownLatch done, boolean abruptly);
    }

    /**
     * Runs {@code clients} clients until {@code target} requests are answered or {@code deadline} passes; the time
     * goes to {@code kind}'s.
     */
    private void phase(int kind, long target, int clients, long deadline, Client client)
            throws InterruptedException {
        long start = System.nanoTime();
        AtomicLong left = new AtomicLong(target);
        CountDownLatch done = new CountDownLatch(clients);
        for (int i = 0; i < clients; i++) {
            // A few of them stop as a load generator does; all of them at once overflow io_uring's completion queue.
            client.start(left, done, i < CONNECTIONS);
        }
        long wait = deadline - System.nanoTime();
        if (wait <= 0 || !done.await(wait, TimeUnit.NANOSECONDS)) {
            left.set(0); // out of time: the clients stop after the request they are on
            if (!done.await(5, TimeUnit.SECONDS)) {
                failures.incrementAndGet();
            }
        }
        spent[kind] += System.nanoTime() - start;
    }

    /** {@link #phase}, then a wait for C2's queue to shorten, so that the next phase's hot methods get promoted. */
    private void pacedPhase(int kind, long target, int clients, long deadline, Client client)
            throws InterruptedException {
        phase(kind, target, clients, deadline, client);
        awaitCompilerQueue(deadline);
    }

    /** Takes one request off {@code left}; {@code false} when none is left. */
    private static boolean take(AtomicLong left) {
        return left.getAndDecrement() > 0;
    }

    /**
     * The {@code n}th request of a client to {@code at}: one of {@value #SHAPES} shapes that real clients send, so
     * that the code compiled here has seen the branches they take (a branch the warm-up never took is compiled as a
     * trap, and the first real request that takes it throws the compiled method away, under load). They differ in
     * the host (an IP address and port as load generators send, a name, a wildcard's name in mixed case, the
     * catch-all), in the case of the header names, and in the headers (none beside {@code Host}, curl's, a
     * browser's, h2load's).
     */
    private static FullHttpRequest request(long n, InetSocketAddress at) {
        FullHttpRequest req;
        switch ((int) (n % SHAPES)) {
            case 0 -> { // wrk
                req = get("/warmup");
                req.headers().set("Host", at.getAddress().getHostAddress() + ':' + at.getPort());
            }
            case 1 -> { // curl
                req = get("/warmup/curl?id=" + n);
                HttpHeaders h = req.headers();
                h.set("Host", HOST).set("User-Agent", "curl/8.5.0").set("Accept", "*/*");
            }
            case 2 -> { // a browser
                req = get("/static/app.js?v=" + (n & 7));
                HttpHeaders h = req.headers();
                h.set("Host", "Img.Warm.Example:" + at.getPort())
                 .set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
                 .set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
                 .set("Accept-Language", "en-US,en;q=0.5")
                 .set("Accept-Encoding", "gzip, deflate, br")
                 .set("Cookie", "session=6b7d2c1e; theme=dark")
                 .set("Connection", "keep-alive");
            }
            default -> { // h2load, names in lower case
                req = get("/warmup");
                HttpHeaders h = req.headers();
                h.set(HttpHeaderNames.HOST, "localhost")
                 .set(HttpHeaderNames.ACCEPT, "*/*")
                 .set(HttpHeaderNames.ACCEPT_ENCODING, "gzip, deflate")
                 .set(HttpHeaderNames.USER_AGENT, "h2load nghttp2/1.52.0");
            }
        }
        return req;
    }

    private static FullHttpRequest get(String uri) {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri, Unpooled.EMPTY_BUFFER);
    }

    /**
     * One HTTP/1.1 keep-alive connection to {@code at} (over TLS with {@code tls}) that sends a GET, and the next
     * when it is answered, while requests are {@code left}; then it closes and counts {@code done} down. The
     * requests are {@link #request}'s shapes in turn. Stopping {@code abruptly}, it closes as a load generator that
     * stops does: one more request sent, and the connection reset.
     */
    private void keepAlive(Transport on, InetSocketAddress at, SslContext tls, AtomicLong left, AtomicLong answered,
                           CountDownLatch done, boolean abruptly) {
        connect(on, at, tls, done, ch -> ch.pipeline().addLast(
                new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                new SimpleChannelInboundHandler<FullHttpResponse>() {
                    private long sent;

                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        next(ctx);
                    }

                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
                        count(res, answered);
                        next(ctx);
                    }

                    private void next(ChannelHandlerContext ctx) {
                        if (take(left)) {
                            ctx.writeAndFlush(request(sent++, at));
                        } else if (abruptly) {
                            // As a load generator stops: a request in flight, then a reset. The proxy's paths for
                            // a client gone mid-exchange (read error, upstream abandoned) get compiled here, not
                            // under the first real load's end.
                            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                            ctx.writeAndFlush(request(sent, at)).addListener(f -> ctx.close());
                        } else {
                            ctx.close();
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        failures.incrementAndGet();
                        ctx.close();
                    }
                }));
    }

    /** New TLS connections to {@code at}, one request each (the proxy closes), one after the other. */
    private void newConnections(InetSocketAddress at, SslContext tls, AtomicLong left, CountDownLatch done) {
        if (!take(left)) {
            done.countDown();
            return;
        }
        CountDownLatch one = new CountDownLatch(1) {
            @Override
            public void countDown() {
                super.countDown();
                newConnections(at, tls, left, done); // the next one, from the closing connection's loop
            }
        };
        connect(httpTransport, at, tls, one, ch -> ch.pipeline().addLast(
                new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                new SimpleChannelInboundHandler<FullHttpResponse>() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        FullHttpRequest req = request(left.get(), at);
                        req.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                        ctx.writeAndFlush(req);
                    }

                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
                        count(res, handshakes);
                        ctx.close();
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        failures.incrementAndGet();
                        ctx.close();
                    }
                }));
    }

    /**
     * New connections through the L4 relay at {@code at}, one request each, one after the other. They end in the
     * four ways relayed connections end: the client closes after the answer (its FIN passed on upstream), resets
     * after it, or stops with the answer unread (as a load generator stops), or the backend closes after answering
     * (the FIN passed on to the client).
     */
    private void shortConnections(InetSocketAddress at, AtomicLong left, CountDownLatch done) {
        if (!take(left)) {
            done.countDown();
            return;
        }
        long n = shortConnections.getAndIncrement();
        CountDownLatch one = new CountDownLatch(1) {
            @Override
            public void countDown() {
                super.countDown();
                shortConnections(at, left, done); // the next one, from the closing connection's loop
            }
        };
        connect(relayTransport, at, null, one, ch -> ch.pipeline().addLast(
                new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                new SimpleChannelInboundHandler<FullHttpResponse>() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        FullHttpRequest req = request(n, at);
                        if (n % 4 == 3) {
                            req.headers().set(CLOSE_AFTER, "1");
                        }
                        if (n % 4 == 2) {
                            // Stops as wrk does at the end of a run: the request sent, the answer never read.
                            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                            ctx.writeAndFlush(req).addListener(f -> {
                                l4Connections.incrementAndGet();
                                ctx.close();
                            });
                        } else {
                            ctx.writeAndFlush(req);
                        }
                    }

                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
                        count(res, l4Connections);
                        if (n % 4 == 1) {
                            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                            ctx.close();
                        } else if (n % 4 == 0) {
                            ctx.close();
                        } // else the backend closes, and so does the relay
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        failures.incrementAndGet();
                        ctx.close();
                    }
                }));
    }

    /**
     * One HTTP/2 connection over TLS to {@code at} that keeps {@link #STREAMS} streams open, a new one for each
     * that ends, while requests are {@code left}; then it closes, or, stopping {@code abruptly} as h2load does,
     * sends {@link #STREAMS} more requests and closes without waiting for their answers. Frames straight from Netty's
     * frame codec, without a channel per stream: the client's own cost is most of an HTTP/2 warm-up on one CPU.
     */
    private void http2(InetSocketAddress at, SslContext tls, AtomicLong left, CountDownLatch done, boolean abruptly) {
        // Cookies never indexed, as browsers send them: the HPACK decoder's branch for literals that are not added
        // to the table is compiled too (h2load sends some).
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                                                      .headerSensitivityDetector((name, value) ->
                                                              HttpHeaderNames.COOKIE.contentEqualsIgnoreCase(name))
                                                      .build();
        connect(httpTransport, at, tls, done, ch -> ch.pipeline().addLast(codec, new Http2ChannelDuplexHandler() {
            private int open;
            private long sent;
            /** Streams above this one were sent after the last request was taken: their answers are not counted. */
            private int lastCounted = Integer.MAX_VALUE;

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof SslHandshakeCompletionEvent) {
                    if (((SslHandshakeCompletionEvent) evt).isSuccess()) {
                        for (int i = 0; i < STREAMS; i++) {
                            next(ctx);
                        }
                        ctx.flush();
                    } else {
                        failures.incrementAndGet();
                        ctx.close();
                    }
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                try {
                    if (!(msg instanceof Http2StreamFrame frame) || frame.stream() == null) {
                        return;
                    }
                    boolean counted = frame.stream().id() <= lastCounted;
                    boolean end = false;
                    if (msg instanceof Http2HeadersFrame h) {
                        CharSequence status = h.headers().status();
                        if (status != null && counted) {
                            if (HttpResponseStatus.OK.codeAsText().contentEquals(status)) {
                                h2.incrementAndGet();
                            } else {
                                failures.incrementAndGet();
                            }
                        }
                        end = h.isEndStream();
                    } else if (msg instanceof Http2ResetFrame) {
                        if (counted) {
                            failures.incrementAndGet();
                        }
                        end = true;
                    } else if (msg instanceof Http2DataFrame d) {
                        if (d.initialFlowControlledBytes() > 0) { // handed back while the stream is still open
                            ctx.write(new DefaultHttp2WindowUpdateFrame(d.initialFlowControlledBytes())
                                              .stream(d.stream()));
                        }
                        end = d.isEndStream();
                    }
                    if (end && counted) {
                        open--;
                        next(ctx);
                    }
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                ctx.flush();
            }

            private void next(ChannelHandlerContext ctx) {
                if (lastCounted != Integer.MAX_VALUE) {
                    return;
                }
                if (take(left)) {
                    open++;
                    stream(ctx);
                } else if (open == 0) {
                    lastCounted = codec.connection().local().lastStreamCreated();
                    if (!abruptly) {
                        ctx.close();
                        return;
                    }
                    for (int i = 0; i < STREAMS - 1; i++) {
                        stream(ctx);
                    }
                    stream(ctx).addListener(f -> ctx.close());
                }
            }

            private ChannelFuture stream(ChannelHandlerContext ctx) {
                Http2HeadersFrame frame = new DefaultHttp2HeadersFrame(h2Request(sent++, at), true);
                ChannelFuture written = ctx.write(frame.stream(newStream()));
                if (lastCounted == Integer.MAX_VALUE) {
                    written.addListener(f -> {
                        if (!f.isSuccess()) { // never sent, never answered: counted as failed and ended
                            failures.incrementAndGet();
                            open--;
                            next(ctx);
                        }
                    });
                }
                return written;
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                failures.incrementAndGet();
                ctx.close();
            }
        }));
    }

    /** {@link #request}'s {@code n}th request as HTTP/2 headers over TLS: what an HTTP/2 client sends instead. */
    private static Http2Headers h2Request(long n, InetSocketAddress at) {
        FullHttpRequest req = request(n, at);
        Http2Headers out = new DefaultHttp2Headers()
                .method(req.method().asciiName())
                .scheme(HttpScheme.HTTPS.name())
                .path(req.uri())
                .authority(req.headers().get(HttpHeaderNames.HOST));
        for (Map.Entry<String, String> e : req.headers()) {
            if (!HttpHeaderNames.HOST.contentEqualsIgnoreCase(e.getKey())
                && !HttpHeaderNames.CONNECTION.contentEqualsIgnoreCase(e.getKey())) {
                out.add(AsciiString.of(e.getKey()).toLowerCase(), e.getValue());
            }
        }
        // Fields larger than the HPACK table (4,096 bytes) go as literals without indexing, the representation h2load
        // uses for some of its fields (a static-table name such as :path) and that the warm-up's encoder otherwise
        // never sends. A few are enough for the profile (each costs a byte-by-byte Huffman encoding, slow under the
        // tests' leak detection): one request in 256 gets a long query, another a long header.
        if (n % 256 == 2) {
            out.path(out.path() + "&t=" + BIG_VALUE);
        } else if (n % 256 == 130) {
            out.add(CLIENT_DATA, BIG_VALUE);
        }
        return out;
    }

    private static final AsciiString CLIENT_DATA = AsciiString.cached("x-client-data");
    /** A request header that makes the private backend close the connection once it has answered. */
    private static final String CLOSE_AFTER = "x-warmup-close";
    private static final String BIG_VALUE = "z".repeat(4_200);

    private void count(FullHttpResponse res, AtomicLong answered) {
        if (res.status().code() == 200) {
            answered.incrementAndGet();
        } else {
            failures.incrementAndGet();
        }
    }

    /**
     * Connects to {@code at} from {@code on}'s event loops, with {@code tls} (if any) first; {@code done} counts down
     * when the connection ends.
     */
    private void connect(Transport on, InetSocketAddress at, SslContext tls, CountDownLatch done,
                         Consumer<Channel> handlers) {
        new Bootstrap()
                .group(on.group())
                .channelFactory(on.socketChannelFactory(at))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        all.add(ch);
                        if (tls != null) {
                            ch.pipeline().addLast(clientTls(tls, ch, at));
                        }
                        handlers.accept(ch);
                    }
                })
                .connect(at)
                .addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        f.channel().closeFuture().addListener(c -> done.countDown());
                    } else {
                        failures.incrementAndGet();
                        done.countDown();
                    }
                });
    }

    /**
     * A TLS client handler for a new connection to {@code at}: without SNI (as clients of an IP address), or for
     * the private routes' name, a name under their wildcard, or a name that has no certificate, in turn.
     */
    private SslHandler clientTls(SslContext tls, Channel ch, InetSocketAddress at) {
        return switch ((int) (connections.getAndIncrement() % SHAPES)) {
            case 0 -> tls.newHandler(ch.alloc());
            case 1 -> tls.newHandler(ch.alloc(), HOST, at.getPort());
            case 2 -> tls.newHandler(ch.alloc(), "img." + HOST, at.getPort());
            default -> tls.newHandler(ch.alloc(), "localhost", at.getPort());
        };
    }

    /**
     * The private backend: 200 and {@link #BODY} for every request, kept alive, in two shapes in turn on each
     * connection: nginx's ({@code Server}, {@code Date}, {@code Last-Modified}, {@code Connection: keep-alive},
     * {@code ETag}, {@code Accept-Ranges}, names in mixed case) and a minimal one with lower-case names (Netty's,
     * Envoy's).
     */
    private static final class Responder extends SimpleChannelInboundHandler<FullHttpRequest> {
        private long answered;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            FullHttpResponse res = response(BODY);
            if ((answered++ & 1) == 0) {
                res.headers().set("Server", "nginx/1.22.1")
                             .set("Date", "Fri, 27 Nov 2026 15:00:00 GMT")
                             .set("Content-Type", "text/plain")
                             .set("Content-Length", BODY.length)
                             .set("Last-Modified", "Thu, 26 Nov 2026 09:00:00 GMT")
                             .set("Connection", "keep-alive")
                             .set("ETag", "\"6565a5b0-40\"")
                             .set("Accept-Ranges", "bytes");
            } else {
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain")
                             .setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
            }
            if (req.headers().contains(CLOSE_AFTER)) {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.writeAndFlush(res);
            }
        }

        private static FullHttpResponse response(byte[] body) {
            return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                               Unpooled.wrappedBuffer(body));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
