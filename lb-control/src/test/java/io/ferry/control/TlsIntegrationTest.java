package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.ferry.l4.testing.TrustAllTls;
import io.ferry.l7.tls.SelfSignedCertificates;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTPS through the whole process: Ingress {@code spec.tls} and {@code kubernetes.io/tls} Secrets in watched
 * manifests, certificates chosen by SNI, a Secret renewed while a connection stays open, a broken Secret reported
 * while everything else stays served, and the plain-HTTP redirect.
 */
class TlsIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Ferry ferry;
    private int httpPort;
    private int httpsPort;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void start() throws Exception {
        ferry = Ferry.start(FerryOptions.builder()
                                        .addManifests(dir)
                                        .adminPort(0)
                                        .httpAddress(InetAddress.getLoopbackAddress())
                                        .httpPort(0)
                                        .httpsPort(0)
                                        .accessLog(false)
                                        .ioThreads(2)
                                        .minSyncPeriod(Duration.ofMillis(10))
                                        .build());
        closeables.add(ferry);
        httpPort = ferry.httpProxy().boundAddresses().get(0).getPort();
        httpsPort = ferry.httpProxy().boundAddresses().get(1).getPort();
        await().atMost(DEADLINE).until(() -> ferry.controlLoop().status().ready());
    }

    private int backend(String name) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        server.createContext("/", exchange -> {
            byte[] body = (name + ' ' + exchange.getRequestURI()).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        closeables.add(() -> server.stop(0));
        return server.getAddress().getPort();
    }

    private static String serviceAndIngress(int port) {
        return """
               apiVersion: v1
               kind: Service
               metadata: {name: web, namespace: tls}
               spec:
                 ports: [{port: 80}]
               ---
               apiVersion: discovery.k8s.io/v1
               kind: EndpointSlice
               metadata:
                 name: web-1
                 namespace: tls
                 labels: {kubernetes.io/service-name: web}
               addressType: IPv4
               ports: [{port: %d}]
               endpoints:
               - addresses: ["127.0.0.1"]
               ---
               apiVersion: networking.k8s.io/v1
               kind: IngressClass
               metadata: {name: ferry}
               spec: {controller: ferry.io/ingress-controller}
               ---
               apiVersion: networking.k8s.io/v1
               kind: Ingress
               metadata: {name: site, namespace: tls}
               spec:
                 ingressClassName: ferry
                 tls:
                 - {hosts: [shop.example.com], secretName: shop-tls}
                 - {hosts: [blog.example.com], secretName: blog-tls}
                 rules:
                 - host: shop.example.com
                   http:
                     paths:
                     - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
                 - host: blog.example.com
                   http:
                     paths:
                     - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
                 - host: plain.example.com
                   http:
                     paths:
                     - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
               """.formatted(port);
    }

    private static String secret(String name, String... dnsNames) {
        SelfSignedCertificates.Pem pem = SelfSignedCertificates.generate(dnsNames);
        Base64.Encoder b64 = Base64.getEncoder();
        return """
               apiVersion: v1
               kind: Secret
               metadata: {name: %s, namespace: tls}
               type: kubernetes.io/tls
               data:
                 tls.crt: %s
                 tls.key: %s
               """.formatted(name, b64.encodeToString(pem.certificate()), b64.encodeToString(pem.privateKey()));
    }

    private void write(String file, String text) throws IOException {
        Path tmp = dir.resolve(file + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, dir.resolve(file), StandardCopyOption.ATOMIC_MOVE);
    }


    private SSLSocket handshake(String sni) throws Exception {
        SSLSocket s = (SSLSocket) TrustAllTls.context().getSocketFactory().createSocket(InetAddress.getLoopbackAddress(),
                                                                              httpsPort);
        s.setSoTimeout(10_000);
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        p.setApplicationProtocols(new String[] {"http/1.1"});
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    private static X509Certificate leaf(SSLSocket s) throws Exception {
        return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }

    private X509Certificate certificateFor(String sni) throws Exception {
        try (SSLSocket s = handshake(sni)) {
            return leaf(s);
        }
    }

    private static String exchange(Socket s, String host, String path) throws IOException {
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                                          .getBytes(StandardCharsets.US_ASCII));
        return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    private JsonNode configDump() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminAddress().getPort()
                                                  + "/config_dump")).build(),
                HttpResponse.BodyHandlers.ofString());
        return new ObjectMapper().readTree(r.body());
    }

    @Test
    void certificatesBySniRenewedLiveAndBrokenSecretsReported() throws Exception {
        write("app.yaml", serviceAndIngress(backend("web")));
        write("shop-tls.yaml", secret("shop-tls", "shop.example.com"));
        write("blog-tls.yaml", secret("blog-tls", "blog.example.com"));
        start();

        X509Certificate shop = certificateFor("shop.example.com");
        assertThat(shop.getSubjectX500Principal().getName()).isEqualTo("CN=shop.example.com");
        assertThat(certificateFor("blog.example.com").getSubjectX500Principal().getName())
                .isEqualTo("CN=blog.example.com");
        assertThat(certificateFor("unknown.example.com").getSubjectX500Principal().getName())
                .contains("ingress.local");
        try (SSLSocket s = handshake("shop.example.com")) {
            assertThat(exchange(s, "shop.example.com", "/x")).startsWith("HTTP/1.1 200 ").endsWith("web /x");
        }
        // Plain HTTP to a host with TLS: 308 to the HTTPS port; a host without TLS is served.
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), httpPort)) {
            s.setSoTimeout(10_000);
            assertThat(exchange(s, "shop.example.com", "/a?b=1")).startsWith("HTTP/1.1 308 ")
                    .contains("location: https://shop.example.com:" + httpsPort + "/a?b=1");
        }
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), httpPort)) {
            s.setSoTimeout(10_000);
            assertThat(exchange(s, "plain.example.com", "/")).startsWith("HTTP/1.1 200 ");
        }

        try (SSLSocket open = handshake("shop.example.com")) {
            BigInteger before = leaf(open).getSerialNumber();
            // The Secret is renewed: new handshakes get the new certificate at once.
            write("shop-tls.yaml", secret("shop-tls", "shop.example.com"));
            await().atMost(DEADLINE).until(() -> !certificateFor("shop.example.com").getSerialNumber()
                                                                                   .equals(before));
            // A broken Secret: reported, its host falls back to the default certificate; the other host is untouched.
            write("blog-tls.yaml", """
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: blog-tls, namespace: tls}
                    type: kubernetes.io/tls
                    data: {tls.crt: bm90IGEgY2VydA==, tls.key: bm90IGEga2V5}
                    """);
            await().atMost(DEADLINE).until(() -> configDump().path("problems").toString().contains("blog-tls"));
            assertThat(certificateFor("blog.example.com").getSubjectX500Principal().getName())
                    .contains("ingress.local");
            assertThat(certificateFor("shop.example.com").getSubjectX500Principal().getName())
                    .isEqualTo("CN=shop.example.com");
            // The connection made before the renewal still works, with the certificate it got.
            assertThat(exchange(open, "shop.example.com", "/still")).startsWith("HTTP/1.1 200 ")
                                                                     .endsWith("web /still");
            assertThat(leaf(open).getSerialNumber()).isEqualTo(before);
        }
        JsonNode certificates = configDump().path("http").path("certificates");
        assertThat(certificates.toString()).contains("tls/shop-tls");
    }
}
