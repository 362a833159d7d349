package io.ferry.l7.tls;

import static io.ferry.l7.tls.TlsTestSupport.handshake;
import static io.ferry.l7.tls.TlsTestSupport.peerLeaf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ferry.l7.tls.SelfSignedCertificates.Pem;
import io.ferry.l7.tls.TlsTable.EntryView;
import io.ferry.l7.tls.TlsTestSupport.TlsServer;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/** SNI selection, Host checks and the view of the table; then the table behind Netty's {@link SniHandler}. */
class TlsTableTest {

    private static TlsCertificate cert(String secret, String... names) {
        Pem pem = SelfSignedCertificates.generate(names);
        return TlsCertificate.load(secret, pem.certificate(), pem.privateKey(), false);
    }

    private static final TlsCertificate DEFAULT = TlsCertificate.generateDefault();
    private static final TlsCertificate FOO = cert("demo/foo", "foo.com", "www.foo.com");
    private static final TlsCertificate WILD = cert("demo/wild", "*.foo.com");
    private static final TlsCertificate BAR = cert("other/bar", "bar.io");

    private static final TlsTable TABLE = table();

    private static TlsTable table() {
        TlsTable.Builder b = TlsTable.builder(DEFAULT);
        assertThat(b.add("foo.com", FOO)).isTrue();
        assertThat(b.add("www.foo.com", FOO)).isTrue();
        assertThat(b.add("*.foo.com", WILD)).isTrue();
        assertThat(b.add("Bar.IO", BAR)).isTrue();
        assertThat(b.add("bar.io", FOO)).as("first wins").isFalse();
        assertThat(b.add("*.FOO.com", BAR)).as("first wins").isFalse();
        assertThat(b.add("broken.example.com", DEFAULT)).isTrue();
        return b.build();
    }

    @Test
    void exactHostFirst() {
        assertThat(TABLE.select("foo.com")).isSameAs(FOO);
        assertThat(TABLE.select("www.foo.com")).isSameAs(FOO);
        assertThat(TABLE.select("bar.io")).isSameAs(BAR);
    }

    @Test
    void wildcardTakesExactlyOneLabel() {
        assertThat(TABLE.select("api.foo.com")).isSameAs(WILD);
        assertThat(TABLE.select("a.b.foo.com")).isSameAs(DEFAULT);
        assertThat(TABLE.select(".foo.com")).isSameAs(DEFAULT);
        assertThat(TABLE.select("xfoo.com")).isSameAs(DEFAULT);
    }

    @Test
    void anyCaseAndOneTrailingDot() {
        assertThat(TABLE.select("FOO.Com")).isSameAs(FOO);
        assertThat(TABLE.select("API.FOO.COM")).isSameAs(WILD);
        assertThat(TABLE.select("bar.io.")).isSameAs(BAR);
    }

    @Test
    void unknownOrMissingSniGetsTheDefault() {
        assertThat(TABLE.select(null)).isSameAs(DEFAULT);
        assertThat(TABLE.select("")).isSameAs(DEFAULT);
        assertThat(TABLE.select("unknown.org")).isSameAs(DEFAULT);
        assertThat(TABLE.select("broken.example.com")).isSameAs(DEFAULT);
        assertThat(TABLE.defaultEntry()).isSameAs(DEFAULT);
        assertThat(DEFAULT.isDefault()).isTrue();
        assertThat(FOO.isDefault()).isFalse();
        assertThat(TlsTable.of(DEFAULT).select("foo.com")).isSameAs(DEFAULT);
    }

    @Test
    void hasTlsForConfiguredHostsInHostHeaderForm() {
        assertThat(TABLE.hasTls("foo.com")).isTrue();
        assertThat(TABLE.hasTls("FOO.COM:8443")).isTrue();
        assertThat(TABLE.hasTls("api.foo.com:80")).isTrue();
        assertThat(TABLE.hasTls("foo.com.")).isTrue();
        assertThat(TABLE.hasTls("broken.example.com")).as("configured, though with the default").isTrue();
        assertThat(TABLE.hasTls("a.b.foo.com")).isFalse();
        assertThat(TABLE.hasTls("unknown.org")).isFalse();
        assertThat(TABLE.hasTls("[::1]:8443")).isFalse();
        assertThat(TABLE.hasTls(":8443")).isFalse();
        assertThat(TABLE.hasTls("")).isFalse();
        assertThat(TABLE.hasTls(null)).isFalse();
        assertThat(TlsTable.of(DEFAULT).hasTls("ingress.local")).as("the default alone gives no host TLS").isFalse();
    }

