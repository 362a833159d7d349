package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Builds the {@link Balancer} of a Service port from its {@value #ANNOTATION} annotation.
 *
 * <p>The values, after kube-proxy's modes and IPVS's schedulers:
 * <table>
 *   <caption>{@value #ANNOTATION}</caption>
 *   <tr><th>value</th><th>balancer</th></tr>
 *   <tr><td>{@code random} (no annotation)</td><td>{@link RandomBalancer}, kube-proxy's iptables and nftables
 *       modes</td></tr>
 *   <tr><td>{@code round-robin}</td><td>{@link RoundRobinBalancer}, IPVS {@code rr}</td></tr>
 *   <tr><td>{@code least-connections}</td><td>{@link LeastConnectionsBalancer}, IPVS {@code lc}</td></tr>
 *   <tr><td>{@code source-hash}</td><td>{@link SourceHashBalancer}, IPVS {@code sh}</td></tr>
 *   <tr><td>{@code maglev}</td><td>{@link MaglevBalancer}, IPVS {@code mh}</td></tr>
 * </table>
 *
 * <p>The compiler parses the annotation with {@link Algorithm#of(String)} when it admits a Service (an unknown value
 * is an invalid Service), then, for every Service port of every table it builds, calls
 * {@link #create(Algorithm, List, Balancer)} with the endpoints the port's {@link Backend} is built from and the
 * balancer of the same port in the table being replaced. What carries over:
 * <ul>
 *   <li>round-robin: the previous instance itself, so the turn goes on;</li>
 *   <li>least-connections: the counters of the endpoints both tables have, so the connections still open
 *       through the old table are counted, and released, in the same place;</li>
 *   <li>source-hash and maglev: the previous instance when the endpoints (addresses, in order) are unchanged, so an
 *       unrelated change does not rebuild a 65537-slot Maglev table; otherwise a new one, which for maglev moves
 *       few clients by construction.</li>
 * </ul>
 * A previous balancer of another algorithm is ignored.
 */
public final class Balancers {

    /** The Service annotation that chooses the balancer of all its ports. */
    public static final String ANNOTATION = "ferry.io/lb-algorithm";

    /** The values of {@value Balancers#ANNOTATION}. */
    public enum Algorithm {
        RANDOM("random"),
        ROUND_ROBIN("round-robin"),
        LEAST_CONNECTIONS("least-connections"),
        SOURCE_HASH("source-hash"),
        MAGLEV("maglev");

        private final String value;

        Algorithm(String value) {
            this.value = value;
        }

        /**
         * The algorithm an annotation value names.
         *
         * @param value the annotation's value, or {@code null} when the Service has none ({@link #RANDOM})
         * @throws IllegalArgumentException if {@code value} names no algorithm; the message names the annotation,
         *                                  the value and the values expected
         */
        public static Algorithm of(String value) {
            if (value == null) {
                return RANDOM;
            }
            for (Algorithm a : values()) {
                if (a.value.equals(value)) {
                    return a;
                }
            }
            throw new IllegalArgumentException(ANNOTATION + ": " + value
                                               + " (expected: random, round-robin, least-connections, source-hash"
                                               + " or maglev)");
        }

        /** The annotation's spelling, such as {@code least-connections}. */
        public String value() {
            return value;
        }

        @Override
        public String toString() {
            return value;
        }
    }

    private Balancers() {
    }

    /**
     * Shorthand for {@link #create(Algorithm, List, Balancer) create(Algorithm.of(annotation), endpoints, previous)}.
     *
     * @throws IllegalArgumentException if {@code annotation} names no algorithm
     */
    public static Balancer create(String annotation, List<Endpoint> endpoints, Balancer previous) {
        return create(Algorithm.of(annotation), endpoints, previous);
    }

    /**
     * The balancer of one Service port (one {@link Backend}). Call on the control thread: building a Maglev table
     * takes a few milliseconds.
     *
     * @param algorithm the Service's algorithm
     * @param endpoints exactly the list the port's {@link Backend} will be built from, in the same order
     * @param previous the balancer of the same Service port in the table being replaced, or {@code null}; it must
     *                 not be shared with another Service port
     * @return a balancer that belongs to that one backend (do not share it with another Service port)
     */
    public static Balancer create(Algorithm algorithm, List<Endpoint> endpoints, Balancer previous) {
        requireNonNull(algorithm, "algorithm");
        requireNonNull(endpoints, "endpoints");
        switch (algorithm) {
            case RANDOM:
                return RandomBalancer.INSTANCE;
            case ROUND_ROBIN:
                return previous instanceof RoundRobinBalancer ? previous : RoundRobinBalancer.create();
            case LEAST_CONNECTIONS:
                if (previous instanceof LeastConnectionsBalancer) {
                    LeastConnectionsBalancer lc = (LeastConnectionsBalancer) previous;
                    return lc.isFor(endpoints) ? lc : LeastConnectionsBalancer.create(endpoints, lc);
                }
                return LeastConnectionsBalancer.create(endpoints);
            case SOURCE_HASH:
                if (previous instanceof SourceHashBalancer && ((SourceHashBalancer) previous).isFor(endpoints)) {
                    return previous;
                }
                return SourceHashBalancer.create(endpoints);
            case MAGLEV:
                if (previous instanceof MaglevBalancer) {
                    MaglevBalancer m = (MaglevBalancer) previous;
                    if (m.isFor(endpoints) && m.tableSize() == MaglevBalancer.tableSizeFor(endpoints.size())) {
                        return m;
                    }
                }
                return MaglevBalancer.create(endpoints);
            default:
                throw new AssertionError(algorithm);
        }
    }
}
