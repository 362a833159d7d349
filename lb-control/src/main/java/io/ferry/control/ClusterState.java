package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
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
    private final List<Ingress> ingresses;
    private final List<IngressClass> ingressClasses;
    private final List<Secret> secrets;
    private final List<ConfigProblem> problems;

    /** A state with Services and their endpoints only. */
    public ClusterState(List<Service> services, List<EndpointSlice> endpointSlices, List<Endpoints> endpoints,
                        List<ConfigProblem> problems) {
        this(services, endpointSlices, endpoints, List.of(), List.of(), List.of(), problems);
    }

    public ClusterState(List<Service> services, List<EndpointSlice> endpointSlices, List<Endpoints> endpoints,
                        List<Ingress> ingresses, List<IngressClass> ingressClasses, List<Secret> secrets,
                        List<ConfigProblem> problems) {
        this.services = List.copyOf(requireNonNull(services, "services"));
        this.endpointSlices = List.copyOf(requireNonNull(endpointSlices, "endpointSlices"));
        this.endpoints = List.copyOf(requireNonNull(endpoints, "endpoints"));
        this.ingresses = List.copyOf(requireNonNull(ingresses, "ingresses"));
        this.ingressClasses = List.copyOf(requireNonNull(ingressClasses, "ingressClasses"));
        this.secrets = List.copyOf(requireNonNull(secrets, "secrets"));
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

    /** {@code networking.k8s.io/v1} Ingresses of every class; the compiler picks the ones Ferry serves. */
    public List<Ingress> ingresses() {
        return ingresses;
    }

    public List<IngressClass> ingressClasses() {
        return ingressClasses;
    }

    /** Secrets; only {@code kubernetes.io/tls} ones referenced by an Ingress are used. */
    public List<Secret> secrets() {
        return secrets;
    }

    /** What the source could not read (it kept the last good version of those objects where it had one). */
    public List<ConfigProblem> problems() {
        return problems;
    }

    @Override
    public String toString() {
        return "ClusterState(" + services.size() + " services, " + endpointSlices.size() + " slices, "
               + endpoints.size() + " endpoints, " + ingresses.size() + " ingresses, "
               + ingressClasses.size() + " ingress classes, " + secrets.size() + " secrets, " + problems.size() + " problems)";
    }
}
