package io.ferry.l7.route;

import java.net.InetAddress;
import java.util.List;

/**
 * A set of CIDR ranges a client address must fall in ({@code whitelist-source-range}). Immutable; checked on the
 * event loop without allocation.
 *
 * <p>Placeholder shape: {@link #ANY} admits everyone. The Ingress compiler's helper fills in parsing and matching.
 */
public final class SourceRanges {

    /** Admits every address. */
    public static final SourceRanges ANY = new SourceRanges(List.of());

    private final List<String> cidrs;

    private SourceRanges(List<String> cidrs) {
        this.cidrs = cidrs;
    }

    /** Whether {@code address} may use the route. */
    public boolean allows(InetAddress address) {
        return cidrs.isEmpty();
    }

    @Override
    public String toString() {
        return cidrs.isEmpty() ? "any" : String.join(",", cidrs);
    }
}
