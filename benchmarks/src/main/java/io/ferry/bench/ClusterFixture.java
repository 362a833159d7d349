package io.ferry.bench;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.HTTPIngressPathBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.ferry.control.ClusterState;
import io.ferry.control.SnapshotCompiler;
import io.ferry.control.compile.IngressCompiler;
import io.ferry.control.compile.ServiceCompiler;
import io.ferry.control.compile.TlsCompiler;
import io.ferry.l7.tls.TlsCertificate;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A synthetic cluster shaped like a real one, for the compile, heap and apply benchmarks: {@code services}
 * ClusterIP Services (Helm-style names, labels, selector and annotations; one TCP port {@code http} 80 → 8080),
 * each with one EndpointSlice of {@code endpointsPerService} ready endpoints (pod IPs from {@code 10.128.0.0/9},
 * node names, zones and Pod {@code targetRef}s as the EndpointSlice controller writes them), and optionally
 * {@code ingresses} Ingresses of class {@code ferry}, each with one host and two Prefix paths ({@code /} by port
 * number, {@code /api} by port name) to one of those Services.
 *
 * <p>{@link #withEndpointChanged(int)} gives the same cluster with one endpoint of one Service replaced (a pod
 * rescheduled), sharing every other object with this one, as an informer-fed source does.
 */
final class ClusterFixture {

    /** Kubernetes' default Service CIDR, {@code 10.96.0.0/12}. */
    static final int SERVICE_CIDR_10_96 = (10 << 24) | (96 << 16);
    /** {@code 127.96.0.0}: ClusterIPs that a test can bind without a route (all of 127/8 is local). */
    static final int SERVICE_CIDR_127_96 = (127 << 24) | (96 << 16);
    private static final int POD_CIDR_BASE = (10 << 24) | (128 << 16);
    private static final String[] APPS = { "checkout", "payments", "catalog", "search", "cart", "users", "orders",
                                           "inventory", "shipping", "auth", "reviews", "pricing", "media", "notify" };
    private static final String HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789";
    static final String INGRESS_CLASS = IngressCompiler.DEFAULT_CLASS;

    final List<Service> services;
    final List<EndpointSlice> slices;
    final List<Ingress> ingresses;
    final List<IngressClass> ingressClasses;
    private final int endpointsPerService;
    private final int generation;

    private ClusterFixture(List<Service> services, List<EndpointSlice> slices, List<Ingress> ingresses,
                           List<IngressClass> ingressClasses, int endpointsPerService, int generation) {
        this.services = services;
        this.slices = slices;
        this.ingresses = ingresses;
        this.ingressClasses = ingressClasses;
        this.endpointsPerService = endpointsPerService;
        this.generation = generation;
    }

    /**
     * @param serviceCidrBase the first address of the range ClusterIPs are numbered from (each Service gets
     *                        {@code base + 1 + i})
     */
    static ClusterFixture create(int services, int endpointsPerService, int ingresses, int serviceCidrBase) {
        if (ingresses > services) {
            throw new IllegalArgumentException("ingresses: " + ingresses + " (expected: <= services " + services + ')');
        }
        SplittableRandom random = new SplittableRandom(0x5eed_c0deL);
        List<Service> svcs = new ArrayList<>(services);
        List<EndpointSlice> slices = new ArrayList<>(services);
        for (int i = 0; i < services; i++) {
            svcs.add(service(i, serviceCidrBase));
            slices.add(slice(i, endpointsPerService, random, 0));
        }
        List<Ingress> ings = new ArrayList<>(ingresses);
        for (int i = 0; i < ingresses; i++) {
            ings.add(ingress(i));
        }
        IngressClass ferry = new IngressClassBuilder()
                .withNewMetadata().withName(INGRESS_CLASS).endMetadata()
                .withNewSpec().withController("ferry.io/ingress-controller").endSpec()
                .build();
        return new ClusterFixture(List.copyOf(svcs), List.copyOf(slices), List.copyOf(ings), List.of(ferry),
                                  endpointsPerService, 0);
    }

