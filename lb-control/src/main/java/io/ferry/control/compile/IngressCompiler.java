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
 * passive health with it); an Ingress that is the same instance keeps its parsed annotations and creation time.
 * The rest — rules, conflicts, regex hosts, the route table — is planned again each time.
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
    // The parsed annotations of each Ingress the last compile served, by instance.
    private Map<Ingress, IngressAnnotations> lastAnnotations = new IdentityHashMap<>();
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

    synchronized Plan plan(ClusterState state) {
        requireNonNull(state, "state");
        IngressClassFilter filter = new IngressClassFilter(ingressClass, watchWithoutClass, state.ingressClasses());
        Cluster cluster = new Cluster(state, lastResolved);
        Map<String, RouteStats> nextStats = new HashMap<>();
        List<Ingress> served = new ArrayList<>();
        for (Ingress ing : state.ingresses()) {
            if (ing.getMetadata() != null && ing.getMetadata().getName() != null && filter.serves(ing)) {
                served.add(ing);
            }
        }
        order.sort(served);
        Map<Ingress, IngressAnnotations> annotations = new IdentityHashMap<>(served.size() * 4 / 3 + 1);

        Set<ConfigProblem> problems = new LinkedHashSet<>();
        List<Candidate> candidates = new ArrayList<>();
        Map<String, Candidate> seen = new HashMap<>();
        Set<String> regexHosts = new HashSet<>();
        Map<String, DefaultCandidate> hostDefaults = new LinkedHashMap<>();
        DefaultCandidate tableDefault = null;

        for (Ingress ing : served) {
            String key = order.keyOf(ing);
            String subject = "Ingress " + key;
            IngressAnnotations ann = lastAnnotations.get(ing);
            if (ann == null) {
                ann = IngressAnnotations.parse(ing.getMetadata().getAnnotations());
            }
            annotations.put(ing, ann);
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

        Backends backends = new Backends();
        Policies policies = new Policies();
        List<PlannedPath> planned = new ArrayList<>();
        List<RouteView> views = new ArrayList<>();
        Map<String, Candidate> regexSeen = new HashMap<>();
        for (Candidate c : candidates) {
            String subject = "Ingress " + c.key();
            boolean regex = regexHosts.contains(c.host());
            PathType type = regex ? PathType.REGEX : c.type();
            RoutePolicy.Builder policy = null; // only for a rewrite; otherwise the Ingress's policy is shared
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
                        policy = c.backend().protocolOf(c.annotations(), c.annotations().applyTo(defaults))
                                  .rewrite(pattern, target);
                    }
                }
            }
            RoutePolicy built = policy != null ? policy.build() : policies.of(c.annotations(), c.backend());
            Backend backend = backends.get(c.backend(), c.annotations().loadBalance(), built);
            String routeName = c.key() + ':' + c.host() + c.path();
            Route route = Route.of(routeName, backend, built, statsFor(routeName, nextStats));
            planned.add(new PlannedPath(c.host(), type, c.path(), route));
            views.add(view(Kind.PATH, route, c.host(), c.path(), type.name(), c.key()));
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
        lastAnnotations = annotations;
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
        private final Map<String, Service> services = new HashMap<>();
        private final Map<String, List<EndpointSlice>> slices = new HashMap<>();
        private final Map<String, Endpoints> legacy = new HashMap<>();
        private final Map<String, ResolvedService> previous;
        // The Services whose endpoints this compile resolved, by namespace/name: every path to the same port shares
        // one list of Endpoint objects, and the next compile reuses it if nothing it came from changed.
        final Map<String, ResolvedService> resolved = new HashMap<>();

        Cluster(ClusterState state, Map<String, ResolvedService> previous) {
            this.previous = previous;
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
            String subject = "Ingress " + OldestFirst.key(ing);
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
            List<ServicePort> ports = service.getSpec().getPorts() == null ? List.of() : service.getSpec().getPorts();
            for (ServicePort p : ports) {
                if (hasNumber ? number.equals(p.getPort()) : portName.equals(p.getName())) {
                    port = p;
                }
            }
            if (port == null) {
                List<String> known = new ArrayList<>();
                for (ServicePort p : ports) {
                    known.add(p.getName() == null ? String.valueOf(p.getPort()) : p.getName() + '=' + p.getPort());
                }
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
            return new BackendRef(name, rs.endpoints(port), h2c);
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

        private final Map<BackendKey, BuiltBackend> built = new HashMap<>();
        private final Map<Backend, BackendKey> live = new IdentityHashMap<>();
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

    private static String namespace(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return ns == null || ns.isEmpty() ? "default" : ns;
    }
}
