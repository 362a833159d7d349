package io.ferry.l7.tls;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Generates self-signed server certificates as PEM: the default certificate that answers unknown SNI when no
 * {@code --default-ssl-certificate} is given (as ingress-nginx generates its "Kubernetes Ingress Controller Fake
 * Certificate" at start), and certificates for given DNS names, which tests and the demo put in Secrets.
 *
 * <p>Certificates are built with BouncyCastle's {@link X509v3CertificateBuilder} and signed with the JDK's own
 * {@code KeyPairGenerator} and {@code Signature}; BouncyCastle is not registered as a JCE provider. Each carries its
 * names as DNS subject alternative names (the first is also the CN), {@code serverAuth} extended key usage and
 * {@code CA:FALSE}, and a random 127-bit serial. The output is what a {@code kubernetes.io/tls} Secret holds:
 * {@code tls.crt} as a {@code CERTIFICATE} block, {@code tls.key} as PKCS#8 ({@code PRIVATE KEY}).
 *
 * <p>Generating an RSA key takes tens of milliseconds; keep it off the event loops.
 */
public final class SelfSignedCertificates {

    /** The name of the default certificate: its CN and only SAN, as ingress-nginx's fake certificate's SAN. */
    public static final String DEFAULT_NAME = "ingress.local";

    /** The default certificate's organization, so that a client shows what it met. */
    public static final String DEFAULT_ORGANIZATION = "Ferry Ingress Controller Fake Certificate";

    /** How long a generated certificate is valid: one year (from one hour ago, to tolerate clock skew). */
    public static final Duration VALIDITY = Duration.ofDays(365);

    private static final Duration BACKDATE = Duration.ofHours(1);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The key of a generated certificate. */
    public enum KeyAlgorithm {
        /** ECDSA on P-256 ({@code secp256r1}), signed with SHA-256: small and fast. */
        EC_P256,
        /** RSA 2048, signed with SHA-256: for clients that know no ECDSA. */
        RSA_2048
    }

    /**
     * A certificate and its key as PEM, as a {@code kubernetes.io/tls} Secret holds them.
     *
     * @param certificate {@code tls.crt}: one {@code CERTIFICATE} block
     * @param privateKey {@code tls.key}: one PKCS#8 {@code PRIVATE KEY} block
     */
    public record Pem(byte[] certificate, byte[] privateKey) {
        public Pem {
            requireNonNull(certificate, "certificate");
            requireNonNull(privateKey, "privateKey");
        }

        /** {@code tls.crt} as text. */
        public String certificateText() {
            return new String(certificate, StandardCharsets.US_ASCII);
        }

        /** {@code tls.key} as text. */
        public String privateKeyText() {
            return new String(privateKey, StandardCharsets.US_ASCII);
        }
    }

    private SelfSignedCertificates() {
    }

    /**
     * The default certificate: ECDSA P-256, valid for {@link #VALIDITY}, CN and SAN {@value #DEFAULT_NAME},
     * organization {@value #DEFAULT_ORGANIZATION}.
     */
    public static Pem generateDefault() {
        Instant now = Instant.now();
        return generate(KeyAlgorithm.EC_P256, now.minus(BACKDATE), now.plus(VALIDITY), DEFAULT_ORGANIZATION,
                        List.of(DEFAULT_NAME));
    }

    /**
     * An ECDSA P-256 certificate for {@code dnsNames} (the first is also the CN), valid for {@link #VALIDITY}.
     *
     * @param dnsNames DNS names or {@code *.} wildcards, at least one
     */
    public static Pem generate(String... dnsNames) {
        Instant now = Instant.now();
        return generate(KeyAlgorithm.EC_P256, now.minus(BACKDATE), now.plus(VALIDITY), null, List.of(dnsNames));
    }

    /** A certificate for {@code dnsNames} with a key of {@code algorithm}, valid for {@link #VALIDITY}. */
    public static Pem generate(KeyAlgorithm algorithm, String... dnsNames) {
        Instant now = Instant.now();
        return generate(algorithm, now.minus(BACKDATE), now.plus(VALIDITY), null, List.of(dnsNames));
    }

    /**
     * A certificate with everything chosen.
     *
     * @param algorithm the key's algorithm
     * @param notBefore when it starts being valid
     * @param notAfter when it stops being valid; after {@code notBefore}
     * @param organization the subject's O, or {@code null} for none
     * @param dnsNames its subject alternative names (DNS names or {@code *.} wildcards); the first is also the CN.
     *                 Empty: no SAN extension, and the CN is {@value #DEFAULT_NAME} (to test the CN fallback)
     */
    public static Pem generate(KeyAlgorithm algorithm, Instant notBefore, Instant notAfter, String organization,
                               List<String> dnsNames) {
        requireNonNull(algorithm, "algorithm");
        requireNonNull(notBefore, "notBefore");
        requireNonNull(notAfter, "notAfter");
        List<String> names = List.copyOf(requireNonNull(dnsNames, "dnsNames"));
        if (!notAfter.isAfter(notBefore)) {
            throw new IllegalArgumentException("notAfter: " + notAfter + " (expected: after notBefore " + notBefore
                                               + ')');
        }
        try {
            KeyPair pair = keyPair(algorithm);
            X500NameBuilder subject = new X500NameBuilder(BCStyle.INSTANCE);
            if (organization != null) {
                subject.addRDN(BCStyle.O, organization);
            }
            subject.addRDN(BCStyle.CN, names.isEmpty() ? DEFAULT_NAME : names.get(0));
            X500Name name = subject.build();
            BigInteger serial = new BigInteger(127, RANDOM).setBit(126); // positive, non-zero, 16 bytes of DER
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    name, serial, Date.from(notBefore), Date.from(notAfter), name, pair.getPublic());
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            int usage = KeyUsage.digitalSignature | (algorithm == KeyAlgorithm.RSA_2048 ? KeyUsage.keyEncipherment
                                                                                        : 0);
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(usage));
            builder.addExtension(Extension.extendedKeyUsage, false,
                                 new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            builder.addExtension(Extension.subjectKeyIdentifier, false,
                                 extensions.createSubjectKeyIdentifier(pair.getPublic()));
            if (!names.isEmpty()) {
                List<GeneralName> sans = new ArrayList<>();
                for (String dns : names) {
                    sans.add(new GeneralName(GeneralName.dNSName, requireNonNull(dns, "dnsNames[]")));
                }
                builder.addExtension(Extension.subjectAlternativeName, false,
                                     new GeneralNames(sans.toArray(new GeneralName[0])));
            }
            String signature = algorithm == KeyAlgorithm.RSA_2048 ? "SHA256withRSA" : "SHA256withECDSA";
            ContentSigner signer = new JcaContentSignerBuilder(signature).build(pair.getPrivate());
            X509CertificateHolder certificate = builder.build(signer);
            return new Pem(pem("CERTIFICATE", certificate.getEncoded()),
                           pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot generate a self-signed certificate: " + e, e);
        }
    }

    private static KeyPair keyPair(KeyAlgorithm algorithm) throws GeneralSecurityException {
        if (algorithm == KeyAlgorithm.RSA_2048) {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048, RANDOM);
            return g.generateKeyPair();
        }
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return g.generateKeyPair();
    }

    /** One PEM block: {@code -----BEGIN type-----}, base64 in lines of 64, {@code -----END type-----}. */
    static byte[] pem(String type, byte[] der) {
        String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
        return ("-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n")
                .getBytes(StandardCharsets.US_ASCII);
    }
}
