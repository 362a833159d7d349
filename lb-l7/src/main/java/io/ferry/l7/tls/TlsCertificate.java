package io.ferry.l7.tls;

import static java.util.Objects.requireNonNull;

import io.ferry.l7.route.HostIndex;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;

/**
 * One certificate the edge can present: its {@link SslContext}, where it came from, and the names it is valid for.
 * An entry of the {@link TlsTable}.
 *
 * <p><b>Names</b>: the leaf's DNS subject alternative names, lowercased; only when it has none, its subject CN (as
 * ingress-nginx falls back to the CN). A name {@code *.foo.com} covers exactly one more label: {@code a.foo.com},
 * neither {@code foo.com} nor {@code a.b.foo.com} (RFC 6125 6.4.3, as browsers do); other uses of {@code *} match
 * nothing. IP address SANs are not names here: Ingress hosts cannot be IP addresses.
 *
 * <p><b>Identity</b>: two entries are the {@linkplain #sameCertificate same certificate} when their leaves are
 * byte-for-byte equal, whatever table they come from — so a connection that kept the entry it was handshaken with
 * can be compared with a later table's entries.
 *
 * <p>Immutable; built on the control thread (building parses PEM and creates native state), read by every event
 * loop without locks. {@link #covers} allocates nothing.
 */
public final class TlsCertificate {

    /** The {@link #secret()} of a generated default certificate. */
    public static final String GENERATED = "default";

    private final String secret;
    private final SslContext sslContext;
    private final boolean isDefault;
    private final List<String> names;
    private final HostIndex<Boolean> exactNames;
    /** Keyed by what follows {@code *.}. */
    private final HostIndex<Boolean> wildcardNames;
    private final String subject;
    private final String issuer;
    private final Instant notBefore;
    private final Instant notAfter;
    private final byte[] fingerprint;
    private final int chainLength;

    private TlsCertificate(String secret, KeyMaterial material, SslContext sslContext, boolean isDefault) {
        this.secret = secret;
        this.sslContext = sslContext;
        this.isDefault = isDefault;
        X509Certificate leaf = material.leaf();
        this.names = names(leaf);
        Map<String, Boolean> exact = new LinkedHashMap<>();
        Map<String, Boolean> wildcards = new LinkedHashMap<>();
        for (String n : names) {
            if (n.startsWith("*.") && n.length() > 2) {
                wildcards.put(n.substring(2), Boolean.TRUE);
            } else if (n.indexOf('*') < 0) {
                exact.put(n, Boolean.TRUE);
            }
        }
        this.exactNames = new HostIndex<>(exact);
        this.wildcardNames = new HostIndex<>(wildcards);
        this.subject = leaf.getSubjectX500Principal().getName();
        this.issuer = leaf.getIssuerX500Principal().getName();
        this.notBefore = leaf.getNotBefore().toInstant();
        this.notAfter = leaf.getNotAfter().toInstant();
        this.fingerprint = sha256(leaf);
        this.chainLength = material.chain().length;
    }

    /**
     * Loads a certificate from PEM, building its context with {@link TlsContexts#provider()}.
     *
     * @param secret where it came from: {@code namespace/name} of its Secret, or {@link #GENERATED}
     * @param certChainPem {@code tls.crt}: the leaf certificate, then its intermediates
     * @param keyPem {@code tls.key}: the leaf's private key (PKCS#8, PKCS#1 or SEC1)
     * @param isDefault whether this is the table's default certificate (for unknown or missing SNI)
     * @throws IllegalArgumentException if the PEM does not parse or the key does not match the certificate; the
     *                                  message says which
     */
    public static TlsCertificate load(String secret, byte[] certChainPem, byte[] keyPem, boolean isDefault) {
        return load(secret, certChainPem, keyPem, isDefault, TlsContexts.provider());
    }

    /** {@link #load(String, byte[], byte[], boolean)} with a given provider. */
    public static TlsCertificate load(String secret, byte[] certChainPem, byte[] keyPem, boolean isDefault,
                                      SslProvider provider) {
        requireNonNull(secret, "secret");
        KeyMaterial material = KeyMaterial.parse(certChainPem, keyPem);
        return new TlsCertificate(secret, material, TlsContexts.server(material, provider), isDefault);
    }

