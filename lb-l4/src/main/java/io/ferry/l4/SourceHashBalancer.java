package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Sends each client IP address to one endpoint, as IPVS's {@code sh} scheduler does ({@code ferry.io/lb-algorithm:
 * source-hash}): the client's address (not its port) is hashed and the hash, reduced to the endpoint count, picks
 * the endpoint. A client keeps its endpoint for as long as the set of endpoints is unchanged; when an endpoint is
 * added or removed most clients move (use {@link MaglevBalancer} where that matters).
 *
 * <p>The choice depends on the set of endpoints, not on their order: the hash picks a rank among the endpoints
 * sorted by {@code address:port}, and the balancer maps the rank back to the backend's index. With a fixed hash seed,
 * every Ferry process (every node, every restart) sends a client to the same endpoint of the same set.
 *
 * <p>A connection with no client address ({@code null}, or an address that is not an IP socket address) goes to an
 * endpoint picked at random.
 *
 * <p>One instance belongs to one {@link Backend}: build it from the list the backend is built from. Immutable; safe
 * on every event loop; {@link #select} neither locks nor allocates. Called with a backend of another size, it
 * reduces the hash modulo that size instead, so that the index is always valid.
 */
public final class SourceHashBalancer implements Balancer {

    /** The seed of {@link #clientHash}: fixed, so that every process hashes a client alike. */
    private static final int CLIENT_SEED = 0x5f3c_a1d7;

    // rank -> index in the backend's endpoint list, the ranks in address:port order.
    private final int[] byRank;
    private final InetSocketAddress[] addresses;

    private SourceHashBalancer(int[] byRank, InetSocketAddress[] addresses) {
        this.byRank = byRank;
        this.addresses = addresses;
    }

    /**
     * A balancer for {@code endpoints}.
     *
     * @param endpoints the endpoints of the backend this balancer will serve, in the backend's order
     */
    public static SourceHashBalancer create(List<Endpoint> endpoints) {
        requireNonNull(endpoints, "endpoints");
        InetSocketAddress[] addresses = addresses(endpoints);
        String[] keys = new String[addresses.length];
        Integer[] order = new Integer[addresses.length];
        for (int i = 0; i < addresses.length; i++) {
            keys[i] = Endpoint.hostPort(addresses[i]);
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparing((Integer i) -> keys[i]).thenComparing(i -> i));
        int[] byRank = new int[order.length];
        for (int r = 0; r < order.length; r++) {
            byRank[r] = order[r];
        }
        return new SourceHashBalancer(byRank, addresses);
    }

    @Override
    public int select(Backend backend, SocketAddress client) {
        int n = backend.size();
        if (n == 1) {
            return 0;
        }
        if (!(client instanceof InetSocketAddress) || ((InetSocketAddress) client).getAddress() == null) {
            return ThreadLocalRandom.current().nextInt(n);
        }
        int bucket = reduce(clientHash(((InetSocketAddress) client).getAddress()), n);
        return n == byRank.length ? byRank[bucket] : bucket;
    }

    /**
     * A well-mixed 32-bit hash of a client's IP address, the same in every process. Does not allocate: it starts
     * from {@link InetAddress#hashCode()}, which for IPv4 is the address itself and for IPv6 the sum of its four
     * 32-bit words (two IPv6 clients whose words sum alike share a hash, which only means they share an endpoint),
     * and mixes it with MurmurHash3's finalizer.
     */
    static int clientHash(InetAddress address) {
        int h = address.hashCode() ^ CLIENT_SEED;
        h ^= h >>> 16;
        h *= 0x85eb_ca6b;
        h ^= h >>> 13;
        h *= 0xc2b2_ae35;
        h ^= h >>> 16;
        return h;
    }

    /** Maps a uniform 32-bit hash onto {@code [0, n)} with a multiply and a shift (Lemire), without division. */
    static int reduce(int hash, int n) {
        return (int) (((hash & 0xffff_ffffL) * n) >>> 32);
    }

    static InetSocketAddress[] addresses(List<Endpoint> endpoints) {
        InetSocketAddress[] addresses = new InetSocketAddress[endpoints.size()];
        for (int i = 0; i < addresses.length; i++) {
            addresses[i] = endpoints.get(i).address();
        }
        return addresses;
    }

    /** Whether this balancer was built for endpoints at exactly these addresses, in this order. */
    boolean isFor(List<Endpoint> endpoints) {
        return Arrays.equals(addresses, addresses(endpoints));
    }

    /** The number of endpoints this balancer was built for. */
    public int size() {
        return byRank.length;
    }

    @Override
    public String name() {
        return "source-hash";
    }

    @Override
    public String toString() {
        return name();
    }
}
