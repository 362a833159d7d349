package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.List;

/**
 * Every object of the kinds Ferry watches, as one source saw them at one moment, and what that source could not
 * read.
 *
 * <p>Immutable by contract: the lists are copies, and no one mutates the fabric8 objects once they are in a
 * state (sources build new objects instead). Both sources — the Kubernetes API and the manifest directory —
 * produce this type, so there is one compile path.
 */
public final class ClusterState {

    /** The state with no objects. */
    public static final ClusterState EMPTY = new ClusterState(List.of(), List.of(), List.of(), List.of());

    private final List<Service> services;
    private final List<EndpointSlice> endpointSlices;
    private final List<Endpoints> endpoints;
    private final List<ConfigProblem> problems;

    public ClusterState(List<Service> services, List<EndpointSlice> endpointSlices, List<Endpoints> endpoints,
                        List<ConfigProblem> problems) {
        this.services = List.copyOf(requireNonNull(services, "services"));
        this.endpointSlices = List.copyOf(requireNonNull(endpointSlices, "endpointSlices"));
        this.endpoints = List.copyOf(requireNonNull(endpoints, "endpoints"));
        this.problems = List.copyOf(requireNonNull(problems, "problems"));
    }

    public List<Service> services() {
        return services;
    }

    public List<EndpointSlice> endpointSlices() {
        return endpointSlices;
    }

    /** Legacy {@code v1/Endpoints}; the manifest source reads them, used for Services that have no slice. */
    public List<Endpoints> endpoints() {
        return endpoints;
    }

    /** What the source could not read (it kept the last good version of those objects where it had one). */
    public List<ConfigProblem> problems() {
        return problems;
    }

    @Override
    public String toString() {
        return "ClusterState(" + services.size() + " services, " + endpointSlices.size() + " slices, "
               + endpoints.size() + " endpoints, " + problems.size() + " problems)";
    }
}
