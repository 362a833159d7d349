package io.ferry.control.compile;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.ferry.control.ClusterState;
import io.ferry.control.source.ManifestParser;
import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Kubernetes rules of {@code shared/reference/kubernetes-semantics.md}, one case each. */
class ServiceCompilerTest {

    private final ServiceCompiler compiler = new ServiceCompiler(List.of(wildcard()));

    private static InetAddress wildcard() {
        return new java.net.InetSocketAddress(0).getAddress();
    }

    private static ClusterState state(String yaml) throws Exception {
        List<Service> services = new ArrayList<>();
        List<EndpointSlice> slices = new ArrayList<>();
        List<Endpoints> endpoints = new ArrayList<>();
        for (HasMetadata o : new ManifestParser().parse(yaml)) {
            if (o.getMetadata().getNamespace() == null) {
                o.getMetadata().setNamespace("default");
            }
            if (o instanceof Service) {
                services.add((Service) o);
            } else if (o instanceof EndpointSlice) {
                slices.add((EndpointSlice) o);
            } else if (o instanceof Endpoints) {
                endpoints.add((Endpoints) o);
            }
        }
        return new ClusterState(services, slices, endpoints, List.of());
    }

    private static ListenerKey key(String ip, int port) throws Exception {
        return ListenerKey.of(InetAddress.getByName(ip), port, Protocol.TCP);
    }

    private static List<String> endpoints(Backend b) {
        return b.endpoints().stream().map(e -> Endpoint.hostPort(e.address())).toList();
    }

    private static String service(String name, String clusterIp, String extra) {
        return """
               apiVersion: v1
               kind: Service
               metadata: {name: %s, namespace: ns}
               spec:
                 clusterIP: %s
                 ports:
                 - {name: http, port: 80, targetPort: web}
               %s
               ---
               """.formatted(name, clusterIp, extra);
    }

    private static String slice(String name, String service, String portName, int port, String endpointsYaml) {
        return """
               apiVersion: discovery.k8s.io/v1
               kind: EndpointSlice
               metadata:
                 name: %s
                 namespace: ns
                 labels: {kubernetes.io/service-name: %s}
               addressType: IPv4
               ports: [{name: %s, port: %d}]
               endpoints:
               %s
               ---
               """.formatted(name, service, portName, port, endpointsYaml);
    }

    @Test
    void joinsSlicesByLabelMatchesPortsByNameAndDedupes() throws Exception {
        CompiledServices c = compiler.compile(state(
                service("web", "127.1.0.1", "")
                + slice("web-a", "web", "http", 8080, """
                        - addresses: [10.0.0.1]
                        - addresses: [10.0.0.2]
                        """)
                + slice("web-b", "web", "http", 8080, """
                        - addresses: [10.0.0.2]
                        - addresses: [10.0.0.3]
                        """)
                + slice("web-other-port", "web", "metrics", 9090, """
                        - addresses: [10.0.0.9]
                        """)
                + slice("other", "not-web", "http", 8080, """
                        - addresses: [10.0.0.8]
                        """)));
        Backend b = c.table().lookup(key("127.1.0.1", 80));
        assertThat(b.name()).isEqualTo("ns/web:80/TCP");
        assertThat(endpoints(b)).containsExactly("10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080");
        assertThat(c.problems()).isEmpty();
    }

    @Test
    void aServicePortKeepsItsCountersAcrossCompilesAndLosesThemWhenItGoes() throws Exception {
        String web = service("web", "127.1.0.1", "") + slice("web-a", "web", "http", 8080, """
                - addresses: [10.0.0.1]
                """);
        Backend first = compiler.compile(state(web)).table().lookup(key("127.1.0.1", 80));
        String scaled = service("web", "127.1.0.1", "") + slice("web-a", "web", "http", 8080, """
                - addresses: [10.0.0.1]
                - addresses: [10.0.0.2]
                """);
        Backend second = compiler.compile(state(scaled)).table().lookup(key("127.1.0.1", 80));
        assertThat(second.endpoints()).hasSize(2);
        assertThat(second.stats()).isSameAs(first.stats());
        compiler.compile(state(""));
        Backend again = compiler.compile(state(web)).table().lookup(key("127.1.0.1", 80));
        assertThat(again.stats()).isNotSameAs(first.stats());
    }

