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
import io.ferry.l4.Endpoint;
import io.ferry.l4.L4Table;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import io.ferry.l4.RandomBalancer;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles Services and their endpoints into the {@link L4Table}, as kube-proxy programs its rules.
 *
 * <p>Per Service (see {@code shared/reference/kubernetes-semantics.md}): Services labelled
 * {@code service.kubernetes.io/service-proxy-name} belong to another proxy and are skipped, as are ExternalName
 * Services; each TCP port gets a listener on every ClusterIP (none for a headless Service) and, for NodePort and
 * LoadBalancer Services, on every node address at its nodePort; endpoints come from {@link EndpointResolver}.
 * A Service with an invalid field, or a listener another Service already holds, is rejected whole and
 * reported; the older Service (by {@code creationTimestamp}) keeps what is contested. Stateless and thread-safe.
 */
public final class ServiceCompiler {

    /** The Kubernetes default NodePort range. */
    public static final int NODE_PORT_MIN = 30000;
    public static final int NODE_PORT_MAX = 32767;

    static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
    static final String SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
    static final String HEADLESS_LABEL = "service.kubernetes.io/headless";

    private final List<InetAddress> nodeAddresses;

    /**
     * @param nodeAddresses where NodePort listeners bind; the wildcard address means every local address
     */
    public ServiceCompiler(List<InetAddress> nodeAddresses) {
        this.nodeAddresses = List.copyOf(requireNonNull(nodeAddresses, "nodeAddresses"));
    }

    /** Whether a Service of this type has node ports (NodePort and LoadBalancer). */
    public static boolean hasNodePorts(Service s) {
        String type = s.getSpec() == null ? null : s.getSpec().getType();
        return "NodePort".equals(type) || "LoadBalancer".equals(type);
    }

    public CompiledServices compile(ClusterState state) {
        requireNonNull(state, "state");
        Map<String, List<EndpointSlice>> slicesByService = new HashMap<>();
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

        List<Service> services = new ArrayList<>(state.services());
        services.sort(Comparator.comparing((Service s) -> timestamp(s)).thenComparing(ServiceCompiler::key));

        L4Table.Builder table = L4Table.builder();
        List<ServiceView> views = new ArrayList<>();
        List<ConfigProblem> problems = new ArrayList<>();
        Map<String, String> portsOfWildcard = new HashMap<>();
        Map<String, String> portsOfAddresses = new HashMap<>();
        for (Service s : services) {
            if (s.getSpec() == null || labels(s).containsKey(SERVICE_PROXY_NAME_LABEL)
                || "ExternalName".equals(s.getSpec().getType())) {
                continue;
            }
            String key = key(s);
            try {
                views.add(compileService(s, key, slicesByService.getOrDefault(key, List.of()), legacy.get(key),
                                         table, portsOfWildcard, portsOfAddresses));
            } catch (InvalidServiceException e) {
                problems.add(new ConfigProblem("Service " + key, e.getMessage()));
            }
        }
        views.sort(Comparator.comparing(ServiceView::namespace).thenComparing(ServiceView::name));
        return new CompiledServices(table.build(), views, problems);
    }

