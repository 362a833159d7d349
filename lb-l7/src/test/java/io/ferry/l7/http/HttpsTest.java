package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l4.testing.TrustAllTls;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.SelfSignedCertificates;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The HTTPS listener with real TLS clients: the certificate per SNI, wildcard and default certificates, a
 * certificate swap while a connection stays open, 421, HSTS, the HTTP to HTTPS redirect and HTTP/2 with many
 * concurrent streams to a slow and a fast backend.
 */
class HttpsTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    private HttpProxy proxy;
    private InetSocketAddress https;

    private void start(Transport.Kind kind, TlsTable tls) throws IOException {
        proxy = h.start(kind);
        proxy.applyTls(tls);
        https = proxy.bindHttps(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    private static TlsCertificate cert(String secret, String... names) {
        SelfSignedCertificates.Pem pem = SelfSignedCertificates.generate(names);
        return TlsCertificate.load(secret, pem.certificate(), pem.privateKey(), false);
    }


    /** An HTTP/1.1 exchange over TLS with {@code sni} (or none); returns the leaf's subject and the response. */
    private String[] get(String sni, String host, String path) throws Exception {
        // A fresh context per connection: the JDK would otherwise resume a session made for another SNI.
        try (SSLSocket s = (SSLSocket) TrustAllTls.context().getSocketFactory().createSocket(InetAddress.getLoopbackAddress(),
                                                                                   https.getPort())) {
            s.setSoTimeout(10_000);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
            p.setApplicationProtocols(new String[] {"http/1.1"});
            s.setSSLParameters(p);
            s.startHandshake();
            String subject = ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal()
                                                                                        .getName();
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            return new String[] {subject, new String(in.readAllBytes(), StandardCharsets.UTF_8)};
        }
    }

    private static HttpRouteTable<Route> routes(Route... byHost) {
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        for (Route r : byHost) {
            b.add(r.name(), PathType.PREFIX, "/", r);
        }
        return b.build();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void eachSniGetsItsCertificateAndUnknownOnesTheDefault(Transport.Kind kind) throws Exception {
        TlsTable.Builder tls = TlsTable.builder(TlsCertificate.generateDefault());
        tls.add("shop.example.com", cert("shop/tls", "shop.example.com"));
        tls.add("*.apps.example.com", cert("apps/tls", "*.apps.example.com"));
        start(kind, tls.build());
        EchoServer shop = h.echo("shop");
        EchoServer apps = h.echo("apps");
        EchoServer other = h.echo("other");
        proxy.apply(routes(route("shop.example.com", shop.address()), route("a.apps.example.com", apps.address()),
                           route("other.test", other.address())));

        String[] r = get("shop.example.com", "shop.example.com", "/x");
        assertThat(r[0]).isEqualTo("CN=shop.example.com");
        assertThat(r[1]).startsWith("HTTP/1.1 200 ").contains("shop\nGET /x\n")
                        .contains("strict-transport-security: max-age=31536000; includeSubDomains");
        assertThat(get("a.apps.example.com", "a.apps.example.com", "/")[0]).isEqualTo("CN=*.apps.example.com");
        // One label only: a deeper name gets the default certificate, and a Host that has a certificate of its
        // own on that connection is misdirected.
        String[] deeper = get("b.a.apps.example.com", "a.apps.example.com", "/");
        assertThat(deeper[0]).contains("ingress.local");
        assertThat(deeper[1]).startsWith("HTTP/1.1 421 ");
        // Unknown SNI and no SNI: the default certificate, and the request is routed by Host as usual.
        String[] unknown = get("other.test", "other.test", "/");
        assertThat(unknown[0]).contains("ingress.local");
        assertThat(unknown[1]).startsWith("HTTP/1.1 200 ").contains("other\n");
        assertThat(get(null, "other.test", "/")[1]).startsWith("HTTP/1.1 200 ");
        // A Host that has its own certificate, on a connection made for another: 421.
        assertThat(get("shop.example.com", "a.apps.example.com", "/")[1]).startsWith("HTTP/1.1 421 ");
        assertThat(proxy.stats().misdirected()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aRenewedCertificateServesNewHandshakesWhileAnOpenConnectionKeepsItsOwn(Transport.Kind kind) throws Exception {
        TlsCertificate generatedDefault = TlsCertificate.generateDefault();
        TlsTable.Builder before = TlsTable.builder(generatedDefault);
        before.add("shop.example.com", cert("shop/tls", "shop.example.com"));
        start(kind, before.build());
        EchoServer shop = h.echo("shop");
        proxy.apply(routes(route("shop.example.com", shop.address())));

        try (SSLSocket open = handshake("shop.example.com")) {
            X509Certificate old = (X509Certificate) open.getSession().getPeerCertificates()[0];
            TlsTable.Builder after = TlsTable.builder(generatedDefault);
            after.add("shop.example.com", cert("shop/tls", "shop.example.com"));
            proxy.applyTls(after.build());

            try (SSLSocket fresh = handshake("shop.example.com")) {
                X509Certificate renewed = (X509Certificate) fresh.getSession().getPeerCertificates()[0];
                assertThat(renewed.getSerialNumber()).isNotEqualTo(old.getSerialNumber());
            }
            // The connection made before the swap goes on with the certificate it got.
            open.getOutputStream().write("GET /still HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n"
                                                 .getBytes(StandardCharsets.US_ASCII));
            String res = new String(open.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(res).startsWith("HTTP/1.1 200 ").contains("shop\nGET /still\n");
            assertThat(((X509Certificate) open.getSession().getPeerCertificates()[0]).getSerialNumber())
                    .isEqualTo(old.getSerialNumber());
        }
    }

    private SSLSocket handshake(String sni) throws Exception {
        SSLSocket s = (SSLSocket) TrustAllTls.context().getSocketFactory().createSocket(InetAddress.getLoopbackAddress(),
                                                                              https.getPort());
        s.setSoTimeout(10_000);
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        p.setApplicationProtocols(new String[] {"http/1.1"});
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void plainHttpToATlsHostIsRedirectedUnlessTurnedOff(Transport.Kind kind) throws Exception {
        TlsTable.Builder tls = TlsTable.builder(TlsCertificate.generateDefault());
        tls.add("secure.test", cert("s/tls", "secure.test"));
        start(kind, tls.build());
        EchoServer secure = h.echo("secure");
        EchoServer relaxed = h.echo("relaxed");
        EchoServer plain = h.echo("plain");
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("secure.test", PathType.PREFIX, "/", route("secure", secure.address()));
        b.add("relaxed.test", PathType.PREFIX, "/",
              route("relaxed", RoutePolicy.builder().sslRedirect(false).build(), relaxed.address()));
        b.add("plain.test", PathType.PREFIX, "/", route("plain", plain.address()));
        b.add("forced.test", PathType.PREFIX, "/",
              route("forced", RoutePolicy.builder().forceSslRedirect(true).build(), plain.address()));
        proxy.apply(b.build());

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("secure.test", "/a?b=c");
            assertThat(r.status()).isEqualTo(308);
            assertThat(r.header("location")).isEqualTo("https://secure.test:" + https.getPort() + "/a?b=c");
            assertThat(c.get("plain.test", "/").status()).isEqualTo(200);
            assertThat(c.get("forced.test", "/x").header("location"))
                    .isEqualTo("https://forced.test:" + https.getPort() + "/x");
        }
        // ssl-redirect: "false" on a TLS host: served over plain HTTP (this route is not a TLS host here, but the
        // flag must not redirect either way).
        try (RawHttp c = h.connect()) {
            assertThat(c.get("relaxed.test", "/").status()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void http2StreamsAreProxiedIndependently(Transport.Kind kind) throws Exception {
        start(kind, TlsTable.of(TlsCertificate.generateDefault()));
        EchoServer backend = h.echo("h2");
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("", PathType.PREFIX, "/", route("h2", backend.address()));
        proxy.apply(b.build());

        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(TrustAllTls.context())
                                      .connectTimeout(Duration.ofSeconds(5)).build();
        String base = "https://127.0.0.1:" + https.getPort();
        // One request first, so that the client knows the server speaks h2 and puts every stream on one connection.
        assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/warm")).build(),
                               HttpResponse.BodyHandlers.ofString()).version()).isEqualTo(HttpClient.Version.HTTP_2);
        // One slow stream must not hold the fast ones back.
        CompletableFuture<HttpResponse<String>> slow = client.sendAsync(
                HttpRequest.newBuilder(URI.create(base + "/delay/4000/slow")).build(),
                HttpResponse.BodyHandlers.ofString());
        List<CompletableFuture<HttpResponse<String>>> fast = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            fast.add(client.sendAsync(HttpRequest.newBuilder(URI.create(base + "/fast/" + i)).build(),
                                      HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < fast.size(); i++) {
            HttpResponse<String> r = fast.get(i).get(10, TimeUnit.SECONDS);
            assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("h2\nGET /fast/" + i + "\n");
        }
        // Logical, not timed: the fast streams all finished while the slow one, on the same connection, had not.
        assertThat(slow.isDone()).as("the slow stream is still running when the fast ones are done").isFalse();
        assertThat(slow.get(20, TimeUnit.SECONDS).body()).isEqualTo("h2\nGET /delay/4000/slow\n");
        assertThat(proxy.stats().h2Connections()).isEqualTo(1);
        assertThat(proxy.stats().h2Streams()).isEqualTo(52);
    }

    /** curl (where installed) negotiates h2 by ALPN, checks nothing but gets the right page over HTTP/2. */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void curlGetsHttp2(Transport.Kind kind) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(commandExists("curl"), "curl not installed");
        TlsTable.Builder tls = TlsTable.builder(TlsCertificate.generateDefault());
        tls.add("shop.example.com", cert("shop/tls", "shop.example.com"));
        start(kind, tls.build());
        EchoServer shop = h.echo("shop");
        proxy.apply(routes(route("shop.example.com", shop.address())));
        int port = https.getPort();
        Process p = new ProcessBuilder("curl", "-sk", "--http2", "--max-time", "10",
                                       "--resolve", "shop.example.com:" + port + ":127.0.0.1",
                                       "-w", "\n%{http_version} %{http_code}",
                                       "https://shop.example.com:" + port + "/curl?x=1")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo("shop\nGET /curl?x=1\n\n2 200");
        assertThat(proxy.stats().h2Streams()).isEqualTo(1);
    }

    private static boolean commandExists(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (java.nio.file.Files.isExecutable(java.nio.file.Path.of(dir, name))) {
                return true;
            }
        }
        return false;
    }

    /** An HTTP/2 connection with no stream open is closed after the client idle timeout, as nginx does. */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void idleHttp2ConnectionIsClosed(Transport.Kind kind) throws Exception {
        proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false)
                                             .clientIdleTimeout(Duration.ofMillis(300)).build());
        proxy.applyTls(TlsTable.of(TlsCertificate.generateDefault()));
        https = proxy.bindHttps(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        try (SSLSocket s = (SSLSocket) TrustAllTls.context().getSocketFactory().createSocket(InetAddress.getLoopbackAddress(),
                                                                                   https.getPort())) {
            s.setSoTimeout(10_000);
            SSLParameters p = s.getSSLParameters();
            p.setApplicationProtocols(new String[] {"h2"});
            s.setSSLParameters(p);
            s.startHandshake();
            assertThat(s.getApplicationProtocol()).isEqualTo("h2");
            // The connection preface and an empty SETTINGS frame, then nothing.
            s.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0});
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int n;
            try {
                while ((n = in.read(buf)) != -1 && System.nanoTime() < deadline) {
                    // SETTINGS, its ACK, then GOAWAY before the close
                }
            } catch (javax.net.ssl.SSLException | java.net.SocketException closed) {
                n = -1;
            }
            assertThat(n).as("closed by the proxy").isEqualTo(-1);
        }
        assertThat(proxy.stats().h2Connections()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void failedHandshakesAreCountedAndClosedWhileTheListenerServesOn(Transport.Kind kind) throws Exception {
        start(kind, TlsTable.builder(TlsCertificate.generateDefault()).build());
        EchoServer other = h.echo("other");
        proxy.apply(routes(route("other.test", other.address())));

        // Not TLS at all: plain HTTP sent to the HTTPS port.
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), https.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readToEndOrReset(s.getInputStream())).isEmpty();
        }
        awaitHandshakeFailures(1);
        // A client that does not trust the certificate: it aborts the handshake with an alert.
        try (SSLSocket s = (SSLSocket) SSLContext.getDefault().getSocketFactory()
                                                 .createSocket(InetAddress.getLoopbackAddress(), https.getPort())) {
            s.setSoTimeout(10_000);
            assertThatThrownBy(s::startHandshake).isInstanceOf(SSLHandshakeException.class);
        }
        awaitHandshakeFailures(2);
        // A client that resets in the middle of its handshake: it has the server's flight and, while it checks
        // the certificate, its connection is reset.
        CountDownLatch checking = new CountDownLatch(1);
        CountDownLatch reset = new CountDownLatch(1);
        SSLContext stalling = SSLContext.getInstance("TLS");
        stalling.init(null, new TrustManager[] {new StallingTrustManager(checking, reset)}, null);
        Socket raw = new Socket(InetAddress.getLoopbackAddress(), https.getPort());
        SSLSocket tls = (SSLSocket) stalling.getSocketFactory().createSocket(raw, "other.test", https.getPort(), true);
        CompletableFuture<Void> handshake = CompletableFuture.runAsync(() -> {
            try {
                tls.startHandshake();
            } catch (IOException expected) {
                // the socket was reset under it
            }
        });
        assertThat(checking.await(10, TimeUnit.SECONDS)).isTrue();
        raw.setSoLinger(true, 0);
        raw.close();
        reset.countDown();
        handshake.get(10, TimeUnit.SECONDS);
        awaitHandshakeFailures(3);
        assertThat(get(null, "other.test", "/")[1]).startsWith("HTTP/1.1 200 ");
        assertThat(proxy.stats().tlsHandshakeFailures()).isEqualTo(3);
    }

    private void awaitHandshakeFailures(long n) {
        await().atMost(Duration.ofSeconds(10))
               .untilAsserted(() -> assertThat(proxy.stats().tlsHandshakeFailures()).isEqualTo(n));
    }

    /** Trusts every server, after waiting, in the middle of the handshake, for {@code proceed}. */
    private static final class StallingTrustManager implements X509TrustManager {
        private final CountDownLatch checking;
        private final CountDownLatch proceed;

        StallingTrustManager(CountDownLatch checking, CountDownLatch proceed) {
            this.checking = checking;
            this.proceed = proceed;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            checking.countDown();
            try {
                proceed.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /** Reads until the peer closes; a reset counts as closed. */
    private static byte[] readToEndOrReset(InputStream in) throws IOException {
        try {
            return in.readAllBytes();
        } catch (SocketException reset) {
            return new byte[0];
        }
    }
}
