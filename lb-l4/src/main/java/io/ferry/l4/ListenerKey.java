package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Where a listener binds: an address (or the wildcard, for "every local address"), a port and a protocol.
 *
 * <p>Immutable, with its hash computed once: a listener keeps its key and looks the live {@link L4Table} up with
 * it on every accepted connection without allocating.
 */
public final class ListenerKey {

    /** The {@link #packed()} form of a key that does not pack (an IPv6 address). */
    static final long UNPACKED = 0L;

    private final InetSocketAddress address;
    private final Protocol protocol;
    private final int hash;
    private final long packed;

    private ListenerKey(InetSocketAddress address, Protocol protocol) {
        this.address = address;
        this.protocol = protocol;
        this.hash = 31 * address.hashCode() + protocol.hashCode();
        this.packed = pack(address, protocol);
    }

    /**
     * An IPv4 {@code address:port/protocol} in one {@code long}: 32 bits of address, 16 of port, 8 of protocol (its
     * ordinal + 1, so that no key is {@link #UNPACKED}); {@link #UNPACKED} for any other address.
     */
    private static long pack(InetSocketAddress address, Protocol protocol) {
        InetAddress a = address.getAddress();
        if (!(a instanceof Inet4Address)) {
            return UNPACKED;
        }
        byte[] b = a.getAddress();
        long ipv4 = (b[0] & 0xffL) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | b[3] & 0xff;
        return ipv4 << 24 | (long) (address.getPort() & 0xffff) << 8 | (protocol.ordinal() + 1);
    }

    /** This key packed into a {@code long} for {@link ListenerIndex}, or {@link #UNPACKED}; computed once. */
    long packed() {
        return packed;
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
        if (hash != that.hash || packed != that.packed) {
            return false;
        }
        return packed != UNPACKED || protocol == that.protocol && address.equals(that.address);
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
