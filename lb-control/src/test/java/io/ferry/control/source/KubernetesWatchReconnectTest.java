package io.ferry.control.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
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
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The API server goes away under a running {@link KubernetesSource} and comes back: the live tables keep serving
 * while it is gone, the drop is counted and reported, the report clears when the watches are back, and then
 * every change — an edit, a creation and a deletion — reaches the data plane. The two mock servers share one CRUD store and one
 * port, as one API server that restarts would.
 */
class KubernetesWatchReconnectTest {

    private static final Duration DEADLINE = Duration.ofSeconds(30);
    private static final String NS = "rc";

    private final KubernetesCrudDispatcher store = new KubernetesCrudDispatcher();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private KubernetesMockServer server;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        if (server != null) {
            server.destroy();
        }
    }

    private KubernetesMockServer apiServer(int port) {
        KubernetesMockServer s = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), store,
                                                          false);
        s.init(InetAddress.getLoopbackAddress(), port);
        return s;
    }

    private static Service service(String name, String clusterIp, int port) {
        return new ServiceBuilder()
                .withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                .withNewSpec().withClusterIP(clusterIp)
                .addNewPort().withPort(port).withTargetPort(new IntOrString(8080)).endPort()
                .endSpec().build();
    }

    private static EndpointSlice slice(String service, int port) {
        return new EndpointSliceBuilder()
                .withNewMetadata().withName(service + "-x1").withNamespace(NS)
                .withLabels(Map.of("kubernetes.io/service-name", service)).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withPort(port).endPort()
                .withEndpoints(new EndpointBuilder().withAddresses("127.0.0.1").withNewConditions().withReady(true)
                                                    .endConditions().build())
                .build();
    }

    @Test
    void aRestartedApiServerLosesNothing() throws Exception {
        server = apiServer(0);
        int port = server.getPort();
        KubernetesClient client = server.createClient(b -> b.editOrNewConfig().withWatchReconnectInterval(100).withRequestTimeout(2_000)
                                                            .withConnectionTimeout(2_000).withRequestRetryBackoffLimit(1)
                                                            .withWatchReconnectLimit(-1).endConfig());
        closeables.add(client);

        Transport transport = Transport.create(Transport.Kind.NIO, 1);
        closeables.add(transport);
        ServiceProxy proxy = new ServiceProxy(transport, TcpProxyConfig.DEFAULT);
        closeables.add(proxy);
        ControlLoop loop = new ControlLoop(SnapshotCompiler.servicesOnly(new ServiceCompiler(List.of())),
                                           new Dataplane(proxy), Duration.ofMillis(10), Clock.systemUTC());
        closeables.add(loop);
        TestBackend blue = TestBackend.start(TestBackend.greetThenEcho("blue"));
        closeables.add(blue);
        TestBackend green = TestBackend.start(TestBackend.greetThenEcho("green"));
        closeables.add(green);

        client.services().inNamespace(NS).resource(service("web", "127.77.10.1", 7200)).create();
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web", blue.address().getPort()))
              .create();
        client.services().inNamespace(NS).resource(service("old", "127.77.10.2", 7200)).create();
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("old", blue.address().getPort()))
              .create();

        KubernetesSource source = new KubernetesSource(client, loop::submit, Duration.ofMillis(20));
        closeables.add(source);
        source.start();
        await().atMost(DEADLINE).until(() -> greeting("127.77.10.1", 7200).equals("blue")
                                              && greeting("127.77.10.2", 7200).equals("blue"));
        assertThat(source.watchRestarts()).isZero();

        // The API server goes away: the drop is counted and reported; the live tables keep serving.
        server.destroy();
        server = null;
        await().atMost(DEADLINE).until(() -> source.watchRestarts() > 0);
        await().atMost(DEADLINE).until(() -> loop.status().problems().stream()
                                                 .anyMatch(p -> p.toString().contains("watch")));
        assertThat(greeting("127.77.10.1", 7200)).isEqualTo("blue");

        // It comes back (same store, same port); once the watches are up again, objects change. (The watches
        // resume from the last resourceVersion they saw: a real API server replays what happened in between, or
        // answers 410 Gone and the informers list again. The mock replays nothing, so the changes come after.)
        server = apiServer(port);
        await().atMost(DEADLINE).until(() -> loop.status().problems().isEmpty());
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web", green.address().getPort()))
              .update();
        client.services().inNamespace(NS).resource(service("new", "127.77.10.3", 7200)).create();
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("new", green.address().getPort()))
              .create();
        client.services().inNamespace(NS).withName("old").delete();

        await().atMost(DEADLINE).until(() -> greeting("127.77.10.1", 7200).equals("green")
                                              && greeting("127.77.10.3", 7200).equals("green")
                                              && greeting("127.77.10.2", 7200).equals("ConnectException"));
        assertThat(loop.status().problems()).isEmpty();
    }

    private static String greeting(String host, int port) {
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