    /** This cluster with one endpoint of Service {@code service} moved to a new pod IP; every other object shared. */
    ClusterFixture withEndpointChanged(int service) {
        List<EndpointSlice> next = new ArrayList<>(slices);
        next.set(service, slice(service, endpointsPerService, new SplittableRandom(service), generation + 1));
        return new ClusterFixture(services, List.copyOf(next), ingresses, ingressClasses, endpointsPerService,
                                  generation + 1);
    }

    /** This cluster plus one Service (and its slice) numbered {@code services.size()}. */
    ClusterFixture withOneMoreService(int serviceCidrBase) {
        int i = services.size();
        List<Service> s = new ArrayList<>(services);
        s.add(service(i, serviceCidrBase));
        List<EndpointSlice> e = new ArrayList<>(slices);
        e.add(slice(i, endpointsPerService, new SplittableRandom(i), 0));
        return new ClusterFixture(List.copyOf(s), List.copyOf(e), ingresses, ingressClasses, endpointsPerService,
                                  generation);
    }

    ClusterState state() {
        return new ClusterState(services, slices, List.of(), ingresses, ingressClasses, List.of(), List.of());
    }

    /**
     * A compiler as {@code Ferry} makes it: Services; with {@code http}, Ingresses and TLS (a generated default
     * certificate, as with {@code --https-port}).
     */
    static SnapshotCompiler compiler(boolean http, TlsCertificate defaultCertificate) {
        ServiceCompiler services = new ServiceCompiler(List.of(anyLocal()), "node-0");
        if (!http) {
            return SnapshotCompiler.servicesOnly(services);
        }
        return new SnapshotCompiler(services, new IngressCompiler(INGRESS_CLASS, false),
                                    defaultCertificate == null ? null
                                            : new TlsCompiler(INGRESS_CLASS, false, defaultCertificate));
    }

    static String namespace(int i) {
        return "team-" + APPS[(i / 100) % APPS.length] + '-' + (i / 100);
    }

    static String name(int i) {
        return APPS[i % APPS.length] + "-api-" + i;
    }

    static String host(int i) {
        return name(i) + '.' + namespace(i) + ".apps.example.com";
    }

