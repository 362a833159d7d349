package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
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
