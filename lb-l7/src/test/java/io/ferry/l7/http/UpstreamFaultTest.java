package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static io.ferry.l7.http.RawHttp.readHead;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l4.testing.TrustAllTls;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An upstream that fails after its response has started: it closes (FIN), resets (RST, {@code SO_LINGER 0}) or
 * goes silent in the middle of a Content-Length or a chunked body. The client must be able to tell: an HTTP/1.1
 * connection is closed short of the Content-Length or without the last chunk, an HTTP/2 stream is reset; never a
 * response that looks complete. The fault is counted, and an HTTP/2 connection goes on with other streams.
 *
 * <p>The backend writes its head and 1,000 body bytes, then waits until the client has the head and part of the
 * body before it fails, so that the fault is always mid-response (an RST that overtook the body would discard it
 * and make the test about a 502 instead).
 */
class UpstreamFaultTest {

    private static final int SENT = 1000;
    private static final long DECLARED = 100_000;

    enum Fault { CLOSE, RESET, HANG }

    enum Client { HTTP1, HTTP2 }

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    private HttpProxy proxy;
    private InetSocketAddress https;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Client client : Client.values()) {
            for (boolean chunked : new boolean[] {false, true}) {
                // The default transport and NIO over the cases, without running every case on both.
                Transport.Kind kind = chunked == (client == Client.HTTP1) ? Transport.Kind.best() : Transport.Kind.NIO;
                out.add(Arguments.of(kind, client, chunked));
            }
        }
        return out.stream();
    }

    private void start(Transport.Kind kind) throws IOException {
        proxy = h.start(kind);
        proxy.applyTls(TlsTable.of(TlsCertificate.generateDefault()));
        https = proxy.bindHttps(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    /** A backend that answers with a head and {@link #SENT} body bytes, waits for {@code go}, then fails. */
    private TestBackend failing(Fault fault, boolean chunked, CountDownLatch go) throws IOException {
        CountDownLatch end = new CountDownLatch(1);
        h.closeLater(end::countDown);
        return h.raw(s -> {
            readHead(s.getInputStream());
            OutputStream out = s.getOutputStream();
            String head = chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(SENT)
                                    + "\r\n"
                                  : "HTTP/1.1 200 OK\r\nContent-Length: " + DECLARED + "\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[SENT]);
            if (chunked) {
                out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.flush();
            awaitLatch(go);
            switch (fault) {
                case CLOSE:
                    s.shutdownOutput();
                    break;
                case RESET:
                    s.setSoLinger(true, 0);
                    s.close();
                    break;
                case HANG:
                    awaitLatch(end); // silent until the test is over
                    break;
                default:
                    throw new AssertionError(fault);
            }
        });
    }

    @ParameterizedTest(name = "{0} {1} chunked={2}")
    @MethodSource("cases")
    void upstreamClosingMidBodyCutsTheClientOff(Transport.Kind kind, Client client, boolean chunked)
            throws Exception {
        start(kind);
        midBody(Fault.CLOSE, client, chunked, RoutePolicy.DEFAULT);
        assertThat(proxy.stats().upstreamErrors()).isEqualTo(1);
        assertThat(proxy.stats().upstreamTimeouts()).isZero();
    }

    @ParameterizedTest(name = "{0} {1} chunked={2}")
    @MethodSource("cases")
    void upstreamResettingMidBodyCutsTheClientOff(Transport.Kind kind, Client client, boolean chunked)
            throws Exception {
        start(kind);
        midBody(Fault.RESET, client, chunked, RoutePolicy.DEFAULT);
        assertThat(proxy.stats().upstreamErrors()).isEqualTo(1);
    }

    @ParameterizedTest(name = "{0} {1} chunked={2}")
    @MethodSource("cases")
    void upstreamHangingMidBodyIsCutOffAfterTheReadTimeout(Transport.Kind kind, Client client, boolean chunked)
            throws Exception {
        start(kind);
        long tookMillis = midBody(Fault.HANG, client, chunked,
                                  RoutePolicy.builder().readTimeout(Duration.ofMillis(400)).build());
        assertThat(tookMillis).isBetween(350L, 5_000L);
        assertThat(proxy.stats().upstreamTimeouts()).isEqualTo(1);
        assertThat(proxy.stats().upstreamErrors()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void upstreamHangingBeforeItsHeadIs504OverHttp2(Transport.Kind kind) throws Exception {
        start(kind);
        CountDownLatch end = new CountDownLatch(1);
        h.closeLater(end::countDown);
        TestBackend silent = h.raw(s -> {
            readHead(s.getInputStream());
            awaitLatch(end);
        });
        h.routeAll("", route("silent", RoutePolicy.builder().readTimeout(Duration.ofMillis(400)).build(),
                             silent.address()));
        HttpClient c = http2Client();

        long start = System.nanoTime();
        HttpResponse<String> r = c.send(HttpRequest.newBuilder(httpsUri("/a")).build(),
                                        HttpResponse.BodyHandlers.ofString());
        long tookMillis = (System.nanoTime() - start) / 1_000_000;
        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(tookMillis).isBetween(350L, 5_000L);
        // The stream ended cleanly: the connection carries the next one.
        assertThat(c.send(HttpRequest.newBuilder(httpsUri("/b")).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode()).isEqualTo(504);
        assertThat(proxy.stats().h2Connections()).isEqualTo(1);
        assertThat(proxy.stats().upstreamTimeouts()).isEqualTo(2);
    }

    /**
     * Runs one request against a backend failing with {@code fault} mid-body and checks what the client got.
     *
     * @return how long from the request to the client learning that the response is cut, in milliseconds
     */
    private long midBody(Fault fault, Client client, boolean chunked, RoutePolicy policy) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        h.routeAll("", route("failing", policy, failing(fault, chunked, go).address()));
        long took = client == Client.HTTP1 ? midBodyHttp1(chunked, go) : midBodyHttp2(go);
        assertThat(took).isLessThan(5_000L);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().activeConnections() == 0);
        return took;
    }

    private long midBodyHttp1(boolean chunked, CountDownLatch go) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(h.address(), 5_000);
            s.setSoTimeout(10_000);
            long start = System.nanoTime();
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            String head = head(in);
            assertThat(head).startsWith("HTTP/1.1 200 ");
            assertThat(head.toLowerCase()).contains(chunked ? "transfer-encoding: chunked" : "content-length: "
                                                                                               + DECLARED);
            assertThat(in.read()).as("a first body byte").isNotNegative();
            go.countDown();
            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) != -1; ) {
                    rest.write(buf, 0, n);
                }
            } catch (SocketException reset) {
                // closed with an RST: as clear an end as a FIN
            }
            long took = (System.nanoTime() - start) / 1_000_000;
            String body = rest.toString(StandardCharsets.ISO_8859_1);
            if (chunked) {
                assertThat(body).as("no last chunk").doesNotContain("\r\n0\r\n");
            } else {
                assertThat(1 + rest.size()).as("body bytes").isLessThan((int) DECLARED);
            }
            return took;
        }
    }

    private long midBodyHttp2(CountDownLatch go) throws Exception {
        HttpClient c = http2Client();
        long start = System.nanoTime();
        HttpResponse<InputStream> r = c.send(HttpRequest.newBuilder(httpsUri("/")).build(),
                                             HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(200);
        long took;
        try (InputStream in = r.body()) {
            assertThat(in.read()).as("a first body byte").isNotNegative();
            go.countDown();
            // The stream is reset (RST_STREAM), never ended with END_STREAM: reading to the end fails.
            assertThatThrownBy(in::readAllBytes).isInstanceOf(IOException.class);
            took = (System.nanoTime() - start) / 1_000_000;
        }
        // Only the stream: the connection carries another request.
        h.routeAll("", route("echo", h.echo("after").address()));
        HttpResponse<String> after = c.send(HttpRequest.newBuilder(httpsUri("/after")).build(),
                                            HttpResponse.BodyHandlers.ofString());
        assertThat(after.body()).isEqualTo("after\nGET /after\n");
        assertThat(proxy.stats().h2Connections()).isEqualTo(1);
        return took;
    }

    private HttpClient http2Client() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(TrustAllTls.context())
                         .connectTimeout(Duration.ofSeconds(5)).build();
    }

    private URI httpsUri(String path) {
        return URI.create("https://127.0.0.1:" + https.getPort() + path);
    }

    private static String head(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed in the head: " + sb);
            }
            sb.append((char) b);
        }
        return sb.toString();
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
