package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Settings of the TCP proxy. Immutable; build with {@link #builder()}.
 */
public final class TcpProxyConfig {

    /**
     * The defaults: 5 s connect timeout (Envoy's and HAProxy's usual), 3 endpoints tried, 1 h idle timeout; an
     * endpoint is skipped for 10 s after 1 failed connect (nginx's {@code max_fails=1 fail_timeout=10s}).
     */
    public static final TcpProxyConfig DEFAULT = builder().build();

    /**
     * 512 KiB: above the 64 KiB a read brings, so that a bulk transfer does not stop and restart reading (two
     * {@code epoll_ctl} calls) at every read; 0.71-0.78 of direct loopback throughput with Netty's 64 KiB, 0.78-0.93
     * with this (benchmarks.md).
     */
    public static final int DEFAULT_BUFFER_SIZE = 512 * 1024;
    static final int MIN_BUFFER_SIZE = 4 * 1024;

    private final Duration connectTimeout;
    private final int maxConnectAttempts;
    private final Duration idleTimeout;
    private final int maxFails;
    private final Duration failTimeout;
    private final boolean reusePort;
    private final int bufferSize;

    private TcpProxyConfig(Builder b) {
        this.bufferSize = b.bufferSize;
        this.reusePort = b.reusePort;
        this.maxFails = b.maxFails;
        this.failTimeout = b.failTimeout;
        this.connectTimeout = b.connectTimeout;
        this.maxConnectAttempts = b.maxConnectAttempts;
        this.idleTimeout = b.idleTimeout;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The time budget to reach an endpoint, shared by every attempt of one connection. */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /** How many distinct endpoints one connection tries before it is reset. */
    public int maxConnectAttempts() {
        return maxConnectAttempts;
    }

    /** A connection with no traffic either way for this long is closed; {@link Duration#ZERO} for never. */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /**
     * Whether the relay's sockets (client and upstream side) get {@code SO_KEEPALIVE}: only when its probes can start
     * before the idle timeout ends the connection, that is with no idle timeout, or one longer than the kernel's
     * {@code net.ipv4.tcp_keepalive_time} ({@code keepaliveTimeSeconds}, 7,200 by default). With the default 1 h idle
     * timeout the kernel would never send a probe, and the option would cost two {@code setsockopt} calls per
     * connection for nothing.
     */
    public boolean socketKeepAlive(long keepaliveTimeSeconds) {
        return idleTimeout.isZero() || idleTimeout.getSeconds() > keepaliveTimeSeconds;
    }

    /**
     * Whether each TCP listener is one {@code SO_REUSEPORT} socket per event loop (io_uring and epoll), so that
     * accept and relay stay on one loop; default true.
     */
    public boolean reusePort() {
        return reusePort;
    }

    /** Failed connects in a row after which an endpoint is skipped for {@link #failTimeout()}. */
    public int maxFails() {
        return maxFails;
    }

    /** How long an endpoint that failed {@link #maxFails()} times is skipped; {@link Duration#ZERO}: never. */
    public Duration failTimeout() {
        return failTimeout;
    }

    /**
     * Bytes read from one side of a connection and not yet taken by the other side's socket, per direction, past
     * which the relay stops reading that side until half of them are gone (the write buffer's high water mark; the
     * low mark is half). The most memory one slow peer can make a connection hold, plus one read; default 512 KiB.
     */
    public int bufferSize() {
        return bufferSize;
    }

    @Override
    public String toString() {
        return "TcpProxyConfig(connectTimeout=" + connectTimeout + ", maxConnectAttempts=" + maxConnectAttempts
               + ", idleTimeout=" + idleTimeout + ", maxFails=" + maxFails + ", failTimeout=" + failTimeout
               + ", reusePort=" + reusePort + ", bufferSize=" + bufferSize + ')';
    }

    /** Builds a {@link TcpProxyConfig}. */
    public static final class Builder {
        private Duration connectTimeout = Duration.ofSeconds(5);
        private int maxConnectAttempts = 3;
        private Duration idleTimeout = Duration.ofHours(1);
        private int maxFails = 1;
        private Duration failTimeout = Duration.ofSeconds(10);
        private boolean reusePort = true;
        private int bufferSize = DEFAULT_BUFFER_SIZE;

        private Builder() {
        }

        /** @see TcpProxyConfig#bufferSize() */
        public Builder bufferSize(int bytes) {
            if (bytes < MIN_BUFFER_SIZE) {
                throw new IllegalArgumentException("bufferSize: " + bytes + " (expected: >= " + MIN_BUFFER_SIZE + ")");
            }
            this.bufferSize = bytes;
            return this;
        }

        public Builder reusePort(boolean reusePort) {
            this.reusePort = reusePort;
            return this;
        }

        public Builder maxFails(int maxFails) {
            if (maxFails < 1) {
                throw new IllegalArgumentException("maxFails: " + maxFails + " (expected: >= 1)");
            }
            this.maxFails = maxFails;
            return this;
        }

        public Builder failTimeout(Duration failTimeout) {
            requireNonNull(failTimeout, "failTimeout");
            if (failTimeout.isNegative()) {
                throw new IllegalArgumentException("failTimeout: " + failTimeout + " (expected: >= 0)");
            }
            this.failTimeout = failTimeout;
            return this;
        }

        public Builder connectTimeout(Duration connectTimeout) {
            requireNonNull(connectTimeout, "connectTimeout");
            if (connectTimeout.isNegative() || connectTimeout.isZero()
                || connectTimeout.toMillis() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("connectTimeout: " + connectTimeout + " (expected: > 0)");
            }
            this.connectTimeout = connectTimeout;
            return this;
        }

        public Builder maxConnectAttempts(int maxConnectAttempts) {
            if (maxConnectAttempts < 1) {
                throw new IllegalArgumentException("maxConnectAttempts: " + maxConnectAttempts + " (expected: >= 1)");
            }
            this.maxConnectAttempts = maxConnectAttempts;
            return this;
        }

        public Builder idleTimeout(Duration idleTimeout) {
            requireNonNull(idleTimeout, "idleTimeout");
            if (idleTimeout.isNegative()) {
                throw new IllegalArgumentException("idleTimeout: " + idleTimeout + " (expected: >= 0)");
            }
            this.idleTimeout = idleTimeout;
            return this;
        }

        public TcpProxyConfig build() {
            return new TcpProxyConfig(this);
        }
    }
}
