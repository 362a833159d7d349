package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static io.ferry.l7.http.RawHttp.readHead;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.RoutePolicy;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A peer that stops reading stops the proxy reading from the other side: with one side stalled for a second, the
 * proxy takes in no more than socket buffers and a few chunks, while a proxy that kept reading would have buffered
 * hundreds of MiB by then.
 */
class BackpressureTest {

    private static final long BODY = 256L * 1024 * 1024;
    private static final long MAX_DIRECT_GROWTH = 16L * 1024 * 1024;
    private static final long MAX_TAKEN_IN = 48L * 1024 * 1024;

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientThatStopsReadingStopsTheDownload(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect(); DirectMemoryWatch watch = new DirectMemoryWatch()) {
            c.send("GET /download/" + BODY + " HTTP/1.1\r\nHost: a\r\n\r\n");
            c.socket().getInputStream().readNBytes(64 * 1024);
            // And now the client reads nothing for a second.
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3))
                   .until(() -> watch.growth() < MAX_DIRECT_GROWTH
                                && proxy.stats().bytesToClients() < MAX_TAKEN_IN);
            // It was a pause, not the end: the rest still arrives whole.
            assertThat(c.drainUpTo(BODY - 64 * 1024)).isEqualTo(BODY - 64 * 1024);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void upstreamThatStopsReadingStopsTheUpload(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        CountDownLatch release = new CountDownLatch(1);
        h.closeLater(release::countDown);
        TestBackend stalled = h.raw(s -> {
            readHead(s.getInputStream());
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        h.routeAll("", route("stalled", RoutePolicy.builder().maxBodySize(0).build(), stalled.address()));

        try (RawHttp c = h.connect(); DirectMemoryWatch watch = new DirectMemoryWatch()) {
            c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + BODY + "\r\n\r\n");
            Thread uploader = new Thread(() -> {
                try (PatternStream body = new PatternStream(BODY)) {
                    OutputStream out = c.socket().getOutputStream();
                    body.transferTo(out);
                } catch (IOException ignored) {
                    // the test is over and closed the socket
                }
            }, "uploader");
            uploader.setDaemon(true);
            uploader.start();
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().bytesFromClients() > 0);
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3))
                   .until(() -> watch.growth() < MAX_DIRECT_GROWTH
                                && proxy.stats().bytesFromClients() < MAX_TAKEN_IN);
        }
    }
}
