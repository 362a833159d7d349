package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.ferry.control.compile.CompiledServices.PortView;
import io.ferry.control.compile.CompiledServices.ServiceView;
import io.ferry.l4.Backend;
import io.ferry.l4.BackendStats;
import io.ferry.l4.Balancer;
import io.ferry.l4.Balancers;
import io.ferry.l4.Endpoint;
import io.ferry.l4.EndpointHealth;
import io.ferry.l4.L4Table;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import io.ferry.l4.RandomBalancer;
import io.ferry.l4.SessionAffinity;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Compiles Services and their endpoints into the {@link L4Table}, as kube-proxy programs its rules.
 *
 * <p>Per Service (see {@code shared/reference/kubernetes-semantics.md}): Services labelled
 * {@code service.kubernetes.io/service-proxy-name} belong to another proxy and are skipped, as are ExternalName
 * Services; each TCP port gets a listener on every ClusterIP (none for a headless Service) and, for NodePort and
 * LoadBalancer Services, on every node address at its nodePort; endpoints come from {@link EndpointResolver}.
 *
 * <p>Bad versions are refused as the API server refuses a write: a Service with an invalid field (including two
 * ports with the same port and protocol, or the same nodePort and protocol), or one that wants a listener another
 * Service holds, is rejected whole and reported. The compiler remembers the version of each Service it admitted
 * last; when a Service that was valid changes into one that is not, that last valid version stays live and the
 * report says so, as the API server would have kept the old object. Conflicts are settled the same way: the live
 * versions keep the listeners they hold, and the changed and new Services then claim theirs one by one, the older
 * first (by {@code creationTimestamp}). A deleted Service is forgotten.
 *
 * <p>Stateful: confined to the control thread ({@code ControlLoop} calls {@link #compile(ClusterState)} there and
 * nowhere else). Compiling the same state again gives the same result.
 */
public final class ServiceCompiler {

    /** The Kubernetes default NodePort range. */
    public static final int NODE_PORT_MIN = 30000;
    public static final int NODE_PORT_MAX = 32767;

    static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
    static final String SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
    static final String HEADLESS_LABEL = "service.kubernetes.io/headless";
    /** Annotation: {@code v2} sends a PROXY protocol v2 header to the endpoints first. */
    public static final String PROXY_PROTOCOL_ANNOTATION = "ferry.io/proxy-protocol";
    /** Annotation: the balancer of every port of the Service. */
    public static final String LB_ALGORITHM_ANNOTATION = "ferry.io/lb-algorithm";

    private final List<InetAddress> nodeAddresses;
    private final String nodeName;
    // Control thread only: by namespace/name, the version of each Service the last compile admitted.
    private final Map<String, Admitted> admitted = new HashMap<>();
    // Control thread only: by namespace/name, what the last compile built of each admitted Service. A Service whose
    // admitted version, EndpointSlices and Endpoints are the same instances as then is not built again (an
    // informer hands unchanged objects over as the same instances): its listeners, backends and view are reused.
    // Otherwise the new build takes over the state of each Service port of the same name — the counters (so that
    // /metrics counts run on across table swaps), ClientIP affinity (pins survive swaps), each endpoint's passive
    // health, and the balancers (so that stateful ones carry on).
    private Map<String, Built> built = new HashMap<>();

    /**
     * A compiler for a node with no name: {@code Local} traffic policies find no local endpoint.
     *
     * @param nodeAddresses where NodePort listeners bind; the wildcard address means every local address
     */
    public ServiceCompiler(List<InetAddress> nodeAddresses) {
        this(nodeAddresses, null);
    }

    /**
     * @param nodeAddresses where NodePort listeners bind; the wildcard address means every local address
     * @param nodeName this node's name, matched against EndpointSlices' {@code nodeName} for {@code Local} traffic
     *                 policies; {@code null} if unknown
     */
    public ServiceCompiler(List<InetAddress> nodeAddresses, String nodeName) {
        this.nodeAddresses = List.copyOf(requireNonNull(nodeAddresses, "nodeAddresses"));
        this.nodeName = nodeName;
    }

    /** Whether a Service of this type has node ports (NodePort and LoadBalancer). */
    public static boolean hasNodePorts(Service s) {
        String type = s.getSpec() == null ? null : s.getSpec().getType();
        return "NodePort".equals(type) || "LoadBalancer".equals(type);
    }

    /** Compiles {@code state}; call on the control thread only. */
    public CompiledServices compile(ClusterState state) {
        requireNonNull(state, "state");
        Map<String, List<EndpointSlice>> slicesByService = new HashMap<>(state.endpointSlices().size() * 4 / 3 + 1);
        for (EndpointSlice slice : state.endpointSlices()) {
            Map<String, String> labels = labels(slice);
            String service = labels.get(SERVICE_NAME_LABEL);
            if (service == null || labels.containsKey(HEADLESS_LABEL) || labels.containsKey(SERVICE_PROXY_NAME_LABEL)) {
                continue;
            }
            slicesByService.computeIfAbsent(namespace(slice) + '/' + service, k -> new ArrayList<>()).add(slice);
        }
        Map<String, Endpoints> legacy = new HashMap<>();
        for (Endpoints e : state.endpoints()) {
            legacy.put(namespace(e) + '/' + e.getMetadata().getName(), e);
        }

        List<Keyed> eligible = new ArrayList<>(state.services().size());
        for (Service s : state.services()) {
            if (s.getSpec() != null && !labels(s).containsKey(SERVICE_PROXY_NAME_LABEL)
                && !"ExternalName".equals(s.getSpec().getType())) {
                eligible.add(new Keyed(s, key(s), timestamp(s)));
            }
        }
        eligible.sort(Comparator.comparing(Keyed::timestamp).thenComparing(Keyed::key));
        Map<String, Service> services = new LinkedHashMap<>(eligible.size() * 4 / 3 + 1);
        for (Keyed k : eligible) {
            services.putIfAbsent(k.key, k.service);
        }

        // The live versions first: they were admitted together, so they hold their listeners without conflict.
        admitted.keySet().retainAll(services.keySet());
        Claims claims = new Claims();
        admitted.values().forEach(claims::add);
        // Then every change, oldest Service first, each against what is admitted so far. An edit that needs a
        // listener another edit in this same state frees is admitted by a further pass.
        Map<String, String> rejected = new HashMap<>();
        List<Admitted> candidates = new ArrayList<>();
        for (Service s : services.values()) {
            String key = key(s);
            Admitted live = admitted.get(key);
            if (live == null || !live.service.equals(s)) {
                try {
                    candidates.add(validate(s, key));
                } catch (InvalidServiceException e) {
                    rejected.put(key, e.getMessage());
                }
            }
        }
        for (boolean progress = true; progress; ) {
            progress = false;
            for (Iterator<Admitted> it = candidates.iterator(); it.hasNext(); ) {
                Admitted next = it.next();
                try {
                    claims.check(next);
                } catch (InvalidServiceException e) {
                    rejected.put(next.key, e.getMessage());
                    continue;
                }
                Admitted live = admitted.put(next.key, next);
                if (live != null) {
                    claims.remove(live);
                }
                claims.add(next);
                rejected.remove(next.key);
                it.remove();
                progress = true;
            }
        }
        List<ConfigProblem> problems = new ArrayList<>();
        for (String key : services.keySet()) {
            String reason = rejected.get(key);
            if (reason != null) {
                problems.add(new ConfigProblem("Service " + key, admitted.containsKey(key)
                        ? reason + "; the last valid version stays live" : reason));
            }
        }

        L4Table.Builder table = L4Table.builder();
        List<ServiceView> views = new ArrayList<>();
        List<CompiledServices.HealthCheck> healthChecks = new ArrayList<>();
        Map<String, Built> next = new HashMap<>(built.size() * 4 / 3 + 1);
        for (String key : services.keySet()) {
            Admitted a = admitted.get(key);
            if (a == null) {
                continue;
            }
            List<EndpointSlice> slices = slicesByService.getOrDefault(key, List.of());
            Endpoints endpoints = legacy.get(key);
            Built b = built.get(key);
            if (b == null || !b.sameInputs(a, slices, endpoints)) {
                b = build(a, slices, endpoints, b);
            }
            next.put(key, b);
            for (int i = 0; i < b.keys.length; i++) {
                table.add(b.keys[i], b.backends[i]);
            }
            views.add(b.view);
            if (b.healthCheck != null) {
                healthChecks.add(b.healthCheck);
            }
            problems.addAll(b.problems);
        }
        built = next;
        views.sort(Comparator.comparing(ServiceView::namespace).thenComparing(ServiceView::name));
        return new CompiledServices(table.build(), views, problems, healthChecks);
    }

    /** Checks one version of a Service on its own, and works out the listeners it wants. */
    private Admitted validate(Service s, String key) throws InvalidServiceException {
        String type = s.getSpec().getType() == null ? "ClusterIP" : s.getSpec().getType();
        if (!"ClusterIP".equals(type) && !"NodePort".equals(type) && !"LoadBalancer".equals(type)) {
            throw new InvalidServiceException("spec.type: " + type
                                              + " (expected: ClusterIP, NodePort, LoadBalancer or ExternalName)");
        }
        List<InetAddress> clusterIps = clusterIps(s);
        List<InetAddress> externalIps = externalIps(s, type);
        boolean internalLocal = trafficPolicy(s.getSpec().getInternalTrafficPolicy(), "spec.internalTrafficPolicy");
        boolean externalLocal = trafficPolicy(s.getSpec().getExternalTrafficPolicy(), "spec.externalTrafficPolicy");
        Duration affinity = affinity(s);
        List<ServicePort> ports = ports(s);
        boolean nodePorts = hasNodePorts(s);
        Map<ListenerKey, Integer> keys = new LinkedHashMap<>();
        Set<ListenerKey> external = new java.util.HashSet<>();
        Protocol[] protocols = new Protocol[ports.size()];
        for (int i = 0; i < ports.size(); i++) {
            ServicePort p = ports.get(i);
            Protocol protocol = protocol(p, i);
            protocols[i] = protocol;
            if (p.getPort() == null || p.getPort() < 1 || p.getPort() > 65535) {
                throw new InvalidServiceException(where(i) + ".port: " + p.getPort() + " (expected: 1-65535)");
            }
            String name = p.getName() == null ? "" : p.getName();
            Integer nodePort = p.getNodePort();
            // The ports are few: comparing with each earlier one is cheaper than maps of strings.
            for (int j = 0; j < i; j++) {
                ServicePort q = ports.get(j);
                if (protocols[j] == protocol && q.getPort().intValue() == p.getPort()) {
                    throw new InvalidServiceException(where(i) + ".port: " + p.getPort() + "/" + protocol
                                                      + " (expected: a port and protocol unique among the ports; "
                                                      + where(j) + " has it)");
                }
            }
            for (int j = 0; j < i; j++) {
                ServicePort q = ports.get(j);
                if (name.equals(q.getName() == null ? "" : q.getName())) {
                    throw new InvalidServiceException(where(i) + ".name: " + p.getName()
                            + " (expected: unique among the ports; name every port when there are several)");
                }
            }
            if (nodePorts) {
                if (nodePort == null) {
                    throw new InvalidServiceException(where(i) + ".nodePort: missing (expected: "
                                                      + NODE_PORT_MIN + '-' + NODE_PORT_MAX + ')');
                }
                if (nodePort < NODE_PORT_MIN || nodePort > NODE_PORT_MAX) {
                    throw new InvalidServiceException(where(i) + ".nodePort: " + nodePort + " (expected: "
                                                      + NODE_PORT_MIN + '-' + NODE_PORT_MAX + ')');
                }
                for (int j = 0; j < i; j++) {
                    if (protocols[j] == protocol && nodePort.equals(ports.get(j).getNodePort())) {
                        throw new InvalidServiceException(where(i) + ".nodePort: " + nodePort + "/" + protocol
                                + " (expected: a nodePort and protocol unique among the ports; " + where(j)
                                + " has it)");
                    }
                }
            }
            if (protocol == Protocol.SCTP) {
                continue; // not served: the port is shown in /config_dump with no listener
            }
            for (InetAddress ip : clusterIps) {
                want(keys, ListenerKey.of(ip, p.getPort(), protocol), i);
            }
            if (nodePorts) {
                for (InetAddress node : nodeAddresses) {
                    ListenerKey k = ListenerKey.of(node, nodePort, protocol);
                    want(keys, k, i);
                    external.add(k);
                }
            }
            for (InetAddress ip : externalIps) {
                ListenerKey k = ListenerKey.of(ip, p.getPort(), protocol);
                want(keys, k, i);
                external.add(k);
            }
        }
        // A wildcard listener and a specific address on the same port cannot both be bound.
        Map<Integer, ListenerKey> wildcards = new HashMap<>();
        Map<Integer, ListenerKey> specifics = new HashMap<>();
        for (ListenerKey k : keys.keySet()) {
            Integer port = portKey(k);
            (k.isWildcard() ? wildcards : specifics).putIfAbsent(port, k);
            ListenerKey other = (k.isWildcard() ? specifics : wildcards).get(port);
            if (other != null) {
                throw new InvalidServiceException(k + " conflicts with " + other + " of the same Service");
            }
        }
        return new Admitted(s, key, type, clusterIps, keys, external, internalLocal, externalLocal, affinity);
    }

    /** {@code spec.externalIPs}, and for a LoadBalancer its {@code status.loadBalancer.ingress[].ip} (but not
     *  those with {@code ipMode: Proxy}, whose load balancer delivers traffic to the nodes itself). */
    private static List<InetAddress> externalIps(Service s, String type) throws InvalidServiceException {
        List<InetAddress> out = new ArrayList<>();
        List<String> external = s.getSpec().getExternalIPs();
        if (external != null) {
            for (int i = 0; i < external.size(); i++) {
                InetAddress ip = EndpointResolver.literal(external.get(i));
                if (ip == null || ip.isAnyLocalAddress()) {
                    throw new InvalidServiceException("spec.externalIPs[" + i + "]: " + external.get(i)
                                                      + " (expected: an IP address)");
                }
                if (!out.contains(ip)) {
                    out.add(ip);
                }
            }
        }
        if ("LoadBalancer".equals(type) && s.getStatus() != null && s.getStatus().getLoadBalancer() != null
            && s.getStatus().getLoadBalancer().getIngress() != null) {
            for (var ingress : s.getStatus().getLoadBalancer().getIngress()) {
                InetAddress ip = EndpointResolver.literal(ingress.getIp());
                if (ip != null && !ip.isAnyLocalAddress() && !"Proxy".equals(ingress.getIpMode())
                    && !out.contains(ip)) {
                    out.add(ip); // a bad status address is the load balancer's problem, not the Service's
                }
            }
        }
        return out;
    }

    /** Whether a traffic policy is {@code Local} ({@code Cluster} when unset). */
    private static boolean trafficPolicy(String value, String field) throws InvalidServiceException {
        if (value == null || "Cluster".equals(value)) {
            return false;
        }
        if ("Local".equals(value)) {
            return true;
        }
        throw new InvalidServiceException(field + ": " + value + " (expected: Cluster or Local)");
    }

    /** The {@code ClientIP} affinity timeout, or {@code null} for {@code sessionAffinity: None}. */
    private static Duration affinity(Service s) throws InvalidServiceException {
        String mode = s.getSpec().getSessionAffinity();
        if (mode == null || "None".equals(mode)) {
            return null;
        }
        if (!"ClientIP".equals(mode)) {
            throw new InvalidServiceException("spec.sessionAffinity: " + mode + " (expected: None or ClientIP)");
        }
        var config = s.getSpec().getSessionAffinityConfig();
        Integer seconds = config == null || config.getClientIP() == null ? null
                                                                         : config.getClientIP().getTimeoutSeconds();
        if (seconds == null) {
            return SessionAffinity.DEFAULT_TIMEOUT;
        }
        if (seconds < 1 || seconds > 86_400) {
            throw new InvalidServiceException("spec.sessionAffinityConfig.clientIP.timeoutSeconds: " + seconds
                                              + " (expected: 1-86400)");
        }
        return Duration.ofSeconds(seconds);
    }

    private static String where(int port) {
        return "spec.ports[" + port + ']';
    }

    /** A listener's protocol and port, without its address, as one number. */
    private static Integer portKey(ListenerKey k) {
        return k.protocol().ordinal() << 16 | k.port();
    }

    private static void want(Map<ListenerKey, Integer> keys, ListenerKey k, int index) throws InvalidServiceException {
        Integer first = keys.putIfAbsent(k, index);
        if (first != null) {
            throw new InvalidServiceException("spec.ports[" + index + "]: " + k + " (expected: a listener no other port"
                                              + " of the Service has; spec.ports[" + first + "] has it)");
        }
    }

    /**
     * Builds an admitted Service's backends, listeners and view, taking over the per-port state of {@code previous}
     * (its last build, or {@code null}).
     */
    private Built build(Admitted a, List<EndpointSlice> slices, Endpoints legacy, Built previous) {
        List<ConfigProblem> problems = new ArrayList<>(0);
        List<ServicePort> ports = ports(a.service);
        boolean proxyProtocol = proxyProtocol(a, problems);
        String algorithm = annotation(a.service, LB_ALGORITHM_ANNOTATION);
        List<PortView> portViews = new ArrayList<>(ports.size());
        Map<String, PortState> states = new HashMap<>(ports.size() * 2);
        ListenerKey[] keys = new ListenerKey[a.keys.size()];
        Backend[] backends = new Backend[keys.length];
        int listenerCount = 0;
        int localEndpoints = 0;
        for (int i = 0; i < ports.size(); i++) {
            ServicePort p = ports.get(i);
            String protocol = p.getProtocol() == null ? "TCP" : p.getProtocol();
            String backendName = a.key + ':' + p.getPort() + '/' + protocol;
            EndpointResolver.Candidates candidates = slices.isEmpty() && legacy != null
                                                     ? EndpointResolver.endpointsCandidates(legacy, p)
                                                     : EndpointResolver.slicesCandidates(slices, p);
            // ClusterIP traffic follows internalTrafficPolicy; node-port, external-IP and load-balancer traffic
            // externalTrafficPolicy.
            EndpointResolver.Resolved internal = candidates.select(a.internalLocal ? localNode() : null);
            EndpointResolver.Resolved external = a.externalLocal == a.internalLocal ? internal
                    : candidates.select(a.externalLocal ? localNode() : null);
            if (a.externalLocal) {
                localEndpoints += external.endpoints().size();
            }

            PortState was = previous == null ? null : previous.ports.get(backendName);
            BackendStats stats = was != null ? was.stats : new BackendStats();
            List<InetSocketAddress> addresses = candidates.addresses();
            SessionAffinity affinity = null;
            if (a.affinity != null) {
                affinity = was == null ? null : was.affinity;
                if (affinity == null || !affinity.timeout().equals(a.affinity)) {
                    affinity = SessionAffinity.of(a.affinity);
                }
                affinity.retainEndpoints(new java.util.HashSet<>(addresses));
            }
            Map<InetSocketAddress, EndpointHealth> previousHealth = was == null ? Map.of() : was.health;
            Map<InetSocketAddress, EndpointHealth> health = new HashMap<>(addresses.size() * 4 / 3 + 1);
            for (InetSocketAddress address : addresses) {
                EndpointHealth h = previousHealth.get(address);
                health.put(address, h != null ? h : new EndpointHealth());
            }
            Balancer balancer = balancer(a, algorithm, internal.endpoints(), was == null ? null : was.balancer,
                                         problems, i == 0);
            Backend internalBackend = backend(backendName, internal.endpoints(), balancer, stats, affinity,
                                              health::get, proxyProtocol);
            Balancer externalBalancer = null;
            Backend externalBackend = internalBackend;
            if (!external.endpoints().equals(internal.endpoints())) {
                externalBalancer = balancer(a, algorithm, external.endpoints(),
                                            was == null ? null : was.externalBalancer, problems, false);
                externalBackend = backend(backendName, external.endpoints(), externalBalancer, stats, affinity,
                                          health::get, proxyProtocol);
            }
            states.put(backendName, new PortState(stats, affinity, health, balancer, externalBalancer));

            List<ListenerKey> listeners = new ArrayList<>(2);
            for (Map.Entry<ListenerKey, Integer> e : a.keys.entrySet()) {
                if (e.getValue() == i) {
                    keys[listenerCount] = e.getKey();
                    backends[listenerCount++] = a.external.contains(e.getKey()) ? externalBackend : internalBackend;
                    listeners.add(e.getKey());
                }
            }
            List<String> internalStrings = TextList.of(internal.endpoints());
            portViews.add(new PortView(p.getName(), p.getPort(), protocol, p.getNodePort(), backendName,
                                       internalStrings, internal.terminatingFallback(), TextList.of(listeners),
                                       externalBackend == internalBackend ? internalStrings
                                                                          : TextList.of(external.endpoints()),
                                       balancer.name(),
                                       a.affinity == null ? null : a.affinity.toSeconds(), proxyProtocol));
        }
        Integer healthCheckNodePort = a.service.getSpec().getHealthCheckNodePort();
        CompiledServices.HealthCheck healthCheck = null;
        if ("LoadBalancer".equals(a.type) && a.externalLocal && healthCheckNodePort != null) {
            healthCheck = new CompiledServices.HealthCheck(healthCheckNodePort, namespace(a.service),
                                                           a.service.getMetadata().getName(), localEndpoints);
        }
        List<String> ipStrings = new ArrayList<>(a.clusterIps.size());
        for (InetAddress ip : a.clusterIps) {
            ipStrings.add(ip.getHostAddress());
        }
        ServiceView view = new ServiceView(namespace(a.service), a.service.getMetadata().getName(), a.type, ipStrings,
                                           a.internalLocal ? "Local" : "Cluster",
                                           a.externalLocal ? "Local" : "Cluster", portViews);
        return new Built(a, slices, legacy, Arrays.copyOf(keys, listenerCount),
                         Arrays.copyOf(backends, listenerCount), view, healthCheck, problems, states);
    }

    private String localNode() {
        // No node name: a Local policy finds no endpoint rather than all of them.
        return nodeName == null ? "" : nodeName;
    }

    private static Backend backend(String name, List<Endpoint> endpoints, Balancer balancer, BackendStats stats,
                                   SessionAffinity affinity,
                                   Function<InetSocketAddress, EndpointHealth> health, boolean proxyProtocol) {
        return Backend.builder(name, endpoints, balancer).stats(stats).affinity(affinity).health(health)
                      .proxyProtocol(proxyProtocol).build();
    }

    /**
     * The balancer for one backend, from the Service's {@code ferry.io/lb-algorithm}; an unknown value is reported
     * (once per Service, by its first port) and the default is used.
     *
     * @param previous the balancer of the same backend in the last build, or {@code null}
     */
    private static Balancer balancer(Admitted a, String algorithm, List<Endpoint> endpoints, Balancer previous,
                                     List<ConfigProblem> problems, boolean report) {
        try {
            return Balancers.create(algorithm, endpoints, previous);
        } catch (IllegalArgumentException e) {
            if (report) {
                problems.add(new ConfigProblem("Service " + a.key, e.getMessage() + "; using random"));
            }
            return RandomBalancer.INSTANCE;
        }
    }

    private static boolean proxyProtocol(Admitted a, List<ConfigProblem> problems) {
        String value = annotation(a.service, PROXY_PROTOCOL_ANNOTATION);
        if (value == null || value.isEmpty()) {
            return false;
        }
        if ("v2".equals(value)) {
            return true;
        }
        problems.add(new ConfigProblem("Service " + a.key, "metadata.annotations[" + PROXY_PROTOCOL_ANNOTATION
                                                          + "]: " + value + " (expected: v2); ignored"));
        return false;
    }

    private static String annotation(Service s, String name) {
        Map<String, String> annotations = s.getMetadata().getAnnotations();
        return annotations == null ? null : annotations.get(name);
    }

    /** A Service of the state with its key and creation time, computed once for the sort. */
    private record Keyed(Service service, String key, String timestamp) {
    }

    /** The state of one Service port that a build hands to the next, so that it survives table swaps. */
    private record PortState(BackendStats stats, SessionAffinity affinity,
                             Map<InetSocketAddress, EndpointHealth> health, Balancer balancer,
                             Balancer externalBalancer) {
    }

    /** What one admitted Service compiled to, with the inputs it was built from. Immutable once built. */
    private static final class Built {
        final Admitted admitted;
        final List<EndpointSlice> slices;
        final Endpoints legacy;
        final ListenerKey[] keys;
        final Backend[] backends; // the backend of each of keys
        final ServiceView view;
        final CompiledServices.HealthCheck healthCheck; // null: none
        final List<ConfigProblem> problems;
        final Map<String, PortState> ports; // by backend name

        Built(Admitted admitted, List<EndpointSlice> slices, Endpoints legacy, ListenerKey[] keys,
              Backend[] backends, ServiceView view, CompiledServices.HealthCheck healthCheck,
              List<ConfigProblem> problems, Map<String, PortState> ports) {
            this.admitted = admitted;
            this.slices = slices;
            this.legacy = legacy;
            this.keys = keys;
            this.backends = backends;
            this.view = view;
            this.healthCheck = healthCheck;
            this.problems = List.copyOf(problems);
            this.ports = ports;
        }

        /** Whether a build from these inputs would give this one: the same instances, in the same order. */
        boolean sameInputs(Admitted a, List<EndpointSlice> s, Endpoints l) {
            if (admitted != a || legacy != l || slices.size() != s.size()) {
                return false;
            }
            for (int i = 0; i < s.size(); i++) {
                if (slices.get(i) != s.get(i)) {
                    return false;
                }
            }
            return true;
        }
    }

    private static List<InetAddress> clusterIps(Service s) throws InvalidServiceException {
        String single = s.getSpec().getClusterIP();
        List<String> list = s.getSpec().getClusterIPs();
        if (single != null && !single.isEmpty() && list != null && !list.isEmpty() && !single.equals(list.get(0))) {
            throw new InvalidServiceException("spec.clusterIPs[0]: " + list.get(0) + " (expected: " + single
                                              + ", the same as spec.clusterIP)");
        }
        List<String> texts = list != null && !list.isEmpty() ? list : single == null ? List.of() : List.of(single);
        List<InetAddress> out = new ArrayList<>();
        for (String text : texts) {
            if ("None".equals(text)) {
                return List.of(); // headless: no ClusterIP to proxy
            }
            InetAddress ip = EndpointResolver.literal(text);
            if (ip == null || ip.isAnyLocalAddress()) {
                throw new InvalidServiceException("spec.clusterIP: " + text + " (expected: an IP address or None)");
            }
            out.add(ip);
        }
        if (out.isEmpty() && !hasNodePorts(s)) {
            throw new InvalidServiceException("spec.clusterIP: missing (expected: an IP address or None)");
        }
        return out;
    }

    private static Protocol protocol(ServicePort p, int index) throws InvalidServiceException {
        String text = p.getProtocol() == null ? "TCP" : p.getProtocol();
        switch (text) {
            case "TCP":
                return Protocol.TCP;
            case "UDP":
                return Protocol.UDP;
            case "SCTP":
                return Protocol.SCTP;
            default:
                throw new InvalidServiceException(where(index) + ".protocol: " + text
                                                  + " (expected: TCP, UDP or SCTP)");
        }
    }

    private static List<ServicePort> ports(Service s) {
        return s.getSpec().getPorts() == null ? List.of() : s.getSpec().getPorts();
    }

    private static Map<String, String> labels(HasMetadata o) {
        Map<String, String> labels = o.getMetadata() == null ? null : o.getMetadata().getLabels();
        return labels == null ? Map.of() : labels;
    }

    private static String namespace(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return ns == null || ns.isEmpty() ? "default" : ns;
    }

    private static String key(Service s) {
        return namespace(s) + '/' + s.getMetadata().getName();
    }

    private static String timestamp(Service s) {
        String ts = s.getMetadata().getCreationTimestamp();
        return ts == null ? "~" : ts; // no timestamp: younger than every stamped object
    }

    /** A version of a Service that passed validation, with the listeners it wants (by port index). */
    private static final class Admitted {
        final Service service;
        final String key;
        final String type;
        final List<InetAddress> clusterIps;
        final Map<ListenerKey, Integer> keys;
        final Set<ListenerKey> external; // node-port, external-IP and load-balancer listeners
        final boolean internalLocal;
        final boolean externalLocal;
        final Duration affinity; // null: sessionAffinity None

        Admitted(Service service, String key, String type, List<InetAddress> clusterIps,
                 Map<ListenerKey, Integer> keys, Set<ListenerKey> external, boolean internalLocal,
                 boolean externalLocal, Duration affinity) {
            this.service = service;
            this.key = key;
            this.type = type;
            this.clusterIps = List.copyOf(clusterIps);
            this.keys = keys;
            this.external = Set.copyOf(external);
            this.internalLocal = internalLocal;
            this.externalLocal = externalLocal;
            this.affinity = affinity;
        }

        String holder(ListenerKey k) {
            ServicePort p = ports(service).get(keys.get(k));
            return key + ':' + p.getPort() + '/' + (p.getProtocol() == null ? "TCP" : p.getProtocol());
        }
    }

    /** Who holds which listener among the admitted Services; one compile's scratch space. */
    private static final class Claims {
        private final Map<ListenerKey, Admitted> holders = new HashMap<>();
        // protocol/port -> the admitted Services listening on it, on the wildcard or on a specific address.
        private final Map<Integer, Map<ListenerKey, Admitted>> wildcards = new HashMap<>();
        private final Map<Integer, Map<ListenerKey, Admitted>> specifics = new HashMap<>();

        /** Fails if {@code a} wants a listener a different Service holds or cannot share a port with. */
        void check(Admitted a) throws InvalidServiceException {
            for (ListenerKey k : a.keys.keySet()) {
                Admitted holder = holders.get(k);
                if (holder != null && !holder.key.equals(a.key)) {
                    throw new InvalidServiceException(k + " is already taken by " + holder.holder(k));
                }
                Integer port = portKey(k);
                Map<ListenerKey, Admitted> others = (k.isWildcard() ? specifics : wildcards).getOrDefault(port, Map.of());
                for (Map.Entry<ListenerKey, Admitted> e : others.entrySet()) {
                    if (!e.getValue().key.equals(a.key)) {
                        throw new InvalidServiceException(k + " conflicts with " + e.getKey() + " of " + e.getValue().key);
                    }
                }
            }
        }

        void add(Admitted a) {
            for (ListenerKey k : a.keys.keySet()) {
                holders.put(k, a);
                (k.isWildcard() ? wildcards : specifics)
                        .computeIfAbsent(portKey(k), x -> new HashMap<>()).put(k, a);
            }
        }

        void remove(Admitted a) {
            for (ListenerKey k : a.keys.keySet()) {
                holders.remove(k, a);
                Map<ListenerKey, Admitted> onPort = (k.isWildcard() ? wildcards : specifics)
                        .get(portKey(k));
                if (onPort != null) {
                    onPort.remove(k, a);
                }
            }
        }
    }

    private static final class InvalidServiceException extends Exception {
        private static final long serialVersionUID = 1L;

        InvalidServiceException(String message) {
            super(message, null, false, false);
        }
    }
}
