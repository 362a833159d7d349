package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.ListenerKey;
import io.ferry.l4.testing.TrustAllTls;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/** What the README promises of {@code --demo}, checked the way a newcomer would try it. */
class DemoTest {

    @Test
    void theDemoServesTheTutorialsServices() throws Exception {
        try (Ferry ferry = Ferry.start(FerryOptions.builder().demo(true).adminPort(0)
                                                           .httpAddress(InetAddress.getLoopbackAddress()).httpPort(0).httpsPort(0)
                                                           .accessLog(false).build())) {
            await().atMost(Duration.ofSeconds(15)).until(() -> ferry.controlLoop().status().ready());
            for (var e : ferry.serviceProxy().bindErrors().entrySet()) {
                ListenerKey key = e.getKey();
                // Port 80 needs root (or a lowered ip_unprivileged_port_start); the README says so.
                assumeTrue(key.port() >= 1024, "cannot bind " + key + ": " + e.getValue());
            }
            assertThat(ferry.serviceProxy().bindErrors()).isEmpty();

            // One connection per request, as curl makes: L4 balancing is per connection.
            Set<String> servedBy = new HashSet<>();
            for (String[] target : new String[][] {{"127.99.174.93", "80"}, {"127.0.0.1", "30647"}}) {
                for (int i = 0; i < 40; i++) {
                    String res = get(target[0], Integer.parseInt(target[1]), "/blog/index/");
                    assertThat(res).startsWith("HTTP/1.1 200 OK").contains("\r\n\r\n我的博客列表\n");
                    servedBy.add(res.replaceAll("(?s).*X-Served-By: (myblog-\\d).*", "$1"));
                }
            }
            assertThat(servedBy).containsExactlyInAnyOrder("myblog-1", "myblog-2");
            HttpResponse<String> viaJdk = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.99.174.93/blog/index/")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(viaJdk.body()).startsWith("我的博客列表");

            // The tutorial's Ingress: myblog.devops.cn/ -> Service myblog:80 -> its pods, spread round robin.
            int httpPort = ferry.httpProxy().boundAddresses().get(0).getPort();
            Set<String> viaIngress = new HashSet<>();
            for (int i = 0; i < 10; i++) {
                String res = get("127.0.0.1", httpPort, "/blog/index/", "myblog.devops.cn");
                assertThat(res).startsWith("HTTP/1.1 200 OK").contains("\r\n\r\n我的博客列表\n");
                viaIngress.add(res.replaceAll("(?s).*X-Served-By: (myblog-\\d).*", "$1"));
            }
            assertThat(viaIngress).containsExactlyInAnyOrder("myblog-1", "myblog-2");
            assertThat(get("127.0.0.1", httpPort, "/blog/index/", "nobody.devops.cn")).startsWith("HTTP/1.1 404 ");

            // And over HTTPS, with the certificate generated for the demo's TLS Secret, HTTP/1.1 chosen by ALPN.
            int httpsPort = ferry.httpProxy().boundAddresses().get(1).getPort();
            try (SSLSocket tls = (SSLSocket) TrustAllTls.context().getSocketFactory().createSocket("127.0.0.1", httpsPort)) {
                tls.setSoTimeout(5_000);
                SSLParameters p = tls.getSSLParameters();
                p.setServerNames(List.of(new SNIHostName("myblog.devops.cn")));
                tls.setSSLParameters(p);
                tls.startHandshake();
                assertThat(((X509Certificate) tls.getSession().getPeerCertificates()[0]).getSubjectX500Principal()
                                                                                       .getName())
                        .isEqualTo("CN=myblog.devops.cn");
                tls.getOutputStream().write(("GET /blog/index/ HTTP/1.1\r\nHost: myblog.devops.cn\r\n"
                                             + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                String res = new String(tls.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(res).startsWith("HTTP/1.1 200 OK").contains("\r\n\r\n我的博客列表\n");
            }

            try (Socket mysql = new Socket("127.108.214.84", 3306)) {
                mysql.setSoTimeout(5_000);
                InputStream in = mysql.getInputStream();
                byte[] greeting = in.readNBytes(4 + 1 + 6);
                assertThat(new String(greeting, 5, 6, StandardCharsets.US_ASCII)).isEqualTo("5.7.29");
            }
        }
    }

    private static String get(String host, int port, String path) throws Exception {
        return get(host, port, path, host);
    }

    private static String get(String host, int port, String path, String hostHeader) throws Exception {
        try (Socket s = new Socket(host, port)) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader
                                       + "\r\nConnection: close\r\n\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
