package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Transport;
import io.ferry.l7.route.RoutePolicy;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A gibibyte each way through the proxy, streamed at every step (the test neither makes nor keeps the body in
 * memory), checked by length and CRC-32C, while the direct memory Netty's allocator holds is watched: the proxy
 * must pass the bytes on, never pile them up.
 */
class LargeBodyTest {

    private static final long GIB = 1024L * 1024 * 1024;
    /** Read buffers, a few chunks in flight and the allocator's granularity; a buffering proxy needs a GiB. */
    private static final long MAX_DIRECT_GROWTH = 32L * 1024 * 1024;

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void gibibyteUploadIsStreamed(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", RoutePolicy.builder().maxBodySize(0).build(), a.address()));

        PatternStream body = new PatternStream(GIB);
        try (DirectMemoryWatch watch = new DirectMemoryWatch()) {
            long start = System.nanoTime();
            HttpResponse<String> r = client.send(
                    HttpRequest.newBuilder(h.uri("/upload"))
                               .POST(HttpRequest.BodyPublishers.fromPublisher(
                                       HttpRequest.BodyPublishers.ofInputStream(() -> body), GIB))
                               .build(),
                    HttpResponse.BodyHandlers.ofString());
            report("upload", kind, start, watch);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo(body.checksum().toString());
            assertThat(watch.growth()).isLessThan(MAX_DIRECT_GROWTH);
        }
        assertThat(proxy.stats().bytesFromClients()).isEqualTo(GIB);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void gibibyteDownloadIsStreamed(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        PatternStream expected = new PatternStream(GIB);
        expected.transferTo(java.io.OutputStream.nullOutputStream());
        try (DirectMemoryWatch watch = new DirectMemoryWatch()) {
            long start = System.nanoTime();
            HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(h.uri("/download/" + GIB)).build(),
                                                      HttpResponse.BodyHandlers.ofInputStream());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValueAsLong("content-length")).hasValue(GIB);
            PatternStream.Checksum got = new PatternStream.Checksum();
            byte[] buf = new byte[64 * 1024];
            try (InputStream in = r.body()) {
                for (int n; (n = in.read(buf)) != -1; ) {
                    got.update(buf, 0, n);
                }
            }
            report("download", kind, start, watch);
            assertThat(got.toString()).isEqualTo(expected.checksum().toString());
            assertThat(watch.growth()).isLessThan(MAX_DIRECT_GROWTH);
        }
        assertThat(proxy.stats().bytesToClients()).isEqualTo(GIB);
    }

    private static void report(String what, Transport.Kind kind, long startNanos, DirectMemoryWatch watch) {
        long millis = (System.nanoTime() - startNanos) / 1_000_000;
        System.out.printf("LargeBodyTest: 1 GiB %s over %s in %d ms (%d MiB/s); Netty direct memory %d KiB at"
                          + " start, peak %d KiB%n", what, kind, millis, GIB / 1024 / 1024 * 1000 / Math.max(1, millis),
                          watch.baseline() / 1024, watch.peak() / 1024);
    }
}
