package io.ferry.l4;

import static io.ferry.l4.MaglevBalancerTest.endpoints;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ferry.l4.Balancers.Algorithm;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class BalancersTest {

    @Test
    void parsesEveryValue() {
        assertThat(Algorithm.of("random")).isEqualTo(Algorithm.RANDOM);
        assertThat(Algorithm.of("round-robin")).isEqualTo(Algorithm.ROUND_ROBIN);
        assertThat(Algorithm.of("least-connections")).isEqualTo(Algorithm.LEAST_CONNECTIONS);
        assertThat(Algorithm.of("source-hash")).isEqualTo(Algorithm.SOURCE_HASH);
        assertThat(Algorithm.of("maglev")).isEqualTo(Algorithm.MAGLEV);
    }

    @Test
    void noAnnotationMeansRandom() {
        assertThat(Algorithm.of(null)).isEqualTo(Algorithm.RANDOM);
        assertThat(Balancers.create((String) null, endpoints(2), null)).isSameAs(RandomBalancer.INSTANCE);
    }

    @ParameterizedTest
    @ValueSource(strings = { "xyz", "", "Maglev", "round_robin", " random", "lc" })
    void rejectsAnUnknownValue(String value) {
        assertThatThrownBy(() -> Algorithm.of(value))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ferry.io/lb-algorithm: " + value
                            + " (expected: random, round-robin, least-connections, source-hash or maglev)");
        assertThatThrownBy(() -> Balancers.create(value, endpoints(2), null))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theMessageIsInTheProjectsStyle() {
        assertThatThrownBy(() -> Algorithm.of("xyz")).hasMessage(
                "ferry.io/lb-algorithm: xyz (expected: random, round-robin, least-connections, source-hash or maglev)");
    }

    @Test
    void buildsTheBalancerEachValueNames() {
        List<Endpoint> eps = endpoints(3);
        assertThat(Balancers.create("random", eps, null)).isSameAs(RandomBalancer.INSTANCE);
        assertThat(Balancers.create("round-robin", eps, null)).isInstanceOf(RoundRobinBalancer.class);
        assertThat(Balancers.create("least-connections", eps, null)).isInstanceOf(LeastConnectionsBalancer.class);
        assertThat(Balancers.create("source-hash", eps, null)).isInstanceOf(SourceHashBalancer.class);
        assertThat(Balancers.create("maglev", eps, null)).isInstanceOf(MaglevBalancer.class);
    }

    @ParameterizedTest
    @EnumSource(Algorithm.class)
    void theNameIsTheAnnotationSpellingExceptRoundRobinsOwn(Algorithm algorithm) {
        String name = Balancers.create(algorithm, endpoints(3), null).name();
        // RoundRobinBalancer keeps ingress-nginx's spelling, which /config_dump already shows for Ingresses.
        assertThat(name).isEqualTo(algorithm == Algorithm.ROUND_ROBIN ? "round_robin" : algorithm.value());
        assertThat(Algorithm.of(algorithm.value())).isEqualTo(algorithm);
    }

    @ParameterizedTest
    @EnumSource(Algorithm.class)
    void everyBalancerReturnsAValidIndexAndCopesWithNoEndpoints(Algorithm algorithm) {
        for (int n : new int[] { 1, 2, 3, 100 }) {
            List<Endpoint> eps = endpoints(n);
            Backend b = Backend.of("ns/web:80/TCP", eps, Balancers.create(algorithm, eps, null));
            for (var client : MaglevBalancerTest.clients(200, n)) {
                int pick = b.balancer().select(b, client);
                assertThat(pick).isBetween(0, n - 1);
                b.balancer().acquire(b, pick);
                b.balancer().release(b, pick);
            }
            assertThat(b.balancer().select(b, null)).isBetween(0, n - 1);
        }
        assertThat(Balancers.create(algorithm, List.of(), null)).isNotNull();
    }

    @Test
    void roundRobinRotatesStrictlyAndKeepsItsTurnAcrossTables() {
        List<Endpoint> eps = endpoints(3);
        Balancer first = Balancers.create("round-robin", eps, null);
        Backend b = Backend.of("ns/web:80/TCP", eps, first);
        int start = first.select(b, null);
        for (int i = 1; i < 10; i++) {
            assertThat(first.select(b, null)).isEqualTo((start + i) % 3);
        }
        Balancer next = Balancers.create("round-robin", endpoints(4), first);
        assertThat(next).isSameAs(first);
    }

    @Test
    void leastConnectionsCarriesTheCountsOver() {
        List<Endpoint> eps = endpoints(3);
        Balancer first = Balancers.create("least-connections", eps, null);
        Backend old = Backend.of("ns/web:80/TCP", eps, first);
        first.acquire(old, 1);

        assertThat(Balancers.create("least-connections", endpoints(3), first)).isSameAs(first);

        List<Endpoint> fewer = List.of(eps.get(1), eps.get(2));
        LeastConnectionsBalancer next = (LeastConnectionsBalancer) Balancers.create("least-connections", fewer, first);
        assertThat(next).isNotSameAs(first);
        assertThat(next.connections(0)).isEqualTo(1);
        first.release(old, 1);
        assertThat(next.connections(0)).isZero();
    }

    @Test
    void hashBalancersAreReusedOnlyWhileTheEndpointsAreTheSame() {
        for (String algorithm : List.of("maglev", "source-hash")) {
            List<Endpoint> eps = endpoints(5);
            Balancer first = Balancers.create(algorithm, eps, null);
            assertThat(Balancers.create(algorithm, endpoints(5), first)).as(algorithm).isSameAs(first);
            assertThat(Balancers.create(algorithm, endpoints(6), first)).as(algorithm).isNotSameAs(first);
            List<Endpoint> reversed = new ArrayList<>(eps);
            Collections.reverse(reversed);
            // The same set in another order: a new instance, because the indexes differ.
            assertThat(Balancers.create(algorithm, reversed, first)).as(algorithm).isNotSameAs(first);
        }
    }

    @Test
    void aPreviousBalancerOfAnotherAlgorithmIsIgnored() {
        List<Endpoint> eps = endpoints(3);
        Balancer maglev = Balancers.create("maglev", eps, null);
        assertThat(Balancers.create("least-connections", eps, maglev)).isInstanceOf(LeastConnectionsBalancer.class);
        assertThat(Balancers.create("round-robin", eps, maglev)).isInstanceOf(RoundRobinBalancer.class);
        assertThat(Balancers.create("maglev", eps, RandomBalancer.INSTANCE)).isInstanceOf(MaglevBalancer.class);
        assertThat(Balancers.create("random", eps, maglev)).isSameAs(RandomBalancer.INSTANCE);
    }

    @Test
    void requiresItsArguments() {
        assertThatThrownBy(() -> Balancers.create((Algorithm) null, endpoints(1), null))
                .isInstanceOf(NullPointerException.class).hasMessage("algorithm");
        assertThatThrownBy(() -> Balancers.create(Algorithm.MAGLEV, null, null))
                .isInstanceOf(NullPointerException.class).hasMessage("endpoints");
    }
}
