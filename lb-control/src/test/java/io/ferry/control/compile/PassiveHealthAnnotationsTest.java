package io.ferry.control.compile;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClassBuilder;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.ferry.control.compile.IngressCompiler.Plan;
import io.ferry.control.compile.IngressCompiler.PlannedPath;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code upstream-max-fails} and {@code upstream-fail-timeout}, nginx's {@code max_fails} and {@code fail_timeout}
 * as ingress-nginx up to 0.20 read them ({@code strconv.Atoi}: whole numbers, no unit), and what the compiler does
 * with them: the route's policy, and passive health kept apart for routes that count failures differently.
 */
class PassiveHealthAnnotationsTest {

    private static final String P = IngressAnnotations.PREFIX;

    private static IngressAnnotations parse(String... keyValues) {
        Map<String, String> map = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put(P + keyValues[i], keyValues[i + 1]);
        }
        return IngressAnnotations.parse(map);
    }

    @Test
    void withoutAnnotationsTheCompilersDefaultsHold() {
        assertThat(parse().applyTo(RoutePolicy.DEFAULT).build())
                .returns(1, RoutePolicy::maxFails)
                .returns(Duration.ofSeconds(10), RoutePolicy::failTimeout);
        RoutePolicy flags = RoutePolicy.builder().maxFails(0).failTimeout(Duration.ofSeconds(3)).build();
        assertThat(parse("proxy-read-timeout", "5").applyTo(flags).build())
                .returns(0, RoutePolicy::maxFails)
                .returns(Duration.ofSeconds(3), RoutePolicy::failTimeout);
    }

    @Test
    void wholeNumbersAreTakenAndZeroTurnsPassiveHealthOff() {
        IngressAnnotations a = parse("upstream-max-fails", "2", "upstream-fail-timeout", "30");
        assertThat(a.problems()).isEmpty();
        assertThat(a.unsupported()).isEmpty();
        assertThat(a.applyTo(RoutePolicy.DEFAULT).build())
                .returns(2, RoutePolicy::maxFails)
                .returns(Duration.ofSeconds(30), RoutePolicy::failTimeout);

        IngressAnnotations off = parse("upstream-max-fails", "0", "upstream-fail-timeout", "0");
        assertThat(off.problems()).isEmpty();
        assertThat(off.applyTo(RoutePolicy.DEFAULT).build())
                .returns(0, RoutePolicy::maxFails)
                .returns(Duration.ZERO, RoutePolicy::failTimeout);

        // strconv.Atoi takes a sign.
        assertThat(parse("upstream-max-fails", "+3").applyTo(RoutePolicy.DEFAULT).build().maxFails()).isEqualTo(3);
    }

    @Test
    void oneAnnotationLeavesTheOtherAtItsDefault() {
        RoutePolicy defaults = RoutePolicy.builder().maxFails(4).failTimeout(Duration.ofSeconds(7)).build();
        assertThat(parse("upstream-max-fails", "2").applyTo(defaults).build())
                .returns(2, RoutePolicy::maxFails)
                .returns(Duration.ofSeconds(7), RoutePolicy::failTimeout);
        assertThat(parse("upstream-fail-timeout", "60").applyTo(defaults).build())
                .returns(4, RoutePolicy::maxFails)
                .returns(Duration.ofSeconds(60), RoutePolicy::failTimeout);
    }

    @Test
    void badValuesAreReportedAndTheDefaultStays() {
        RoutePolicy defaults = RoutePolicy.builder().maxFails(3).failTimeout(Duration.ofSeconds(5)).build();
        for (String[] bad : new String[][] {
                {"-1", "-1"}, {"two", "10s"}, {"1.5", "1m"}, {"", ""}, {" 2", "30 "},
                {"2147483648", "99999999999999999999"}}) {
            IngressAnnotations a = parse("upstream-max-fails", bad[0], "upstream-fail-timeout", bad[1]);
            assertThat(a.applyTo(defaults).build()).as("%s / %s", bad[0], bad[1])
                                                   .returns(3, RoutePolicy::maxFails)
                                                   .returns(Duration.ofSeconds(5), RoutePolicy::failTimeout);
            assertThat(a.problems()).containsExactly(
                    P + "upstream-max-fails: \"" + bad[0] + "\" (expected: a whole number of failed tries, 0 or "
                    + "more; 0 turns passive health off); ignored",
                    P + "upstream-fail-timeout: \"" + bad[1] + "\" (expected: whole seconds without a unit, 0 or "
                    + "more, such as 10); ignored");
            assertThat(a.unsupported()).isEmpty();
            assertThat(a.refusals()).isEmpty();
        }
    }

    // ---- through the compiler ------------------------------------------------------------------------------

    private static final String NS = "demo";

    private static IngressBuilder ingress(String name, String host, String... annotations) {
        Map<String, String> map = new HashMap<>();
        for (int i = 0; i < annotations.length; i += 2) {
            map.put(P + annotations[i], annotations[i + 1]);
        }
        return new IngressBuilder()
                .withNewMetadata().withName(name).withNamespace(NS).withCreationTimestamp("2024-01-01T00:00:00Z")
                .addToAnnotations(map).endMetadata()
                .withNewSpec().withIngressClassName("ferry")
                .addNewRule().withHost(host).withNewHttp().addNewPath().withPath("/").withPathType("Prefix")
                .withNewBackend().withNewService().withName("web").withNewPort().withNumber(80).endPort()
                .endService().endBackend().endPath().endHttp().endRule().endSpec();
    }

    /** Service web port 80, two ready pods on 8080, and the given Ingresses of class ferry. */
    private static ClusterState state(IngressBuilder... ingresses) {
        return new ClusterState(
                List.of(new ServiceBuilder().withNewMetadata().withName("web").withNamespace(NS).endMetadata()
                                            .withNewSpec().withClusterIP("10.96.0.10").addNewPort().withName("http")
                                            .withPort(80).endPort().endSpec().build()),
                List.of(new EndpointSliceBuilder()
                                .withNewMetadata().withName("web-1").withNamespace(NS)
                                .addToLabels(ServiceCompiler.SERVICE_NAME_LABEL, "web").endMetadata()
                                .withAddressType("IPv4")
                                .addNewPort().withName("http").withPort(8080).endPort()
                                .addNewEndpoint().withAddresses("10.244.0.1").withNewConditions().withReady(true)
                                .endConditions().endEndpoint()
                                .addNewEndpoint().withAddresses("10.244.0.2").withNewConditions().withReady(true)
                                .endConditions().endEndpoint()
                                .build()),
                List.of(),
                Arrays.stream(ingresses).map(IngressBuilder::build).toList(),
                List.of(new IngressClassBuilder().withNewMetadata().withName("ferry").endMetadata()
                                                 .withNewSpec().withController(IngressClassFilter.CONTROLLER)
                                                 .endSpec().build()),
                List.of(), List.of());
    }

    private static Route route(Plan plan, String host) {
        return plan.paths().stream().filter(p -> p.host().equals(host)).map(PlannedPath::route).findFirst()
                   .orElseThrow();
    }

    @Test
    void routesThatCountFailuresDifferentlyKeepTheirOwnHealth() {
        IngressCompiler compiler = new IngressCompiler(IngressCompiler.DEFAULT_CLASS, false);
        ClusterState state = state(ingress("a", "a.test"), ingress("b", "b.test"),
                                   ingress("two", "two.test", "upstream-max-fails", "2"),
                                   ingress("off", "off.test", "upstream-max-fails", "0"));
        Plan plan = compiler.plan(state);
        Route a = route(plan, "a.test");
        Route two = route(plan, "two.test");
        Route off = route(plan, "off.test");
        assertThat(off.policy().maxFails()).isZero();
        assertThat(two.policy().maxFails()).isEqualTo(2);
        // The same setting shares what it learns about an endpoint; another setting does not see it.
        assertThat(route(plan, "b.test").backend()).isSameAs(a.backend());
        assertThat(two.backend()).isNotSameAs(a.backend());
        assertThat(off.backend()).isNotSameAs(a.backend()).isNotSameAs(two.backend());
        long now = System.nanoTime();
        assertThat(a.backend().health(0).failed(now, a.policy().maxFails(), a.policy().failTimeout().toNanos()))
                .isTrue();
        assertThat(a.backend().health(0).isAvailable(now)).isFalse();
        assertThat(two.backend().health(0).isAvailable(now)).isTrue();
        assertThat(off.backend().health(0).isAvailable(now)).isTrue();

        // Carried to the next compile: the ejected endpoint stays skipped for the routes of its setting.
        Plan next = compiler.plan(state);
        assertThat(route(next, "a.test").backend().health(0)).isSameAs(a.backend().health(0));
        assertThat(route(next, "off.test").backend().health(0)).isSameAs(off.backend().health(0));
        assertThat(route(next, "b.test").backend().health(0).isAvailable(now)).isFalse();
    }

    @Test
    void aBadValueIsAConfigProblemAndTheRouteIsServedWithTheDefault() {
        RoutePolicy flags = RoutePolicy.builder().maxFails(5).build();
        IngressCompiler compiler = new IngressCompiler(IngressCompiler.DEFAULT_CLASS, false, flags);
        Plan plan = compiler.plan(state(ingress("site", "site.test", "upstream-max-fails", "many",
                                                "upstream-fail-timeout", "30s")));
        assertThat(plan.problems()).extracting(ConfigProblem::toString).containsExactlyInAnyOrder(
                "Ingress demo/site: " + P + "upstream-max-fails: \"many\" (expected: a whole number of failed tries, "
                + "0 or more; 0 turns passive health off); ignored",
                "Ingress demo/site: " + P + "upstream-fail-timeout: \"30s\" (expected: whole seconds without a unit, "
                + "0 or more, such as 10); ignored");
        assertThat(route(plan, "site.test").policy())
                .returns(5, RoutePolicy::maxFails)
                .returns(RoutePolicy.DEFAULT_FAIL_TIMEOUT, RoutePolicy::failTimeout);
    }
}
