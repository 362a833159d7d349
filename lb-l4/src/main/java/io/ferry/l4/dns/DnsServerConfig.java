package io.ferry.l4.dns;

import static java.util.Objects.requireNonNull;

import io.netty.util.NetUtil;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * How a {@link DnsServer} listens and forwards. Immutable; built with {@link #builder(InetSocketAddress)}.
 *
 * <p>Forwarding is off unless upstreams are given: names outside the zone are then answered REFUSED. With
 * upstreams, only clients from loopback, private (RFC 1918, RFC 6598, IPv6 ULA) and link-local addresses are
 * forwarded for, unless {@link Builder#forwardForAnyClient(boolean)} says otherwise: the server is never an open
 * resolver on a public address by default.
 */
public final class DnsServerConfig {

    private final InetSocketAddress address;
    private final List<InetSocketAddress> upstreams;
    private final boolean forwardForAnyClient;
    private final Duration upstreamTimeout;
    private final int maxUdpPayload;
    private final Duration tcpIdleTimeout;
    private final int maxPendingForwards;

    private DnsServerConfig(Builder b) {
        address = b.address;
        upstreams = List.copyOf(b.upstreams);
        forwardForAnyClient = b.forwardForAnyClient;
        upstreamTimeout = b.upstreamTimeout;
        maxUdpPayload = b.maxUdpPayload;
        tcpIdleTimeout = b.tcpIdleTimeout;
        maxPendingForwards = b.maxPendingForwards;
    }

    /** A builder for a server on {@code address} (UDP and TCP; port 0 picks a free port for both). */
    public static Builder builder(InetSocketAddress address) {
        return new Builder(address);
    }

    /**
     * The {@code nameserver} lines of a resolv.conf file, on port 53, in order. Reads a file: call it off the event
     * loops (at startup). A missing file gives an empty list.
     */
    public static List<InetSocketAddress> nameservers(Path resolvConf) throws IOException {
        requireNonNull(resolvConf, "resolvConf");
        if (!Files.exists(resolvConf)) {
            return List.of();
        }
        List<InetSocketAddress> out = new ArrayList<>();
        for (String line : Files.readAllLines(resolvConf, StandardCharsets.UTF_8)) {
            String[] words = line.trim().split("\\s+");
            if (words.length < 2 || !"nameserver".equals(words[0])) {
                continue;
            }
            String ip = words[1];
            int zone = ip.indexOf('%');
            byte[] bytes = NetUtil.createByteArrayFromIpAddressString(zone < 0 ? ip : ip.substring(0, zone));
            if (bytes != null) {
                try {
                    out.add(new InetSocketAddress(address(bytes, zone < 0 ? null : ip.substring(zone + 1)), 53));
                } catch (UnknownHostException e) {
                    // Not reachable: the bytes come from a parsed literal.
                }
            }
        }
        return out;
    }

    /** An address from a literal's bytes, with the scope of a link-local IPv6 address when its interface exists. */
    private static InetAddress address(byte[] bytes, String scope) throws UnknownHostException {
        if (scope != null && bytes.length == 16) {
            try {
                NetworkInterface nif = NetworkInterface.getByName(scope);
                if (nif != null) {
                    return Inet6Address.getByAddress(null, bytes, nif);
                }
                return Inet6Address.getByAddress(null, bytes, Integer.parseInt(scope));
            } catch (SocketException | NumberFormatException | UnknownHostException e) {
                // An unknown interface, or one without that kind of address: unscoped, as written without it.
            }
        }
        return InetAddress.getByAddress(bytes);
    }

    /** Where the server listens, UDP and TCP. */
    public InetSocketAddress address() {
        return address;
    }

    /** The resolvers names outside the zone go to, tried in order; empty when forwarding is off. */
    public List<InetSocketAddress> upstreams() {
        return upstreams;
    }

    /** Whether names outside the zone are forwarded at all. */
    public boolean forwarding() {
        return !upstreams.isEmpty();
    }

    /** Whether clients on public addresses are forwarded for too (default false). */
    public boolean forwardForAnyClient() {
        return forwardForAnyClient;
    }

    /** How long one upstream has to answer before the next is tried (default 2 s). */
    public Duration upstreamTimeout() {
        return upstreamTimeout;
    }

    /** The largest UDP response, whatever a client's EDNS0 buffer size says (default 1232, the DNS flag day's). */
    public int maxUdpPayload() {
        return maxUdpPayload;
    }

    /** How long a TCP connection may sit with no query before it is closed (default 10 s). */
    public Duration tcpIdleTimeout() {
        return tcpIdleTimeout;
    }

    /** How many forwarded queries one event loop may wait on; more are answered SERVFAIL (default 4096). */
    public int maxPendingForwards() {
        return maxPendingForwards;
    }

    @Override
    public String toString() {
        return "DnsServerConfig(" + address + ", upstreams " + upstreams + ", forwardForAnyClient "
               + forwardForAnyClient + ", upstreamTimeout " + upstreamTimeout + ", maxUdpPayload " + maxUdpPayload
               + ')';
    }

    /** Builds a {@link DnsServerConfig}; not thread-safe. */
    public static final class Builder {
        private final InetSocketAddress address;
        private List<InetSocketAddress> upstreams = List.of();
        private boolean forwardForAnyClient;
        private Duration upstreamTimeout = Duration.ofSeconds(2);
        private int maxUdpPayload = 1232;
        private Duration tcpIdleTimeout = Duration.ofSeconds(10);
        private int maxPendingForwards = 4096;

        private Builder(InetSocketAddress address) {
            this.address = requireNonNull(address, "address");
            if (address.isUnresolved()) {
                throw new IllegalArgumentException("address: " + address + " (expected: an IP address and port)");
            }
        }

        /** The resolvers to forward to, tried in order; empty (the default) turns forwarding off. */
        public Builder upstreams(List<InetSocketAddress> upstreams) {
            for (InetSocketAddress u : requireNonNull(upstreams, "upstreams")) {
                if (u.isUnresolved() || u.getPort() == 0) {
                    throw new IllegalArgumentException("upstream: " + u + " (expected: an IP address and port)");
                }
            }
            this.upstreams = List.copyOf(upstreams);
            return this;
        }

        /** Whether clients on public addresses are forwarded for too. */
        public Builder forwardForAnyClient(boolean on) {
            forwardForAnyClient = on;
            return this;
        }

        public Builder upstreamTimeout(Duration timeout) {
            requireNonNull(timeout, "timeout");
            if (timeout.toMillis() < 1) {
                throw new IllegalArgumentException("upstreamTimeout: " + timeout + " (expected: at least 1 ms)");
            }
            upstreamTimeout = timeout;
            return this;
        }

        public Builder maxUdpPayload(int bytes) {
            if (bytes < 512 || bytes > 65535) {
                throw new IllegalArgumentException("maxUdpPayload: " + bytes + " (expected: 512-65535)");
            }
            maxUdpPayload = bytes;
            return this;
        }

        public Builder tcpIdleTimeout(Duration timeout) {
            requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("tcpIdleTimeout: " + timeout + " (expected: > 0)");
            }
            tcpIdleTimeout = timeout;
            return this;
        }

        public Builder maxPendingForwards(int n) {
            if (n < 1 || n > 60000) {
                throw new IllegalArgumentException("maxPendingForwards: " + n + " (expected: 1-60000)");
            }
            maxPendingForwards = n;
            return this;
        }

        public DnsServerConfig build() {
            return new DnsServerConfig(this);
        }
    }
}
