/**
 * Ferry's layer-4 data plane: the transport, the immutable routing tables and the TCP proxy.
 *
 * <p>Starting points:
 * <ul>
 *   <li>{@link io.ferry.l4.Transport} — the one event loop group (io_uring, else epoll, else NIO) that every
 *       listener and upstream connection shares.</li>
 *   <li>{@link io.ferry.l4.L4Table} — immutable map from a listener ({@link io.ferry.l4.ListenerKey}) to the
 *       {@link io.ferry.l4.Backend} (a Service port: its {@link io.ferry.l4.Endpoint}s and a
 *       {@link io.ferry.l4.Balancer}).</li>
 *   <li>{@link io.ferry.l4.ServiceProxy} — binds and unbinds listeners to follow each new table and publishes the
 *       table with one volatile write.</li>
 *   <li>{@link io.ferry.l4.TcpFrontendHandler} and {@link io.ferry.l4.TcpBackendHandler} — the relay of one TCP
 *       connection.</li>
 * </ul>
 *
 * <p>This package knows nothing of Kubernetes or HTTP.
 */
package io.ferry.l4;
