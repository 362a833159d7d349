package io.ferry.l4;

import static io.ferry.l4.MaglevBalancerTest.clients;
import static io.ferry.l4.MaglevBalancerTest.endpoints;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SourceHashBalancerTest {

    private static Backend backend(List<Endpoint> endpoints) {
        return Backend.of("ns/web:80/TCP", endpoints, SourceHashBalancer.create(endpoints));
    }

    @Test
    void aClientIpAlwaysGetsTheSameEndpointWhateverItsPort() throws Exception {
        Backend b = backend(endpoints(5));
        for (InetSocketAddress c : clients(200, 11)) {
            int first = b.balancer().select(b, c);
            for (int port = 1; port < 65536; port += 4099) {
                assertThat(b.balancer().select(b, new InetSocketAddress(c.getAddress(), port))).isEqualTo(first);
            }
        }
    }

    @Test
    void anotherInstanceForTheSameEndpointsAgrees() {
        Backend a = backend(endpoints(7));
        Backend b = backend(endpoints(7));
        for (InetSocketAddress c : clients(2_000, 12)) {
            assertThat(b.balancer().select(b, c)).isEqualTo(a.balancer().select(a, c));
        }
    }

    @Test
    void theChoiceDependsOnTheSetOfEndpointsNotTheirOrder() {
        List<Endpoint> ordered = endpoints(9);
        List<Endpoint> shuffled = new ArrayList<>(ordered);
        Collections.shuffle(shuffled, new Random(13));
        Backend a = backend(ordered);
        Backend b = backend(shuffled);
        for (InetSocketAddress c : clients(2_000, 13)) {
            assertThat(b.endpoint(b.balancer().select(b, c))).isEqualTo(a.endpoint(a.balancer().select(a, c)));
        }
    }

    @Test
    void clientsSpreadAcrossTheEndpoints() {
        Backend b = backend(endpoints(10));
        int[] counts = new int[10];
        for (InetSocketAddress c : clients(10_000, 14)) {
            counts[b.balancer().select(b, c)]++;
        }
        // 1,000 expected each; fixed clients and a fixed hash, so this cannot flake.
        for (int count : counts) {
            assertThat(count).isBetween(900, 1100);
        }
    }

    @Test
    void consecutiveClientAddressesSpreadToo() throws Exception {
        Backend b = backend(endpoints(4));
        int[] counts = new int[4];
        for (int i = 0; i < 256; i++) {
            counts[b.balancer().select(b, new InetSocketAddress(InetAddress.getByName("192.168.1." + i), 1234))]++;
        }
        for (int count : counts) {
            assertThat(count).isBetween(40, 90);
        }
    }

    @Test
    void ipv6ClientsWork() throws Exception {
        Backend b = backend(endpoints(3));
        InetSocketAddress client = new InetSocketAddress(InetAddress.getByName("2001:db8::42"), 5555);
        int pick = b.balancer().select(b, client);
        assertThat(pick).isBetween(0, 2);
        assertThat(b.balancer().select(b, new InetSocketAddress(client.getAddress(), 6666))).isEqualTo(pick);
    }

    @Test
    void anUnknownClientGetsAnEndpointInRange() {
        Backend b = backend(endpoints(3));
        boolean[] seen = new boolean[3];
        for (int i = 0; i < 1_000; i++) {
            int pick = b.balancer().select(b, null);
            assertThat(pick).isBetween(0, 2);
            seen[pick] = true;
        }
        assertThat(seen).containsOnly(true);
        assertThat(b.balancer().select(b, InetSocketAddress.createUnresolved("client.example", 1))).isBetween(0, 2);
    }

    @Test
    void aBackendOfAnotherSizeStillGetsAValidIndex() {
        SourceHashBalancer sh = SourceHashBalancer.create(endpoints(10));
        Backend smaller = Backend.of("ns/web:80/TCP", endpoints(3), sh);
        for (InetSocketAddress c : clients(1_000, 15)) {
            assertThat(sh.select(smaller, c)).isBetween(0, 2);
        }
    }

    @Test
    void oneEndpointIsAlwaysChosen() {
        Backend b = backend(endpoints(1));
        for (InetSocketAddress c : clients(10, 16)) {
            assertThat(b.balancer().select(b, c)).isZero();
        }
    }

    @Test
    void isNamedAsTheAnnotationSpellsIt() {
        assertThat(SourceHashBalancer.create(endpoints(2)).name()).isEqualTo("source-hash");
    }
}
