package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.ferry.control.ConfigProblem;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RouteStats;
import java.util.List;
import java.util.Map;

/**
 * What {@link IngressCompiler} made of the Ingresses: the HTTP route table, a view of every route for
 * {@code /config_dump}, and what it rejected.
 *
 * @param table the routes the edge proxy looks requests up in
 * @param routes every route in the table, sorted by host, then kind, then path
 * @param problems Ingresses, rules, paths and annotations that were rejected or ignored, and why
 * @param stats the counters of every route in the table, by route name, for {@code /metrics}
 */
public record CompiledIngresses(HttpRouteTable<Route> table, List<RouteView> routes, List<ConfigProblem> problems,
                                Map<String, RouteStats> stats) {

    public CompiledIngresses {
        requireNonNull(table, "table");
        routes = List.copyOf(routes);
        problems = List.copyOf(problems);
        stats = Map.copyOf(stats);
    }

    /** Without per-route counters. */
    public CompiledIngresses(HttpRouteTable<Route> table, List<RouteView> routes, List<ConfigProblem> problems) {
        this(table, routes, problems, Map.of());
    }

    /** What a {@link RouteView} stands for in the table. */
    public enum Kind {
        /** A rule's path: {@code HttpRouteTable.Builder.add}. */
        PATH,
        /** An Ingress's {@code spec.defaultBackend} for one of its hosts: {@code hostDefault}. */
        HOST_DEFAULT,
        /** The {@code spec.defaultBackend} of an Ingress without rules: the table's {@code defaultRoute}. */
        DEFAULT
    }

    /**
     * One route as compiled.
     *
     * @param kind what it is in the table
     * @param name the route's name, such as {@code demo/myblog:myblog.devops.cn/}
     * @param host the host it serves, lower case; {@code ""} for every host ({@code null} for {@link Kind#DEFAULT})
     * @param path the rule's path ({@code null} unless {@link Kind#PATH})
     * @param pathType how the path is matched: {@code EXACT}, {@code PREFIX} or {@code REGEX} ({@code null} unless
     *                 {@link Kind#PATH})
     * @param ingress the Ingress it came from, {@code namespace/name}
     * @param backend the Service port it goes to, {@code namespace/service:port}
     * @param balancer how an endpoint is picked ({@code round_robin}, {@code ewma})
     * @param endpoints the endpoints requests go to ({@code ip:port}, pod names where known); empty means 503
     * @param policy the policy's summary: timeouts, body limit, rewrite, sources, redirects, protocol
     */
    public record RouteView(Kind kind, String name, String host, String path, String pathType, String ingress,
                            String backend, String balancer, List<String> endpoints, String policy) {
        public RouteView {
            requireNonNull(kind, "kind");
            requireNonNull(name, "name");
            endpoints = TextList.copyOf(endpoints); // the compiler's are immutable, and made when read
        }
    }
}