    /**
     * A freshly generated self-signed default certificate ({@link SelfSignedCertificates#generateDefault()}),
     * named {@link #GENERATED}: what unknown SNI gets when no {@code --default-ssl-certificate} is given.
     */
    public static TlsCertificate generateDefault() {
        SelfSignedCertificates.Pem pem = SelfSignedCertificates.generateDefault();
        return load(GENERATED, pem.certificate(), pem.privateKey(), true);
    }

    /** The server context to make this certificate's {@code SslHandler} with. */
    public SslContext sslContext() {
        return sslContext;
    }

    /** Where it came from: its Secret's {@code namespace/name}, or {@link #GENERATED}. */
    public String secret() {
        return secret;
    }

    /** Whether this is the default certificate, which answers unknown or missing SNI. */
    public boolean isDefault() {
        return isDefault;
    }

    /** The names it is valid for, lowercased: its DNS SANs, else its CN; possibly with {@code *.} wildcards. */
    public List<String> names() {
        return names;
    }

    /** The leaf's subject, RFC 2253 ({@code CN=foo.com,O=Acme}). */
    public String subject() {
        return subject;
    }

    /** The leaf's issuer, RFC 2253. */
    public String issuer() {
        return issuer;
    }

    public Instant notBefore() {
        return notBefore;
    }

    /** When the leaf expires. */
    public Instant notAfter() {
        return notAfter;
    }

    /** How many certificates the chain has, leaf included. */
    public int chainLength() {
        return chainLength;
    }

    /** The SHA-256 of the leaf's DER, lowercase hex (what {@code openssl x509 -fingerprint -sha256} shows). */
    public String fingerprint() {
        return HexFormat.of().formatHex(fingerprint);
    }

    /**
     * Whether a request Host is one of this certificate's names: {@code hostHeader} as received, any case, with an
     * optional {@code :port} and trailing dot. An IPv6 literal, {@code null} or empty is never covered. Allocates
     * nothing.
     */
    public boolean covers(CharSequence hostHeader) {
        int end = HostNames.hostEnd(hostHeader);
        return end > 0 && HostNames.lookup(exactNames, wildcardNames, hostHeader, 0, end) != null;
    }

    /**
     * Whether a configured host name — a DNS name or a {@code *.} wildcard, as an Ingress's {@code spec.tls[].hosts}
     * holds — is covered: a DNS name as by {@link #covers}, a wildcard only by the same wildcard among the names.
     */
    public boolean coversName(String name) {
        requireNonNull(name, "name");
        if (name.startsWith("*.")) {
            return names.contains(HostIndex.toLowerAscii(name));
        }
        return covers(name);
    }

    /** Whether {@code other} presents the same leaf certificate (byte for byte), from whatever table. */
    public boolean sameCertificate(TlsCertificate other) {
        return other == this || other != null && Arrays.equals(fingerprint, other.fingerprint);
    }

    @Override
    public String toString() {
        return "TlsCertificate(" + secret + (isDefault ? ", default" : "") + ", " + names + ", notAfter "
               + notAfter + ')';
    }

    private static List<String> names(X509Certificate leaf) {
        List<String> names = new ArrayList<>();
        try {
            Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (san.size() >= 2 && Integer.valueOf(2).equals(san.get(0)) && san.get(1) instanceof String) {
                        String dns = HostIndex.toLowerAscii((String) san.get(1));
                        if (!names.contains(dns)) {
                            names.add(dns);
                        }
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // An unreadable SAN extension: fall back to the CN, as for none.
        }
        if (names.isEmpty()) {
            X500Name subject = X500Name.getInstance(leaf.getSubjectX500Principal().getEncoded());
            for (RDN rdn : subject.getRDNs(BCStyle.CN)) {
                String cn = IETFUtils.valueToString(rdn.getFirst().getValue());
                if (!cn.isEmpty()) {
                    names.add(HostIndex.toLowerAscii(cn));
                }
            }
        }
        return List.copyOf(names);
    }

    private static byte[] sha256(X509Certificate leaf) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(leaf.getEncoded());
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            throw new IllegalStateException("cannot fingerprint " + leaf.getSubjectX500Principal(), e);
        }
    }
}