    private ServiceView compileService(Service s, String key, List<EndpointSlice> slices, Endpoints legacy,
                                       L4Table.Builder table, Map<String, String> portsOfWildcard,
                                       Map<String, String> portsOfAddresses) throws InvalidServiceException {
        String type = s.getSpec().getType() == null ? "ClusterIP" : s.getSpec().getType();
        if (!Set.of("ClusterIP", "NodePort", "LoadBalancer").contains(type)) {
            throw new InvalidServiceException("spec.type: " + type
                                              + " (expected: ClusterIP, NodePort, LoadBalancer or ExternalName)");
        }
        List<InetAddress> clusterIps = clusterIps(s);
        List<ServicePort> ports = s.getSpec().getPorts() == null ? List.of() : s.getSpec().getPorts();

        // Validate everything first, so that a rejected Service takes no listener at all.
        Map<ListenerKey, Integer> keys = new LinkedHashMap<>();
        Set<String> portNames = new LinkedHashSet<>();
        for (int i = 0; i < ports.size(); i++) {
            ServicePort p = ports.get(i);
            String where = "spec.ports[" + i + ']';
            Protocol protocol = protocol(p, where);
            if (p.getPort() == null || p.getPort() < 1 || p.getPort() > 65535) {
                throw new InvalidServiceException(where + ".port: " + p.getPort() + " (expected: 1-65535)");
            }
            if (!portNames.add(p.getName() == null ? "" : p.getName())) {
                throw new InvalidServiceException(where + ".name: " + p.getName()
                                                  + " (expected: unique among the ports; name every port when there are several)");
            }
            if (protocol != Protocol.TCP) {
                continue; // UDP and SCTP arrive with later issues; the port is shown, not served.
            }
            for (InetAddress ip : clusterIps) {
                keys.put(ListenerKey.of(ip, p.getPort(), protocol), i);
            }
            if (hasNodePorts(s)) {
                Integer nodePort = p.getNodePort();
                if (nodePort == null) {
                    throw new InvalidServiceException(where + ".nodePort: missing (expected: "
                                                      + NODE_PORT_MIN + '-' + NODE_PORT_MAX + ')');
                }
                if (nodePort < NODE_PORT_MIN || nodePort > NODE_PORT_MAX) {
                    throw new InvalidServiceException(where + ".nodePort: " + nodePort + " (expected: "
                                                      + NODE_PORT_MIN + '-' + NODE_PORT_MAX + ')');
                }
                for (InetAddress node : nodeAddresses) {
                    keys.put(ListenerKey.of(node, nodePort, protocol), i);
                }
            }
        }
        for (ListenerKey k : keys.keySet()) {
            Backend holder = table.get(k);
            if (holder != null) {
                throw new InvalidServiceException(k + " is already taken by " + holder.name());
            }
            // A wildcard listener and a specific address on the same port cannot both be bound.
            String port = k.protocol() + "/" + k.port();
            String other = k.isWildcard() ? portsOfAddresses.get(port) : portsOfWildcard.get(port);
            if (other != null) {
                throw new InvalidServiceException(k + " conflicts with " + other);
            }
        }
        for (ListenerKey k : keys.keySet()) {
            String port = k.protocol() + "/" + k.port();
            (k.isWildcard() ? portsOfWildcard : portsOfAddresses).putIfAbsent(port, k + " of " + key);
        }

        List<PortView> portViews = new ArrayList<>();
        for (int i = 0; i < ports.size(); i++) {
            ServicePort p = ports.get(i);
            String protocol = p.getProtocol() == null ? "TCP" : p.getProtocol();
            String backendName = key + ':' + p.getPort() + '/' + protocol;
            EndpointResolver.Resolved resolved = slices.isEmpty() && legacy != null
                                                 ? EndpointResolver.fromEndpoints(legacy, p)
                                                 : EndpointResolver.fromSlices(slices, p);
            Backend backend = Backend.of(backendName, resolved.endpoints(), RandomBalancer.INSTANCE);
            List<String> listeners = new ArrayList<>();
            for (Map.Entry<ListenerKey, Integer> e : keys.entrySet()) {
                if (e.getValue() == i) {
                    table.add(e.getKey(), backend);
                    listeners.add(e.getKey().toString());
                }
            }
            List<String> endpoints = new ArrayList<>();
            for (Endpoint ep : resolved.endpoints()) {
                endpoints.add(ep.toString());
            }
            portViews.add(new PortView(p.getName(), p.getPort(), protocol, p.getNodePort(), backendName, endpoints,
                                       resolved.terminatingFallback(), listeners));
        }
        List<String> ipStrings = new ArrayList<>();
        for (InetAddress ip : clusterIps) {
            ipStrings.add(ip.getHostAddress());
        }
        return new ServiceView(namespace(s), s.getMetadata().getName(), type, ipStrings, portViews);
    }

    private static List<InetAddress> clusterIps(Service s) throws InvalidServiceException {
        List<String> texts = s.getSpec().getClusterIPs() != null && !s.getSpec().getClusterIPs().isEmpty()
                             ? s.getSpec().getClusterIPs()
                             : s.getSpec().getClusterIP() == null ? List.of() : List.of(s.getSpec().getClusterIP());
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

    private static Protocol protocol(ServicePort p, String where) throws InvalidServiceException {
        String text = p.getProtocol() == null ? "TCP" : p.getProtocol();
        switch (text) {
            case "TCP":
                return Protocol.TCP;
            case "UDP":
                return Protocol.UDP;
            case "SCTP":
                return Protocol.SCTP;
            default:
                throw new InvalidServiceException(where + ".protocol: " + text + " (expected: TCP, UDP or SCTP)");
        }
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

    private static final class InvalidServiceException extends Exception {
        private static final long serialVersionUID = 1L;

        InvalidServiceException(String message) {
            super(message, null, false, false);
        }
    }
}
