package io.ferry.bench;

import io.ferry.control.churn.ChurnRun;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
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
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The churn run and soak (issue 8) against Ferry as a child process: the same engine as
 * {@code ChurnUnderLoadTest} ({@link ChurnRun}), for as long as asked, with Ferry's heap after a full GC
 * ({@code jcmd GC.class_histogram}: a full GC and the bytes that survived), its RSS ({@code /proc/PID/status})
 * and its snapshot generation ({@code /metrics}) sampled along the way; at the end Ferry gets SIGTERM and must
 * exit 0. {@code docs/soak.md} has the runs.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.ferry.bench.ChurnMain --duration 60s
 * java -cp benchmarks/target/benchmarks.jar io.ferry.bench.ChurnMain --duration 45m --sample-every 5m \
 *     --requests-per-second 100 --churn-interval 50ms
 * </pre>
 * Exits 0 when no request failed, no WebSocket dropped, the heap after full GC at the end is within
 * {@code --heap-tolerance} of the first sample, and Ferry exited 0; otherwise 1. Loopback only.
 */
@Command(name = "churn", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Keep-alive HTTP(S) and WebSockets through a child Ferry while its manifests churn.")
public final class ChurnMain implements Callable<Integer> {

    private static final Pattern HISTOGRAM_TOTAL = Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)");
    private static final Pattern RSS = Pattern.compile("VmRSS:\\s+(\\d+) kB");
    private static final Pattern GENERATION = Pattern.compile("(?m)^ferry_snapshot_generation (\\S+)");

    @Option(names = "--duration", defaultValue = "60s", converter = Durations.class,
            description = "How long the load and the churn run (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--warm-up", defaultValue = "10s", converter = Durations.class,
            description = "When the first (reference) sample is taken (default: ${DEFAULT-VALUE}).")
    Duration warmUp;

    @Option(names = "--sample-every", defaultValue = "30s", converter = Durations.class,
            description = "Sampling period of heap, RSS and generation (default: ${DEFAULT-VALUE}).")
    Duration sampleEvery;

    @Option(names = "--churn-interval", defaultValue = "20ms", converter = Durations.class,
            description = "Time between two manifest edits (default: ${DEFAULT-VALUE}).")
    Duration churnInterval;

    @Option(names = "--http-clients", defaultValue = "4",
            description = "Keep-alive clients, half HTTP, half HTTPS (default: ${DEFAULT-VALUE}).")
    int httpClients;

    @Option(names = "--requests-per-second", defaultValue = "200",
            description = "Per client; 0 for closed loop (default: ${DEFAULT-VALUE}).")
    double requestsPerSecond;

    @Option(names = "--handshakes-per-second", defaultValue = "10",
            description = "New TLS connections a second, one request each (default: ${DEFAULT-VALUE}).")
    double handshakesPerSecond;

    @Option(names = "--websockets", defaultValue = "8",
            description = "WebSockets open for the whole run, half over TLS (default: ${DEFAULT-VALUE}).")
    int webSockets;

    @Option(names = "--websocket-interval", defaultValue = "20ms", converter = Durations.class,
            description = "Time between two messages on one WebSocket (default: ${DEFAULT-VALUE}).")
    Duration webSocketInterval;

    @Option(names = "--backends", defaultValue = "4",
            description = "Live backends the endpoints churn between (default: ${DEFAULT-VALUE}).")
    int backends;

    @Option(names = "--ferry-jvm", defaultValue = "-Xmx256m",
            description = "JVM options of the Ferry process, space-separated (default: ${DEFAULT-VALUE}).")
    String ferryJvm;

    @Option(names = "--heap-tolerance-mib", defaultValue = "16",
            description = "How much the heap after full GC may grow over the run (default: ${DEFAULT-VALUE}).")
    long heapToleranceMib;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ChurnMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        ChurnRun.Options options = new ChurnRun.Options().duration(duration).warmUp(warmUp).sampleEvery(sampleEvery)
                                                         .churnInterval(churnInterval).backends(backends)
                                                         .httpClients(httpClients)
                                                         .requestsPerSecond(requestsPerSecond)
                                                         .handshakesPerSecond(handshakesPerSecond)
                                                         .webSockets(webSockets)
                                                         .webSocketIntervalMillis(webSocketInterval.toMillis());
        System.out.println("churn options: " + options + " ferry-jvm=" + ferryJvm);
        Path dir = Files.createTempDirectory("ferry-churn");
        int http = freePort();
        int https = freePort();
        int admin = freePort();
        try (ChurnRun churn = ChurnRun.prepare(dir, options)) {
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(List.of(ferryJvm.trim().split("\\s+")));
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.ferry.control.FerryMain",
                                   "--manifests", dir.toString(), "--http-address", "127.0.0.1",
                                   "--http-port", String.valueOf(http), "--https-port", String.valueOf(https),
                                   "--admin-port", String.valueOf(admin), "--service-cidr", "127.96.0.0/16",
                                   "--no-access-log", "--shutdown-grace-period", "10s"));
            Path log = dir.resolve("ferry.log");
            Process ferry = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                                                       .start();
            System.out.println("ferry pid " + ferry.pid() + ", log " + log);
            try {
                OutOfProcessProbe probe = new OutOfProcessProbe(ferry.pid(), admin);
                awaitReady(admin, ferry);
                InetAddress lo = InetAddress.getByName("127.0.0.1");
                ChurnRun.Result r = churn.run(new InetSocketAddress(lo, http), new InetSocketAddress(lo, https),
                                              probe, System.out);
                ferry.destroy(); // SIGTERM
                boolean exited = ferry.waitFor(30, TimeUnit.SECONDS);
                int status = exited ? ferry.exitValue() : -1;
                long growth = r.last().heapBytes() - r.warm().heapBytes();
                System.out.printf(Locale.ROOT, "ferry exit status after SIGTERM: %s; heap growth %.1f MiB "
                                               + "(tolerance %d MiB)%n",
                                  exited ? String.valueOf(status) : "did not exit in 30 s", growth / 1048576.0,
                                  heapToleranceMib);
                boolean ok = r.failedRequests() == 0 && r.droppedWebSockets() == 0 && status == 0
                             && growth < heapToleranceMib << 20;
                System.out.println(ok ? "PASS" : "FAIL");
                return ok ? 0 : 1;
            } finally {
                ferry.destroyForcibly();
            }
        }
    }

    private static void awaitReady(int admin, Process ferry) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && ferry.isAlive()) {
            try {
                if (get(admin, "/readyz").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            TimeUnit.MILLISECONDS.sleep(100); // poll with a deadline
        }
        throw new IllegalStateException("Ferry not ready in 60 s (alive: " + ferry.isAlive() + ')');
    }

    private static final HttpClient ADMIN = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static HttpResponse<String> get(int admin, String path) throws IOException, InterruptedException {
        return ADMIN.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + path))
                                     .timeout(Duration.ofSeconds(10)).build(),
                          HttpResponse.BodyHandlers.ofString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    /** Ferry's heap and RSS through {@code jcmd} and {@code /proc}, its generation through {@code /metrics}. */
    private record OutOfProcessProbe(long pid, int admin) implements ChurnRun.Probe {

        /**
         * The live heap: {@code GC.class_histogram} runs a full GC and sums what survived, in one step (a
         * {@code GC.run} then {@code GC.heap_info} would count what the load allocated in between).
         */
        @Override
        public long heapAfterFullGc() throws Exception {
            Matcher m = HISTOGRAM_TOTAL.matcher(jcmd("GC.class_histogram"));
            if (!m.find()) {
                throw new IllegalStateException("no total in jcmd GC.class_histogram");
            }
            return Long.parseLong(m.group(1));
        }

        @Override
        public long rssBytes() throws IOException {
            Matcher m = RSS.matcher(Files.readString(Path.of("/proc", String.valueOf(pid), "status")));
            return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
        }

        @Override
        public long generation() throws Exception {
            Matcher m = GENERATION.matcher(get(admin, "/metrics").body());
            return m.find() ? (long) Double.parseDouble(m.group(1)) : -1;
        }

        private String jcmd(String command) throws Exception {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                                           String.valueOf(pid), command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("jcmd " + pid + ' ' + command + ": " + out);
            }
            return out;
        }
    }

    /** {@code 500ms}, {@code 30s}, {@code 45m}, {@code 2h}. */
    static final class Durations implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String s) {
            Matcher m = Pattern.compile("(\\d+)(ms|s|m|h)").matcher(s.trim());
            if (!m.matches()) {
                throw new CommandLine.TypeConversionException(s + " (expected: a number and ms, s, m or h)");
            }
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                default -> Duration.ofHours(n);
            };
        }
    }
}
