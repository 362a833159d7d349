/**
 * The edge proxy (ingress-nginx's job): HTTP/1.1 on the plain listener; TLS by SNI, then HTTP/2 or HTTP/1.1 by
 * ALPN on the HTTPS listener; HTTP/1.1 or HTTP/2 cleartext (gRPC) to the endpoints. Starting points:
 * <ul>
 *   <li>{@link io.ferry.l7.http.HttpProxy}: listeners, the live route and TLS tables (one volatile write per
 *       swap), the per-event-loop upstream pools and the access log;</li>
 *   <li>{@code SniCertificateHandler} and {@code AlpnHandler}: an HTTPS connection's certificate, read from the
 *       live TLS table per handshake, and the pipeline ALPN asks for (one {@code HttpFrontendHandler} per HTTP/2
 *       stream);</li>
 *   <li>{@code HttpFrontendHandler}: the life of a request on one client connection or stream, from its head to
 *       the end of its response (routing, policy, redirects, 421, retries, timeouts, pipelining, the switch to
 *       {@code RawRelay} after a {@code 101});</li>
 *   <li>{@code Upstream}: one request's way to an endpoint — an {@code UpstreamConnection} (HTTP/1.1, kept alive
 *       in an {@code UpstreamPool}) or an {@code H2cUpstreamStream} (a stream of an {@code H2cUpstreamPool}
 *       connection, for GRPC and H2C routes), all confined to one event loop;</li>
 *   <li>{@code ForwardedHeaders}, {@code RequestHeads} and {@code LocalResponses}: what is added to, removed from
 *       or written instead of the proxied messages;</li>
 *   <li>{@link io.ferry.l7.http.HttpStats}, {@code AccessLog}: what is counted and logged.</li>
 * </ul>
 * Bodies stream in both directions with backpressure and are never aggregated.
 */
package io.ferry.l7.http;
