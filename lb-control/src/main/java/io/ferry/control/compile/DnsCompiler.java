package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.EndpointAddress;
import io.fabric8.kubernetes.api.model.EndpointPort;
import io.fabric8.kubernetes.api.model.EndpointSubset;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.ferry.l4.dns.DnsName;
import io.ferry.l4.dns.DnsTable;
import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Compiles Services and their endpoints into the {@link DnsTable}, following the Kubernetes DNS-Based Service
 * Discovery specification (version {@value DnsTable#SCHEMA_VERSION}) as CoreDNS's {@code kubernetes} plugin serves
 * it.
 *
 * <p>Every Service is served, whatever proxy owns it (CoreDNS ignores {@code service.kubernetes.io/service-proxy-name}),
 * and the EndpointSlices labelled {@code service.kubernetes.io/headless}, which kube-proxy skips, are exactly the
 * ones a headless Service's records come from. Per Service {@code <svc>} in namespace {@code <ns>}, with
 * {@code <name>} = {@code <svc>.<ns>.svc.<zone>}:
 * <ul>
 *   <li>ClusterIP (any type with cluster IPs): {@code <name>} A/AAAA for each cluster IP, the PTR of each IP, and
 *       for each named port {@code _<port>._<proto>.<name>} SRV {@code 0 100 <port> <name>}.</li>
 *   <li>Headless ({@code clusterIP: None}): {@code <name>} A/AAAA for each ready endpoint (every endpoint with
 *       {@code publishNotReadyAddresses}), {@code <host>.<name>} for each, where {@code <host>} is the endpoint's
 *       {@code hostname} or its address with dashes, its PTR to {@code <host>.<name>}, and for each named port one
 *       SRV per endpoint to {@code <host>.<name>} on the endpoint's port. No ready endpoint: no records, so
 *       {@code <name>} is NXDOMAIN, as the specification says.</li>
 *   <li>ExternalName: {@code <name>} CNAME {@code spec.externalName}.</li>
 * </ul>
 * Endpoints come from the Service's EndpointSlices (joined by {@code kubernetes.io/service-name}, merged and deduped
 * by address) or, for a Service with none, its legacy Endpoints object. {@code <ns>.svc.<zone>} exists for every
 * namespace that has a Service. A Service whose names cannot be DNS names is left out and reported.
 *
 * <p>Confined to the control thread (the SOA serial it keeps is not shared).
 */
public final class DnsCompiler {

    /** The default cluster domain. */
    public static final String DEFAULT_CLUSTER_DOMAIN = "cluster.local";

    private final String domain;
    private final int ttl;
    private final boolean podRecords;
    private final Clock clock;
    private long serial;

    /** What one compile produced: the table and the Services it could not serve. */
    public record Compiled(DnsTable table, List<ConfigProblem> problems) {
        public Compiled {
            requireNonNull(table, "table");
            problems = List.copyOf(problems);
        }
    }

    /**
     * A compiler for {@code clusterDomain} with records of {@code ttlSeconds}, answering the deprecated pod names.
     *
     * @throws IllegalArgumentException if the domain is not a DNS name or the TTL is outside 0-86400
     */
    public DnsCompiler(String clusterDomain, int ttlSeconds) {
        this(clusterDomain, ttlSeconds, true, Clock.systemUTC());
    }

    /**
     * @param podRecords whether {@code <a-b-c-d>.<ns>.pod.<zone>} answers the address it spells
     * @param clock      for the SOA serial (seconds since the epoch, never going back)
     */
    public DnsCompiler(String clusterDomain, int ttlSeconds, boolean podRecords, Clock clock) {
        requireNonNull(clusterDomain, "clusterDomain");
        String d = clusterDomain.endsWith(".") ? clusterDomain.substring(0, clusterDomain.length() - 1) : clusterDomain;
        if (!DnsName.isValidName(d)) {
            throw new IllegalArgumentException("cluster domain: " + clusterDomain
                                               + " (expected: a DNS name such as cluster.local)");
        }
        DnsTable.builder(d).ttl(ttlSeconds); // checks the TTL's range
        this.domain = d.toLowerCase(Locale.ROOT);
        this.ttl = ttlSeconds;
        this.podRecords = podRecords;
        this.clock = requireNonNull(clock, "clock");
    }

    public String clusterDomain() {
        return domain;
    }

    public int ttl() {
        return ttl;
    }

    /** Compiles {@code state}; call on the control thread only. */
    public Compiled compile(ClusterState state) {
        requireNonNull(state, "state");
        serial = Math.max(serial, clock.instant().getEpochSecond() & 0xFFFFFFFFL);
        DnsTable.Builder b = DnsTable.builder(domain).ttl(ttl).serial(serial).podRecords(podRecords);
        List<ConfigProblem> problems = new ArrayList<>();

        Map<String, List<EndpointSlice>> slices = new HashMap<>();
        for (EndpointSlice slice : state.endpointSlices()) {
            String service = labels(slice).get(ServiceCompiler.SERVICE_NAME_LABEL);
            if (service != null && !"FQDN".equals(slice.getAddressType())) {
                slices.computeIfAbsent(namespace(slice) + '/' + service, k -> new ArrayList<>()).add(slice);
            }
        }
        Map<String, Endpoints> legacy = new HashMap<>();
        for (Endpoints e : state.endpoints()) {
            legacy.put(namespace(e) + '/' + e.getMetadata().getName(), e);
        }
        // One version per namespace/name, the oldest first, as the Service compiler settles duplicates.
        Map<String, Service> services = new LinkedHashMap<>();
        state.services().stream()
             .filter(s -> s.getSpec() != null && s.getMetadata() != null && s.getMetadata().getName() != null)
             .sorted(Comparator.comparing(DnsCompiler::timestamp).thenComparing(DnsCompiler::key))
             .forEach(s -> services.putIfAbsent(key(s), s));

        for (Map.Entry<String, Service> e : services.entrySet()) {
            Service s = e.getValue();
            String problem = check(s);
            if (problem != null) {
                problems.add(new ConfigProblem("Service " + e.getKey(), problem + "; not in DNS"));
                continue;
            }
            try {
                add(b, s, slices.getOrDefault(e.getKey(), List.of()), legacy.get(e.getKey()), problems);
            } catch (IllegalArgumentException ex) {
                problems.add(new ConfigProblem("Service " + e.getKey(), ex.getMessage() + "; not in DNS"));
            }
        }
        return new Compiled(b.build(), problems);
    }

    /** Why the Service's names cannot be DNS names, or null. */
    private String check(Service s) {
        String name = s.getMetadata().getName();
        String ns = namespace(s);
        if (!isHostLabel(name)) {
            return "metadata.name: " + name + " (expected: a DNS label)";
        }
        if (!isHostLabel(ns)) {
            return "metadata.namespace: " + ns + " (expected: a DNS label)";
        }
        if (!DnsName.isValidName(serviceName(s))) {
            return "name: " + serviceName(s) + " (expected: at most 253 characters with the cluster domain)";
        }
        return null;
    }

    private String serviceName(Service s) {
        return s.getMetadata().getName().toLowerCase(Locale.ROOT) + '.' + namespace(s).toLowerCase(Locale.ROOT)
               + ".svc." + domain;
    }

    private void add(DnsTable.Builder b, Service s, List<EndpointSlice> slices, Endpoints legacy,
                     List<ConfigProblem> problems) {
        String name = serviceName(s);
        b.exists(namespace(s).toLowerCase(Locale.ROOT) + ".svc." + domain);
        if ("ExternalName".equals(s.getSpec().getType())) {
            String target = s.getSpec().getExternalName();
            if (target == null || !DnsName.isValidName(target)) {
                problems.add(new ConfigProblem("Service " + key(s), "spec.externalName: " + target
                                                                    + " (expected: a DNS name); not in DNS"));
                return;
            }
            b.cname(name, target);
            return;
        }
        List<ServicePort> ports = s.getSpec().getPorts() == null ? List.of() : s.getSpec().getPorts();
        List<String> ips = s.getSpec().getClusterIPs() != null && !s.getSpec().getClusterIPs().isEmpty()
                           ? s.getSpec().getClusterIPs()
                           : s.getSpec().getClusterIP() == null ? List.of() : List.of(s.getSpec().getClusterIP());
        if (ips.contains("None")) {
            headless(b, s, name, ports, slices, legacy);
            return;
        }
        boolean any = false;
        for (String text : ips) {
            InetAddress ip = EndpointResolver.literal(text);
            if (ip != null && !ip.isAnyLocalAddress()) {
                b.address(name, ip).ptr(ip, name);
                any = true;
            }
        }
        if (!any) {
            return; // no address yet: the name is NXDOMAIN until one is allocated
        }
        for (ServicePort p : ports) {
            String srv = srvName(p, name);
            if (srv != null && p.getPort() != null && p.getPort() >= 1 && p.getPort() <= 65535) {
                b.srv(srv, 0, 100, p.getPort(), name);
            }
        }
    }

    /** {@code _<port>._<proto>.<name>} for a named port, or null for an unnamed one (which has no SRV record). */
    private static String srvName(ServicePort p, String name) {
        if (p.getName() == null || p.getName().isEmpty() || !isHostLabel(p.getName())) {
            return null;
        }
        String protocol = p.getProtocol() == null ? "tcp" : p.getProtocol().toLowerCase(Locale.ROOT);
        return '_' + p.getName().toLowerCase(Locale.ROOT) + "._" + protocol + '.' + name;
    }

    private void headless(DnsTable.Builder b, Service s, String name, List<ServicePort> ports,
                          List<EndpointSlice> slices, Endpoints legacy) {
        boolean all = Boolean.TRUE.equals(s.getSpec().getPublishNotReadyAddresses());
        Map<InetAddress, Member> members = slices.isEmpty() && legacy != null ? fromEndpoints(legacy, all)
                                                                               : fromSlices(slices, all);
        members.values().removeIf(m -> !DnsName.isValidName(m.host + '.' + name));
        for (Member m : members.values()) {
            b.address(name, m.ip).address(m.host + '.' + name, m.ip).ptr(m.ip, m.host + '.' + name);
        }
        for (ServicePort p : ports) {
            String srv = srvName(p, name);
            if (srv == null) {
                continue;
            }
            String key = portKey(p.getName(), p.getProtocol());
            List<Member> serving = members.values().stream().filter(m -> m.ports.containsKey(key)).toList();
            int weight = Math.max(1, 100 / Math.max(1, serving.size()));
            for (Member m : serving) {
                b.srv(srv, 0, weight, m.ports.get(key), m.host + '.' + name);
            }
        }
    }

    /** The ready endpoints of a headless Service's slices, by address, with their ports by name and protocol. */
    private static Map<InetAddress, Member> fromSlices(List<EndpointSlice> slices, boolean all) {
        Map<InetAddress, Member> out = new LinkedHashMap<>();
        for (EndpointSlice slice : slices) {
            if (slice.getEndpoints() == null) {
                continue;
            }
            for (io.fabric8.kubernetes.api.model.discovery.v1.Endpoint e : slice.getEndpoints()) {
                EndpointConditions c = e.getConditions();
                boolean ready = c == null || c.getReady() == null || c.getReady();
                if (!ready && !all || e.getAddresses() == null || e.getAddresses().isEmpty()) {
                    continue;
                }
                InetAddress ip = EndpointResolver.literal(e.getAddresses().get(0));
                if (ip == null) {
                    continue;
                }
                Member m = out.computeIfAbsent(ip, k -> new Member(k, e.getHostname()));
                if (slice.getPorts() != null) {
                    for (io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort p : slice.getPorts()) {
                        if (p.getPort() != null && p.getPort() >= 1 && p.getPort() <= 65535) {
                            m.ports.putIfAbsent(portKey(p.getName(), p.getProtocol()), p.getPort());
                        }
                    }
                }
            }
        }
        return out;
    }

    private static Map<InetAddress, Member> fromEndpoints(Endpoints endpoints, boolean all) {
        Map<InetAddress, Member> out = new LinkedHashMap<>();
        if (endpoints.getSubsets() == null) {
            return out;
        }
        for (EndpointSubset subset : endpoints.getSubsets()) {
            List<EndpointAddress> addresses = new ArrayList<>();
            if (subset.getAddresses() != null) {
                addresses.addAll(subset.getAddresses());
            }
            if (all && subset.getNotReadyAddresses() != null) {
                addresses.addAll(subset.getNotReadyAddresses());
            }
            for (EndpointAddress a : addresses) {
                InetAddress ip = EndpointResolver.literal(a.getIp());
                if (ip == null) {
                    continue;
                }
                Member m = out.computeIfAbsent(ip, k -> new Member(k, a.getHostname()));
                if (subset.getPorts() != null) {
                    for (EndpointPort p : subset.getPorts()) {
                        if (p.getPort() != null && p.getPort() >= 1 && p.getPort() <= 65535) {
                            m.ports.putIfAbsent(portKey(p.getName(), p.getProtocol()), p.getPort());
                        }
                    }
                }
            }
        }
        return out;
    }

    private static String portKey(String name, String protocol) {
        return (name == null ? "" : name) + '/' + (protocol == null ? "TCP" : protocol);
    }

    /**
     * The label of an endpoint without a valid {@code hostname}: its address with dashes, as CoreDNS writes it
     * ({@code 10-1-2-3}; {@code fd00--1}, with a {@code 0} after a final dash).
     */
    static String dashed(InetAddress ip) {
        if (ip instanceof Inet4Address) {
            return ip.getHostAddress().replace('.', '-');
        }
        String s = NetUtil.toAddressString(ip).replace(':', '-');
        return s.endsWith("-") ? s + '0' : s;
    }

    /** A DNS-1123 label as Kubernetes allows for names: letters, digits and dashes. */
    private static boolean isHostLabel(String s) {
        return DnsName.isValidLabel(s) && s.indexOf('_') < 0;
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
        return ts == null ? "~" : ts;
    }

    /** One endpoint of a headless Service. */
    private static final class Member {
        final InetAddress ip;
        final String host;
        final Map<String, Integer> ports = new HashMap<>();

        Member(InetAddress ip, String hostname) {
            this.ip = ip;
            this.host = hostname != null && isHostLabel(hostname) ? hostname.toLowerCase(Locale.ROOT) : dashed(ip);
        }
    }
}
