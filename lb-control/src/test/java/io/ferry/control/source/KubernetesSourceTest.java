package io.ferry.control.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.ferry.control.ClusterState;
import io.ferry.control.ControlLoop;
import io.ferry.control.Dataplane;
import io.ferry.control.SnapshotCompiler;
import io.ferry.control.compile.ServiceCompiler;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link KubernetesSource} against fabric8's mock API server in CRUD mode, with real lists and watches: what the
 * first state holds and when it arrives, how events show up, what is filtered, and the whole control path from an
 * API object to a live ClusterIP listener.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesSourceTest {

    private static final Duration DEADLINE = Duration.ofSeconds(15);
    private static final Duration DEBOUNCE = Duration.ofMillis(20);
    private static final String NS = "ks";

    KubernetesClient client;
    KubernetesMockServer server;

    private final List<ClusterState> states = new CopyOnWriteArrayList<>();
    private final List<Boolean> syncedAtHandOver = new CopyOnWriteArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private KubernetesSource startSource() {
        KubernetesSource[] self = new KubernetesSource[1];
        KubernetesSource source = new KubernetesSource(client, state -> {
            syncedAtHandOver.add(self[0].hasSynced());
            states.add(state);
        }, DEBOUNCE);
        self[0] = source;
        closeables.add(source);
        source.start();
        return source;
    }

    private ClusterState latest() {
        await().atMost(DEADLINE).until(() -> !states.isEmpty());
        return states.get(states.size() - 1);
    }

    private static Service service(String name, String clusterIp, int port, Map<String, String> labels) {
        return new ServiceBuilder()
                .withNewMetadata().withName(name).withNamespace(NS).withLabels(labels).endMetadata()
                .withNewSpec().withClusterIP(clusterIp)
                .addNewPort().withPort(port).withTargetPort(new IntOrString(8080)).endPort()
                .endSpec().build();
    }

    private static EndpointSlice slice(String service, int port, Endpoint... endpoints) {
        return new EndpointSliceBuilder()
                .withNewMetadata().withName(service + "-x1").withNamespace(NS)
                .withLabels(Map.of("kubernetes.io/service-name", service)).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withPort(port).endPort()
                .withEndpoints(endpoints).build();
    }

    private static Endpoint endpoint(String address, boolean ready) {
        return new EndpointBuilder().withAddresses(address).withNewConditions().withReady(ready).endConditions()
                                    .build();
    }

    private static Endpoint[] endpoints(int n) {
        return IntStream.rangeClosed(1, n).mapToObj(i -> endpoint("10.0.0." + i, true)).toArray(Endpoint[]::new);
    }

    private static Secret secret(String name, String type) {
        return new SecretBuilder().withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                                  .withType(type).withData(Map.of("tls.crt", "Y3J0", "tls.key", "a2V5")).build();
    }

    private static List<String> names(List<? extends HasMetadata> objects) {
        return objects.stream().map(o -> o.getMetadata().getName()).sorted().toList();
    }

    private static List<Boolean> readiness(ClusterState state, String sliceName) {
        return state.endpointSlices().stream().filter(s -> s.getMetadata().getName().equals(sliceName))
                    .flatMap(s -> s.getEndpoints().stream())
                    .map(e -> e.getConditions() == null || e.getConditions().getReady() == null
                              || e.getConditions().getReady())
                    .toList();
    }

    /** The decoded paths and queries of every request the mock server has seen so far (the informers' lists and
     *  watches are the cluster-wide ones; the test's own writes name a namespace). */
    private List<String> requests() throws InterruptedException {
        List<String> out = new ArrayList<>();
        RecordedRequest r;
        while ((r = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null) {
            out.add(URLDecoder.decode(r.getPath(), StandardCharsets.UTF_8));
        }
        return out;
    }

    @Test
    void theFirstStateArrivesAfterSyncWithEverythingCreatedBeforeAndNoOtherSecrets() throws Exception {
        client.services().inNamespace(NS).resource(service("web", "10.96.0.10", 80, Map.of())).create();
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web", 8080, endpoints(2))).create();
        client.network().v1().ingressClasses().resource(new IngressClassBuilder().withNewMetadata()
                .withName("ferry").endMetadata().withNewSpec().withController("ferry.io/ingress-controller")
                .endSpec().build()).create();
        client.network().v1().ingresses().inNamespace(NS).resource(new IngressBuilder().withNewMetadata()
                .withName("site").withNamespace(NS).endMetadata().withNewSpec().withIngressClassName("ferry")
                .endSpec().build()).create();
        client.secrets().inNamespace(NS).resource(secret("site-tls", "kubernetes.io/tls")).create();
        client.secrets().inNamespace(NS).resource(secret("db-password", "Opaque")).create();

        KubernetesSource source = startSource();
        ClusterState first = latest();

        assertThat(source.hasSynced()).isTrue();
        assertThat(syncedAtHandOver).first().isEqualTo(true);
        assertThat(names(first.services())).containsExactly("web");
        assertThat(names(first.endpointSlices())).containsExactly("web-x1");
        assertThat(readiness(first, "web-x1")).containsExactly(true, true);
        assertThat(names(first.ingresses())).containsExactly("site");
        assertThat(names(first.ingressClasses())).containsExactly("ferry");
        assertThat(names(first.secrets())).containsExactly("site-tls");
        assertThat(first.problems()).isEmpty();
        assertThat(source.watchRestarts()).isZero();
        // Secrets are asked for by type: the API server never sends others (the mock ignores field selectors,
        // which is why the source checks the type as well).
        assertThat(requests()).filteredOn(p -> p.startsWith("/api/v1/secrets"))
                              .isNotEmpty()
                              .allMatch(p -> p.contains("fieldSelector=type=kubernetes.io/tls"), "field selector");
    }

    @Test
    void createsUpdatesAndDeletesProduceNewStates() {
        startSource();
        ClusterState empty = latest();
        assertThat(empty.services()).isEmpty();

        client.services().inNamespace(NS).resource(service("web", "10.96.0.10", 80, Map.of())).create();
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web", 8080, endpoints(1))).create();
        await().atMost(DEADLINE).until(() -> readiness(latest(), "web-x1").size() == 1
                                              && latest().services().size() == 1);

        // Scale up, then down.
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web", 8080, endpoints(3))).update();
        await().atMost(DEADLINE).until(() -> readiness(latest(), "web-x1").size() == 3);
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web", 8080, endpoints(2))).update();
        await().atMost(DEADLINE).until(() -> readiness(latest(), "web-x1").size() == 2);

        // An endpoint that is no longer ready.
        client.discovery().v1().endpointSlices().inNamespace(NS)
              .resource(slice("web", 8080, endpoint("10.0.0.1", true), endpoint("10.0.0.2", false))).update();
        await().atMost(DEADLINE).until(() -> readiness(latest(), "web-x1").equals(List.of(true, false)));

        client.discovery().v1().endpointSlices().inNamespace(NS).withName("web-x1").delete();
        client.services().inNamespace(NS).withName("web").delete();
        await().atMost(DEADLINE).until(() -> latest().services().isEmpty() && latest().endpointSlices().isEmpty());
        assertThat(syncedAtHandOver).containsOnly(true);
    }

    @Test
    void aServiceThatAnotherProxyOwnsNeverAppears() throws Exception {
        startSource();
        latest();
        client.services().inNamespace(NS).resource(service("theirs", "10.96.0.20", 80,
                Map.of("service.kubernetes.io/service-proxy-name", "other-proxy"))).create();
        client.services().inNamespace(NS).resource(service("ours", "10.96.0.21", 80, Map.of())).create();
        await().atMost(DEADLINE).until(() -> names(latest().services()).contains("ours"));

        assertThat(states).allSatisfy(s -> assertThat(names(s.services())).doesNotContain("theirs"));
        assertThat(requests()).filteredOn(p -> p.startsWith("/api/v1/services")
                                              || p.startsWith("/apis/discovery.k8s.io/v1/endpointslices"))
                              .isNotEmpty()
                              .allMatch(p -> p.contains("labelSelector=!service.kubernetes.io/service-proxy-name"),
                                        "label selector");
    }

    @Test
    void aServiceAndItsSliceFromTheApiServeTrafficUntilTheServiceIsDeleted() throws Exception {
        Transport transport = Transport.create(Transport.Kind.NIO, 1);
        closeables.add(transport);
        ServiceProxy proxy = new ServiceProxy(transport, TcpProxyConfig.DEFAULT);
        closeables.add(proxy);
        ControlLoop loop = new ControlLoop(SnapshotCompiler.servicesOnly(new ServiceCompiler(List.of())),
                                           new Dataplane(proxy), Duration.ofMillis(10), Clock.systemUTC());
        closeables.add(loop);
        TestBackend backend = TestBackend.start(TestBackend.greetThenEcho("from-k8s"));
        closeables.add(backend);
        KubernetesSource source = new KubernetesSource(client, loop::submit, DEBOUNCE);
        closeables.add(source);
        source.start();
        await().atMost(DEADLINE).until(() -> loop.status().ready());

        client.services().inNamespace(NS).resource(service("web", "127.77.9.1", 7100, Map.of())).create();
        client.discovery().v1().endpointSlices().inNamespace(NS)
              .resource(slice("web", backend.address().getPort(), endpoint("127.0.0.1", true))).create();
        await().atMost(DEADLINE).until(() -> greetingOrError("127.77.9.1", 7100).equals("from-k8s"));

        client.services().inNamespace(NS).withName("web").delete();
        await().atMost(DEADLINE).until(() -> greetingOrError("127.77.9.1", 7100).equals("ConnectException"));
        assertThat(loop.status().problems()).isEmpty();
    }

    private static String greetingOrError(String host, int port) {
        try (Socket s = new Socket(host, port)) {
            s.setSoTimeout(10_000);
            String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            return String.valueOf(line);
        } catch (IOException e) {
            return e.getClass().getSimpleName();
        }
    }
}
