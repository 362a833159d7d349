/**
 * Ferry's edge HTTP proxy: the HTTP route table (a hash on host, then a per-host path matcher), the TLS table
 * (SNI to {@code SslContext}), the HTTP/1.1 and HTTP/2 server pipeline and the upstream pools per event loop.
 *
 * <p>Empty for now: the module exists so that the reactor, the dependency direction
 * ({@code lb-l4 <- lb-l7 <- lb-control}) and the BoringSSL native library are in place. The edge proxy arrives
 * with the Ingress issue. It reuses {@link io.ferry.l4.Transport}, {@link io.ferry.l4.Endpoint},
 * {@link io.ferry.l4.Backend} and the balancers of {@code lb-l4}, and knows nothing of Kubernetes.
 */
package io.ferry.l7;
