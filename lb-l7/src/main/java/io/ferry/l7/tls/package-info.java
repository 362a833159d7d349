/**
 * TLS at the edge: which certificate a handshake gets, compiled from Ingresses and Secrets and swapped whole.
 *
 * <p>Starting points:
 * <ul>
 *   <li>{@link io.ferry.l7.tls.TlsTable} — SNI to {@link io.ferry.l7.tls.TlsCertificate}, exact host then one-label
 *       wildcard then the default; also {@code hasTls} (HTTP to HTTPS redirects) and {@code misdirected} (421).
 *       Immutable, lock-free, read by the event loops on every handshake.</li>
 *   <li>{@link io.ferry.l7.tls.TlsCertificate} — one certificate: its {@code SslContext}, its Secret, its names
 *       ({@code covers} a Host), its expiry.</li>
 *   <li>{@link io.ferry.l7.tls.TlsContexts} — the server {@code SslContext} policy: BoringSSL when available, TLS 1.2
 *       and 1.3, AEAD ECDHE suites, ALPN {@code h2} then {@code http/1.1}, a session cache; and PEM validation.</li>
 *   <li>{@link io.ferry.l7.tls.SelfSignedCertificates} — the generated default certificate, and certificates for
 *       tests and the demo.</li>
 * </ul>
 *
 * <p>An HTTPS listener puts a {@code SniHandler} whose mapping reads the live table's
 * {@link io.ferry.l7.tls.TlsTable#select(String)}, keeps the selected certificate on the connection, and checks each
 * request with {@link io.ferry.l7.tls.TlsTable#misdirected}. Nothing here knows Kubernetes: the control plane's
 * {@code TlsCompiler} turns Ingresses and Secrets into a table.
 */
package io.ferry.l7.tls;
