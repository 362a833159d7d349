package io.ferry.control.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.control.Ferry;
import io.ferry.control.FerryOptions;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code /metrics} of a whole process, scraped as Prometheus would after real TCP and HTTP traffic: the values,
 * the content type, and the syntax of every line.
 */
class MetricsTest {

    private static final Duration DEADLINE = Duration.ofSeconds(15);
    private static final String CLUSTER_IP = "127.88.5.1";
    private static final int PORT = 7301;

    private static final String NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    private static final String LABEL = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:\\\\[\\\\\"n]|[^\"\\\\\\n])*\"";
    private static final String VALUE = "(?:[-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|[-+]Inf)";
    private static final Pattern SAMPLE = Pattern.compile(
            "(" + NAME + ")(\\{(?:" + LABEL + "(?:," + LABEL + ")*,?)?\\})? (" + VALUE + ")(?: -?[0-9]+)?");
    private static final Pattern HELP = Pattern.compile("# HELP (" + NAME + ") .*");
    private static final Pattern TYPE = Pattern.compile("# TYPE (" + NAME + ") (counter|gauge|histogram|summary|untyped)");

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private Ferry ferry;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void start(Transport.Kind kind, int httpPort) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        ferry = Ferry.start(FerryOptions.builder()
                                        .addManifests(dir)
                                        .adminPort(0)
                                        .transport(kind)
                                        .ioThreads(2)
                                        .minSyncPeriod(Duration.ofMillis(10))
                                        .httpPort(httpPort)
                                        .httpsPort(-1)
                                        .build());
        closeables.add(ferry);
        await().atMost(DEADLINE).until(() -> admin("/readyz", null).statusCode() == 200);
    }

    private void writeService(TestBackend endpoint) throws IOException {
        Files.writeString(dir.resolve("svc.yaml"), """
                apiVersion: v1
                kind: Service
                metadata: {name: echo, namespace: metrics}
                spec:
                  clusterIP: %s
                  ports: [{port: %d, targetPort: 8080}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: echo-x1
                  namespace: metrics
                  labels: {kubernetes.io/service-name: echo}
                addressType: IPv4
                ports: [{port: %d}]
                endpoints:
                - addresses: ["127.0.0.1"]
                """.formatted(CLUSTER_IP, PORT, endpoint.address().getPort()));
    }

