package io.ferry.l7.tls;

import static java.util.Objects.requireNonNull;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.crypto.spec.PBEParameterSpec;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509TrustManager;

/**
 * Builds the edge's server {@link SslContext}s, one policy for all of them.
 *
 * <ul>
 *   <li><b>Provider</b>: {@link SslProvider#OPENSSL} (BoringSSL, from {@code netty-tcnative-boringssl-static}) when
 *       {@link OpenSsl#isAvailable()}, else {@link SslProvider#JDK}. {@code OPENSSL}, not {@code OPENSSL_REFCNT}:
 *       its contexts free their native state when garbage-collected, so a context that only an old
 *       {@link TlsTable} (or an open connection) still holds needs no {@code release()}. Say
 *       {@link #providerName()} once at start.</li>
 *   <li><b>Protocols</b>: {@link #PROTOCOLS} — TLS 1.3 and 1.2; SSLv3, TLS 1.0 and 1.1 are refused, as Mozilla's
 *       "intermediate" profile and ingress-nginx's default {@code ssl-protocols: TLSv1.2 TLSv1.3} do.</li>
 *   <li><b>Cipher suites</b>: {@link #CIPHER_SUITES} — for TLS 1.2 Mozilla's "intermediate" list without its DHE
 *       suites: ECDHE key exchange, ECDSA or RSA certificates, AES-GCM or ChaCha20-Poly1305 only; for TLS 1.3 its
 *       three AEAD suites (BoringSSL always enables exactly these three and does not let them be configured).</li>
 *   <li><b>ALPN</b>: {@link #ALPN} advertises {@code h2} then {@code http/1.1}; a client that offers neither, or
 *       no ALPN, gets no protocol selected and speaks HTTP/1.1 ({@code NO_ADVERTISE}, {@code ACCEPT}). Read the
 *       choice with {@code SslHandler.applicationProtocol()} (or an {@code ApplicationProtocolNegotiationHandler})
 *       after the handshake.</li>
 *   <li><b>Resumption</b>: a server-side session cache of {@value #SESSION_CACHE_SIZE} sessions per context,
 *       resumable for {@link #SESSION_TIMEOUT} (ingress-nginx's {@code ssl-session-timeout} is 10 minutes too). With
 *       OpenSSL, session tickets as well — TLS 1.3 resumes only through tickets — encrypted with keys that
 *       BoringSSL generates per context, keeps in memory only and rotates itself (every two days); Netty's
 *       {@code OpenSslSessionContext.setTicketKeys()} with no keys turns that on. The JDK provider resumes with
 *       its own cache (and TLS 1.3 PSKs).</li>
 * </ul>
 *
 * <p>Keys: RSA or ECDSA, in PKCS#1, PKCS#8 or SEC1 PEM; the chain leaf first. The key must match the leaf
 * certificate. Every refusal is an {@link IllegalArgumentException} that names what is wrong.
 *
 * <p>Building a context parses PEM and, with OpenSSL, creates native state: do it off the event loops (the
 * control thread), and reuse contexts while their Secret does not change.
 */
public final class TlsContexts {

