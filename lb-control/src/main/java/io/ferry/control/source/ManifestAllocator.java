package io.ferry.control.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.ferry.control.Cidr;
import io.ferry.control.compile.ServiceCompiler;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Does for manifests what the API server does for a real cluster: gives a Service without a ClusterIP one from
 * {@code --service-cidr}, and a NodePort or LoadBalancer port without a {@code nodePort} one from 30000-32767.
 *
 * <p>Allocations are stable: a Service keeps what it was given for as long as it exists (in this process), and the
 * first choice is a hash of its name, so that a restart usually gives the same values again. Every pass reserves
 * all explicit values and all values given earlier to Services still present before it allocates anything, so a
 * new Service never takes another's, whatever its place in the files. A value given earlier stays with its Service
 * even when another Service later asks for it explicitly; as the API server would refuse that request, the
 * compiler rejects the newcomer's conflicting listener.
 *
 * <p>Explicit values are never changed here (the compiler validates them). As in the API server,
 * {@code spec.clusterIP} and {@code spec.clusterIPs[0]} agree: when only one is given (including {@code None} for
 * a headless Service), the other is set to it.
 *
 * <p>Confined to the manifest source's thread.
 */
final class ManifestAllocator {

    private final Cidr serviceCidr;
    // What this allocator gave, by Service key and by Service key + port key; only Services still present.
    private Map<String, String> clusterIps = new HashMap<>();
    private Map<String, Integer> nodePorts = new HashMap<>();

    ManifestAllocator(Cidr serviceCidr) {
        this.serviceCidr = requireNonNull(serviceCidr, "serviceCidr");
    }

    /** Returns {@code services} with the missing ClusterIPs and nodePorts filled in (new objects where changed). */
    List<Service> allocate(List<Service> services) {
        // 1. Explicit values are reserved, whoever holds them.
        Set<String> usedIps = new HashSet<>();
        Set<String> usedNodePorts = new HashSet<>();
        for (Service s : services) {
            if (!allocatable(s)) {
                continue;
            }
            for (String ip : explicitIps(s)) {
                if (!"None".equals(ip)) {
                    usedIps.add(ip);
                }
            }
            for (ServicePort p : ports(s)) {
                if (hasNodePort(p)) {
                    usedNodePorts.add(protocol(p) + '/' + p.getNodePort());
                }
            }
        }

        // 2. So are the values given earlier to Services that are still here and still need them; the rest are
        //    forgotten (the Service is gone, now carries an explicit value, or no longer has that port).
        Map<String, String> keptIps = new HashMap<>();
        Map<String, Integer> keptNodePorts = new HashMap<>();
        Set<String> heldIps = new HashSet<>();
        Set<String> heldNodePorts = new HashSet<>();
        for (Service s : services) {
            if (!allocatable(s)) {
                continue;
            }
            String key = key(s);
            String ip = clusterIps.get(key);
            if (explicitIps(s).isEmpty() && ip != null && heldIps.add(ip)) {
                keptIps.put(key, ip);
                usedIps.add(ip);
            }
            for (Map.Entry<String, ServicePort> e : portsNeedingNodePorts(s, key).entrySet()) {
                Integer port = nodePorts.get(e.getKey());
                String used = protocol(e.getValue()) + '/' + port;
                if (port != null && heldNodePorts.add(used)) {
                    keptNodePorts.put(e.getKey(), port);
                    usedNodePorts.add(used);
                }
            }
        }
        clusterIps = keptIps;
        nodePorts = keptNodePorts;

        // 3. Only now are new values given out.
        List<Service> out = new ArrayList<>(services.size());
        for (Service s : services) {
            out.add(allocatable(s) ? fill(s, key(s), usedIps, usedNodePorts) : s);
        }
        return out;
    }

