package io.ferry.l7.http;

import io.ferry.l4.Backend;
import io.ferry.l4.IdleTimeoutHandler;
import io.ferry.l7.route.LatencyObserver;
import io.ferry.l7.route.RegexBudget;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.TlsCertificate;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The client side of the edge proxy: one instance per client connection, after {@link Http1ServerCodec}, or per
 * HTTP/2 stream, driven by its {@link Http2FrontendStream}.
 *
 * <p>The life of a request: the head arrives; it is checked (framing, Host, path), the path normalized, the live
 * {@code HttpRouteTable} consulted once; the {@link Route}'s policy is applied (allowed sources, redirects, body
 * limit); an endpoint is picked by the route's balancer and an {@link Upstream} is found for it: an idle pooled
 * {@link UpstreamConnection} of this event loop, or a new one made on this loop — or, for a route whose
 * {@code backendProtocol} is GRPC or H2C, a new {@link H2cUpstreamStream} on this loop's HTTP/2 cleartext connection
 * to the endpoint ({@link H2cUpstreamPool}; {@code te: trailers} is kept for it). The rewritten head goes out, then
 * the body streams chunk by chunk with backpressure; the response streams back the same way, its trailers (an
 * HTTP/2 upstream's trailing HEADERS) included: HTTP/1.1 clients get them as chunked trailers, HTTP/2 clients as
 * trailing HEADERS. A connect failure, or an upstream that breaks before answering an idempotent request with no
 * body yet sent, is retried on the next endpoint (at most {@link HttpProxyConfig#maxAttempts()} tries); a connection
 * that was taken and dropped unanswered is retried on the same endpoint when every endpoint was tried. Such failed
 * tries also count for passive health (nginx's {@code max_fails}/{@code fail_timeout}, from the route's
 * {@link RoutePolicy}): an endpoint that failed is skipped, when picking and when retrying, until its fail timeout
 * is over; its {@code EndpointHealth} lives in the {@link Backend}. An upstream that breaks or goes silent once the
 * response has started cuts the client off: the connection is closed (an HTTP/2 stream reset), never ended as if
 * the response were whole. When both directions are complete the upstream connection goes back to the pool (an
 * HTTP/2 stream just ends) and the next (possibly pipelined) request is read. A {@code 101} to an {@code Upgrade}
 * request turns both connections into a {@link RawRelay}.
 *
 * <p>The client connection reads only when the proxy wants more (auto-read off): one request at a time. While a
 * response is awaited one read stays pending, so that a client that leaves is noticed; pipelined requests it brings
 * wait, decoded, in a queue (no further read is made) and are answered in order. Confined to the connection's event
 * loop.
 */
final class HttpFrontendHandler extends ChannelInboundHandlerAdapter {

    private static final long MAX_DISCARD = 64 * 1024;
    /** An endpoint's status line, its response head and its body parts at most (a larger part comes in pieces). */
    private static final int UPSTREAM_MAX_STATUS_LINE = 8192;
    private static final int UPSTREAM_MAX_HEAD = 64 * 1024;
    private static final int UPSTREAM_MAX_PART = 64 * 1024;

    private final HttpProxy proxy;
    private final HttpStats stats;
    private final HttpProxyConfig config;
    private final String scheme;
    private final int localPort;
    /** {@code X-Forwarded-Port}'s value. */
    private final String localPortText;

    private final boolean h2;
    /** The HTTP/2 stream this handler serves, or null on an HTTP/1.1 connection. */
    private final Http2FrontendStream stream;
    /** The client connection's context (an HTTP/2 stream's: its connection's, shared by its streams). */
    private ChannelHandlerContext ctx;
    private boolean started;
    private String clientIp;
    private Exchange ex;
    private ArrayDeque<Object> queued;
    private ArrayDeque<Object> upgradeStash;
    private boolean closing;
    private boolean switched;
    private boolean draining;
    /** When the client last sent bytes or was last answered: the idle and header timeouts count from here. */
    private long lastClientActivity;
    private ScheduledFuture<?> timer;
    private long timerDeadline;
    /** The current exchange's upstream while it has one (it belongs to {@link #ex}, one exchange at a time). */
    private Upstream upstream;
    /** The exchange that waits in the {@link UpstreamPool} for a connection to its endpoint, if any. */
    private Exchange waitingFor;

    HttpFrontendHandler(HttpProxy proxy, String scheme, int localPort) {
        this(proxy, scheme, localPort, null);
    }

    /**
     * @param scheme {@code http} or {@code https}: what {@code X-Forwarded-Proto} says and which redirects and
     *               checks apply
     * @param stream the HTTP/2 stream served ({@link Http2Frontend} hands its frames over as HTTP/1 objects), or
     *               null for an HTTP/1.1 connection, where this is the pipeline's last handler
     */
    HttpFrontendHandler(HttpProxy proxy, String scheme, int localPort, Http2FrontendStream stream) {
        this.proxy = proxy;
        this.stats = proxy.stats();
        this.config = proxy.config();
        this.scheme = scheme;
        this.localPort = localPort;
        this.localPortText = Integer.toString(localPort);
        this.stream = stream;
        this.h2 = stream != null;
        if (stream != null) {
            this.ctx = stream.connectionContext();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (clientActive()) {
            // Added after the connection came up: HTTP/1.1 chosen by ALPN once TLS was done.
            start();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start();
        ctx.fireChannelActive();
    }

    /**
     * HTTP/2 in clear text takes the connection over before its first request ({@link CleartextHttp2Detector}): this
     * handler leaves, and takes back what its start counted and armed.
     */
    void handOver() {
        if (started) {
            stats.connections.decrement();
            stats.activeConnections.decrement();
        }
        cancelTimer();
    }

    /** An HTTP/2 stream's HEADERS opened it. */
    void streamStarted() {
        start();
    }

    private void start() {
        if (started) {
            return;
        }
        started = true;
        if (h2) {
            stats.h2Streams.increment();
        } else {
            stats.connections.increment();
        }
        stats.activeConnections.increment();
        if (h2) {
            clientIp = stream.clientIp(); // one per connection, not one per stream
        } else {
            clientIp = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
        }
        lastClientActivity = System.nanoTime();
        armTimerBy(lastClientActivity + idleLimit(), lastClientActivity);
        clientRead();
    }

    // ---- client side ----------------------------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        clientMessage(msg);
    }

    /** A message from the client's codec (or, for an HTTP/2 stream, from {@link Http2FrontendStream}). */
    void clientMessage(Object msg) {
        // The one clock read of this call chain: the exchange's start, its upstream's and its timers reuse it.
        long now = System.nanoTime();
        lastClientActivity = now;
        if (switched) {
            // Bytes the client sent after its upgrade request, set free when the HTTP codec left.
            if (upgradeStash == null) {
                upgradeStash = new ArrayDeque<>(2);
            }
            upgradeStash.add(msg);
            return;
        }
        if (closing && ex == null) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (ex != null && ex.requestComplete || queued != null && !queued.isEmpty()) {
            // A pipelined request (or the rest of one): it waits, in order, until the response before it is out.
            if (queued == null) {
                queued = new ArrayDeque<>(4);
            }
            queued.add(msg);
            return;
        }
        dispatch(msg, now);
    }

    /**
     * Hands one message from the client's codec to the exchange it belongs to (a new one for a head).
     *
     * @param now {@code System.nanoTime()} as read at the top of this call chain
     */
    private void dispatch(Object msg, long now) {
        if (ex == null) {
            if (msg instanceof HttpRequest) {
                startExchange((HttpRequest) msg, now);
            } else {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        if (msg instanceof HttpContent) {
            requestBody((HttpContent) msg, now);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        clientReadComplete();
    }

    void clientReadComplete() {
        Exchange e = ex;
        if (e == null || switched) {
            return;
        }
        if (upstream != null && e.headSent) {
            upstream.channel().flush();
        }
        if (!e.requestComplete && !closing) {
            if (e.local) {
                clientRead(); // keep discarding
            } else if (e.headSent && upstream != null && upstream.channel().isWritable()) {
                clientRead();
            }
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        clientWritabilityChanged();
        ctx.fireChannelWritabilityChanged();
    }

    void clientWritabilityChanged() {
        Exchange e = ex;
        if (e != null && upstream != null) {
            upstream.channel().config().setAutoRead(clientWritable());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        clientClosed();
        ctx.fireChannelInactive();
    }

    /** The client connection (or HTTP/2 stream) is gone. */
    void clientClosed() {
        stats.activeConnections.decrement();
        cancelTimer();
        stopWaiting();
        releaseAll(queued);
        releaseAll(upgradeStash);
        Exchange e = ex;
        ex = null;
        if (e != null) {
            if (!e.responseComplete) {
                stats.clientAborts.increment();
                if (!e.responseStarted) {
                    e.status = 499; // nginx's "client closed request"
                }
                log(e);
            }
            e.releasePendingBody();
            if (upstream != null) {
                Upstream c = upstream;
                upstream = null;
                c.release(false);
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Bytes from the client that broke the connection (a reset, mostly): close; nothing else is affected.
        clientClose();
    }

    private void startExchange(HttpRequest req, long now) {
        stats.requests.increment();
        Exchange e = new Exchange(req, now);
        ex = e;
        // An HTTP/2 HEADERS frame that ends its stream comes as a FullHttpRequest: the whole request, no body.
        e.requestComplete = req instanceof LastHttpContent;
        e.http10 = req.protocolVersion().equals(HttpVersion.HTTP_1_0);
        e.keepAlive = HttpUtil.isKeepAlive(req);
        HttpHeaders h = req.headers();
        e.requestId = RequestHeads.requestId(h.get(ForwardedHeaders.X_REQUEST_ID));
        if (req.decoderResult().isFailure()) {
            Throwable cause = req.decoderResult().cause();
            int code = cause instanceof TooLongHttpLineException ? 414
                       : cause instanceof TooLongHttpHeaderException ? 431 : 400;
            ReferenceCountUtil.release(req);
            badRequest(code);
            return;
        }
        ReferenceCountUtil.release(req);
        if (req.protocolVersion().majorVersion() != 1) {
            badRequest(505); // "HTTP/2.0" and the like on an HTTP/1 connection
            return;
        }
        // Netty lets a coding before the final chunked through ("gzip, chunked"), and the proxy re-frames the
        // body as chunked alone: the backend would read gzip as plain bytes. nginx refuses any other coding too.
        if (h.contains(HttpHeaderNames.TRANSFER_ENCODING)
            && !RequestHeads.onlyChunked(h.getAll(HttpHeaderNames.TRANSFER_ENCODING))
            || !RequestHeads.validTarget(req.uri())) {
            badRequest(400);
            return;
        }
        // Where the request goes: the absolute-form's authority wins over Host (RFC 9112 3.2.2).
        String uri = req.uri();
        String host = h.get(HttpHeaderNames.HOST);
        String target = uri;
        boolean absoluteForm = !uri.startsWith("/");
        if (absoluteForm) {
            int scheme = uri.regionMatches(true, 0, "http://", 0, 7) ? 7
                         : uri.regionMatches(true, 0, "https://", 0, 8) ? 8 : -1;
            if (scheme < 0) {
                badRequest(400);
                return;
            }
            int end = scheme;
            while (end < uri.length() && uri.charAt(end) != '/' && uri.charAt(end) != '?') {
                end++;
            }
            host = uri.substring(scheme, end);
            target = end == uri.length() ? "/"
                     : uri.charAt(end) == '/' ? uri.substring(end) : '/' + uri.substring(end);
        }
        if (host == null ? !e.http10 : !RequestHeads.validHost(host) || h.getAll(HttpHeaderNames.HOST).size() > 1) {
            badRequest(400);
            return;
        }
        e.host = host;
        // Known before any answer: an answer to a client waiting for "100 Continue" has to close (respondLocal).
        String expect = h.get(HttpHeaderNames.EXPECT);
        if (expect != null) {
            if (!HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(expect)) {
                respondLocal(417, true);
                return;
            }
            e.expectContinue = true;
        }
        int query = target.indexOf('?');
        String rawPath = query < 0 ? target : target.substring(0, query);
        String path = io.ferry.l7.route.RequestPath.normalize(rawPath);
        if (path == null) {
            badRequest(400);
            return;
        }
        Route route;
        try {
            route = proxy.table().lookup(host, path);
        } catch (RegexBudget.ExceededException ex) {
            respondLocal(500, false); // nginx's answer when PCRE hits its match limit
            return;
        }
        if (route == null) {
            stats.noRoute.increment();
            respondLocal(404, false);
            return;
        }
        e.route = route;
        route.stats().request();
        RoutePolicy policy = route.policy();
        InetSocketAddress remote = (InetSocketAddress) ctx.channel().remoteAddress();
        if (!policy.allowedSources().allows(remote.getAddress())) {
            respondLocal(403, false);
            return;
        }
        if ("http".equals(scheme)) {
            // ingress-nginx: a host with TLS sends plain HTTP to https (ssl-redirect, on by default);
            // force-ssl-redirect does so even without TLS for the host.
            if (policy.forceSslRedirect() || policy.sslRedirect() && proxy.tls() != null && proxy.tls().hasTls(host)) {
                e.local = true;
                int port = proxy.httpsRedirectPort();
                String location = "https://" + RequestHeads.hostWithoutPort(host) + (port == 443 ? "" : ":" + port)
                                  + target;
                respond(LocalResponses.redirect(308, location, false), false);
                return;
            }
        } else if (misdirected(host)) {
            stats.misdirected.increment();
            respondLocal(421, false);
            return;
        }
        long contentLength = HttpUtil.getContentLength(req, -1L);
        if (policy.maxBodySize() > 0 && contentLength > policy.maxBodySize()) {
            respondLocal(413, true);
            return;
        }
        Backend backend = route.backend();
        if (backend.isEmpty()) {
            stats.noEndpoint.increment();
            route.stats().noEndpoint();
            respondLocal(503, false);
            return;
        }
        HttpMethod method = req.method();
        e.head = HttpMethod.HEAD.equals(method);
        e.idempotent = e.head || HttpMethod.GET.equals(method) || HttpMethod.PUT.equals(method)
                       || HttpMethod.DELETE.equals(method) || HttpMethod.OPTIONS.equals(method)
                       || HttpMethod.TRACE.equals(method);
        e.upgrade = h.contains(HttpHeaderNames.UPGRADE)
                    && ForwardedHeaders.connectionHas(h, HttpHeaderValues.UPGRADE);
        // The client's headers become the upstream's, edited in place: what is needed of those that go is read first.
        boolean chunked = HttpUtil.isTransferEncodingChunked(req);
        boolean teTrailers = h2cUpstream(e) && h.containsValue(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS, true);
        HttpHeaders uh = h;
        ForwardedHeaders.stripHopByHop(uh, e.upgrade);
        if (teTrailers) {
            FlatHttpHeaders.setKnownName(uh, HttpHeaderNames.TE, HttpHeaderValues.TRAILERS); // gRPC servers require it
        }
        if (absoluteForm) {
            // RFC 9112 3.2.2: the target's authority replaces Host
            FlatHttpHeaders.setKnownName(uh, HttpHeaderNames.HOST, host);
        }
        if (h2) {
            ForwardedHeaders.removeHttp2Extensions(uh);
        }
        ForwardedHeaders.addForwarded(uh, clientIp, scheme, host, localPortText);
        FlatHttpHeaders.setKnownName(uh, ForwardedHeaders.X_REQUEST_ID, e.requestId);
        String upstreamUri;
        try {
            upstreamUri = RequestHeads.rewrite(policy, path, target, query);
        } catch (RegexBudget.ExceededException ex) {
            respondLocal(500, false);
            return;
        }
        e.upstreamRequest = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, upstreamUri, uh);
        if (chunked) {
            HttpUtil.setTransferEncodingChunked(e.upstreamRequest, true);
        }
        e.firstEndpoint = available(backend, backend.balancer().select(backend, remote), 0, now);
        acquire(e.firstEndpoint, false, now);
    }

    private void requestBody(HttpContent content, long now) {
        Exchange e = ex;
        boolean last = content instanceof LastHttpContent;
        if (content.decoderResult().isFailure()) {
            content.release();
            stats.badRequests.increment();
            if (!e.responseStarted) {
                dropUpstream(e);
                respondLocal(400, true);
            } else {
                closeNow();
            }
            return;
        }
        int n = content.content().readableBytes();
        e.requestBodyBytes += n;
        stats.bytesFromClients.add(n);
        if (e.local) {
            content.release();
            e.discardedBytes += n;
            if (last) {
                e.requestComplete = true;
                if (e.responseComplete) {
                    finishExchange(now);
                }
            } else if (e.discardedBytes > MAX_DISCARD) {
                closeNow();
            }
            return;
        }
        e.route.stats().bytesFromClient(n);
        long max = e.route.policy().maxBodySize();
        if (max > 0 && e.requestBodyBytes > max) {
            content.release();
            if (!e.responseStarted) {
                dropUpstream(e);
                respondLocal(413, true);
            } else {
                closeNow();
            }
            return;
        }
        if (e.headSent && upstream != null) {
            upstream.channel().write(content, upstream.channel().voidPromise());
            e.lastUpstreamActivity = now;
        } else {
            if (e.pendingBody == null) {
                e.pendingBody = new ArrayDeque<>(4);
            }
            e.pendingBody.add(content);
        }
        if (last) {
            e.requestComplete = true;
            if (upstream != null) {
                // From now on the read timeout governs, which is usually shorter than the send timeout.
                armTimerBy(e.lastUpstreamActivity + exchangeLimit(e), now);
            }
            // One read stays pending while the response is awaited, so that a client that goes away is noticed
            // (NIO reports an end of stream only to a read). What it brings, if anything, is pipelined and waits
            // in the queue; no further read is made until this exchange is done.
            clientRead();
        }
    }

    // ---- upstream side --------------------------------------------------------------------------------------

    private void acquire(int index, boolean fresh) {
        acquire(index, fresh, System.nanoTime());
    }

    /** @param now {@code System.nanoTime()}, when the try starts */
    private void acquire(int index, boolean fresh, long now) {
        Exchange e = ex;
        Backend backend = e.route.backend();
        e.attempts++;
        e.endpointIndex = index;
        InetSocketAddress address = backend.endpoint(index).address();
        e.endpoint = address;
        e.noteEndpoint(address);
        e.upstreamStartNanos = now;
        if (h2cUpstream(e)) {
            acquireStream(e, address);
            return;
        }
        UpstreamPool pool = proxy.pool();
        if (!fresh) {
            UpstreamConnection pooled = pool.poll(address);
            if (pooled != null) {
                stats.upstreamReuses.increment();
                e.reused = true;
                startUpstream(pooled, now);
                return;
            }
        }
        if (!pool.mayOpen(address)) {
            waitForConnection(e, address, pool);
            return;
        }
        connect(e, address, pool);
    }

    /**
     * Every connection to {@code address} is busy and no other may be opened ({@code --upstream-max-connections}):
     * the request waits for one to come free or close, for at most the route's connect timeout.
     */
    private void waitForConnection(Exchange e, InetSocketAddress address, UpstreamPool pool) {
        stats.upstreamQueued.increment();
        waitingFor = e;
        e.queuedNanos = System.nanoTime();
        pool.await(address, this);
        armTimerBy(e.queuedNanos + e.route.policy().connectTimeout().toNanos(), e.queuedNanos);
    }

    /** Leaves the pool's queue, if the current exchange waits there. */
    private void stopWaiting() {
        Exchange e = waitingFor;
        if (e != null) {
            waitingFor = null;
            proxy.pool().cancel(e.endpoint, this);
        }
    }

    /**
     * The {@link UpstreamPool} hands over {@code c}, a kept-alive connection another request just released, to
     * the request that waited for one; {@code false} if this handler no longer waits for it.
     */
    boolean takeWaitedConnection(UpstreamConnection c) {
        Exchange e = waitingFor;
        if (!waitsFor(e, c.address())) {
            return false;
        }
        waitingFor = null;
        stats.upstreamReuses.increment();
        e.reused = true;
        startUpstream(c);
        return true;
    }

    /**
     * A connection to {@code address} closed, so the request that waited may open one; {@code false} if this
     * handler no longer waits.
     */
    boolean connectionMayOpen(InetSocketAddress address) {
        Exchange e = waitingFor;
        if (!waitsFor(e, address)) {
            return false;
        }
        waitingFor = null;
        connect(e, address, proxy.pool());
        return true;
    }

    /** Whether {@code e}, the exchange that waited, is still the current one and waits for {@code address}. */
    private boolean waitsFor(Exchange e, InetSocketAddress address) {
        return e != null && e == ex && address.equals(e.endpoint);
    }

    private void connect(Exchange e, InetSocketAddress address, UpstreamPool pool) {
        Backend backend = e.route.backend();
        e.reused = false;
        stats.upstreamConnects.increment();
        RoutePolicy policy = e.route.policy();
        Channel client = ctx.channel();
        // TCP_NODELAY: on by default in Netty's socket channels.
        ChannelFuture connecting = proxy.transport().connect(
                client, address, (int) Math.min(Integer.MAX_VALUE, policy.connectTimeout().toMillis()), ch -> {
                    ch.config().setAutoRead(false);
                    ch.pipeline()
                      .addLast("idle", new IdleTimeoutHandler(config.upstreamIdleTimeout().toNanos(),
                                                            TimeUnit.NANOSECONDS))
                      .addLast("http", new Http1ClientCodec(UPSTREAM_MAX_STATUS_LINE, UPSTREAM_MAX_HEAD,
                                                            UPSTREAM_MAX_PART))
                      .addLast("upstream", new UpstreamConnection(address, pool));
                });
        if (connecting.channel() != client) { // not a socket that could not even be opened
            pool.opened(address, connecting.channel());
        }
        connecting.addListener((ChannelFuture f) -> {
            if (ex != e || closing && !clientActive()) {
                if (f.isSuccess()) {
                    f.channel().close();
                }
                return;
            }
            if (!f.isSuccess()) {
                stats.upstreamConnectFailures.increment();
                e.route.stats().upstreamConnectFailure();
                endpointFailed(e);
                retryOrFail(e, f.cause() instanceof ConnectTimeoutException ? 504 : 502, false);
                return;
            }
            backend.health(e.endpointIndex).succeeded();
            startUpstream((UpstreamConnection) f.channel().pipeline().get("upstream"));
        });
    }

    /** Whether {@code e}'s route sends its requests over HTTP/2 cleartext ({@code backend-protocol} GRPC or H2C). */
    private static boolean h2cUpstream(Exchange e) {
        RoutePolicy.BackendProtocol p = e.route.policy().backendProtocol();
        return p == RoutePolicy.BackendProtocol.GRPC || p == RoutePolicy.BackendProtocol.H2C;
    }

    /**
     * Opens a stream to {@code address} on this event loop's h2c connection to it (dialled if there is none, or if
     * the one there is cannot take another stream). A connect failure is retried like an HTTP/1.1 one; so is a
     * stream that cannot be opened (counted as a connect failure: nothing was sent).
     */
    private void acquireStream(Exchange e, InetSocketAddress address) {
        H2cUpstreamPool pool = proxy.h2cPool();
        e.reused = false; // a broken stream is retried on the next endpoint, never on the same connection
        if (pool.ready(address)) {
            stats.upstreamReuses.increment();
        } else {
            stats.upstreamConnects.increment();
        }
        int connectTimeout = (int) Math.min(Integer.MAX_VALUE, e.route.policy().connectTimeout().toMillis());
        pool.connection(address, ctx.channel().eventLoop(), connectTimeout).addListener((ChannelFuture f) -> {
            if (ex != e || closing && !clientActive()) {
                return; // the connection stays for other streams
            }
            if (!f.isSuccess()) {
                stats.upstreamConnectFailures.increment();
                e.route.stats().upstreamConnectFailure();
                endpointFailed(e);
                retryOrFail(e, f.cause() instanceof ConnectTimeoutException ? 504 : 502, false);
                return;
            }
            H2cUpstreamPool.openStream(f.channel()).addListener((Future<Http2StreamChannel> sf) -> {
                if (ex != e || closing && !clientActive()) {
                    if (sf.isSuccess()) {
                        sf.getNow().close();
                    }
                    return;
                }
                if (!sf.isSuccess()) {
                    stats.upstreamConnectFailures.increment();
                    e.route.stats().upstreamConnectFailure();
                    retryOrFail(e, 502, false);
                    return;
                }
                e.route.backend().health(e.endpointIndex).succeeded();
                startUpstream(sf.getNow().pipeline().get(H2cUpstreamStream.class));
            });
        });
    }

    private void startUpstream(Upstream c) {
        startUpstream(c, System.nanoTime());
    }

    /** @param now {@code System.nanoTime()}, read in this call chain */
    private void startUpstream(Upstream c, long now) {
        Exchange e = ex;
        upstream = c;
        c.attach(this);
        Channel u = c.channel();
        u.write(e.upstreamRequest, u.voidPromise());
        e.headSent = true;
        if (e.pendingBody != null) {
            for (HttpContent m; (m = e.pendingBody.poll()) != null; ) {
                u.write(m, u.voidPromise());
            }
            e.pendingBody = null;
        } else if (e.requestComplete) {
            // A retry of a request whose (empty) body was sent on the failed connection.
            u.write(LastHttpContent.EMPTY_LAST_CONTENT, u.voidPromise());
        }
        u.flush();
        e.lastUpstreamActivity = now;
        armTimerBy(now + exchangeLimit(e), now);
        if (!e.requestComplete && u.isWritable()) {
            clientRead();
        }
    }

    /**
     * A try failed before any response byte: if a retry is safe, the same endpoint on a new connection (a pooled one
     * had broken), else the next endpoint, else (every endpoint tried, the connection taken and dropped) the same
     * endpoint again, within {@link HttpProxyConfig#maxAttempts()} tries; otherwise {@code status}.
     */
    private void retryOrFail(Exchange e, int status, boolean sent) {
        Backend backend = e.route.backend();
        boolean safe = !sent || e.idempotent && e.requestBodyBytes == 0;
        if (safe && clientActive()) {
            if (sent && e.reused) {
                // A kept-alive connection the server had closed: the same endpoint on a new connection.
                stats.retries.increment();
                e.route.stats().retry();
                acquire(e.endpointIndex, true);
                return;
            }
            if (e.attempts < config.maxAttempts()) {
                if (e.attempts < backend.size()) {
                    stats.retries.increment();
                    e.route.stats().retry();
                    acquire(nextEndpoint(e, backend), false);
                    return;
                }
                if (sent) {
                    // Every endpoint was tried and the last one took the connection, then dropped it unanswered:
                    // what a server out of connections does (nginx closes the newest idle ones). It is tried
                    // again, on a new connection, as HAProxy's retries do; a refused connect is not.
                    stats.retries.increment();
                    e.route.stats().retry();
                    acquire(e.endpointIndex, true);
                    return;
                }
            }
        }
        respondLocal(status, !e.requestComplete);
    }

    /**
     * The endpoint after the failed one, in table order, skipping those passive health skips while there are
     * others: the walk starts at the first endpoint tried and never passes it, so each is tried at most once.
     */
    private static int nextEndpoint(Exchange e, Backend backend) {
        int n = backend.size();
        int walked = Math.floorMod(e.endpointIndex - e.firstEndpoint, n) + 1;
        int next = (e.endpointIndex + 1) % n;
        int chosen = available(backend, next, walked, System.nanoTime());
        return Math.floorMod(chosen - e.firstEndpoint, n) < walked ? next : chosen;
    }

    /**
     * The first endpoint from {@code index} on (in table order, wrapping, at most {@code size() - skipped} steps)
     * that passive health does not skip at {@code now} ({@code System.nanoTime()}); {@code index} itself if every
     * one is skipped (better a try than a certain 502).
     */
    private static int available(Backend backend, int index, int skipped, long now) {
        int n = backend.size();
        for (int k = 0; k < n - skipped; k++) {
            int i = (index + k) % n;
            if (backend.health(i).isAvailable(now)) {
                return i;
            }
        }
        return index;
    }

    /** Counts a failed try of the current endpoint for passive health (nginx's {@code max_fails}). */
    private void endpointFailed(Exchange e) {
        RoutePolicy p = e.route.policy();
        if (e.route.backend().health(e.endpointIndex).failed(System.nanoTime(), p.maxFails(),
                                                              p.failTimeout().toNanos())) {
            stats.endpointEjections.increment();
        }
    }

    void upstreamRead(Upstream c, Object msg) {
        Exchange e = ex;
        if (e == null || upstream != c) {
            ReferenceCountUtil.release(msg);
            return;
        }
        // The one clock read of this call chain: the response head's time and the exchange's end reuse it.
        long now = System.nanoTime();
        e.lastUpstreamActivity = now;
        if (msg instanceof FullHttpResponse) {
            // Only from an HTTP/2 stream: a HEADERS frame that ended the stream (a response without body, a gRPC
            // "trailers-only" answer, or an interim 1xx, which over HTTP/2 has no end of its own to skip).
            FullHttpResponse full = (FullHttpResponse) msg;
            if (full.decoderResult().isFailure()) {
                full.release();
                upstreamBroke(e, c);
                return;
            }
            upstreamHead(c, full);
            if (full.status().code() < 200 || ex != e || upstream != c) {
                full.release();
                return;
            }
            int n = full.content().readableBytes();
            e.responseBytes += n;
            stats.bytesToClients.add(n);
            e.route.stats().bytesToClient(n);
            e.responseComplete = true;
            clientWrite(new DefaultLastHttpContent(full.content(), full.trailingHeaders()));
            responseDone(e, now);
        } else if (msg instanceof HttpResponse) {
            upstreamHead(c, (HttpResponse) msg);
        } else if (msg instanceof HttpContent) {
            HttpContent content = (HttpContent) msg;
            if (content.decoderResult().isFailure()) {
                content.release();
                upstreamBroke(e, c);
                return;
            }
            if (e.skipLast) {
                if (content instanceof LastHttpContent) {
                    e.skipLast = false;
                }
                content.release();
                return;
            }
            int n = content.content().readableBytes();
            e.responseBytes += n;
            stats.bytesToClients.add(n);
            e.route.stats().bytesToClient(n);
            clientWrite(content);
            if (content instanceof LastHttpContent) {
                e.responseComplete = true;
                responseDone(e, now);
            }
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void upstreamHead(Upstream c, HttpResponse r) {
        Exchange e = ex;
        if (r.decoderResult().isFailure()) {
            ReferenceCountUtil.release(r);
            upstreamBroke(e, c);
            return;
        }
        int code = r.status().code();
        if (code == 101) {
            if (e.upgrade && c instanceof UpstreamConnection) {
                switchProtocols(e, (UpstreamConnection) c, r);
            } else {
                upstreamBroke(e, c);
            }
            return;
        }
        if (code < 200) {
            // Interim responses: a 100 the client asked for is passed on; others (102, 103) are dropped. Over
            // HTTP/1.1 the codec ends each with a LastHttpContent to skip; over HTTP/2 nothing follows them.
            e.skipLast = c instanceof UpstreamConnection;
            if (code == 100 && e.expectContinue && !e.continueSent) {
                e.continueSent = true;
                clientWrite(LocalResponses.continue100());
                clientFlush();
            }
            return;
        }
        e.responseStarted = true;
        e.status = code;
        e.upstreamStatus = code;
        e.upstreamHeadNanos = e.lastUpstreamActivity; // upstreamRead has just read the clock
        e.route.stats().upstreamLatency(e.upstreamHeadNanos - e.upstreamStartNanos);
        // The decoder of an HTTP/1.1 upstream says what it learnt of the head; other heads are looked at again.
        Http1ClientCodec.Response decoded = r instanceof Http1ClientCodec.Response ? (Http1ClientCodec.Response) r
                                                                                   : null;
        e.upstreamKeepAlive = decoded != null ? decoded.keepAlive : HttpUtil.isKeepAlive(r);
        boolean chunked = decoded != null ? decoded.chunked : HttpUtil.isTransferEncodingChunked(r);
        boolean framed = chunked || (decoded != null ? decoded.contentLength : HttpUtil.isContentLengthSet(r));
        // The upstream's head goes on to the client, its headers edited in place (a FullHttpResponse, from an
        // HTTP/2 stream, carries its body and gets a head of its own).
        HttpHeaders rh = r.headers();
        ForwardedHeaders.stripHopByHop(rh, false, decoded == null || decoded.otherHopByHop);
        if (c instanceof H2cUpstreamStream) {
            ForwardedHeaders.removeHttp2Extensions(rh);
        }
        // A head of its own, of exactly DefaultHttpResponse: Netty's response encoder takes that class without the
        // interface checks a subclass goes through (JDK-8180450 makes failing ones slow on Java 17).
        HttpResponse out = decoded != null || r instanceof FullHttpResponse
                           ? new DefaultHttpResponse(HttpVersion.HTTP_1_1, r.status(), rh)
                           : r.setProtocolVersion(HttpVersion.HTTP_1_1);
        boolean bodyPossible = !e.head && code != 204 && code != 304;
        if (!framed && bodyPossible) {
            // Close-delimited from the upstream: that connection cannot be reused.
            e.upstreamKeepAlive = false;
        }
        if (bodyPossible && (chunked || !framed)) {
            if (e.http10) {
                e.keepAlive = false; // HTTP/1.0 has no chunked coding: the end is the close
            } else {
                HttpUtil.setTransferEncodingChunked(out, true);
            }
        } else if (chunked && !e.head) {
            HttpUtil.setTransferEncodingChunked(out, true);
        }
        if (!e.keepAlive || closing) {
            rh.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (e.http10) {
            rh.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        if (config.hsts() && "https".equals(scheme) && !rh.contains(ForwardedHeaders.STRICT_TRANSPORT_SECURITY)) {
            rh.set(ForwardedHeaders.STRICT_TRANSPORT_SECURITY, HttpProxyConfig.HSTS_VALUE);
        }
        countResponse(e, code);
        clientWrite(out);
    }

    void upstreamReadComplete(Upstream c) {
        clientFlush();
        Exchange e = ex;
        if (e != null && upstream == c && !clientWritable()) {
            c.channel().config().setAutoRead(false);
        }
    }

    void upstreamWritabilityChanged(Upstream c) {
        Exchange e = ex;
        if (e != null && upstream == c && c.channel().isWritable() && !e.requestComplete) {
            e.lastUpstreamActivity = System.nanoTime(); // it drained: the client body timeout counts from now
            clientRead();
        }
    }

    /** The upstream connection closed or failed while {@code c}'s owner was this connection. */
    void upstreamClosed(Upstream c, Throwable cause) {
        Exchange e = ex;
        if (e == null || upstream != c || e.responseComplete) {
            return;
        }
        upstreamBroke(e, c);
    }

    private void upstreamBroke(Exchange e, Upstream c) {
        stats.upstreamErrors.increment();
        upstream = null;
        c.release(false);
        if (!e.responseStarted) {
            if (c instanceof UpstreamConnection && !e.reused) {
                // A kept-alive connection the server had closed says nothing about the endpoint, nor does one
                // reset HTTP/2 stream; a new connection that breaks does.
                endpointFailed(e);
            }
            retryOrFail(e, 502, true);
        } else {
            // The response is cut short; the client can only learn it from the connection closing.
            closeNow();
        }
    }

    /** @param now {@code System.nanoTime()}, read in this call chain */
    private void responseDone(Exchange e, long now) {
        // The last part is out: flush now, the upstream's read-complete no longer reaches this handler.
        clientFlush();
        Upstream c = upstream;
        upstream = null;
        Backend backend = e.route.backend();
        if (backend.balancer() instanceof LatencyObserver) {
            ((LatencyObserver) backend.balancer()).observe(backend, e.endpointIndex,
                                                            e.upstreamHeadNanos - e.upstreamStartNanos);
        }
        if (!e.requestComplete) {
            // Answered before the request was all sent: neither connection can carry another request.
            closing = true;
            c.release(false);
        } else {
            c.release(e.upstreamKeepAlive && c.requests() < config.upstreamMaxRequests());
        }
        finishExchange(now);
    }

    private void switchProtocols(Exchange e, UpstreamConnection c, HttpResponse r) {
        stats.upgrades.increment();
        countResponse(e, 101);
        e.status = 101;
        e.upstreamStatus = 101;
        e.responseStarted = true;
        e.responseComplete = true;
        HttpHeaders rh = r.headers();
        ForwardedHeaders.stripHopByHop(rh, true);
        ReferenceCountUtil.release(r);
        FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS,
                                                           Unpooled.EMPTY_BUFFER, rh,
                                                           ForwardedHeaders.UNVALIDATED.newHeaders());
        clientWrite(out);
        clientFlush();
        log(e);
        cancelTimer();
        ex = null;
        switched = true;
        releaseAll(queued);
        queued = null;
        c.detach();
        proxy.pool().uncount(c.address(), c.channel()); // a WebSocket does not hold one of the endpoint's slots
        upstream = null;
        Channel client = ctx.channel();
        Channel up = c.channel();
        // This handler leaves the pipeline, so its channelInactive will not count the connection out.
        client.closeFuture().addListener(f -> stats.activeConnections.decrement());
        // The client's codec leaves first: bytes it still held come to channelRead and wait in upgradeStash.
        ChannelPipeline cp = ctx.pipeline();
        cp.remove(Http1ServerCodec.class);
        // The upstream's relay goes in before its codec leaves, so the bytes that codec held reach the client.
        ChannelPipeline up2 = up.pipeline();
        up2.remove("idle");
        up2.replace(c, "relay", new RawRelay(client, stats, false));
        up2.remove(Http1ClientCodec.class);
        long idle = e.route.policy().readTimeout().toNanos();
        cp.addBefore(ctx.name(), "idle", new IdleTimeoutHandler(idle, TimeUnit.NANOSECONDS));
        ArrayDeque<Object> stash = upgradeStash;
        upgradeStash = null;
        cp.replace(this, "relay", new RawRelay(up, stats, true));
        if (stash != null) {
            for (Object m; (m = stash.poll()) != null; ) {
                up.write(m, up.voidPromise());
            }
            up.flush();
        }
        client.config().setAutoRead(true);
        up.config().setAutoRead(true);
    }

    // ---- responses written by the proxy ----------------------------------------------------------------------

    private void badRequest(int code) {
        stats.badRequests.increment();
        respondLocal(code, true);
    }

    /** Answers the current request with {@code code}'s page; {@code close} closes the connection afterwards. */
    private void respondLocal(int code, boolean close) {
        if (ex.expectContinue && !ex.continueSent && !ex.requestComplete) {
            // The client waits for a 100 before it sends the body, or sends it anyway after a while: which one
            // cannot be known, so the connection cannot carry another request.
            close = true;
        }
        ex.local = true;
        respond(LocalResponses.of(code, close || closing || !ex.keepAlive), close);
    }

    private void respond(FullHttpResponse r, boolean close) {
        Exchange e = ex;
        stopWaiting();
        e.releasePendingBody();
        e.status = r.status().code();
        e.responseStarted = true;
        e.responseComplete = true;
        e.responseBytes = r.content().readableBytes();
        countResponse(e, e.status);
        if (close || !e.keepAlive) {
            closing = true;
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        if (config.hsts() && "https".equals(scheme)) {
            r.headers().set(ForwardedHeaders.STRICT_TRANSPORT_SECURITY, HttpProxyConfig.HSTS_VALUE);
        }
        clientWrite(r);
        clientFlush();
        if (closing || e.requestComplete || h2) {
            // An HTTP/2 stream is reset (NO_ERROR) after the response rather than read to its end.
            finishExchange();
        } else {
            // The rest of the request body is read and dropped; too much of it closes the connection.
            clientRead();
        }
    }

    private void finishExchange() {
        finishExchange(System.nanoTime());
    }

    /** @param now {@code System.nanoTime()}, read in this call chain */
    private void finishExchange(long now) {
        Exchange e = ex;
        ex = null;
        log(e);
        lastClientActivity = now;
        if (h2) {
            // One request per stream: the response's end ends the stream.
            stream.responseEnded(e.requestComplete);
            return;
        }
        if (!e.keepAlive || closing) {
            closing = true;
            releaseAll(queued);
            queued = null;
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        if (draining) {
            return; // the loop below, further up the stack, goes on with the next queued message
        }
        drainQueued(now);
        if (ex == null && !closing) {
            armTimerBy(lastClientActivity + idleLimit(), now);
            clientRead();
        }
    }

    /**
     * Hands queued (pipelined) messages to their exchanges, in order, until one request is complete and waits for
     * its response, or the queue is empty.
     */
    private void drainQueued(long now) {
        draining = true;
        try {
            while (queued != null && !queued.isEmpty() && !closing && !switched
                   && (ex == null || !ex.requestComplete)) {
                dispatch(queued.poll(), now);
            }
        } finally {
            draining = false;
        }
        Exchange e = ex;
        if (e != null && upstream != null && e.headSent) {
            upstream.channel().flush();
        }
    }

    private void dropUpstream(Exchange e) {
        stopWaiting();
        if (upstream != null) {
            Upstream c = upstream;
            upstream = null;
            c.release(false);
        }
    }

    private void closeNow() {
        closing = true;
        Exchange e = ex;
        if (e != null) {
            dropUpstream(e);
        }
        // What was written goes out first: a client of a cut response sees as much of it as there was.
        clientFlush();
        clientClose();
    }

    // ---- timeouts ----------------------------------------------------------------------------------------------

    private long idleLimit() {
        return Math.min(config.clientIdleTimeout().toNanos(), config.clientHeaderTimeout().toNanos());
    }

    private long exchangeLimit(Exchange e) {
        RoutePolicy p = e.route.policy();
        if (e.requestComplete) {
            return p.readTimeout().toNanos();
        }
        // The rest of the body is awaited. While the upstream takes it the client is read, and its silence is its
        // own (nginx client_body_timeout: slow POST); while the upstream does not, the send timeout governs.
        return upstream != null && upstream.channel().isWritable() ? config.clientBodyTimeout().toNanos()
                                                                  : p.sendTimeout().toNanos();
    }

    /**
     * Makes sure the timer fires no later than {@code deadline}; an earlier timer is kept and re-armed on fire.
     *
     * @param now {@code System.nanoTime()}, read in this call chain
     */
    private void armTimerBy(long deadline, long now) {
        if (timer != null) {
            if (timerDeadline <= deadline) {
                return;
            }
            timer.cancel(false);
        }
        timerDeadline = deadline;
        timer = ctx.executor().schedule(this::onTimer, Math.max(0, deadline - now), TimeUnit.NANOSECONDS);
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void onTimer() {
        timer = null;
        if (switched || !clientActive()) {
            return;
        }
        long now = System.nanoTime();
        Exchange e = ex;
        if (e == null) {
            long deadline = lastClientActivity + idleLimit();
            if (now - deadline >= 0) {
                clientClose(); // an idle keep-alive connection, or a request head that never finished
            } else {
                armTimerBy(deadline, now);
            }
            return;
        }
        if (e.local) {
            // Answered; the rest of the request body is being discarded, unless the client stopped sending it.
            long deadline = lastClientActivity + idleLimit();
            if (now - deadline >= 0) {
                clientClose();
            } else {
                armTimerBy(deadline, now);
            }
            return;
        }
        if (waitingFor == e) {
            long deadline = e.queuedNanos + e.route.policy().connectTimeout().toNanos();
            if (now - deadline < 0) {
                armTimerBy(deadline, now);
                return;
            }
            // No connection to the endpoint came free in time: HAProxy's "timeout queue" answer.
            stats.upstreamQueueTimeouts.increment();
            respondLocal(503, !e.requestComplete);
            return;
        }
        if (upstream == null) {
            // Between tries: the connect timeout governs; check again later.
            armTimerBy(now + idleLimit(), now);
            return;
        }
        long deadline = Math.max(e.lastUpstreamActivity, e.requestComplete ? 0 : lastClientActivity)
                        + exchangeLimit(e);
        if (now - deadline < 0) {
            armTimerBy(deadline, now);
            return;
        }
        stats.upstreamTimeouts.increment();
        if (!e.responseStarted) {
            dropUpstream(e);
            // A 504 ends the exchange cleanly and the connection goes on (as in nginx); a 408 leaves part of the
            // request unread, so that connection cannot.
            respondLocal(e.requestComplete ? 504 : 408, !e.requestComplete);
        } else {
            closeNow();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private void countResponse(Exchange e, int code) {
        stats.response(code);
        if (e.route != null) {
            e.route.stats().response(code);
        }
    }

    /**
     * Whether the request must get 421: its Host has a certificate of its own, other than the one this connection's
     * handshake chose by SNI. Clients that sent no SNI are spared (they got the default certificate and route by
     * Host, as with ingress-nginx).
     */
    private boolean misdirected(String host) {
        Channel conn = ctx.channel();
        TlsCertificate chosen = conn.attr(SniCertificateHandler.CERTIFICATE).get();
        if (chosen == null || !Boolean.TRUE.equals(conn.attr(SniCertificateHandler.SNI_SENT).get())) {
            return false;
        }
        return proxy.tls().misdirected(chosen, host);
    }

    private void log(Exchange e) {
        if (proxy.accessLogEnabled()) {
            proxy.log(AccessLogFormat.line(clientIp, e));
        }
    }

    // ---- the client side, an HTTP/1.1 connection or an HTTP/2 stream ---------------------------------------------

    private void clientRead() {
        if (h2) {
            stream.read();
        } else {
            ctx.read();
        }
    }

    private void clientWrite(Object msg) {
        if (h2) {
            stream.write(msg);
        } else {
            ctx.write(msg, ctx.voidPromise());
        }
    }

    private void clientFlush() {
        if (h2) {
            stream.flush();
        } else {
            ctx.flush();
        }
    }

    private boolean clientActive() {
        return h2 ? stream.isActive() : ctx.channel().isActive();
    }

    private boolean clientWritable() {
        return h2 ? stream.isWritable() : ctx.channel().isWritable();
    }

    private void clientClose() {
        if (h2) {
            stream.close();
        } else {
            ctx.close();
        }
    }

    private static void releaseAll(ArrayDeque<Object> q) {
        if (q != null) {
            for (Object m; (m = q.poll()) != null; ) {
                ReferenceCountUtil.release(m);
            }
        }
    }
}
