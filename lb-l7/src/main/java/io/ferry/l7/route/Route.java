package io.ferry.l7.route;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.Backend;

/**
 * Where a matched HTTP request goes and how it is handled: the {@link Backend} (a Service port's ready endpoints
 * and the balancer that picks one) and the {@link RoutePolicy} (timeouts, body limit, rewrite, allowed sources,
 * redirects) compiled from the Ingress and its annotations.
 *
 * <p>Immutable; built by the control plane's Ingress compiler, stored in an {@link HttpRouteTable}, read by every
 * event loop.
 */
public final class Route {

    private final String name;
    private final Backend backend;
    private final RoutePolicy policy;
    private final RouteStats stats;

    private Route(String name, Backend backend, RoutePolicy policy, RouteStats stats) {
        this.name = name;
        this.backend = backend;
        this.policy = policy;
        this.stats = stats;
    }

    /**
     * Creates a route.
     *
     * @param name what logs and dumps call it, such as {@code demo/myblog-ingress:myblog.devops.cn/}
     * @param backend the Service port the request goes to; may have no endpoints (the request gets 503)
     * @param policy how the request is handled
     */
    public static Route of(String name, Backend backend, RoutePolicy policy) {
        return of(name, backend, policy, new RouteStats());
    }

    /** A route that counts into {@code stats}: the previous table's instance for the same route name. */
    public static Route of(String name, Backend backend, RoutePolicy policy, RouteStats stats) {
        return new Route(requireNonNull(name, "name"), requireNonNull(backend, "backend"),
                         requireNonNull(policy, "policy"), requireNonNull(stats, "stats"));
    }

    /** This route's counters. */
    public RouteStats stats() {
        return stats;
    }

    public String name() {
        return name;
    }

    public Backend backend() {
        return backend;
    }

    public RoutePolicy policy() {
        return policy;
    }

    @Override
    public String toString() {
        return name + " -> " + backend.name();
    }
}
