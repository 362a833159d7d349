package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * One place a Service port's traffic may go: an IP address and a port, with the name Kubernetes gave it (the
 * EndpointSlice's {@code targetRef} name, or the address when there is none) and the node it runs on.
 *
 * <p>Immutable. The address is always resolved; Ferry never does a DNS lookup on the hot path.
 */
public final class Endpoint {

    private final InetSocketAddress address;
    private final String name;
    private final String nodeName;

    private Endpoint(InetSocketAddress address, String name, String nodeName) {
        this.address = address;
        this.name = name;
        this.nodeName = nodeName;
    }

    /**
     * Creates an endpoint.
     *
     * @param address a resolved address
     * @param name what to call it in logs and dumps; {@code null} for {@code address}
     * @param nodeName the node it runs on, or {@code null} if unknown
     */
    public static Endpoint of(InetSocketAddress address, String name, String nodeName) {
        requireNonNull(address, "address");
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("address: " + address + " (expected: a resolved address)");
        }
        return new Endpoint(address, name != null ? name : hostPort(address), nodeName);
    }

    /** Shorthand for an endpoint with no name and no node. */
    public static Endpoint of(InetSocketAddress address) {
        return of(address, null, null);
    }

    public InetSocketAddress address() {
        return address;
    }

    public String name() {
        return name;
    }

    /** The node the endpoint runs on, or {@code null}. */
    public String nodeName() {
        return nodeName;
    }

    /** {@code 10.0.0.1:8080} or {@code [fd00::1]:8080}. */
    public static String hostPort(InetSocketAddress address) {
        return hostString(address.getAddress()) + ':' + address.getPort();
    }

    /** The literal of an address, IPv6 in brackets; never a host name. */
    static String hostString(InetAddress address) {
        String literal = address.getHostAddress();
        return address instanceof Inet6Address ? '[' + literal + ']' : literal;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Endpoint)) {
            return false;
        }
        Endpoint that = (Endpoint) o;
        return address.equals(that.address) && name.equals(that.name) && Objects.equals(nodeName, that.nodeName);
    }

    @Override
    public int hashCode() {
        return address.hashCode();
    }

    @Override
    public String toString() {
        String hp = hostPort(address);
        return name.equals(hp) ? hp : name + '(' + hp + ')';
    }
}
