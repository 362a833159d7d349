package io.ferry.control.compile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.ferry.control.ClusterState;
import io.ferry.control.source.ManifestParser;
import io.ferry.l4.dns.DnsTable;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The records of the Kubernetes DNS specification, compiled from Services and their endpoints, one case each. */
class DnsCompilerTest {

    private final DnsCompiler compiler = new DnsCompiler("cluster.local", 5);

    private static ClusterState state(String yaml) throws Exception {
        List<Service> services = new ArrayList<>();
        List<EndpointSlice> slices = new ArrayList<>();
        List<Endpoints> endpoints = new ArrayList<>();
        for (HasMetadata o : new ManifestParser().parse(yaml)) {
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

    private DnsTable compile(String yaml) throws Exception {
        DnsCompiler.Compiled c = compiler.compile(state(yaml));
        assertThat(c.problems()).isEmpty();
        return c.table();
    }

    private static String ptr(String ip) throws Exception {
        return io.ferry.l4.dns.DnsName.reverseName(InetAddress.getByName(ip));
    }

    @Test
    void aClusterIpServiceHasAnAddressAReverseNameAndAnSrvPerNamedPort() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  clusterIP: 10.96.0.10
                  ports:
                  - {name: http, port: 80}
                  - {name: dns, port: 53, protocol: UDP}
                """);
        assertThat(t.records("web.shop.svc.cluster.local")).containsExactly("A 10.96.0.10");
        assertThat(t.records("_http._tcp.web.shop.svc.cluster.local"))
                .containsExactly("SRV 0 100 80 web.shop.svc.cluster.local.");
        assertThat(t.records("_dns._udp.web.shop.svc.cluster.local"))
                .containsExactly("SRV 0 100 53 web.shop.svc.cluster.local.");
        assertThat(t.records(ptr("10.96.0.10"))).containsExactly("PTR web.shop.svc.cluster.local.");
        assertThat(t.records("shop.svc.cluster.local")).isEmpty();
        assertThat(t.records("_tcp.web.shop.svc.cluster.local")).isEmpty();
        assertThat(t.records("dns-version.cluster.local")).containsExactly("TXT \"1.1.0\"");
        assertThat(t.ttl()).isEqualTo(5);
    }

    @Test
    void unnamedPortsHaveNoSrvAndTheNamespaceDefaultsToDefault() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: mysql}
                spec:
                  clusterIP: 10.96.0.11
                  ports: [{port: 3306}]
                """);
        assertThat(t.records("mysql.default.svc.cluster.local")).containsExactly("A 10.96.0.11");
        assertThat(t.records().keySet()).noneMatch(n -> n.startsWith("_"));
    }

