package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MaglevBalancerTest {

    private static final int CLIENTS = 10_000;

    static List<Endpoint> endpoints(int n) {
        List<Endpoint> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(Endpoint.of(new InetSocketAddress(ipv4((10 << 24) | (244 << 16) | (i + 1)), 8080)));
        }
        return list;
    }

    static InetAddress ipv4(int address) {
        try {
            return InetAddress.getByAddress(new byte[] {
                    (byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address });
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** {@code count} distinct-enough client addresses with random ports, the same every run. */
    static List<InetSocketAddress> clients(int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<InetSocketAddress> clients = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            clients.add(new InetSocketAddress(ipv4(random.nextInt()), 1024 + random.nextInt(60000)));
        }
        return clients;
    }

    private static Backend backend(List<Endpoint> endpoints) {
        return Backend.of("ns/web:80/TCP", endpoints, MaglevBalancer.create(endpoints));
    }

    /** For each client, the endpoint address it goes to. */
    private static List<InetSocketAddress> assign(Backend b, List<InetSocketAddress> clients) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (InetSocketAddress c : clients) {
            out.add(b.endpoint(b.balancer().select(b, c)).address());
        }
        return out;
    }

    @Test
    void everyEndpointOwnsItsShareOfTheTable() {
        for (int n : new int[] { 1, 3, 10, 100, 1000 }) {
            MaglevBalancer m = MaglevBalancer.create(endpoints(n));
            int[] slots = new int[n];
            for (int s = 0; s < m.tableSize(); s++) {
                slots[m.slot(s)]++;
            }
            // Maglev's population gives every endpoint floor(M/N) or ceil(M/N) slots: well within 1% of 1/N.
            for (int i = 0; i < n; i++) {
                assertThat(slots[i]).as("slots of endpoint %d of %d", i, n)
                                    .isBetween(m.tableSize() / n, m.tableSize() / n + 1);
            }
        }
    }

    @Test
    void clientsSpreadEvenly() {
        Backend b = backend(endpoints(10));
        int[] counts = new int[10];
        for (InetSocketAddress c : clients(CLIENTS, 1)) {
            counts[b.balancer().select(b, c)]++;
        }
        // 1,000 expected each; the hash and the clients are fixed, so this cannot flake.
        for (int count : counts) {
            assertThat(count).isBetween(900, 1100);
        }
    }

    @Test
    void aClientKeepsItsEndpointWhateverItsPort() throws Exception {
        Backend b = backend(endpoints(10));
        InetAddress client = InetAddress.getByName("192.0.2.77");
        int first = b.balancer().select(b, new InetSocketAddress(client, 40000));
        for (int port = 40001; port < 40100; port++) {
            assertThat(b.balancer().select(b, new InetSocketAddress(client, port))).isEqualTo(first);
        }
    }

    @Test
    void removingOneOfTenEndpointsMovesOnlyItsClients() {
        List<Endpoint> ten = endpoints(10);
        List<InetSocketAddress> clients = clients(CLIENTS, 2);
        List<InetSocketAddress> before = assign(backend(ten), clients);
        for (int removed = 0; removed < ten.size(); removed++) {
            List<Endpoint> nine = new ArrayList<>(ten);
            InetSocketAddress gone = nine.remove(removed).address();
            List<InetSocketAddress> after = assign(backend(nine), clients);
            int survivors = 0;
            int stayed = 0;
            int moved = 0;
            for (int i = 0; i < clients.size(); i++) {
                if (!before.get(i).equals(gone)) {
                    survivors++;
                    if (before.get(i).equals(after.get(i))) {
                        stayed++;
                    }
                }
                if (!before.get(i).equals(after.get(i))) {
                    moved++;
                }
            }
            assertThat((double) stayed / survivors).as("clients of surviving endpoints that stay, removing %d", removed)
                                                   .isGreaterThanOrEqualTo(0.95);
            // The removed endpoint's tenth must move; on top of that, a few percent at most.
            assertThat((double) moved / clients.size()).isLessThanOrEqualTo(0.10 + 0.05);
        }
    }

    @Test
    void addingAnEndpointMovesAboutItsShare() {
        List<Endpoint> ten = endpoints(10);
        List<Endpoint> eleven = endpoints(11);
        List<InetSocketAddress> clients = clients(CLIENTS, 3);
        List<InetSocketAddress> before = assign(backend(ten), clients);
        List<InetSocketAddress> after = assign(backend(eleven), clients);
        int moved = 0;
        int toNew = 0;
        for (int i = 0; i < clients.size(); i++) {
            if (!before.get(i).equals(after.get(i))) {
                moved++;
                if (after.get(i).equals(eleven.get(10).address())) {
                    toNew++;
                }
            }
        }
        // 1/11 of the clients go to the new endpoint; few others move.
        assertThat((double) toNew / clients.size()).isBetween(0.08, 0.10);
        assertThat((double) (moved - toNew) / clients.size()).isLessThanOrEqualTo(0.05);
    }

    @Test
    void theTableDependsOnTheSetOfEndpointsNotTheirOrder() {
        List<Endpoint> ordered = endpoints(20);
        List<Endpoint> shuffled = new ArrayList<>(ordered);
        Collections.shuffle(shuffled, new Random(4));
        List<InetSocketAddress> clients = clients(2_000, 4);
        assertThat(assign(backend(shuffled), clients)).isEqualTo(assign(backend(ordered), clients));
    }

    @Test
    void everyProcessBuildsTheSameTable() {
        MaglevBalancer a = MaglevBalancer.create(endpoints(7));
        MaglevBalancer b = MaglevBalancer.create(endpoints(7));
        assertThat(a).isNotSameAs(b);
        for (int s = 0; s < a.tableSize(); s++) {
            assertThat(a.slot(s)).isEqualTo(b.slot(s));
        }
    }

    @Test
    void tableSizeDependsOnTheEndpointCountAlone() {
        assertThat(MaglevBalancer.tableSizeFor(0)).isEqualTo(65537);
        assertThat(MaglevBalancer.tableSizeFor(1)).isEqualTo(65537);
        assertThat(MaglevBalancer.tableSizeFor(655)).isEqualTo(65537);
        assertThat(MaglevBalancer.tableSizeFor(656)).isEqualTo(131071);
        assertThat(MaglevBalancer.tableSizeFor(1000)).isEqualTo(131071);
        assertThat(MaglevBalancer.tableSizeFor(5000)).isEqualTo(524287);
        assertThat(MaglevBalancer.tableSizeFor(100_000)).isEqualTo(1048573);
        assertThat(MaglevBalancer.create(endpoints(3)).tableSize()).isEqualTo(65537);
    }

    @Test
    void aSmallerPrimeTableStillBalances() {
        MaglevBalancer m = MaglevBalancer.create(endpoints(3), 251);
        assertThat(m.tableSize()).isEqualTo(251);
        int[] slots = new int[3];
        for (int s = 0; s < 251; s++) {
            slots[m.slot(s)]++;
        }
        assertThat(slots).containsExactlyInAnyOrder(83, 84, 84);
    }

    @Test
    void rejectsATableSizeThatIsNotAPrimeAboveTheEndpointCount() {
        assertThatThrownBy(() -> MaglevBalancer.create(endpoints(3), 65536))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("tableSize: 65536 (expected: a prime)");
        assertThatThrownBy(() -> MaglevBalancer.create(endpoints(3), 3))
                .hasMessage("tableSize: 3 (expected: > 3, the number of endpoints)");
        assertThatThrownBy(() -> MaglevBalancer.tableSizeFor(-1)).hasMessage("endpoints: -1 (expected: >= 0)");
    }

    @Test
    void anUnknownClientGetsAnEndpointInRange() {
        Backend b = backend(endpoints(5));
        boolean[] seen = new boolean[5];
        for (int i = 0; i < 1_000; i++) {
            int pick = b.balancer().select(b, null);
            assertThat(pick).isBetween(0, 4);
            seen[pick] = true;
        }
        assertThat(seen).containsOnly(true);
    }

    @Test
    void aBackendOfAnotherSizeStillGetsAValidIndex() {
        MaglevBalancer m = MaglevBalancer.create(endpoints(10));
        Backend smaller = Backend.of("ns/web:80/TCP", endpoints(3), m);
        for (InetSocketAddress c : clients(1_000, 5)) {
            assertThat(m.select(smaller, c)).isBetween(0, 2);
        }
    }

    @Test
    void oneEndpointAndNoEndpoint() {
        Backend one = backend(endpoints(1));
        assertThat(one.balancer().select(one, new InetSocketAddress("192.0.2.1", 1))).isZero();
        assertThat(MaglevBalancer.create(List.of()).size()).isZero();
    }

    @Test
    void ipv6ClientsSpreadToo() throws Exception {
        Backend b = backend(endpoints(4));
        int[] counts = new int[4];
        for (int i = 0; i < 4_000; i++) {
            InetAddress client = InetAddress.getByName("2001:db8::" + Integer.toHexString(i));
            counts[b.balancer().select(b, new InetSocketAddress(client, 5000))]++;
        }
        for (int count : counts) {
            assertThat(count).isBetween(800, 1200);
        }
    }

    @Test
    void isNamedAsTheAnnotationSpellsIt() {
        assertThat(MaglevBalancer.create(endpoints(2)).name()).isEqualTo("maglev");
    }
}