    @Test
    void coversTheCertificatesNamesWithPortAndCase() {
        assertThat(FOO.names()).containsExactly("foo.com", "www.foo.com");
        assertThat(FOO.covers("foo.com")).isTrue();
        assertThat(FOO.covers("WWW.Foo.COM:8443")).isTrue();
        assertThat(FOO.covers("foo.com.:443")).isTrue();
        assertThat(FOO.covers("api.foo.com")).isFalse();
        assertThat(WILD.covers("API.foo.com:443")).isTrue();
        assertThat(WILD.covers("foo.com")).isFalse();
        assertThat(WILD.covers("a.b.foo.com")).isFalse();
        assertThat(FOO.covers(null)).isFalse();
        assertThat(FOO.covers("")).isFalse();
        assertThat(FOO.covers("[::1]")).isFalse();
        assertThat(WILD.coversName("*.foo.com")).isTrue();
        assertThat(WILD.coversName("x.foo.com")).isTrue();
        assertThat(FOO.coversName("*.foo.com")).isFalse();
        assertThat(DEFAULT.names()).containsExactly(SelfSignedCertificates.DEFAULT_NAME);
    }

    @Test
    void namesFallBackToTheCommonName() {
        TlsCertificate ca = TlsCertificate.load("demo/ca", TlsTestSupport.ascii(OpensslFixtures.EC_P384_CA_CERT),
                                                TlsTestSupport.ascii(
                                                        OpensslFixtures.EC_P384_SEC1_KEY_WITH_PARAMETERS), false);
        assertThat(ca.names()).containsExactly("openssl fixture ca");
        TlsCertificate rsa = TlsCertificate.load("demo/rsa", TlsTestSupport.ascii(OpensslFixtures.RSA_CERT),
                                                 TlsTestSupport.ascii(OpensslFixtures.RSA_PKCS1_KEY), false);
        assertThat(rsa.names()).as("SANs win over the CN").containsExactly("rsa.example.com", "*.rsa.example.com");
        assertThat(rsa.subject()).isEqualTo("CN=rsa.example.com,O=Openssl Fixture");
        assertThat(rsa.issuer()).isEqualTo(rsa.subject());
        assertThat(rsa.notAfter()).isAfter(java.time.Instant.parse("2100-01-01T00:00:00Z"));
        assertThat(rsa.chainLength()).isEqualTo(1);
        assertThat(rsa.fingerprint()).hasSize(64);
    }

    @Test
    void misdirectedWhenTheHostWantsAnotherCertificate() {
        // A connection made for foo.com may carry www.foo.com (same certificate) but not bar.io (its own).
        assertThat(TABLE.misdirected(FOO, "www.foo.com:8443")).isFalse();
        assertThat(TABLE.misdirected(FOO, "bar.io")).isTrue();
        assertThat(TABLE.misdirected(FOO, "api.foo.com")).as("the wildcard's certificate is another").isTrue();
        assertThat(TABLE.misdirected(WILD, "api.foo.com")).isFalse();
        assertThat(TABLE.misdirected(WILD, "web.foo.com")).isFalse();
        // Unknown SNI got the default: unknown hosts are served on it, configured ones are not.
        assertThat(TABLE.misdirected(DEFAULT, "unknown.org")).isFalse();
        assertThat(TABLE.misdirected(DEFAULT, "broken.example.com")).isFalse();
        assertThat(TABLE.misdirected(DEFAULT, "foo.com")).isTrue();
        // A host that has no certificate, on a connection made for foo.com: the default is another certificate.
        assertThat(TABLE.misdirected(FOO, "unknown.org")).isTrue();
    }

    @Test
    void misdirectedComparesCertificatesAcrossTables() {
        Pem pem = SelfSignedCertificates.generate("foo.com");
        TlsCertificate before = TlsCertificate.load("demo/foo", pem.certificate(), pem.privateKey(), false);
        TlsCertificate after = TlsCertificate.load("demo/foo", pem.certificate(), pem.privateKey(), false);
        TlsTable.Builder b = TlsTable.builder(DEFAULT);
        b.add("foo.com", after);
        b.add("alias.com", after);
        TlsTable next = b.build();
        assertThat(before.sameCertificate(after)).isTrue();
        assertThat(before.sameCertificate(FOO)).isFalse();
        // alias.com is not among the certificate's names, but selects the same certificate: not misdirected.
        assertThat(next.misdirected(before, "alias.com")).isFalse();
    }

