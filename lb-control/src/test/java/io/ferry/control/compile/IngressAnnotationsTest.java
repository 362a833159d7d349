package io.ferry.control.compile;

import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.control.compile.IngressAnnotations.LoadBalance;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.route.RoutePolicy.BackendProtocol;
import io.ferry.l7.route.SourceRanges;
import java.net.InetAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each supported annotation, valid and invalid, as ingress-nginx reads it. */
class IngressAnnotationsTest {

    private static final String P = IngressAnnotations.PREFIX;

    private static IngressAnnotations parse(String... keyValues) {
        Map<String, String> map = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put(keyValues[i].contains("/") ? keyValues[i] : P + keyValues[i], keyValues[i + 1]);
        }
        return IngressAnnotations.parse(map);
    }

    private static RoutePolicy policy(String... keyValues) {
        return parse(keyValues).applyTo(RoutePolicy.DEFAULT).build();
    }

    @Test
    void noAnnotationsGiveTheDefaults() {
        IngressAnnotations a = IngressAnnotations.parse(null);
        RoutePolicy p = a.applyTo(RoutePolicy.DEFAULT).build();
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(p.sendTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(p.maxBodySize()).isEqualTo(1024 * 1024);
        assertThat(p.sslRedirect()).isTrue();
        assertThat(p.forceSslRedirect()).isFalse();
        assertThat(p.allowedSources()).isSameAs(SourceRanges.ANY);
        assertThat(p.backendProtocol()).isEqualTo(BackendProtocol.HTTP);
        assertThat(p.rewriteTarget()).isNull();
        assertThat(a.loadBalance()).isEqualTo(LoadBalance.ROUND_ROBIN);
        assertThat(a.useRegex()).isFalse();
        assertThat(a.problems()).isEmpty();
        assertThat(a.unsupported()).isEmpty();
        assertThat(a.refusals()).isEmpty();
    }

    @Test
    void defaultsComeFromTheCompilersPolicy() {
        RoutePolicy defaults = RoutePolicy.builder().readTimeout(Duration.ofSeconds(600)).maxBodySize(0)
                                          .sslRedirect(false).build();
        RoutePolicy p = parse("proxy-connect-timeout", "2").applyTo(defaults).build();
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(600));
        assertThat(p.maxBodySize()).isZero();
        assertThat(p.sslRedirect()).isFalse();
    }

    @Test
    void timeoutsAreWholeSeconds() {
        RoutePolicy p = policy("proxy-connect-timeout", "3", "proxy-read-timeout", "120", "proxy-send-timeout", "30");
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(120));
        assertThat(p.sendTimeout()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void timeoutsWithUnitsOrNotAboveZeroAreIgnored() {
        // ingress-nginx validates them with strconv.Atoi: "5s" is invalid and the default stays.
        IngressAnnotations a = parse("proxy-connect-timeout", "5s", "proxy-read-timeout", "0",
                                     "proxy-send-timeout", "-3");
        RoutePolicy p = a.applyTo(RoutePolicy.DEFAULT).build();
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(p.sendTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(a.problems()).containsExactly(
                P + "proxy-connect-timeout: \"5s\" (expected: whole seconds above 0 without a unit, such as 60); "
                + "ignored",
                P + "proxy-read-timeout: \"0\" (expected: whole seconds above 0 without a unit, such as 60); ignored",
                P + "proxy-send-timeout: \"-3\" (expected: whole seconds above 0 without a unit, such as 60); "
                + "ignored");
    }

    @Test
    void bodySizesUseNginxSyntax() {
        assertThat(policy("proxy-body-size", "8m").maxBodySize()).isEqualTo(8L << 20);
        assertThat(policy("proxy-body-size", "8M").maxBodySize()).isEqualTo(8L << 20);
        assertThat(policy("proxy-body-size", "1g").maxBodySize()).isEqualTo(1L << 30);
        assertThat(policy("proxy-body-size", "512k").maxBodySize()).isEqualTo(512L << 10);
        assertThat(policy("proxy-body-size", "1000").maxBodySize()).isEqualTo(1000);
        assertThat(policy("proxy-body-size", "0").maxBodySize()).isZero(); // unlimited
    }

    @Test
    void badBodySizesAreIgnored() {
        for (String bad : new String[] { "8mb", "1.5m", "-1", "m", "", "99999999999999999999", "9999999999g" }) {
            IngressAnnotations a = parse("proxy-body-size", bad);
            assertThat(a.applyTo(RoutePolicy.DEFAULT).build().maxBodySize()).as(bad).isEqualTo(1024 * 1024);
            assertThat(a.problems()).as(bad).singleElement().asString()
                                    .startsWith(P + "proxy-body-size: \"" + bad + "\" (expected: an nginx size");
        }
    }

    @Test
    void booleansFollowGoParseBool() {
        assertThat(policy("ssl-redirect", "false").sslRedirect()).isFalse();
        assertThat(policy("ssl-redirect", "0").sslRedirect()).isFalse();
        assertThat(policy("ssl-redirect", "F").sslRedirect()).isFalse();
        assertThat(policy("force-ssl-redirect", "true").forceSslRedirect()).isTrue();
        assertThat(policy("force-ssl-redirect", "True").forceSslRedirect()).isTrue();
        assertThat(parse("use-regex", "1").useRegex()).isTrue();

        IngressAnnotations a = parse("ssl-redirect", "no", "use-regex", "yes");
        assertThat(a.applyTo(RoutePolicy.DEFAULT).build().sslRedirect()).isTrue();
        assertThat(a.useRegex()).isFalse();
        assertThat(a.problems()).containsExactly(P + "ssl-redirect: \"no\" (expected: true or false); ignored",
                                                 P + "use-regex: \"yes\" (expected: true or false); ignored");
    }

    @Test
    void rewriteTargetsTakeGroupReferences() {
        assertThat(parse("rewrite-target", "/$2").rewriteTarget()).isEqualTo("/$2");
        assertThat(parse("rewrite-target", "/api/v1/$1").rewriteTarget()).isEqualTo("/api/v1/$1");
        assertThat(parse("rewrite-target", "/").rewriteTarget()).isEqualTo("/");
    }

    @Test
    void rewriteTargetsWithOtherCharactersOrVariablesAreIgnored() {
        IngressAnnotations a = parse("rewrite-target", "/$host/x");
        assertThat(a.rewriteTarget()).isNull();
        assertThat(a.problems()).singleElement().asString().contains("nginx variables are not supported");

        IngressAnnotations b = parse("rewrite-target", "/a;return 200");
        assertThat(b.rewriteTarget()).isNull();
        assertThat(b.problems()).singleElement().asString().startsWith(P + "rewrite-target: \"/a;return 200\"");

        IngressAnnotations c = parse("rewrite-target", "/x$");
        assertThat(c.rewriteTarget()).isNull();
    }

    @Test
    void allowlistAdmitsItsRanges() throws Exception {
        SourceRanges r = policy("allowlist-source-range", "10.0.0.0/8, 192.168.0.1").allowedSources();
        assertThat(r.allows(InetAddress.getByName("10.2.3.4"))).isTrue();
        assertThat(r.allows(InetAddress.getByName("192.168.0.1"))).isTrue();
        assertThat(r.allows(InetAddress.getByName("172.16.0.1"))).isFalse();
    }

    @Test
    void whitelistIsTheOlderNameAndAllowlistWins() {
        assertThat(policy("whitelist-source-range", "10.0.0.0/8").allowedSources().cidrs())
                .containsExactly("10.0.0.0/8");
        assertThat(policy("whitelist-source-range", "10.0.0.0/8", "allowlist-source-range", "172.16.0.0/12")
                           .allowedSources().cidrs()).containsExactly("172.16.0.0/12");
        // An empty new name falls back to the old one, as ingress-nginx's alias rule does.
        assertThat(policy("whitelist-source-range", "10.0.0.0/8", "allowlist-source-range", "")
                           .allowedSources().cidrs()).containsExactly("10.0.0.0/8");
    }

    @Test
    void anUnreadableAllowlistAdmitsNobody() {
        IngressAnnotations a = parse("whitelist-source-range", "10.0.0.0/8,office");
        assertThat(a.applyTo(RoutePolicy.DEFAULT).build().allowedSources()).isSameAs(SourceRanges.NONE);
        assertThat(a.problems()).singleElement().asString()
                                .startsWith(P + "whitelist-source-range: source range: \"office\"")
                                .endsWith("the paths admit no client until it is fixed");
    }

    @Test
    void backendProtocolsAreUpperCasedAndUnknownOnesIgnored() {
        assertThat(parse("backend-protocol", "https").backendProtocol()).isEqualTo("HTTPS");
        assertThat(policy("backend-protocol", " GRPC ").backendProtocol()).isEqualTo(BackendProtocol.GRPC);
        assertThat(policy("backend-protocol", "HTTP").backendProtocol()).isEqualTo(BackendProtocol.HTTP);
        assertThat(policy("backend-protocol", "h2c").backendProtocol()).isEqualTo(BackendProtocol.H2C);
        assertThat(parse("backend-protocol", "grpc").problems()).isEmpty();
        assertThat(parse("backend-protocol", "H2C").problems()).isEmpty();
        assertThat(parse("backend-protocol", "FCGI").backendProtocol()).isEqualTo("FCGI");
        assertThat(parse().backendProtocol()).isNull();

        IngressAnnotations a = parse("backend-protocol", "SPDY");
        assertThat(a.backendProtocol()).isNull();
        assertThat(a.applyTo(RoutePolicy.DEFAULT).build().backendProtocol()).isEqualTo(BackendProtocol.HTTP);
        assertThat(a.problems()).containsExactly(P + "backend-protocol: \"SPDY\" (expected: HTTP, HTTPS, GRPC, "
                                                 + "GRPCS, H2C, AUTO_HTTP, AJP or FCGI); ignored");
    }

    @Test
    void loadBalanceIsRoundRobinOrEwma() {
        assertThat(parse("load-balance", "ewma").loadBalance()).isEqualTo(LoadBalance.EWMA);
        assertThat(parse("load-balance", "round_robin").loadBalance()).isEqualTo(LoadBalance.ROUND_ROBIN);
        IngressAnnotations a = parse("load-balance", "least_conn");
        assertThat(a.loadBalance()).isEqualTo(LoadBalance.ROUND_ROBIN);
        assertThat(a.problems()).containsExactly(P + "load-balance: \"least_conn\" (expected: round_robin or "
                                                 + "ewma); ignored");
    }

    @Test
    void unsupportedAnnotationsAreListedSortedAndOthersPrefixesIgnored() {
        IngressAnnotations a = parse("proxy-buffering", "on", "enable-cors", "true", "use-regex", "true",
                                     "cert-manager.io/cluster-issuer", "letsencrypt",
                                     "kubernetes.io/ingress.class", "ferry");
        assertThat(a.unsupported()).containsExactly(P + "enable-cors", P + "proxy-buffering");
        assertThat(a.refusals()).isEmpty();
        assertThat(a.problems()).isEmpty();
    }

    @Test
    void snippetsAuthenticationDenylistsAndCanariesRefuseTheIngress() {
        IngressAnnotations a = parse("configuration-snippet", "more_set_headers \"X: y\";",
                                     "server-snippet", "location /x {}", "auth-url", "http://auth/",
                                     "auth-type", "basic", "denylist-source-range", "10.0.0.0/8",
                                     "canary", "true", "canary-weight", "10", "proxy-buffering", "on");
        assertThat(a.refusals()).hasSize(7);
        assertThat(a.refusals()).anySatisfy(r -> assertThat(r).startsWith(P + "configuration-snippet"))
                                .anySatisfy(r -> assertThat(r).startsWith(P + "server-snippet"))
                                .anySatisfy(r -> assertThat(r).startsWith(P + "auth-url"))
                                .anySatisfy(r -> assertThat(r).startsWith(P + "auth-type"))
                                .anySatisfy(r -> assertThat(r).startsWith(P + "denylist-source-range"))
                                .anySatisfy(r -> assertThat(r).startsWith(P + "canary ("))
                                .anySatisfy(r -> assertThat(r).startsWith(P + "canary-weight"));
        assertThat(a.unsupported()).containsExactly(P + "proxy-buffering");
    }
}
