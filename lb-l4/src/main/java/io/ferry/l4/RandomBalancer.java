package io.ferry.l4;

import java.net.SocketAddress;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks an endpoint uniformly at random, as kube-proxy's iptables and nftables modes do. Ferry's default.
 */
public final class RandomBalancer implements Balancer {

    /** The one instance; it has no state. */
    public static final RandomBalancer INSTANCE = new RandomBalancer();

    private RandomBalancer() {
    }

    @Override
    public int select(Backend backend, SocketAddress client) {
        int n = backend.size();
        return n == 1 ? 0 : ThreadLocalRandom.current().nextInt(n);
    }

    @Override
    public String name() {
        return "random";
    }

    @Override
    public String toString() {
        return name();
    }
}
