package io.ferry.l7.tls;

import static io.ferry.l7.tls.TlsTestSupport.ascii;
import static io.ferry.l7.tls.TlsTestSupport.concat;
import static io.ferry.l7.tls.TlsTestSupport.handshake;
import static io.ferry.l7.tls.TlsTestSupport.peerLeaf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l7.tls.SelfSignedCertificates.KeyAlgorithm;
import io.ferry.l7.tls.SelfSignedCertificates.Pem;
import io.ferry.l7.tls.TlsTestSupport.TlsServer;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What the server contexts accept: each key encoding, refusals with a reason, and — over real handshakes on
 * loopback, with both providers — the protocols, cipher suites, ALPN and resumption they offer.
 */
class TlsContextsTest {

    private static final Pem EC = SelfSignedCertificates.generate("ec.example.com");
    private static final Pem RSA = SelfSignedCertificates.generate(KeyAlgorithm.RSA_2048, "rsa.example.com");

    // ---- keys and certificates ------------------------------------------------------------------------------

    @Test
    void rsaPkcs1KeyLoads() throws Exception {
        assertThat(TlsContexts.server(RSA.certificate(), TlsTestSupport.pkcs1(RSA))).isNotNull();
        assertThat(new String(TlsTestSupport.pkcs1(RSA), StandardCharsets.US_ASCII))
                .startsWith("-----BEGIN RSA PRIVATE KEY-----");
    }

    @Test
    void rsaPkcs8KeyLoads() {
        assertThat(RSA.privateKeyText()).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(TlsContexts.server(RSA.certificate(), RSA.privateKey())).isNotNull();
    }

    @Test
    void ecdsaSec1KeyLoads() throws Exception {
        assertThat(TlsContexts.server(EC.certificate(), TlsTestSupport.sec1(EC, false))).isNotNull();
        assertThat(TlsContexts.server(EC.certificate(), TlsTestSupport.sec1(EC, true))).isNotNull();
    }

    @Test
    void ecdsaPkcs8KeyLoads() {
        assertThat(TlsContexts.server(EC.certificate(), EC.privateKey())).isNotNull();
    }

    @Test
    void keysWrittenByOpensslLoad() {
        assertThat(TlsContexts.server(ascii(OpensslFixtures.RSA_CERT), ascii(OpensslFixtures.RSA_PKCS1_KEY)))
                .isNotNull();
        assertThat(TlsContexts.server(ascii(OpensslFixtures.EC_P384_CA_CERT),
                                      ascii(OpensslFixtures.EC_P384_SEC1_KEY_WITH_PARAMETERS))).isNotNull();
        assertThat(TlsContexts.server(ascii(OpensslFixtures.CHAIN_LEAF_CERT + OpensslFixtures.EC_P384_CA_CERT),
                                      ascii(OpensslFixtures.EC_P256_SEC1_KEY))).isNotNull();
    }

