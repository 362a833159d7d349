package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends a new connection to the endpoint with the fewest active connections ({@code ferry.io/lb-algorithm:
 * least-connections}; IPVS's {@code lc}, nginx's {@code least_conn}).
 *
 * <p>Counting: the proxy calls {@link #acquire} when a connection starts using an endpoint and {@link #release} when
 * that attempt fails or the connection ends. Each endpoint's count is one {@link AtomicInteger}, shared by every
 * event loop, so the counts are this process's true totals rather than per-loop approximations; an acquire or a
 * release is one atomic add per connection, next to the system calls of the connection itself. A release never
 * takes a count below zero.
 *
 * <p>Choosing: up to {@value #FULL_SCAN_MAX} endpoints (nearly every Service), every count is read and the
 * smallest wins, ties broken uniformly at random. Beyond that, the balancer draws two distinct endpoints at random
 * and takes the one with fewer connections ("power of two choices", Envoy's default for least-request), so that
 * {@link #select} stays constant-time however large the Service.
 *
 * <p>Table swaps: a connection keeps the {@link Backend} it started with, so it releases on the balancer it
 * acquired on. A balancer built with {@link #create(List, LeastConnectionsBalancer)} shares the counters of the
 * endpoints it has in common (by address) with the previous one, so it sees the connections that are still open
 * through the old table, and those connections' releases land in the same counters.
 *
 * <p>One instance belongs to one {@link Backend}: build it from the list the backend is built from. Thread-safe,
 * lock-free; {@link #select}, {@link #acquire} and {@link #release} do not allocate. Called with a backend of
 * another size, it picks at random and does not count.
 */
public final class LeastConnectionsBalancer implements Balancer {

    /** The largest backend whose every count is read; larger ones use two random choices. */
    static final int FULL_SCAN_MAX = 64;

    private final InetSocketAddress[] addresses;
    private final AtomicInteger[] counts;

    private LeastConnectionsBalancer(InetSocketAddress[] addresses, AtomicInteger[] counts) {
        this.addresses = addresses;
        this.counts = counts;
    }

    /** A balancer for {@code endpoints} with every count at zero. */
    public static LeastConnectionsBalancer create(List<Endpoint> endpoints) {
        return create(endpoints, null);
    }

    /**
     * A balancer for {@code endpoints} that shares {@code previous}'s counter of every endpoint both have (by
     * address); a new endpoint starts at zero.
     *
     * @param endpoints the endpoints of the backend this balancer will serve, in the backend's order, without
     *                  duplicates
     * @param previous the balancer of the same Service port in the table being replaced, or {@code null}
     */
    public static LeastConnectionsBalancer create(List<Endpoint> endpoints, LeastConnectionsBalancer previous) {
        requireNonNull(endpoints, "endpoints");
        InetSocketAddress[] addresses = SourceHashBalancer.addresses(endpoints);
        Map<InetSocketAddress, AtomicInteger> old = new HashMap<>();
        if (previous != null) {
            for (int i = 0; i < previous.addresses.length; i++) {
                old.put(previous.addresses[i], previous.counts[i]);
            }
        }
        AtomicInteger[] counts = new AtomicInteger[addresses.length];
        for (int i = 0; i < counts.length; i++) {
            AtomicInteger shared = old.remove(addresses[i]); // remove: a duplicate address gets its own counter
            counts[i] = shared != null ? shared : new AtomicInteger();
        }
        return new LeastConnectionsBalancer(addresses, counts);
    }

    @Override
    public int select(Backend backend, SocketAddress client) {
        int n = backend.size();
        if (n == 1) {
            return 0;
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        if (n != counts.length) {
            return random.nextInt(n); // a backend this balancer was not built for
        }
        long now = System.nanoTime();
        return n <= FULL_SCAN_MAX ? fewest(backend, now, random) : betterOfTwo(backend, now, random);
    }

    /**
     * An endpoint's count as the choice sees it: an endpoint that passive health skips counts as full, so it is
     * chosen only when every endpoint is skipped (otherwise, never holding a connection, it would always look
     * least loaded and its picks would all fail over to one neighbour).
     */
    private int load(Backend backend, int i, long now) {
        int c = counts[i].get();
        return backend.health(i).isAvailable(now) ? c : Integer.MAX_VALUE - 1;
    }

    private int fewest(Backend backend, long now, ThreadLocalRandom random) {
        int min = Integer.MAX_VALUE;
        int first = 0;
        int ties = 0;
        for (int i = 0; i < counts.length; i++) {
            int c = load(backend, i, now);
            if (c < min) {
                min = c;
                first = i;
                ties = 1;
            } else if (c == min) {
                ties++;
            }
        }
        if (ties == 1) {
            return first;
        }
        // The k-th endpoint with the fewest, k at random. Counts move under us; if the k-th is gone, the first will do.
        int k = random.nextInt(ties);
        for (int i = first; i < counts.length; i++) {
            if (load(backend, i, now) == min && k-- == 0) {
                return i;
            }
        }
        return first;
    }

    private int betterOfTwo(Backend backend, long now, ThreadLocalRandom random) {
        int n = counts.length;
        int a = random.nextInt(n);
        int b = random.nextInt(n - 1);
        if (b >= a) {
            b++;
        }
        return load(backend, b, now) < load(backend, a, now) ? b : a;
    }

    @Override
    public void acquire(Backend backend, int index) {
        if (backend.size() == counts.length && index >= 0 && index < counts.length) {
            counts[index].incrementAndGet();
        }
    }

    @Override
    public void release(Backend backend, int index) {
        if (backend.size() != counts.length || index < 0 || index >= counts.length) {
            return;
        }
        AtomicInteger count = counts[index];
        for (;;) {
            int c = count.get();
            if (c <= 0 || count.compareAndSet(c, c - 1)) {
                return;
            }
        }
    }

    /** The active connections this balancer counts for endpoint {@code index}. */
    public int connections(int index) {
        return counts[index].get();
    }

    /** Whether this balancer was built for endpoints at exactly these addresses, in this order. */
    boolean isFor(List<Endpoint> endpoints) {
        return Arrays.equals(addresses, SourceHashBalancer.addresses(endpoints));
    }

    /** The number of endpoints this balancer was built for. */
    public int size() {
        return counts.length;
    }

    @Override
    public String name() {
        return "least-connections";
    }

    @Override
    public String toString() {
        return name();
    }
}
