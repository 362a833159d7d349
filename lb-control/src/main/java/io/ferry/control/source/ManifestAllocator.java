package io.ferry.control.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.ferry.control.Cidr;
import io.ferry.control.compile.ServiceCompiler;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Does for manifests what the API server does for a real cluster: gives a Service without a {@code clusterIP} one
 * from {@code --service-cidr}, and a NodePort or LoadBalancer port without a {@code nodePort} one from
 * 30000-32767.
 *
 * <p>Allocations are stable: a Service keeps what it was given for as long as it exists (in this process), and the
 * first choice is a hash of its name, so that a restart usually gives the same values again. Explicit values are
 * never changed here; the compiler validates them. Confined to the manifest source's thread.
 */
final class ManifestAllocator {

    private final Cidr serviceCidr;
    private final Map<String, String> clusterIps = new HashMap<>();
    private final Map<String, Integer> nodePorts = new HashMap<>();

    ManifestAllocator(Cidr serviceCidr) {
        this.serviceCidr = requireNonNull(serviceCidr, "serviceCidr");
    }

    /** Returns {@code services} with the missing ClusterIPs and nodePorts filled in (new objects where changed). */
    List<Service> allocate(List<Service> services) {
        Set<String> usedIps = new HashSet<>();
        Set<String> usedNodePorts = new HashSet<>();
        for (Service s : services) {
            if (s.getSpec() == null) {
                continue;
            }
            if (hasText(s.getSpec().getClusterIP())) {
                usedIps.add(s.getSpec().getClusterIP());
            }
            for (ServicePort p : ports(s)) {
                if (p.getNodePort() != null) {
                    usedNodePorts.add(protocol(p) + '/' + p.getNodePort());
                }
            }
        }
        // Forget allocations of Services that are gone, or that now carry explicit values.
        Set<String> live = new HashSet<>();
        List<Service> out = new ArrayList<>(services.size());
        for (Service s : services) {
            String key = s.getMetadata().getNamespace() + '/' + s.getMetadata().getName();
            live.add(key);
            out.add(fill(s, key, usedIps, usedNodePorts));
        }
        clusterIps.keySet().retainAll(live);
        nodePorts.keySet().removeIf(k -> !live.contains(k.substring(0, k.indexOf('#'))));
        return out;
    }

    private Service fill(Service s, String key, Set<String> usedIps, Set<String> usedNodePorts) {
        if (s.getSpec() == null || "ExternalName".equals(s.getSpec().getType())) {
            return s;
        }
        boolean needsIp = !hasText(s.getSpec().getClusterIP());
        boolean nodePortType = ServiceCompiler.hasNodePorts(s);
        boolean needsPorts = nodePortType && ports(s).stream().anyMatch(p -> p.getNodePort() == null);
        if (!needsIp && !needsPorts) {
            return s;
        }
        ServiceBuilder b = new ServiceBuilder(s);
        if (needsIp) {
            String ip = allocateIp(key, usedIps);
            if (ip != null) {
                b.editSpec().withClusterIP(ip).withClusterIPs(ip).endSpec();
            }
        }
        if (needsPorts) {
            List<ServicePort> filled = new ArrayList<>();
            for (ServicePort p : ports(s)) {
                if (p.getNodePort() == null) {
                    String portKey = key + '#' + protocol(p) + '/' + (hasText(p.getName()) ? p.getName() : p.getPort());
                    Integer port = allocateNodePort(portKey, protocol(p), usedNodePorts);
                    filled.add(port == null ? p : new io.fabric8.kubernetes.api.model.ServicePortBuilder(p)
                            .withNodePort(port).build());
                } else {
                    filled.add(p);
                }
            }
            b.editSpec().withPorts(filled).endSpec();
        }
        return b.build();
    }

    private String allocateIp(String key, Set<String> used) {
        String previous = clusterIps.get(key);
        if (previous != null && !used.contains(previous)) {
            used.add(previous);
            return previous;
        }
        long size = Math.min(serviceCidr.size(), 1L << 24);
        // Skip the network address (and the broadcast address of an IPv4 prefix).
        long first = size > 2 ? 1 : 0;
        long count = size > 2 ? size - (serviceCidr.isIpv4() ? 2 : 1) : size;
        long start = Math.floorMod(mix(key.hashCode()), count);
        for (long i = 0; i < count; i++) {
            InetAddress a = serviceCidr.address(first + (start + i) % count);
            String ip = a.getHostAddress();
            if (used.add(ip)) {
                clusterIps.put(key, ip);
                return ip;
            }
        }
        return null; // exhausted: the compiler reports the Service as having no ClusterIP
    }

    private Integer allocateNodePort(String portKey, String protocol, Set<String> used) {
        Integer previous = nodePorts.get(portKey);
        if (previous != null && used.add(protocol + '/' + previous)) {
            return previous;
        }
        int range = ServiceCompiler.NODE_PORT_MAX - ServiceCompiler.NODE_PORT_MIN + 1;
        int start = Math.floorMod(mix(portKey.hashCode()), range);
        for (int i = 0; i < range; i++) {
            int port = ServiceCompiler.NODE_PORT_MIN + (start + i) % range;
            if (used.add(protocol + '/' + port)) {
                nodePorts.put(portKey, port);
                return port;
            }
        }
        return null;
    }

    private static int mix(int h) {
        h *= 0x9E3779B1;
        return h ^ (h >>> 16);
    }

    private static List<ServicePort> ports(Service s) {
        return s.getSpec().getPorts() == null ? List.of() : s.getSpec().getPorts();
    }

    private static String protocol(ServicePort p) {
        return p.getProtocol() == null ? "TCP" : p.getProtocol();
    }

    private static boolean hasText(String s) {
        return s != null && !s.isEmpty();
    }
}
