package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressLoadBalancerIngress;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link IngressStatusWriter} against fabric8's mock API server in CRUD mode: the leader writes the status of
 * served Ingresses only, a second replica waits and takes over, and an overwritten status comes back.
 */
@EnableKubernetesMockClient(crud = true)
class IngressStatusWriterTest {

    private static final Duration DEADLINE = Duration.ofSeconds(20);
    private static final Duration RESYNC = Duration.ofMillis(300);
    private static final String NS = "web";
    private static final String LEASE_NS = "ferry-system";
    private static final String LEASE = "ferry-ingress-status";

    KubernetesClient client;

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private IngressStatusWriter writer(String identity, String... addresses) {
        // Short timings (fabric8 wants lease > renew deadline > 2.2 × retry) so a takeover is quick.
        IngressStatusWriter w = new IngressStatusWriter(client, LEASE_NS, LEASE, identity, List.of(addresses),
                                                        RESYNC, Duration.ofSeconds(2), Duration.ofMillis(1500),
                                                        Duration.ofMillis(200));
        closeables.add(w);
        w.start();
        return w;
    }

    private void createIngress(String name, String className) {
        client.network().v1().ingresses().inNamespace(NS).resource(new IngressBuilder()
                .withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                .withNewSpec().withIngressClassName(className)
                .addNewRule().withHost(name + ".example.com").endRule()
                .endSpec().build()).create();
    }

    /** The status entries of an Ingress, as "ip:…" or "hostname:…". */
    private List<String> status(String name) {
        Ingress ingress = client.network().v1().ingresses().inNamespace(NS).withName(name).get();
        if (ingress.getStatus() == null || ingress.getStatus().getLoadBalancer() == null
            || ingress.getStatus().getLoadBalancer().getIngress() == null) {
            return List.of();
        }
        return ingress.getStatus().getLoadBalancer().getIngress().stream()
                      .map(IngressStatusWriterTest::describe).collect(Collectors.toList());
    }

    private static String describe(IngressLoadBalancerIngress i) {
        return i.getIp() != null ? "ip:" + i.getIp() : "hostname:" + i.getHostname();
    }

    @Test
    void leaderWritesServedIngressesOnly() {
        createIngress("a", "ferry");
        createIngress("b", "nginx");
        IngressStatusWriter w = writer("node-1", "192.0.2.10");

        await().atMost(DEADLINE).until(w::isLeader);
        w.served(Set.of(NS + "/a"));

        await().atMost(DEADLINE).until(() -> status("a").equals(List.of("ip:192.0.2.10")));
        // Several resyncs later b is still untouched.
        await().pollDelay(Duration.ofMillis(3 * RESYNC.toMillis())).atMost(DEADLINE)
               .until(() -> status("b").isEmpty());
        assertThat(status("a")).containsExactly("ip:192.0.2.10");
    }

    @Test
    void addressesBecomeIpOrHostname() {
        assertThat(IngressStatusWriter.loadBalancerIngress(List.of("192.0.2.1", "2001:db8::1", "lb.example.com"))
                                      .stream().map(IngressStatusWriterTest::describe))
                .containsExactly("ip:192.0.2.1", "ip:2001:db8::1", "hostname:lb.example.com");
    }

    @Test
    void onlyTheLeaderWritesAndTheOtherTakesOver() {
        createIngress("a", "ferry");
        IngressStatusWriter one = writer("node-1", "192.0.2.1");
        IngressStatusWriter two = writer("node-2", "192.0.2.2");
        one.served(Set.of(NS + "/a"));
        two.served(Set.of(NS + "/a"));

        await().atMost(DEADLINE).until(() -> one.isLeader() || two.isLeader());
        IngressStatusWriter leader = one.isLeader() ? one : two;
        IngressStatusWriter follower = leader == one ? two : one;
        String leaderAddress = leader == one ? "ip:192.0.2.1" : "ip:192.0.2.2";
        String followerAddress = leader == one ? "ip:192.0.2.2" : "ip:192.0.2.1";

        await().atMost(DEADLINE).until(() -> status("a").equals(List.of(leaderAddress)));
        // A few resyncs later: still one leader, and the follower has not written.
        await().pollDelay(Duration.ofMillis(3 * RESYNC.toMillis())).atMost(DEADLINE)
               .until(() -> status("a").equals(List.of(leaderAddress)));
        assertThat(leader.isLeader()).isTrue();
        assertThat(follower.isLeader()).isFalse();

        leader.close();
        assertThat(leader.isLeader()).isFalse();
        await().atMost(DEADLINE).until(follower::isLeader);
        await().atMost(DEADLINE).until(() -> status("a").equals(List.of(followerAddress)));
    }

    @Test
    void overwrittenStatusIsRestoredAtTheNextResync() {
        createIngress("a", "ferry");
        IngressStatusWriter w = writer("node-1", "192.0.2.10", "lb.example.com");
        w.served(Set.of(NS + "/a"));
        await().atMost(DEADLINE).until(() -> status("a").equals(List.of("ip:192.0.2.10", "hostname:lb.example.com")));

        Ingress current = client.network().v1().ingresses().inNamespace(NS).withName("a").get();
        client.network().v1().ingresses().inNamespace(NS).resource(new IngressBuilder(current)
                .editStatus().editLoadBalancer().withIngress(List.of()).addNewIngress().withIp("198.51.100.7")
                .endIngress().endLoadBalancer().endStatus().build()).updateStatus();
        assertThat(status("a")).containsExactly("ip:198.51.100.7");

        await().atMost(DEADLINE).until(() -> status("a").equals(List.of("ip:192.0.2.10", "hostname:lb.example.com")));
    }

    @Test
    void statusClearedWhenNoLongerServedIfStillOurs() {
        createIngress("a", "ferry");
        createIngress("c", "ferry");
        IngressStatusWriter w = writer("node-1", "192.0.2.10");
        w.served(Set.of(NS + "/a", NS + "/c"));
        await().atMost(DEADLINE).until(() -> status("a").equals(List.of("ip:192.0.2.10"))
                                              && status("c").equals(List.of("ip:192.0.2.10")));

        w.served(Set.of(NS + "/c"));
        await().atMost(DEADLINE).until(() -> status("a").isEmpty());
        assertThat(status("c")).containsExactly("ip:192.0.2.10");
    }
}
