package io.ferry.l4;

import static io.ferry.l4.MaglevBalancerTest.endpoints;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class RandomBalancerTest {

    @Test
    void picksUniformly() {
        int n = 10;
        int picks = 100_000;
        Backend b = Backend.of("ns/web:80/TCP", endpoints(n), RandomBalancer.INSTANCE);
        int[] counts = new int[n];
        InetSocketAddress client = new InetSocketAddress("192.0.2.1", 40000);
        for (int i = 0; i < picks; i++) {
            counts[b.balancer().select(b, client)]++;
        }
        double expected = (double) picks / n;
        double chiSquare = 0;
        for (int count : counts) {
            chiSquare += (count - expected) * (count - expected) / expected;
        }
        // 9 degrees of freedom: the mean is 9 and P(chi-square > 60) is about 1e-9, so this cannot flake; one endpoint
        // 10% off its share adds 100 on its own. Each count's standard deviation is 95: 10% off is 10 of them.
        assertThat(chiSquare).isLessThan(60);
        for (int count : counts) {
            assertThat(count).isBetween((int) (expected * 0.9), (int) (expected * 1.1));
        }
    }

    @Test
    void oneEndpointIsAlwaysChosen() {
        Backend b = Backend.of("ns/web:80/TCP", endpoints(1), RandomBalancer.INSTANCE);
        for (int i = 0; i < 10; i++) {
            assertThat(b.balancer().select(b, null)).isZero();
        }
    }

    @Test
    void isNamedAsTheAnnotationSpellsIt() {
        assertThat(RandomBalancer.INSTANCE.name()).isEqualTo("random");
    }
}
