package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class L4TableTest {

    private static final Backend A = Backend.of("ns/a:80/TCP",
                                                List.of(Endpoint.of(new InetSocketAddress("127.0.0.1", 8080))),
                                                RandomBalancer.INSTANCE);

    @Test
    void looksUpByAddressPortAndProtocol() throws Exception {
        ListenerKey tcp = ListenerKey.of(InetAddress.getByName("127.0.0.10"), 80, Protocol.TCP);
        L4Table table = L4Table.builder().add(tcp, A).build();

        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("127.0.0.10"), 80, Protocol.TCP))).isSameAs(A);
        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("127.0.0.10"), 80, Protocol.UDP))).isNull();
        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("127.0.0.10"), 81, Protocol.TCP))).isNull();
        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("127.0.0.11"), 80, Protocol.TCP))).isNull();
    }

    @Test
    void looksUpIpv6AndWildcardListenersBesideIpv4Ones() throws Exception {
        Backend b = Backend.of("ns/b:53/UDP", List.of(), RandomBalancer.INSTANCE);
        Backend c = Backend.of("ns/c:30080/TCP", List.of(), RandomBalancer.INSTANCE);
        L4Table table = L4Table.builder()
                               .add(ListenerKey.of(InetAddress.getByName("127.0.0.10"), 53, Protocol.UDP), A)
                               .add(ListenerKey.of(InetAddress.getByName("::1"), 53, Protocol.UDP), b)
                               .add(ListenerKey.of(null, 30080, Protocol.TCP), c)
                               .build();

        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("::1"), 53, Protocol.UDP))).isSameAs(b);
        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("::1"), 53, Protocol.TCP))).isNull();
        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("::2"), 53, Protocol.UDP))).isNull();
        assertThat(table.lookup(ListenerKey.of(null, 30080, Protocol.TCP))).isSameAs(c);
        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("0.0.0.0"), 30080, Protocol.TCP))).isSameAs(c);
        assertThat(table.lookup(ListenerKey.of(InetAddress.getByName("127.0.0.10"), 53, Protocol.UDP))).isSameAs(A);
        assertThat(L4Table.EMPTY.lookup(ListenerKey.of(InetAddress.getByName("127.0.0.10"), 53, Protocol.UDP)))
                .isNull();
    }

    @Test
    void agreesWithAMapOverManyClusteredKeys() throws Exception {
        // Addresses of one /16, ports and protocols mixed: neighbours in the packed order, long probe runs if the
        // hash spread them badly. Every key in the table is found; every other one is not.
        SplittableRandom random = new SplittableRandom(7);
        Map<ListenerKey, Backend> expected = new HashMap<>();
        L4Table.Builder builder = L4Table.builder();
        Protocol[] protocols = { Protocol.TCP, Protocol.UDP };
        for (int i = 0; i < 5000; i++) {
            ListenerKey k = ListenerKey.of(ipv4(10, 96, random.nextInt(256), random.nextInt(256)),
                                           80 + random.nextInt(4), protocols[random.nextInt(2)]);
            if (!expected.containsKey(k)) {
                Backend b = Backend.of("ns/s" + i + ":80/TCP", List.of(), RandomBalancer.INSTANCE);
                expected.put(k, b);
                builder.add(k, b);
            }
        }
        L4Table table = builder.build();

        assertThat(table.size()).isEqualTo(expected.size());
        for (int i = 0; i < 20_000; i++) {
            // A fresh key object each time, as a listener holds its own.
            ListenerKey probe = ListenerKey.of(ipv4(10, 96, random.nextInt(256), random.nextInt(256)),
                                               80 + random.nextInt(5), protocols[random.nextInt(2)]);
            assertThat(table.lookup(probe)).as("%s", probe).isSameAs(expected.get(probe));
        }
        expected.forEach((k, b) -> assertThat(table.lookup(k)).isSameAs(b));
    }

    private static InetAddress ipv4(int a, int b, int c, int d) throws Exception {
        return InetAddress.getByAddress(new byte[] { (byte) a, (byte) b, (byte) c, (byte) d });
    }

    @Test
    void rejectsADuplicateListener() throws Exception {
        ListenerKey key = ListenerKey.of(InetAddress.getByName("127.0.0.10"), 80, Protocol.TCP);
        L4Table.Builder b = L4Table.builder().add(key, A);
        assertThatThrownBy(() -> b.add(key, A)).hasMessageContaining("127.0.0.10:80/TCP")
                                              .hasMessageContaining("ns/a:80/TCP");
    }

    @Test
    void keysPrintAsUsersWriteThem() throws Exception {
        assertThat(ListenerKey.of(InetAddress.getByName("127.0.0.10"), 80, Protocol.TCP))
                .hasToString("127.0.0.10:80/TCP");
        assertThat(ListenerKey.of(InetAddress.getByName("::1"), 53, Protocol.UDP)).hasToString("[0:0:0:0:0:0:0:1]:53/UDP");
        assertThat(ListenerKey.of(null, 30080, Protocol.TCP)).hasToString("*:30080/TCP");
        assertThatThrownBy(() -> ListenerKey.of(null, 70000, Protocol.TCP))
                .hasMessage("port: 70000 (expected: 0-65535)");
    }

    @Test
    void backendsRefuseNothingButNulls() {
        assertThat(Backend.of("x", List.of(), RandomBalancer.INSTANCE).isEmpty()).isTrue();
        assertThatThrownBy(() -> Backend.of(null, List.of(), RandomBalancer.INSTANCE))
                .isInstanceOf(NullPointerException.class).hasMessage("name");
    }

    @Test
    void randomBalancerStaysInRange() {
        Backend three = Backend.of("x", List.of(Endpoint.of(new InetSocketAddress("127.0.0.1", 1)),
                                                Endpoint.of(new InetSocketAddress("127.0.0.1", 2)),
                                                Endpoint.of(new InetSocketAddress("127.0.0.1", 3))),
                                   RandomBalancer.INSTANCE);
        boolean[] seen = new boolean[3];
        for (int i = 0; i < 1000; i++) {
            seen[RandomBalancer.INSTANCE.select(three, null)] = true;
        }
        assertThat(seen).containsOnly(true);
    }
}