    private static Map<String, String> labels(int i) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("app.kubernetes.io/name", name(i));
        labels.put("app.kubernetes.io/instance", name(i) + "-prod");
        labels.put("app.kubernetes.io/part-of", APPS[i % APPS.length]);
        labels.put("app.kubernetes.io/version", "1." + (i % 20) + ".3");
        labels.put("app.kubernetes.io/managed-by", "Helm");
        labels.put("helm.sh/chart", APPS[i % APPS.length] + "-api-0." + (i % 9) + ".1");
        return labels;
    }

    private static String timestamp(int i) {
        // Distinct, increasing creation times over a year.
        int minutes = i * 7;
        return String.format("2025-%02d-%02dT%02d:%02d:%02dZ", 1 + (minutes / (60 * 24 * 28)) % 12,
                             1 + (minutes / (60 * 24)) % 28, (minutes / 60) % 24, minutes % 60, i % 60);
    }

    private static Service service(int i, int serviceCidrBase) {
        String ip = ipv4(serviceCidrBase + 1 + i);
        Map<String, String> selector = new LinkedHashMap<>();
        selector.put("app.kubernetes.io/name", name(i));
        selector.put("app.kubernetes.io/instance", name(i) + "-prod");
        return new ServiceBuilder()
                .withNewMetadata()
                    .withName(name(i)).withNamespace(namespace(i))
                    .withUid(uid(i, 's')).withResourceVersion(String.valueOf(1_000_000 + i))
                    .withCreationTimestamp(timestamp(i))
                    .withLabels(labels(i))
                    .addToAnnotations("meta.helm.sh/release-name", name(i) + "-prod")
                    .addToAnnotations("meta.helm.sh/release-namespace", namespace(i))
                .endMetadata()
                .withNewSpec()
                    .withType("ClusterIP")
                    .withClusterIP(ip).withClusterIPs(ip)
                    .withIpFamilies("IPv4").withIpFamilyPolicy("SingleStack")
                    .withInternalTrafficPolicy("Cluster")
                    .withSessionAffinity("None")
                    .withSelector(selector)
                    .addNewPort().withName("http").withProtocol("TCP").withPort(80)
                        .withTargetPort(new IntOrString(8080)).endPort()
                .endSpec()
                .build();
    }

    private static EndpointSlice slice(int i, int endpoints, SplittableRandom random, int generation) {
        Map<String, String> labels = labels(i);
        labels.put("kubernetes.io/service-name", name(i));
        labels.put("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io");
        String replicaSet = name(i) + '-' + suffix(random, 10);
        EndpointSliceBuilder b = new EndpointSliceBuilder()
                .withNewMetadata()
                    .withName(name(i) + '-' + suffix(random, 5)).withNamespace(namespace(i))
                    .withGenerateName(name(i) + '-')
                    .withUid(uid(i, 'e')).withResourceVersion(String.valueOf(2_000_000 + i + generation))
                    .withCreationTimestamp(timestamp(i))
                    .withLabels(labels)
                    .addToAnnotations("endpoints.kubernetes.io/last-change-trigger-time", timestamp(i))
                    .addNewOwnerReference().withApiVersion("v1").withKind("Service").withName(name(i))
                        .withUid(uid(i, 's')).withController(true).withBlockOwnerDeletion(true).endOwnerReference()
                .endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withProtocol("TCP").withPort(8080).endPort();
        for (int j = 0; j < endpoints; j++) {
            // Generation g moves endpoint 0 to an address past every generation-0 pod IP.
            int pod = j == 0 && generation > 0 ? (1 << 22) + i * 64 + generation % 64 : i * endpoints + j;
            b.addNewEndpoint()
             .withAddresses(ipv4(POD_CIDR_BASE + pod))
             .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
             .withNodeName("node-" + ((i + j) % 50))
             .withZone("zone-" + (char) ('a' + (i + j) % 3))
             .withNewTargetRef().withKind("Pod").withNamespace(namespace(i))
                .withName(replicaSet + '-' + suffix(random, 5)).withUid(uid(pod, 'p')).endTargetRef()
             .endEndpoint();
        }
        return b.build();
    }

    private static Ingress ingress(int i) {
        return new IngressBuilder()
                .withNewMetadata()
                    .withName(name(i)).withNamespace(namespace(i))
                    .withUid(uid(i, 'i')).withResourceVersion(String.valueOf(3_000_000 + i))
                    .withCreationTimestamp(timestamp(i))
                    .withLabels(labels(i))
                    .addToAnnotations("nginx.ingress.kubernetes.io/proxy-body-size", "8m")
                    .addToAnnotations("nginx.ingress.kubernetes.io/proxy-read-timeout", "120")
                .endMetadata()
                .withNewSpec()
                    .withIngressClassName(INGRESS_CLASS)
                    .addNewRule().withHost(host(i)).withNewHttp()
                        .addToPaths(new HTTPIngressPathBuilder().withPath("/").withPathType("Prefix")
                                            .withNewBackend().withNewService().withName(name(i))
                                            .withNewPort().withNumber(80).endPort().endService().endBackend()
                                            .build())
                        .addToPaths(new HTTPIngressPathBuilder().withPath("/api").withPathType("Prefix")
                                            .withNewBackend().withNewService().withName(name(i))
                                            .withNewPort().withName("http").endPort().endService().endBackend()
                                            .build())
                    .endHttp().endRule()
                .endSpec()
                .build();
    }

    private static String suffix(SplittableRandom random, int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int k = 0; k < length; k++) {
            sb.append(HASH_CHARS.charAt(random.nextInt(HASH_CHARS.length())));
        }
        return sb.toString();
    }

    private static String uid(int i, char kind) {
        return String.format("%08x-%04x-4%03x-8%03x-%012x", i * 2654435761L & 0xffffffffL, (int) kind, i & 0xfff,
                             (i >>> 12) & 0xfff, (long) i * 0x9E3779B9L & 0xffffffffffffL);
    }

    static String ipv4(int address) {
        return (address >>> 24) + "." + ((address >>> 16) & 0xff) + '.' + ((address >>> 8) & 0xff) + '.'
               + (address & 0xff);
    }

    private static InetAddress anyLocal() {
        try {
            return InetAddress.getByAddress(new byte[4]);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
