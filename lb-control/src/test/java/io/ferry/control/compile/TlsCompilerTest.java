package io.ferry.control.compile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressTLSBuilder;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.ferry.control.compile.CompiledTls.TlsView;
import io.ferry.l7.tls.SelfSignedCertificates;
import io.ferry.l7.tls.SelfSignedCertificates.KeyAlgorithm;
import io.ferry.l7.tls.SelfSignedCertificates.Pem;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How Ingresses' {@code spec.tls} and Secrets become the TLS table: which certificate each host gets, what falls
 * back to the default certificate and is reported, the default certificate flag, and the cache.
 */
class TlsCompilerTest {

    private static final String NS = "demo";
    private static final TlsCertificate GENERATED = TlsCertificate.generateDefault();
    private static final IngressClass FERRY = new IngressClassBuilder()
            .withNewMetadata().withName("ferry").endMetadata()
            .withNewSpec().withController(IngressClassFilter.CONTROLLER).endSpec().build();

    private final TlsCompiler compiler = new TlsCompiler(IngressCompiler.DEFAULT_CLASS, false, GENERATED);

    // ---- fixtures -------------------------------------------------------------------------------------------

    private static String b64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }

    /** A {@code kubernetes.io/tls} Secret with {@code pem} in {@code data}. */
    private static Secret secret(String namespace, String name, Pem pem) {
        return secret(namespace, name, "kubernetes.io/tls", pem.certificate(), pem.privateKey());
    }

    private static Secret secret(String namespace, String name, String type, byte[] crt, byte[] key) {
        SecretBuilder b = new SecretBuilder().withNewMetadata().withName(name).withNamespace(namespace).endMetadata()
                                             .withType(type);
        if (crt != null) {
            b.addToData(TlsCompiler.TLS_CRT, b64(crt));
        }
        if (key != null) {
            b.addToData(TlsCompiler.TLS_KEY, b64(key));
        }
        return b.build();
    }

    /** An Ingress of class ferry with one rule per host of every {@code tls} entry, created at {@code created}. */
    private static IngressBuilder ingress(String name, String created) {
        return new IngressBuilder().withNewMetadata().withName(name).withNamespace(NS).withCreationTimestamp(created)
                                   .endMetadata()
                                   .withNewSpec().withIngressClassName("ferry").endSpec();
    }

    private static IngressBuilder tls(IngressBuilder b, String secretName, String... hosts) {
        return b.editSpec().addToTls(new IngressTLSBuilder().withSecretName(secretName).withHosts(hosts).build())
                .endSpec();
    }

    private static IngressBuilder rules(IngressBuilder b, String... hosts) {
        for (String h : hosts) {
            b.editSpec().addNewRule().withHost(h).withNewHttp().addNewPath().withPath("/").withPathType("Prefix")
             .withNewBackend().withNewService().withName("web").withNewPort().withNumber(80).endPort().endService()
             .endBackend().endPath().endHttp().endRule().endSpec();
        }
        return b;
    }

    private static ClusterState state(Object... objects) {
        List<Ingress> ingresses = new ArrayList<>();
        List<IngressClass> classes = new ArrayList<>();
        List<Secret> secrets = new ArrayList<>();
        for (Object o : objects) {
            if (o instanceof IngressBuilder) {
                ingresses.add(((IngressBuilder) o).build());
            } else if (o instanceof Ingress) {
                ingresses.add((Ingress) o);
            } else if (o instanceof IngressClass) {
                classes.add((IngressClass) o);
            } else if (o instanceof Secret) {
                secrets.add((Secret) o);
            }
        }
        return new ClusterState(List.of(), List.of(), List.of(), ingresses, classes, secrets, List.of());
    }

    private static List<String> problems(CompiledTls compiled) {
        return compiled.problems().stream().map(ConfigProblem::toString).toList();
    }

    private static final Pem FOO = SelfSignedCertificates.generate("foo.example.com", "www.foo.example.com");
    private static final Pem BAR = SelfSignedCertificates.generate(KeyAlgorithm.RSA_2048, "bar.example.com");
    private static final Pem WILD = SelfSignedCertificates.generate("*.apps.example.com");

    // ---- which certificate a host gets ----------------------------------------------------------------------

    @Test
    void secretByNameInTheIngressNamespace() {
        CompiledTls c = compiler.compile(state(
                FERRY, secret(NS, "foo-tls", FOO), secret("other", "foo-tls", BAR),
                rules(tls(ingress("web", "2024-01-01T00:00:00Z"), "foo-tls", "foo.example.com",
                          "WWW.foo.example.com"), "foo.example.com")));
        assertThat(c.problems()).isEmpty();
        TlsTable table = c.table();
        TlsCertificate foo = table.select("foo.example.com");
        assertThat(foo.secret()).isEqualTo("demo/foo-tls");
        assertThat(foo.names()).containsExactly("foo.example.com", "www.foo.example.com");
        assertThat(foo.isDefault()).isFalse();
        assertThat(table.select("www.foo.example.com")).isSameAs(foo);
        assertThat(table.select("bar.example.com")).isSameAs(GENERATED);
        assertThat(table.hasTls("foo.example.com:443")).isTrue();
        assertThat(table.hasTls("www.foo.example.com")).isTrue();
        assertThat(table.hasTls("bar.example.com")).isFalse();
        assertThat(c.views()).extracting(TlsView::host, TlsView::ingress, TlsView::secret, TlsView::certificate,
                                         TlsView::defaultCertificate)
                             .containsExactly(
                                     org.assertj.core.api.Assertions.tuple("foo.example.com", "demo/web",
                                                                           "demo/foo-tls", "demo/foo-tls", false),
                                     org.assertj.core.api.Assertions.tuple("www.foo.example.com", "demo/web",
                                                                           "demo/foo-tls", "demo/foo-tls", false),
                                     org.assertj.core.api.Assertions.tuple(null, null, null, "default", true));
    }

    @Test
    void wildcardHostsAndCertificates() {
        CompiledTls c = compiler.compile(state(FERRY, secret(NS, "wild", WILD),
                                               tls(ingress("apps", "2024-01-01T00:00:00Z"), "wild",
                                                   "*.apps.example.com", "one.apps.example.com")));
        assertThat(c.problems()).isEmpty();
        assertThat(c.table().select("any.apps.example.com").secret()).isEqualTo("demo/wild");
        assertThat(c.table().select("one.apps.example.com").secret()).isEqualTo("demo/wild");
        assertThat(c.table().select("a.b.apps.example.com")).isSameAs(GENERATED);
        assertThat(c.table().hasTls("x.apps.example.com")).isTrue();
    }

    @Test
    void missingSecretFallsBackToTheDefaultAndIsReported() {
        CompiledTls c = compiler.compile(state(
                FERRY, secret(NS, "foo-tls", FOO),
                tls(tls(ingress("web", "2024-01-01T00:00:00Z"), "nope", "missing.example.com"), "foo-tls",
                    "foo.example.com")));
        assertThat(problems(c)).containsExactly(
                "Ingress demo/web: spec.tls[0].secretName: Secret demo/nope not found; its hosts get the default "
                + "certificate");
        assertThat(c.table().select("missing.example.com")).isSameAs(GENERATED);
        assertThat(c.table().hasTls("missing.example.com")).as("still a TLS host, as in ingress-nginx").isTrue();
        assertThat(c.table().select("foo.example.com").secret()).as("nothing else disturbed")
                                                             .isEqualTo("demo/foo-tls");
        TlsView missing = c.views().get(1);
        assertThat(missing.host()).isEqualTo("missing.example.com");
        assertThat(missing.secret()).isEqualTo("demo/nope");
        assertThat(missing.defaultCertificate()).isTrue();
        assertThat(missing.note()).isEqualTo("Secret demo/nope not found");
    }

    @Test
    void keyOfAnotherCertificateIsReported() {
        CompiledTls c = compiler.compile(state(
                FERRY, secret(NS, "mixed", "kubernetes.io/tls", FOO.certificate(), BAR.privateKey()),
                tls(ingress("web", "2024-01-01T00:00:00Z"), "mixed", "foo.example.com")));
        assertThat(problems(c)).singleElement().asString()
                               .startsWith("Ingress demo/web: spec.tls[0].secretName: Secret demo/mixed: private key "
                                           + "does not match the certificate (CN=foo.example.com)")
                               .endsWith("; its hosts get the default certificate");
        assertThat(c.table().select("foo.example.com")).isSameAs(GENERATED);
    }

    @Test
    void malformedSecretsAreReportedWithTheReason() {
        byte[] garbage = "not a certificate".getBytes(StandardCharsets.US_ASCII);
        Secret noKey = secret(NS, "no-key", "kubernetes.io/tls", FOO.certificate(), null);
        Secret notBase64 = new SecretBuilder(secret(NS, "not-base64", FOO)).addToData(TlsCompiler.TLS_CRT, "%%%")
                                                                           .build();
        Secret garbled = secret(NS, "garbled", "kubernetes.io/tls", garbage, FOO.privateKey());
        CompiledTls c = compiler.compile(state(
                FERRY, noKey, notBase64, garbled,
                tls(tls(tls(ingress("web", "2024-01-01T00:00:00Z"), "no-key", "a.example.com"), "not-base64",
                        "b.example.com"), "garbled", "c.example.com")));
        assertThat(problems(c)).containsExactly(
                "Ingress demo/web: spec.tls[0].secretName: Secret demo/no-key: has no tls.key (expected: data.tls.crt "
                + "and data.tls.key, as a kubernetes.io/tls Secret has; type is kubernetes.io/tls); its hosts get the "
                + "default certificate",
                "Ingress demo/web: spec.tls[1].secretName: Secret demo/not-base64: data.tls.crt: not base64 (Illegal "
                + "base64 character 25); its hosts get the default certificate",
                "Ingress demo/web: spec.tls[2].secretName: Secret demo/garbled: certificate: no CERTIFICATE block "
                + "found (expected: PEM, -----BEGIN CERTIFICATE-----); its hosts get the default certificate");
        assertThat(c.table().select("a.example.com")).isSameAs(GENERATED);
        assertThat(c.table().select("b.example.com")).isSameAs(GENERATED);
        assertThat(c.table().select("c.example.com")).isSameAs(GENERATED);
    }

    @Test
    void opaqueSecretsAndStringDataAreRead() {
        Secret opaque = secret(NS, "opaque", "Opaque", BAR.certificate(), BAR.privateKey());
        Secret stringData = new SecretBuilder().withNewMetadata().withName("plain").withNamespace(NS).endMetadata()
                                               .withType("kubernetes.io/tls")
                                               .addToStringData(TlsCompiler.TLS_CRT, FOO.certificateText())
                                               .addToStringData(TlsCompiler.TLS_KEY, FOO.privateKeyText()).build();
        CompiledTls c = compiler.compile(state(FERRY, opaque, stringData,
                                               tls(tls(ingress("web", "2024-01-01T00:00:00Z"), "opaque",
                                                       "bar.example.com"), "plain", "foo.example.com")));
        assertThat(c.problems()).isEmpty();
        assertThat(c.table().select("bar.example.com").secret()).isEqualTo("demo/opaque");
        assertThat(c.table().select("foo.example.com").secret()).isEqualTo("demo/plain");
    }

    @Test
    void certificateThatDoesNotCoverTheHostIsReported() {
        CompiledTls c = compiler.compile(state(FERRY, secret(NS, "foo-tls", FOO),
                                               tls(ingress("web", "2024-01-01T00:00:00Z"), "foo-tls",
                                                   "foo.example.com", "other.example.com")));
        assertThat(problems(c)).containsExactly(
                "Ingress demo/web: spec.tls[0].hosts[1]: the certificate of Secret demo/foo-tls is for "
                + "foo.example.com, www.foo.example.com, not \"other.example.com\"; the host gets the default "
                + "certificate");
        assertThat(c.table().select("other.example.com")).isSameAs(GENERATED);
        assertThat(c.table().select("foo.example.com").secret()).isEqualTo("demo/foo-tls");
    }

    @Test
    void noSecretNameMeansTheDefaultCertificateWithoutComplaint() {
        CompiledTls c = compiler.compile(state(FERRY, tls(ingress("web", "2024-01-01T00:00:00Z"), null,
                                                          "foo.example.com")));
        assertThat(c.problems()).isEmpty();
        assertThat(c.table().select("foo.example.com")).isSameAs(GENERATED);
        assertThat(c.table().hasTls("foo.example.com")).isTrue();
        assertThat(c.views().get(0).note()).isEqualTo("no secretName: the default certificate");
    }

    @Test
    void tlsEntryWithoutHostsCoversTheRuleHostsItsCertificateNames() {
        CompiledTls c = compiler.compile(state(
                FERRY, secret(NS, "foo-tls", FOO),
                rules(tls(ingress("web", "2024-01-01T00:00:00Z"), "foo-tls"), "www.foo.example.com",
                      "elsewhere.example.com")));
        assertThat(c.problems()).isEmpty();
        assertThat(c.table().select("www.foo.example.com").secret()).isEqualTo("demo/foo-tls");
        assertThat(c.table().hasTls("www.foo.example.com")).isTrue();
        assertThat(c.table().hasTls("elsewhere.example.com")).isFalse();
        assertThat(c.table().hasTls("foo.example.com")).as("named by the certificate, but no rule host").isFalse();
    }

    @Test
    void olderIngressWinsAHostAndTheNewerIsReported() {
        CompiledTls c = compiler.compile(state(
                FERRY, secret(NS, "foo-tls", FOO), secret(NS, "foo-tls-2", FOO),
                tls(ingress("newer", "2024-06-01T00:00:00Z"), "foo-tls-2", "foo.example.com"),
                tls(ingress("older", "2024-01-01T00:00:00Z"), "foo-tls", "foo.example.com"),
                tls(ingress("same-secret", "2024-07-01T00:00:00Z"), "foo-tls", "foo.example.com")));
        assertThat(problems(c)).containsExactly(
                "Ingress demo/newer: spec.tls[0].hosts[0]: host \"foo.example.com\" already has Secret demo/foo-tls "
                + "from Ingress demo/older, which is older; ignored");
        assertThat(c.table().select("foo.example.com").secret()).isEqualTo("demo/foo-tls");
        assertThat(c.views().get(0).ingress()).isEqualTo("demo/older");
    }

    @Test
    void otherIngressClassesAreIgnored() {
        IngressClass nginx = new IngressClassBuilder().withNewMetadata().withName("nginx").endMetadata()
                                                      .withNewSpec().withController("k8s.io/ingress-nginx").endSpec()
                                                      .build();
        Ingress theirs = tls(ingress("theirs", "2024-01-01T00:00:00Z"), "nope", "theirs.example.com")
                .editSpec().withIngressClassName("nginx").endSpec().build();
        Ingress legacy = tls(ingress("legacy", "2024-01-01T00:00:00Z"), "nope", "legacy.example.com")
                .editSpec().withIngressClassName(null).endSpec()
                .editMetadata().addToAnnotations(IngressClassFilter.CLASS_ANNOTATION, "nginx").endMetadata().build();
        Ingress unclassed = tls(ingress("unclassed", "2024-01-01T00:00:00Z"), "nope", "unclassed.example.com")
                .editSpec().withIngressClassName(null).endSpec().build();
        CompiledTls c = compiler.compile(state(FERRY, nginx, theirs, legacy, unclassed));
        assertThat(c.problems()).isEmpty();
        assertThat(c.table().size()).isZero();

        TlsCompiler withoutClass = new TlsCompiler(IngressCompiler.DEFAULT_CLASS, true, GENERATED);
        CompiledTls all = withoutClass.compile(state(FERRY, nginx, theirs, legacy, unclassed));
        assertThat(all.table().hasTls("unclassed.example.com")).isTrue();
        assertThat(all.table().hasTls("theirs.example.com")).isFalse();
        assertThat(all.table().hasTls("legacy.example.com")).isFalse();
    }

    @Test
    void invalidHostsAreReported() {
        CompiledTls c = compiler.compile(state(FERRY, secret(NS, "foo-tls", FOO),
                                               tls(ingress("web", "2024-01-01T00:00:00Z"), "foo-tls",
                                                   "foo.example.com", "10.0.0.1", "bad host")));
        assertThat(problems(c)).hasSize(2).allMatch(p -> p.contains("(expected: a DNS name"));
        assertThat(c.table().size()).isEqualTo(1);
    }

    // ---- the default certificate ----------------------------------------------------------------------------

    @Test
    void defaultSslCertificateFromASecret() {
        TlsCompiler withDefault = new TlsCompiler("ferry", false, GENERATED, "ingress/default-cert");
        CompiledTls c = withDefault.compile(state(FERRY, secret("ingress", "default-cert", BAR)));
        assertThat(c.problems()).isEmpty();
        TlsCertificate d = c.table().defaultEntry();
        assertThat(d.secret()).isEqualTo("ingress/default-cert");
        assertThat(d.isDefault()).isTrue();
        assertThat(c.table().select("unknown.example.com")).isSameAs(d);
        assertThat(c.table().select(null)).isSameAs(d);
        TlsView view = c.views().get(c.views().size() - 1);
        assertThat(view.host()).isNull();
        assertThat(view.secret()).isEqualTo("ingress/default-cert");
        assertThat(view.certificate()).isEqualTo("ingress/default-cert");

        // An Ingress may use the same Secret: its hosts get a non-default entry of the same certificate.
        CompiledTls both = withDefault.compile(state(FERRY, secret("ingress", "default-cert", BAR),
                                                     secret(NS, "bar", BAR),
                                                     tls(ingress("web", "2024-01-01T00:00:00Z"), "bar",
                                                         "bar.example.com")));
        assertThat(both.table().defaultEntry()).isSameAs(d);
        assertThat(both.table().select("bar.example.com").isDefault()).isFalse();
        assertThat(both.table().select("bar.example.com").sameCertificate(d)).isTrue();
    }

    @Test
    void unusableDefaultSslCertificateKeepsTheGeneratedOne() {
        TlsCompiler withDefault = new TlsCompiler("ferry", false, GENERATED, "ingress/default-cert");
        CompiledTls missing = withDefault.compile(state(FERRY));
        assertThat(problems(missing)).containsExactly(
                "--default-ssl-certificate ingress/default-cert: Secret ingress/default-cert not found; the generated "
                + "certificate is served instead");
        assertThat(missing.table().defaultEntry()).isSameAs(GENERATED);

        CompiledTls broken = withDefault.compile(state(
                FERRY, secret("ingress", "default-cert", "kubernetes.io/tls", BAR.certificate(), FOO.privateKey())));
        assertThat(problems(broken)).singleElement().asString()
                                    .contains("private key does not match the certificate (CN=bar.example.com)")
                                    .endsWith("the generated certificate is served instead");
        assertThat(broken.table().defaultEntry()).isSameAs(GENERATED);

        assertThatThrownBy(() -> new TlsCompiler("ferry", false, GENERATED, "no-namespace"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--default-ssl-certificate: \"no-namespace\" (expected: namespace/name of a Secret)");
        assertThatThrownBy(() -> new TlsCompiler("ferry", false, GENERATED, "a/b/c"))
                .isInstanceOf(IllegalArgumentException.class);
        TlsCertificate notDefault = TlsCertificate.load("demo/foo", FOO.certificate(), FOO.privateKey(), false);
        assertThatThrownBy(() -> new TlsCompiler("ferry", false, notDefault))
                .hasMessageContaining("expected: a default certificate");
    }

    // ---- the cache ------------------------------------------------------------------------------------------

    @Test
    void unchangedSecretsKeepTheirContextAndRenewedOnesGetANewOne() {
        Ingress web = tls(tls(ingress("web", "2024-01-01T00:00:00Z"), "foo-tls", "foo.example.com"), "bar-tls",
                          "bar.example.com").build();
        CompiledTls first = compiler.compile(state(FERRY, web, secret(NS, "foo-tls", FOO), secret(NS, "bar-tls",
                                                                                                  BAR)));
        TlsCertificate foo1 = first.table().select("foo.example.com");
        TlsCertificate bar1 = first.table().select("bar.example.com");
        assertThat(compiler.cacheSize()).isEqualTo(2);

        // The same bytes in new objects (as a resync delivers them): the same certificate and context.
        CompiledTls second = compiler.compile(state(FERRY, web, secret(NS, "foo-tls", FOO), secret(NS, "bar-tls",
                                                                                                   BAR)));
        assertThat(second.table().select("foo.example.com")).isSameAs(foo1);
        assertThat(second.table().select("foo.example.com").sslContext()).isSameAs(foo1.sslContext());
        assertThat(second.table().select("bar.example.com")).isSameAs(bar1);

        // foo-tls renewed: a new context for it, bar-tls untouched.
        Pem renewed = SelfSignedCertificates.generate("foo.example.com");
        CompiledTls third = compiler.compile(state(FERRY, web, secret(NS, "foo-tls", renewed),
                                                   secret(NS, "bar-tls", BAR)));
        TlsCertificate foo3 = third.table().select("foo.example.com");
        assertThat(foo3).isNotSameAs(foo1);
        assertThat(foo3.sslContext()).isNotSameAs(foo1.sslContext());
        assertThat(foo3.sameCertificate(foo1)).isFalse();
        assertThat(third.table().select("bar.example.com")).isSameAs(bar1);
        assertThat(compiler.cacheSize()).as("the old foo-tls is dropped").isEqualTo(2);

        // bar-tls no longer referenced: dropped from the cache.
        Ingress fooOnly = tls(ingress("web", "2024-01-01T00:00:00Z"), "foo-tls", "foo.example.com").build();
        compiler.compile(state(FERRY, fooOnly, secret(NS, "foo-tls", renewed), secret(NS, "bar-tls", BAR)));
        assertThat(compiler.cacheSize()).isEqualTo(1);
    }

    @Test
    void expiredCertificatesAreServedAndReported() {
        Instant notAfter = Instant.parse("2024-01-02T00:00:00Z");
        Pem old = SelfSignedCertificates.generate(KeyAlgorithm.EC_P256, notAfter.minus(Duration.ofDays(30)), notAfter,
                                                  null, List.of("old.example.com"));
        TlsCompiler later = new TlsCompiler("ferry", false, GENERATED, null,
                                            Clock.fixed(Instant.parse("2024-06-01T00:00:00Z"), ZoneOffset.UTC));
        CompiledTls c = later.compile(state(FERRY, secret(NS, "old", old),
                                            tls(ingress("web", "2024-01-01T00:00:00Z"), "old", "old.example.com")));
        assertThat(problems(c)).containsExactly(
                "Ingress demo/web: spec.tls[0].secretName: Secret demo/old: its certificate (CN=old.example.com) "
                + "expired at 2024-01-02T00:00:00Z; served anyway");
        assertThat(c.table().select("old.example.com").secret()).isEqualTo("demo/old");
        assertThat(c.views().get(0).notAfter()).isEqualTo(notAfter);
    }
}
