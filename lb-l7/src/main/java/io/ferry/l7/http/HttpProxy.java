package io.ferry.l7.http;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.IdleTimeoutHandler;
import io.ferry.l4.Transport;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.Route;
import io.ferry.l7.tls.TlsTable;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.FastThreadLocal;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The edge HTTP/1.1 proxy (ingress-nginx's job): listeners, the live {@link HttpRouteTable}, the upstream
 * connection pools (one per event loop) and the access log.
 *
 * <p>{@link #apply(HttpRouteTable)} publishes a new table with one volatile write; each request reads the table
 * once, when its head arrives, and keeps the {@link Route} it found for its whole life, so a swap never disturbs a
 * request in flight. Listeners are bound by {@link #bind} and stay up across table swaps.
 *
 * <p>{@code bind}, {@code apply} and {@code close} are for the control thread; the rest runs on event loops.
 */
public final class HttpProxy implements AutoCloseable {

    private final Transport transport;
    private final HttpProxyConfig config;
    private final HttpStats stats = new HttpStats();
    private final AccessLog accessLog;
    private final HttpDecoderConfig decoderConfig;
    private final List<Channel> listeners = new CopyOnWriteArrayList<>();
    /** Every client connection open now, for {@link #drain()}. */
    private final Set<Channel> connections = ConcurrentHashMap.newKeySet();
    private volatile boolean draining;
    private final FastThreadLocal<UpstreamPool> pools = new FastThreadLocal<>() {
        @Override
        protected UpstreamPool initialValue() {
            return new UpstreamPool(config.upstreamMaxIdlePerEndpoint(), config.upstreamMaxConnectionsPerEndpoint());
        }
    };
    private final FastThreadLocal<H2cUpstreamPool> h2cPools = new FastThreadLocal<>() {
        @Override
        protected H2cUpstreamPool initialValue() {
            return new H2cUpstreamPool(transport, config.upstreamIdleTimeout().toNanos());
        }
    };
    private volatile HttpRouteTable<Route> table = HttpRouteTable.empty();
    // Whether listeners leave new connections in the accept queue until the first table (holdAcceptsUntilFirstTable).
    private volatile boolean holding;
    private volatile TlsTable tls;
    private volatile int httpsRedirectPort = 443;


    public HttpProxy(Transport transport, HttpProxyConfig config) {
        this.transport = requireNonNull(transport, "transport");
        this.config = requireNonNull(config, "config");
        this.accessLog = config.accessLog() ? new AccessLog(65536) : null;
        this.decoderConfig = new HttpDecoderConfig()
                .setHeadersFactory(FlatHttpHeaders.VALIDATING)
                .setMaxInitialLineLength(config.maxInitialLineLength())
                .setMaxHeaderSize(config.maxHeaderSize())
                .setMaxChunkSize(64 * 1024)
                .setUseRfc9112TransferEncoding(true)
                .setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true);
    }

    /**
     * Starts listening for plain HTTP on {@code address} (port 0 for any) and returns the bound address.
     *
     * @throws IOException if the address cannot be bound; the message names it
     */
    public InetSocketAddress bind(InetSocketAddress address) throws IOException {
        return listen(address, new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                int port = ((InetSocketAddress) ch.localAddress()).getPort();
                track(ch);
                // HTTP/1.1, unless the first bytes are HTTP/2's connection preface (prior knowledge, RFC 9113 3.3).
                ch.pipeline().addLast("h2c", new CleartextHttp2Detector(HttpProxy.this, port));
                addHttp1(ch.pipeline(), port, "http");
            }
        });
    }

    /**
     * Adds HTTP/1.1's handlers to a connection's pipeline. On an active connection the proxy handler starts reading
     * as soon as it is added.
     *
     * @param scheme {@code http} or {@code https}: what the requests came over
     */
    void addHttp1(ChannelPipeline p, int localPort, String scheme) {
        p.addLast("http", newServerCodec())
         .addLast("drain", new DrainHandler(this::isDraining))
         .addLast("proxy", new HttpFrontendHandler(this, scheme, localPort));
    }

    /**
     * Adds HTTP/2's handlers to an active connection's pipeline: {@link Http2Frontend}, Netty's HTTP/2 connection
     * handler with a frame listener that gives every stream its own {@link HttpFrontendHandler} (streams are proxied
     * independently, each with its own flow-control window and backpressure, without a child channel per stream).
     *
     * <p>The limits a public edge needs: at most {@value AlpnHandler#MAX_CONCURRENT_STREAMS} concurrent streams, a header
     * list limit, and Netty's rapid-reset guard (at most {@value AlpnHandler#MAX_RST_FRAMES} RST_STREAMs per
     * {@value AlpnHandler#RST_WINDOW_SECONDS} s, the connection is closed beyond); a connection with no open stream is closed
     * after the client idle timeout, and protocol errors end the connection quietly ({@link Http2ConnectionGuard}).
     * Flushes of the streams are consolidated ({@link FlushConsolidationHandler}): responses that complete in the
     * same turn of the event loop share a TLS record and a {@code write}.
     *
     * @param scheme {@code https} after TLS, {@code http} for prior knowledge on the HTTP port
     */
    void addHttp2(ChannelPipeline p, int localPort, String scheme) {
        stats.h2Connections.increment();
        // Connection-level frames (SETTINGS, PING, WINDOW_UPDATE) must always be read; each stream has its own
        // flow-control window and is read on demand (Http2FrontendStream).
        p.channel().config().setAutoRead(true);
        Http2Settings settings = Http2Settings.defaultSettings()
                                              .maxConcurrentStreams(AlpnHandler.MAX_CONCURRENT_STREAMS)
                                              .maxHeaderListSize(config.maxHeaderSize());
        p.addLast("h2-idle", new IdleTimeoutHandler(config.clientIdleTimeout().toNanos(), TimeUnit.NANOSECONDS))
         // Streams answered in one turn of the event loop leave in one TLS record and one write.
         .addLast("h2-flush", new FlushConsolidationHandler(
                 FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true))
         .addLast("h2", new Http2Frontend.Builder(this, localPort)
                                .scheme(scheme)
                                .settings(settings)
                                .headerValidation(true)
                                .maxRstFramesPerWindow(AlpnHandler.MAX_RST_FRAMES, AlpnHandler.RST_WINDOW_SECONDS)
                                .build())
         .addLast("h2-guard", new Http2ConnectionGuard(stats));
    }

    /**
     * Starts listening for HTTPS on {@code address} and returns the bound address: TLS with the certificate the
     * live {@link TlsTable} gives the ClientHello's SNI, then HTTP/2 or HTTP/1.1 as ALPN decides. Plain-HTTP
     * redirects of TLS hosts point at this port. {@link #applyTls} must have been called first.
     *
     * @throws IOException if the address cannot be bound; the message names it
     */
    public InetSocketAddress bindHttps(InetSocketAddress address) throws IOException {
        if (tls == null) {
            throw new IllegalStateException("no TLS table yet (expected: applyTls before bindHttps)");
        }
        InetSocketAddress bound = listen(address, new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                int port = ((InetSocketAddress) ch.localAddress()).getPort();
                track(ch);
                ch.pipeline().addLast("sni", new SniCertificateHandler(HttpProxy.this::tls, 10_000))
                             .addLast("alpn", new AlpnHandler(HttpProxy.this, port));
                // TLS needs the ClientHello; the HTTP handlers take over reading once they are in.
                ch.read();
            }
        });
        httpsRedirectPort = bound.getPort();
        return bound;
    }

    private InetSocketAddress listen(InetSocketAddress address, ChannelInitializer<Channel> init)
            throws IOException {
        requireNonNull(address, "address");
        ServerBootstrap b = new ServerBootstrap()
                .group(transport.group())
                .channel(transport.serverChannelType())
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.AUTO_READ, !holding)
                .childOption(ChannelOption.AUTO_READ, false)
                // TCP_NODELAY: on by default in Netty's socket channels; setting it again costs a setsockopt.
                .childHandler(new ConnectionLimit(config.maxConnections(), stats, init));
        ChannelFuture f = b.bind(address).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IOException("cannot listen on " + address + ": " + f.cause().getMessage(), f.cause());
        }
        listeners.add(f.channel());
        if (!holding) {
            f.channel().config().setAutoRead(true); // the first table came while it was being bound
        }
        return (InetSocketAddress) f.channel().localAddress();
    }

    /** A new HTTP/1.1 server codec with the proxy's limits. */
    Http1ServerCodec newServerCodec() {
        return new Http1ServerCodec(decoderConfig.clone());
    }

    /** Makes {@code next} the table new handshakes pick certificates from, and redirects and 421s consult. */
    public void applyTls(TlsTable next) {
        tls = requireNonNull(next, "next");
    }

    /** The live TLS table, or {@code null} before the first {@link #applyTls}. */
    public TlsTable tls() {
        return tls;
    }

    /** The port plain-HTTP redirects to HTTPS name: the HTTPS listener's, 443 without one. */
    int httpsRedirectPort() {
        return httpsRedirectPort;
    }

    /**
     * Makes the listeners bound from now on leave new connections in the kernel's accept queue (up to its backlog of
     * 4,096) until the first {@link #apply}: an edge that starts before it knows its routes then answers its first
     * clients late rather than wrongly (a 404 for a host it is about to serve, the default certificate for a host
     * it has a certificate for), as ingress-nginx starts nginx only once its first configuration is written. Call it
     * before {@link #bind} and {@link #bindHttps}.
     */
    public void holdAcceptsUntilFirstTable() {
        holding = true;
    }

    /** Makes {@code next} the table new requests are routed by (and, the first time, lets held connections in). */
    public void apply(HttpRouteTable<Route> next) {
        table = requireNonNull(next, "next");
        if (holding) {
            holding = false;
            for (Channel listener : listeners) {
                listener.config().setAutoRead(true);
            }
        }
    }

    public HttpRouteTable<Route> table() {
        return table;
    }

    public HttpStats stats() {
        return stats;
    }

    public HttpProxyConfig config() {
        return config;
    }

    Transport transport() {
        return transport;
    }

    /** The upstream pool of the calling event loop. */
    UpstreamPool pool() {
        return pools.get();
    }

    /** The HTTP/2 cleartext upstream connections of the calling event loop. */
    H2cUpstreamPool h2cPool() {
        return h2cPools.get();
    }

    /** Hands a line to the access log, if it is on. */
    void log(String line) {
        if (accessLog != null) {
            accessLog.log(line);
        }
    }

    boolean accessLogEnabled() {
        return accessLog != null;
    }

    /** The addresses listened on. Lock-free: the admin server calls it from an event loop. */
    public List<InetSocketAddress> boundAddresses() {
        List<InetSocketAddress> out = new ArrayList<>();
        for (Channel ch : listeners) {
            out.add((InetSocketAddress) ch.localAddress());
        }
        return out;
    }

    /** Stops accepting; open connections finish what they are doing. */
    public void closeListeners() {
        for (Channel ch : listeners) {
            listeners.remove(ch);
            ch.close().awaitUninterruptibly();
        }
    }

    private void track(Channel ch) {
        connections.add(ch);
        ch.closeFuture().addListener(f -> connections.remove(ch));
    }

    /**
     * The graceful shutdown: stops accepting, then ends each client connection at its next quiet moment, on its
     * event loop. HTTP/1.1: an idle keep-alive connection closes now, one with a request in flight closes after
     * its response, which says {@code Connection: close} ({@link DrainHandler}). HTTP/2: {@code GOAWAY}, then the
     * connection closes when its open streams are done. A connection that switched protocols (a WebSocket) and
     * one still in its TLS handshake: the former is left to finish, the latter closed. What is still open when the
     * caller's grace period ends is cut by {@link #close()} and the transport's shutdown.
     */
    public void drain() {
        draining = true;
        closeListeners();
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> drain(ch));
        }
    }

    private static void drain(Channel ch) {
        DrainHandler http1 = ch.pipeline().get(DrainHandler.class);
        if (http1 != null) {
            http1.drain();
        } else {
            // HTTP/2: Netty's close is graceful (GOAWAY, then it waits for the active streams). Otherwise the TLS
            // handshake is not done and nothing was asked yet.
            ch.close();
        }
    }

    /** Whether {@link #drain()} was called. */
    boolean isDraining() {
        return draining;
    }

    @Override
    public void close() {
        closeListeners();
        if (accessLog != null) {
            accessLog.close();
        }
    }
}
