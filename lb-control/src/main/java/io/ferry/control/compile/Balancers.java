package io.ferry.control.compile;

import io.ferry.l4.Balancer;
import io.ferry.l4.Endpoint;
import io.ferry.l4.RandomBalancer;
import io.ferry.l4.RoundRobinBalancer;
import java.util.List;

/** Temporary: replaced by io.ferry.l4.Balancers when the balancers land. */
final class Balancers {

    private Balancers() {
    }

    static Balancer create(String algorithm, List<Endpoint> endpoints, Balancer previous) {
        if (algorithm == null || algorithm.isEmpty() || "random".equals(algorithm)) {
            return RandomBalancer.INSTANCE;
        }
        if ("round-robin".equals(algorithm)) {
            return previous instanceof RoundRobinBalancer ? previous : RoundRobinBalancer.create();
        }
        throw new IllegalArgumentException("ferry.io/lb-algorithm: " + algorithm
                                           + " (expected: random or round-robin)");
    }
}
