package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * A Service port as the data plane sees it: a name, the endpoints that new connections may use, and the
 * {@link Balancer} that picks one. Immutable; built by the compiler and shared by every event loop.
 */
public final class Backend {

    private final String name;
    private final Endpoint[] endpoints;
    private final List<Endpoint> endpointList;
    private final Balancer balancer;
    private final BackendStats stats;

    private Backend(String name, List<Endpoint> endpoints, Balancer balancer, BackendStats stats) {
        this.name = name;
        this.stats = stats;
        this.endpointList = List.copyOf(endpoints);
        this.endpoints = endpointList.toArray(new Endpoint[0]);
        this.balancer = balancer;
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
        requireNonNull(name, "name");
        requireNonNull(endpoints, "endpoints");
        requireNonNull(balancer, "balancer");
        return new Backend(name, endpoints, balancer, new BackendStats());
    }

    /**
     * Creates a backend that counts into {@code stats}: the previous table's instance for the same Service port, so
     * that its counters run on across a swap.
     */
    public static Backend of(String name, List<Endpoint> endpoints, Balancer balancer, BackendStats stats) {
        requireNonNull(name, "name");
        requireNonNull(endpoints, "endpoints");
        requireNonNull(balancer, "balancer");
        return new Backend(name, endpoints, balancer, requireNonNull(stats, "stats"));
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

    public List<Endpoint> endpoints() {
        return endpointList;
    }

    public Balancer balancer() {
        return balancer;
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
               && balancer.name().equals(that.balancer.name());
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + endpointList.hashCode();
    }

    @Override
    public String toString() {
        return name + " -> " + endpointList + " (" + balancer.name() + ')';
    }
}
