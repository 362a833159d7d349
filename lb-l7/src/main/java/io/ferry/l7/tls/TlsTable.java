package io.ferry.l7.tls;

import static java.util.Objects.requireNonNull;

import io.ferry.l7.route.HostIndex;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The immutable TLS table: which {@link TlsCertificate} a handshake's SNI selects, and what a request's Host may
 * do on a connection.
 *
 * <h2>Selection</h2>
 * {@link #select(String)} takes the SNI host name (any case; one trailing dot ignored) and returns:
 * <ol>
 *   <li>the entry of that exact host;</li>
 *   <li>else the entry of the wildcard {@code *.rest} when the name is one label followed by {@code .rest}:
 *       {@code *.foo.com} takes {@code bar.foo.com}, neither {@code a.bar.foo.com} nor {@code foo.com} — as nginx
 *       picks a {@code server} by {@code server_name}, exact before wildcard;</li>
 *   <li>else — unknown name, no SNI at all — the {@linkplain #defaultEntry() default entry}.</li>
 * </ol>
 * Hosts are the Ingress's {@code spec.tls[].hosts}, not the certificates' names: a certificate is served for the
 * hosts it was configured for.
 *
 * <h2>Requests</h2>
 * <ul>
 *   <li>{@link #hasTls(CharSequence)}: whether a Host has a TLS entry, by the same rules (exact, then wildcard; the
 *       default entry does not count). ingress-nginx redirects plain HTTP to HTTPS (308) for such hosts.</li>
 *   <li>{@link #misdirected(TlsCertificate, CharSequence)}: whether a request on a connection must be answered 421
 *       (RFC 9110 15.5.20): its Host is not covered by the certificate the connection was handshaken with, and that
 *       Host would have selected another certificate. HTTP/2 clients reuse a connection for every host its
 *       certificate covers (RFC 9113 9.1.1); a Host outside those names is a client that should open a new
 *       connection with the right SNI.</li>
 * </ul>
 *
 * <h2>Cost</h2>
 * Lookups take no lock and allocate nothing: one hash probe over the name, compared case-insensitively in place,
 * and a second one for a wildcard. Their cost does not grow with the number of hosts.
 *
 * <p>Built off the hot path by the control plane's TLS compiler and published whole with one volatile write; read
 * by every event loop on every handshake (and request). An old table stays usable for as long as anything holds
 * it: its contexts are freed by the garbage collector ({@link TlsContexts} uses the non-reference-counted OpenSSL
 * provider).
 */
public final class TlsTable {

    private final TlsCertificate defaultEntry;
    private final HostIndex<TlsCertificate> exactHosts;
    /** Keyed by what follows {@code *.}. */
    private final HostIndex<TlsCertificate> wildcardHosts;
    private final List<EntryView> entries;

    private TlsTable(TlsCertificate defaultEntry, Map<String, TlsCertificate> exact,
                     Map<String, TlsCertificate> wildcards, List<EntryView> entries) {
        this.defaultEntry = defaultEntry;
        this.exactHosts = new HostIndex<>(exact);
        this.wildcardHosts = new HostIndex<>(wildcards);
        this.entries = List.copyOf(entries);
    }

    /**
     * A table builder.
     *
     * @param defaultEntry what unknown or missing SNI gets: {@code --default-ssl-certificate}, or a generated one
     *                     ({@link TlsCertificate#generateDefault()})
     */
    public static Builder builder(TlsCertificate defaultEntry) {
        return new Builder(defaultEntry);
    }

    /** A table with no hosts: every handshake gets {@code defaultEntry}. */
    public static TlsTable of(TlsCertificate defaultEntry) {
        return builder(defaultEntry).build();
    }

    /**
     * The certificate for a handshake.
     *
     * @param sniHostname the SNI host name as the client sent it, or {@code null} when it sent none
     * @return the exact host's entry, else the one-label wildcard's, else the default; never {@code null}
     */
    public TlsCertificate select(String sniHostname) {
        int end = HostNames.sniEnd(sniHostname);
        if (end < 0) {
            return defaultEntry;
        }
        TlsCertificate c = HostNames.lookup(exactHosts, wildcardHosts, sniHostname, 0, end);
        return c != null ? c : defaultEntry;
    }

    /**
     * The certificate a Host would select as SNI: {@code hostHeader} as received (any case, optional
     * {@code :port}). The default entry for an unknown host, an IPv6 literal, {@code null} or empty.
     */
    public TlsCertificate selectForHost(CharSequence hostHeader) {
        int end = HostNames.hostEnd(hostHeader);
        if (end < 0) {
            return defaultEntry;
        }
        TlsCertificate c = HostNames.lookup(exactHosts, wildcardHosts, hostHeader, 0, end);
        return c != null ? c : defaultEntry;
    }

    /**
     * Whether a Host has a certificate configured (exact host, else one-label wildcard; not the default): what
     * decides ingress-nginx's HTTP to HTTPS redirect. {@code hostHeader} as received: any case, optional
     * {@code :port}. Allocates nothing.
     */
    public boolean hasTls(CharSequence hostHeader) {
        int end = HostNames.hostEnd(hostHeader);
        return end > 0 && HostNames.lookup(exactHosts, wildcardHosts, hostHeader, 0, end) != null;
    }

    /**
     * Whether a request must be answered 421 Misdirected Request: the certificate its connection was handshaken
     * with does not {@linkplain TlsCertificate#covers cover} its Host, and the Host would select a different
     * certificate ({@link #selectForHost}). So a Host that no entry has, on a connection that got the default
     * certificate (a client that sent an unknown SNI), is served, as ingress-nginx serves it; a Host that has its
     * own certificate, on a connection made for another one, is not.
     *
     * <p>The connection's certificate may come from an older table (the connection outlived a swap): it is compared
     * by {@linkplain TlsCertificate#sameCertificate content}, not identity. A listener that wants to spare clients
     * that sent no SNI at all (they got the default certificate) can skip this check for them.
     *
     * @param connection what {@link #select(String)} returned for the connection's handshake
     * @param hostHeader the request's Host or {@code :authority}, as received
     */
    public boolean misdirected(TlsCertificate connection, CharSequence hostHeader) {
        requireNonNull(connection, "connection");
        return !connection.covers(hostHeader) && !selectForHost(hostHeader).sameCertificate(connection);
    }

    /** The certificate for unknown or missing SNI. */
    public TlsCertificate defaultEntry() {
        return defaultEntry;
    }

    /** The number of hosts (exact and wildcard), not counting the default. */
    public int size() {
        return exactHosts.size() + wildcardHosts.size();
    }

    /**
     * Every host and the certificate it selects, sorted by host, then the default entry (host {@code null}); for
     * {@code /config_dump}.
     */
    public List<EntryView> entries() {
        return entries;
    }

    @Override
    public String toString() {
        return "TlsTable(" + size() + " hosts, default " + defaultEntry.secret() + ')';
    }

    /**
     * One row of {@link #entries()}.
     *
     * @param host the configured host, lowercase, possibly a {@code *.} wildcard; {@code null} for the default
     * @param secret the certificate's Secret, {@code namespace/name}, or {@link TlsCertificate#GENERATED}
     * @param subject the leaf's subject, RFC 2253
     * @param sans the certificate's names ({@link TlsCertificate#names()})
     * @param notAfter when the leaf expires
     * @param issuer the leaf's issuer, RFC 2253
     * @param isDefault whether the row's certificate is the default one (a host can be given the default
     *                  certificate, for instance when its Secret is unusable)
     */
    public record EntryView(String host, String secret, String subject, List<String> sans, Instant notAfter,
                            String issuer, boolean isDefault) {
        public EntryView {
            requireNonNull(secret, "secret");
            sans = List.copyOf(sans);
        }

        static EntryView of(String host, TlsCertificate c) {
            return new EntryView(host, c.secret(), c.subject(), c.names(), c.notAfter(), c.issuer(), c.isDefault());
        }
    }

    /** Collects hosts; not thread-safe. */
    public static final class Builder {
        private final TlsCertificate defaultEntry;
        private final Map<String, TlsCertificate> exact = new LinkedHashMap<>();
        private final Map<String, TlsCertificate> wildcards = new LinkedHashMap<>();

        private Builder(TlsCertificate defaultEntry) {
            this.defaultEntry = requireNonNull(defaultEntry, "defaultEntry");
        }

        /**
         * Adds a host. The first certificate added for a host wins.
         *
         * @param host a DNS name ({@code foo.com}) or a wildcard ({@code *.foo.com}), any case
         * @param certificate what handshakes for {@code host} get; may be the default entry (a host that has TLS
         *                    configured but no usable certificate of its own)
         * @return {@code false} if {@code host} was already added (this call changed nothing)
         * @throws IllegalArgumentException if {@code host} is not a DNS name or a {@code *.} wildcard
         */
        public boolean add(String host, TlsCertificate certificate) {
            requireNonNull(host, "host");
            requireNonNull(certificate, "certificate");
            String h = HostIndex.toLowerAscii(host);
            if (h.startsWith("*.")) {
                String rest = h.substring(2);
                checkName(host, rest);
                return wildcards.putIfAbsent(rest, certificate) == null;
            }
            checkName(host, h);
            return exact.putIfAbsent(h, certificate) == null;
        }

        /** Builds the table; the builder can go on being used. */
        public TlsTable build() {
            List<EntryView> views = new ArrayList<>();
            exact.forEach((h, c) -> views.add(EntryView.of(h, c)));
            wildcards.forEach((h, c) -> views.add(EntryView.of("*." + h, c)));
            views.sort(Comparator.comparing(EntryView::host));
            views.add(EntryView.of(null, defaultEntry));
            return new TlsTable(defaultEntry, exact, wildcards, views);
        }

        /** Labels of letters, digits, {@code -} and {@code _}, separated by single dots. */
        private static void checkName(String original, String name) {
            boolean ok = !name.isEmpty() && name.length() <= 253 && name.charAt(0) != '.'
                         && name.charAt(name.length() - 1) != '.';
            for (int i = 0; ok && i < name.length(); i++) {
                char c = name.charAt(i);
                ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
                     || c == '.' && name.charAt(i - 1) != '.';
            }
            if (!ok) {
                throw new IllegalArgumentException("host: \"" + original + "\" (expected: a DNS name such as "
                                                   + "foo.com or a wildcard such as *.foo.com)");
            }
        }
    }
}