    @Test
    void aServiceWhoseObjectsAreTheSameInstancesIsNotBuiltAgain() throws Exception {
        // As an informer hands them over: unchanged objects are the same instances from one state to the next.
        ClusterState first = state(service("web", "127.1.0.1", """
                  sessionAffinity: ClientIP
                """) + slice("web-a", "web", "http", 8080, "- addresses: [10.0.0.1]\n")
                + service("api", "127.1.0.2", "") + slice("api-a", "api", "http", 8080, "- addresses: [10.0.1.1]\n")
                + service("pp", "127.1.0.3", "").replace("namespace: ns}",
                                                         "namespace: ns, annotations: {ferry.io/proxy-protocol: v3}}"));
        CompiledServices c1 = compiler.compile(first);
        Backend web1 = c1.table().lookup(key("127.1.0.1", 80));
        Backend api1 = c1.table().lookup(key("127.1.0.2", 80));

        // The same state again: everything reused, the problem still reported.
        CompiledServices c2 = compiler.compile(first);
        assertThat(c2.table().lookup(key("127.1.0.1", 80))).isSameAs(web1);
        assertThat(c2.table().lookup(key("127.1.0.2", 80))).isSameAs(api1);
        assertThat(c2.services()).isEqualTo(c1.services());
        assertThat(c2.problems()).isEqualTo(c1.problems()).singleElement().asString()
                                 .contains("ferry.io/proxy-protocol]: v3");

        // api's slice changes (a new instance): api is built again and keeps its counters; web is reused.
        EndpointSlice apiSlice = (EndpointSlice) new ManifestParser().parse(
                slice("api-a", "api", "http", 8080, "- addresses: [10.0.1.2]\n")).get(0);
        List<EndpointSlice> slices = new ArrayList<>(first.endpointSlices());
        slices.set(1, apiSlice);
        ClusterState second = new ClusterState(first.services(), slices, first.endpoints(), List.of());
        CompiledServices c3 = compiler.compile(second);
        assertThat(c3.table().lookup(key("127.1.0.1", 80))).isSameAs(web1);
        Backend api3 = c3.table().lookup(key("127.1.0.2", 80));
        assertThat(endpoints(api3)).containsExactly("10.0.1.2:8080");
        assertThat(api3.stats()).isSameAs(api1.stats());

        // What the incremental compile gives is what a new compiler gives for the same state.
        CompiledServices cold = new ServiceCompiler(List.of(wildcard())).compile(second);
        assertThat(c3.table().entries()).isEqualTo(cold.table().entries());
        assertThat(c3.services()).isEqualTo(cold.services());
        assertThat(c3.problems()).isEqualTo(cold.problems());
        assertThat(c3.services().get(0).ports().get(0).endpoints()).containsExactly("10.0.1.2:8080");
        // The view's strings are made when read, as /config_dump serializes them.
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(c3.services().get(0)))
                .contains("\"endpoints\":[\"10.0.1.2:8080\"]").contains("\"listeners\":[\"127.1.0.2:80/TCP\"]");

