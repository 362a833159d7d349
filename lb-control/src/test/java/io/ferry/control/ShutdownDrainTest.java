package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM during load, on a real {@code FerryMain} process: {@code /readyz} turns 503, the listener closes, idle
 * keep-alive connections close, the requests in flight finish with their whole body (a response head written
 * during the drain says {@code Connection: close}) and their connections close after them, and the process exits 0
 * as soon as they are done; a request longer than {@code --shutdown-grace-period} is cut
 * when the grace period ends, and the process still exits 0.
 */
class ShutdownDrainTest {

    /** The slow responses: {@value #CHUNKS} chunks of {@value #CHUNK} bytes, 200 ms apart (2 s). */
    private static final int CHUNKS = 10;
    private static final int CHUNK = 64 * 1024;
    private static final Duration START = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    private final AtomicInteger slowStarted = new AtomicInteger();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private HttpServer backend;
    private Process ferry;
    private int httpPort;
    private int adminPort;

    @AfterEach
    void tearDown() throws Exception {
        if (ferry != null && ferry.isAlive()) {
            ferry.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (backend != null) {
            backend.stop(0);
        }
        threads.shutdownNow();
    }

    @Test
    void sigtermDrainsInFlightRequestsAndExitsZero() throws Exception {
        start(Duration.ofSeconds(20));
        Socket idle = new Socket(InetAddress.getLoopbackAddress(), httpPort);
        idle.setSoTimeout(15_000);
        assertThat(exchange(idle, "/fast").status).isEqualTo(200); // and it stays open: keep-alive
        // Three streaming responses whose heads are out before SIGTERM, one whose head comes 1.5 s later.
        List<CompletableFuture<Response>> slow = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            slow.add(inFlight("/slow/" + i));
        }
        CompletableFuture<Response> late = inFlight("/late");
        await().atMost(Duration.ofSeconds(10)).until(() -> slowStarted.get() == 4);

        long sigterm = System.nanoTime();
        ferry.destroy(); // SIGTERM on Linux

        await().atMost(Duration.ofSeconds(2)).until(() -> readyz() == 503);
        await().atMost(Duration.ofSeconds(2)).until(this::refused);
        // The idle keep-alive connection is closed by the proxy, not left to the grace period.
        assertThat(idle.getInputStream().read()).as("idle keep-alive connection").isEqualTo(-1);
        idle.close();
        for (CompletableFuture<Response> f : slow) {
            Response r = f.get(15, TimeUnit.SECONDS);
            assertThat(r.status).isEqualTo(200);
            assertThat(r.body.length).as("body of an in-flight response").isEqualTo(CHUNKS * CHUNK);
            assertThat(r.closedAfter).as("connection closed after the response").isTrue();
        }
        Response r = late.get(15, TimeUnit.SECONDS);
        assertThat(r.status).isEqualTo(200);
        assertThat(new String(r.body, StandardCharsets.UTF_8)).isEqualTo("late");
        assertThat(r.connection).as("a response head written while draining").isEqualToIgnoringCase("close");
        assertThat(r.closedAfter).as("connection closed after the response").isTrue();
        assertThat(ferry.waitFor(15, TimeUnit.SECONDS)).as("exited").isTrue();
        long took = System.nanoTime() - sigterm;
        assertThat(ferry.exitValue()).as(log()).isZero();
        assertThat(Duration.ofNanos(took)).as("exit after the last response, well within the 20 s grace period")
                                          .isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void aRequestLongerThanTheGracePeriodIsCutAndTheProcessStillExitsZero() throws Exception {
        start(Duration.ofSeconds(1));
        CompletableFuture<Integer> endless = CompletableFuture.supplyAsync(() -> {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), httpPort)) {
                s.setSoTimeout(30_000);
                s.getOutputStream().write(("GET /endless HTTP/1.1\r\nHost: any\r\n\r\n")
                                                  .getBytes(StandardCharsets.ISO_8859_1));
                InputStream in = s.getInputStream();
                byte[] buf = new byte[8192];
                int total = 0;
                for (int n; (n = in.read(buf)) >= 0;) {
                    total += n;
                }
                return total;
            } catch (IOException e) {
                return -1; // a reset is a cut too
            }
        }, threads);
        await().atMost(Duration.ofSeconds(10)).until(() -> slowStarted.get() == 1);
        long sigterm = System.nanoTime();
        ferry.destroy();
        assertThat(ferry.waitFor(15, TimeUnit.SECONDS)).as("exited").isTrue();
        assertThat(ferry.exitValue()).as(log()).isZero();
        assertThat(Duration.ofNanos(System.nanoTime() - sigterm)).as("exit soon after the 1 s grace period")
                                                                 .isBetween(Duration.ofSeconds(1),
                                                                            Duration.ofSeconds(8));
        // The body never ended properly (it would take 60 s): the connection was cut.
        assertThat(endless.get(10, TimeUnit.SECONDS)).isLessThan(600 * CHUNK);
    }

    // ---- fixture -------------------------------------------------------------------------------------------

    private void start(Duration grace) throws Exception {
        backend = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        backend.setExecutor(threads);
        backend.createContext("/fast", x -> {
            byte[] body = "fast".getBytes(StandardCharsets.UTF_8);
            x.sendResponseHeaders(200, body.length);
            try (OutputStream out = x.getResponseBody()) {
                out.write(body);
            }
        });
        backend.createContext("/slow", x -> stream(x, CHUNKS));
        backend.createContext("/endless", x -> stream(x, 600));
        backend.createContext("/late", x -> {
            slowStarted.incrementAndGet();
            try {
                TimeUnit.MILLISECONDS.sleep(1500); // the backend thinks before it answers
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] body = "late".getBytes(StandardCharsets.UTF_8);
            x.sendResponseHeaders(200, body.length);
            try (OutputStream out = x.getResponseBody()) {
                out.write(body);
            }
        });
        backend.start();
        Files.writeString(dir.resolve("app.yaml"), """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: drain}
                spec:
                  ports: [{name: http, port: 18080}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: web-1
                  namespace: drain
                  labels: {kubernetes.io/service-name: web}
                addressType: IPv4
                ports: [{name: http, port: %d}]
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
                metadata: {name: web, namespace: drain}
                spec:
                  ingressClassName: ferry
                  rules:
                  - http:
                      paths:
                      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 18080}}}}
                """.formatted(backend.getAddress().getPort()));
        httpPort = freePort();
        adminPort = freePort();
        List<String> command = List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                "-cp", System.getProperty("java.class.path"), FerryMain.class.getName(),
                "--manifests", dir.toString(), "--http-address", "127.0.0.1", "--http-port", String.valueOf(httpPort),
                "--https-port", "-1", "--admin-port", String.valueOf(adminPort), "--service-cidr", "127.96.0.0/16",
                "--io-threads", "2", "--no-access-log",
                "--shutdown-grace-period", grace.toMillis() + "ms");
        ferry = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("ferry.log").toFile())
                                           .start();
        await().atMost(START).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(ferry.isAlive()).as(this::log).isTrue();
            return readyz() == 200;
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), httpPort)) {
                s.setSoTimeout(5_000);
                return exchange(s, "/fast").status == 200;
            }
        });
    }

    /** A GET on a connection of its own, in the background; afterwards, whether the proxy closed it. */
    private CompletableFuture<Response> inFlight(String path) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), httpPort)) {
                s.setSoTimeout(15_000);
                Response r = exchange(s, path);
                return new Response(r.status, r.connection, r.body, s.getInputStream().read() == -1);
            } catch (IOException e) {
                throw new IllegalStateException(path + ": " + e, e);
            }
        }, threads);
    }

    /** A chunked 200 of {@code chunks} × {@value #CHUNK} bytes, one chunk every 200 ms. */
    private void stream(com.sun.net.httpserver.HttpExchange x, int chunks) throws IOException {
        slowStarted.incrementAndGet();
        x.sendResponseHeaders(200, 0);
        byte[] chunk = new byte[CHUNK];
        try (OutputStream out = x.getResponseBody()) {
            for (int i = 0; i < chunks; i++) {
                out.write(chunk);
                out.flush();
                TimeUnit.MILLISECONDS.sleep(200); // the backend's pace
            }
        } catch (InterruptedException | IOException e) {
            // the proxy went away (the cut test) or the test ended
        }
    }

    private int readyz() {
        try {
            return HttpClient.newHttpClient()
                             .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/readyz"))
                                              .timeout(Duration.ofSeconds(2)).build(),
                                   HttpResponse.BodyHandlers.discarding())
                             .statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private boolean refused() throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), httpPort), 1000);
            return false;
        } catch (ConnectException e) {
            return true;
        }
    }

    private String log() {
        try {
            return "ferry's log:\n" + Files.readString(dir.resolve("ferry.log"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private record Response(int status, String connection, byte[] body, boolean closedAfter) {
    }

    /** One GET on {@code s}: status, {@code Connection} header and the whole body (Content-Length or chunked). */
    private static Response exchange(Socket s, String path) throws IOException {
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: any\r\n\r\n")
                                          .getBytes(StandardCharsets.ISO_8859_1));
        InputStream in = new BufferedInputStream(s.getInputStream());
        String status = line(in);
        int length = -1;
        boolean chunked = false;
        String connection = null;
        for (String h; !(h = line(in)).isEmpty();) {
            String name = h.substring(0, h.indexOf(':')).trim().toLowerCase(Locale.ROOT);
            String value = h.substring(h.indexOf(':') + 1).trim();
            switch (name) {
                case "content-length" -> length = Integer.parseInt(value);
                case "transfer-encoding" -> chunked = value.equalsIgnoreCase("chunked");
                case "connection" -> connection = value;
                default -> { }
            }
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (chunked) {
            for (int n; (n = Integer.parseInt(line(in).trim(), 16)) > 0;) {
                body.write(in.readNBytes(n));
                line(in);
            }
            line(in);
        } else if (length > 0) {
            body.write(in.readNBytes(length));
        }
        return new Response(Integer.parseInt(status.split(" ")[1]), connection, body.toByteArray(), false);
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c; (c = in.read()) != '\n';) {
            if (c < 0) {
                throw new IOException("closed after \"" + b + '"');
            }
            b.append((char) c);
        }
        int n = b.length();
        return n > 0 && b.charAt(n - 1) == '\r' ? b.substring(0, n - 1) : b.toString();
    }
}
