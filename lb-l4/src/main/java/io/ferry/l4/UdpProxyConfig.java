package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Settings of the UDP proxy. Immutable; build with {@link #builder()}.
 */
public final class UdpProxyConfig {

    /**
     * The largest UDP payload there is: 65,535 less the 8-byte UDP header and, for IPv4, the 20-byte IP header is
     * 65,507; over IPv6 it is 65,527. A datagram is never larger, so a proxy that can read this much never truncates.
     */
    public static final int MAX_UDP_PAYLOAD = 65_527;

    /**
     * The defaults: flows idle for 30 s expire (the kernel's {@code nf_conntrack_udp_timeout}, which kube-proxy
     * leaves alone), at most 65,536 flows per listener, datagrams up to {@link #MAX_UDP_PAYLOAD}, and an endpoint
     * is skipped for 10 s after 1 upstream error (as the TCP proxy does after a failed connect).
     */
    public static final UdpProxyConfig DEFAULT = builder().build();

    private final Duration idleTimeout;
    private final int maxFlowsPerListener;
    private final int maxDatagramSize;
    private final int maxFails;
    private final Duration failTimeout;

    private UdpProxyConfig(Builder b) {
        this.idleTimeout = b.idleTimeout;
        this.maxFlowsPerListener = b.maxFlowsPerListener;
        this.maxDatagramSize = b.maxDatagramSize;
        this.maxFails = b.maxFails;
        this.failTimeout = b.failTimeout;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A flow with no datagram either way for this long is forgotten and its upstream socket closed; the client's
     * next datagram starts a new flow, possibly to another endpoint. Expiry is checked by a sweep that runs every
     * quarter of this (but at least once a second), so a flow lives up to one sweep interval longer, a little more
     * when its event loop is busy; never shorter.
     */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /**
     * How many flows (client address and port) one listener keeps at once. A datagram that would start one more
     * is dropped and counted ({@link UdpStats#flowLimitDrops()}).
     */
    public int maxFlowsPerListener() {
        return maxFlowsPerListener;
    }

    /**
     * The largest datagram relayed either way, in bytes of payload. A larger one is dropped and counted
     * ({@link UdpStats#oversizeDrops()}), never truncated. Every read allocates a buffer one byte larger than this.
     */
    public int maxDatagramSize() {
        return maxDatagramSize;
    }

    /**
     * Upstream errors in a row (an ICMP port unreachable, mostly: nothing listens on the endpoint's port) after
     * which passive health skips the endpoint for new flows for {@link #failTimeout()}. A reply clears the count.
     */
    public int maxFails() {
        return maxFails;
    }

    /** How long an endpoint with {@link #maxFails()} errors is skipped; {@link Duration#ZERO}: never. */
    public Duration failTimeout() {
        return failTimeout;
    }

    /** How often each listener looks for expired flows, in milliseconds. */
    long sweepIntervalMillis() {
        return Math.max(1, Math.min(1000, idleTimeout.toMillis() / 4));
    }

    /** The idle timeout in sweeps, rounded up. */
    long idleSweeps() {
        long interval = sweepIntervalMillis();
        return (idleTimeout.toMillis() + interval - 1) / interval;
    }

    @Override
    public String toString() {
        return "UdpProxyConfig(idleTimeout=" + idleTimeout + ", maxFlowsPerListener=" + maxFlowsPerListener
               + ", maxDatagramSize=" + maxDatagramSize + ", maxFails=" + maxFails + ", failTimeout=" + failTimeout
               + ')';
    }

    /** Builds a {@link UdpProxyConfig}. */
    public static final class Builder {
        private Duration idleTimeout = Duration.ofSeconds(30);
        private int maxFlowsPerListener = 65_536;
        private int maxDatagramSize = MAX_UDP_PAYLOAD;
        private int maxFails = 1;
        private Duration failTimeout = Duration.ofSeconds(10);

        private Builder() {
        }

        /** See {@link UdpProxyConfig#idleTimeout()}; at least 1 ms. */
        public Builder idleTimeout(Duration idleTimeout) {
            requireNonNull(idleTimeout, "idleTimeout");
            if (idleTimeout.toMillis() < 1 || idleTimeout.toDays() > 1) {
                throw new IllegalArgumentException("idleTimeout: " + idleTimeout + " (expected: 1 ms - 1 day)");
            }
            this.idleTimeout = idleTimeout;
            return this;
        }

        /** See {@link UdpProxyConfig#maxFlowsPerListener()}. */
        public Builder maxFlowsPerListener(int maxFlowsPerListener) {
            if (maxFlowsPerListener < 1) {
                throw new IllegalArgumentException("maxFlowsPerListener: " + maxFlowsPerListener
                                                   + " (expected: >= 1)");
            }
            this.maxFlowsPerListener = maxFlowsPerListener;
            return this;
        }

        /** See {@link UdpProxyConfig#maxDatagramSize()}. */
        public Builder maxDatagramSize(int maxDatagramSize) {
            if (maxDatagramSize < 1 || maxDatagramSize > MAX_UDP_PAYLOAD) {
                throw new IllegalArgumentException("maxDatagramSize: " + maxDatagramSize + " (expected: 1-"
                                                   + MAX_UDP_PAYLOAD + ')');
            }
            this.maxDatagramSize = maxDatagramSize;
            return this;
        }

        /** See {@link UdpProxyConfig#maxFails()}. */
        public Builder maxFails(int maxFails) {
            if (maxFails < 1) {
                throw new IllegalArgumentException("maxFails: " + maxFails + " (expected: >= 1)");
            }
            this.maxFails = maxFails;
            return this;
        }

        /** See {@link UdpProxyConfig#failTimeout()}. */
        public Builder failTimeout(Duration failTimeout) {
            requireNonNull(failTimeout, "failTimeout");
            if (failTimeout.isNegative()) {
                throw new IllegalArgumentException("failTimeout: " + failTimeout + " (expected: >= 0)");
            }
            this.failTimeout = failTimeout;
            return this;
        }

        public UdpProxyConfig build() {
            return new UdpProxyConfig(this);
        }
    }
}
