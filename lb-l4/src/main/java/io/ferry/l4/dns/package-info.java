/**
 * The cluster DNS server: Kubernetes' DNS-based service discovery answered from an immutable table that is swapped
 * with the other routing tables.
 *
 * <p>Starting points:
 * <ul>
 *   <li>{@link io.ferry.l4.dns.DnsTable} — every name of the zone with its answers precomputed in wire format
 *       ({@code ZoneCompiler}, {@code MessageWriter}); built by the control plane's compiler, looked up with one
 *       hash probe per query.</li>
 *   <li>{@link io.ferry.l4.dns.DnsServer} — UDP and TCP listeners on one address; {@code apply} publishes a table
 *       with one volatile write.</li>
 *   <li>{@code DnsResponder} — one query: parse ({@code DnsQuery}), look up, answer, truncate; or hand over to
 *       {@code DnsForwarder}, which relays names outside the zone to upstream resolvers.</li>
 *   <li>{@link io.ferry.l4.dns.DnsServerConfig} and {@link io.ferry.l4.dns.DnsStats} — how it listens and
 *       forwards, and what it counts.</li>
 * </ul>
 *
 * <p>Messages are parsed and written here rather than with Netty's DNS codec objects: answers are precomputed
 * byte ranges with compressed names, sized before they are written (for the TC bit), and a query costs no object
 * beyond its response buffer. Netty's codec types are used by the tests as an independent client and upstream.
 * This package knows nothing of Kubernetes.
 */
package io.ferry.l4.dns;