    /** The protocols a server context enables, preferred first. */
    public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    /** The cipher suites a server context enables (IANA names), TLS 1.3 first, then TLS 1.2 by preference. */
    public static final List<String> CIPHER_SUITES = List.of(
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    /** ALPN: {@code h2}, then {@code http/1.1}. */
    public static final ApplicationProtocolConfig ALPN = new ApplicationProtocolConfig(
            Protocol.ALPN, SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);

    /** Sessions kept per context for resumption. */
    public static final int SESSION_CACHE_SIZE = 10_000;

    /** How long a cached session can be resumed. */
    public static final Duration SESSION_TIMEOUT = Duration.ofMinutes(10);

    private TlsContexts() {
    }

    /** {@link SslProvider#OPENSSL} when BoringSSL loads here, else {@link SslProvider#JDK}. */
    public static SslProvider provider() {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /**
     * Which provider the server contexts use, for the start-up log: {@code "OpenSSL (BoringSSL)"}, or
     * {@code "JDK (OpenSSL unavailable: <why>)"}.
     */
    public static String providerName() {
        if (OpenSsl.isAvailable()) {
            return "OpenSSL (" + OpenSsl.versionString() + ')';
        }
        Throwable cause = OpenSsl.unavailabilityCause();
        return "JDK (OpenSSL unavailable: " + (cause == null ? "unknown" : cause.toString()) + ')';
    }

    /**
     * A server context for a certificate chain and its key, with {@link #provider()}.
     *
     * @param certChainPem the leaf certificate then its intermediates, PEM ({@code tls.crt})
     * @param keyPem the leaf's private key, PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) ({@code tls.key})
     * @throws IllegalArgumentException if the chain or the key does not parse, or the key does not match the leaf
     */
    public static SslContext server(byte[] certChainPem, byte[] keyPem) {
        return server(certChainPem, keyPem, provider());
    }

    /** {@link #server(byte[], byte[])} with a given provider ({@code OPENSSL} needs {@link OpenSsl#isAvailable()}). */
    public static SslContext server(byte[] certChainPem, byte[] keyPem, SslProvider provider) {
        return server(KeyMaterial.parse(certChainPem, keyPem), provider);
    }

    /** Salts for the key stores of {@link #keyManagers}. */
    private static final SecureRandom SALTS = new SecureRandom();

    /**
     * The server contexts' trust manager: clients are never asked for a certificate, so no CA list is loaded or
     * sent. Without it, each context would get the JDK's default one, and OpenSSL would be handed the ~140 system CAs
     * as the names to send in a certificate request: 60 % of the cost of building a context (about 9 of 15 ms),
     * paid for every TLS Secret.
     */
    private static final X509TrustManager NO_CLIENT_CERTIFICATES = new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("client certificates are not accepted");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a server context does not verify servers");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };

    /**
     * The key managers of a server context, made here rather than by Netty: Netty puts the key in a PKCS#12 key
     * store protected by the JDK's default, PBKDF2 with 10,000 iterations, paid twice (to store it, then to read it
     * back): about 5 of the 8 ms a context costs, for every TLS Secret. The store lives in memory for the length of
     * this call and its password is empty, so its protection is nominal either way: one iteration.
     */
    private static KeyManagerFactory keyManagers(KeyMaterial material) throws SSLException {
        try {
            char[] password = new char[0];
            byte[] salt = new byte[16];
            SALTS.nextBytes(salt);
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setEntry("key", new KeyStore.PrivateKeyEntry(material.key(), material.chain()),
                           new KeyStore.PasswordProtection(password, "PBEWithHmacSHA256AndAES_256",
                                                           new PBEParameterSpec(salt, 1)));
            KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            factory.init(store, password);
            return factory;
        } catch (GeneralSecurityException | IOException e) {
            throw new SSLException("cannot hold the key: " + e.getMessage(), e);
        }
    }

    static SslContext server(KeyMaterial material, SslProvider provider) {
        requireNonNull(provider, "provider");
        if (provider == SslProvider.OPENSSL_REFCNT) {
            throw new IllegalArgumentException("provider: OPENSSL_REFCNT (expected: OPENSSL or JDK; contexts are "
                                               + "dropped with old tables, never released)");
        }
        SslContext context;
        try {
            context = SslContextBuilder.forServer(keyManagers(material))
                                    .sslProvider(provider)
                                    .trustManager(NO_CLIENT_CERTIFICATES)
                                    .protocols(PROTOCOLS)
                                    .ciphers(CIPHER_SUITES, SupportedCipherSuiteFilter.INSTANCE)
                                    .applicationProtocolConfig(ALPN)
                                    .sessionCacheSize(SESSION_CACHE_SIZE)
                                    .sessionTimeout(SESSION_TIMEOUT.toSeconds())
                                    .build();
        } catch (SSLException | RuntimeException e) {
            throw new IllegalArgumentException("cannot build a TLS context for " + material.leaf()
                    .getSubjectX500Principal().getName() + " with " + provider + ": " + e.getMessage(), e);
        }
        if (context.sessionContext() instanceof OpenSslSessionContext) {
            // No keys given: BoringSSL makes its own and rotates them.
            ((OpenSslSessionContext) context.sessionContext()).setTicketKeys();
        }
        return context;
    }
}
