package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.ferry.control.ConfigProblem;
import io.ferry.l7.tls.TlsTable;
import java.time.Instant;
import java.util.List;

/**
 * What {@link TlsCompiler} made of the Ingresses' {@code spec.tls} and their Secrets: the TLS table, a view of every
 * host for {@code /config_dump}, and what it rejected.
 *
 * @param table the certificates the HTTPS listener selects by SNI
 * @param views every TLS host, sorted by host, then the default certificate (host {@code null})
 * @param problems Secrets that are missing, malformed or do not match, hosts claimed twice, invalid hosts
 */
public record CompiledTls(TlsTable table, List<TlsView> views, List<ConfigProblem> problems) {

    public CompiledTls {
        requireNonNull(table, "table");
        views = List.copyOf(views);
        problems = List.copyOf(problems);
    }

    /**
     * One TLS host as compiled.
     *
     * @param host the host, lowercase, possibly a {@code *.} wildcard; {@code null} for the default certificate
     * @param ingress the Ingress that configured it, {@code namespace/name} ({@code null} for the default)
     * @param secret the Secret it asked for, {@code namespace/name}; {@code null} when its {@code spec.tls} entry has
     *               no {@code secretName} (and for the generated default)
     * @param certificate what it is served: the certificate's Secret, {@code namespace/name}, or {@code default}
     *                    (the generated one)
     * @param defaultCertificate whether it is served the default certificate
     * @param names the served certificate's names (SANs, else CN)
     * @param notAfter when the served certificate expires
     * @param note why it is served something other than what it asked for, or how it was matched; {@code null}
     *             when there is nothing to say
     */
    public record TlsView(String host, String ingress, String secret, String certificate, boolean defaultCertificate,
                          List<String> names, Instant notAfter, String note) {
        public TlsView {
            requireNonNull(certificate, "certificate");
            names = List.copyOf(names);
        }
    }
}
