package io.ferry.control.compile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.EndpointsBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.HTTPIngressPath;
import io.fabric8.kubernetes.api.model.networking.v1.HTTPIngressPathBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBackend;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBackendBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.IngressRuleBuilder;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.ferry.control.compile.CompiledIngresses.Kind;
import io.ferry.control.compile.CompiledIngresses.RouteView;
import io.ferry.control.compile.IngressCompiler.Plan;
import io.ferry.control.compile.IngressCompiler.PlannedPath;
import io.ferry.l4.RoundRobinBalancer;
import io.ferry.l7.route.EwmaBalancer;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.route.RoutePolicy.BackendProtocol;
import io.ferry.l7.route.SourceRanges;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Ingress rules of {@code shared/reference/kubernetes-semantics.md} and ingress-nginx's behaviour, one case
 * each, checked on the compiler's plan (every decision, before the table is built).
 */
class IngressCompilerTest {

    private static final String NS = "demo";
    private static final String P = IngressAnnotations.PREFIX;

    private final IngressCompiler compiler = new IngressCompiler(IngressCompiler.DEFAULT_CLASS, false);

    // ---- fixtures -------------------------------------------------------------------------------------------

    private static IngressClass ingressClass(String name, String controller, boolean isDefault) {
        IngressClassBuilder b = new IngressClassBuilder().withNewMetadata().withName(name).endMetadata()
                                                         .withNewSpec().withController(controller).endSpec();
        if (isDefault) {
            b.editMetadata().addToAnnotations(IngressClassFilter.DEFAULT_CLASS_ANNOTATION, "true").endMetadata();
        }
        return b.build();
    }

    private static final IngressClass FERRY = ingressClass("ferry", IngressClassFilter.CONTROLLER, false);

    private static Service service(String name, String clusterIp, Object... namePortPairs) {
        ServiceBuilder b = new ServiceBuilder().withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                                               .withNewSpec().withClusterIP(clusterIp).endSpec();
        for (int i = 0; i < namePortPairs.length; i += 2) {
            b.editSpec().addNewPort().withName((String) namePortPairs[i]).withPort((Integer) namePortPairs[i + 1])
             .endPort().endSpec();
        }
        return b.build();
    }

    /** A slice of {@code service} with one port; each address is ready unless it ends with {@code !}. */
    private static EndpointSlice slice(String name, String service, String portName, int port, String... addresses) {
        EndpointSliceBuilder b = new EndpointSliceBuilder()
                .withNewMetadata().withName(name).withNamespace(NS)
                .addToLabels(ServiceCompiler.SERVICE_NAME_LABEL, service).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName(portName).withPort(port).endPort();
        for (String a : addresses) {
            boolean ready = !a.endsWith("!");
            b.addNewEndpoint().withAddresses(ready ? a : a.substring(0, a.length() - 1))
             .withNewConditions().withReady(ready).endConditions().endEndpoint();
        }
        return b.build();
    }

    private static IngressBackend backend(String service, Object port) {
        IngressBackendBuilder b = new IngressBackendBuilder();
        if (port instanceof Integer) {
            return b.withNewService().withName(service).withNewPort().withNumber((Integer) port).endPort()
                    .endService().build();
        }
        return b.withNewService().withName(service).withNewPort().withName((String) port).endPort().endService()
                .build();
    }

    private static HTTPIngressPath path(String path, String type, String service, Object port) {
        return new HTTPIngressPathBuilder().withPath(path).withPathType(type).withBackend(backend(service, port))
                                           .build();
    }

    private static IngressRule rule(String host, HTTPIngressPath... paths) {
        return new IngressRuleBuilder().withHost(host).withNewHttp().addToPaths(paths).endHttp().build();
    }

    /** An Ingress of class {@code ferry}, created at {@code created} (an ISO instant). */
    private static IngressBuilder ingress(String name, String created, IngressRule... rules) {
        return new IngressBuilder().withNewMetadata().withName(name).withNamespace(NS).withCreationTimestamp(created)
                                   .endMetadata()
                                   .withNewSpec().withIngressClassName("ferry").addToRules(rules).endSpec();
    }

