package io.ferry.control.compile;

import io.fabric8.kubernetes.api.model.EndpointAddress;
import io.fabric8.kubernetes.api.model.EndpointPort;
import io.fabric8.kubernetes.api.model.EndpointSubset;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.ferry.l4.Endpoint;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the endpoints of one Service port in its EndpointSlices (or, for a Service that has none, its legacy
 * Endpoints object), following Kubernetes' rules: slices join by the {@code kubernetes.io/service-name} label,
 * ports match by the Service port's name, duplicates merge, ready endpoints are used, and serving-and-terminating
 * ones only when none is ready.
 */
final class EndpointResolver {

    /** The endpoints a port's new connections use. */
    record Resolved(List<Endpoint> endpoints, boolean terminatingFallback) {
    }

    /** Every endpoint of a port with its conditions, before the choice a traffic policy makes. */
    static final class Candidates {
        private final List<Candidate> all;

        private Candidates(List<Candidate> all) {
            this.all = all;
        }

        /**
         * The endpoints for traffic under a policy, kube-proxy's way: the ready ones, else the serving and
         * terminating ones. With {@code localNode} ({@code Local} policy) only endpoints whose {@code nodeName} is
         * that node count, and the fallback looks only at those too; none is none (the traffic is refused, never
         * sent to another node).
         *
         * @param localNode this node's name for a {@code Local} policy, {@code null} for {@code Cluster}
         */
        Resolved select(String localNode) {
            // The candidates are already one per address (merged when they were gathered).
            List<Endpoint> ready = new ArrayList<>(all.size());
            List<Endpoint> terminating = null;
            for (Candidate c : all) {
                if (localNode != null && !localNode.equals(c.endpoint.nodeName())) {
                    continue;
                }
                if (c.ready) {
                    ready.add(c.endpoint);
                } else if (c.serving && c.terminating) {
                    if (terminating == null) {
                        terminating = new ArrayList<>();
                    }
                    terminating.add(c.endpoint);
                }
            }
            if (!ready.isEmpty() || terminating == null) {
                return new Resolved(ready, false);
            }
            return new Resolved(terminating, true);
        }

        /** Every endpoint's address, whatever its conditions (passive health and affinity keep state by it). */
        List<InetSocketAddress> addresses() {
            List<InetSocketAddress> out = new ArrayList<>();
            for (Candidate c : all) {
                out.add(c.endpoint.address());
            }
            return out;
        }
    }

    private EndpointResolver() {
    }

    static Resolved fromSlices(List<EndpointSlice> slices, ServicePort servicePort) {
        return slicesCandidates(slices, servicePort).select(null);
    }

    static Candidates slicesCandidates(List<EndpointSlice> slices, ServicePort servicePort) {
        String portName = nullToEmpty(servicePort.getName());
        String protocol = servicePort.getProtocol() == null ? "TCP" : servicePort.getProtocol();
        // address:port -> [ready, serving, terminating], merged over slices (a duplicate is ready if any copy is).
        Map<InetSocketAddress, Candidate> candidates = new LinkedHashMap<>();
        for (EndpointSlice slice : slices) {
            if ("FQDN".equals(slice.getAddressType()) || slice.getPorts() == null || slice.getEndpoints() == null) {
                continue;
            }
            for (io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort p : slice.getPorts()) {
                String pProtocol = p.getProtocol() == null ? "TCP" : p.getProtocol();
                if (!portName.equals(nullToEmpty(p.getName())) || !protocol.equals(pProtocol) || p.getPort() == null) {
                    continue;
                }
                for (io.fabric8.kubernetes.api.model.discovery.v1.Endpoint e : slice.getEndpoints()) {
                    if (e.getAddresses() == null || e.getAddresses().isEmpty()) {
                        continue;
                    }
                    InetAddress ip = literal(e.getAddresses().get(0));
                    if (ip == null || p.getPort() < 1 || p.getPort() > 65535) {
                        continue;
                    }
                    EndpointConditions c = e.getConditions();
                    boolean ready = c == null || c.getReady() == null || c.getReady();
                    boolean serving = c == null || c.getServing() == null || c.getServing();
                    boolean terminating = c != null && c.getTerminating() != null && c.getTerminating();
                    String name = e.getTargetRef() != null ? e.getTargetRef().getName() : null;
                    InetSocketAddress address = new InetSocketAddress(ip, p.getPort());
                    Candidate previous = candidates.get(address);
                    candidates.put(address, previous != null ? previous.merge(ready, serving, terminating)
                            : new Candidate(Endpoint.of(address, name, e.getNodeName()), ready, serving, terminating));
                }
            }
        }
        return new Candidates(new ArrayList<>(candidates.values()));
    }

    static Resolved fromEndpoints(Endpoints endpoints, ServicePort servicePort) {
        return endpointsCandidates(endpoints, servicePort).select(null);
    }

    static Candidates endpointsCandidates(Endpoints endpoints, ServicePort servicePort) {
        String portName = nullToEmpty(servicePort.getName());
        String protocol = servicePort.getProtocol() == null ? "TCP" : servicePort.getProtocol();
        Map<InetSocketAddress, Candidate> candidates = new LinkedHashMap<>();
        if (endpoints.getSubsets() != null) {
            for (EndpointSubset subset : endpoints.getSubsets()) {
                if (subset.getPorts() == null) {
                    continue;
                }
                for (EndpointPort p : subset.getPorts()) {
                    String pProtocol = p.getProtocol() == null ? "TCP" : p.getProtocol();
                    if (!portName.equals(nullToEmpty(p.getName())) || !protocol.equals(pProtocol)
                        || p.getPort() == null || p.getPort() < 1 || p.getPort() > 65535) {
                        continue;
                    }
                    addLegacy(candidates, subset.getAddresses(), p.getPort(), true);
                    addLegacy(candidates, subset.getNotReadyAddresses(), p.getPort(), false);
                }
            }
        }
        return new Candidates(new ArrayList<>(candidates.values()));
    }

    private static void addLegacy(Map<InetSocketAddress, Candidate> candidates, List<EndpointAddress> addresses,
                                  int port, boolean ready) {
        if (addresses == null) {
            return;
        }
        for (EndpointAddress a : addresses) {
            InetAddress ip = literal(a.getIp());
            if (ip == null) {
                continue;
            }
            InetSocketAddress address = new InetSocketAddress(ip, port);
            String name = a.getTargetRef() != null ? a.getTargetRef().getName() : null;
            Candidate previous = candidates.get(address);
            candidates.put(address, previous != null ? previous.merge(ready, ready, false)
                    : new Candidate(Endpoint.of(address, name, a.getNodeName()), ready, ready, false));
        }
    }

    /** Parses an IP literal; never a DNS lookup. {@code null} if it is not one. */
    static InetAddress literal(String text) {
        if (text == null) {
            return null;
        }
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(text);
        if (bytes == null) {
            return null;
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    private record Candidate(Endpoint endpoint, boolean ready, boolean serving, boolean terminating) {
        Candidate merge(boolean otherReady, boolean otherServing, boolean otherTerminating) {
            // The same address twice: keep the first's name, and the most usable conditions.
            return new Candidate(endpoint, ready || otherReady, serving || otherServing,
                                 terminating && otherTerminating);
        }
    }
}
