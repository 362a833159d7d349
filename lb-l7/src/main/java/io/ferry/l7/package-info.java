/**
 * Ferry's edge HTTP proxy (ingress-nginx's job), in three packages:
 * <ul>
 *   <li>{@link io.ferry.l7.route}: the HTTP route table — a hash on host, then a per-host path matcher — and the
 *       typed per-route policy compiled from Ingress annotations;</li>
 *   <li>{@link io.ferry.l7.tls}: the TLS table (SNI to certificate) and the server contexts built from
 *       {@code kubernetes.io/tls} Secrets;</li>
 *   <li>{@link io.ferry.l7.http}: the listeners, the HTTP/1.1 and HTTP/2 server pipelines, the upstream pools per
 *       event loop and the error responses.</li>
 * </ul>
 * It reuses {@link io.ferry.l4.Transport}, {@link io.ferry.l4.Endpoint}, {@link io.ferry.l4.Backend} and the
 * balancers of {@code lb-l4}, and knows nothing of Kubernetes: the control plane compiles Ingresses into these
 * tables and publishes them with one volatile write each.
 */
package io.ferry.l7;
