package io.ferry.control.churn;

import io.ferry.l7.tls.SelfSignedCertificates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The manifest directory of a churn run and the edits made to it. The routes the load uses never go away:
 * <ul>
 *   <li>Service {@code churn/web} keeps its port {@code http} 18080; its labels and a second port
 *       ({@code metrics} 18081, a ClusterIP listener bound and closed) come and go;</li>
 *   <li>its EndpointSlices ({@code web-0} .. one per {@link ChurnBackend}, each naming one live backend) are
 *       rewritten as a random non-empty subset, so endpoints are added and removed but a picked one always
 *       answers;</li>
 *   <li>Ingress {@code churn/site} routes {@code plain.example.com} (HTTP) and {@code shop.example.com}
 *       (HTTPS, Secret {@code shop-tls}) to it, and is never edited; Ingress {@code churn/extra} for another
 *       host is created and deleted;</li>
 *   <li>Secret {@code shop-tls} is rewritten with a new certificate for the same host.</li>
 * </ul>
 * Every write goes to a temporary name (not a manifest suffix) and is moved into place atomically, as
 * {@code kubectl cp} or a ConfigMap volume would. Not thread-safe: one churner thread edits.
 */
final class ChurnManifests {

    static final String PLAIN_HOST = "plain.example.com";
    static final String TLS_HOST = "shop.example.com";
    private static final int CERTIFICATES = 4;

    private final Path dir;
    private final List<Integer> backendPorts;
    private final List<SelfSignedCertificates.Pem> certificates = new ArrayList<>();
    private final SplittableRandom random = new SplittableRandom(0xc4a2L);
    private long edits;
    private int certificate;

    ChurnManifests(Path dir, List<Integer> backendPorts) {
        this.dir = dir;
        this.backendPorts = List.copyOf(backendPorts);
        for (int i = 0; i < CERTIFICATES; i++) {
            certificates.add(SelfSignedCertificates.generate(TLS_HOST));
        }
    }

    /** Writes the starting state: every endpoint, the site Ingress, the first certificate. */
    void writeInitial() {
        write("00-class.yaml", """
                apiVersion: networking.k8s.io/v1
                kind: IngressClass
                metadata: {name: ferry}
                spec: {controller: ferry.io/ingress-controller}
                """);
        write("10-service.yaml", service(0, false));
        boolean[] all = new boolean[backendPorts.size()];
        Arrays.fill(all, true);
        write("20-slices.yaml", slices(all));
        write("30-site.yaml", """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata: {name: site, namespace: churn}
                spec:
                  ingressClassName: ferry
                  tls:
                  - {hosts: [%2$s], secretName: shop-tls}
                  rules:
                  - host: %1$s
                    http:
                      paths:
                      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}
                  - host: %2$s
                    http:
                      paths:
                      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 18080}}}}
                """.formatted(PLAIN_HOST, TLS_HOST));
        write("40-secret.yaml", secret(certificates.get(0)));
    }

    /** Makes one edit of a kind chosen at random; returns which kind, for the run's tally. */
    Kind editOnce() {
        Kind kind = Kind.values()[random.nextInt(Kind.values().length)];
        long n = ++edits;
        switch (kind) {
            case ENDPOINTS -> {
                boolean[] in = new boolean[backendPorts.size()];
                in[random.nextInt(in.length)] = true; // never empty
                for (int i = 0; i < in.length; i++) {
                    in[i] |= random.nextBoolean();
                }
                write("20-slices.yaml", slices(in));
            }
            case SERVICE -> write("10-service.yaml", service(n, random.nextBoolean()));
            case INGRESS -> {
                Path extra = dir.resolve("50-extra.yaml");
                if (Files.exists(extra)) {
                    delete(extra);
                } else {
                    write("50-extra.yaml", extraIngress(n));
                }
            }
            case SECRET -> {
                certificate = (certificate + 1) % certificates.size();
                write("40-secret.yaml", secret(certificates.get(certificate)));
            }
        }
        return kind;
    }

    /** What {@link #editOnce()} changes. */
    enum Kind { ENDPOINTS, SERVICE, INGRESS, SECRET }

    private static String service(long revision, boolean metricsPort) {
        return """
                apiVersion: v1
                kind: Service
                metadata:
                  name: web
                  namespace: churn
                  labels: {app: web, revision: "r%d"}
                spec:
                  ports:
                  - {name: http, port: 18080, targetPort: 8080}
                %s""".formatted(revision, metricsPort ? "  - {name: metrics, port: 18081, targetPort: 9090}\n" : "");
    }

    private String slices(boolean[] in) {
        StringBuilder yaml = new StringBuilder();
        for (int i = 0; i < in.length; i++) {
            if (!in[i]) {
                continue;
            }
            yaml.append("""
                    ---
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata:
                      name: web-%d
                      namespace: churn
                      labels: {kubernetes.io/service-name: web}
                    addressType: IPv4
                    ports: [{name: http, port: %d}]
                    endpoints:
                    - addresses: ["127.0.0.1"]
                      conditions: {ready: true}
                    """.formatted(i, backendPorts.get(i)));
        }
        return yaml.toString();
    }

    private static String extraIngress(long n) {
        return """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata: {name: extra, namespace: churn}
                spec:
                  ingressClassName: ferry
                  rules:
                  - host: extra-%d.example.com
                    http:
                      paths:
                      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 18080}}}}
                """.formatted(n);
    }

    private static String secret(SelfSignedCertificates.Pem pem) {
        Base64.Encoder b64 = Base64.getEncoder();
        return """
                apiVersion: v1
                kind: Secret
                metadata: {name: shop-tls, namespace: churn}
                type: kubernetes.io/tls
                data:
                  tls.crt: %s
                  tls.key: %s
                """.formatted(b64.encodeToString(pem.certificate()), b64.encodeToString(pem.privateKey()));
    }

    private void write(String name, String yaml) {
        try {
            Path tmp = dir.resolve("." + name + ".tmp");
            Files.writeString(tmp, yaml, StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
