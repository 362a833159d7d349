package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Backend;
import io.ferry.l4.RandomBalancer;
import io.ferry.l4.Transport;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.route.SourceRanges;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Which backend a request reaches, and what the proxy answers itself when it reaches none. */
class RoutingTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void hostAndPathSelectTheBackend(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer shopApi = h.echo("shop-api");
        EchoServer shopWeb = h.echo("shop-web");
        EchoServer blog = h.echo("blog");
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("shop.example.com", PathType.PREFIX, "/api", route("shop-api", shopApi.address()));
        b.add("shop.example.com", PathType.PREFIX, "/", route("shop-web", shopWeb.address()));
        b.add("blog.example.com", PathType.PREFIX, "/", route("blog", blog.address()));
        proxy.apply(b.build());

        try (RawHttp c = h.connect()) {
            assertThat(c.get("shop.example.com", "/api/items?id=1").text())
                    .isEqualTo("shop-api\nGET /api/items?id=1\n");
            assertThat(c.get("shop.example.com", "/apix").text()).startsWith("shop-web\n");
            assertThat(c.get("shop.example.com", "/").text()).startsWith("shop-web\n");
            assertThat(c.get("blog.example.com", "/api/items").text()).startsWith("blog\n");
            // Port and case do not matter; the trailing dot is dropped.
            assertThat(c.get("SHOP.Example.COM:" + h.address().getPort(), "/api").text()).startsWith("shop-api\n");
            assertThat(c.get("blog.example.com.", "/").text()).startsWith("blog\n");
        }
        assertThat(proxy.stats().responses(2)).isEqualTo(6);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void absoluteFormTargetRoutesByItsAuthorityAndReplacesHost(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer shop = h.echo("shop");
        EchoServer other = h.echo("other");
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("shop.example.com", PathType.PREFIX, "/", route("shop", shop.address()));
        b.add("other.example.com", PathType.PREFIX, "/", route("other", other.address()));
        h.proxy().apply(b.build());

        try (RawHttp c = h.connect()) {
            c.send("GET http://Shop.Example.com:8080/cart?x=1 HTTP/1.1\r\nHost: other.example.com\r\n\r\n");
            assertThat(c.read().text()).isEqualTo("shop\nGET /cart?x=1\n");
            c.send("GET http://shop.example.com HTTP/1.1\r\nHost: other.example.com\r\n\r\n");
            assertThat(c.read().text()).isEqualTo("shop\nGET /\n");
        }
        EchoServer.Seen seen = shop.take();
        assertThat(seen.headers().get("Host")).containsExactly("Shop.Example.com:8080");
        assertThat(seen.headers().get("X-Forwarded-Host")).containsExactly("Shop.Example.com:8080");
        assertThat(shop.take().headers().get("Host")).containsExactly("shop.example.com");
        assertThat(other.requests()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void noRouteIs404WithAnNginxPageAndTheConnectionStaysUsable(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("a.example.com", route("a", a.address()));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("nobody.example.com", "/");
            assertThat(r.status()).isEqualTo(404);
            assertThat(r.header("content-type")).isEqualTo("text/html");
            assertThat(r.text()).contains("<title>404 Not Found</title>").contains("<h1>404 Not Found</h1>");
            assertThat(r.has("connection")).isFalse();
            assertThat(c.get("a.example.com", "/").status()).isEqualTo(200);
        }
        assertThat(proxy.stats().noRoute()).isEqualTo(1);
        assertThat(a.requests()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void backendWithoutEndpointsIs503(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        Backend empty = Backend.of("t/empty:80", List.of(), RandomBalancer.INSTANCE);
        h.routeAll("", Route.of("empty", empty, RoutePolicy.DEFAULT));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("x.example.com", "/");
            assertThat(r.status()).isEqualTo(503);
            assertThat(r.text()).contains("503 Service Unavailable");
            assertThat(c.get("x.example.com", "/again").status()).isEqualTo(503);
        }
        assertThat(proxy.stats().noEndpoint()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void rewriteTargetKeepsTheQuery(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        RoutePolicy rewrite = RoutePolicy.builder()
                                         .rewrite(Pattern.compile("/something(/|$)(.*)", Pattern.CASE_INSENSITIVE),
                                                  "/$2")
                                         .build();
        h.routeAll("", route("a", rewrite, a.address()));

        try (RawHttp c = h.connect()) {
            assertThat(c.get("a", "/something/new?x=1").status()).isEqualTo(200);
            assertThat(a.take().uri()).isEqualTo("/new?x=1");
            assertThat(c.get("a", "/SOMETHING").status()).isEqualTo(200);
            assertThat(a.take().uri()).isEqualTo("/");
            assertThat(c.get("a", "/other/path?y=2").status()).isEqualTo(200);
            assertThat(a.take().uri()).isEqualTo("/other/path?y=2");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void catastrophicRegexGets500AndTheLoopGoesOn(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        EchoServer b = h.echo("b");
        HttpRouteTable.Builder<Route> t = HttpRouteTable.builder();
        // (.*a){10}b backtracks polynomially (n^10) on a run of a's with no b: without a bound, about a minute for
        // the 40 a's below on Java 17, whose matcher memoizes the classic exponential cases such as (a+)+$.
        t.add("evil.example.com", PathType.REGEX, "/(.*a){10}b", route("a", a.address()));
        t.add("evil.example.com", PathType.PREFIX, "/", route("b", b.address()));
        RoutePolicy rewrite = RoutePolicy.builder()
                                         .rewrite(Pattern.compile("/r/(.*x){10}y", Pattern.CASE_INSENSITIVE), "/$1")
                                         .build();
        t.add("rewrite.example.com", PathType.PREFIX, "/", route("a", rewrite, a.address()));
        proxy.apply(t.build());
        long before = io.ferry.l7.route.RegexBudget.exceeded();

        try (RawHttp c = h.connect()) {
            assertThat(c.get("evil.example.com", "/" + "a".repeat(40) + "!").status()).isEqualTo(500);
            assertThat(c.get("evil.example.com", "/aaaaaaaaaab").text()).startsWith("a\n");
            assertThat(c.get("evil.example.com", "/b!").text()).startsWith("b\n");
            assertThat(c.get("rewrite.example.com", "/r/" + "x".repeat(40)).status()).isEqualTo(500);
            assertThat(c.get("rewrite.example.com", "/r/xxxxxxxxxxy").status()).isEqualTo(200);
        }
        assertThat(io.ferry.l7.route.RegexBudget.exceeded() - before).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void sourceOutsideTheWhitelistIs403(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        RoutePolicy tenOnly = RoutePolicy.builder().allowedSources(SourceRanges.parse("10.0.0.0/8")).build();
        h.routeAll("", route("a", tenOnly, a.address()));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("a", "/");
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.text()).contains("403 Forbidden");
        }
        assertThat(a.requests()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void forceSslRedirectIs308ToHttps(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        h.routeAll("", route("a", RoutePolicy.builder().forceSslRedirect(true).build(), a.address()));

        try (RawHttp c = h.connect()) {
            RawHttp.Response r = c.get("shop.example.com:8080", "/cart?item=3");
            assertThat(r.status()).isEqualTo(308);
            assertThat(r.header("location")).isEqualTo("https://shop.example.com/cart?item=3");
        }
        assertThat(a.requests()).isZero();
    }
}
