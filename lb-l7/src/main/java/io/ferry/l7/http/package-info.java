/**
 * The edge HTTP/1.1 proxy (ingress-nginx's job). Starting points:
 * <ul>
 *   <li>{@link io.ferry.l7.http.HttpProxy}: listeners, the live route table (one volatile write per swap), the
 *       per-event-loop upstream pools and the access log;</li>
 *   <li>{@code HttpFrontendHandler}: the life of a request on one client connection, from its head to the end of
 *       its response (routing, policy, retries, timeouts, pipelining, the switch to {@code RawRelay} after a
 *       {@code 101});</li>
 *   <li>{@code UpstreamConnection} and {@code UpstreamPool}: kept-alive connections to endpoints, confined to one
 *       event loop;</li>
 *   <li>{@code ForwardedHeaders}, {@code RequestHeads} and {@code LocalResponses}: what is added to, removed from
 *       or written instead of the proxied messages;</li>
 *   <li>{@link io.ferry.l7.http.HttpStats}, {@code AccessLog}: what is counted and logged.</li>
 * </ul>
 * Bodies stream in both directions with backpressure and are never aggregated.
 */
package io.ferry.l7.http;