    private static IngressBuilder annotate(IngressBuilder b, String... keyValues) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put(keyValues[i].contains("/") ? keyValues[i] : P + keyValues[i], keyValues[i + 1]);
        }
        return b.editMetadata().addToAnnotations(map).endMetadata();
    }

    private static ClusterState state(Object... objects) {
        List<Service> services = new ArrayList<>();
        List<EndpointSlice> slices = new ArrayList<>();
        List<Endpoints> endpoints = new ArrayList<>();
        List<Ingress> ingresses = new ArrayList<>();
        List<IngressClass> classes = new ArrayList<>();
        for (Object o : objects) {
            HasMetadata m = o instanceof IngressBuilder ? ((IngressBuilder) o).build() : (HasMetadata) o;
            if (m instanceof Service) {
                services.add((Service) m);
            } else if (m instanceof EndpointSlice) {
                slices.add((EndpointSlice) m);
            } else if (m instanceof Endpoints) {
                endpoints.add((Endpoints) m);
            } else if (m instanceof Ingress) {
                ingresses.add((Ingress) m);
            } else if (m instanceof IngressClass) {
                classes.add((IngressClass) m);
            }
        }
        return new ClusterState(services, slices, endpoints, ingresses, classes, List.of(), List.of());
    }

    /** The usual backend: Service web (ClusterIP 10.96.0.10) port http=80 with two ready pods on 8080. */
    private static Object[] web() {
        return new Object[] { FERRY, service("web", "10.96.0.10", "http", 80),
                              slice("web-1", "web", "http", 8080, "10.244.0.1", "10.244.0.2") };
    }

    private static Object[] with(Object[] base, Object... more) {
        Object[] all = new Object[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    private static List<String> served(Plan plan) {
        return plan.views().stream().map(RouteView::ingress).distinct().toList();
    }

    private static RouteView only(Plan plan) {
        assertThat(plan.views()).hasSize(1);
        return plan.views().get(0);
    }

    private static Route route(Plan plan, String host, String path) {
        return plan.paths().stream().filter(p -> p.host().equals(host) && p.path().equals(path))
                   .map(PlannedPath::route).findFirst().orElseThrow();
    }

    private static List<String> messages(Plan plan) {
        return plan.problems().stream().map(ConfigProblem::toString).toList();
    }

    private static IngressBuilder simple(String name) {
        return ingress(name, "2024-01-01T00:00:00Z", rule("myblog.devops.cn", path("/", "Prefix", "web", 80)));
    }

    // ---- class selection -----------------------------------------------------------------------------------

    @Test
    void servesItsOwnClass() {
        assertThat(served(compiler.plan(state(with(web(), simple("mine")))))).containsExactly("demo/mine");
    }

    @Test
    void ignoresOtherClassesWithoutAWord() {
        IngressClass nginx = ingressClass("nginx", "k8s.io/ingress-nginx", false);
        Plan plan = compiler.plan(state(with(web(), nginx,
                                             simple("theirs").editSpec().withIngressClassName("nginx").endSpec(),
                                             annotate(simple("broken").editSpec().withIngressClassName("nginx")
                                                                     .endSpec(), "server-snippet", "x"))));
        assertThat(plan.views()).isEmpty();
        assertThat(plan.problems()).isEmpty();
    }

    @Test
    void needsTheIngressClassObjectWithFerrysController() {
        // Name matches but no IngressClass: ingress-nginx ignores it too.
        Object[] noClass = { service("web", "10.96.0.10", "http", 80), simple("a") };
        assertThat(compiler.plan(state(noClass)).views()).isEmpty();
        // An IngressClass named ferry that belongs to another controller is not ours.
        Object[] otherController = { ingressClass("ferry", "example.com/other", false),
                                     service("web", "10.96.0.10", "http", 80), simple("a") };
        assertThat(compiler.plan(state(otherController)).views()).isEmpty();
    }

    @Test
    void servesTheConfiguredClassName() {
        IngressCompiler internal = new IngressCompiler("internal", false);
        IngressClass cls = ingressClass("internal", IngressClassFilter.CONTROLLER, false);
        Plan plan = internal.plan(state(with(web(), cls,
                                             simple("a").editSpec().withIngressClassName("internal").endSpec(),
                                             simple("b"))));
        assertThat(served(plan)).containsExactly("demo/a");
    }

    @Test
    void unclassedIngressesNeedTheDefaultClassOrTheFlag() {
        IngressBuilder unclassed = simple("plain").editSpec().withIngressClassName(null).endSpec();
        assertThat(compiler.plan(state(with(web(), unclassed))).views()).isEmpty();

        IngressClass defaultFerry = ingressClass("ferry", IngressClassFilter.CONTROLLER, true);
        Object[] withDefault = { defaultFerry, service("web", "10.96.0.10", "http", 80), unclassed };
        assertThat(served(compiler.plan(state(withDefault)))).containsExactly("demo/plain");

        // Another controller's default class does not make them ours.
        Object[] otherDefault = { ingressClass("nginx", "k8s.io/ingress-nginx", true),
                                  service("web", "10.96.0.10", "http", 80), unclassed };
        assertThat(compiler.plan(state(otherDefault)).views()).isEmpty();

        IngressCompiler watching = new IngressCompiler("ferry", true);
        Object[] noClassObject = { service("web", "10.96.0.10", "http", 80), unclassed };
        assertThat(served(watching.plan(state(noClassObject)))).containsExactly("demo/plain");
    }

    @Test
    void honoursTheLegacyAnnotation() {
        IngressBuilder legacy = annotate(simple("legacy").editSpec().withIngressClassName(null).endSpec(),
                                         "kubernetes.io/ingress.class", "ferry");
        IngressBuilder other = annotate(simple("other").editSpec().withIngressClassName(null).endSpec(),
                                        "kubernetes.io/ingress.class", "nginx");
        // No IngressClass object is needed for the annotation, as in ingress-nginx.
        Object[] objects = { service("web", "10.96.0.10", "http", 80), legacy, other };
        assertThat(served(compiler.plan(state(objects)))).containsExactly("demo/legacy");
        // Another class named by the annotation is another controller's, even with --watch-ingress-without-class.
        assertThat(served(new IngressCompiler("ferry", true).plan(state(objects)))).containsExactly("demo/legacy");
    }

    @Test
    void theFieldWinsOverTheAnnotation() {
        IngressBuilder fieldOther = annotate(simple("a").editSpec().withIngressClassName("nginx").endSpec(),
                                             "kubernetes.io/ingress.class", "ferry");
        IngressBuilder fieldOurs = annotate(simple("b"), "kubernetes.io/ingress.class", "nginx");
        assertThat(served(compiler.plan(state(with(web(), fieldOther, fieldOurs))))).containsExactly("demo/b");
    }

    // ---- backends ------------------------------------------------------------------------------------------

    @Test
    void resolvesAPortNumberToThePodsNotTheClusterIp() {
        Plan plan = compiler.plan(state(with(web(), simple("blog"))));
        RouteView v = only(plan);
        assertThat(v.kind()).isEqualTo(Kind.PATH);
        assertThat(v.name()).isEqualTo("demo/blog:myblog.devops.cn/");
        assertThat(v.host()).isEqualTo("myblog.devops.cn");
        assertThat(v.path()).isEqualTo("/");
        assertThat(v.pathType()).isEqualTo("PREFIX");
        assertThat(v.ingress()).isEqualTo("demo/blog");
        assertThat(v.backend()).isEqualTo("demo/web:80");
        assertThat(v.endpoints()).containsExactly("10.244.0.1:8080", "10.244.0.2:8080");
        assertThat(v.endpoints()).noneMatch(e -> e.contains("10.96.0.10"));
        assertThat(plan.problems()).isEmpty();
    }

    @Test
    void resolvesAPortName() {
        Object[] objects = { FERRY, service("web", "10.96.0.10", "http", 80, "admin", 9000),
                             slice("web-1", "web", "http", 8080, "10.244.0.1"),
                             slice("web-2", "web", "admin", 9090, "10.244.0.1"),
                             ingress("a", "2024-01-01T00:00:00Z", rule("a.example.com",
                                                                        path("/admin", "Prefix", "web", "admin"))) };
        RouteView v = only(compiler.plan(state(objects)));
        assertThat(v.backend()).isEqualTo("demo/web:admin");
        assertThat(v.endpoints()).containsExactly("10.244.0.1:9090");
    }

    @Test
    void leavesOutEndpointsThatAreNotReady() {
        Object[] objects = { FERRY, service("web", "10.96.0.10", "http", 80),
                             slice("web-1", "web", "http", 8080, "10.244.0.1", "10.244.0.2!", "10.244.0.3"),
                             simple("blog") };
        assertThat(only(compiler.plan(state(objects))).endpoints())
                .containsExactly("10.244.0.1:8080", "10.244.0.3:8080");
    }

    @Test
    void readsLegacyEndpointsWhenThereIsNoSlice() {
        Endpoints legacy = new EndpointsBuilder().withNewMetadata().withName("web").withNamespace(NS).endMetadata()
                                                 .addNewSubset().addNewAddress().withIp("10.244.1.1").endAddress()
                                                 .addNewNotReadyAddress().withIp("10.244.1.2").endNotReadyAddress()
                                                 .addNewPort().withName("http").withPort(8080).endPort().endSubset()
                                                 .build();
        Object[] objects = { FERRY, service("web", "10.96.0.10", "http", 80), legacy, simple("blog") };
        assertThat(only(compiler.plan(state(objects))).endpoints()).containsExactly("10.244.1.1:8080");
    }

    @Test
    void headlessServicesAreServedThroughTheirPods() {
        EndpointSlice headless = new EndpointSliceBuilder(slice("db-1", "web", "http", 8080, "10.244.2.1"))
                .editMetadata().addToLabels(ServiceCompiler.HEADLESS_LABEL, "").endMetadata().build();
        Object[] objects = { FERRY, service("web", "None", "http", 80), headless, simple("blog") };
        assertThat(only(compiler.plan(state(objects))).endpoints()).containsExactly("10.244.2.1:8080");
    }

    @Test
    void aMissingServiceStillGetsItsRouteWithNoEndpoints() {
        Plan plan = compiler.plan(state(FERRY, simple("blog")));
        RouteView v = only(plan);
        assertThat(v.backend()).isEqualTo("demo/web:80");
        assertThat(v.endpoints()).isEmpty(); // the proxy answers 503, and the path does not fall through
        assertThat(route(plan, "myblog.devops.cn", "/").backend().isEmpty()).isTrue();
        assertThat(messages(plan)).containsExactly(
                "Ingress demo/blog: spec.rules[0].http.paths[0].backend: Service demo/web not found; answered 503 "
                + "until it exists");
    }

    @Test
    void aMissingPortNamesThePortsThereAre() {
        Object[] objects = { FERRY, service("web", "10.96.0.10", "http", 80, null, 8443),
                             ingress("a", "2024-01-01T00:00:00Z",
                                     rule("a.example.com", path("/", "Prefix", "web", 81),
                                          path("/x", "Prefix", "web", "grpc"))) };
        Plan plan = compiler.plan(state(objects));
        assertThat(plan.views()).hasSize(2).allSatisfy(v -> assertThat(v.endpoints()).isEmpty());
        assertThat(messages(plan)).containsExactly(
                "Ingress demo/a: spec.rules[0].http.paths[0].backend.service.port: 81 (expected: a port of Service "
                + "demo/web: http=80, 8443); answered 503",
                "Ingress demo/a: spec.rules[0].http.paths[1].backend.service.port: grpc (expected: a port of "
                + "Service demo/web: http=80, 8443); answered 503");
    }

    @Test
    void externalNameAndResourceBackendsAreNotSupported() {
        Service external = new ServiceBuilder().withNewMetadata().withName("ext").withNamespace(NS).endMetadata()
                                               .withNewSpec().withType("ExternalName")
                                               .withExternalName("example.com").endSpec().build();
        IngressBackend resource = new IngressBackendBuilder().withNewResource("k8s.example.com", "StorageBucket",
                                                                             "assets").build();
        HTTPIngressPath toResource = new HTTPIngressPathBuilder().withPath("/assets").withPathType("Prefix")
                                                                 .withBackend(resource).build();
        Object[] objects = { FERRY, external, ingress("a", "2024-01-01T00:00:00Z",
                                                       rule("a.example.com", path("/", "Prefix", "ext", 80),
                                                            toResource)) };
        Plan plan = compiler.plan(state(objects));
        assertThat(plan.views()).hasSize(2).allSatisfy(v -> assertThat(v.endpoints()).isEmpty());
        assertThat(messages(plan)).hasSize(2)
                                  .anySatisfy(m -> assertThat(m).contains("Service demo/ext is of type ExternalName"))
                                  .anySatisfy(m -> assertThat(m).contains("resource: StorageBucket assets"));
    }

    @Test
    void routesToOneServicePortShareOneBackend() {
        Plan plan = compiler.plan(state(with(web(), ingress("a", "2024-01-01T00:00:00Z",
                                                            rule("a.example.com", path("/", "Prefix", "web", 80),
                                                                 path("/b", "Prefix", "web", 80))))));
        assertThat(route(plan, "a.example.com", "/").backend()).isSameAs(route(plan, "a.example.com", "/b").backend());
    }

    // ---- rules ---------------------------------------------------------------------------------------------

    @Test
    void mapsPathTypes() {
        Plan plan = compiler.plan(state(with(web(), ingress("a", "2024-01-01T00:00:00Z", rule(
                "a.example.com", path("/exact", "Exact", "web", 80), path("/prefix", "Prefix", "web", 80),
                path("/impl", "ImplementationSpecific", "web", 80))))));
        assertThat(plan.paths()).extracting(PlannedPath::path, PlannedPath::type)
                                .containsExactly(tuple("/exact", PathType.EXACT),
                                                 tuple("/prefix", PathType.PREFIX),
                                                 tuple("/impl", PathType.PREFIX));
    }

    @Test
    void aMissingPathTypeIsReportedAndAMissingPathIsTheRoot() {
        HTTPIngressPath noType = new HTTPIngressPathBuilder(path("/x", "Prefix", "web", 80)).withPathType(null)
                                                                                           .build();
        HTTPIngressPath noPath = new HTTPIngressPathBuilder(path("/", "Prefix", "web", 80)).withPath(null).build();
        HTTPIngressPath relative = path("x", "Prefix", "web", 80);
        HTTPIngressPath badType = path("/y", "Regex", "web", 80);
        Plan plan = compiler.plan(state(with(web(), ingress("a", "2024-01-01T00:00:00Z",
                                                            rule("a.example.com", noType, noPath, relative,
                                                                 badType)))));
        assertThat(plan.paths()).extracting(PlannedPath::path).containsExactly("/");
        assertThat(messages(plan)).containsExactly(
                "Ingress demo/a: spec.rules[0].http.paths[0].pathType: missing (expected: Exact, Prefix or "
                + "ImplementationSpecific); path ignored",
                "Ingress demo/a: spec.rules[0].http.paths[2].path: \"x\" (expected: an absolute path starting with "
                + "/); path ignored",
                "Ingress demo/a: spec.rules[0].http.paths[3].pathType: \"Regex\" (expected: Exact, Prefix or "
                + "ImplementationSpecific); path ignored");
    }

    @Test
    void hostsAreLowerCasedAndInvalidOnesReported() {
        Plan plan = compiler.plan(state(with(web(), ingress(
                "a", "2024-01-01T00:00:00Z",
                rule("MyBlog.DevOps.cn", path("/", "Prefix", "web", 80)),
                rule("*.apps.example.com", path("/", "Prefix", "web", 80)),
                rule(null, path("/any", "Prefix", "web", 80)),
                rule("bad_host.example.com", path("/", "Prefix", "web", 80)),
                rule("10.0.0.1", path("/", "Prefix", "web", 80)),
                rule("foo.*.example.com", path("/", "Prefix", "web", 80)),
                rule("example.com:8080", path("/", "Prefix", "web", 80))))));
        assertThat(plan.paths()).extracting(PlannedPath::host)
                                .containsExactly("myblog.devops.cn", "*.apps.example.com", "");
        assertThat(messages(plan)).hasSize(4).allSatisfy(m -> assertThat(m).contains(
                "(expected: a DNS name such as foo.example.com or a wildcard such as *.example.com); rule ignored"));
        assertThat(messages(plan).get(0)).startsWith("Ingress demo/a: spec.rules[3].host: \"bad_host.example.com\"");
    }

    @Test
    void theOlderIngressKeepsAContestedPath() {
        IngressBuilder newer = ingress("newer", "2024-06-01T00:00:00Z",
                                       rule("a.example.com", path("/api", "Prefix", "web", 80)));
        IngressBuilder older = ingress("older", "2024-01-01T00:00:00+02:00",
                                       rule("a.example.com", path("/api/", "Prefix", "web", 80),
                                            path("/api", "Exact", "web", 80)));
        Plan plan = compiler.plan(state(with(web(), newer, older)));
        assertThat(plan.views()).extracting(RouteView::ingress).containsOnly("demo/older");
        assertThat(plan.views()).hasSize(2);
        assertThat(messages(plan)).containsExactly(
                "Ingress demo/newer: spec.rules[0].http.paths[0]: host \"a.example.com\" path \"/api\" (PREFIX) is "
                + "already served by Ingress demo/older (spec.rules[0].http.paths[0]), which is older; ignored");
    }

    @Test
    void equalTimestampsAreBrokenByName() {
        IngressBuilder b = ingress("b", "2024-01-01T00:00:00Z", rule("a.example.com", path("/", "Prefix", "web", 80)));
        IngressBuilder a = ingress("a", "2024-01-01T00:00:00Z", rule("a.example.com", path("/", "Prefix", "web", 80)));
        Plan plan = compiler.plan(state(with(web(), b, a)));
        assertThat(served(plan)).containsExactly("demo/a");
        assertThat(messages(plan)).singleElement().asString().startsWith("Ingress demo/b:");
    }

    @Test
    void useRegexMakesEveryPathOfTheHostARegex() {
        IngressBuilder regex = annotate(ingress("regex", "2024-01-02T00:00:00Z",
                                                rule("a.example.com", path("/api/v[0-9]+", "Prefix", "web", 80))),
                                        "use-regex", "true");
        IngressBuilder plain = ingress("plain", "2024-01-01T00:00:00Z",
                                       rule("a.example.com", path("/static", "Exact", "web", 80)),
                                       rule("b.example.com", path("/static", "Exact", "web", 80)));
        Plan plan = compiler.plan(state(with(web(), regex, plain)));
        assertThat(plan.paths()).extracting(p -> p.host() + p.path() + " " + p.type())
                                .containsExactlyInAnyOrder("a.example.com/api/v[0-9]+ REGEX",
                                                           "a.example.com/static REGEX",
                                                           "b.example.com/static EXACT");
        assertThat(plan.problems()).isEmpty();
    }

    @Test
    void rewriteTargetImpliesRegexAndRewritesWithGroups() {
        IngressBuilder rewrite = annotate(ingress("rw", "2024-01-01T00:00:00Z",
                                                  rule("a.example.com",
                                                       path("/something(/|$)(.*)", "ImplementationSpecific", "web",
                                                            80))),
                                          "rewrite-target", "/$2");
        IngressBuilder other = ingress("other", "2024-01-02T00:00:00Z",
                                       rule("a.example.com", path("/other", "Prefix", "web", 80)));
        Plan plan = compiler.plan(state(with(web(), rewrite, other)));
        assertThat(plan.paths()).extracting(PlannedPath::type).containsOnly(PathType.REGEX);
        RoutePolicy p = route(plan, "a.example.com", "/something(/|$)(.*)").policy();
        assertThat(p.rewriteTarget()).isEqualTo("/$2");
        assertThat(p.rewritePattern().matcher("/SOMETHING/new/path").replaceFirst(p.rewriteTarget()))
                .isEqualTo("/new/path");
        assertThat(route(plan, "a.example.com", "/other").policy().rewriteTarget()).isNull();
    }

    @Test
    void aRewriteTargetEqualToThePathNeitherRewritesNorEnforcesRegex() {
        IngressBuilder same = annotate(ingress("same", "2024-01-01T00:00:00Z",
                                               rule("a.example.com", path("/app", "Prefix", "web", 80))),
                                       "rewrite-target", "/app");
        Plan plan = compiler.plan(state(with(web(), same)));
        assertThat(plan.paths()).singleElement().satisfies(p -> {
            assertThat(p.type()).isEqualTo(PathType.PREFIX);
            assertThat(p.route().policy().rewriteTarget()).isNull();
        });
    }

    @Test
    void badRegexesAndMissingGroupsAreReported() {
        IngressBuilder rewrite = annotate(ingress("rw", "2024-01-01T00:00:00Z",
                                                  rule("a.example.com", path("/a(.*)", "Prefix", "web", 80),
                                                       path("/b[", "Prefix", "web", 80))),
                                          "rewrite-target", "/$2");
        Plan plan = compiler.plan(state(with(web(), rewrite)));
        assertThat(plan.paths()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("/a(.*)");
            assertThat(p.type()).isEqualTo(PathType.REGEX);
            assertThat(p.route().policy().rewriteTarget()).isNull();
        });
        assertThat(messages(plan)).hasSize(2);
        assertThat(messages(plan).get(0)).startsWith("Ingress demo/rw: " + P + "rewrite-target: \"/$2\" refers to $2 "
                                                     + "but path \"/a(.*)\" has 1 group");
        assertThat(messages(plan).get(1)).startsWith("Ingress demo/rw: spec.rules[0].http.paths[1].path: \"/b[\" "
                                                     + "(expected: a regular expression");
    }

    // ---- annotations ---------------------------------------------------------------------------------------

    @Test
    void annotationsShapeThePolicy() {
        IngressBuilder a = annotate(simple("a"), "proxy-connect-timeout", "2", "proxy-read-timeout", "300",
                                    "proxy-send-timeout", "30", "proxy-body-size", "8m", "ssl-redirect", "false",
                                    "force-ssl-redirect", "true", "whitelist-source-range", "10.0.0.0/8");
        RoutePolicy p = route(compiler.plan(state(with(web(), a))), "myblog.devops.cn", "/").policy();
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(300));
        assertThat(p.sendTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(p.maxBodySize()).isEqualTo(8L << 20);
        assertThat(p.sslRedirect()).isFalse();
        assertThat(p.forceSslRedirect()).isTrue();
        assertThat(p.allowedSources().cidrs()).containsExactly("10.0.0.0/8");
    }

    @Test
    void invalidValuesAreReportedAndTheRestStaysLive() {
        IngressBuilder a = annotate(simple("a"), "proxy-read-timeout", "1m", "proxy-body-size", "8m");
        Plan plan = compiler.plan(state(with(web(), a)));
        RoutePolicy p = route(plan, "myblog.devops.cn", "/").policy();
        assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(p.maxBodySize()).isEqualTo(8L << 20);
        assertThat(messages(plan)).containsExactly("Ingress demo/a: " + P + "proxy-read-timeout: \"1m\" (expected: "
                                                   + "whole seconds above 0 without a unit, such as 60); ignored");
    }

    @Test
    void anUnreadableAllowlistClosesThePaths() {
        IngressBuilder a = annotate(simple("a"), "whitelist-source-range", "10.0.0.0/8;");
        Plan plan = compiler.plan(state(with(web(), a)));
        assertThat(route(plan, "myblog.devops.cn", "/").policy().allowedSources()).isSameAs(SourceRanges.NONE);
        assertThat(only(plan).policy()).contains("sources none");
        assertThat(plan.problems()).hasSize(1);
    }

    @Test
    void theCompilersDefaultsApplyWhereNoAnnotationSpeaks() {
        RoutePolicy defaults = RoutePolicy.builder().maxBodySize(0).readTimeout(Duration.ofSeconds(5)).build();
        IngressCompiler c = new IngressCompiler("ferry", false, defaults);
        RoutePolicy p = route(c.plan(state(with(web(), simple("a")))), "myblog.devops.cn", "/").policy();
        assertThat(p.maxBodySize()).isZero();
        assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void unknownAnnotationsAreReportedOncePerIngress() {
        IngressBuilder a = annotate(ingress("a", "2024-01-01T00:00:00Z",
                                            rule("a.example.com", path("/", "Prefix", "web", 80),
                                                 path("/x", "Prefix", "web", 80)),
                                            rule("b.example.com", path("/", "Prefix", "web", 80))),
                                    "enable-cors", "true", "proxy-buffering", "off");
        Plan plan = compiler.plan(state(with(web(), a)));
        assertThat(plan.views()).hasSize(3);
        assertThat(messages(plan)).containsExactly("Ingress demo/a: annotations not supported, ignored: "
                                                   + P + "enable-cors, " + P + "proxy-buffering");
    }

    @Test
    void aSnippetRefusesTheWholeIngress() {
        IngressBuilder a = annotate(simple("a"), "configuration-snippet", "more_set_headers \"X: 1\";",
                                    "proxy-body-size", "8m");
        IngressBuilder b = ingress("b", "2024-01-02T00:00:00Z", rule("b.example.com", path("/", "Prefix", "web", 80)));
        Plan plan = compiler.plan(state(with(web(), a, b)));
        assertThat(served(plan)).containsExactly("demo/b");
        assertThat(messages(plan)).containsExactly("Ingress demo/a: refused whole, nothing of it is served: "
                                                   + P + "configuration-snippet (nginx configuration text is never "
                                                   + "applied)");
    }

    @Test
    void aRefusedIngressNeitherHoldsPathsNorForcesRegex() {
        IngressBuilder refused = annotate(ingress("refused", "2024-01-01T00:00:00Z",
                                                  rule("a.example.com", path("/", "Prefix", "web", 80))),
                                          "auth-type", "basic", "use-regex", "true");
        IngressBuilder live = ingress("live", "2024-01-02T00:00:00Z",
                                      rule("a.example.com", path("/", "Prefix", "web", 80)));
        Plan plan = compiler.plan(state(with(web(), refused, live)));
        assertThat(plan.paths()).singleElement().satisfies(p -> {
            assertThat(p.route().name()).isEqualTo("demo/live:a.example.com/");
            assertThat(p.type()).isEqualTo(PathType.PREFIX);
        });
    }

    @Test
    void anUnsupportedBackendProtocolAnswers503() {
        IngressBuilder a = annotate(simple("a"), "backend-protocol", "HTTPS");
        Plan plan = compiler.plan(state(with(web(), a)));
        Route r = route(plan, "myblog.devops.cn", "/");
        assertThat(r.backend().isEmpty()).isTrue();
        assertThat(r.policy().backendProtocol()).isEqualTo(BackendProtocol.HTTPS);
        assertThat(messages(plan)).containsExactly("Ingress demo/a: " + P + "backend-protocol: HTTPS is not "
                                                   + "supported yet (supported: HTTP, GRPC, H2C); its paths answer "
                                                   + "503 rather than send plain HTTP/1.1 to that upstream");
        Plan grpcs = compiler.plan(state(with(web(), annotate(simple("a"), "backend-protocol", "GRPCS"))));
        assertThat(route(grpcs, "myblog.devops.cn", "/").backend().isEmpty()).isTrue();
        assertThat(messages(grpcs)).singleElement().asString().contains("GRPCS is not supported yet");
    }

    @Test
    void grpcAndH2cBackendProtocolsKeepTheirEndpoints() {
        for (String protocol : new String[] { "GRPC", "H2C" }) {
            Plan plan = compiler.plan(state(with(web(), annotate(simple("a"), "backend-protocol", protocol))));
            Route r = route(plan, "myblog.devops.cn", "/");
            assertThat(r.backend().endpoints()).hasSize(2);
            assertThat(r.policy().backendProtocol()).isEqualTo(BackendProtocol.valueOf(protocol));
            assertThat(plan.problems()).isEmpty();
        }
    }

    /** Service web as in {@link #web()}, its port {@code http} with {@code appProtocol: kubernetes.io/h2c}. */
    private static Object[] h2cWeb() {
        Service svc = service("web", "10.96.0.10", "http", 80);
        svc.getSpec().getPorts().get(0).setAppProtocol("kubernetes.io/h2c");
        return new Object[] { FERRY, svc, slice("web-1", "web", "http", 8080, "10.244.0.1", "10.244.0.2") };
    }

    @Test
    void anH2cAppProtocolMakesItsRoutesH2cUnlessAnAnnotationSaysOtherwise() {
        Plan plan = compiler.plan(state(with(h2cWeb(), simple("a"))));
        Route r = route(plan, "myblog.devops.cn", "/");
        assertThat(r.policy().backendProtocol()).isEqualTo(BackendProtocol.H2C);
        assertThat(r.backend().endpoints()).hasSize(2);
        assertThat(plan.problems()).isEmpty();

        Plan grpc = compiler.plan(state(with(h2cWeb(), annotate(simple("a"), "backend-protocol", "GRPC"))));
        assertThat(route(grpc, "myblog.devops.cn", "/").policy().backendProtocol()).isEqualTo(BackendProtocol.GRPC);
        Plan http = compiler.plan(state(with(h2cWeb(), annotate(simple("a"), "backend-protocol", "HTTP"))));
        assertThat(route(http, "myblog.devops.cn", "/").policy().backendProtocol()).isEqualTo(BackendProtocol.HTTP);

        Plan plain = compiler.plan(state(with(web(), simple("a"))));
        assertThat(route(plain, "myblog.devops.cn", "/").policy().backendProtocol()).isEqualTo(BackendProtocol.HTTP);
    }

    @Test
    void anH2cAppProtocolAppliesToDefaultBackendsToo() {
        IngressBuilder only = new IngressBuilder().withNewMetadata().withName("d").withNamespace(NS)
                                                  .withCreationTimestamp("2024-01-01T00:00:00Z").endMetadata()
                                                  .withNewSpec().withIngressClassName("ferry")
                                                  .withDefaultBackend(backend("web", 80)).endSpec();
        Plan plan = compiler.plan(state(with(h2cWeb(), only)));
        assertThat(plan.defaultRoute().policy().backendProtocol()).isEqualTo(BackendProtocol.H2C);
    }

    @Test
    void loadBalanceChoosesTheBalancer() {
        Plan rr = compiler.plan(state(with(web(), simple("a"))));
        assertThat(route(rr, "myblog.devops.cn", "/").backend().balancer()).isInstanceOf(RoundRobinBalancer.class);
        assertThat(only(rr).balancer()).isEqualTo("round_robin");

        Plan ewma = compiler.plan(state(with(web(), annotate(simple("a"), "load-balance", "ewma"))));
        assertThat(route(ewma, "myblog.devops.cn", "/").backend().balancer()).isInstanceOf(EwmaBalancer.class);
        assertThat(((EwmaBalancer) route(ewma, "myblog.devops.cn", "/").backend().balancer()).size()).isEqualTo(2);
    }

    @Test
    void ewmaScoresOutliveARecompile() {
        IngressBuilder a = annotate(simple("a"), "load-balance", "ewma");
        Route first = route(compiler.plan(state(with(web(), a))), "myblog.devops.cn", "/");
        EwmaBalancer b1 = (EwmaBalancer) first.backend().balancer();
        b1.observe(first.backend(), 0, 1_000_000_000L); // 10.244.0.1 is slow
        b1.observe(first.backend(), 1, 1_000L);

        // The endpoints changed (their order): a new backend and balancer, which takes the scores over by address.
        Route second = route(compiler.plan(state(FERRY, service("web", "10.96.0.10", "http", 80),
                                                 slice("web-1", "web", "http", 8080, "10.244.0.2", "10.244.0.1"), a)),
                             "myblog.devops.cn", "/");
        assertThat(second.backend()).isNotSameAs(first.backend());
        assertThat(second.backend().balancer()).isNotSameAs(b1);
        for (int i = 0; i < 20; i++) {
            assertThat(second.backend().endpoint(second.backend().balancer().select(second.backend(), null))
                             .address().getAddress().getHostAddress()).isEqualTo("10.244.0.2");
        }
    }

    /** Everything a plan decides, as text: its paths, defaults, views and problems in order. */
    private static List<String> describe(Plan plan) {
        List<String> lines = new ArrayList<>();
        for (PlannedPath p : plan.paths()) {
            lines.add("path " + p.host() + ' ' + p.type() + ' ' + p.path() + " -> " + describe(p.route()));
        }
        plan.hostDefaults().forEach((host, r) -> lines.add("host default " + host + " -> " + describe(r)));
        lines.add("default -> " + (plan.defaultRoute() == null ? "none" : describe(plan.defaultRoute())));
        for (RouteView v : plan.views()) {
            lines.add("view " + v.kind() + ' ' + v.name() + ' ' + v.host() + ' ' + v.path() + ' ' + v.pathType() + ' '
                      + v.ingress() + ' ' + v.backend() + ' ' + v.balancer() + ' ' + List.copyOf(v.endpoints()) + ' '
                      + v.policy());
        }
        plan.problems().forEach(problem -> lines.add("problem " + problem));
        return lines;
    }

    private static String describe(Route r) {
        return r.name() + ' ' + r.backend().name() + ' ' + r.backend().balancer().name() + ' '
               + TextList.of(r.backend().endpoints()) + ' ' + r.policy();
    }

    @Test
    void aRecompileDecidesWhatAColdCompileOfTheSameStateDecides() {
        // What each Ingress says on its own, how its backends resolved and the routes made of them are kept from
        // one compile to the next by instance: every step below changes one thing and hands the rest over as the
        // same instances, as an informer does, and must plan exactly what a new compiler plans from scratch.
        Service web = service("web", "10.96.0.10", "http", 80);
        EndpointSlice webSlice = slice("web-1", "web", "http", 8080, "10.244.0.1", "10.244.0.2");
        Service api = service("api", "10.96.0.11", "http", 8080);
        EndpointSlice apiSlice = slice("api-1", "api", "http", 8080, "10.244.1.1");
        Ingress a = ingress("a", "2024-01-01T00:00:00Z",
                            rule("a.example.com", path("/", "Prefix", "web", 80),
                                 path("/api", "Prefix", "api", "http")))
                .build();
        Ingress b = ingress("b", "2024-01-02T00:00:00Z",
                            rule("a.example.com", path("/", "Prefix", "api", "http")),
                            rule("b.example.com", path("/", "Prefix", "nope", 80)))
                .build();
        Ingress c = annotate(ingress("c", "2024-01-03T00:00:00Z",
                                     rule("c.example.com", path("/x", "Exact", "web", 80),
                                          path("/y", "Sometimes", "web", 80))), "load-balance", "ewma").build();
        Ingress d = ingress("d", "2024-01-04T00:00:00Z").editSpec().withDefaultBackend(backend("web", 80)).endSpec()
                                                       .build();
        Ingress e = annotate(ingress("e", "2024-01-05T00:00:00Z",
                                     rule("e.example.com", path("/", "Prefix", "web", 80))),
                             "backend-protocol", "HTTPS").build();
        List<Object> objects = new ArrayList<>(List.of(FERRY, web, webSlice, api, apiSlice, a, b, c, d, e));

        Plan first = compiler.plan(state(objects.toArray()));
        assertThat(describe(first)).isEqualTo(describe(cold(objects)));
        assertThat(messages(first)).anyMatch(m -> m.contains("Service demo/nope not found"))
                                   .anyMatch(m -> m.contains("already served by Ingress demo/a"));

        Plan same = compiler.plan(state(objects.toArray()));
        assertThat(describe(same)).isEqualTo(describe(first));
        assertThat(route(same, "a.example.com", "/api")).as("nothing it came from changed")
                                                        .isSameAs(route(first, "a.example.com", "/api"));

        objects.set(objects.indexOf(webSlice), slice("web-1", "web", "http", 8080, "10.244.0.3"));
        Plan moved = compiler.plan(state(objects.toArray()));
        assertThat(describe(moved)).isEqualTo(describe(cold(objects)));
        assertThat(TextList.of(route(moved, "a.example.com", "/").backend().endpoints()))
                .containsExactly("10.244.0.3:8080");
        assertThat(route(moved, "a.example.com", "/api")).isSameAs(route(first, "a.example.com", "/api"));

        List<java.util.function.UnaryOperator<List<Object>>> steps = List.of(
                // api's port renamed: a's /api no longer resolves.
                o -> replace(o, api, service("api", "10.96.0.11", "web", 8080)),
                // The missing Service appears.
                o -> add(o, service("nope", "10.96.0.12", "http", 80),
                         slice("nope-1", "nope", "http", 8080, "10.244.2.1")),
                // A newer Ingress turns host a.example.com's paths into regexes, a's among them.
                o -> add(o, annotate(ingress("f", "2024-01-06T00:00:00Z",
                                             rule("a.example.com", path("/f.*", "Prefix", "web", 80))),
                                     "use-regex", "true").build()),
                // a is recreated after b: b now serves a.example.com's /.
                o -> replace(o, a, ingress("a", "2024-01-07T00:00:00Z",
                                           rule("a.example.com", path("/", "Prefix", "web", 80))).build()),
                // e speaks HTTP again.
                o -> replace(o, e, ingress("e", "2024-01-05T00:00:00Z",
                                           rule("e.example.com", path("/", "Prefix", "web", 80))).build()),
                // web is deleted.
                o -> remove(o, web));
        for (java.util.function.UnaryOperator<List<Object>> step : steps) {
            objects = step.apply(objects);
            assertThat(describe(compiler.plan(state(objects.toArray())))).isEqualTo(describe(cold(objects)));
        }
    }

    private static Plan cold(List<Object> objects) {
        return new IngressCompiler(IngressCompiler.DEFAULT_CLASS, false).plan(state(objects.toArray()));
    }

    private static List<Object> replace(List<Object> objects, Object old, Object replacement) {
        List<Object> next = new ArrayList<>(objects);
        next.set(next.indexOf(old), replacement);
        return next;
    }

    private static List<Object> add(List<Object> objects, Object... more) {
        List<Object> next = new ArrayList<>(objects);
        next.addAll(List.of(more));
        return next;
    }

    private static List<Object> remove(List<Object> objects, Object gone) {
        List<Object> next = new ArrayList<>(objects);
        next.remove(gone);
        return next;
    }

    @Test
    void aBackendWhoseEndpointsAreUnchangedIsReusedByTheNextCompile() {
        Object[] objects = with(web(), simple("a"), annotate(simple("b"), "load-balance", "ewma"));
        Plan first = compiler.plan(state(objects));
        Plan same = compiler.plan(state(objects)); // the same instances, as an informer hands them over
        assertThat(route(same, "myblog.devops.cn", "/").backend())
                .isSameAs(route(first, "myblog.devops.cn", "/").backend());
        // New instances with equal content: the endpoints are resolved again, and are equal.
        Plan equal = compiler.plan(state(with(web(), simple("a"), annotate(simple("b"), "load-balance", "ewma"))));
        assertThat(route(equal, "myblog.devops.cn", "/").backend())
                .isSameAs(route(first, "myblog.devops.cn", "/").backend());
    }

    @Test
    void aChangedSliceIsResolvedAgainAndANewBackendKeepsTheOtherEndpointsHealth() {
        Object[] objects = with(web(), simple("a"));
        Route first = route(compiler.plan(state(objects)), "myblog.devops.cn", "/");
        long now = System.nanoTime();
        int ejected = first.backend().indexOf(new java.net.InetSocketAddress("10.244.0.1", 8080));
        first.backend().health(ejected).failed(now, 1, java.util.concurrent.TimeUnit.SECONDS.toNanos(10));

        EndpointSlice grown = slice("web-1", "web", "http", 8080, "10.244.0.1", "10.244.0.2", "10.244.0.3");
        Route second = route(compiler.plan(state(objects[0], objects[1], grown, objects[3])), "myblog.devops.cn", "/");
        assertThat(second.backend()).isNotSameAs(first.backend());
        assertThat(TextList.of(second.backend().endpoints()))
                .containsExactly("10.244.0.1:8080", "10.244.0.2:8080", "10.244.0.3:8080");
        assertThat(second.backend().health(second.backend().indexOf(new java.net.InetSocketAddress("10.244.0.1",
                                                                                                      8080))))
                .isSameAs(first.backend().health(ejected));
        assertThat(second.backend().health(2).isAvailable(now)).isTrue();

        // A Service that changed is resolved again even if its slices did not: its port no longer matches theirs.
        Route third = route(compiler.plan(state(objects[0], service("web", "10.96.0.10", "web", 80), grown,
                                                objects[3])), "myblog.devops.cn", "/");
        assertThat(third.backend().endpoints()).isEmpty();
    }

    @Test
    void theHealthOfAnEndpointNoBackendHasIsForgotten() {
        Object[] objects = with(web(), simple("a"));
        Route first = route(compiler.plan(state(objects)), "myblog.devops.cn", "/");
        long now = System.nanoTime();
        int ejected = first.backend().indexOf(new java.net.InetSocketAddress("10.244.0.1", 8080));
        first.backend().health(ejected).failed(now, 1, java.util.concurrent.TimeUnit.SECONDS.toNanos(10));

        compiler.plan(state(objects[0], objects[1], slice("web-1", "web", "http", 8080, "10.244.0.2"), objects[3]));
        Route back = route(compiler.plan(state(objects)), "myblog.devops.cn", "/");
        assertThat(back.backend().health(back.backend().indexOf(new java.net.InetSocketAddress("10.244.0.1", 8080)))
                       .isAvailable(now)).as("a pod that left and came back starts healthy").isTrue();
    }

    @Test
    void hostValidationMatchesTheApiServersRule() {
        java.util.regex.Pattern label = java.util.regex.Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
        List<String> hosts = new ArrayList<>(List.of(
                "a", "a.b", "foo.example.com", "*.example.com", "*.a", "*", "*.", "*.*.a", ".a", "a.", "a..b", "-a",
                "a-", "a-b", "a--b", "1.2.3.4", "*.1.2.3.4", "1.2.3.4.5", "1.2.3", "A.b", "a_b", "a b", "ä.com",
                "0", "0-0", "x".repeat(63) + ".com", "x".repeat(64) + ".com", ""));
        hosts.add(String.join(".", java.util.Collections.nCopies(127, "a"))); // 253 characters
        hosts.add(String.join(".", java.util.Collections.nCopies(127, "a")) + "a"); // 254
        for (String host : hosts) {
            String name = host.startsWith("*.") ? host.substring(2) : host;
            boolean expected = !name.isEmpty() && name.length() <= 253
                               && !io.netty.util.NetUtil.isValidIpV4Address(name)
                               && java.util.Arrays.stream(name.split("\\.", -1))
                                                  .allMatch(l -> label.matcher(l).matches());
            assertThat(IngressCompiler.isValidHost(host)).as(host).isEqualTo(expected);
        }
    }

    @Test
    void passiveHealthOutlivesARecompileAndIsSharedByRoutesToTheEndpoint() {
        IngressBuilder a = simple("a");
        Route first = route(compiler.plan(state(with(web(), a))), "myblog.devops.cn", "/");
        long now = System.nanoTime();
        first.backend().health(0).failed(now, 1, java.util.concurrent.TimeUnit.SECONDS.toNanos(10));
        assertThat(first.backend().health(0).isAvailable(now)).isFalse();

        Route second = route(compiler.plan(state(with(web(), a))), "myblog.devops.cn", "/");
        assertThat(second).isNotSameAs(first);
        int index = second.backend().indexOf(first.backend().endpoint(0).address());
        assertThat(second.backend().health(index).isAvailable(now)).as("still ejected after the swap").isFalse();
        assertThat(second.backend().health(1 - index).isAvailable(now)).isTrue();
    }

    // ---- default backends ----------------------------------------------------------------------------------

    @Test
    void aDefaultBackendWithRulesIsTheFallbackOfEachOfItsHosts() {
        IngressBuilder a = ingress("a", "2024-01-01T00:00:00Z",
                                   rule("a.example.com", path("/api", "Prefix", "web", 80)),
                                   rule("b.example.com", path("/api", "Prefix", "web", 80)))
                .editSpec().withDefaultBackend(backend("web", "http")).endSpec();
        Plan plan = compiler.plan(state(with(web(), a)));
        assertThat(plan.hostDefaults()).containsOnlyKeys("a.example.com", "b.example.com");
        assertThat(plan.hostDefaults().get("a.example.com").backend().name()).isEqualTo("demo/web:http");
        assertThat(plan.defaultRoute()).isNull();
        assertThat(plan.views()).extracting(RouteView::kind, RouteView::host)
                                .containsExactly(tuple(Kind.PATH, "a.example.com"),
                                                 tuple(Kind.HOST_DEFAULT, "a.example.com"),
                                                 tuple(Kind.PATH, "b.example.com"),
                                                 tuple(Kind.HOST_DEFAULT, "b.example.com"));
    }

    @Test
    void anIngressWithOnlyADefaultBackendSuppliesTheTablesDefaultAndTheOldestWins() {
        IngressBuilder older = new IngressBuilder().withNewMetadata().withName("catch-all").withNamespace(NS)
                                                   .withCreationTimestamp("2024-01-01T00:00:00Z").endMetadata()
                                                   .withNewSpec().withIngressClassName("ferry")
                                                   .withDefaultBackend(backend("web", 80)).endSpec();
        IngressBuilder newer = new IngressBuilder(older.build()).editMetadata().withName("late")
                                                               .withCreationTimestamp("2024-02-01T00:00:00Z")
                                                               .endMetadata();
        Plan plan = compiler.plan(state(with(web(), newer, older)));
        assertThat(plan.defaultRoute().name()).isEqualTo("demo/catch-all defaultBackend");
        assertThat(plan.defaultRoute().backend().endpoints()).hasSize(2);
        assertThat(plan.views()).singleElement().satisfies(v -> {
            assertThat(v.kind()).isEqualTo(Kind.DEFAULT);
            assertThat(v.host()).isNull();
        });
        assertThat(messages(plan)).containsExactly("Ingress demo/late: spec.defaultBackend: ignored, Ingress "
                                                   + "demo/catch-all (older) already supplies the default backend");
    }

    @Test
    void aNewerIngressDoesNotReplaceAHostsFallback() {
        IngressBuilder older = ingress("older", "2024-01-01T00:00:00Z",
                                       rule("a.example.com", path("/x", "Prefix", "web", 80)))
                .editSpec().withDefaultBackend(backend("web", 80)).endSpec();
        IngressBuilder newer = ingress("newer", "2024-02-01T00:00:00Z",
                                       rule("a.example.com", path("/y", "Prefix", "web", 80)))
                .editSpec().withDefaultBackend(backend("web", 80)).endSpec();
        Plan plan = compiler.plan(state(with(web(), newer, older)));
        assertThat(plan.hostDefaults().get("a.example.com").name()).startsWith("demo/older:");
        assertThat(messages(plan)).singleElement().asString()
                                  .isEqualTo("Ingress demo/newer: spec.defaultBackend: ignored for host "
                                             + "\"a.example.com\", Ingress demo/older (older) already supplies its "
                                             + "default backend");
    }

    // ---- end to end through the table ----------------------------------------------------------------------

    @Test
    void aRequestFindsItsPodsThroughTheCompiledTable() {
        CompiledIngresses compiled = compiler.compile(state(with(web(), simple("blog"))));
        Route r = compiled.table().lookup("MyBlog.devops.cn:8080", "/blog/index/");
        assertThat(r.name()).isEqualTo("demo/blog:myblog.devops.cn/");
        assertThat(r.backend().endpoints()).extracting(e -> e.address().getAddress().getHostAddress())
                                           .containsExactly("10.244.0.1", "10.244.0.2");
        assertThat(compiled.table().lookup("other.devops.cn", "/blog/index/")).isNull();
        assertThat(compiled.routes()).hasSize(1);
        assertThat(compiled.problems()).isEmpty();
    }

    @Test
    void theLongestPathWinsAndExactBeatsPrefix() {
        CompiledIngresses compiled = compiler.compile(state(with(web(), ingress(
                "a", "2024-01-01T00:00:00Z",
                rule("a.example.com", path("/", "Prefix", "web", 80), path("/aaa", "Prefix", "web", 80),
                     path("/aaa/bbb", "Prefix", "web", 80), path("/foo", "Exact", "web", 80),
                     path("/foo", "Prefix", "web", 80))))));
        assertThat(compiled.table().lookup("a.example.com", "/aaa/ccc").name()).endsWith(":a.example.com/aaa");
        assertThat(compiled.table().lookup("a.example.com", "/aaa/bbb").name()).endsWith(":a.example.com/aaa/bbb");
        assertThat(compiled.table().lookup("a.example.com", "/aaa/bbbxyz").name()).endsWith(":a.example.com/aaa");
        assertThat(compiled.table().lookup("a.example.com", "/ccc").name()).endsWith(":a.example.com/");
        Route foo = compiled.table().lookup("a.example.com", "/foo");
        assertThat(compiled.routes()).filteredOn(v -> v.name().equals(foo.name()))
                                     .extracting(RouteView::pathType).contains("EXACT");
    }

    @Test
    void unmatchedPathsGetTheHostsFallbackAndUnknownHostsTheDefault() {
        IngressBuilder withFallback = ingress("site", "2024-01-01T00:00:00Z",
                                              rule("a.example.com", path("/api", "Prefix", "web", 80)))
                .editSpec().withDefaultBackend(backend("web", 80)).endSpec();
        IngressBuilder catchAll = new IngressBuilder().withNewMetadata().withName("catch-all").withNamespace(NS)
                                                      .withCreationTimestamp("2024-01-01T00:00:00Z").endMetadata()
                                                      .withNewSpec().withIngressClassName("ferry")
                                                      .withDefaultBackend(backend("web", 80)).endSpec();
        CompiledIngresses compiled = compiler.compile(state(with(web(), withFallback, catchAll)));
        assertThat(compiled.table().lookup("a.example.com", "/api/x").name()).isEqualTo("demo/site:a.example.com/api");
        assertThat(compiled.table().lookup("a.example.com", "/else").name())
                .isEqualTo("demo/site:a.example.com defaultBackend");
        assertThat(compiled.table().lookup("b.example.com", "/api").name()).isEqualTo("demo/catch-all defaultBackend");
        assertThat(compiled.table().defaultRoute().name()).isEqualTo("demo/catch-all defaultBackend");
    }

    @Test
    void regexHostsMatchCaseInsensitivelyFromTheStart() {
        IngressBuilder regex = annotate(ingress("regex", "2024-01-02T00:00:00Z",
                                                rule("a.example.com", path("/api/v[0-9]+", "Prefix", "web", 80))),
                                        "use-regex", "true");
        IngressBuilder plain = ingress("plain", "2024-01-01T00:00:00Z",
                                       rule("a.example.com", path("/static", "Exact", "web", 80)));
        CompiledIngresses compiled = compiler.compile(state(with(web(), regex, plain)));
        assertThat(compiled.table().lookup("a.example.com", "/API/V2/users").name())
                .isEqualTo("demo/regex:a.example.com/api/v[0-9]+");
        // An Exact path of a regex host matches as ingress-nginx's "~* ^/static" does.
        assertThat(compiled.table().lookup("a.example.com", "/static/app.js").name())
                .isEqualTo("demo/plain:a.example.com/static");
        assertThat(compiled.table().lookup("a.example.com", "/v2")).isNull();
    }

    @Test
    void wildcardHostsTakeOneExtraLabel() {
        CompiledIngresses compiled = compiler.compile(state(with(web(), ingress(
                "a", "2024-01-01T00:00:00Z", rule("*.Foo.com", path("/", "Prefix", "web", 80))))));
        assertThat(compiled.table().lookup("bar.foo.com", "/")).isNotNull();
        assertThat(compiled.table().lookup("baz.bar.foo.com", "/")).isNull();
        assertThat(compiled.table().lookup("foo.com", "/")).isNull();
    }
}
