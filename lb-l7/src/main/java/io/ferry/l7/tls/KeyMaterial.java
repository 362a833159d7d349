package io.ferry.l7.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * A certificate chain and its private key read from PEM and checked against each other, ready for an
 * {@code SslContext}.
 *
 * <p>The chain is every {@code CERTIFICATE} block of its PEM, leaf first (text between blocks is ignored, as
 * {@code openssl} does). The key is the first private key of its PEM, in any of the encodings a
 * {@code kubernetes.io/tls} Secret carries: PKCS#8 ({@code PRIVATE KEY}), PKCS#1 ({@code RSA PRIVATE KEY}) or SEC1
 * ({@code EC PRIVATE KEY}, with or without its {@code EC PARAMETERS} block). RSA and ECDSA keys are accepted;
 * encrypted keys are not (a Secret has no place for a passphrase). BouncyCastle parses the PEM; the JDK's own
 * providers build the key objects, so BouncyCastle is never registered as a JCE provider.
 *
 * <p>The key must belong to the leaf: a signature made with the private key must verify with the leaf's public key.
 * Every refusal is an {@link IllegalArgumentException} whose message says what was wrong.
 */
final class KeyMaterial {

    private static final SecureRandom RANDOM = new SecureRandom();

    private final X509Certificate[] chain;
    private final PrivateKey key;

    private KeyMaterial(X509Certificate[] chain, PrivateKey key) {
        this.chain = chain;
        this.key = key;
    }

    /** The chain, leaf first. The array is the caller's to keep (a copy). */
    X509Certificate[] chain() {
        return chain.clone();
    }

    X509Certificate leaf() {
        return chain[0];
    }

    PrivateKey key() {
        return key;
    }

    /**
     * Reads and checks a certificate chain and its key.
     *
     * @throws IllegalArgumentException if either does not parse or the key does not match the leaf certificate
     */
    static KeyMaterial parse(byte[] certChainPem, byte[] keyPem) {
        X509Certificate[] chain = parseChain(certChainPem);
        PrivateKey key = parseKey(keyPem);
        checkPair(chain[0], key);
        return new KeyMaterial(chain, key);
    }

    static X509Certificate[] parseChain(byte[] pem) {
        if (pem == null || pem.length == 0) {
            throw new IllegalArgumentException("certificate: empty (expected: PEM, -----BEGIN CERTIFICATE-----)");
        }
        List<X509Certificate> chain = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        for (Object o : readAll(pem, "certificate")) {
            if (o instanceof X509CertificateHolder) {
                try {
                    chain.add(converter.getCertificate((X509CertificateHolder) o));
                } catch (CertificateException e) {
                    throw new IllegalArgumentException("certificate #" + (chain.size() + 1) + " cannot be read ("
                                                       + describe(e) + ')', e);
                }
            }
        }
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("certificate: no CERTIFICATE block found (expected: PEM, "
                                               + "-----BEGIN CERTIFICATE-----)");
        }
        return chain.toArray(new X509Certificate[0]);
    }

    static PrivateKey parseKey(byte[] pem) {
        if (pem == null || pem.length == 0) {
            throw new IllegalArgumentException("private key: empty (expected: PEM, -----BEGIN PRIVATE KEY-----, "
                                               + "RSA PRIVATE KEY or EC PRIVATE KEY)");
        }
        PrivateKeyInfo info = null;
        for (Object o : readAll(pem, "private key")) {
            if (o instanceof PEMKeyPair) {
                info = ((PEMKeyPair) o).getPrivateKeyInfo();
            } else if (o instanceof PrivateKeyInfo) {
                info = (PrivateKeyInfo) o;
            } else if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
                throw new IllegalArgumentException("private key: encrypted (expected: an unencrypted key; a Secret "
                                                   + "has no place for a passphrase)");
            }
            if (info != null) {
                break;
            }
        }
        if (info == null) {
            throw new IllegalArgumentException("private key: no key found (expected: PEM, -----BEGIN PRIVATE "
                                               + "KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)");
        }
        ASN1ObjectIdentifier oid = info.getPrivateKeyAlgorithm().getAlgorithm();
        String algorithm;
        if (PKCSObjectIdentifiers.rsaEncryption.equals(oid)) {
            algorithm = "RSA";
        } else if (X9ObjectIdentifiers.id_ecPublicKey.equals(oid)) {
            algorithm = "EC";
        } else {
            throw new IllegalArgumentException("private key: algorithm " + oid.getId()
                                               + " is not supported (expected: RSA or EC)");
        }
        try {
            return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("private key: " + algorithm + " key cannot be read ("
                                               + describe(e) + ')', e);
        }
    }

    /** Checks that {@code key} signs what {@code leaf}'s public key verifies. */
    static void checkPair(X509Certificate leaf, PrivateKey key) {
        PublicKey publicKey = leaf.getPublicKey();
        String subject = leaf.getSubjectX500Principal().getName();
        if (!key.getAlgorithm().equals(publicKey.getAlgorithm())) {
            throw new IllegalArgumentException("private key does not match the certificate (" + subject + "): the "
                                               + "key is " + key.getAlgorithm() + ", the certificate's public key is "
                                               + publicKey.getAlgorithm());
        }
        String algorithm = "RSA".equals(key.getAlgorithm()) ? "SHA256withRSA" : "SHA256withECDSA";
        byte[] data = new byte[32];
        RANDOM.nextBytes(data);
        boolean verified;
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(data);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(data);
            verified = verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            verified = false;
        }
        if (!verified) {
            throw new IllegalArgumentException("private key does not match the certificate (" + subject + "): a "
                                               + "signature made with the key does not verify with the "
                                               + "certificate's public key");
        }
    }

    /** Every PEM object of {@code pem}, in order; text outside the blocks is skipped. */
    private static List<Object> readAll(byte[] pem, String what) {
        List<Object> objects = new ArrayList<>();
        Reader reader = new InputStreamReader(new ByteArrayInputStream(pem), StandardCharsets.ISO_8859_1);
        try (PEMParser parser = new PEMParser(reader)) {
            Object o;
            while ((o = parser.readObject()) != null) {
                objects.add(o);
            }
        } catch (IOException | RuntimeException e) { // BouncyCastle throws both for bad base64 or DER
            throw new IllegalArgumentException(what + ": not valid PEM (" + describe(e) + ')', e);
        }
        return objects;
    }

    private static String describe(Exception e) {
        String message = e.getMessage();
        return message == null || message.isEmpty() ? e.getClass().getSimpleName() : message;
    }
}