    @Test
    void keyOfAnotherCertificateIsRefused() {
        Pem other = SelfSignedCertificates.generate("other.example.com");
        assertThatThrownBy(() -> TlsContexts.server(EC.certificate(), other.privateKey()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("private key does not match the certificate (CN=ec.example.com)");
        assertThatThrownBy(() -> TlsContexts.server(EC.certificate(), RSA.privateKey()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("private key does not match the certificate")
                .hasMessageContaining("the key is RSA, the certificate's public key is EC");
    }

    @Test
    void chainWhoseLeafIsNotTheKeysIsRefused() {
        // The right certificate, but second: the leaf is the first block.
        byte[] chain = concat(ascii(OpensslFixtures.EC_P384_CA_CERT), ascii(OpensslFixtures.CHAIN_LEAF_CERT));
        assertThatThrownBy(() -> TlsContexts.server(chain, ascii(OpensslFixtures.EC_P256_SEC1_KEY)))
                .hasMessageContaining("private key does not match the certificate (CN=Openssl Fixture CA)");
    }

    @Test
    void garbageIsRefusedWithTheReason() {
        assertThatThrownBy(() -> TlsContexts.server(ascii("hello"), EC.privateKey()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("certificate: no CERTIFICATE block found (expected: PEM, -----BEGIN CERTIFICATE-----)");
        assertThatThrownBy(() -> TlsContexts.server(new byte[0], EC.privateKey()))
                .hasMessageStartingWith("certificate: empty");
        assertThatThrownBy(() -> TlsContexts.server(
                ascii("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"),
                EC.privateKey()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("certificate: not valid PEM");
        assertThatThrownBy(() -> TlsContexts.server(EC.certificate(), ascii("garbage")))
                .hasMessageStartingWith("private key: no key found");
        assertThatThrownBy(() -> TlsContexts.server(EC.certificate(), EC.certificate()))
                .hasMessageStartingWith("private key: no key found");
        byte[] truncated = Arrays.copyOf(EC.privateKey(), EC.privateKey().length / 2);
        assertThatThrownBy(() -> TlsContexts.server(EC.certificate(), truncated))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("private key: ");
        assertThatThrownBy(() -> TlsContexts.server(EC.certificate(), null))
                .hasMessageStartingWith("private key: empty");
    }

    @Test
    void encryptedKeysAreRefused() {
        byte[] leaf = ascii(OpensslFixtures.CHAIN_LEAF_CERT);
        for (String key : List.of(OpensslFixtures.ENCRYPTED_PKCS8_KEY, OpensslFixtures.ENCRYPTED_SEC1_KEY)) {
            assertThatThrownBy(() -> TlsContexts.server(leaf, ascii(key)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("private key: encrypted");
        }
    }

    @Test
    void providerIsSaid() {
        assertThat(TlsContexts.providerName()).startsWith(OpenSsl.isAvailable() ? "OpenSSL (" : "JDK (");
        assertThat(TlsContexts.provider()).isIn(SslProvider.OPENSSL, SslProvider.JDK);
    }

    @Test
    void referenceCountedProviderIsRefused() {
        assertThatThrownBy(() -> TlsContexts.server(EC.certificate(), EC.privateKey(), SslProvider.OPENSSL_REFCNT))
                .hasMessageContaining("OPENSSL_REFCNT");
    }

    // ---- handshakes -----------------------------------------------------------------------------------------

    private static SslContext context(SslProvider provider, Pem pem) {
        assumeTrue(provider != SslProvider.OPENSSL || OpenSsl.isAvailable(), "OpenSSL is not available here");
        return TlsContexts.server(pem.certificate(), pem.privateKey(), provider);
    }

    private static TlsServer server(SslContext context) throws InterruptedException {
        return new TlsServer(() -> context.newHandler(ByteBufAllocator.DEFAULT));
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void tls13AndTls12AreAccepted(SslProvider provider) throws Exception {
        SslContext context = context(provider, EC);
        assertThat(context.isServer()).isTrue();
        SSLContext client = TlsTestSupport.trustAll();
        try (TlsServer server = server(context)) {
            for (String protocol : List.of("TLSv1.3", "TLSv1.2")) {
                try (SSLSocket s = handshake(client, server.port(), "ec.example.com", List.of(protocol), null,
                                             null)) {
                    assertThat(s.getSession().getProtocol()).isEqualTo(protocol);
                    assertThat(s.getSession().getCipherSuite()).isIn(TlsContexts.CIPHER_SUITES);
                    assertThat(peerLeaf(s).getSubjectX500Principal().getName()).isEqualTo("CN=ec.example.com");
                }
                assertThat(server.nextHandshake()).isInstanceOf(SslHandler.class);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void tls11AndTls10AreRefused(SslProvider provider) throws Exception {
        try (TlsServer server = server(context(provider, RSA))) {
            for (int minor : new int[] {0x01, 0x02}) { // TLS 1.0, TLS 1.1
                byte[] reply = rawClientHello(server.port(), minor);
                assertThat(reply).as("TLS 1.%d: the server must not answer with a ServerHello", minor - 1)
                                 .satisfiesAnyOf(r -> assertThat(r).isEmpty(),
                                                 r -> assertThat(r[0]).isEqualTo((byte) 0x15));
                if (reply.length >= 7) {
                    assertThat(reply[6]).as("alert description").isEqualTo((byte) 70); // protocol_version
                }
                assertThat(server.nextHandshake()).isInstanceOf(Throwable.class);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void cbcSuitesAreRefused(SslProvider provider) throws Exception {
        SSLContext client = TlsTestSupport.trustAll();
        try (TlsServer server = server(context(provider, RSA))) {
            assertThatThrownBy(() -> handshake(client, server.port(), "rsa.example.com", List.of("TLSv1.2"),
                                               List.of("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
                                                       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                                                       "TLS_RSA_WITH_AES_128_GCM_SHA256"), null).close())
                    .isInstanceOf(SSLException.class);
            assertThat(server.nextHandshake()).isInstanceOf(Throwable.class);
            try (SSLSocket s = handshake(client, server.port(), "rsa.example.com", List.of("TLSv1.2"),
                                         List.of("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"), null)) {
                assertThat(s.getSession().getCipherSuite()).isEqualTo("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void alpnSelectsH2ThenHttp11(SslProvider provider) throws Exception {
        SSLContext client = TlsTestSupport.trustAll();
        try (TlsServer server = server(context(provider, EC))) {
            try (SSLSocket s = handshake(client, server.port(), "ec.example.com", null, null,
                                         List.of("http/1.1", "h2"))) {
                assertThat(s.getApplicationProtocol()).isEqualTo("h2");
            }
            assertThat(((SslHandler) server.nextHandshake()).applicationProtocol()).isEqualTo("h2");
            try (SSLSocket s = handshake(client, server.port(), "ec.example.com", null, null,
                                         List.of("http/1.1"))) {
                assertThat(s.getApplicationProtocol()).isEqualTo("http/1.1");
            }
            assertThat(((SslHandler) server.nextHandshake()).applicationProtocol()).isEqualTo("http/1.1");
            try (SSLSocket s = handshake(client, server.port(), "ec.example.com", null, null, List.of("spdy/3"))) {
                assertThat(s.getApplicationProtocol()).isEmpty(); // NO_ADVERTISE: no protocol, no failure
            }
            assertThat(((SslHandler) server.nextHandshake()).applicationProtocol()).isNull();
            try (SSLSocket s = handshake(client, server.port(), "ec.example.com", null, null, null)) {
                assertThat(s.getApplicationProtocol()).isEmpty();
            }
            assertThat(((SslHandler) server.nextHandshake()).applicationProtocol()).isNull();
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void tls12SessionsAreResumed(SslProvider provider) throws Exception {
        SSLContext client = TlsTestSupport.trustAll();
        try (TlsServer server = server(context(provider, EC))) {
            byte[] first;
            try (SSLSocket s = handshake(client, server.port(), "ec.example.com", List.of("TLSv1.2"), null, null)) {
                first = s.getSession().getId();
            }
            try (SSLSocket s = handshake(client, server.port(), "ec.example.com", List.of("TLSv1.2"), null, null)) {
                assertThat(first).isNotEmpty();
                assertThat(s.getSession().getId()).as("resumed session id").isEqualTo(first);
            }
        }
    }

    /**
     * TLS 1.3 resumes only with tickets, which the server sends after the handshake along with its first data:
     * OpenSSL's command-line client saves the session from one connection and offers it on the next.
     */
    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void tls13SessionsAreResumedByTheOpensslClient(SslProvider provider) throws Exception {
        assumeTrue(opensslCli(), "the openssl command is not installed");
        SslContext context = context(provider, EC);
        Path session = Files.createTempFile("ferry-tls13-session", ".pem");
        try (TlsServer server = new TlsServer(() -> context.newHandler(ByteBufAllocator.DEFAULT), true)) {
            assertThat(sClient(server.port(), "-sess_out", session)).contains("New, TLSv1.3");
            assertThat(sClient(server.port(), "-sess_in", session)).contains("Reused, TLSv1.3");
        } finally {
            Files.deleteIfExists(session);
        }
    }

    private static boolean opensslCli() {
        try {
            Process p = new ProcessBuilder("openssl", "version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Runs {@code openssl s_client} once: it sends a line, reads the echo and the tickets, and quits. */
    private static String sClient(int port, String sessionFlag, Path session) throws Exception {
        Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername",
                                       "ec.example.com", "-tls1_3", sessionFlag, session.toString())
                .redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write("hello\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            Thread.sleep(500); // the echo and the post-handshake tickets arrive; then end of input ends s_client
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("s_client exits").isTrue();
        return out;
    }

    @Test
    void theWholeChainIsSent() throws Exception {
        SslContext context = TlsContexts.server(
                ascii(OpensslFixtures.CHAIN_LEAF_CERT + "\nsome text between blocks\n"
                      + OpensslFixtures.EC_P384_CA_CERT),
                ascii(OpensslFixtures.EC_P256_SEC1_KEY));
        try (TlsServer server = server(context);
             SSLSocket s = handshake(TlsTestSupport.trustAll(), server.port(), "chain.example.com", null, null,
                                     null)) {
            java.security.cert.Certificate[] chain = s.getSession().getPeerCertificates();
            assertThat(chain).hasSize(2);
            assertThat(((X509Certificate) chain[1]).getSubjectX500Principal().getName())
                    .isEqualTo("CN=Openssl Fixture CA");
        }
    }

    /**
     * Sends a ClientHello for TLS 1.{@code minor - 1} offering only suites that version has (CBC, RSA and ECDHE)
     * and returns what the server answered before closing (at most 7 bytes: a record header and an alert).
     */
    private static byte[] rawClientHello(int port, int minor) throws IOException {
        byte[] sni = "rsa.example.com".getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream ext = new ByteArrayOutputStream();
        // server_name
        ext.writeBytes(new byte[] {0x00, 0x00});
        writeShort(ext, sni.length + 5);
        writeShort(ext, sni.length + 3);
        ext.write(0);
        writeShort(ext, sni.length);
        ext.writeBytes(sni);
        // supported_groups: secp256r1; ec_point_formats: uncompressed
        ext.writeBytes(new byte[] {0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17});
        ext.writeBytes(new byte[] {0x00, 0x0b, 0x00, 0x02, 0x01, 0x00});

        ByteArrayOutputStream hello = new ByteArrayOutputStream();
        hello.writeBytes(new byte[] {0x03, (byte) minor});
        hello.writeBytes(new byte[32]); // random
        hello.write(0); // no session id
        byte[] suites = {(byte) 0xc0, 0x13, (byte) 0xc0, 0x14, (byte) 0xc0, 0x09, (byte) 0xc0, 0x0a, 0x00, 0x2f,
                         0x00, 0x35};
        writeShort(hello, suites.length);
        hello.writeBytes(suites);
        hello.writeBytes(new byte[] {0x01, 0x00}); // null compression
        writeShort(hello, ext.size());
        hello.writeBytes(ext.toByteArray());

        ByteArrayOutputStream record = new ByteArrayOutputStream();
        record.writeBytes(new byte[] {0x16, 0x03, 0x01});
        writeShort(record, hello.size() + 4);
        record.write(0x01); // ClientHello
        record.write(0);
        writeShort(record, hello.size());
        record.writeBytes(hello.toByteArray());

        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(record.toByteArray());
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream reply = new ByteArrayOutputStream();
            int b;
            try {
                while (reply.size() < 7 && (b = in.read()) >= 0) {
                    reply.write(b);
                }
            } catch (java.net.SocketException e) {
                // reset after the alert: what was read is the answer
            }
            return reply.toByteArray();
        }
    }

    private static void writeShort(ByteArrayOutputStream out, int v) {
        out.write(v >>> 8);
        out.write(v & 0xff);
    }
}
