package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static io.ferry.l7.http.RawHttp.readHead;
import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Connections kept alive on both legs: one client connection, one pooled upstream connection. */
class KeepAliveTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void sequentialRequestsShareOneUpstreamConnection(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

        int n = 20;
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(h.uri("/n/" + i)).build(),
                                                 HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("a\nGET /n/" + i + "\n");
        }
        assertThat(a.connections()).isEqualTo(1);
        assertThat(proxy.stats().connections()).isEqualTo(1);
        assertThat(proxy.stats().upstreamConnects()).isEqualTo(1);
        assertThat(proxy.stats().upstreamReuses()).isEqualTo(n - 1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void pooledConnectionTheServerClosedIsNotUsedAgain(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        // Answers one request as if it would keep the connection, then closes it.
        TestBackend oneShot = h.raw(s -> {
            readHead(s.getInputStream());
            s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                                              .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
        });
        h.routeAll("", route("one-shot", oneShot.address()));

        try (RawHttp c = h.connect()) {
            for (int i = 0; i < 10; i++) {
                RawHttp.Response r = c.get("a", "/" + i);
                assertThat(r.status()).as("request %d", i).isEqualTo(200);
                assertThat(r.text()).isEqualTo("ok");
            }
        }
        assertThat(oneShot.accepted()).isEqualTo(10);
        assertThat(proxy.stats().responses(5)).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void upstreamMaxRequestsClosesTheUpstreamConnection(Transport.Kind kind) throws Exception {
        h.start(kind, HttpProxyConfig.builder().accessLog(false).upstreamMaxRequests(3).build());
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            for (int i = 0; i < 7; i++) {
                assertThat(c.get("a", "/" + i).status()).isEqualTo(200);
            }
        }
        assertThat(a.connections()).isEqualTo(3);
    }
}
