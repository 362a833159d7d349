package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l4.testing.TrustAllTls;
import io.ferry.l7.tls.SelfSignedCertificates;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
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
    private HttpServer httpBackend;

    @AfterEach
    void tearDown() throws Exception {
        if (httpBackend != null) {
            httpBackend.stop(0);
        }
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

    private static Ingress ingress(String name, String className, Map<String, String> annotations, String host,
                                   String tlsSecret) {
        IngressBuilder b = new IngressBuilder()
                .withNewMetadata().withName(name).withNamespace("shop").withAnnotations(annotations).endMetadata()
                .withNewSpec().withIngressClassName(className)
                .addNewRule().withHost(host).withNewHttp()
                .addNewPath().withPath("/").withPathType("Prefix").withNewBackend().withNewService()
                .withName("web").withNewPort().withName("http").endPort().endService().endBackend().endPath()
                .endHttp().endRule().endSpec();
        if (tlsSecret != null) {
            b.editSpec().addNewTl().withHosts(host).withSecretName(tlsSecret).endTl().endSpec();
        }
        return b.build();
    }

    private boolean hasStatus(String ingress) {
        Ingress i = client.network().v1().ingresses().inNamespace("shop").withName(ingress).get();
        return i.getStatus() != null && i.getStatus().getLoadBalancer() != null
               && i.getStatus().getLoadBalancer().getIngress() != null
               && !i.getStatus().getLoadBalancer().getIngress().isEmpty();
    }

    private static String plainGet(int port, String host) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void httpsRoutesFromSecretsAndOnlyTheIngressesOfOurClass() throws Exception {
        httpBackend = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        httpBackend.createContext("/", exchange -> {
            byte[] body = "served-by-web".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        httpBackend.start();
        client.services().inNamespace("shop").resource(new ServiceBuilder()
                .withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                .withNewSpec().withClusterIP("127.77.11.1")
                .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString(8080)).endPort()
                .endSpec().build()).create();
        client.discovery().v1().endpointSlices().inNamespace("shop").resource(new EndpointSliceBuilder()
                .withNewMetadata().withName("web-1").withNamespace("shop")
                .addToLabels("kubernetes.io/service-name", "web").endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(httpBackend.getAddress().getPort()).endPort()
                .addNewEndpoint().withAddresses("127.0.0.1").endEndpoint()
                .build()).create();
        SelfSignedCertificates.Pem pem = SelfSignedCertificates.generate("web.example.com");
        client.secrets().inNamespace("shop").resource(new SecretBuilder()
                .withNewMetadata().withName("web-tls").withNamespace("shop").endMetadata()
                .withType("kubernetes.io/tls")
                .withData(Map.of("tls.crt", Base64.getEncoder().encodeToString(pem.certificate()),
                                 "tls.key", Base64.getEncoder().encodeToString(pem.privateKey())))
                .build()).create();
        client.network().v1().ingressClasses().resource(new IngressClassBuilder()
                .withNewMetadata().withName("ferry").endMetadata()
                .withNewSpec().withController("ferry.io/ingress-controller").endSpec().build()).create();
        client.network().v1().ingressClasses().resource(new IngressClassBuilder()
                .withNewMetadata().withName("nginx").endMetadata()
                .withNewSpec().withController("k8s.io/ingress-nginx").endSpec().build()).create();
        client.network().v1().ingresses().inNamespace("shop")
              .resource(ingress("ours", "ferry", Map.of(), "web.example.com", "web-tls")).create();
        client.network().v1().ingresses().inNamespace("shop")
              .resource(ingress("theirs", "nginx", Map.of(), "theirs.example.com", null)).create();
        client.network().v1().ingresses().inNamespace("shop")
              .resource(ingress("annotated", null, Map.of("kubernetes.io/ingress.class", "ferry"),
                                "old.example.com", null)).create();
        client.network().v1().ingresses().inNamespace("shop")
              .resource(ingress("classless", null, Map.of(), "none.example.com", null)).create();

        ferry = Ferry.start(FerryOptions.builder()
                                        .kubeconfig(kubeconfig())
                                        .nodeName("node-a")
                                        .addPublishStatusAddress("192.0.2.45")
                                        .adminPort(0)
                                        .httpAddress(InetAddress.getLoopbackAddress())
                                        .httpPort(0)
                                        .httpsPort(0)
                                        .accessLog(false)
                                        .ioThreads(2)
                                        .minSyncPeriod(Duration.ofMillis(10))
                                        .build());
        await().atMost(DEADLINE).until(() -> readyz() == 200);
        int httpPort = ferry.httpProxy().boundAddresses().get(0).getPort();
        int httpsPort = ferry.httpProxy().boundAddresses().get(1).getPort();

        // HTTPS with the Secret's certificate, chosen by SNI; plain HTTP to that host is redirected.
        try (SSLSocket s = (SSLSocket) TrustAllTls.context().getSocketFactory()
                                                  .createSocket(InetAddress.getLoopbackAddress(), httpsPort)) {
            s.setSoTimeout(10_000);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName("web.example.com")));
            s.setSSLParameters(p);
            s.startHandshake();
            X509Certificate leaf = (X509Certificate) s.getSession().getPeerCertificates()[0];
            assertThat(leaf.getSubjectAlternativeNames()).anyMatch(n -> n.get(1).equals("web.example.com"));
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n"
                                              .getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                    .startsWith("HTTP/1.1 200").endsWith("served-by-web");
        }
        assertThat(plainGet(httpPort, "web.example.com")).startsWith("HTTP/1.1 308")
                                                         .contains("location: https://web.example.com:" + httpsPort + "/");
        // The old class annotation counts; another controller's class and no class (no default) do not.
        assertThat(plainGet(httpPort, "old.example.com")).startsWith("HTTP/1.1 200").endsWith("served-by-web");
        assertThat(plainGet(httpPort, "theirs.example.com")).startsWith("HTTP/1.1 404");
        assertThat(plainGet(httpPort, "none.example.com")).startsWith("HTTP/1.1 404");

        // Status goes to what Ferry serves, never to the others.
        await().atMost(DEADLINE).until(() -> hasStatus("ours") && hasStatus("annotated"));
        assertThat(hasStatus("theirs")).isFalse();
        assertThat(hasStatus("classless")).isFalse();

        // Marking our class the default picks the classless Ingress up, status included.
        client.network().v1().ingressClasses().withName("ferry").edit(c -> {
            c.getMetadata().setAnnotations(Map.of("ingressclass.kubernetes.io/is-default-class", "true"));
            return c;
        });
        await().atMost(DEADLINE).until(() -> plainGet(httpPort, "none.example.com").startsWith("HTTP/1.1 200"));
        await().atMost(DEADLINE).until(() -> hasStatus("classless"));
        assertThat(hasStatus("theirs")).isFalse();
    }
}
