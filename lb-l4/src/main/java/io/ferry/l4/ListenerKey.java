package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Where a listener binds: an address (or the wildcard, for "every local address"), a port and a protocol.
 *
 * <p>Immutable, with its hash computed once: a listener keeps its key and looks the live {@link L4Table} up with
 * it on every accepted connection without allocating.
 */
public final class ListenerKey {

    private final InetSocketAddress address;
    private final Protocol protocol;
    private final int hash;

    private ListenerKey(InetSocketAddress address, Protocol protocol) {
        this.address = address;
        this.protocol = protocol;
        this.hash = 31 * address.hashCode() + protocol.hashCode();
    }

    /**
     * A key for {@code address:port/protocol}. {@code address} must be a resolved address; {@code null} means the
     * wildcard (every local address). Port 0 binds an ephemeral port (for tests).
     */
    public static ListenerKey of(InetAddress address, int port, Protocol protocol) {
        requireNonNull(protocol, "protocol");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
        }
        InetSocketAddress sa = address == null ? new InetSocketAddress(port) : new InetSocketAddress(address, port);
        return new ListenerKey(sa, protocol);
    }

    /** A key for a resolved socket address. */
    public static ListenerKey of(InetSocketAddress address, Protocol protocol) {
        requireNonNull(address, "address");
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("address: " + address + " (expected: a resolved address)");
        }
        return of(address.getAddress(), address.getPort(), protocol);
    }

    public InetSocketAddress address() {
        return address;
    }

    public int port() {
        return address.getPort();
    }

    public Protocol protocol() {
        return protocol;
    }

    /** Whether this key binds every local address. */
    public boolean isWildcard() {
        return address.getAddress().isAnyLocalAddress();
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof ListenerKey)) {
            return false;
        }
        ListenerKey that = (ListenerKey) o;
        return hash == that.hash && protocol == that.protocol && address.equals(that.address);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /** {@code 127.0.0.1:80/TCP}, {@code [::1]:80/TCP} or {@code *:30080/TCP}. */
    @Override
    public String toString() {
        String host = isWildcard() ? "*" : Endpoint.hostString(address.getAddress());
        return host + ':' + address.getPort() + '/' + protocol;
    }
}
