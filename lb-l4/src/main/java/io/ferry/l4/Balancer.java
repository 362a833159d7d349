package io.ferry.l4;

import java.net.SocketAddress;

/**
 * Chooses which endpoint of a {@link Backend} a new connection goes to.
 *
 * <p>A balancer is a small immutable object built with the table; it is called on event loops, concurrently, and
 * must neither block nor allocate. Where it needs state it keeps it per event loop.
 */
public interface Balancer {

    /**
     * Returns the index of the endpoint for a new connection from {@code client}.
     *
     * @param backend a backend with at least one endpoint
     * @param client the client's address, or {@code null} if unknown
     * @return an index in {@code [0, backend.size())}
     */
    int select(Backend backend, SocketAddress client);

    /** The name shown in {@code /config_dump}, such as {@code random}. */
    String name();
}
