package io.ferry.l4;

import java.net.SocketAddress;

/**
 * Chooses which endpoint of a {@link Backend} a new connection goes to.
 *
 * <p>A balancer is a small immutable object built with the table; it is called on event loops, concurrently, and
 * must neither block nor allocate. Where it needs state it keeps it per event loop or in atomics.
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

    /**
     * Called when a connection starts using endpoint {@code index} of {@code backend} (after {@link #select}, and
     * again for each failover attempt), on the connection's event loop. Balancers that count connections, such as
     * least-connections, count here; the default does nothing.
     */
    default void acquire(Backend backend, int index) {
    }

    /**
     * Called once for every {@link #acquire}, on the same event loop, when that connection attempt fails or the
     * connection ends. The default does nothing.
     */
    default void release(Backend backend, int index) {
    }

    /** The name shown in {@code /config_dump}, such as {@code random}. */
    String name();
}
