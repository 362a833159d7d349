package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A Service port as the data plane sees it: a name, the endpoints that new connections may use, the
 * {@link Balancer} that picks one, and what else applies to its connections (session affinity, passive health,
 * the PROXY protocol). Immutable; built by the compiler and shared by every event loop.
 */
public final class Backend {

    private final String name;
    private final Endpoint[] endpoints;
    private final List<Endpoint> endpointList;
    private final Balancer balancer;
    private final BackendStats stats;
    private final SessionAffinity affinity;
    private final EndpointHealth[] health;
    private final boolean proxyProtocol;
    private final Map<InetSocketAddress, Integer> indexes;

    private Backend(Builder b) {
        this.name = b.name;
        this.stats = b.stats != null ? b.stats : new BackendStats();
        this.endpointList = List.copyOf(b.endpoints);
        this.endpoints = endpointList.toArray(new Endpoint[0]);
        this.balancer = b.balancer;
        this.affinity = b.affinity;
        this.proxyProtocol = b.proxyProtocol;
        this.health = new EndpointHealth[endpoints.length];
        Map<InetSocketAddress, Integer> idx = new HashMap<>();
        for (int i = 0; i < endpoints.length; i++) {
            InetSocketAddress a = endpoints[i].address();
            EndpointHealth h = b.health != null ? b.health.apply(a) : null;
            health[i] = h != null ? h : new EndpointHealth();
            idx.putIfAbsent(a, i);
        }
        this.indexes = Map.copyOf(idx);
    }

    /**
     * Creates a backend.
     *
     * @param name the Service port, such as {@code demo/myblog:80/TCP}
     * @param endpoints the endpoints new connections may use, without duplicates; may be empty (connections are
     *                  then reset)
     * @param balancer picks among {@code endpoints}
     */
    public static Backend of(String name, List<Endpoint> endpoints, Balancer balancer) {
        return builder(name, endpoints, balancer).build();
    }

    /**
     * Creates a backend that counts into {@code stats}: the previous table's instance for the same Service port, so
     * that its counters run on across a swap.
     */
    public static Backend of(String name, List<Endpoint> endpoints, Balancer balancer, BackendStats stats) {
        return builder(name, endpoints, balancer).stats(requireNonNull(stats, "stats")).build();
    }

    /** A builder for a backend with more than endpoints and a balancer. */
    public static Builder builder(String name, List<Endpoint> endpoints, Balancer balancer) {
        return new Builder(name, endpoints, balancer);
    }

    /** This Service port's counters. */
    public BackendStats stats() {
        return stats;
    }

    public String name() {
        return name;
    }

    /** The number of endpoints. */
    public int size() {
        return endpoints.length;
    }

    /** Whether there is no endpoint: new connections are rejected. */
    public boolean isEmpty() {
        return endpoints.length == 0;
    }

    /** The endpoint at {@code index}, in {@code [0, size())}. */
    public Endpoint endpoint(int index) {
        return endpoints[index];
    }

    /** The passive health of the endpoint at {@code index}. */
    public EndpointHealth health(int index) {
        return health[index];
    }

    /** The index of the endpoint with {@code address}, or {@code -1}. No allocation. */
    public int indexOf(InetSocketAddress address) {
        Integer i = indexes.get(address);
        return i == null ? -1 : i;
    }

    public List<Endpoint> endpoints() {
        return endpointList;
    }

    public Balancer balancer() {
        return balancer;
    }

    /** The Service port's {@code ClientIP} session affinity, or {@code null} for none. */
    public SessionAffinity affinity() {
        return affinity;
    }

    /** Whether connections to the endpoints start with a PROXY protocol v2 header. */
    public boolean proxyProtocol() {
        return proxyProtocol;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Backend)) {
            return false;
        }
        Backend that = (Backend) o;
        return name.equals(that.name) && endpointList.equals(that.endpointList)
               && balancer.name().equals(that.balancer.name()) && proxyProtocol == that.proxyProtocol
               && (affinity == null) == (that.affinity == null);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + endpointList.hashCode();
    }

    @Override
    public String toString() {
        return name + " -> " + endpointList + " (" + balancer.name() + (affinity != null ? ", ClientIP affinity" : "")
               + (proxyProtocol ? ", PROXY v2" : "") + ')';
    }

    /** Builds a {@link Backend}. */
    public static final class Builder {
        private final String name;
        private final List<Endpoint> endpoints;
        private final Balancer balancer;
        private BackendStats stats;
        private SessionAffinity affinity;
        private Function<InetSocketAddress, EndpointHealth> health;
        private boolean proxyProtocol;

        private Builder(String name, List<Endpoint> endpoints, Balancer balancer) {
            this.name = requireNonNull(name, "name");
            this.endpoints = requireNonNull(endpoints, "endpoints");
            this.balancer = requireNonNull(balancer, "balancer");
        }

        /** The counters to count into (the previous table's, to run on across a swap). */
        public Builder stats(BackendStats stats) {
            this.stats = requireNonNull(stats, "stats");
            return this;
        }

        /** {@code ClientIP} session affinity; {@code null} for none. */
        public Builder affinity(SessionAffinity affinity) {
            this.affinity = affinity;
            return this;
        }

        /**
         * Where each endpoint's passive health comes from (the previous table's, to remember a dead endpoint across
         * a swap); an endpoint it has none for ({@code null}) starts healthy.
         */
        public Builder health(Function<InetSocketAddress, EndpointHealth> health) {
            this.health = health;
            return this;
        }

        /** Whether to send a PROXY protocol v2 header first on every connection to an endpoint. */
        public Builder proxyProtocol(boolean proxyProtocol) {
            this.proxyProtocol = proxyProtocol;
            return this;
        }

        public Backend build() {
            return new Backend(this);
        }
    }
}
