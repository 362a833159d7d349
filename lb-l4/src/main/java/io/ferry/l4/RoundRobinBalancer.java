package io.ferry.l4;

import java.net.SocketAddress;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Hands endpoints out in turn, as ingress-nginx's default {@code round_robin} balancer does.
 *
 * <p>One instance belongs to one {@link Backend}: create a new one per backend (the compiler does), so that each
 * backend has its own turn. The turn is a single {@link AtomicInteger} shared by every event loop: selecting is one
 * atomic increment, lock-free and allocation-free, and the backend as a whole is visited in strict rotation even
 * when its requests arrive on many event loops. (A counter per event loop would avoid the shared cache line, but
 * per-instance thread-locals outlive the tables that are swapped in and out; one increment per request is cheap
 * next to the request itself.) The first turn starts at a random endpoint, so that many backends built at the
 * same moment do not all send their first request to their first endpoint.
 *
 * <p>The rotation works on indexes: if a backend were shared by callers that saw different endpoint counts, each
 * would still get a valid index.
 */
public final class RoundRobinBalancer implements Balancer {

    private final AtomicInteger next;

    private RoundRobinBalancer(int start) {
        next = new AtomicInteger(start);
    }

    /** A balancer whose first turn is a random endpoint. */
    public static RoundRobinBalancer create() {
        return new RoundRobinBalancer(ThreadLocalRandom.current().nextInt(Integer.MAX_VALUE));
    }

    /**
     * A balancer whose first turn is endpoint {@code start} (modulo the endpoint count); for tests.
     *
     * @param start {@code >= 0}
     */
    public static RoundRobinBalancer startingAt(int start) {
        if (start < 0) {
            throw new IllegalArgumentException("start: " + start + " (expected: >= 0)");
        }
        return new RoundRobinBalancer(start);
    }

    @Override
    public int select(Backend backend, SocketAddress client) {
        int n = backend.size();
        if (n == 1) {
            return 0;
        }
        // The counter wraps past Integer.MAX_VALUE; masking the sign bit keeps the index non-negative. The step at
        // the wrap breaks the rotation once every 2^31 requests, which nobody can observe.
        return (next.getAndIncrement() & Integer.MAX_VALUE) % n;
    }

    @Override
    public String name() {
        return "round_robin";
    }

    @Override
    public String toString() {
        return name();
    }
}
