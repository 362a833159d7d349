package io.ferry.control.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.ferry.control.Cidr;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** What the API server's allocators promise, for manifests: explicit values win, and allocations never move. */
class ManifestAllocatorTest {

    private static final Cidr CIDR = Cidr.parse("10.96.0.0/28"); // 14 addresses: collisions are easy to find

    private static ManifestAllocator allocator() {
        return new ManifestAllocator(CIDR);
    }

    private static Service clusterIp(String name) {
        return new ServiceBuilder().withNewMetadata().withName(name).withNamespace("ns").endMetadata()
                                   .withNewSpec().addNewPort().withName("http").withPort(80).endPort().endSpec()
                                   .build();
    }

    private static Service nodePort(String name) {
        return new ServiceBuilder(clusterIp(name)).editSpec().withType("NodePort").withClusterIP("127.6.0.1")
                                                   .endSpec().build();
    }

    private static Service withClusterIp(Service s, String ip) {
        return new ServiceBuilder(s).editSpec().withClusterIP(ip).endSpec().build();
    }

    private static String ip(Service s) {
        return s.getSpec().getClusterIP();
    }

    private static Integer port(Service s) {
        return s.getSpec().getPorts().get(0).getNodePort();
    }

    /** A name whose first choice, on its own, is {@code taken}: it would collide with the holder. */
    private static <T> String collidingName(Function<String, Service> make, Function<Service, T> value, T taken) {
        for (int i = 0; i < 1_000_000; i++) {
            String name = "new-" + i;
            if (taken.equals(value.apply(allocator().allocate(List.of(make.apply(name))).get(0)))) {
                return name;
            }
        }
        throw new AssertionError("no name hashes to " + taken);
    }

    @Test
    void aNewServiceEarlierInTheFilesNeverTakesAnAllocatedClusterIp() {
        ManifestAllocator allocator = allocator();
        String held = ip(allocator.allocate(List.of(clusterIp("old"))).get(0));
        String newcomer = collidingName(ManifestAllocatorTest::clusterIp, ManifestAllocatorTest::ip, held);

        List<Service> out = allocator.allocate(List.of(clusterIp(newcomer), clusterIp("old")));
        assertThat(ip(out.get(1))).isEqualTo(held);
        assertThat(ip(out.get(0))).isNotNull().isNotEqualTo(held);
        // And it stays that way.
        assertThat(allocator.allocate(List.of(clusterIp(newcomer), clusterIp("old"))))
                .extracting(ManifestAllocatorTest::ip).containsExactly(ip(out.get(0)), held);
    }

    @Test
    void aNewServiceEarlierInTheFilesNeverTakesAnAllocatedNodePort() {
        ManifestAllocator allocator = allocator();
        Integer held = port(allocator.allocate(List.of(nodePort("old"))).get(0));
        String newcomer = collidingName(ManifestAllocatorTest::nodePort, ManifestAllocatorTest::port, held);

        List<Service> out = allocator.allocate(List.of(nodePort(newcomer), nodePort("old")));
        assertThat(port(out.get(1))).isEqualTo(held);
        assertThat(port(out.get(0))).isBetween(30000, 32767).isNotEqualTo(held);
    }

    @Test
    void anAllocationStaysWithItsServiceEvenWhenAnotherAsksForItExplicitly() {
        // The API server would refuse the explicit request; the compiler rejects the newcomer's listener.
        ManifestAllocator allocator = allocator();
        String held = ip(allocator.allocate(List.of(clusterIp("old"))).get(0));
        List<Service> out = allocator.allocate(List.of(withClusterIp(clusterIp("explicit"), held), clusterIp("old")));
        assertThat(out).extracting(ManifestAllocatorTest::ip).containsExactly(held, held);
    }

    @Test
    void explicitValuesAreNeverAllocatedAndAreFreedWhenTheServiceGoes() {
        ManifestAllocator allocator = allocator();
        String first = ip(allocator().allocate(List.of(clusterIp("a"))).get(0));
        List<Service> out = allocator.allocate(List.of(clusterIp("a"), withClusterIp(clusterIp("b"), first)));
        assertThat(ip(out.get(0))).isNotEqualTo(first);
        assertThat(ip(out.get(1))).isEqualTo(first);

        // A Service that now gives its own address forgets the allocated one, which another may then have.
        String allocated = ip(out.get(0));
        allocator.allocate(List.of(withClusterIp(clusterIp("a"), "127.6.0.9")));
        String other = collidingName(ManifestAllocatorTest::clusterIp, ManifestAllocatorTest::ip, allocated);
        assertThat(ip(allocator.allocate(List.of(clusterIp(other))).get(0))).isEqualTo(allocated);
    }

    @Test
    void clusterIpsAloneIsRespectedAndTheTwoFieldsAgree() throws Exception {
        ManifestAllocator allocator = allocator();
        Service listOnly = new ServiceBuilder(clusterIp("list")).editSpec().withClusterIPs("127.6.0.7").endSpec()
                                                                 .build();
        Service headless = new ServiceBuilder(clusterIp("headless")).editSpec().withClusterIPs("None").endSpec()
                                                                     .build();
        Service fieldOnly = withClusterIp(clusterIp("field"), "127.6.0.8");
        List<Service> out = allocator.allocate(List.of(listOnly, headless, fieldOnly, clusterIp("none")));

        assertThat(out.get(0).getSpec().getClusterIP()).isEqualTo("127.6.0.7");
        assertThat(out.get(0).getSpec().getClusterIPs()).containsExactly("127.6.0.7");
        assertThat(out.get(1).getSpec().getClusterIP()).isEqualTo("None");
        assertThat(out.get(1).getSpec().getClusterIPs()).containsExactly("None");
        assertThat(out.get(2).getSpec().getClusterIPs()).containsExactly("127.6.0.8");
        assertThat(out.get(3).getSpec().getClusterIPs()).containsExactly(out.get(3).getSpec().getClusterIP());
        assertThat(CIDR.contains(java.net.InetAddress.getByName(out.get(3).getSpec().getClusterIP()))).isTrue();
    }
}
