package io.ferry.l7.http;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Settings of the edge HTTP proxy that are not per route (per-route settings are in
 * {@link io.ferry.l7.route.RoutePolicy}). Immutable; build with {@link #builder()}. The defaults follow nginx and
 * ingress-nginx so that a migrated Ingress behaves the same.
 */
public final class HttpProxyConfig {

    /** nginx's and ingress-nginx's defaults; see each accessor. */
    public static final HttpProxyConfig DEFAULT = builder().build();

    private final int maxInitialLineLength;
    private final int maxHeaderSize;
    private final Duration clientIdleTimeout;
    private final Duration clientHeaderTimeout;
    private final Duration clientBodyTimeout;
    private final int maxConnections;
    private final Duration upstreamIdleTimeout;
    private final int upstreamMaxIdlePerEndpoint;
    private final int upstreamMaxConnectionsPerEndpoint;
    private final int upstreamMaxRequests;
    private final int maxAttempts;
    private final boolean accessLog;
    private final boolean hsts;

    private HttpProxyConfig(Builder b) {
        maxInitialLineLength = b.maxInitialLineLength;
        maxHeaderSize = b.maxHeaderSize;
        clientIdleTimeout = b.clientIdleTimeout;
        clientHeaderTimeout = b.clientHeaderTimeout;
        clientBodyTimeout = b.clientBodyTimeout;
        maxConnections = b.maxConnections;
        upstreamIdleTimeout = b.upstreamIdleTimeout;
        upstreamMaxIdlePerEndpoint = b.upstreamMaxIdlePerEndpoint;
        upstreamMaxConnectionsPerEndpoint = b.upstreamMaxConnectionsPerEndpoint;
        upstreamMaxRequests = b.upstreamMaxRequests;
        maxAttempts = b.maxAttempts;
        accessLog = b.accessLog;
        hsts = b.hsts;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The longest request line; longer gets 414. nginx's {@code large_client_header_buffers} is 8 KiB. */
    public int maxInitialLineLength() {
        return maxInitialLineLength;
    }

    /** The most header bytes of one request; more gets 431. */
    public int maxHeaderSize() {
        return maxHeaderSize;
    }

    /** A keep-alive client connection with no request for this long is closed (nginx {@code keepalive_timeout}, 75 s). */
    public Duration clientIdleTimeout() {
        return clientIdleTimeout;
    }

    /** A client must send a whole request head within this time (nginx {@code client_header_timeout}, 60 s). */
    public Duration clientHeaderTimeout() {
        return clientHeaderTimeout;
    }

    /**
     * While the proxy reads a request body, a client that sends nothing for this long gets 408 and is closed (nginx
     * {@code client_body_timeout}, 60 s: the time between two reads, not for the whole body). While the upstream
     * does not take the body, the route's {@code proxy-send-timeout} governs instead.
     */
    public Duration clientBodyTimeout() {
        return clientBodyTimeout;
    }

    /**
     * The most client connections one listener holds at once; a connection accepted beyond is closed at once,
     * before any byte is read (nginx {@code worker_connections}; ingress-nginx's {@code max-worker-connections} is
     * 16,384 per worker). Over HTTPS an HTTP/2 connection counts once, whatever its streams.
     */
    public int maxConnections() {
        return maxConnections;
    }

    /** A pooled upstream connection unused for this long is closed (ingress-nginx {@code upstream-keepalive-timeout}, 60 s). */
    public Duration upstreamIdleTimeout() {
        return upstreamIdleTimeout;
    }

    /**
     * Idle upstream connections kept per endpoint and event loop, 1,024 by default; a connection freed beyond is
     * closed. The pool follows the peak of requests in flight (idle connections close after
     * {@link #upstreamIdleTimeout()}), as HAProxy's and Envoy's do; a limit below that peak makes the proxy reconnect
     * after every burst (ingress-nginx's {@code upstream-keepalive-connections} is 320, per upstream and worker).
     */
    public int upstreamMaxIdlePerEndpoint() {
        return upstreamMaxIdlePerEndpoint;
    }

    /**
     * HTTP/1.1 upstream connections open at once per endpoint and event loop, in use or idle, 1,024 by default (the
     * size of the idle pool); {@code 0} for no limit (as nginx). A request that finds every connection busy waits,
     * first come first served, for one to come free or close, for at most its route's connect timeout; then it gets
     * 503 (HAProxy's server {@code maxconn} with its queue, Envoy's circuit breakers). So a burst of HTTP/2 streams
     * does not open a connection per stream against a backend that runs out of them, nor connections that the
     * idle pool would close again at once. Connections switched to a WebSocket relay do not count.
     */
    public int upstreamMaxConnectionsPerEndpoint() {
        return upstreamMaxConnectionsPerEndpoint;
    }

    /** Requests one upstream connection serves before it is closed (ingress-nginx {@code upstream-keepalive-requests}, 10,000). */
    public int upstreamMaxRequests() {
        return upstreamMaxRequests;
    }

    /** Tries of one request, first included, where a retry is safe (ingress-nginx {@code proxy-next-upstream-tries}, 3). */
    public int maxAttempts() {
        return maxAttempts;
    }

    /** ingress-nginx's default HSTS header value: one year, sub-domains included. */
    public static final String HSTS_VALUE = "max-age=31536000; includeSubDomains";

    /** Whether HTTPS responses carry {@code Strict-Transport-Security} ({@link #HSTS_VALUE}) unless the upstream set one. */
    public boolean hsts() {
        return hsts;
    }

    /** Whether every request is logged. */
    public boolean accessLog() {
        return accessLog;
    }

    /** Builds an {@link HttpProxyConfig}. */
    public static final class Builder {

        private int maxInitialLineLength = 8192;
        private int maxHeaderSize = 32 * 1024;
        private Duration clientIdleTimeout = Duration.ofSeconds(75);
        private Duration clientHeaderTimeout = Duration.ofSeconds(60);
        private Duration clientBodyTimeout = Duration.ofSeconds(60);
        private int maxConnections = 16_384;
        private Duration upstreamIdleTimeout = Duration.ofSeconds(60);
        private int upstreamMaxIdlePerEndpoint = 1024;
        private int upstreamMaxConnectionsPerEndpoint = 1024;
        private int upstreamMaxRequests = 10_000;
        private int maxAttempts = 3;
        private boolean accessLog = true;
        private boolean hsts = true;

        private Builder() {
        }

        public Builder maxInitialLineLength(int bytes) {
            maxInitialLineLength = atLeast(bytes, 256, "maxInitialLineLength");
            return this;
        }

        public Builder maxHeaderSize(int bytes) {
            maxHeaderSize = atLeast(bytes, 1024, "maxHeaderSize");
            return this;
        }

        public Builder clientIdleTimeout(Duration timeout) {
            clientIdleTimeout = positive(timeout, "clientIdleTimeout");
            return this;
        }

        public Builder clientHeaderTimeout(Duration timeout) {
            clientHeaderTimeout = positive(timeout, "clientHeaderTimeout");
            return this;
        }

        public Builder clientBodyTimeout(Duration timeout) {
            clientBodyTimeout = positive(timeout, "clientBodyTimeout");
            return this;
        }

        public Builder maxConnections(int connections) {
            maxConnections = atLeast(connections, 1, "maxConnections");
            return this;
        }

        public Builder upstreamIdleTimeout(Duration timeout) {
            upstreamIdleTimeout = positive(timeout, "upstreamIdleTimeout");
            return this;
        }

        public Builder upstreamMaxIdlePerEndpoint(int connections) {
            upstreamMaxIdlePerEndpoint = atLeast(connections, 0, "upstreamMaxIdlePerEndpoint");
            return this;
        }

        public Builder upstreamMaxConnectionsPerEndpoint(int connections) {
            upstreamMaxConnectionsPerEndpoint = atLeast(connections, 0, "upstreamMaxConnectionsPerEndpoint");
            return this;
        }

        public Builder upstreamMaxRequests(int requests) {
            upstreamMaxRequests = atLeast(requests, 1, "upstreamMaxRequests");
            return this;
        }

        public Builder maxAttempts(int attempts) {
            maxAttempts = atLeast(attempts, 1, "maxAttempts");
            return this;
        }

        public Builder hsts(boolean enabled) {
            hsts = enabled;
            return this;
        }

        public Builder accessLog(boolean enabled) {
            accessLog = enabled;
            return this;
        }

        public HttpProxyConfig build() {
            return new HttpProxyConfig(this);
        }

        private static int atLeast(int value, int min, String name) {
            if (value < min) {
                throw new IllegalArgumentException(name + ": " + value + " (expected: >= " + min + ')');
            }
            return value;
        }

        private static Duration positive(Duration d, String name) {
            requireNonNull(d, name);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
            }
            return d;
        }
    }
}
