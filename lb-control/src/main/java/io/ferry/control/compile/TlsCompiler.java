package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.IngressTLS;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.ferry.control.compile.CompiledTls.TlsView;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Compiles the Ingresses' {@code spec.tls} and their Secrets into the {@link TlsTable}, as ingress-nginx assigns
 * certificates to its servers ({@code createServers} in {@code internal/ingress/controller/controller.go}).
 *
 * <p><b>Which Ingresses</b>: the same as {@link IngressCompiler}'s ({@link IngressClassFilter}), oldest first
 * ({@code creationTimestamp}, then {@code namespace/name}), so that a host two Ingresses contest goes to the older
 * and the newer is reported naming both (a second claim with the same Secret is no conflict).
 *
 * <p><b>Hosts</b>: each {@code spec.tls[].hosts} entry (lowercased; a DNS name or a {@code *.} wildcard, else
 * reported and ignored) is served the certificate of that entry's {@code secretName}, a Secret in the Ingress's
 * namespace. A host of the Ingress's {@code spec.rules} that no {@code spec.tls[].hosts} entry lists — for instance
 * when a {@code spec.tls} entry has no hosts at all — is served the first of the Ingress's certificates whose
 * names cover it, if any: ingress-nginx's {@code extractTLSSecretName} falls back to "a TLS host matching SAN or
 * CN" the same way. A host listed in {@code spec.tls} but without rules still gets its certificate (SNI works;
 * requests get whatever routing says).
 *
 * <p><b>Secrets</b>: any type that has {@code tls.crt} and {@code tls.key}: ingress-nginx's
 * {@code getPemCertificate} reads those two keys whatever the type, so an {@code Opaque} Secret works there too.
 * A key's value is read from {@code stringData} when present (the manifest source passes it through unconverted;
 * the API server would have merged it into {@code data}, {@code stringData} winning), else from {@code data}
 * (base64). The chain and key must parse and match ({@link TlsCertificate#load}).
 *
 * <p><b>Falling back to the default certificate</b>, as ingress-nginx does, the host staying a TLS host (so
 * {@link TlsTable#hasTls} is true and plain HTTP is redirected, as ingress-nginx's server keeps the default
 * certificate as its {@code SSLCert}):
 * <ul>
 *   <li>a {@code spec.tls} entry without {@code secretName} ("the default certificate will also be used for
 *       ingress tls: sections that do not have a secretName option" — ingress-nginx's documentation); not a
 *       problem;</li>
 *   <li>a Secret that is missing, lacks a key, or whose PEM does not parse or match — reported once per Ingress
 *       and Secret, naming both and the reason;</li>
 *   <li>a certificate whose names do not cover the host (ingress-nginx's {@code VerifyHostname}, then its CN
 *       check) — reported.</li>
 * </ul>
 * Nothing else is disturbed: other hosts, other Ingresses and the routes are compiled as usual. A certificate that
 * has expired (or is not yet valid) is served anyway, as ingress-nginx does, and reported.
 *
 * <p><b>Default certificate</b>: the generated one given to the constructor, or the Secret named by
 * {@code --default-ssl-certificate namespace/name} when it is usable; when it is not, that is reported and the
 * generated one is used.
 *
 * <p><b>Cache</b>: building a certificate parses PEM and creates native TLS state, so each compile reuses the
 * {@link TlsCertificate} (and its {@code SslContext}) of every Secret whose {@code tls.crt} and {@code tls.key} bytes
 * are unchanged since the previous compile, keyed by {@code namespace/name} and a SHA-256 of those bytes; a renewed
 * Secret gets a new one. A Secret that failed is remembered too, so that its error is not recomputed. Entries the
 * latest compile did not use are dropped. Reusing the same objects also keeps a connection's certificate
 * {@linkplain TlsCertificate#sameCertificate the same} across table swaps.
 *
 * <p>Thread-safe ({@link #compile} is synchronized); meant to be called from the control thread. Event loops never
 * call it: they read the tables it built.
 */
public final class TlsCompiler {

    /** The Secret key holding the certificate chain, PEM. */
    public static final String TLS_CRT = "tls.crt";
    /** The Secret key holding the private key, PEM. */
    public static final String TLS_KEY = "tls.key";

    private static final String DEFAULT_FLAG = "--default-ssl-certificate";

    private final String ingressClass;
    private final boolean watchWithoutClass;
    private final TlsCertificate generatedDefault;
    private final String defaultSecret;
    private final Clock clock;
    /** Guarded by {@code this}. Keyed by {@link #cacheKey}. */
    private Map<String, Loaded> cache = new HashMap<>();
    // Guarded by this: the Ingresses' parsed timestamps, kept by instance from one compile to the next.
    private final OldestFirst<Ingress> order = new OldestFirst<>();

    /** A compiler whose default certificate is {@code generatedDefault}. */
    public TlsCompiler(String ingressClass, boolean watchIngressWithoutClass, TlsCertificate generatedDefault) {
        this(ingressClass, watchIngressWithoutClass, generatedDefault, null);
    }

    /**
     * @param ingressClass the IngressClass name Ferry serves ({@code --ingress-class})
     * @param watchIngressWithoutClass also serve Ingresses with no class ({@code --watch-ingress-without-class})
     * @param generatedDefault the default certificate when no usable {@code defaultSslCertificate} is given; made
     *                         once at start ({@link TlsCertificate#generateDefault()}); must be
     *                         {@linkplain TlsCertificate#isDefault() a default}
     * @param defaultSslCertificate {@code --default-ssl-certificate}: {@code namespace/name} of a Secret, or
     *                              {@code null}
     * @throws IllegalArgumentException if {@code defaultSslCertificate} is not {@code namespace/name}, or
     *                                  {@code generatedDefault} is not a default certificate
     */
    public TlsCompiler(String ingressClass, boolean watchIngressWithoutClass, TlsCertificate generatedDefault,
                       String defaultSslCertificate) {
        this(ingressClass, watchIngressWithoutClass, generatedDefault, defaultSslCertificate, Clock.systemUTC());
    }

    TlsCompiler(String ingressClass, boolean watchIngressWithoutClass, TlsCertificate generatedDefault,
                String defaultSslCertificate, Clock clock) {
        this.ingressClass = requireNonNull(ingressClass, "ingressClass");
        if (ingressClass.isEmpty()) {
            throw new IllegalArgumentException("ingressClass: \"\" (expected: a class name such as ferry)");
        }
        this.watchWithoutClass = watchIngressWithoutClass;
        this.generatedDefault = requireNonNull(generatedDefault, "generatedDefault");
        if (!generatedDefault.isDefault()) {
            throw new IllegalArgumentException("generatedDefault: " + generatedDefault + " (expected: a default "
                                               + "certificate, such as TlsCertificate.generateDefault())");
        }
        if (defaultSslCertificate != null) {
            int slash = defaultSslCertificate.indexOf('/');
            if (slash <= 0 || slash == defaultSslCertificate.length() - 1
                || defaultSslCertificate.indexOf('/', slash + 1) >= 0) {
                throw new IllegalArgumentException(DEFAULT_FLAG + ": \"" + defaultSslCertificate
                                                   + "\" (expected: namespace/name of a Secret)");
            }
        }
        this.defaultSecret = defaultSslCertificate;
        this.clock = requireNonNull(clock, "clock");
    }

    /** A Secret read: its certificate, or why it cannot be used. */
    private record Loaded(TlsCertificate certificate, String error) {
    }

    /** A host given a certificate. */
    private record Claim(String host, String ingress, String secret, TlsCertificate served, String note) {
    }

    /** Compiles the TLS hosts of the Ingresses Ferry serves. Never throws for bad input: it reports it. */
    public synchronized CompiledTls compile(ClusterState state) {
        requireNonNull(state, "state");
        Set<ConfigProblem> problems = new LinkedHashSet<>();
        Map<String, Loaded> used = new HashMap<>();
        Map<String, Secret> secrets = new HashMap<>();
        for (Secret s : state.secrets()) {
            if (s.getMetadata() != null && s.getMetadata().getName() != null) {
                secrets.put(namespace(s) + '/' + s.getMetadata().getName(), s);
            }
        }

        TlsCertificate defaultCert = generatedDefault;
        String defaultNote = null;
        if (defaultSecret != null) {
            String subject = DEFAULT_FLAG + ' ' + defaultSecret;
            Loaded l = load(secrets.get(defaultSecret), defaultSecret, true, used);
            if (l.error() != null) {
                defaultNote = l.error() + "; the generated certificate is served instead";
                problems.add(new ConfigProblem(subject, defaultNote));
            } else {
                defaultCert = l.certificate();
                String invalid = validity(defaultCert);
                if (invalid != null) {
                    problems.add(new ConfigProblem(subject, "Secret " + defaultSecret + ": " + invalid));
                }
            }
        }

        IngressClassFilter filter = new IngressClassFilter(ingressClass, watchWithoutClass, state.ingressClasses());
        List<Ingress> served = new ArrayList<>();
        for (Ingress ing : state.ingresses()) {
            if (ing.getMetadata() != null && ing.getMetadata().getName() != null && ing.getSpec() != null
                && filter.serves(ing)) {
                served.add(ing);
            }
        }
        order.sort(served);

        Map<String, Claim> claims = new LinkedHashMap<>();
        for (Ingress ing : served) {
            compileIngress(ing, secrets, defaultCert, claims, used, problems);
        }

        TlsTable.Builder table = TlsTable.builder(defaultCert);
        List<TlsView> views = new ArrayList<>();
        for (Claim c : claims.values()) {
            try {
                table.add(c.host(), c.served());
            } catch (IllegalArgumentException e) { // hosts were checked; this is a safety net
                problems.add(new ConfigProblem("Ingress " + c.ingress(), e.getMessage() + "; ignored"));
                continue;
            }
            views.add(new TlsView(c.host(), c.ingress(), c.secret(), c.served().secret(), c.served().isDefault(),
                                  c.served().names(), c.served().notAfter(), c.note()));
        }
        views.sort(Comparator.comparing(TlsView::host));
        views.add(new TlsView(null, null, defaultSecret, defaultCert.secret(), true, defaultCert.names(),
                              defaultCert.notAfter(), defaultNote));
        cache = used;
        return new CompiledTls(table.build(), views, List.copyOf(problems));
    }

    private void compileIngress(Ingress ing, Map<String, Secret> secrets, TlsCertificate defaultCert,
                                Map<String, Claim> claims, Map<String, Loaded> used, Set<ConfigProblem> problems) {
        String key = key(ing);
        String subject = "Ingress " + key;
        List<IngressTLS> tls = ing.getSpec().getTls() == null ? List.of() : ing.getSpec().getTls();
        Set<String> listed = new HashSet<>();
        List<TlsCertificate> usable = new ArrayList<>();
        Set<String> checked = new HashSet<>();
        for (int i = 0; i < tls.size(); i++) {
            IngressTLS entry = tls.get(i);
            String where = "spec.tls[" + i + ']';
            String secretName = entry == null ? null : entry.getSecretName();
            String secretKey = secretName == null || secretName.isEmpty() ? null : namespace(ing) + '/' + secretName;
            TlsCertificate cert = null;
            String fallback = null;
            if (secretKey != null) {
                Loaded l = load(secrets.get(secretKey), secretKey, false, used);
                if (l.error() != null) {
                    fallback = l.error();
                    if (checked.add(secretKey)) {
                        problems.add(new ConfigProblem(subject, where + ".secretName: " + l.error() + "; its hosts "
                                                                + "get the default certificate"));
                    }
                } else {
                    cert = l.certificate();
                    usable.add(cert);
                    String invalid = validity(cert);
                    if (invalid != null && checked.add(secretKey)) {
                        problems.add(new ConfigProblem(subject, where + ".secretName: Secret " + secretKey + ": "
                                                                + invalid));
                    }
                }
            }
            List<String> hosts = entry == null || entry.getHosts() == null ? List.of() : entry.getHosts();
            for (int h = 0; h < hosts.size(); h++) {
                String raw = hosts.get(h);
                String host = raw == null ? "" : raw.toLowerCase(Locale.ROOT);
                if (!IngressCompiler.isValidHost(host)) {
                    problems.add(new ConfigProblem(subject, where + ".hosts[" + h + "]: \"" + raw + "\" (expected: "
                                                            + "a DNS name such as foo.example.com or a wildcard such "
                                                            + "as *.example.com); ignored"));
                    continue;
                }
                listed.add(host);
                Claim claim;
                if (secretKey == null) {
                    claim = new Claim(host, key, null, defaultCert, "no secretName: the default certificate");
                } else if (cert == null) {
                    claim = new Claim(host, key, secretKey, defaultCert, fallback);
                } else if (!cert.coversName(host)) {
                    String why = "the certificate of Secret " + secretKey + " is for " + String.join(", ", cert.names())
                                 + ", not \"" + host + '"';
                    problems.add(new ConfigProblem(subject, where + ".hosts[" + h + "]: " + why + "; the host gets "
                                                            + "the default certificate"));
                    claim = new Claim(host, key, secretKey, defaultCert, why);
                } else {
                    claim = new Claim(host, key, secretKey, cert, null);
                }
                claim(claim, subject, where + ".hosts[" + h + ']', claims, problems);
            }
        }
        if (usable.isEmpty() || ing.getSpec().getRules() == null) {
            return;
        }
        for (IngressRule rule : ing.getSpec().getRules()) {
            String host = rule == null || rule.getHost() == null ? "" : rule.getHost().toLowerCase(Locale.ROOT);
            if (host.isEmpty() || listed.contains(host) || claims.containsKey(host)
                || !IngressCompiler.isValidHost(host)) {
                continue;
            }
            for (TlsCertificate cert : usable) {
                if (cert.coversName(host)) {
                    claims.put(host, new Claim(host, key, cert.secret(), cert, "a rule host that spec.tls does not "
                                                                               + "list, covered by the certificate"));
                    break;
                }
            }
        }
    }

    /** Gives {@code claim.host()} its certificate unless an earlier claim holds it with another Secret. */
    private static void claim(Claim claim, String subject, String where, Map<String, Claim> claims,
                              Set<ConfigProblem> problems) {
        Claim earlier = claims.putIfAbsent(claim.host(), claim);
        if (earlier == null || Objects.equals(earlier.secret(), claim.secret())) {
            return;
        }
        String by = earlier.ingress().equals(claim.ingress()) ? "an earlier spec.tls entry of this Ingress"
                                                                : "Ingress " + earlier.ingress() + ", which is older";
        problems.add(new ConfigProblem(subject, where + ": host \"" + claim.host() + "\" already has "
                                                + (earlier.secret() == null ? "the default certificate"
                                                                            : "Secret " + earlier.secret())
                                                + " from " + by + "; ignored"));
    }

    /**
     * Reads a Secret's certificate through the cache.
     *
     * @param secret the Secret, or {@code null} when it does not exist
     * @param used this compile's cache, filled as entries are used
     */
    private Loaded load(Secret secret, String secretKey, boolean asDefault, Map<String, Loaded> used) {
        if (secret == null) {
            return new Loaded(null, "Secret " + secretKey + " not found");
        }
        byte[] crt;
        byte[] key;
        try {
            crt = field(secret, TLS_CRT);
            key = field(secret, TLS_KEY);
        } catch (IllegalArgumentException e) {
            return new Loaded(null, "Secret " + secretKey + ": " + e.getMessage());
        }
        String cacheKey = cacheKey(secretKey, asDefault, crt, key);
        Loaded loaded = used.get(cacheKey);
        if (loaded == null) {
            loaded = cache.get(cacheKey);
        }
        if (loaded == null) {
            try {
                loaded = new Loaded(TlsCertificate.load(secretKey, crt, key, asDefault), null);
            } catch (RuntimeException e) { // IllegalArgumentException for bad PEM; anything else is no better
                loaded = new Loaded(null, "Secret " + secretKey + ": " + e.getMessage());
            }
        }
        used.put(cacheKey, loaded);
        return loaded;
    }

    /** How many Secrets the cache remembers (those the latest compile used). */
    synchronized int cacheSize() {
        return cache.size();
    }

    /** A Secret's key, from {@code stringData} when there, else from {@code data} (base64). */
    private static byte[] field(Secret secret, String name) {
        Map<String, String> stringData = secret.getStringData();
        if (stringData != null && stringData.get(name) != null) {
            return stringData.get(name).getBytes(StandardCharsets.UTF_8);
        }
        Map<String, String> data = secret.getData();
        String base64 = data == null ? null : data.get(name);
        if (base64 == null) {
            throw new IllegalArgumentException("has no " + name + " (expected: data." + TLS_CRT + " and data."
                                               + TLS_KEY + ", as a kubernetes.io/tls Secret has; type is "
                                               + (secret.getType() == null ? "unset" : secret.getType()) + ')');
        }
        try {
            return Base64.getDecoder().decode(base64.replaceAll("\\s", ""));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("data." + name + ": not base64 (" + e.getMessage() + ')', e);
        }
    }

    private static String cacheKey(String secretKey, boolean asDefault, byte[] crt, byte[] key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(crt);
            sha.update((byte) 0);
            sha.update(key);
            return (asDefault ? "default " : "") + secretKey + ' ' + HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** Why {@code cert} is not valid now, or {@code null} when it is. */
    private String validity(TlsCertificate cert) {
        Instant now = clock.instant();
        if (now.isAfter(cert.notAfter())) {
            return "its certificate (" + cert.subject() + ") expired at " + cert.notAfter() + "; served anyway";
        }
        if (now.isBefore(cert.notBefore())) {
            return "its certificate (" + cert.subject() + ") is not valid before " + cert.notBefore()
                   + "; served anyway";
        }
        return null;
    }

    private static String namespace(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return ns == null || ns.isEmpty() ? "default" : ns;
    }

    private static String key(Ingress ing) {
        return namespace(ing) + '/' + ing.getMetadata().getName();
    }
}
