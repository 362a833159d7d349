package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.ferry.l7.http.HttpStats;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The edge proxy's passive health set by flags and annotations, through the whole process: a Service with one
 * endpoint that refuses connections and one that answers, Ingresses with {@code upstream-max-fails}, and a real
 * client. Every request is answered by the live endpoint (a refused connect is retried there); what changes is
 * whether the dead one is still tried, seen in {@code ferry_http_upstream_connect_failures_total} and
 * {@code ferry_http_endpoint_ejections_total}.
 */
class PassiveHealthIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(15);
    private static final String CLASS = """
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata: {name: ferry}
            spec: {controller: ferry.io/ingress-controller}
            ---
            """;

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Ferry ferry;
    private int httpPort;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void start(FerryOptions.Builder options) throws Exception {
        ferry = Ferry.start(options.addManifests(dir)
                                   .adminPort(0)
                                   .httpAddress(InetAddress.getLoopbackAddress())
                                   .httpPort(0)
                                   .httpsPort(-1)
                                   .accessLog(false)
                                   .ioThreads(2)
                                   .minSyncPeriod(Duration.ofMillis(10))
                                   .build());
        closeables.add(ferry);
        httpPort = ferry.httpProxy().boundAddresses().get(0).getPort();
        await().atMost(DEADLINE).until(() -> ferry.controlLoop().status().ready());
    }

    /** An HTTP backend on 127.0.0.1 that answers {@code live}; its port. */
    private int liveBackend() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            byte[] body = "live".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(2);
        server.setExecutor(pool);
        server.start();
        closeables.add(() -> {
            server.stop(0);
            pool.shutdownNow();
        });
        return server.getAddress().getPort();
    }

    /** A port on 127.0.0.1 that was free a moment ago: connects to it are refused. */
    private static int refusingPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Service {@code web} with one EndpointSlice per port, each one endpoint on 127.0.0.1. */
    private static String service(int... ports) {
        StringBuilder sb = new StringBuilder("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: it}
                spec:
                  ports: [{name: http, port: 80, targetPort: 8080}]
                ---
                """);
        for (int i = 0; i < ports.length; i++) {
            sb.append("""
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata:
                      name: web-%1$d
                      namespace: it
                      labels: {kubernetes.io/service-name: web}
                    addressType: IPv4
                    ports: [{name: http, port: %2$d}]
                    endpoints:
                    - addresses: ["127.0.0.1"]
                    ---
                    """.formatted(i, ports[i]));
        }
        return sb.toString();
    }

    /** An Ingress of class ferry sending {@code host} to Service web, with these annotations (name, value...). */
    private static String ingress(String name, String host, String... annotations) {
        List<String> entries = new ArrayList<>();
        for (int i = 0; i < annotations.length; i += 2) {
            entries.add("\"nginx.ingress.kubernetes.io/" + annotations[i] + "\": \"" + annotations[i + 1] + '"');
        }
        return """
               apiVersion: networking.k8s.io/v1
               kind: Ingress
               metadata:
                 name: %s
                 namespace: it
                 annotations: {%s}
               spec:
                 ingressClassName: ferry
                 rules:
                 - host: %s
                   http:
                     paths:
                     - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
               ---
               """.formatted(name, String.join(", ", entries), host);
    }

    private void write(String... docs) throws IOException {
        Path tmp = dir.resolve("all.yaml.tmp");
        Files.writeString(tmp, String.join("", docs));
        Files.move(tmp, dir.resolve("all.yaml"), StandardCopyOption.ATOMIC_MOVE);
    }

    /** A GET for {@code host} on a new connection; it must be answered 200 by the live endpoint. */
    private void get(String host) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), httpPort)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(res).as("GET %s", host).startsWith("HTTP/1.1 200 ").endsWith("\r\n\r\nlive");
        }
    }

    /**
     * Sends GETs for {@code host}, one at a time, until the proxy has counted {@code failures} failed connects in
     * all (the balancer alternates between the two endpoints, so a few requests are enough); at most 40.
     */
    private void getUntilConnectFailures(String host, long failures) throws IOException {
        HttpStats stats = ferry.httpProxy().stats();
        for (int i = 0; i < 40 && stats.upstreamConnectFailures() < failures; i++) {
            get(host);
        }
        assertThat(stats.upstreamConnectFailures()).as("failed connects after GETs for %s", host)
                                                   .isEqualTo(failures);
    }

    @Test
    void withMaxFailsTwoTheFirstFailureDoesNotEjectAndTheSecondDoes() throws Exception {
        write(service(refusingPort(), liveBackend()), CLASS,
              ingress("two", "two.test", "upstream-max-fails", "2", "upstream-fail-timeout", "60"));
        start(FerryOptions.builder());
        HttpStats stats = ferry.httpProxy().stats();
        LongSupplier ejections = stats::endpointEjections;

        getUntilConnectFailures("two.test", 1);
        assertThat(ejections.getAsLong()).as("ejections after one failure").isZero();
        getUntilConnectFailures("two.test", 2);
        assertThat(ejections.getAsLong()).as("ejections after two failures in a row").isEqualTo(1);
        assertThat(stats.retries()).isEqualTo(2);

        // Within the 60 s fail timeout the dead endpoint is skipped: no request tries it again.
        for (int i = 0; i < 10; i++) {
            get("two.test");
        }
        assertThat(stats.upstreamConnectFailures()).isEqualTo(2);
        assertThat(ejections.getAsLong()).isEqualTo(1);
    }

    @Test
    void maxFailsZeroNeverEjectsNorSkipsWhatAnotherRouteEjected() throws Exception {
        write(service(refusingPort(), liveBackend()), CLASS,
              ingress("off", "off.test", "upstream-max-fails", "0"),
              ingress("plain", "plain.test"));
        start(FerryOptions.builder());
        HttpStats stats = ferry.httpProxy().stats();

        getUntilConnectFailures("off.test", 5);
        assertThat(stats.endpointEjections()).as("ejections with max-fails 0").isZero();

        // A route with the default (max_fails=1) ejects the endpoint at its first failure; the max-fails 0 route
        // keeps its own account and goes on trying it.
        getUntilConnectFailures("plain.test", 6);
        assertThat(stats.endpointEjections()).isEqualTo(1);
        getUntilConnectFailures("off.test", 8);
        assertThat(stats.endpointEjections()).isEqualTo(1);
    }

    @Test
    void theFlagsSetTheDefaultThatAnAnnotationOverrides() throws Exception {
        write(service(refusingPort(), liveBackend()), CLASS,
              ingress("plain", "plain.test"),
              ingress("one", "one.test", "upstream-max-fails", "1"));
        start(FerryOptions.builder().upstreamMaxFails(0).upstreamFailTimeout(Duration.ofMinutes(1)));
        HttpStats stats = ferry.httpProxy().stats();

        getUntilConnectFailures("plain.test", 4);
        assertThat(stats.endpointEjections()).as("ejections with --upstream-max-fails 0").isZero();
        getUntilConnectFailures("one.test", 5);
        assertThat(stats.endpointEjections()).as("ejections with the annotation's max-fails 1").isEqualTo(1);
        for (int i = 0; i < 6; i++) {
            get("one.test");
        }
        assertThat(stats.upstreamConnectFailures()).as("skipped for the flag's 1 minute").isEqualTo(5);
    }

    @Test
    void flagsParseAsTheOtherUpstreamFlagsAndRefuseNegativeValues() throws Exception {
        FerryMain defaults = new FerryMain();
        new CommandLine(defaults).parseArgs("--demo");
        FerryOptions options = defaults.options();
        assertThat(options.upstreamMaxFails).isEqualTo(1);
        assertThat(options.upstreamFailTimeout).isEqualTo(Duration.ofSeconds(10));

        FerryMain set = new FerryMain();
        new CommandLine(set).parseArgs("--demo", "--upstream-max-fails", "0", "--upstream-fail-timeout", "1m30s");
        options = set.options();
        assertThat(options.upstreamMaxFails).isZero();
        assertThat(options.upstreamFailTimeout).isEqualTo(Duration.ofSeconds(90));

        FerryMain negative = new FerryMain();
        new CommandLine(negative).parseArgs("--demo", "--upstream-max-fails", "-1");
        assertThatThrownBy(negative::options).isInstanceOf(IllegalArgumentException.class)
                                             .hasMessage("upstream-max-fails: -1 (expected: >= 0)");
        assertThatThrownBy(() -> new CommandLine(new FerryMain()).parseArgs("--demo", "--upstream-fail-timeout",
                                                                            "-5s"))
                .isInstanceOf(CommandLine.ParameterException.class);
    }
}