    @Test
    void aDualStackServiceHasBothFamilies() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: ns}
                spec:
                  clusterIP: 10.96.0.12
                  clusterIPs: [10.96.0.12, "fd00::12"]
                  ports: [{port: 80}]
                """);
        assertThat(t.records("web.ns.svc.cluster.local")).containsExactly("A 10.96.0.12", "AAAA fd00:0:0:0:0:0:0:12");
        assertThat(t.records(ptr("fd00::12"))).containsExactly("PTR web.ns.svc.cluster.local.");
    }

    private static final String HEADLESS = """
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: ns}
            spec:
              clusterIP: None
              ports: [{name: mysql, port: 3306}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: db-a
              namespace: ns
              labels: {kubernetes.io/service-name: db, service.kubernetes.io/headless: ""}
            addressType: IPv4
            ports: [{name: mysql, port: 13306}]
            endpoints:
            - addresses: [10.1.0.1]
              hostname: db-0
            - addresses: [10.1.0.2]
              conditions: {ready: true}
            - addresses: [10.1.0.3]
              conditions: {ready: false, serving: true, terminating: true}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: db-b
              namespace: ns
              labels: {kubernetes.io/service-name: db}
            addressType: IPv4
            ports: [{name: mysql, port: 13306}]
            endpoints:
            - addresses: [10.1.0.2]
            ---
            """;

    @Test
    void aHeadlessServiceHasItsReadyEndpointsAndTheirHostnames() throws Exception {
        // The slice labelled service.kubernetes.io/headless is read: those are the slices CoreDNS serves.
        DnsTable t = compile(HEADLESS);
        assertThat(t.records("db.ns.svc.cluster.local")).containsExactly("A 10.1.0.1", "A 10.1.0.2");
        assertThat(t.records("db-0.db.ns.svc.cluster.local")).containsExactly("A 10.1.0.1");
        assertThat(t.records("10-1-0-2.db.ns.svc.cluster.local")).containsExactly("A 10.1.0.2");
        assertThat(t.records("10-1-0-3.db.ns.svc.cluster.local")).isNull();
        assertThat(t.records("_mysql._tcp.db.ns.svc.cluster.local"))
                .containsExactly("SRV 0 50 13306 db-0.db.ns.svc.cluster.local.",
                                 "SRV 0 50 13306 10-1-0-2.db.ns.svc.cluster.local.");
        assertThat(t.records(ptr("10.1.0.1"))).containsExactly("PTR db-0.db.ns.svc.cluster.local.");
        assertThat(t.records(ptr("10.1.0.3"))).isNull();
    }

    @Test
    void publishNotReadyAddressesServesEveryEndpoint() throws Exception {
        DnsTable t = compile(HEADLESS.replace("clusterIP: None", "clusterIP: None\n  publishNotReadyAddresses: true"));
        assertThat(t.records("db.ns.svc.cluster.local")).containsExactly("A 10.1.0.1", "A 10.1.0.2", "A 10.1.0.3");
    }

    @Test
    void aHeadlessServiceWithNoReadyEndpointIsNxdomainButItsNamespaceExists() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: empty, namespace: lonely}
                spec:
                  clusterIP: None
                  ports: [{name: http, port: 80}]
                """);
        assertThat(t.contains("empty.lonely.svc.cluster.local")).isFalse();
        assertThat(t.contains("_http._tcp.empty.lonely.svc.cluster.local")).isFalse();
        assertThat(t.records("lonely.svc.cluster.local")).isEmpty();
    }

    @Test
    void legacyEndpointsServeAHeadlessServiceWithoutSlices() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: db, namespace: ns}
                spec:
                  clusterIP: None
                  ports: [{name: mysql, port: 3306}]
                ---
                apiVersion: v1
                kind: Endpoints
                metadata: {name: db, namespace: ns}
                subsets:
                - addresses:
                  - {ip: 10.1.0.1, hostname: db-0}
                  notReadyAddresses:
                  - {ip: 10.1.0.9}
                  ports: [{name: mysql, port: 3306}]
                """);
        assertThat(t.records("db.ns.svc.cluster.local")).containsExactly("A 10.1.0.1");
        assertThat(t.records("_mysql._tcp.db.ns.svc.cluster.local"))
                .containsExactly("SRV 0 100 3306 db-0.db.ns.svc.cluster.local.");
    }

    @Test
    void ipv6EndpointsAreNamedWithDashes() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: v6, namespace: ns}
                spec: {clusterIP: None}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: v6-a
                  namespace: ns
                  labels: {kubernetes.io/service-name: v6}
                addressType: IPv6
                endpoints:
                - addresses: ["fd00::1"]
                - addresses: ["fd00:1::"]
                """);
        assertThat(t.records("v6.ns.svc.cluster.local"))
                .containsExactly("AAAA fd00:0:0:0:0:0:0:1", "AAAA fd00:1:0:0:0:0:0:0");
        assertThat(t.records("fd00--1.v6.ns.svc.cluster.local")).containsExactly("AAAA fd00:0:0:0:0:0:0:1");
        assertThat(t.records("fd00-1--0.v6.ns.svc.cluster.local")).containsExactly("AAAA fd00:1:0:0:0:0:0:0");
    }

    @Test
    void anExternalNameServiceIsACname() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: db, namespace: ns}
                spec:
                  type: ExternalName
                  externalName: db.example.com
                  ports: [{name: pg, port: 5432}]
                """);
        assertThat(t.records("db.ns.svc.cluster.local")).containsExactly("CNAME db.example.com.");
        assertThat(t.contains("_pg._tcp.db.ns.svc.cluster.local")).isFalse();
    }

    @Test
    void servicesOfAnotherProxyAreStillNamed() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata:
                  name: other
                  namespace: ns
                  labels: {service.kubernetes.io/service-proxy-name: someone-else}
                spec:
                  clusterIP: 10.96.0.20
                """);
        assertThat(t.records("other.ns.svc.cluster.local")).containsExactly("A 10.96.0.20");
    }

    @Test
    void servicesWhoseNamesCannotBeDnsNamesAreReportedAndTheRestServed() throws Exception {
        DnsCompiler.Compiled c = compiler.compile(state("""
                apiVersion: v1
                kind: Service
                metadata: {name: bad_name, namespace: ns}
                spec: {clusterIP: 10.96.0.30}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: ext, namespace: ns}
                spec: {type: ExternalName, externalName: "not a name"}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: good, namespace: ns}
                spec: {clusterIP: 10.96.0.31}
                """));
        assertThat(c.problems()).extracting(Object::toString).containsExactlyInAnyOrder(
                "Service ns/bad_name: metadata.name: bad_name (expected: a DNS label); not in DNS",
                "Service ns/ext: spec.externalName: not a name (expected: a DNS name); not in DNS");
        assertThat(c.table().records("good.ns.svc.cluster.local")).containsExactly("A 10.96.0.31");
    }

    @Test
    void theDomainTtlAndSerialAreTheCompilers() throws Exception {
        Clock clock = Clock.fixed(Instant.ofEpochSecond(1_700_000_000L), ZoneOffset.UTC);
        DnsCompiler c = new DnsCompiler("Corp.Example.", 30, false, clock);
        DnsTable t = c.compile(state("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: ns}
                spec: {clusterIP: 10.96.0.10}
                """)).table();
        assertThat(t.zone()).isEqualTo("corp.example");
        assertThat(t.ttl()).isEqualTo(30);
        assertThat(t.serial()).isEqualTo(1_700_000_000L);
        assertThat(t.podRecords()).isFalse();
        assertThat(t.records("web.ns.svc.corp.example")).containsExactly("A 10.96.0.10");
        assertThat(t.records("corp.example")).containsExactly(
                "SOA ns.dns.corp.example. hostmaster.corp.example. 1700000000 7200 1800 86400 30",
                "NS ns.dns.corp.example.");
        assertThatThrownBy(() -> new DnsCompiler("bad domain", 5))
                .hasMessage("cluster domain: bad domain (expected: a DNS name such as cluster.local)");
        assertThatThrownBy(() -> new DnsCompiler("cluster.local", -5)).hasMessage("ttl: -5 (expected: 0-86400)");
    }

    @Test
    void theDemoNamesResolve() throws Exception {
        DnsTable t = compile("""
                apiVersion: v1
                kind: Service
                metadata: {name: myblog, namespace: demo}
                spec:
                  clusterIP: 127.99.174.93
                  ports: [{port: 80, targetPort: 8002}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: mysql, namespace: demo}
                spec:
                  clusterIP: 127.108.214.84
                  ports: [{port: 3306}]
                """);
        assertThat(t.records("myblog.demo.svc.cluster.local")).containsExactly("A 127.99.174.93");
        assertThat(t.records("mysql.demo.svc.cluster.local")).containsExactly("A 127.108.214.84");
    }
}
