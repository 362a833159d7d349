package io.ferry.l7.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ferry.l7.tls.SelfSignedCertificates.KeyAlgorithm;
import io.ferry.l7.tls.SelfSignedCertificates.Pem;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class SelfSignedCertificatesTest {

    @Test
    void defaultCertificateIsTheFakeOne() {
        Pem pem = SelfSignedCertificates.generateDefault();
        assertThat(pem.certificateText()).startsWith("-----BEGIN CERTIFICATE-----\n")
                                         .endsWith("-----END CERTIFICATE-----\n");
        assertThat(pem.privateKeyText()).startsWith("-----BEGIN PRIVATE KEY-----\n");
        X509Certificate leaf = KeyMaterial.parseChain(pem.certificate())[0];
        assertThat(leaf.getSubjectX500Principal().getName())
                .isEqualTo("CN=ingress.local,O=Ferry Ingress Controller Fake Certificate");
        assertThat(leaf.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1); // not a CA
        Duration validity = Duration.between(leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant());
        assertThat(validity).isBetween(Duration.ofDays(365), Duration.ofDays(366));

        TlsCertificate c = TlsCertificate.generateDefault();
        assertThat(c.isDefault()).isTrue();
        assertThat(c.secret()).isEqualTo(TlsCertificate.GENERATED);
        assertThat(c.names()).containsExactly("ingress.local");
    }

    @Test
    void certificatesForNames() throws Exception {
        Pem pem = SelfSignedCertificates.generate(KeyAlgorithm.RSA_2048, "myblog.devops.cn", "*.devops.cn");
        X509Certificate leaf = KeyMaterial.parseChain(pem.certificate())[0];
        assertThat(leaf.getPublicKey().getAlgorithm()).isEqualTo("RSA");
        assertThat(leaf.getSubjectX500Principal().getName()).isEqualTo("CN=myblog.devops.cn");
        assertThat(leaf.getSubjectAlternativeNames()).extracting(san -> (Object) san.get(1))
                                                     .containsExactly("myblog.devops.cn", "*.devops.cn");
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1"); // serverAuth
        KeyMaterial.parse(pem.certificate(), pem.privateKey()); // the pair matches
    }

    @Test
    void expiredCertificatesCanBeMadeForTests() {
        Instant past = Instant.parse("2020-01-01T00:00:00Z");
        Pem pem = SelfSignedCertificates.generate(KeyAlgorithm.EC_P256, past, past.plus(Duration.ofDays(1)), null,
                                                  List.of("old.example.com"));
        TlsCertificate c = TlsCertificate.load("demo/old", pem.certificate(), pem.privateKey(), false);
        assertThat(c.notAfter()).isEqualTo(past.plus(Duration.ofDays(1)));
        assertThatThrownBy(() -> SelfSignedCertificates.generate(KeyAlgorithm.EC_P256, past, past, null, List.of()))
                .hasMessageContaining("expected: after notBefore");
    }

    @Test
    void withoutNamesTheCommonNameIsTheOnlyName() {
        Instant now = Instant.now();
        Pem pem = SelfSignedCertificates.generate(KeyAlgorithm.EC_P256, now, now.plus(Duration.ofDays(1)), null,
                                                  List.of());
        TlsCertificate c = TlsCertificate.load("demo/cn", pem.certificate(), pem.privateKey(), false);
        assertThat(c.names()).containsExactly(SelfSignedCertificates.DEFAULT_NAME);
        assertThat(c.covers("ingress.local:443")).isTrue();
    }
}
