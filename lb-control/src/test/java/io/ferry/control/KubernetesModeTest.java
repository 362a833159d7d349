package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.ferry.l4.testing.TestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The process pointed at an API server with {@code --kubeconfig}: fabric8's mock server in CRUD mode with real
 * watches. Objects created by a client become listeners and routes; readiness waits for the informers.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesModeTest {

    private static final Duration DEADLINE = Duration.ofSeconds(20);

    KubernetesClient client;

    @TempDir
    Path dir;

    private Ferry ferry;
    private TestBackend backend;

    @AfterEach
    void tearDown() throws Exception {
        if (ferry != null) {
            ferry.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private Path kubeconfig() throws IOException {
        Path file = dir.resolve("kubeconfig");
        Files.writeString(file, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster: {server: "%s", insecure-skip-tls-verify: true}
                users:
                - name: mock
                  user: {token: secret}
                contexts:
                - name: mock
                  context: {cluster: mock, user: mock, namespace: default}
                current-context: mock
                """.formatted(client.getMasterUrl().toString()));
        return file;
    }

    private String greeting(String host, int port) throws IOException {
        try (Socket s = new Socket(host, port)) {
            s.setSoTimeout(10_000);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    private int readyz() throws Exception {
        return HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminAddress().getPort() + "/readyz"))
                           .build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    @Test
    void objectsCreatedThroughTheApiBecomeListenersAndRoutes() throws Exception {
        backend = TestBackend.start(TestBackend.greetThenEcho("from-the-cluster"));
        client.services().inNamespace("shop").resource(new ServiceBuilder()
                .withNewMetadata().withName("cart").withNamespace("shop").endMetadata()
                .withNewSpec().withClusterIP("127.77.10.1")
                .addNewPort().withName("tcp").withPort(7200).withTargetPort(new IntOrString(8080)).endPort()
                .endSpec().build()).create();
        client.discovery().v1().endpointSlices().inNamespace("shop").resource(new EndpointSliceBuilder()
                .withNewMetadata().withName("cart-1").withNamespace("shop")
                .addToLabels("kubernetes.io/service-name", "cart").endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("tcp").withPort(backend.address().getPort()).endPort()
                .addNewEndpoint().withAddresses("127.0.0.1").endEndpoint()
                .build()).create();

        ferry = Ferry.start(FerryOptions.builder()
                                        .kubeconfig(kubeconfig())
                                        .nodeName("node-a")
                                        .addPublishStatusAddress("192.0.2.44")
                                        .adminPort(0)
                                        .httpAddress(InetAddress.getLoopbackAddress())
                                        .httpPort(0)
                                        .httpsPort(-1)
                                        .accessLog(false)
                                        .ioThreads(2)
                                        .minSyncPeriod(Duration.ofMillis(10))
                                        .build());
        await().atMost(DEADLINE).until(() -> readyz() == 200);
        assertThat(ferry.kubernetesSource().hasSynced()).isTrue();
        assertThat(greeting("127.77.10.1", 7200)).isEqualTo("from-the-cluster");
        assertThat(HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminAddress().getPort() + "/metrics"))
                           .build(), HttpResponse.BodyHandlers.ofString()).body())
                .contains("ferry_kubernetes_watch_restarts_total 0");

        // An Ingress created while Ferry runs routes HTTP to the same pods.
        client.network().v1().ingressClasses().resource(new IngressClassBuilder()
                .withNewMetadata().withName("ferry").endMetadata()
                .withNewSpec().withController("ferry.io/ingress-controller").endSpec().build()).create();
        client.network().v1().ingresses().inNamespace("shop").resource(new IngressBuilder()
                .withNewMetadata().withName("cart").withNamespace("shop").endMetadata()
                .withNewSpec().withIngressClassName("ferry")
                .addNewRule().withHost("cart.example.com").withNewHttp()
                .addNewPath().withPath("/").withPathType("Prefix").withNewBackend().withNewService()
                .withName("cart").withNewPort().withNumber(7200).endPort().endService().endBackend().endPath()
                .endHttp().endRule().endSpec().build()).create();
        await().atMost(DEADLINE).until(() -> ferry.httpProxy().table().ruleCount() == 1);
        // The elected replica (the only one here) writes the status of the Ingress it serves.
        await().atMost(DEADLINE).until(() -> {
            var status = client.network().v1().ingresses().inNamespace("shop").withName("cart").get().getStatus();
            return status != null && status.getLoadBalancer() != null
                   && status.getLoadBalancer().getIngress() != null
                   && status.getLoadBalancer().getIngress().size() == 1
                   && "192.0.2.44".equals(status.getLoadBalancer().getIngress().get(0).getIp());
        });

        // Deleting the Service through the API takes its listener away.
        client.services().inNamespace("shop").withName("cart").delete();
        await().atMost(DEADLINE).until(() -> ferry.serviceProxy().listeners().isEmpty());
    }
}
