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
 */
public record CompiledServices(L4Table table, List<ServiceView> services, List<ConfigProblem> problems) {

    public CompiledServices {
        requireNonNull(table, "table");
        services = List.copyOf(services);
        problems = List.copyOf(problems);
    }

    /** One Service as compiled. */
    public record ServiceView(String namespace, String name, String type, List<String> clusterIPs,
                              List<PortView> ports) {
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
     */
    public record PortView(String name, int port, String protocol, Integer nodePort, String backend,
                           List<String> endpoints, boolean terminatingFallback, List<String> listeners) {
        public PortView {
            endpoints = List.copyOf(endpoints);
            listeners = List.copyOf(listeners);
        }
    }
}