    @Test
    void entriesForConfigDump() {
        List<EntryView> entries = TABLE.entries();
        assertThat(entries).extracting(EntryView::host)
                           .containsExactly("*.foo.com", "bar.io", "broken.example.com", "foo.com", "www.foo.com",
                                            null);
        EntryView bar = entries.get(1);
        assertThat(bar.secret()).isEqualTo("other/bar");
        assertThat(bar.subject()).isEqualTo("CN=bar.io");
        assertThat(bar.issuer()).isEqualTo("CN=bar.io");
        assertThat(bar.sans()).containsExactly("bar.io");
        assertThat(bar.notAfter()).isEqualTo(BAR.notAfter());
        assertThat(bar.isDefault()).isFalse();
        EntryView broken = entries.get(2);
        assertThat(broken.secret()).isEqualTo(TlsCertificate.GENERATED);
        assertThat(broken.isDefault()).isTrue();
        EntryView last = entries.get(entries.size() - 1);
        assertThat(last.isDefault()).isTrue();
        assertThat(last.subject()).contains("CN=ingress.local");
        assertThat(TABLE.size()).isEqualTo(5);
    }

    @Test
    void invalidHostsAreRefused() {
        TlsTable.Builder b = TlsTable.builder(DEFAULT);
        for (String bad : List.of("", "*.", "*", "a..b", ".a", "a.", "foo.com:443", "*.*.foo.com", "f*o.com",
                                  "a b.com")) {
            assertThatThrownBy(() -> b.add(bad, FOO)).as(bad).isInstanceOf(IllegalArgumentException.class)
                                                     .hasMessageContaining("expected: a DNS name");
        }
    }

    @Test
    void lookupsAllocateNothingNoticeable() {
        // Warm up, then check that a million lookups do not churn the heap (a copy per lookup would be ~50 MB).
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        StringBuilder host = new StringBuilder("API.Foo.Com:8443");
        for (int i = 0; i < 100_000; i++) {
            TABLE.select("api.foo.com");
            TABLE.hasTls(host);
            FOO.covers(host);
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        int hits = 0;
        for (int i = 0; i < 1_000_000; i++) {
            hits += TABLE.select("api.foo.com") == WILD ? 1 : 0;
            hits += TABLE.hasTls(host) ? 1 : 0;
            hits += WILD.covers(host) ? 1 : 0;
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertThat(hits).isEqualTo(3_000_000);
        assertThat(allocated).isLessThan(1_000_000);
    }

    @Test
    void servesTheSelectedCertificateBehindNettysSniHandler() throws Exception {
        AtomicReference<TlsTable> live = new AtomicReference<>(TABLE);
        Mapping<String, SslContext> mapping = sni -> live.get().select(sni).sslContext();
        try (TlsServer server = new TlsServer(() -> new SniHandler(mapping))) {
            assertThat(servedName(server, "www.foo.com")).isEqualTo("CN=foo.com");
            assertThat(servedName(server, "API.foo.com")).isEqualTo("CN=*.foo.com");
            assertThat(servedName(server, "bar.io")).isEqualTo("CN=bar.io");
            assertThat(servedName(server, "nobody.org")).contains("CN=ingress.local");
            assertThat(servedName(server, null)).contains("CN=ingress.local");
            // A new table serves new handshakes at once.
            TlsCertificate renewed = cert("other/bar", "bar.io", "renewed.bar.io");
            TlsTable.Builder b = TlsTable.builder(DEFAULT);
            b.add("bar.io", renewed);
            live.set(b.build());
            try (SSLSocket s = handshake(TlsTestSupport.trustAll(), server.port(), "bar.io", null, null, null)) {
                assertThat(peerLeaf(s).getSubjectAlternativeNames()).hasSize(2);
            }
        }
    }

    /**
     * The subject of the certificate served for {@code sni}. A new client context each time: the JDK's client
     * resumes a cached session of the same address with that session's SNI, whatever it is asked to send.
     */
    private static String servedName(TlsServer server, String sni) throws Exception {
        try (SSLSocket s = handshake(TlsTestSupport.trustAll(), server.port(), sni, null, null, null)) {
            return peerLeaf(s).getSubjectX500Principal().getName();
        }
    }
}
