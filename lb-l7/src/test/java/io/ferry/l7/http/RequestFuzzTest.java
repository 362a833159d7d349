package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l7.route.RoutePolicy;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Random and mutated requests against a live listener with a {@link StrictBackend} behind it (issue 8). Each case
 * takes a valid request from a small corpus, mutates it (bytes flipped, CR, LF, NUL, spaces or colons inserted,
 * ranges cut, header lines doubled or dropped, framing headers added, sizes replaced by huge, negative, hex or list
 * values, the message cut short), appends a well-formed {@code Connection: close} request, and writes it on a new
 * connection in up to four parts. Then, for every case:
 * <ul>
 *   <li>the connection gets well-formed responses with a 2xx, 4xx or 5xx status and then closes — never a hang past
 *       the deadline, never bytes that are not a response;</li>
 *   <li>smuggling check: the backend read as many whole requests from the case as the client got answers from the
 *       backend. A request the proxy answered itself (400 and the like), or one hidden inside another, never shows up
 *       there. Cases run in parallel; each worker connects from its own loopback address, which the proxy passes on
 *       in {@code X-Real-IP}, so the backend's count can be told apart per worker;</li>
 *   <li>the backend never receives anything a strict HTTP/1.1 parser refuses;</li>
 *   <li>every so many cases, a valid request on a new connection is answered as usual;</li>
 *   <li>no buffer leaks: the class runs under Netty's paranoid leak detector ({@code LeakDetectionExtension}).</li>
 * </ul>
 * Seeded (the seed of a failing case is in the message), bounded in cases and in time: the client timeouts of the
 * proxy are short so that an incomplete request ends quickly.
 */
class RequestFuzzTest {

    private static final long SEED = Long.getLong("ferry.fuzz.seed", 0x5eed_f322L);
    private static final int CASES = Integer.getInteger("ferry.fuzz.cases", 1000);
    private static final Duration TIME_CAP = Duration.ofSeconds(Long.getLong("ferry.fuzz.seconds", 12));
    private static final int WORKERS = 8;
    private static final int HEALTH_EVERY = 25;
    private static final int READ_DEADLINE_MILLIS = 5_000;