        // A Service that goes and comes back with the same instances is built anew: its counters start over.
        compiler.compile(new ClusterState(List.of(first.services().get(0)), first.endpointSlices(), List.of(),
                                          List.of()));
        Backend api4 = compiler.compile(second).table().lookup(key("127.1.0.2", 80));
        assertThat(api4.stats()).isNotSameAs(api1.stats());
    }

    @Test
    void aServiceIsBuiltAgainWhenOnlyItsLegacyEndpointsChange() throws Exception {
        String svc = service("web", "127.1.0.1", "");
        String legacy = """
                apiVersion: v1
                kind: Endpoints
                metadata: {name: web, namespace: ns}
                subsets: [{addresses: [{ip: %s}], ports: [{name: http, port: 8080}]}]
                ---
                """;
        ClusterState first = state(svc + legacy.formatted("10.0.0.1"));
        Backend b1 = compiler.compile(first).table().lookup(key("127.1.0.1", 80));
        Endpoints moved = (Endpoints) new ManifestParser().parse(legacy.formatted("10.0.0.2")).get(0);
        moved.getMetadata().setNamespace("ns");
        Backend b2 = compiler.compile(new ClusterState(first.services(), List.of(), List.of(moved), List.of()))
                             .table().lookup(key("127.1.0.1", 80));
        assertThat(endpoints(b1)).containsExactly("10.0.0.1:8080");
        assertThat(endpoints(b2)).containsExactly("10.0.0.2:8080");
        assertThat(b2.stats()).isSameAs(b1.stats());
    }

    @Test
    void usesReadyEndpointsAndFallsBackToServingTerminating() throws Exception {
        CompiledServices c = compiler.compile(state(
                service("a", "127.1.0.1", "")
                + slice("a-1", "a", "http", 8080, """
                        - addresses: [10.0.0.1]
                          conditions: {ready: true}
                        - addresses: [10.0.0.2]
                          conditions: {ready: false, serving: true, terminating: true}
                        - addresses: [10.0.0.3]
                          conditions: {ready: false}
                        """)
                + service("b", "127.1.0.2", "")
                + slice("b-1", "b", "http", 8080, """
                        - addresses: [10.0.1.2]
                          conditions: {ready: false, serving: true, terminating: true}
                        - addresses: [10.0.1.3]
                          conditions: {ready: false, serving: false, terminating: true}
                        """)
                + service("c", "127.1.0.3", "")
                + slice("c-1", "c", "http", 8080, """
                        - addresses: [10.0.2.1]
                          conditions: {ready: false}
                        """)));
        assertThat(endpoints(c.table().lookup(key("127.1.0.1", 80)))).containsExactly("10.0.0.1:8080");
        assertThat(endpoints(c.table().lookup(key("127.1.0.2", 80)))).containsExactly("10.0.1.2:8080");
        assertThat(c.table().lookup(key("127.1.0.3", 80)).isEmpty()).isTrue();
        assertThat(c.services().stream().filter(s -> s.name().equals("b")).findFirst().orElseThrow()
                    .ports().get(0).terminatingFallback()).isTrue();
    }

    private static final String TWO_NODES = """
            - addresses: [10.0.0.1]
              nodeName: node-a
            - addresses: [10.0.0.2]
              nodeName: node-b
            - addresses: [10.0.0.3]
              nodeName: node-a
              conditions: {ready: false, serving: true, terminating: true}
            """;

    private static String nodePortService(String name, String clusterIp, int nodePort, String policy) {
        return """
               apiVersion: v1
               kind: Service
               metadata: {name: %s, namespace: ns}
               spec:
                 type: NodePort
                 clusterIP: %s
                 %s
                 ports:
                 - {name: http, port: 80, nodePort: %d}
               ---
               """.formatted(name, clusterIp, policy, nodePort);
    }

    private static ListenerKey wildcardKey(int port) {
        return ListenerKey.of(wildcard(), port, Protocol.TCP);
    }

    @Test
    void localTrafficPoliciesUseOnlyThisNodesEndpoints() throws Exception {
        ServiceCompiler onA = new ServiceCompiler(List.of(wildcard()), "node-a");
        CompiledServices c = onA.compile(state(
                nodePortService("internal", "127.1.0.1", 30001, "internalTrafficPolicy: Local")
                + slice("internal-1", "internal", "http", 8080, TWO_NODES)
                + nodePortService("external", "127.1.0.2", 30002, "externalTrafficPolicy: Local")
                + slice("external-1", "external", "http", 8080, TWO_NODES)
                + service("elsewhere", "127.1.0.3", """
                          internalTrafficPolicy: Local
                        """)
                + slice("elsewhere-1", "elsewhere", "http", 8080, """
                        - addresses: [10.0.9.1]
                          nodeName: node-b
                        """)));
        assertThat(c.problems()).isEmpty();
        // ClusterIP traffic follows internalTrafficPolicy, node-port traffic externalTrafficPolicy.
        assertThat(endpoints(c.table().lookup(key("127.1.0.1", 80)))).containsExactly("10.0.0.1:8080");
        assertThat(endpoints(c.table().lookup(wildcardKey(30001)))).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");
        assertThat(endpoints(c.table().lookup(key("127.1.0.2", 80)))).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");
        assertThat(endpoints(c.table().lookup(wildcardKey(30002)))).containsExactly("10.0.0.1:8080");
        // Both backends of a port count into one set of counters.
        assertThat(c.table().lookup(wildcardKey(30002)).stats())
                .isSameAs(c.table().lookup(key("127.1.0.2", 80)).stats());
        // No local endpoint: none at all, never another node's.
        assertThat(c.table().lookup(key("127.1.0.3", 80)).isEmpty()).isTrue();
    }

    @Test
    void localPolicyFallsBackToThisNodesTerminatingEndpointsOnly() throws Exception {
        ServiceCompiler onA = new ServiceCompiler(List.of(wildcard()), "node-a");
        CompiledServices c = onA.compile(state(
                service("web", "127.1.0.1", """
                          internalTrafficPolicy: Local
                        """)
                + slice("web-1", "web", "http", 8080, """
                        - addresses: [10.0.0.1]
                          nodeName: node-b
                        - addresses: [10.0.0.2]
                          nodeName: node-a
                          conditions: {ready: false, serving: true, terminating: true}
                        """)));
        assertThat(endpoints(c.table().lookup(key("127.1.0.1", 80)))).containsExactly("10.0.0.2:8080");
        assertThat(c.services().get(0).ports().get(0).terminatingFallback()).isTrue();
        assertThat(c.services().get(0).internalTrafficPolicy()).isEqualTo("Local");
    }

    @Test
    void externalIpsAndLoadBalancerAddressesGetListenersWithTheExternalPolicy() throws Exception {
        ServiceCompiler onA = new ServiceCompiler(List.of(wildcard()), "node-a");
        String lb = """
                apiVersion: v1
                kind: Service
                metadata: {name: lb, namespace: ns}
                spec:
                  type: LoadBalancer
                  clusterIP: 127.1.0.1
                  externalTrafficPolicy: Local
                  healthCheckNodePort: 32000
                  externalIPs: [127.1.1.1]
                  ports: [{name: http, port: 80, nodePort: 30080}]
                status:
                  loadBalancer:
                    ingress:
                    - ip: 127.1.2.1
                    - ip: 127.1.2.2
                      ipMode: Proxy
                ---
                """;
        CompiledServices c = onA.compile(state(lb + slice("lb-1", "lb", "http", 8080, TWO_NODES)));
        assertThat(c.problems()).isEmpty();
        assertThat(endpoints(c.table().lookup(key("127.1.0.1", 80)))).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");
        for (ListenerKey external : List.of(key("127.1.1.1", 80), key("127.1.2.1", 80), wildcardKey(30080))) {
            assertThat(endpoints(c.table().lookup(external))).as("%s", external).containsExactly("10.0.0.1:8080");
        }
        assertThat(c.table().lookup(key("127.1.2.2", 80))).isNull(); // ipMode Proxy: the LB comes to the node
        assertThat(c.healthChecks()).containsExactly(new CompiledServices.HealthCheck(32000, "ns", "lb", 1));

        // An external IP that is not one is refused like the API server refuses it.
        CompiledServices bad = onA.compile(state(service("x", "127.1.0.9", """
                  externalIPs: [not-an-ip]
                """)));
        assertThat(bad.problems()).singleElement().asString().contains("spec.externalIPs[0]: not-an-ip");
    }

    @Test
    void sessionAffinityIsCompiledCarriedAndValidated() throws Exception {
        String yaml = service("web", "127.1.0.1", """
                  sessionAffinity: ClientIP
                  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
                """) + slice("web-1", "web", "http", 8080, "- addresses: [10.0.0.1]\n");
        Backend first = compiler.compile(state(yaml)).table().lookup(key("127.1.0.1", 80));
        assertThat(first.affinity()).isNotNull();
        assertThat(first.affinity().timeout()).hasSeconds(60);
        Backend second = compiler.compile(state(yaml.replace("10.0.0.1", "10.0.0.2"))).table()
                                 .lookup(key("127.1.0.1", 80));
        assertThat(second.affinity()).isSameAs(first.affinity()); // pins survive the swap

        CompiledServices defaults = compiler.compile(state(service("d", "127.1.0.2", """
                  sessionAffinity: ClientIP
                """)));
        assertThat(defaults.table().lookup(key("127.1.0.2", 80)).affinity().timeout()).hasSeconds(10_800);
        CompiledServices bad = compiler.compile(state(service("e", "127.1.0.3", """
                  sessionAffinity: ClientIP
                  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}
                """)));
        assertThat(bad.problems()).singleElement().asString().contains("timeoutSeconds: 86401 (expected: 1-86400)");
        assertThat(bad.table().lookup(key("127.1.0.3", 80))).isNull();
    }

    @Test
    void proxyProtocolAndBalancerAnnotations() throws Exception {
        String yaml = """
                apiVersion: v1
                kind: Service
                metadata:
                  name: pp
                  namespace: ns
                  annotations: {ferry.io/proxy-protocol: v2, ferry.io/lb-algorithm: round-robin}
                spec:
                  clusterIP: 127.1.0.1
                  ports: [{name: http, port: 80}]
                ---
                apiVersion: v1
                kind: Service
                metadata:
                  name: bad
                  namespace: ns
                  annotations: {ferry.io/proxy-protocol: v3, ferry.io/lb-algorithm: fastest}
                spec:
                  clusterIP: 127.1.0.2
                  ports: [{name: http, port: 80}]
                ---
                """;
        CompiledServices c = compiler.compile(state(yaml));
        Backend pp = c.table().lookup(key("127.1.0.1", 80));
        assertThat(pp.proxyProtocol()).isTrue();
        assertThat(pp.balancer().name()).isEqualTo("round_robin");
        Backend bad = c.table().lookup(key("127.1.0.2", 80));
        assertThat(bad.proxyProtocol()).isFalse();
        assertThat(bad.balancer().name()).isEqualTo("random");
        assertThat(c.problems()).extracting(Object::toString)
                                .anyMatch(p -> p.contains("ferry.io/proxy-protocol]: v3 (expected: v2); ignored"))
                                .anyMatch(p -> p.contains("ferry.io/lb-algorithm: fastest (expected: random,"));
    }

    @Test
    void skipsWhatBelongsToOthers() throws Exception {
        CompiledServices c = compiler.compile(state(
                service("other-proxy", "127.1.0.1", "")
                        .replace("metadata: {name: other-proxy, namespace: ns}",
                                 "metadata: {name: other-proxy, namespace: ns, labels: "
                                 + "{service.kubernetes.io/service-proxy-name: someone-else}}")
                + service("headless", "None", "")
                + """
                  apiVersion: v1
                  kind: Service
                  metadata: {name: ext, namespace: ns}
                  spec: {type: ExternalName, externalName: example.com}
                  ---
                  """
                + service("web", "127.1.0.2", "")
                + slice("web-headless", "web", "http", 8080, "- addresses: [10.0.0.1]")
                        .replace("labels: {kubernetes.io/service-name: web}",
                                 "labels: {kubernetes.io/service-name: web, service.kubernetes.io/headless: ''}")));
        assertThat(c.table().listeners()).containsExactly(key("127.1.0.2", 80));
        assertThat(c.table().lookup(key("127.1.0.2", 80)).isEmpty()).isTrue();
        assertThat(c.services()).extracting(CompiledServices.ServiceView::name)
                                .containsExactlyInAnyOrder("headless", "web");
        assertThat(c.problems()).isEmpty();
    }

    @Test
    void legacyEndpointsServeOnlyServicesWithoutSlices() throws Exception {
        CompiledServices c = compiler.compile(state(
                service("old", "127.1.0.1", "")
                + service("new", "127.1.0.2", "")
                + slice("new-1", "new", "http", 8080, "- addresses: [10.0.0.1]")
                + """
                  apiVersion: v1
                  kind: Endpoints
                  metadata: {name: old, namespace: ns}
                  subsets:
                  - addresses: [{ip: 10.0.9.1}]
                    notReadyAddresses: [{ip: 10.0.9.2}]
                    ports: [{name: http, port: 8081}]
                  ---
                  apiVersion: v1
                  kind: Endpoints
                  metadata: {name: new, namespace: ns}
                  subsets:
                  - addresses: [{ip: 10.0.9.9}]
                    ports: [{name: http, port: 8081}]
                  """));
        assertThat(endpoints(c.table().lookup(key("127.1.0.1", 80)))).containsExactly("10.0.9.1:8081");
        assertThat(endpoints(c.table().lookup(key("127.1.0.2", 80)))).containsExactly("10.0.0.1:8080");
    }

    @Test
    void nodePortsListenOnNodeAddressesAndAreValidated() throws Exception {
        String np = """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: %s, namespace: ns, creationTimestamp: "%s"}
                    spec:
                      type: NodePort
                      clusterIP: %s
                      ports: [{port: 80, nodePort: %d}]
                    ---
                    """;
        CompiledServices c = compiler.compile(state(
                np.formatted("good", "2024-01-01T00:00:00Z", "127.1.0.1", 30080)
                + np.formatted("out-of-range", "2024-01-01T00:00:00Z", "127.1.0.2", 80)
                + np.formatted("younger-duplicate", "2024-02-01T00:00:00Z", "127.1.0.3", 30080)));
        assertThat(c.table().listeners()).containsExactlyInAnyOrder(
                key("127.1.0.1", 80), ListenerKey.of(wildcard(), 30080, Protocol.TCP));
        assertThat(c.problems()).extracting(Object::toString).containsExactlyInAnyOrder(
                "Service ns/out-of-range: spec.ports[0].nodePort: 80 (expected: 30000-32767)",
                "Service ns/younger-duplicate: *:30080/TCP is already taken by ns/good:80/TCP");
    }

    @Test
    void aDuplicateClusterIpAndPortRejectsTheYoungerServiceWhole() throws Exception {
        CompiledServices c = compiler.compile(state(
                service("older", "127.1.0.1", "").replace("namespace: ns}",
                                                          "namespace: ns, creationTimestamp: '2024-01-01T00:00:00Z'}")
                + """
                  apiVersion: v1
                  kind: Service
                  metadata: {name: younger, namespace: ns, creationTimestamp: '2024-06-01T00:00:00Z'}
                  spec:
                    clusterIP: 127.1.0.1
                    ports:
                    - {name: a, port: 81}
                    - {name: b, port: 80}
                  """));
        assertThat(c.table().listeners()).containsExactly(key("127.1.0.1", 80));
        assertThat(c.table().lookup(key("127.1.0.1", 80)).name()).isEqualTo("ns/older:80/TCP");
        assertThat(c.problems()).singleElement().asString()
                                .contains("ns/younger").contains("127.1.0.1:80/TCP is already taken by ns/older:80/TCP");
    }

    @Test
    void udpPortsGetListenersAndSctpPortsAreOnlyShown() throws Exception {
        CompiledServices c = compiler.compile(state("""
                apiVersion: v1
                kind: Service
                metadata: {name: dns, namespace: ns}
                spec:
                  clusterIP: 127.1.0.10
                  ports:
                  - {name: dns, port: 53, protocol: UDP}
                  - {name: dns-tcp, port: 53, protocol: TCP}
                  - {name: sctp, port: 9999, protocol: SCTP}
                """));
        assertThat(c.table().listeners()).containsExactlyInAnyOrder(
                key("127.1.0.10", 53), ListenerKey.of(InetAddress.getByName("127.1.0.10"), 53, Protocol.UDP));
        assertThat(c.table().lookup(ListenerKey.of(InetAddress.getByName("127.1.0.10"), 53, Protocol.UDP)).name())
                .isEqualTo("ns/dns:53/UDP");
        assertThat(c.services().get(0).ports()).extracting(CompiledServices.PortView::protocol)
                                               .containsExactly("UDP", "TCP", "SCTP");
        assertThat(c.services().get(0).ports().get(2).listeners()).isEmpty();
    }

    @Test
    void invalidFieldsAreReportedWithTheBadValue() throws Exception {
        CompiledServices c = compiler.compile(state(
                service("bad-ip", "not-an-ip", "")
                + service("bad-port", "127.1.0.2", "").replace("port: 80,", "port: 70000,")));
        assertThat(c.table().size()).isZero();
        assertThat(c.problems()).extracting(Object::toString).containsExactlyInAnyOrder(
                "Service ns/bad-ip: spec.clusterIP: not-an-ip (expected: an IP address or None)",
                "Service ns/bad-port: spec.ports[0].port: 70000 (expected: 1-65535)");
    }

    @Test
    void twoPortsWithTheSamePortOrNodePortRejectTheServiceWhole() throws Exception {
        CompiledServices c = compiler.compile(state("""
                apiVersion: v1
                kind: Service
                metadata: {name: same-port, namespace: ns}
                spec:
                  clusterIP: 127.1.0.1
                  ports:
                  - {name: a, port: 80}
                  - {name: b, port: 80, targetPort: 8081}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: same-node-port, namespace: ns}
                spec:
                  type: NodePort
                  clusterIP: 127.1.0.2
                  ports:
                  - {name: a, port: 80, nodePort: 30080}
                  - {name: b, port: 81, nodePort: 30080}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: other-protocol, namespace: ns}
                spec:
                  type: NodePort
                  clusterIP: 127.1.0.3
                  ports:
                  - {name: a, port: 53, nodePort: 30053}
                  - {name: b, port: 53, nodePort: 30053, protocol: UDP}
                """));
        assertThat(c.table().listeners()).containsExactlyInAnyOrder(
                key("127.1.0.3", 53), ListenerKey.of(wildcard(), 30053, Protocol.TCP),
                ListenerKey.of(InetAddress.getByName("127.1.0.3"), 53, Protocol.UDP),
                ListenerKey.of(wildcard(), 30053, Protocol.UDP));
        assertThat(c.problems()).extracting(Object::toString).containsExactlyInAnyOrder(
                "Service ns/same-port: spec.ports[1].port: 80/TCP "
                + "(expected: a port and protocol unique among the ports; spec.ports[0] has it)",
                "Service ns/same-node-port: spec.ports[1].nodePort: 30080/TCP "
                + "(expected: a nodePort and protocol unique among the ports; spec.ports[0] has it)");
    }

    @Test
    void anInvalidEditKeepsTheLastValidVersionLiveUntilTheServiceIsDeleted() throws Exception {
        String endpoints = slice("web-1", "web", "http", 8080, "- addresses: [10.0.0.1]");
        compiler.compile(state(service("web", "127.1.0.1", "") + endpoints));

        // The edit is refused; the last valid version stays, and still follows its endpoints.
        String badEdit = service("web", "127.1.0.1", "").replace("port: 80,", "port: 70000,");
        CompiledServices c = compiler.compile(state(
                badEdit + slice("web-1", "web", "http", 8080, "- addresses: [10.0.0.2]")));
        assertThat(c.table().listeners()).containsExactly(key("127.1.0.1", 80));
        assertThat(endpoints(c.table().lookup(key("127.1.0.1", 80)))).containsExactly("10.0.0.2:8080");
        assertThat(c.services()).singleElement().extracting(CompiledServices.ServiceView::name).isEqualTo("web");
        assertThat(c.problems()).extracting(Object::toString).containsExactly(
                "Service ns/web: spec.ports[0].port: 70000 (expected: 1-65535); the last valid version stays live");

        // Compiling the same state again gives the same answer.
        assertThat(compiler.compile(state(badEdit + endpoints)).problems()).hasSize(1);

        // A good edit goes live.
        c = compiler.compile(state(service("web", "127.1.0.1", "").replace("port: 80,", "port: 81,") + endpoints));
        assertThat(c.table().listeners()).containsExactly(key("127.1.0.1", 81));
        assertThat(c.problems()).isEmpty();

        // A deleted Service is forgotten: coming back invalid, it is simply rejected.
        assertThat(compiler.compile(state(endpoints)).table().size()).isZero();
        c = compiler.compile(state(badEdit + endpoints));
        assertThat(c.table().size()).isZero();
        assertThat(c.problems()).extracting(Object::toString).containsExactly(
                "Service ns/web: spec.ports[0].port: 70000 (expected: 1-65535)");
    }

    @Test
    void anEditThatTakesAnotherServicesListenerIsRefusedEvenFromTheOlderService() throws Exception {
        String np = """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: %s, namespace: ns, creationTimestamp: "%s"}
                    spec:
                      type: NodePort
                      clusterIP: %s
                      ports: [{port: 80, nodePort: %d}]
                    ---
                    """;
        String younger = np.formatted("younger", "2024-02-01T00:00:00Z", "127.1.0.2", 30082);
        compiler.compile(state(np.formatted("older", "2024-01-01T00:00:00Z", "127.1.0.1", 30081) + younger));

        CompiledServices c = compiler.compile(state(
                np.formatted("older", "2024-01-01T00:00:00Z", "127.1.0.1", 30082) + younger));
        assertThat(c.table().lookup(ListenerKey.of(wildcard(), 30081, Protocol.TCP)).name())
                .isEqualTo("ns/older:80/TCP");
        assertThat(c.table().lookup(ListenerKey.of(wildcard(), 30082, Protocol.TCP)).name())
                .isEqualTo("ns/younger:80/TCP");
        assertThat(c.problems()).extracting(Object::toString).containsExactly(
                "Service ns/older: *:30082/TCP is already taken by ns/younger:80/TCP; "
                + "the last valid version stays live");

        // Once the younger Service lets go, even by an edit in the same state, the edit goes through.
        c = compiler.compile(state(np.formatted("older", "2024-01-01T00:00:00Z", "127.1.0.1", 30082)
                                   + np.formatted("younger", "2024-02-01T00:00:00Z", "127.1.0.2", 30083)));
        assertThat(c.table().lookup(ListenerKey.of(wildcard(), 30082, Protocol.TCP)).name())
                .isEqualTo("ns/older:80/TCP");
        assertThat(c.table().lookup(ListenerKey.of(wildcard(), 30083, Protocol.TCP)).name())
                .isEqualTo("ns/younger:80/TCP");
        assertThat(c.table().lookup(ListenerKey.of(wildcard(), 30081, Protocol.TCP))).isNull();
        assertThat(c.problems()).isEmpty();
    }

    @Test
    void clusterIpAndTheFirstOfClusterIpsMustAgree() throws Exception {
        CompiledServices c = compiler.compile(state(
                service("split", "127.1.0.1", "  clusterIPs: [127.1.0.9]")
                + service("list-only", "''", "  clusterIPs: [127.1.0.2]")));
        assertThat(c.table().listeners()).containsExactly(key("127.1.0.2", 80));
        assertThat(c.problems()).extracting(Object::toString).containsExactly(
                "Service ns/split: spec.clusterIPs[0]: 127.1.0.9 (expected: 127.1.0.1, the same as spec.clusterIP)");
    }
}
