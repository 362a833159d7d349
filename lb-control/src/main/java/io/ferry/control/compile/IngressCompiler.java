package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.networking.v1.HTTPIngressPath;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBackend;
import io.fabric8.kubernetes.api.model.networking.v1.IngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.IngressServiceBackend;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.ferry.control.compile.CompiledIngresses.Kind;
import io.ferry.control.compile.CompiledIngresses.RouteView;
import io.ferry.l4.Backend;
import io.ferry.l4.BackendStats;
import io.ferry.l4.Balancer;
import io.ferry.l4.Endpoint;
import io.ferry.l4.EndpointHealth;
import io.ferry.l4.RoundRobinBalancer;
import io.ferry.l7.route.EwmaBalancer;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RouteStats;
import io.ferry.l7.route.RoutePolicy;
import io.netty.util.NetUtil;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles Ingresses into the {@link HttpRouteTable}, as ingress-nginx builds its servers and locations.
 *
 * <p><b>Which Ingresses</b>: see {@link IngressClassFilter} (class name and controller {@value
 * IngressClassFilter#CONTROLLER}, the legacy annotation, the default class, {@code --watch-ingress-without-class}).
 * Others are ignored without a word. Served Ingresses are taken oldest first ({@code creationTimestamp}, then
 * {@code namespace/name}; ingress-nginx's {@code sortIngressSlice} breaks ties by name too), so that whatever two
 * Ingresses contest goes to the older, and the newer is reported naming both.
 *
 * <p><b>Rules</b>: each rule's host (lower-cased; {@code ""} for every host) must be a DNS name or a {@code *.}
 * wildcard; each path needs a {@code pathType}: {@code Exact} is {@link PathType#EXACT}, {@code Prefix} and
 * {@code ImplementationSpecific} are {@link PathType#PREFIX} (ingress-nginx's {@code SetDefaultNGINXPathType}
 * does the same). A missing path is {@code /}, as in ingress-nginx. When any Ingress that serves a host sets
 * {@code use-regex: "true"}, or a {@code rewrite-target} that differs from one of its paths, every path of that
 * host becomes {@link PathType#REGEX} — ingress-nginx's {@code enforceRegexModifier}, which
 * {@code internal/ingress/controller/template/template.go} applies per server, turning every location into
 * {@code ~* "^path"}.
 *
 * <p><b>Backends</b>: {@code service.name} with {@code port.number} or {@code port.name}, in the Ingress's
 * namespace, resolve to the Service port's ready endpoints (pod addresses from its EndpointSlices, or its legacy
 * Endpoints when it has no slice) through {@link EndpointResolver} — never the ClusterIP. Unlike kube-proxy's view,
 * slices of headless Services count: an Ingress in front of a headless Service works in ingress-nginx, whose slice
 * lister only joins on {@code kubernetes.io/service-name}. A missing Service or port, an ExternalName Service, a
 * {@code resource} backend, or a {@code backend-protocol} Ferry does not speak yet ({@code HTTPS}, {@code GRPCS},
 * {@code AUTO_HTTP}, {@code AJP}, {@code FCGI}) still gets its route, with no endpoints, so its requests are
 * answered 503 instead of falling through to another route; the reason is reported. {@code GRPC} and {@code H2C}
 * are served over HTTP/2 cleartext; so is a Service port with {@code appProtocol: kubernetes.io/h2c}, unless a
 * {@code backend-protocol} annotation says otherwise. Backends are named {@code namespace/service:port}; routes
 * {@code namespace/ingress:host/path}.
 *
 * <p><b>Default backends</b>: an Ingress with rules and a {@code spec.defaultBackend} supplies the fallback of each
 * of its hosts ("Using its backend as default upstream for all its rules", ingress-nginx); an Ingress with only a
 * {@code defaultBackend} supplies the table's default. The oldest wins; the others are reported.
 *
 * <p><b>Annotations</b>: see {@link IngressAnnotations}; invalid values are reported and ignored (an unreadable
 * allowlist fails closed), unsupported ones are reported once per Ingress, and an Ingress with a {@code *-snippet},
 * {@code auth-*}, {@code denylist-source-range} or {@code canary*} annotation is refused whole.
 *
 * <p><b>Balancers</b>: {@code load-balance} picks {@link RoundRobinBalancer} (ingress-nginx's default) or
 * {@link EwmaBalancer}. One backend object (and balancer) is shared by every route to the same Service port with
 * the same balancer, as ingress-nginx shares one upstream. EWMA scores are handed from one compile's balancer to
 * the next one's for the same Service port — the only thing this compiler remembers between calls — so that a
 * table swap does not forget what was learnt, as ingress-nginx's balancer sync keeps them.
 *
 * <p>Thread-safe; meant to be called from the control thread.
 */
public final class IngressCompiler {

    /** {@code --ingress-class}'s default. */
    public static final String DEFAULT_CLASS = "ferry";

    /** The {@code backend-protocol}s the edge proxy speaks to upstreams today (the last two over h2c). */
    private static final Set<String> SUPPORTED_PROTOCOLS = Set.of("HTTP", "GRPC", "H2C");
    /** A Service port's {@code appProtocol} that means HTTP/2 cleartext (prior knowledge) to its endpoints. */
    static final String APP_PROTOCOL_H2C = "kubernetes.io/h2c";

    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern GROUP_REFERENCE = Pattern.compile("\\$([0-9])");

    private final String ingressClass;
    private final boolean watchWithoutClass;
    private final RoutePolicy defaults;
    private volatile Map<String, EwmaBalancer> lastEwma = Map.of();
    private volatile Map<HealthKey, EndpointHealth> lastHealth = Map.of();
    // The counters of each route of the last compile, by route name (control thread only): carried to the next.
    private Map<String, RouteStats> routeStats = Map.of();

    /** A compiler with ingress-nginx's default policy ({@link RoutePolicy#DEFAULT}). */
    public IngressCompiler(String ingressClass, boolean watchIngressWithoutClass) {
        this(ingressClass, watchIngressWithoutClass, RoutePolicy.DEFAULT);
    }

    /**
     * @param ingressClass the IngressClass name Ferry serves ({@code --ingress-class}, default
     *                     {@value #DEFAULT_CLASS})
     * @param watchIngressWithoutClass also serve Ingresses with no class ({@code --watch-ingress-without-class})
     * @param defaults the policy of a route whose Ingress has no annotation (timeouts, body size, redirects,
     *                 passive health: {@code --upstream-max-fails}, {@code --upstream-fail-timeout})
     */
    public IngressCompiler(String ingressClass, boolean watchIngressWithoutClass, RoutePolicy defaults) {
        this.ingressClass = requireNonNull(ingressClass, "ingressClass");
        if (ingressClass.isEmpty()) {
            throw new IllegalArgumentException("ingressClass: \"\" (expected: a class name such as ferry)");
        }
        this.watchWithoutClass = watchIngressWithoutClass;
        this.defaults = requireNonNull(defaults, "defaults");
    }

    /** Compiles the Ingresses of {@code state} that Ferry serves. Never throws for bad input: it reports it. */
    public CompiledIngresses compile(ClusterState state) {
        Plan plan = plan(state);
        HttpRouteTable.Builder<Route> table = HttpRouteTable.builder();
        List<ConfigProblem> problems = new ArrayList<>(plan.problems());
        for (PlannedPath p : plan.paths()) {
            try {
                if (!table.add(p.host(), p.type(), p.path(), p.route())) {
                    problems.add(new ConfigProblem("Route " + p.route().name(),
                                                   "the table already has this host, type and path; ignored"));
                }
            } catch (IllegalArgumentException e) { // the plan checked hosts and paths; this is a safety net
                problems.add(new ConfigProblem("Route " + p.route().name(), e.getMessage() + "; ignored"));
            }
        }
        plan.hostDefaults().forEach(table::hostDefault);
        if (plan.defaultRoute() != null) {
            table.defaultRoute(plan.defaultRoute());
        }
        return new CompiledIngresses(table.build(), plan.views(), problems, Map.copyOf(routeStats));
    }

    /** One path for {@code HttpRouteTable.Builder.add}. */
    record PlannedPath(String host, PathType type, String path, Route route) {
    }

    /** Everything {@link #compile} decides, before it is put in a table. */
    record Plan(List<PlannedPath> paths, Map<String, Route> hostDefaults, Route defaultRoute, List<RouteView> views,
                List<ConfigProblem> problems) {
    }

    /** A path that survived the first pass, before regex enforcement. */
    private record Candidate(String key, IngressAnnotations annotations, String host,
                             PathType type, String path, BackendRef backend, String where) {
    }

    /** A default backend that won its host (or the table). */
    private record DefaultCandidate(String key, IngressAnnotations annotations, String host, BackendRef backend) {
    }

    /**
     * An Ingress backend, resolved: the backend's name and endpoints (empty when it cannot be served), and whether
     * its Service port says {@code appProtocol: kubernetes.io/h2c}.
     */
    private record BackendRef(String name, List<Endpoint> endpoints, boolean h2c) {
        BackendRef(String name, List<Endpoint> endpoints) {
            this(name, endpoints, false);
        }

        /** {@code policy} with the Service port's protocol when no annotation chose one. */
        RoutePolicy.Builder protocolOf(IngressAnnotations ann, RoutePolicy.Builder policy) {
            if (h2c && ann.backendProtocol() == null) {
                policy.backendProtocol(RoutePolicy.BackendProtocol.H2C);
            }
            return policy;
        }
    }

    Plan plan(ClusterState state) {
        requireNonNull(state, "state");
        IngressClassFilter filter = new IngressClassFilter(ingressClass, watchWithoutClass, state.ingressClasses());
        Cluster cluster = new Cluster(state);
        Map<String, RouteStats> nextStats = new HashMap<>();
        List<Ingress> served = new ArrayList<>();
        for (Ingress ing : state.ingresses()) {
            if (ing.getMetadata() != null && ing.getMetadata().getName() != null && filter.serves(ing)) {
                served.add(ing);
            }
        }
        sortOldestFirst(served);

        Set<ConfigProblem> problems = new LinkedHashSet<>();
        List<Candidate> candidates = new ArrayList<>();
        Map<String, Candidate> seen = new HashMap<>();
        Set<String> regexHosts = new HashSet<>();
        Map<String, DefaultCandidate> hostDefaults = new LinkedHashMap<>();
        DefaultCandidate tableDefault = null;

        for (Ingress ing : served) {
            String key = key(ing);
            String subject = "Ingress " + key;
            IngressAnnotations ann = IngressAnnotations.parse(ing.getMetadata().getAnnotations());
            if (!ann.refusals().isEmpty()) {
                problems.add(new ConfigProblem(subject, "refused whole, nothing of it is served: "
                                                        + String.join("; ", ann.refusals())));
                continue;
            }
            for (String p : ann.problems()) {
                problems.add(new ConfigProblem(subject, p));
            }
            if (!ann.unsupported().isEmpty()) {
                problems.add(new ConfigProblem(subject, "annotations not supported, ignored: "
                                                        + String.join(", ", ann.unsupported())));
            }
            boolean closed = ann.backendProtocol() != null && !SUPPORTED_PROTOCOLS.contains(ann.backendProtocol());
            if (closed) {
                problems.add(new ConfigProblem(subject, IngressAnnotations.PREFIX + "backend-protocol: "
                                                        + ann.backendProtocol() + " is not supported yet (supported: "
                                                        + "HTTP, GRPC, H2C); its paths answer 503 rather than send "
                                                        + "plain HTTP/1.1 to that upstream"));
            }
            if (ing.getSpec() == null) {
                problems.add(new ConfigProblem(subject, "spec: missing"));
                continue;
            }
            List<IngressRule> rules = ing.getSpec().getRules() == null ? List.of() : ing.getSpec().getRules();
            Set<String> hosts = new LinkedHashSet<>();
            for (int ri = 0; ri < rules.size(); ri++) {
                IngressRule rule = rules.get(ri);
                String host = rule.getHost() == null ? "" : rule.getHost().toLowerCase(Locale.ROOT);
                if (!host.isEmpty() && !isValidHost(host)) {
                    problems.add(new ConfigProblem(subject, "spec.rules[" + ri + "].host: \"" + rule.getHost()
                                                            + "\" (expected: a DNS name such as foo.example.com "
                                                            + "or a wildcard such as *.example.com); rule ignored"));
                    continue;
                }
                hosts.add(host);
                if (rule.getHttp() == null || rule.getHttp().getPaths() == null) {
                    continue;
                }
                List<HTTPIngressPath> paths = rule.getHttp().getPaths();
                for (int pi = 0; pi < paths.size(); pi++) {
                    HTTPIngressPath p = paths.get(pi);
                    String where = "spec.rules[" + ri + "].http.paths[" + pi + ']';
                    String path = p.getPath() == null || p.getPath().isEmpty() ? "/" : p.getPath();
                    PathType type = pathType(p.getPathType());
                    if (type == null) {
                        problems.add(new ConfigProblem(subject, where + ".pathType: "
                                                                + (p.getPathType() == null ? "missing"
                                                                                           : '"' + p.getPathType() + '"')
                                                                + " (expected: Exact, Prefix or "
                                                                + "ImplementationSpecific); path ignored"));
                        continue;
                    }
                    if (!path.startsWith("/")) {
                        problems.add(new ConfigProblem(subject, where + ".path: \"" + path
                                                                + "\" (expected: an absolute path starting with /); "
                                                                + "path ignored"));
                        continue;
                    }
                    BackendRef backend = cluster.resolve(ing, p.getBackend(), where + ".backend", closed, problems);
                    String dedupe = host + ' ' + type + ' ' + normalize(type, path);
                    Candidate earlier = seen.get(dedupe);
                    if (earlier != null) {
                        problems.add(new ConfigProblem(subject, where + ": host \"" + host + "\" path \"" + path
                                                                + "\" (" + type + ") is already served by Ingress "
                                                                + earlier.key() + " (" + earlier.where()
                                                                + "), which is older; ignored"));
                        continue;
                    }
                    Candidate c = new Candidate(key, ann, host, type, path, backend, where);
                    seen.put(dedupe, c);
                    candidates.add(c);
                    if (ann.useRegex() || needsRewrite(ann.rewriteTarget(), path)) {
                        regexHosts.add(host);
                    }
                }
            }
            if (ing.getSpec().getDefaultBackend() != null) {
                BackendRef backend = cluster.resolve(ing, ing.getSpec().getDefaultBackend(), "spec.defaultBackend",
                                                     closed, problems);
                if (rules.isEmpty()) {
                    if (tableDefault == null) {
                        tableDefault = new DefaultCandidate(key, ann, null, backend);
                    } else {
                        problems.add(new ConfigProblem(subject, "spec.defaultBackend: ignored, Ingress "
                                                                + tableDefault.key() + " (older) already supplies "
                                                                + "the default backend"));
                    }
                }
                for (String host : hosts) {
                    DefaultCandidate earlier = hostDefaults.get(host);
                    if (earlier == null) {
                        hostDefaults.put(host, new DefaultCandidate(key, ann, host, backend));
                    } else if (!earlier.key().equals(key)) {
                        problems.add(new ConfigProblem(subject, "spec.defaultBackend: ignored for host \"" + host
                                                                + "\", Ingress " + earlier.key() + " (older) "
                                                                + "already supplies its default backend"));
                    }
                }
            }
        }

        Backends backends = new Backends(lastEwma, lastHealth);
        List<PlannedPath> planned = new ArrayList<>();
        List<RouteView> views = new ArrayList<>();
        Map<String, Candidate> regexSeen = new HashMap<>();
        for (Candidate c : candidates) {
            String subject = "Ingress " + c.key();
            boolean regex = regexHosts.contains(c.host());
            PathType type = regex ? PathType.REGEX : c.type();
            RoutePolicy.Builder policy = c.backend().protocolOf(c.annotations(), c.annotations().applyTo(defaults));
            if (regex) {
                Pattern pattern;
                try {
                    pattern = Pattern.compile('^' + c.path(), Pattern.CASE_INSENSITIVE);
                } catch (PatternSyntaxException e) {
                    problems.add(new ConfigProblem(subject, c.where() + ".path: \"" + c.path() + "\" (expected: a "
                                                            + "regular expression, as host \"" + c.host()
                                                            + "\" uses regex paths: " + e.getDescription()
                                                            + "); path ignored"));
                    continue;
                }
                Candidate earlier = regexSeen.putIfAbsent(c.host() + ' ' + c.path(), c);
                if (earlier != null) {
                    problems.add(new ConfigProblem(subject, c.where() + ": host \"" + c.host() + "\" uses regex "
                                                            + "paths, where \"" + c.path() + "\" is the same "
                                                            + "regex as Ingress " + earlier.key() + " ("
                                                            + earlier.where() + "), which is older; ignored"));
                    continue;
                }
                String target = c.annotations().rewriteTarget();
                if (needsRewrite(target, c.path())) {
                    int groups = pattern.matcher("").groupCount();
                    int highest = highestGroup(target);
                    if (highest > groups) {
                        problems.add(new ConfigProblem(subject, IngressAnnotations.PREFIX + "rewrite-target: \""
                                                                + target + "\" refers to $" + highest + " but path \""
                                                                + c.path() + "\" has " + groups + " group"
                                                                + (groups == 1 ? "" : "s") + " (nginx refuses this); "
                                                                + "the path is served without rewrite"));
                    } else {
                        policy.rewrite(pattern, target);
                    }
                }
            }
            RoutePolicy built = policy.build();
            Backend backend = backends.get(c.backend(), c.annotations().loadBalance(), built);
            String routeName = c.key() + ':' + c.host() + c.path();
            Route route = Route.of(routeName, backend, built, statsFor(routeName, nextStats));
            planned.add(new PlannedPath(c.host(), type, c.path(), route));
            views.add(view(Kind.PATH, route, c.host(), c.path(), type.name(), c.key()));
        }
        Map<String, Route> hostDefaultRoutes = new LinkedHashMap<>();
        for (DefaultCandidate d : hostDefaults.values()) {
            String routeName = d.key() + ':' + d.host() + " defaultBackend";
            RoutePolicy policy = d.backend().protocolOf(d.annotations(), d.annotations().applyTo(defaults)).build();
            Route route = Route.of(routeName, backends.get(d.backend(), d.annotations().loadBalance(), policy),
                                   policy, statsFor(routeName, nextStats));
            hostDefaultRoutes.put(d.host(), route);
            views.add(view(Kind.HOST_DEFAULT, route, d.host(), null, null, d.key()));
        }
        Route defaultRoute = null;
        if (tableDefault != null) {
            String routeName = tableDefault.key() + " defaultBackend";
            RoutePolicy policy = tableDefault.backend().protocolOf(tableDefault.annotations(),
                                                                   tableDefault.annotations().applyTo(defaults))
                                             .build();
            defaultRoute = Route.of(routeName,
                                    backends.get(tableDefault.backend(), tableDefault.annotations().loadBalance(),
                                                 policy),
                                    policy, statsFor(routeName, nextStats));
            views.add(view(Kind.DEFAULT, defaultRoute, null, null, null, tableDefault.key()));
        }
        views.sort(Comparator.comparing((RouteView v) -> v.host() == null ? "" : v.host())
                             .thenComparing(RouteView::kind)
                             .thenComparing(v -> v.path() == null ? "" : v.path())
                             .thenComparing(v -> v.pathType() == null ? "" : v.pathType()));
        lastEwma = backends.ewma();
        lastHealth = backends.health();
        routeStats = nextStats;
        return new Plan(planned, hostDefaultRoutes, defaultRoute, views, List.copyOf(problems));
    }

    /** The counters of route {@code name}: the last compile's if it had that route, else new ones. */
    private RouteStats statsFor(String name, Map<String, RouteStats> next) {
        RouteStats stats = next.get(name);
        if (stats == null) {
            stats = routeStats.get(name); // a new RouteStats only for a new route: the counts run on across swaps
            next.put(name, stats != null ? stats : (stats = new RouteStats()));
        }
        return stats;
    }

    private static RouteView view(Kind kind, Route route, String host, String path, String pathType, String ingress) {
        return new RouteView(kind, route.name(), host, path, pathType, ingress, route.backend().name(),
                             route.backend().balancer().name(), TextList.of(route.backend().endpoints()),
                             route.policy().toString());
    }

    /** The Services, slices and legacy Endpoints of a state, indexed for backend resolution. */
    private static final class Cluster {
        private final Map<String, Service> services = new HashMap<>();
        private final Map<String, List<EndpointSlice>> slices = new HashMap<>();
        private final Map<String, Endpoints> legacy = new HashMap<>();
        // The endpoints of each Service port resolved so far in this compile, by the port's instance: every path
        // to the same port shares one list of Endpoint objects.
        private final Map<ServicePort, EndpointResolver.Resolved> resolvedPorts = new IdentityHashMap<>();

        Cluster(ClusterState state) {
            for (Service s : state.services()) {
                if (s.getMetadata() != null && s.getMetadata().getName() != null) {
                    services.put(namespace(s) + '/' + s.getMetadata().getName(), s);
                }
            }
            for (EndpointSlice slice : state.endpointSlices()) {
                Map<String, String> labels = slice.getMetadata() == null ? null : slice.getMetadata().getLabels();
                String service = labels == null ? null : labels.get(ServiceCompiler.SERVICE_NAME_LABEL);
                if (service != null) {
                    slices.computeIfAbsent(namespace(slice) + '/' + service, k -> new ArrayList<>()).add(slice);
                }
            }
            for (Endpoints e : state.endpoints()) {
                if (e.getMetadata() != null && e.getMetadata().getName() != null) {
                    legacy.put(namespace(e) + '/' + e.getMetadata().getName(), e);
                }
            }
        }

        /**
         * Resolves one Ingress backend; reports why it cannot be served (it then has no endpoints).
         *
         * @param closed whether the route must not be served at all (its endpoints are dropped)
         */
        BackendRef resolve(Ingress ing, IngressBackend b, String where, boolean closed, Set<ConfigProblem> problems) {
            String ns = namespace(ing);
            String subject = "Ingress " + key(ing);
            if (b == null) {
                problems.add(new ConfigProblem(subject, where + ": missing (expected: service)"));
                return new BackendRef(ns + "/<none>", List.of());
            }
            if (b.getResource() != null) {
                problems.add(new ConfigProblem(subject, where + ".resource: " + b.getResource().getKind() + ' '
                                                        + b.getResource().getName() + " (expected: service; "
                                                        + "resource backends are not supported); answered 503"));
                return new BackendRef(ns + "/" + b.getResource().getKind() + ':' + b.getResource().getName(),
                                      List.of());
            }
            IngressServiceBackend svc = b.getService();
            if (svc == null || svc.getName() == null || svc.getName().isEmpty()) {
                problems.add(new ConfigProblem(subject, where + ".service.name: missing; answered 503"));
                return new BackendRef(ns + "/<none>", List.of());
            }
            Integer number = svc.getPort() == null ? null : svc.getPort().getNumber();
            String portName = svc.getPort() == null ? null : svc.getPort().getName();
            boolean hasNumber = number != null && number != 0;
            boolean hasName = portName != null && !portName.isEmpty();
            String serviceKey = ns + '/' + svc.getName();
            String name = serviceKey + ':' + (hasNumber ? String.valueOf(number) : hasName ? portName : "<none>");
            if (hasNumber == hasName) {
                problems.add(new ConfigProblem(subject, where + ".service.port: "
                                                        + (hasNumber ? "both number and name" : "missing")
                                                        + " (expected: a number or a name); answered 503"));
                return new BackendRef(name, List.of());
            }
            Service service = services.get(serviceKey);
            if (service == null || service.getSpec() == null) {
                problems.add(new ConfigProblem(subject, where + ": Service " + serviceKey + " not found; "
                                                        + "answered 503 until it exists"));
                return new BackendRef(name, List.of());
            }
            if ("ExternalName".equals(service.getSpec().getType())) {
                problems.add(new ConfigProblem(subject, where + ": Service " + serviceKey + " is of type "
                                                        + "ExternalName, which is not supported (Ferry resolves no "
                                                        + "names); answered 503"));
                return new BackendRef(name, List.of());
            }
            ServicePort port = null;
            List<String> known = new ArrayList<>();
            for (ServicePort p : service.getSpec().getPorts() == null ? List.<ServicePort>of()
                                                                       : service.getSpec().getPorts()) {
                known.add(p.getName() == null ? String.valueOf(p.getPort()) : p.getName() + '=' + p.getPort());
                if (hasNumber ? number.equals(p.getPort()) : portName.equals(p.getName())) {
                    port = p;
                }
            }
            if (port == null) {
                problems.add(new ConfigProblem(subject, where + ".service.port: " + (hasNumber ? number : portName)
                                                        + " (expected: a port of Service " + serviceKey + ": "
                                                        + (known.isEmpty() ? "it has none" : String.join(", ", known))
                                                        + "); answered 503"));
                return new BackendRef(name, List.of());
            }
            if (port.getProtocol() != null && !"TCP".equals(port.getProtocol())) {
                problems.add(new ConfigProblem(subject, where + ".service.port: " + (hasNumber ? number : portName)
                                                        + " is " + port.getProtocol() + " (expected: TCP); "
                                                        + "answered 503"));
                return new BackendRef(name, List.of());
            }
            boolean h2c = APP_PROTOCOL_H2C.equals(port.getAppProtocol());
            if (closed) {
                return new BackendRef(name, List.of(), h2c);
            }
            EndpointResolver.Resolved resolved = resolvedPorts.get(port);
            if (resolved == null) {
                List<EndpointSlice> own = slices.getOrDefault(serviceKey, List.of());
                Endpoints old = legacy.get(serviceKey);
                resolved = own.isEmpty() && old != null ? EndpointResolver.fromEndpoints(old, port)
                                                        : EndpointResolver.fromSlices(own, port);
                resolvedPorts.put(port, resolved);
            }
            return new BackendRef(name, resolved.endpoints(), h2c);
        }
    }

    /** The backends of one compile: one per Service port and balancer, shared by every route that uses it. */
    private static final class Backends {
        /**
         * The counters every HTTP backend shares: the edge proxy counts per route ({@link RouteStats}) and never
         * into a backend's {@link BackendStats}, and one set per backend would be ~280 bytes each (before any
         * traffic), made anew at every compile.
         */
        private static final BackendStats UNCOUNTED = new BackendStats();

        private final Map<String, EwmaBalancer> previousEwma;
        private final Map<String, Backend> built = new HashMap<>();
        private final Map<String, EwmaBalancer> ewma = new HashMap<>();

        /**
         * Passive health by endpoint address and setting, shared by every route to the address with the same
         * {@code upstream-max-fails} and {@code upstream-fail-timeout}, and carried across compiles.
         */
        private final Map<HealthKey, EndpointHealth> previousHealth;
        private final Map<HealthKey, EndpointHealth> health = new HashMap<>();

        Backends(Map<String, EwmaBalancer> previousEwma, Map<HealthKey, EndpointHealth> previousHealth) {
            this.previousEwma = previousEwma;
            this.previousHealth = previousHealth;
        }

        private EndpointHealth health(HealthKey key) {
            return health.computeIfAbsent(key, k -> {
                EndpointHealth h = previousHealth.get(k);
                return h != null ? h : new EndpointHealth();
            });
        }

        /**
         * The backend of {@code ref} balanced by {@code lb}, for routes with {@code policy}'s passive health
         * setting: routes that count failures differently get backends of their own, so that an endpoint one route
         * ejected is not skipped by a route with {@code upstream-max-fails: 0}, nor by one that tolerates more.
         */
        Backend get(BackendRef ref, IngressAnnotations.LoadBalance lb, RoutePolicy policy) {
            int maxFails = policy.maxFails();
            Duration failTimeout = policy.failTimeout();
            String cacheKey = ref.name() + ' ' + lb + ' ' + maxFails + ' ' + failTimeout + ' ' + ref.endpoints().size()
                              + ' ' + ref.endpoints().hashCode();
            Backend existing = built.get(cacheKey);
            if (existing != null && existing.endpoints().equals(ref.endpoints())) {
                return existing;
            }
            Balancer balancer;
            if (lb == IngressAnnotations.LoadBalance.EWMA) {
                EwmaBalancer b = EwmaBalancer.create(ref.endpoints(), previousEwma.get(ref.name()));
                ewma.putIfAbsent(ref.name(), b);
                balancer = b;
            } else {
                balancer = RoundRobinBalancer.create();
            }
            Backend backend = Backend.builder(ref.name(), ref.endpoints(), balancer)
                                     .stats(UNCOUNTED)
                                     .health(a -> health(new HealthKey(a, maxFails, failTimeout)))
                                     .build();
            built.put(cacheKey, backend);
            return backend;
        }

        Map<String, EwmaBalancer> ewma() {
            return Map.copyOf(ewma);
        }

        Map<HealthKey, EndpointHealth> health() {
            return Map.copyOf(health);
        }
    }

    /** What one {@link EndpointHealth} counts for: an endpoint, under one max-fails and fail-timeout setting. */
    private record HealthKey(InetSocketAddress address, int maxFails, Duration failTimeout) {
    }

    private static PathType pathType(String text) {
        if (text == null) {
            return null;
        }
        switch (text) {
            case "Exact":
                return PathType.EXACT;
            case "Prefix":
            case "ImplementationSpecific":
                return PathType.PREFIX;
            default:
                return null;
        }
    }

    /** The form under which two paths of one type are the same rule: a Prefix's trailing {@code /} is ignored. */
    private static String normalize(PathType type, String path) {
        if (type == PathType.PREFIX && path.length() > 1 && path.endsWith("/")) {
            return path.substring(0, path.length() - 1);
        }
        return path;
    }

    /** ingress-nginx's {@code needsRewrite}: a target that differs from the path. */
    private static boolean needsRewrite(String target, String path) {
        return target != null && !target.equals(path);
    }

    private static int highestGroup(String target) {
        int highest = 0;
        Matcher m = GROUP_REFERENCE.matcher(target);
        while (m.find()) {
            highest = Math.max(highest, m.group(1).charAt(0) - '0');
        }
        return highest;
    }

    /**
     * A DNS-1123 subdomain (lower case, labels of letters, digits and inner dashes, at most 253 characters) or
     * {@code *.} and one, and not an IP address — what the API server accepts for {@code spec.rules[].host}.
     */
    static boolean isValidHost(String host) {
        String name = host.startsWith("*.") ? host.substring(2) : host;
        if (name.isEmpty() || name.length() > 253 || NetUtil.isValidIpV4Address(name)) {
            return false;
        }
        for (String label : name.split("\\.", -1)) {
            if (!DNS_LABEL.matcher(label).matches()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Sorts oldest first (creationTimestamp, then namespace/name), parsing each timestamp once rather than in every
     * comparison (the parse was 5-7 % of a 10,000-Ingress compile).
     */
    private static void sortOldestFirst(List<Ingress> ingresses) {
        record Keyed(Instant created, String key, Ingress ingress) {
        }
        List<Keyed> keyed = new ArrayList<>(ingresses.size());
        for (Ingress ing : ingresses) {
            keyed.add(new Keyed(created(ing), key(ing), ing));
        }
        keyed.sort(Comparator.comparing(Keyed::created).thenComparing(Keyed::key));
        for (int i = 0; i < keyed.size(); i++) {
            ingresses.set(i, keyed.get(i).ingress());
        }
    }

    /** When the Ingress was created; one without a (readable) timestamp counts as the youngest. */
    private static Instant created(Ingress ing) {
        String ts = ing.getMetadata().getCreationTimestamp();
        if (ts == null) {
            return Instant.MAX;
        }
        try {
            return OffsetDateTime.parse(ts).toInstant();
        } catch (DateTimeParseException e) {
            return Instant.MAX;
        }
    }

    private static String namespace(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return ns == null || ns.isEmpty() ? "default" : ns;
    }

    private static String key(Ingress ing) {
        return namespace(ing) + '/' + ing.getMetadata().getName();
    }
}