    private Service fill(Service s, String key, Set<String> usedIps, Set<String> usedNodePorts) {
        String clusterIp = s.getSpec().getClusterIP();
        List<String> clusterIpList = s.getSpec().getClusterIPs();
        Map<String, ServicePort> needPorts = portsNeedingNodePorts(s, key);
        boolean needsIp = explicitIps(s).isEmpty();
        boolean onlyList = !hasText(clusterIp) && clusterIpList != null && !clusterIpList.isEmpty();
        boolean onlyField = hasText(clusterIp) && (clusterIpList == null || clusterIpList.isEmpty());
        if (!needsIp && !onlyList && !onlyField && needPorts.isEmpty()) {
            return s;
        }
        ServiceBuilder b = new ServiceBuilder(s);
        if (needsIp) {
            String ip = allocateIp(key, usedIps);
            if (ip != null) {
                b.editSpec().withClusterIP(ip).withClusterIPs(ip).endSpec();
            }
        } else if (onlyList) {
            b.editSpec().withClusterIP(clusterIpList.get(0)).endSpec();
        } else if (onlyField) {
            b.editSpec().withClusterIPs(clusterIp).endSpec();
        }
        if (!needPorts.isEmpty()) {
            List<ServicePort> filled = new ArrayList<>(ports(s));
            for (Map.Entry<String, ServicePort> e : needPorts.entrySet()) {
                ServicePort p = e.getValue();
                Integer port = allocateNodePort(e.getKey(), protocol(p), usedNodePorts);
                if (port != null) {
                    // Identity, not equals: two ports may be equal (the compiler reports that duplicate).
                    for (int i = 0; i < filled.size(); i++) {
                        if (filled.get(i) == p) {
                            filled.set(i, new ServicePortBuilder(p).withNodePort(port).build());
                        }
                    }
                }
            }
            b.editSpec().withPorts(filled).endSpec();
        }
        return b.build();
    }

    /** The ports that need a nodePort from here, by a key stable across edits of the other ports. */
    private static Map<String, ServicePort> portsNeedingNodePorts(Service s, String serviceKey) {
        if (!ServiceCompiler.hasNodePorts(s)) {
            return Map.of();
        }
        Map<String, ServicePort> out = new LinkedHashMap<>();
        List<ServicePort> ports = ports(s);
        for (int i = 0; i < ports.size(); i++) {
            ServicePort p = ports.get(i);
            if (hasNodePort(p)) {
                continue;
            }
            String portKey = serviceKey + '#' + protocol(p) + '/' + (hasText(p.getName()) ? p.getName() : p.getPort());
            if (out.containsKey(portKey)) {
                portKey += "#" + i; // a duplicate the compiler rejects; still one key per port
            }
            out.put(portKey, p);
        }
        return out;
    }

    private String allocateIp(String key, Set<String> used) {
        String kept = clusterIps.get(key);
        if (kept != null) {
            return kept; // reserved in step 2
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
        Integer kept = nodePorts.get(portKey);
        if (kept != null) {
            return kept; // reserved in step 2
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
        return null; // exhausted: the compiler reports the missing nodePort
    }

    /** The ClusterIPs the manifest gives, {@code clusterIP} first; empty when it gives none. */
    private static List<String> explicitIps(Service s) {
        List<String> out = new ArrayList<>();
        if (hasText(s.getSpec().getClusterIP())) {
            out.add(s.getSpec().getClusterIP());
        }
        if (s.getSpec().getClusterIPs() != null) {
            for (String ip : s.getSpec().getClusterIPs()) {
                if (hasText(ip)) {
                    out.add(ip);
                }
            }
        }
        return out;
    }

    private static boolean allocatable(Service s) {
        return s.getSpec() != null && !"ExternalName".equals(s.getSpec().getType());
    }

    private static String key(Service s) {
        return s.getMetadata().getNamespace() + '/' + s.getMetadata().getName();
    }

    private static int mix(int h) {
        h *= 0x9E3779B1;
        return h ^ (h >>> 16);
    }

    private static List<ServicePort> ports(Service s) {
        return s.getSpec().getPorts() == null ? List.of() : s.getSpec().getPorts();
    }

    /** An explicit nodePort; 0 means none, as in the API. */
    private static boolean hasNodePort(ServicePort p) {
        return p.getNodePort() != null && p.getNodePort() != 0;
    }

    private static String protocol(ServicePort p) {
        return p.getProtocol() == null ? "TCP" : p.getProtocol();
    }

    private static boolean hasText(String s) {
        return s != null && !s.isEmpty();
    }
}
