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
 * the next one's for the same Service port, so that a table swap does not forget what was learnt, as
 * ingress-nginx's balancer sync keeps them.
 *
 * <p><b>Recompiles</b> cost what changed, not the whole cluster (an informer hands unchanged objects over as the same
 * instances): a Service port whose Service, EndpointSlices and Endpoints are the same instances keeps its resolved
 * endpoints; a backend whose endpoints are unchanged is the last compile's {@link Backend} (its balancer and
 * passive health with it); an Ingress that is the same instance keeps what it says on its own (annotations,
 * creation time, problems, hosts, paths and the names made of them), each of its backends keeps its resolution while
 * the Service and its endpoints' objects are the same instances, and each path keeps its route and view while its
 * backend, policy, counters and path type are the same. Conflicts, regex hosts and the route table are decided
 * again each time, over all served paths.
 *
 * <p>Thread-safe ({@link #plan} is synchronized); meant to be called from the control thread.
 */
public final class IngressCompiler {

    /** {@code --ingress-class}'s default. */
    public static final String DEFAULT_CLASS = "ferry";

    /** The {@code backend-protocol}s the edge proxy speaks to upstreams today (the last two over h2c). */
    private static final Set<String> SUPPORTED_PROTOCOLS = Set.of("HTTP", "GRPC", "H2C");
    /** A Service port's {@code appProtocol} that means HTTP/2 cleartext (prior knowledge) to its endpoints. */
    static final String APP_PROTOCOL_H2C = "kubernetes.io/h2c";

    private static final Pattern GROUP_REFERENCE = Pattern.compile("\\$([0-9])");

    private final String ingressClass;
    private final boolean watchWithoutClass;
    private final RoutePolicy defaults;
    // The state below is carried from one compile to the next; guarded by this.
    // The counters of each route of the last compile, by route name.
    private Map<String, RouteStats> routeStats = Map.of();
    // The EWMA balancer of each backend name in the last compile: a new balancer takes over its scores.
    private Map<String, EwmaBalancer> lastEwma = Map.of();
    // The backends of the last compile, to be reused while their endpoints are unchanged.
    private Map<BackendKey, BuiltBackend> lastBackends = Map.of();
    // Every distinct backend the last compile's routes use, with its key.
    private Map<Backend, BackendKey> lastLive = new IdentityHashMap<>();
    // The passive health of each endpoint under each setting, with the number of live backends' endpoints using it.
    private final Map<HealthKey, SharedHealth> health = new HashMap<>();
    // The endpoints of each Service the last compile resolved, by namespace/name.
    private Map<String, ResolvedService> lastResolved = Map.of();
    // What each Ingress the last compile served says on its own, by instance.
    private Map<Ingress, ParsedIngress> lastParsed = new IdentityHashMap<>();
    // How many paths the last compile planned: this one's collections start that large.
    private int lastCandidates;
    private final OldestFirst<Ingress> order = new OldestFirst<>();
    // The policy made of each parsed annotations the last compile used (without and with h2c), by instance.
    private Map<IngressAnnotations, RoutePolicy[]> lastPolicies = new IdentityHashMap<>();

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
    private record Candidate(ParsedIngress ingress, ParsedPath path, BackendRef backend) {
        String key() {
            return ingress.key;
        }

        IngressAnnotations annotations() {
            return ingress.annotations;
        }
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

    synchronized Plan plan(ClusterState state) {
        requireNonNull(state, "state");
        IngressClassFilter filter = new IngressClassFilter(ingressClass, watchWithoutClass, state.ingressClasses());
        Cluster cluster = new Cluster(state, lastResolved);
        Map<String, RouteStats> nextStats = new HashMap<>(capacity(routeStats.size()));
        List<Ingress> served = new ArrayList<>();
        for (Ingress ing : state.ingresses()) {
            if (ing.getMetadata() != null && ing.getMetadata().getName() != null && filter.serves(ing)) {
                served.add(ing);
            }
        }
        order.sort(served);
        Map<Ingress, ParsedIngress> parsed = new IdentityHashMap<>(served.size() * 4 / 3 + 1);

        Set<ConfigProblem> problems = new LinkedHashSet<>();
        List<Candidate> candidates = new ArrayList<>(lastCandidates);
        Map<String, Candidate> seen = new HashMap<>(capacity(lastCandidates));
        Set<String> regexHosts = new HashSet<>();
        Map<String, DefaultCandidate> hostDefaults = new LinkedHashMap<>();
        DefaultCandidate tableDefault = null;

        for (Ingress ing : served) {
            ParsedIngress pi = lastParsed.get(ing);
            if (pi == null) {
                pi = ParsedIngress.parse(ing, order.keyOf(ing));
            }
            parsed.put(ing, pi);
            problems.addAll(pi.problems);
            if (!pi.served) {
                continue;
            }
            for (ParsedPath p : pi.paths) {
                if (p.problem != null) {
                    problems.add(p.problem);
                    continue;
                }
                BackendRef backend = cluster.resolve(p.backend, pi.closed, problems);
                Candidate earlier = seen.get(p.dedupe);
                if (earlier != null) {
                    problems.add(new ConfigProblem(pi.subject, p.where + ": host \"" + p.host + "\" path \""
                                                               + p.path + "\" (" + p.type + ") is already served by "
                                                               + "Ingress " + earlier.key() + " ("
                                                               + earlier.path().where + "), which is older; ignored"));
                    continue;
                }
                Candidate c = new Candidate(pi, p, backend);
                seen.put(p.dedupe, c);
                candidates.add(c);
                if (p.makesHostRegex) {
                    regexHosts.add(p.host);
                }
            }
            if (pi.defaultBackend != null) {
                BackendRef backend = cluster.resolve(pi.defaultBackend, pi.closed, problems);
                String key = pi.key;
                if (pi.noRules) {
                    if (tableDefault == null) {
                        tableDefault = new DefaultCandidate(key, pi.annotations, null, backend);
                    } else {
                        problems.add(new ConfigProblem(pi.subject, "spec.defaultBackend: ignored, Ingress "
                                                                   + tableDefault.key() + " (older) already "
                                                                   + "supplies the default backend"));
                    }
                }
                for (String host : pi.hosts) {
                    DefaultCandidate earlier = hostDefaults.get(host);
                    if (earlier == null) {
                        hostDefaults.put(host, new DefaultCandidate(key, pi.annotations, host, backend));
                    } else if (!earlier.key().equals(key)) {
                        problems.add(new ConfigProblem(pi.subject, "spec.defaultBackend: ignored for host \""
                                                                   + host + "\", Ingress " + earlier.key()
                                                                   + " (older) already supplies its default "
                                                                   + "backend"));
                    }
                }
            }
        }

        Backends backends = new Backends();
        Policies policies = new Policies();
        List<PlannedPath> planned = new ArrayList<>(candidates.size());
        List<RouteView> views = new ArrayList<>(candidates.size() + hostDefaults.size() + 1);
        Map<String, Candidate> regexSeen = new HashMap<>();
        for (Candidate c : candidates) {
            ParsedPath p = c.path();
            boolean regex = regexHosts.contains(p.host);
            PathType type = regex ? PathType.REGEX : p.type;
            RoutePolicy.Builder policy = null; // only for a rewrite; otherwise the Ingress's policy is shared
            if (regex) {
                String subject = c.ingress().subject;
                Pattern pattern;
                try {
                    pattern = Pattern.compile('^' + p.path, Pattern.CASE_INSENSITIVE);
                } catch (PatternSyntaxException e) {
                    problems.add(new ConfigProblem(subject, p.where + ".path: \"" + p.path + "\" (expected: a "
                                                            + "regular expression, as host \"" + p.host
                                                            + "\" uses regex paths: " + e.getDescription()
                                                            + "); path ignored"));
                    continue;
                }
                Candidate earlier = regexSeen.putIfAbsent(p.host + ' ' + p.path, c);
                if (earlier != null) {
                    problems.add(new ConfigProblem(subject, p.where + ": host \"" + p.host + "\" uses regex "
                                                            + "paths, where \"" + p.path + "\" is the same "
                                                            + "regex as Ingress " + earlier.key() + " ("
                                                            + earlier.path().where + "), which is older; ignored"));
                    continue;
                }
                String target = c.annotations().rewriteTarget();
                if (needsRewrite(target, p.path)) {
                    int groups = pattern.matcher("").groupCount();
                    int highest = highestGroup(target);
                    if (highest > groups) {
                        problems.add(new ConfigProblem(subject, IngressAnnotations.PREFIX + "rewrite-target: \""
                                                                + target + "\" refers to $" + highest + " but path \""
                                                                + p.path + "\" has " + groups + " group"
                                                                + (groups == 1 ? "" : "s") + " (nginx refuses this); "
                                                                + "the path is served without rewrite"));
                    } else {
                        policy = c.backend().protocolOf(c.annotations(), c.annotations().applyTo(defaults))
                                  .rewrite(pattern, target);
                    }
                }
            }
            RoutePolicy built = policy != null ? policy.build() : policies.of(c.annotations(), c.backend());
            Backend backend = backends.get(c.backend(), c.annotations().loadBalance(), built);
            RouteStats stats = statsFor(p.routeName, nextStats);
            PlannedPath last = p.planned;
            if (last == null || last.type() != type || last.route().backend() != backend
                || last.route().policy() != built || last.route().stats() != stats) {
                Route route = Route.of(p.routeName, backend, built, stats);
                p.planned = last = new PlannedPath(p.host, type, p.path, route);
                p.view = view(Kind.PATH, route, p.host, p.path, type.name(), c.key());
            }
            planned.add(last);
            views.add(p.view);
        }
        Map<String, Route> hostDefaultRoutes = new LinkedHashMap<>();
        for (DefaultCandidate d : hostDefaults.values()) {
            String routeName = d.key() + ':' + d.host() + " defaultBackend";
            RoutePolicy policy = policies.of(d.annotations(), d.backend());
            Route route = Route.of(routeName, backends.get(d.backend(), d.annotations().loadBalance(), policy),
                                   policy, statsFor(routeName, nextStats));
            hostDefaultRoutes.put(d.host(), route);
            views.add(view(Kind.HOST_DEFAULT, route, d.host(), null, null, d.key()));
        }
        Route defaultRoute = null;
        if (tableDefault != null) {
            String routeName = tableDefault.key() + " defaultBackend";
            RoutePolicy policy = policies.of(tableDefault.annotations(), tableDefault.backend());
            defaultRoute = Route.of(routeName,
                                    backends.get(tableDefault.backend(), tableDefault.annotations().loadBalance(),
                                                 policy),
                                    policy, statsFor(routeName, nextStats));
            views.add(view(Kind.DEFAULT, defaultRoute, null, null, null, tableDefault.key()));
        }
        views.sort(VIEW_ORDER);
        backends.commit();
        lastResolved = cluster.resolved;
        lastParsed = parsed;
        lastCandidates = candidates.size();
        lastPolicies = policies.made;
        routeStats = nextStats;
        return new Plan(planned, hostDefaultRoutes, defaultRoute, views, List.copyOf(problems));
    }

    /** Views by host, kind, path and path type (a missing one as {@code ""}). */
    private static final Comparator<RouteView> VIEW_ORDER = (a, b) -> {
        int c = text(a.host()).compareTo(text(b.host()));
        if (c == 0 && (c = a.kind().compareTo(b.kind())) == 0
            && (c = text(a.path()).compareTo(text(b.path()))) == 0) {
            c = text(a.pathType()).compareTo(text(b.pathType()));
        }
        return c;
    };

    private static String text(String s) {
        return s == null ? "" : s;
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
        private final Map<String, Service> services;
        private final Map<String, List<EndpointSlice>> slices;
        private final Map<String, Endpoints> legacy;
        private final Map<String, ResolvedService> previous;
        // The Services whose endpoints this compile resolved, by namespace/name: every path to the same port shares
        // one list of Endpoint objects, and the next compile reuses it if nothing it came from changed.
        final Map<String, ResolvedService> resolved;

        Cluster(ClusterState state, Map<String, ResolvedService> previous) {
            this.previous = previous;
            this.resolved = new HashMap<>(capacity(previous.size()));
            this.services = new HashMap<>(capacity(state.services().size()));
            this.slices = new HashMap<>(capacity(state.endpointSlices().size()));
            this.legacy = new HashMap<>(capacity(state.endpoints().size()));
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
         * Resolves one Ingress backend; reports why it cannot be served (it then has no endpoints). The answer is
         * the last compile's while the Service (and, for endpoints, its slices and Endpoints) are the same
         * instances.
         *
         * @param closed whether the route must not be served at all (its endpoints are dropped)
         */
        BackendRef resolve(BackendSource src, boolean closed, Set<ConfigProblem> problems) {
            if (src.fixed != null) {
                problems.add(src.fixedProblem);
                return src.fixed;
            }
            Service service = services.get(src.serviceKey);
            if (src.ref != null && src.service == service
                && (src.resolved == null || src.resolved == resolvedFor(src.serviceKey, service))) {
                if (src.problem != null) {
                    problems.add(src.problem);
                }
                return src.ref;
            }
            src.service = service;
            src.resolved = null;
            src.problem = null;
            src.ref = resolve(src, service, closed);
            if (src.problem != null) {
                problems.add(src.problem);
            }
            return src.ref;
        }

        /** {@link #resolve} when the last answer does not hold: sets {@code src.problem} and {@code src.resolved}. */
        private BackendRef resolve(BackendSource src, Service service, boolean closed) {
            String serviceKey = src.serviceKey;
            String name = src.name;
            boolean hasNumber = src.number != null;
            if (service == null || service.getSpec() == null) {
                src.problem = src.problem(": Service " + serviceKey + " not found; answered 503 until it exists");
                return new BackendRef(name, List.of());
            }
            if ("ExternalName".equals(service.getSpec().getType())) {
                src.problem = src.problem(": Service " + serviceKey + " is of type ExternalName, which is not "
                                          + "supported (Ferry resolves no names); answered 503");
                return new BackendRef(name, List.of());
            }
            ServicePort port = null;
            List<ServicePort> ports = service.getSpec().getPorts() == null ? List.of() : service.getSpec().getPorts();
            for (ServicePort p : ports) {
                if (hasNumber ? src.number.equals(p.getPort()) : src.portName.equals(p.getName())) {
                    port = p;
                }
            }
            if (port == null) {
                List<String> known = new ArrayList<>();
                for (ServicePort p : ports) {
                    known.add(p.getName() == null ? String.valueOf(p.getPort()) : p.getName() + '=' + p.getPort());
                }
                src.problem = src.problem(".service.port: " + (hasNumber ? src.number : src.portName)
                                          + " (expected: a port of Service " + serviceKey + ": "
                                          + (known.isEmpty() ? "it has none" : String.join(", ", known))
                                          + "); answered 503");
                return new BackendRef(name, List.of());
            }
            if (port.getProtocol() != null && !"TCP".equals(port.getProtocol())) {
                src.problem = src.problem(".service.port: " + (hasNumber ? src.number : src.portName) + " is "
                                          + port.getProtocol() + " (expected: TCP); answered 503");
                return new BackendRef(name, List.of());
            }
            boolean h2c = APP_PROTOCOL_H2C.equals(port.getAppProtocol());
            if (closed) {
                return new BackendRef(name, List.of(), h2c);
            }
            ResolvedService rs = resolvedFor(serviceKey, service);
            src.resolved = rs;
            return new BackendRef(name, rs.endpoints(port), h2c);
        }

        /** The endpoints of {@code service} (which is {@code serviceKey}'s), the last compile's if still true. */
        private ResolvedService resolvedFor(String serviceKey, Service service) {
            ResolvedService rs = resolved.get(serviceKey);
            if (rs == null) {
                List<EndpointSlice> own = slices.getOrDefault(serviceKey, List.of());
                Endpoints old = legacy.get(serviceKey);
                rs = previous.get(serviceKey);
                if (rs == null || !rs.isOf(service, own, old)) {
                    rs = new ResolvedService(service, own, old);
                }
                resolved.put(serviceKey, rs);
            }
            return rs;
        }
    }

    /**
     * What one Ingress instance says on its own, before any other object is looked at: its problems, its paths with
     * the names and keys a compile needs, its hosts and its default backend. Made once per instance (an informer
     * hands an unchanged Ingress over as the same instance); each path and backend also remembers what the last
     * compile made of it.
     */
    private static final class ParsedIngress {
        final String key;
        final String subject;
        final IngressAnnotations annotations;
        /** Reported before anything else of this Ingress. */
        final List<ConfigProblem> problems = new ArrayList<>(2);
        /** In the order of the spec; one with a problem is reported and ignored. */
        final List<ParsedPath> paths = new ArrayList<>();
        /** The valid hosts of its rules, in order, without repeats. */
        final Set<String> hosts = new LinkedHashSet<>();
        boolean served; // false: refused whole, or no spec
        boolean closed; // its backend-protocol is not spoken: its routes answer 503
        BackendSource defaultBackend;
        boolean noRules;

        private ParsedIngress(String key, IngressAnnotations annotations) {
            this.key = key;
            this.subject = "Ingress " + key;
            this.annotations = annotations;
        }

        static ParsedIngress parse(Ingress ing, String key) {
            IngressAnnotations ann = IngressAnnotations.parse(ing.getMetadata().getAnnotations());
            ParsedIngress parsed = new ParsedIngress(key, ann);
            String subject = parsed.subject;
            if (!ann.refusals().isEmpty()) {
                parsed.problems.add(new ConfigProblem(subject, "refused whole, nothing of it is served: "
                                                           + String.join("; ", ann.refusals())));
                return parsed;
            }
            for (String p : ann.problems()) {
                parsed.problems.add(new ConfigProblem(subject, p));
            }
            if (!ann.unsupported().isEmpty()) {
                parsed.problems.add(new ConfigProblem(subject, "annotations not supported, ignored: "
                                                           + String.join(", ", ann.unsupported())));
            }
            parsed.closed = ann.backendProtocol() != null && !SUPPORTED_PROTOCOLS.contains(ann.backendProtocol());
            if (parsed.closed) {
                parsed.problems.add(new ConfigProblem(subject, IngressAnnotations.PREFIX + "backend-protocol: "
                                                           + ann.backendProtocol() + " is not supported yet "
                                                           + "(supported: HTTP, GRPC, H2C); its paths answer 503 "
                                                           + "rather than send plain HTTP/1.1 to that upstream"));
            }
            if (ing.getSpec() == null) {
                parsed.problems.add(new ConfigProblem(subject, "spec: missing"));
                return parsed;
            }
            parsed.served = true;
            String ns = namespace(ing);
            List<IngressRule> rules = ing.getSpec().getRules() == null ? List.of() : ing.getSpec().getRules();
            for (int ri = 0; ri < rules.size(); ri++) {
                IngressRule rule = rules.get(ri);
                String host = rule.getHost() == null ? "" : rule.getHost().toLowerCase(Locale.ROOT);
                if (!host.isEmpty() && !isValidHost(host)) {
                    parsed.paths.add(new ParsedPath(new ConfigProblem(
                            subject, "spec.rules[" + ri + "].host: \"" + rule.getHost() + "\" (expected: a DNS name "
                                     + "such as foo.example.com or a wildcard such as *.example.com); rule ignored")));
                    continue;
                }
                parsed.hosts.add(host);
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
                        parsed.paths.add(new ParsedPath(new ConfigProblem(
                                subject, where + ".pathType: " + (p.getPathType() == null ? "missing"
                                                                                          : '"' + p.getPathType() + '"')
                                         + " (expected: Exact, Prefix or ImplementationSpecific); path ignored")));
                        continue;
                    }
                    if (!path.startsWith("/")) {
                        parsed.paths.add(new ParsedPath(new ConfigProblem(
                                subject, where + ".path: \"" + path + "\" (expected: an absolute path starting "
                                         + "with /); path ignored")));
                        continue;
                    }
                    parsed.paths.add(new ParsedPath(parsed, host, type, path, where,
                                                BackendSource.of(ns, subject, p.getBackend(), where + ".backend")));
                }
            }
            if (ing.getSpec().getDefaultBackend() != null) {
                parsed.defaultBackend = BackendSource.of(ns, subject, ing.getSpec().getDefaultBackend(),
                                                     "spec.defaultBackend");
                parsed.noRules = rules.isEmpty();
            }
            return parsed;
        }
    }

    /** One path of an Ingress rule, and the route the last compile made of it. */
    private static final class ParsedPath {
        final ConfigProblem problem; // non-null: reported, and the path ignored
        final String host;
        final PathType type;
        final String path;
        final String where;
        final BackendSource backend;
        /** Under which two paths are the same rule: the older Ingress keeps it. */
        final String dedupe;
        final String routeName;
        /** Whether this path turns every path of its host into a regex (use-regex, or a rewrite). */
        final boolean makesHostRegex;
        // The last compile's route of this path and its view; reused while its inputs are the same instances.
        PlannedPath planned;
        RouteView view;

        ParsedPath(ConfigProblem problem) {
            this.problem = problem;
            this.host = null;
            this.type = null;
            this.path = null;
            this.where = null;
            this.backend = null;
            this.dedupe = null;
            this.routeName = null;
            this.makesHostRegex = false;
        }

        ParsedPath(ParsedIngress ingress, String host, PathType type, String path, String where,
                   BackendSource backend) {
            this.problem = null;
            this.host = host;
            this.type = type;
            this.path = path;
            this.where = where;
            this.backend = backend;
            this.dedupe = host + ' ' + type + ' ' + normalize(type, path);
            this.routeName = ingress.key + ':' + host + path;
            this.makesHostRegex = ingress.annotations.useRegex()
                                  || needsRewrite(ingress.annotations.rewriteTarget(), path);
        }
    }

    /**
     * An Ingress backend as the Ingress alone says it: either what cannot be served whatever the cluster holds
     * ({@link #fixed}), or a Service and port to look up; and what the last compile resolved it to.
     */
    private static final class BackendSource {
        private final String subject;
        private final String where;
        final BackendRef fixed;
        final ConfigProblem fixedProblem;
        final String serviceKey;
        final String name;
        final Integer number;
        final String portName;
        // The last resolution, and what it was made from.
        Service service;
        ResolvedService resolved;
        BackendRef ref;
        ConfigProblem problem;

        private BackendSource(String subject, String where, BackendRef fixed, ConfigProblem fixedProblem,
                              String serviceKey, String name, Integer number, String portName) {
            this.subject = subject;
            this.where = where;
            this.fixed = fixed;
            this.fixedProblem = fixedProblem;
            this.serviceKey = serviceKey;
            this.name = name;
            this.number = number;
            this.portName = portName;
        }

        static BackendSource of(String ns, String subject, IngressBackend b, String where) {
            if (b == null) {
                return fixed(subject, where, new BackendRef(ns + "/<none>", List.of()),
                             ": missing (expected: service)");
            }
            if (b.getResource() != null) {
                return fixed(subject, where, new BackendRef(ns + "/" + b.getResource().getKind() + ':'
                                                            + b.getResource().getName(), List.of()),
                             ".resource: " + b.getResource().getKind() + ' ' + b.getResource().getName()
                             + " (expected: service; resource backends are not supported); answered 503");
            }
            IngressServiceBackend svc = b.getService();
            if (svc == null || svc.getName() == null || svc.getName().isEmpty()) {
                return fixed(subject, where, new BackendRef(ns + "/<none>", List.of()),
                             ".service.name: missing; answered 503");
            }
            Integer number = svc.getPort() == null ? null : svc.getPort().getNumber();
            String portName = svc.getPort() == null ? null : svc.getPort().getName();
            boolean hasNumber = number != null && number != 0;
            boolean hasName = portName != null && !portName.isEmpty();
            String serviceKey = ns + '/' + svc.getName();
            String name = serviceKey + ':' + (hasNumber ? String.valueOf(number) : hasName ? portName : "<none>");
            if (hasNumber == hasName) {
                return fixed(subject, where, new BackendRef(name, List.of()),
                             ".service.port: " + (hasNumber ? "both number and name" : "missing")
                             + " (expected: a number or a name); answered 503");
            }
            return new BackendSource(subject, where, null, null, serviceKey, name, hasNumber ? number : null,
                                     hasNumber ? null : portName);
        }

        private static BackendSource fixed(String subject, String where, BackendRef ref, String problem) {
            return new BackendSource(subject, where, ref, new ConfigProblem(subject, where + problem), null,
                                     ref.name(), null, null);
        }

        ConfigProblem problem(String detail) {
            return new ConfigProblem(subject, where + detail);
        }
    }

    /**
     * The endpoints of one Service's ports, resolved from its EndpointSlices (or legacy Endpoints) as they were when
     * resolved; reused by the next compile while the Service and those objects are the same instances.
     */
    private static final class ResolvedService {
        private final Service service;
        private final List<EndpointSlice> slices;
        private final Endpoints legacy;
        private final Map<ServicePort, List<Endpoint>> ports = new IdentityHashMap<>(4);

        ResolvedService(Service service, List<EndpointSlice> slices, Endpoints legacy) {
            this.service = service;
            this.slices = slices;
            this.legacy = legacy;
        }

        /** Whether this was resolved from exactly these instances. */
        boolean isOf(Service service, List<EndpointSlice> slices, Endpoints legacy) {
            if (this.service != service || this.legacy != legacy || this.slices.size() != slices.size()) {
                return false;
            }
            for (int i = 0; i < slices.size(); i++) {
                if (this.slices.get(i) != slices.get(i)) {
                    return false;
                }
            }
            return true;
        }

        /** The ready endpoints of {@code port}, a port of this Service. */
        List<Endpoint> endpoints(ServicePort port) {
            List<Endpoint> endpoints = ports.get(port);
            if (endpoints == null) {
                endpoints = (slices.isEmpty() && legacy != null ? EndpointResolver.fromEndpoints(legacy, port)
                                                                : EndpointResolver.fromSlices(slices, port))
                        .endpoints();
                ports.put(port, endpoints);
            }
            return endpoints;
        }
    }

    /**
     * What makes two routes share a backend: the Service port, the balancer, and the passive health setting (routes
     * that count failures differently get backends of their own, so that an endpoint one route ejected is not
     * skipped by a route with {@code upstream-max-fails: 0}, nor by one that tolerates more). A route that must not
     * be served has no endpoints, and a backend of its own.
     */
    private record BackendKey(String name, IngressAnnotations.LoadBalance lb, int maxFails, Duration failTimeout,
                              boolean empty) {
    }

    /** A backend and the endpoint list it was built from. */
    private record BuiltBackend(Backend backend, List<Endpoint> source) {
        boolean hasEndpoints(List<Endpoint> endpoints) {
            return source == endpoints || source.equals(endpoints);
        }
    }

    /** One endpoint's passive health under one setting, and how many endpoints of live backends share it. */
    private static final class SharedHealth {
        final EndpointHealth health;
        int users;

        SharedHealth(EndpointHealth health) {
            this.health = health;
        }
    }

    /**
     * The backends of one compile: one per {@link BackendKey}, shared by every route that uses it, and the last
     * compile's when its endpoints are unchanged.
     */
    private final class Backends {
        /**
         * The counters every HTTP backend shares: the edge proxy counts per route ({@link RouteStats}) and never
         * into a backend's {@link BackendStats}, and one set per backend would be ~280 bytes each (before any
         * traffic), made anew at every compile.
         */
        private static final BackendStats UNCOUNTED = new BackendStats();

        private final Map<BackendKey, BuiltBackend> built = new HashMap<>(capacity(lastBackends.size()));
        private final Map<Backend, BackendKey> live = new IdentityHashMap<>(lastLive.size());
        private final Map<String, EwmaBalancer> ewma = new HashMap<>();
        // The passive health handed to the backends built in this compile, so that they share it.
        private final Map<HealthKey, EndpointHealth> handedOut = new HashMap<>();

        /** The backend of {@code ref} balanced by {@code lb}, for routes with {@code policy}'s health setting. */
        Backend get(BackendRef ref, IngressAnnotations.LoadBalance lb, RoutePolicy policy) {
            BackendKey key = new BackendKey(ref.name(), lb, policy.maxFails(), policy.failTimeout(),
                                            ref.endpoints().isEmpty());
            BuiltBackend b = built.get(key);
            if (b == null || !b.hasEndpoints(ref.endpoints())) {
                BuiltBackend last = lastBackends.get(key);
                b = last != null && last.hasEndpoints(ref.endpoints()) ? last : build(key, ref.endpoints());
                built.put(key, b);
                if (lb == IngressAnnotations.LoadBalance.EWMA) {
                    ewma.putIfAbsent(key.name(), (EwmaBalancer) b.backend().balancer());
                }
            }
            live.put(b.backend(), key);
            return b.backend();
        }

        private BuiltBackend build(BackendKey key, List<Endpoint> endpoints) {
            Balancer balancer = key.lb() == IngressAnnotations.LoadBalance.EWMA
                                ? EwmaBalancer.create(endpoints, lastEwma.get(key.name()))
                                : RoundRobinBalancer.create();
            Backend backend = Backend.builder(key.name(), endpoints, balancer)
                                     .stats(UNCOUNTED)
                                     .health(a -> handedOut.computeIfAbsent(
                                             new HealthKey(a, key.maxFails(), key.failTimeout()), k -> {
                                                 SharedHealth h = health.get(k);
                                                 return h != null ? h.health : new EndpointHealth();
                                             }))
                                     .build();
            return new BuiltBackend(backend, endpoints);
        }

        /**
         * Makes this compile's backends the ones the next compile starts from: the passive health of the endpoints
         * of new backends is kept, that of endpoints no live backend has any more is forgotten.
         */
        void commit() {
            for (Map.Entry<Backend, BackendKey> e : live.entrySet()) {
                if (!lastLive.containsKey(e.getKey())) {
                    Backend b = e.getKey();
                    for (int i = 0; i < b.size(); i++) {
                        HealthKey k = healthKey(b, i, e.getValue());
                        SharedHealth h = health.get(k);
                        if (h == null) {
                            health.put(k, h = new SharedHealth(b.health(i)));
                        }
                        h.users++;
                    }
                }
            }
            for (Map.Entry<Backend, BackendKey> e : lastLive.entrySet()) {
                if (!live.containsKey(e.getKey())) {
                    Backend b = e.getKey();
                    for (int i = 0; i < b.size(); i++) {
                        HealthKey k = healthKey(b, i, e.getValue());
                        SharedHealth h = health.get(k);
                        if (h != null && --h.users == 0) {
                            health.remove(k);
                        }
                    }
                }
            }
            lastLive = live;
            lastBackends = built;
            lastEwma = ewma;
        }

        private HealthKey healthKey(Backend b, int index, BackendKey key) {
            return new HealthKey(b.endpoint(index).address(), key.maxFails(), key.failTimeout());
        }
    }

    /**
     * The route policies of one compile: one per Ingress (its annotations over the defaults) and backend protocol,
     * shared by its routes without a rewrite, and the last compile's while its annotations are the same instance.
     */
    private final class Policies {
        final Map<IngressAnnotations, RoutePolicy[]> made = new IdentityHashMap<>();

        RoutePolicy of(IngressAnnotations ann, BackendRef ref) {
            RoutePolicy[] pair = made.get(ann);
            if (pair == null) {
                pair = lastPolicies.get(ann);
                made.put(ann, pair = pair != null ? pair : new RoutePolicy[2]);
            }
            int i = ref.h2c() ? 1 : 0;
            RoutePolicy p = pair[i];
            if (p == null) {
                pair[i] = p = ref.protocolOf(ann, ann.applyTo(defaults)).build();
            }
            return p;
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
        int start = host.startsWith("*.") ? 2 : 0;
        int length = host.length() - start;
        if (length == 0 || length > 253 || NetUtil.isValidIpV4Address(start == 0 ? host : host.substring(start))) {
            return false;
        }
        // Labels of 1-63 letters, digits and dashes, neither starting nor ending with a dash (what the regex
        // [a-z0-9]([-a-z0-9]{0,61}[a-z0-9])? matches, by hand: this runs for every host of every compile).
        int label = start;
        for (int i = start; i <= host.length(); i++) {
            char c = i == host.length() ? '.' : host.charAt(i);
            if (c == '.') {
                int n = i - label;
                if (n == 0 || n > 63 || host.charAt(label) == '-' || host.charAt(i - 1) == '-') {
                    return false;
                }
                label = i + 1;
            } else if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    /** A {@link HashMap} capacity for {@code size} entries without a resize. */
    private static int capacity(int size) {
        return (int) Math.min(1 << 30, size * 4L / 3 + 1);
    }

    private static String namespace(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return ns == null || ns.isEmpty() ? "default" : ns;
    }
}
