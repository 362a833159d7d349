package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.ferry.control.ConfigProblem;
import io.ferry.l4.L4Table;
import java.util.List;

/**
 * What {@link ServiceCompiler} made of the Services: the L4 table, a view of every Service port for
 * {@code /config_dump}, and what it rejected.
 *
 * @param table the listeners and their backends
 * @param services every Service the table serves, sorted by namespace and name
 * @param problems Services or ports that were rejected, and why
 * @param healthChecks the {@code healthCheckNodePort} servers of LoadBalancer Services with
 *                     {@code externalTrafficPolicy: Local}
 */
public record CompiledServices(L4Table table, List<ServiceView> services, List<ConfigProblem> problems,
                               List<HealthCheck> healthChecks) {

    public CompiledServices {
        requireNonNull(table, "table");
        services = List.copyOf(services);
        problems = List.copyOf(problems);
        healthChecks = List.copyOf(healthChecks);
    }

    public CompiledServices(L4Table table, List<ServiceView> services, List<ConfigProblem> problems) {
        this(table, services, problems, List.of());
    }

    /**
     * A health-check port kube-proxy would serve for a {@code LoadBalancer} Service with
     * {@code externalTrafficPolicy: Local}: the load balancer asks it whether this node has endpoints.
     *
     * @param localEndpoints this node's endpoints of the Service (over all its ports)
     */
    public record HealthCheck(int port, String namespace, String name, int localEndpoints) {
    }

    /** One Service as compiled. */
    public record ServiceView(String namespace, String name, String type, List<String> clusterIPs,
                              String internalTrafficPolicy, String externalTrafficPolicy, List<PortView> ports) {
        public ServiceView {
            clusterIPs = List.copyOf(clusterIPs);
            ports = List.copyOf(ports);
        }
    }

    /**
     * One Service port as compiled.
     *
     * @param backend the backend's name, such as {@code demo/myblog:80/TCP}
     * @param endpoints the endpoints new connections use ({@code ip:port})
     * @param terminatingFallback whether those are serving-but-terminating endpoints, used because none is ready
     * @param listeners where it listens
     * @param externalEndpoints the endpoints of node-port, external-IP and load-balancer traffic (differs from
     *                          {@code endpoints} when a traffic policy is {@code Local})
     * @param balancer the balancer's name
     * @param sessionAffinityTimeoutSeconds the {@code ClientIP} affinity timeout, or {@code null} for none
     * @param proxyProtocol whether endpoints get a PROXY protocol v2 header
     */
    public record PortView(String name, int port, String protocol, Integer nodePort, String backend,
                           List<String> endpoints, boolean terminatingFallback, List<String> listeners,
                           List<String> externalEndpoints, String balancer, Long sessionAffinityTimeoutSeconds,
                           boolean proxyProtocol) {
        public PortView {
            // The compiler's lists are immutable already, and make their strings when read.
            endpoints = TextList.copyOf(endpoints);
            listeners = TextList.copyOf(listeners);
            externalEndpoints = TextList.copyOf(externalEndpoints);
        }
    }
}
