package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The edge proxy through the whole process: Ingress, IngressClass, Service and EndpointSlice manifests that Ferry
 * watches, real HTTP backends, a real client, and edits while traffic flows. The Ingress conformance behaviours:
 * host rules, path rules, the default backend, class filtering, load spread over every endpoint.
 */
class IngressIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final Set<String> servedBy = ConcurrentHashMap.newKeySet();
    private Ferry ferry;
    private int httpPort;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void start(boolean watchWithoutClass) throws Exception {
        ferry = Ferry.start(FerryOptions.builder()
                                        .addManifests(dir)
                                        .adminPort(0)
                                        .httpAddress(InetAddress.getLoopbackAddress())
                                        .httpPort(0)
                                        .httpsPort(0)
                                        .accessLog(false)
                                        .watchIngressWithoutClass(watchWithoutClass)
                                        .ioThreads(2)
                                        .minSyncPeriod(Duration.ofMillis(10))
                                        .build());
        closeables.add(ferry);
        httpPort = ferry.httpProxy().boundAddresses().get(0).getPort();
        await().atMost(DEADLINE).until(() -> ferry.controlLoop().status().ready());
    }

    /** An HTTP backend that answers {@code name path} and says who it is in {@code X-Backend}. */
    private int backend(String name) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        server.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                in.readAllBytes();
            }
            servedBy.add(name);
            byte[] body = (name + ' ' + exchange.getRequestURI()).getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("X-Backend", name);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(4);
        server.setExecutor(pool);
        server.start();
        closeables.add(() -> {
            server.stop(0);
            pool.shutdownNow();
        });
        return server.getAddress().getPort();
    }

    /** A Service named {@code name} whose endpoints are the given backend ports on 127.0.0.1, one slice each. */
    private static String service(String name, int... ports) {
        StringBuilder sb = new StringBuilder("""
                apiVersion: v1
                kind: Service
                metadata: {name: %1$s, namespace: it}
                spec:
                  ports: [{name: http, port: 80, targetPort: 8080}]
                ---
                """.formatted(name));
        for (int i = 0; i < ports.length; i++) {
            sb.append("""
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata:
                      name: %1$s-%2$d
                      namespace: it
                      labels: {kubernetes.io/service-name: %1$s}
                    addressType: IPv4
                    ports: [{name: http, port: %3$d}]
                    endpoints:
                    - addresses: ["127.0.0.1"]
                      targetRef: {kind: Pod, name: %1$s-pod-%2$d}
                    ---
                    """.formatted(name, i, ports[i]));
        }
        return sb.toString();
    }

    private static final String CLASSES = """
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata: {name: ferry}
            spec: {controller: ferry.io/ingress-controller}
            ---
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata: {name: other}
            spec: {controller: example.com/other-controller}
            ---
            """;

    private static String ingress(String name, String className, String rules) {
        return """
               apiVersion: networking.k8s.io/v1
               kind: Ingress
               metadata: {name: %s, namespace: it}
               spec:
               %s%s
               ---
               """.formatted(name, className == null ? "" : "  ingressClassName: " + className + "\n",
                             rules.stripTrailing().indent(2).stripTrailing());
    }

    private static String rule(String host, String pathType, String path, String service) {
        return """
               - %shttp:
                   paths:
                   - path: %s
                     pathType: %s
                     backend: {service: {name: %s, port: {name: http}}}
               """.formatted(host == null ? "" : "host: \"" + host + "\"\n  ", path, pathType, service);
    }

    private static String rules(String... rules) {
        return "rules:\n" + String.join("", rules);
    }

    private void write(String file, String... docs) throws IOException {
        Path tmp = dir.resolve(file + ".tmp");
        Files.writeString(tmp, String.join("", docs));
        Files.move(tmp, dir.resolve(file), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** A GET with the given Host over a new connection: the status line's code and the body. */
    private String[] get(String host, String path) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), httpPort)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int sp = res.indexOf(' ');
            String code = sp < 0 ? "-" : res.substring(sp + 1, Math.min(res.length(), sp + 4));
            int body = res.indexOf("\r\n\r\n");
            return new String[] {code, body < 0 ? "" : res.substring(body + 4)};
        }
    }

    private String body(String host, String path) throws IOException {
        String[] r = get(host, path);
        assertThat(r[0]).as("status of %s%s", host, path).isEqualTo("200");
        return r[1];
    }

    private JsonNode configDump() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminAddress().getPort()
                                                  + "/config_dump")).build(),
                HttpResponse.BodyHandlers.ofString());
        return new ObjectMapper().readTree(r.body());
    }

    @Test
    void hostAndPathRulesDefaultBackendAndClassesAsTheSpecSays() throws Exception {
        int web = backend("web");
        int api = backend("api");
        int exact = backend("exact");
        int wild = backend("wild");
        int fallback = backend("fallback");
        int stranger = backend("stranger");
        write("services.yaml", service("web", web), service("api", api), service("exact", exact),
              service("wild", wild), service("fallback", fallback), service("stranger", stranger));
        write("ingress.yaml", CLASSES,
              ingress("site", "ferry", rules(rule("foo.example.com", "Prefix", "/", "web"),
                                             rule("foo.example.com", "Prefix", "/api", "api"),
                                             rule("foo.example.com", "Exact", "/api/exact", "exact"),
                                             rule("*.example.com", "Prefix", "/", "wild"))),
              ingress("catch-all", "ferry", "defaultBackend: {service: {name: fallback, port: {number: 80}}}"),
              ingress("theirs", "other", rules(rule("theirs.test", "Prefix", "/", "stranger"))),
              ingress("classless", null, rules(rule("classless.test", "Prefix", "/", "stranger"))));
        start(false);

        assertThat(body("foo.example.com", "/")).isEqualTo("web /");
        assertThat(body("FOO.example.com:8080", "/index.html")).isEqualTo("web /index.html");
        assertThat(body("foo.example.com", "/api")).isEqualTo("api /api");
        assertThat(body("foo.example.com", "/api/v1?q=1")).isEqualTo("api /api/v1?q=1");
        assertThat(body("foo.example.com", "/apis")).isEqualTo("web /apis");        // no partial element
        assertThat(body("foo.example.com", "/api/exact")).isEqualTo("exact /api/exact");
        assertThat(body("foo.example.com", "/api/exact/")).isEqualTo("api /api/exact/");
        assertThat(body("bar.example.com", "/x")).isEqualTo("wild /x");              // one extra label
        assertThat(body("baz.bar.example.com", "/x")).isEqualTo("fallback /x");      // not two
        assertThat(body("unknown.test", "/x")).isEqualTo("fallback /x");             // the default backend
        // Other classes, and no class without --watch-ingress-without-class, are ignored completely.
        assertThat(body("theirs.test", "/")).isEqualTo("fallback /");
        assertThat(body("classless.test", "/")).isEqualTo("fallback /");
        assertThat(servedBy).doesNotContain("stranger");
        JsonNode dump = configDump();
        assertThat(dump.path("problems").toString()).doesNotContain("theirs").doesNotContain("classless");
    }

    @Test
    void ingressWithoutClassIsServedWhenAskedTo() throws Exception {
        int web = backend("web");
        write("all.yaml", service("web", web), CLASSES,
              ingress("classless", null, rules(rule("classless.test", "Prefix", "/", "web"))));
        start(true);
        assertThat(body("classless.test", "/")).isEqualTo("web /");
        assertThat(get("other.example.com", "/")[0]).isEqualTo("404");
    }

    @Test
    void loadIsSpreadOverEveryReadyEndpointAndMissingOnesGet503() throws Exception {
        int a = backend("pod-a");
        int b = backend("pod-b");
        int c = backend("pod-c");
        write("all.yaml", service("web", a, b, c), CLASSES,
              """
              apiVersion: v1
              kind: Service
              metadata: {name: empty, namespace: it}
              spec:
                ports: [{name: http, port: 80}]
              ---
              """,
              ingress("site", "ferry", rules(rule("spread.test", "Prefix", "/", "web"),
                                             rule("empty.test", "Prefix", "/", "empty"),
                                             rule("missing.test", "Prefix", "/", "nosuchservice"))));
        start(false);
        long bodyBytes = 0;
        for (int i = 0; i < 30; i++) {
            bodyBytes += body("spread.test", "/").getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }
        assertThat(servedBy).containsExactlyInAnyOrder("pod-a", "pod-b", "pod-c");
        assertThat(get("empty.test", "/")[0]).isEqualTo("503");
        assertThat(get("missing.test", "/")[0]).isEqualTo("503");
        assertThat(configDump().path("problems").toString()).contains("nosuchservice");
        // /metrics counts per route.
        String metrics = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminAddress().getPort()
                                                  + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        String spread = "route=\"it/site:spread.test/\"";
        assertThat(metrics).contains("ferry_http_route_requests_total{" + spread + "} 30.0")
                           .contains("ferry_http_route_responses_total{code_class=\"2xx\"," + spread + "} 30.0")
                           .contains("ferry_http_route_responses_total{code_class=\"5xx\","
                                     + "route=\"it/site:empty.test/\"} 1.0")
                           .contains("ferry_http_route_bytes_total{direction=\"tx\"," + spread + "} "
                                     + (double) bodyBytes)
                           .contains("ferry_http_route_bytes_total{direction=\"rx\"," + spread + "} 0.0")
                           .contains("ferry_http_route_upstream_header_duration_seconds_count{" + spread + "} 30")
                           .contains("ferry_http_route_upstream_header_duration_seconds_bucket{" + spread
                                     + ",le=\"+Inf\"} 30")
                           .contains("ferry_http_route_upstream_header_duration_seconds_count{"
                                     + "route=\"it/site:empty.test/\"} 0")
                           .contains("ferry_http_route_no_endpoint_total{route=\"it/site:empty.test/\"} 1.0")
                           .contains("ferry_http_route_no_endpoint_total{" + spread + "} 0.0")
                           .contains("ferry_http_route_retries_total{" + spread + "} 0.0");
    }

    @Test
    void editsWhileRequestsFlowFailNoRequest() throws Exception {
        int blue = backend("blue");
        int green = backend("green");
        write("services.yaml", service("blue", blue), service("green", green));
        write("ingress.yaml", CLASSES, ingress("site", "ferry", rules(rule("app.test", "Prefix", "/", "blue"))));
        start(false);
        assertThat(body("app.test", "/")).isEqualTo("blue /");

        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger ok = new AtomicInteger();
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService clients = Executors.newFixedThreadPool(2);
        List<Future<?>> running = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            running.add(clients.submit(() -> {
                while (!stop.get()) {
                    try {
                        String[] r = get("app.test", "/");
                        if (r[0].equals("200")) {
                            ok.incrementAndGet();
                        } else {
                            failures.add(r[0] + ' ' + r[1]);
                        }
                    } catch (IOException e) {
                        failures.add(e.toString());
                    }
                }
            }));
        }
        try {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 6; i++) {
                String target = i % 2 == 0 ? "green" : "blue";
                write("ingress.yaml", CLASSES,
                      ingress("site", "ferry", rules(rule("app.test", "Prefix", "/", target))));
                await().atMost(DEADLINE).until(() -> body("app.test", "/").startsWith(target));
                seen.add(target);
            }
            assertThat(seen).containsExactlyInAnyOrder("blue", "green");
        } finally {
            stop.set(true);
            for (Future<?> f : running) {
                f.get();
            }
            clients.shutdown();
        }
        assertThat(failures).isEmpty();
        assertThat(ok.get()).isGreaterThan(20);
    }

    @Test
    void badAnnotationsAreReportedAndTheLastGoodTableStaysLive() throws Exception {
        int web = backend("web");
        write("services.yaml", service("web", web));
        write("ingress.yaml", CLASSES, ingress("site", "ferry", rules(rule("app.test", "Prefix", "/", "web"))));
        start(false);
        assertThat(body("app.test", "/")).isEqualTo("web /");

        // A snippet annotation refuses the whole Ingress (never half-applied); an unknown one is only reported.
        write("more.yaml", """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: sneaky
                  namespace: it
                  annotations:
                    nginx.ingress.kubernetes.io/configuration-snippet: "return 200 'owned';"
                spec:
                  ingressClassName: ferry
                  rules:
                  - host: sneaky.test
                    http:
                      paths:
                      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
                ---
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: odd
                  namespace: it
                  annotations:
                    nginx.ingress.kubernetes.io/some-future-thing: "on"
                spec:
                  ingressClassName: ferry
                  rules:
                  - host: odd.test
                    http:
                      paths:
                      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
                """);
        await().atMost(DEADLINE).until(() -> configDump().path("problems").toString().contains("some-future-thing"));
        assertThat(configDump().path("problems").toString()).contains("configuration-snippet");
        assertThat(get("sneaky.test", "/")[0]).isEqualTo("404");
        assertThat(body("odd.test", "/")).isEqualTo("web /");
        assertThat(body("app.test", "/")).isEqualTo("web /");

        // Broken YAML keeps the file's last good objects.
        write("ingress.yaml", "oops: [\n");
        await().atMost(DEADLINE).until(() -> configDump().path("problems").toString().contains("ingress.yaml"));
        assertThat(body("app.test", "/")).isEqualTo("web /");
    }
}