    private static final String SENTINEL = "GET /sentinel HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    private static final String[] CORPUS = {
        "GET /c1?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n",
        "POST /c2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
        "POST /c3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5;ext=1\r\nhello\r\n0\r\n"
        + "X-Trailer: t\r\n\r\n",
        "GET /c4 HTTP/1.1\r\nHost: a\r\n\r\nGET /c5 HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a/c6?q=1 HTTP/1.1\r\nHost: b\r\n\r\n",
        "GET /c7 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "PUT /c8 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        "DELETE /c9/%2e%2e/x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nCookie: a=b; c=d\r\n\r\n",
        "POST /c10 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcPOST /c11 HTTP/1.1\r\nHost: a\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    };
    private static final String[] INSERTS = {"\r", "\n", "\0", " ", "\t", ":", "\r\n", "\r\n ", ",", "\u000b",
                                             "\u007f", "\u00ff", "%", "/../"};
    private static final String[] FRAMING = {"Transfer-Encoding: chunked", "Content-Length: 3",
                                             "Transfer-Encoding: gzip, chunked", "Transfer-Encoding : chunked",
                                             "Transfer-Encoding:\tchunked", "Transfer-Encoding: chunked\r\n x",
                                             "Content-Length: 0", "Content-Length: 1, 2", "Transfer-Encoding: identity",
                                             "Host: b", "Expect: 100-continue", "Connection: close",
                                             "Upgrade: websocket\r\nConnection: upgrade"};
    private static final String[] LENGTHS = {"-1", "99999999999999999999", "0x10", "5, 5", "+3", "", "1 0",
                                             "3\r\nContent-Length: 4", "0", "4294967299", "1e2"};
    private static final String[] CHUNK_SIZES = {"-1", "0x3", "ffffffffff", " 3", "3 ", "3;ext\n", "100000003", "",
                                                 "0", "00000000000000000003", "3;" + "e".repeat(9000)};

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void mutatedRequestsGetAnAnswerOrACloseAndNeverReachTheBackendUnanswered(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false)
                                                       .clientHeaderTimeout(Duration.ofMillis(300))
                                                       .clientIdleTimeout(Duration.ofMillis(300))
                                                       .clientBodyTimeout(Duration.ofMillis(300))
                                                       .build());
        StrictBackend backend = h.closeLater(StrictBackend.start());
        RoutePolicy policy = RoutePolicy.builder().readTimeout(Duration.ofSeconds(2))
                                        .sendTimeout(Duration.ofSeconds(1)).maxBodySize(64 * 1024).build();
        h.routeAll("", route("fuzz", policy, backend.address()));

        long deadline = System.nanoTime() + TIME_CAP.toNanos();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        ExecutorService pool = Executors.newFixedThreadPool(WORKERS);
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            InetAddress from = InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) (20 + w)});
            workers.add(pool.submit(() -> {
                int expected = 0; // whole requests the backend should have read from this worker
                for (int n; (n = next.getAndIncrement()) < CASES && System.nanoTime() < deadline
                            && failures.isEmpty(); ) {
                    long caseSeed = SEED * 31 + n;
                    try {
                        if (n % HEALTH_EVERY == 0) {
                            expected += health(from);
                        }
                        int before = backend.complete(from.getHostAddress());
                        int answered = runCase(new Random(caseSeed), from);
                        expected += answered;
                        int after = backend.complete(from.getHostAddress());
                        if (after - before != answered) {
                            failures.add(String.format("case %d (seed %d): the backend read %d whole requests, the "
                                                       + "client got %d answers from it", n, caseSeed,
                                                       after - before, answered));
                        }
                    } catch (Throwable e) {
                        failures.add(String.format("case %d (seed %d): %s", n, caseSeed, e));
                    }
                    done.incrementAndGet();
                }
                return expected;
            }));
        }
        int expected = 0;
        for (Future<?> f : workers) {
            expected += (Integer) f.get(TIME_CAP.toSeconds() + 60, TimeUnit.SECONDS);
        }
        pool.shutdown();
        System.out.printf("RequestFuzzTest over %s: %d cases in %d ms, %d requests reached the backend, "
                          + "%d bad requests, %d incomplete upstream%n", kind, done.get(),
                          TIME_CAP.toMillis() - (deadline - System.nanoTime()) / 1_000_000, backend.complete(),
                          proxy.stats().badRequests(), backend.incomplete());
        assertThat(failures).isEmpty();
        assertThat(done.get()).as("cases run within the time cap").isGreaterThanOrEqualTo(Math.min(CASES, 200));
        assertThat(backend.malformed()).as("what the backend could not parse").isEmpty();
        assertThat(backend.complete()).isEqualTo(expected);
        assertThat(proxy.stats().badRequests()).isPositive();
        // The process is up and serves, and every connection has ended.
        assertThat(health(null)).isEqualTo(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.stats().activeConnections() == 0);
    }

    /** A valid request on a new connection: must get the backend's 200. Returns 1, the request it made. */
    private int health(InetAddress from) throws IOException {
        try (RawHttp c = RawHttp.connect(h.address(), from)) {
            RawHttp.Response r = c.get("a", "/health");
            assertThat(r.status()).as("health check").isEqualTo(200);
            assertThat(r.header("x-backend")).isEqualTo("strict");
        }
        return 1;
    }

    /**
     * Sends one mutated case and reads until the connection ends; returns how many responses came from the backend.
     * Throws if a response is malformed or has a status outside 2xx/4xx/5xx, or if nothing ends the connection
     * within the deadline.
     */
    private int runCase(Random r, InetAddress from) throws IOException {
        byte[] bytes = concat(r.nextInt(8) == 0 ? ascii(CORPUS[r.nextInt(CORPUS.length)])
                                                : mutate(ascii(CORPUS[r.nextInt(CORPUS.length)]), r),
                              ascii(SENTINEL));
        int fromBackend = 0;
        try (RawHttp c = RawHttp.connect(h.address(), from)) {
            c.socket().setSoTimeout(READ_DEADLINE_MILLIS);
            try {
                write(c, bytes, r);
            } catch (SocketException e) {
                // the proxy closed while we wrote: what it sent before is still read below
            }
            while (true) {
                RawHttp.Response resp;
                try {
                    resp = c.read();
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("no response and no close within " + READ_DEADLINE_MILLIS + " ms after "
                                             + fromBackend + " responses; sent " + printable(bytes));
                } catch (EOFException e) {
                    if (e.getMessage() != null && e.getMessage().startsWith("connection closed after \"\"")) {
                        return fromBackend; // closed between responses
                    }
                    throw new AssertionError("cut response: " + e.getMessage() + "; sent " + printable(bytes));
                } catch (SocketException e) {
                    return fromBackend; // reset
                } catch (IOException | RuntimeException e) {
                    throw new AssertionError("malformed response: " + e + "; sent " + printable(bytes));
                }
                int status = resp.status();
                if (status == 100) {
                    continue;
                }
                if (status < 200 || status >= 600 || status / 100 == 3) {
                    throw new AssertionError("status " + status + "; sent " + printable(bytes));
                }
                if ("strict".equals(resp.header("x-backend"))) {
                    fromBackend++;
                }
            }
        }
    }

    /** Writes {@code bytes} in up to four parts, split at random points, with a pause between parts. */
    private static void write(RawHttp c, byte[] bytes, Random r) throws IOException {
        int parts = 1 + r.nextInt(4);
        int[] cuts = r.ints(parts - 1, 0, bytes.length + 1).sorted().toArray();
        int start = 0;
        for (int cut : cuts) {
            c.send(Arrays.copyOfRange(bytes, start, cut));
            start = cut;
            LockSupport.parkNanos(200_000); // so that the parts tend to arrive in separate reads
        }
        c.send(Arrays.copyOfRange(bytes, start, bytes.length));
    }

    private static byte[] mutate(byte[] in, Random r) {
        byte[] b = in;
        int rounds = 1 + r.nextInt(3);
        for (int i = 0; i < rounds; i++) {
            switch (r.nextInt(9)) {
                case 0 -> { // flip bytes
                    b = b.clone();
                    for (int k = 1 + r.nextInt(3); k > 0; k--) {
                        b[r.nextInt(b.length)] = (byte) r.nextInt(256);
                    }
                }
                case 1 -> b = insert(b, r.nextInt(b.length + 1), ascii(pick(INSERTS, r)));
                case 2 -> { // cut a range
                    int at = r.nextInt(b.length);
                    int n = Math.min(b.length - at, 1 + r.nextInt(10));
                    b = concat(Arrays.copyOf(b, at), Arrays.copyOfRange(b, at + n, b.length));
                }
                case 3 -> b = editLines(b, r, true);
                case 4 -> b = editLines(b, r, false);
                case 5 -> b = insertHeader(b, pick(FRAMING, r));
                case 6 -> b = replaceAfter(b, "Content-Length: ", pick(LENGTHS, r));
                case 7 -> b = replaceChunkSize(b, pick(CHUNK_SIZES, r));
                default -> b = Arrays.copyOf(b, r.nextInt(b.length + 1)); // cut short
            }
            if (b.length == 0) {
                b = ascii("\r\n");
            }
        }
        return b;
    }

    /** Duplicates ({@code dup}) or drops one header line of the first head. */
    private static byte[] editLines(byte[] b, Random r, boolean dup) {
        String s = latin1(b);
        int headEnd = s.indexOf("\r\n\r\n");
        if (headEnd < 0) {
            return b;
        }
        List<String> lines = new ArrayList<>(List.of(s.substring(0, headEnd).split("\r\n", -1)));
        if (lines.size() < 2) {
            return b;
        }
        int i = 1 + r.nextInt(lines.size() - 1);
        if (dup) {
            lines.add(i, lines.get(i));
        } else {
            lines.remove(i);
        }
        return ascii(String.join("\r\n", lines) + s.substring(headEnd));
    }

    private static byte[] insertHeader(byte[] b, String header) {
        String s = latin1(b);
        int eol = s.indexOf("\r\n");
        return eol < 0 ? b : ascii(s.substring(0, eol + 2) + header + "\r\n" + s.substring(eol + 2));
    }

    private static byte[] replaceAfter(byte[] b, String prefix, String value) {
        String s = latin1(b);
        int at = s.indexOf(prefix);
        if (at < 0) {
            return insertHeader(b, prefix + value);
        }
        int end = s.indexOf("\r\n", at);
        return ascii(s.substring(0, at + prefix.length()) + value + s.substring(end < 0 ? s.length() : end));
    }

    private static byte[] replaceChunkSize(byte[] b, String size) {
        String s = latin1(b);
        int body = s.indexOf("\r\n\r\n");
        if (body < 0 || !s.contains("chunked")) {
            return b;
        }
        int end = s.indexOf("\r\n", body + 4);
        return end < 0 ? b : ascii(s.substring(0, body + 4) + size + s.substring(end));
    }

    private static String pick(String[] options, Random r) {
        return options[r.nextInt(options.length)];
    }

    private static byte[] insert(byte[] b, int at, byte[] what) {
        return concat(concat(Arrays.copyOf(b, at), what), Arrays.copyOfRange(b, at, b.length));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(a.length + b.length);
        out.writeBytes(a);
        out.writeBytes(b);
        return out.toByteArray();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static String printable(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(b.length, 600); i++) {
            int c = b[i] & 0xff;
            sb.append(c >= 0x20 && c < 0x7f && c != '\\' ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return sb.append(b.length > 600 ? "..." : "").toString();
    }
}
