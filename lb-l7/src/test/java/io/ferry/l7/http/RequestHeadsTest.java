package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l7.route.RoutePolicy;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RequestHeadsTest {

    private static RoutePolicy rewrite(String pattern, String target) {
        return RoutePolicy.builder().rewrite(Pattern.compile(pattern, Pattern.CASE_INSENSITIVE), target).build();
    }

    private static String rewritten(RoutePolicy policy, String target) {
        int query = target.indexOf('?');
        String path = query < 0 ? target : target.substring(0, query);
        return RequestHeads.rewrite(policy, path, target, query);
    }

    @Test
    void rewriteTargetFillsGroupsAndKeepsTheQuery() {
        RoutePolicy p = rewrite("/something(/|$)(.*)", "/$2");
        assertThat(rewritten(p, "/something/new?x=1")).isEqualTo("/new?x=1");
        assertThat(rewritten(p, "/something")).isEqualTo("/");
        assertThat(rewritten(p, "/Something/a/b")).isEqualTo("/a/b");
        assertThat(rewritten(p, "/other?y=2")).isEqualTo("/other?y=2");
        assertThat(rewritten(RoutePolicy.DEFAULT, "/untouched?z")).isEqualTo("/untouched?z");
    }

    @Test
    void rewriteTargetWithAQueryOfItsOwnJoinsBoth() {
        RoutePolicy p = rewrite("/api/(.*)", "/v2/$1?from=api");
        assertThat(rewritten(p, "/api/items?id=3")).isEqualTo("/v2/items?from=api&id=3");
        assertThat(rewritten(p, "/api/items")).isEqualTo("/v2/items?from=api");
    }

    @Test
    void rewriteTargetAlwaysStartsWithASlashAndDropsMissingGroups() {
        assertThat(rewritten(rewrite("/app(/|$)(.*)", "$2"), "/app/x")).isEqualTo("/x");
        assertThat(rewritten(rewrite("/app", "/$7"), "/app/x")).isEqualTo("/");
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "shop.example.com", "Shop.Example.COM:8080", "127.0.0.1:80", "[::1]:8443",
                            "foo.com.", "xn--bcher-kva.example", "under_score.example"})
    void validHosts(String host) {
        assertThat(RequestHeads.validHost(host)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ".a", "a..b", "a/b", "a\\b", "a b", "user@host", "a\tb", "h\u00e9llo", "a#b"})
    void invalidHosts(String host) {
        assertThat(RequestHeads.validHost(host)).isFalse();
    }

    @Test
    void hostWithoutPort() {
        assertThat(RequestHeads.hostWithoutPort("shop.example.com:8080")).isEqualTo("shop.example.com");
        assertThat(RequestHeads.hostWithoutPort("shop.example.com")).isEqualTo("shop.example.com");
        assertThat(RequestHeads.hostWithoutPort("[::1]:8443")).isEqualTo("[::1]");
    }

    @Test
    void requestIdIsTheClientsWhenPrintableElseRandomHex() {
        assertThat(RequestHeads.requestId("abc-123")).isEqualTo("abc-123");
        assertThat(RequestHeads.requestId(null)).matches("[0-9a-f]{32}");
        assertThat(RequestHeads.requestId("")).matches("[0-9a-f]{32}");
        assertThat(RequestHeads.requestId("two words")).matches("[0-9a-f]{32}");
        assertThat(RequestHeads.requestId("x".repeat(129))).matches("[0-9a-f]{32}");
        assertThat(RequestHeads.requestId(null)).isNotEqualTo(RequestHeads.requestId(null));
    }
}
