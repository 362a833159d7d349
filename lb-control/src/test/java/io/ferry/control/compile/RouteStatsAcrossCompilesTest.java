package io.ferry.control.compile;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.ferry.control.ClusterState;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RouteStats;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A route's counters run on across compiles: the next table's route of the same name counts into the same
 * {@link RouteStats}, whose storage was allocated by the traffic on the last table, and a new route starts at zero.
 */
class RouteStatsAcrossCompilesTest {

    private static final String NS = "demo";

    private static Service service() {
        return new ServiceBuilder().withNewMetadata().withName("web").withNamespace(NS).endMetadata()
                                   .withNewSpec().withClusterIP("10.96.0.10").addNewPort().withName("http")
                                   .withPort(80).endPort().endSpec().build();
    }

    private static EndpointSlice slice(String... addresses) {
        EndpointSliceBuilder b = new EndpointSliceBuilder()
                .withNewMetadata().withName("web-1").withNamespace(NS)
                .addToLabels(ServiceCompiler.SERVICE_NAME_LABEL, "web").endMetadata()
                .withAddressType("IPv4").addNewPort().withName("http").withPort(8080).endPort();
        for (String a : addresses) {
            b.addNewEndpoint().withAddresses(a).withNewConditions().withReady(true).endConditions().endEndpoint();
        }
        return b.build();
    }

    private static Ingress ingress(String name, String host) {
        return new IngressBuilder().withNewMetadata().withName(name).withNamespace(NS)
                                   .withCreationTimestamp("2024-01-01T00:00:00Z").endMetadata()
                                   .withNewSpec().withIngressClassName("ferry").addNewRule().withHost(host)
                                   .withNewHttp().addNewPath().withPath("/").withPathType("Prefix").withNewBackend()
                                   .withNewService().withName("web").withNewPort().withNumber(80).endPort()
                                   .endService().endBackend().endPath().endHttp().endRule().endSpec().build();
    }

    private static ClusterState state(EndpointSlice slice, Ingress... ingresses) {
        IngressClass ferry = new IngressClassBuilder().withNewMetadata().withName("ferry").endMetadata()
                                                      .withNewSpec().withController(IngressClassFilter.CONTROLLER)
                                                      .endSpec().build();
        return new ClusterState(List.of(service()), List.of(slice), List.of(), List.of(ingresses), List.of(ferry),
                                List.of(), List.of());
    }

    @Test
    void countsRunOnIntoTheNextTablesRouteOfTheSameName() {
        IngressCompiler compiler = new IngressCompiler(IngressCompiler.DEFAULT_CLASS, false);
        CompiledIngresses first = compiler.compile(state(slice("10.244.0.1"), ingress("blog", "blog.example")));
        Route before = first.table().lookup("blog.example", "/");
        before.stats().request();
        before.stats().response(200);
        before.stats().upstreamLatency(2_000_000);

        // An endpoint moved and an Ingress added: a new table, new Route objects.
        CompiledIngresses second = compiler.compile(state(slice("10.244.0.2"), ingress("blog", "blog.example"),
                                                          ingress("shop", "shop.example")));
        Route after = second.table().lookup("blog.example", "/");
        assertThat(after).isNotSameAs(before);
        assertThat(after.stats()).isSameAs(before.stats());
        assertThat(second.stats()).containsEntry(after.name(), after.stats());
        after.stats().request();
        assertThat(after.stats().requests()).isEqualTo(2);
        assertThat(after.stats().responses(2)).isEqualTo(1);
        assertThat(after.stats().upstreamLatency().count()).isEqualTo(1);

        RouteStats shop = second.table().lookup("shop.example", "/").stats();
        assertThat(shop).isNotSameAs(after.stats());
        assertThat(shop.requests()).isZero();
    }
}