    private HttpResponse<String> admin(String path, String accept) throws Exception {
        InetSocketAddress a = ferry.adminAddress();
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + path));
        if (accept != null) {
            req.header("Accept", accept);
        }
        return http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    }

    private Map<String, Double> scrape() throws Exception {
        return parse(admin("/metrics", null).body());
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void tcpCountersAndTheSyncHistogramAfterTraffic(Transport.Kind kind) throws Exception {
        TestBackend backend = TestBackend.start(TestBackend.greetThenEcho("m"));
        closeables.add(backend);
        writeService(backend);
        start(kind, -1);

        int n = 3;
        for (int i = 0; i < n; i++) {
            try (Socket s = new Socket(CLUSTER_IP, PORT)) {
                s.setSoTimeout(10_000);
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(),
                                                                             StandardCharsets.UTF_8));
                assertThat(in.readLine()).isEqualTo("m");
                OutputStream out = s.getOutputStream();
                out.write("ping\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
                assertThat(in.readLine()).isEqualTo("ping");
            }
        }
        // The proxy sees each close a moment after the client does.
        await().atMost(DEADLINE).until(() -> scrape().get("ferry_l4_connections_active") == 0.0);

        HttpResponse<String> res = admin("/metrics", null);
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.headers().firstValue("Content-Type"))
                .hasValue("text/plain; version=0.0.4; charset=utf-8");
        Map<String, Double> m = parse(res.body());
        assertThat(m.get("ferry_l4_connections_total")).isEqualTo(n);
        assertThat(m.get("ferry_l4_bytes_total{direction=\"rx\"}")).isEqualTo(n * "ping\n".length());
        assertThat(m.get("ferry_l4_bytes_total{direction=\"tx\"}")).isGreaterThan(0);
        assertThat(m.get("ferry_l4_no_endpoint_rejects_total")).isEqualTo(0);
        assertThat(m.get("ferry_l4_upstream_connect_failures_total")).isEqualTo(0);
        // The same, per Service port.
        String svc = "{service=\"metrics/echo:" + PORT + "/TCP\"}";
        assertThat(m.get("ferry_l4_service_connections_total" + svc)).isEqualTo(n);
        assertThat(m.get("ferry_l4_service_connections_active" + svc)).isEqualTo(0);
        assertThat(m.get("ferry_l4_service_rx_bytes_total" + svc)).isEqualTo(n * "ping\n".length());
        assertThat(m.get("ferry_l4_service_tx_bytes_total" + svc)).isGreaterThan(0);
        assertThat(m.get("ferry_l4_service_upstream_connect_duration_seconds_count" + svc)).isEqualTo(n);
        assertThat(m.get("ferry_l4_service_upstream_connect_duration_seconds_bucket{service=\"metrics/echo:" + PORT
                         + "/TCP\",le=\"+Inf\"}")).isEqualTo(n);
        assertThat(m.get("ferry_l4_service_upstream_connect_duration_seconds_sum" + svc)).isGreaterThan(0);

        double syncs = m.get("ferry_sync_proxy_rules_duration_seconds_count");
        assertThat(syncs).isGreaterThanOrEqualTo(1);
        assertThat(m.get("ferry_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"}")).isEqualTo(syncs);
        assertThat(m.get("ferry_sync_proxy_rules_duration_seconds_sum")).isGreaterThan(0);
        assertThat(m.get("ferry_sync_proxy_rules_last_timestamp_seconds"))
                .isBetween(System.currentTimeMillis() / 1e3 - 600, System.currentTimeMillis() / 1e3 + 1);
        assertThat(m.get("ferry_snapshot_generation")).isGreaterThanOrEqualTo(1);
        assertThat(m.get("ferry_config_problems")).isEqualTo(0);
        assertThat(m.get("ferry_ready")).isEqualTo(1);
        // No edge proxy, so no HTTP metrics.
        assertThat(m.keySet()).noneMatch(k -> k.startsWith("ferry_http"));
    }

    @Test
    void httpCountersAfterARequestNoRouteMatches() throws Exception {
        start(Transport.Kind.NIO, 0);
        InetSocketAddress edge = ferry.httpProxy().boundAddresses().get(0);
        HttpResponse<String> res = http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + edge.getPort() + "/nowhere")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).isEqualTo(404);

        await().atMost(DEADLINE).until(() -> scrape().get("ferry_http_responses_total{code_class=\"4xx\"}") == 1.0);
        Map<String, Double> m = scrape();
        assertThat(m.get("ferry_http_requests_total")).isEqualTo(1);
        assertThat(m.get("ferry_http_no_route_total")).isEqualTo(1);
        assertThat(m.get("ferry_http_responses_total{code_class=\"2xx\"}")).isEqualTo(0);
        assertThat(m.get("ferry_http_connections_total")).isEqualTo(1);
        assertThat(m.get("ferry_http_bytes_total{direction=\"rx\"}")).isEqualTo(0); // body bytes; it had none
        assertThat(m).containsKeys("ferry_http_upstream_connect_failures_total", "ferry_http_retries_total",
                                   "ferry_http_upstream_timeouts_total", "ferry_http_connections_active",
                                   "ferry_http2_streams_total", "ferry_l4_connections_total");
    }

    @Test
    void openMetricsWhenAskedAndNotFoundListsMetrics() throws Exception {
        start(Transport.Kind.NIO, -1);
        HttpResponse<String> res = admin("/metrics", "application/openmetrics-text; version=1.0.0; charset=utf-8");
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.headers().firstValue("Content-Type").orElseThrow())
                .startsWith("application/openmetrics-text");
        assertThat(res.body()).endsWith("# EOF\n").contains("ferry_l4_connections_total 0");

        // What Prometheus 2 and 3 send by default still gets a format they read.
        HttpResponse<String> prom = admin("/metrics", "application/openmetrics-text;version=1.0.0;q=0.5,"
                                                      + "text/plain;version=0.0.4;q=0.2,*/*;q=0.1");
        assertThat(prom.statusCode()).isEqualTo(200);
        assertThat(admin("/nope", null).body()).contains("/metrics");
    }

    /**
     * Parses the Prometheus text format 0.0.4 strictly: every line is a {@code # HELP}, a {@code # TYPE} or a
     * sample of a family whose TYPE came first; returns {@code name{labels}} to value.
     */
    static Map<String, Double> parse(String body) {
        assertThat(body).endsWith("\n");
        Map<String, Double> samples = new LinkedHashMap<>();
        Set<String> typed = new HashSet<>();
        Set<String> helped = new HashSet<>();
        for (String line : body.split("\n")) {
            Matcher help = HELP.matcher(line);
            Matcher type = TYPE.matcher(line);
            Matcher sample = SAMPLE.matcher(line);
            if (help.matches()) {
                assertThat(helped.add(help.group(1))).as("one HELP for %s", help.group(1)).isTrue();
            } else if (type.matches()) {
                assertThat(typed.add(type.group(1))).as("one TYPE for %s", type.group(1)).isTrue();
            } else if (sample.matches()) {
                String name = sample.group(1);
                String family = name.replaceFirst("_(bucket|count|sum)$", "");
                assertThat(typed.contains(name) || typed.contains(family)).as("TYPE before %s", line).isTrue();
                assertThat(name).startsWith("ferry_");
                String key = name + (sample.group(2) == null ? "" : sample.group(2));
                assertThat(samples.put(key, Double.parseDouble(sample.group(3).replace("Inf", "Infinity"))))
                        .as("one sample for %s", key).isNull();
            } else {
                throw new AssertionError("not exposition syntax: " + line);
            }
        }
        return samples;
    }
}
