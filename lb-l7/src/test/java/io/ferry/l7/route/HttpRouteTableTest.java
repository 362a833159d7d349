package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.ferry.l7.route.HttpRouteTable.RuleView;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HttpRouteTableTest {

    /**
     * The Ingress documentation's path examples (kubernetes-semantics.md, "Ingress"). Each rule's route is its own
     * text, so the expected value names the rule that matched; {@code default} is the table default.
     */
    @ParameterizedTest(name = "[{0}] {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
            "Prefix /                               | /                  | Prefix /",
            "Prefix /                               | /anything/at/all   | Prefix /",
            "Exact /foo                             | /foo               | Exact /foo",
            "Exact /foo                             | /bar               | default",
            "Exact /foo                             | /foo/              | default",
            "Exact /foo/                            | /foo               | default",
            "Prefix /foo                            | /foo               | Prefix /foo",
            "Prefix /foo                            | /foo/              | Prefix /foo",
            "Prefix /foo/                           | /foo               | Prefix /foo/",
            "Prefix /foo/                           | /foo/              | Prefix /foo/",
            "Prefix /aaa/bb                         | /aaa/bbb           | default",
            "Prefix /aaa/bbb                        | /aaa/bbb           | Prefix /aaa/bbb",
            "Prefix /aaa/bbb/                       | /aaa/bbb           | Prefix /aaa/bbb/",
            "Prefix /aaa/bbb                        | /aaa/bbb/          | Prefix /aaa/bbb",
            "Prefix /aaa/bbb                        | /aaa/bbb/ccc       | Prefix /aaa/bbb",
            "Prefix /aaa/bbb                        | /aaa/bbbxyz        | default",
            "Prefix /, Prefix /aaa                  | /aaa/ccc           | Prefix /aaa",
            "Prefix /, Prefix /aaa, Prefix /aaa/bbb | /aaa/bbb           | Prefix /aaa/bbb",
            "Prefix /, Prefix /aaa, Prefix /aaa/bbb | /ccc               | Prefix /",
            "Prefix /aaa                            | /ccc               | default",
            "Prefix /foo, Exact /foo                | /foo               | Exact /foo",
            "Exact /foo, Prefix /foo                | /foo               | Exact /foo",
            "Exact /foo, Prefix /foo                | /foo/bar           | Prefix /foo",
    })
    void matchesTheIngressDocumentationsPathExamples(String rules, String request, String expected) {
        // The same rules under any host, an exact host and a wildcard, looked up with a Host header that selects them.
        String[][] hostAndHeader = { { "", "unknown.org" }, { "example.com", "EXAMPLE.com:8080" },
                                     { "*.example.com", "Www.Example.COM:8080" } };
        for (String[] hh : hostAndHeader) {
            String host = hh[0];
            HttpRouteTable.Builder<String> b = HttpRouteTable.<String>builder().defaultRoute("default");
            for (String rule : rules.split(",")) {
                String[] typeAndPath = rule.trim().split(" ");
                PathType type = PathType.valueOf(typeAndPath[0].toUpperCase());
                assertThat(b.add(host, type, typeAndPath[1], rule.trim())).isTrue();
            }
            HttpRouteTable<String> table = b.build();
            assertThat(table.lookup(hh[1], request)).as("host %s", host).isEqualTo(expected);
        }
    }

    @Test
    void selectsTheExactHostInAnyCaseWithAnyPort() {
        HttpRouteTable<String> table = table(b -> {
            b.add("Foo.example.com", PathType.PREFIX, "/", "foo");
        });
        assertThat(table.lookup("foo.example.com", "/")).isEqualTo("foo");
        assertThat(table.lookup("FOO.Example.Com", "/x")).isEqualTo("foo");
        assertThat(table.lookup("foo.example.com:8080", "/")).isEqualTo("foo");
        assertThat(table.lookup("foo.example.com.", "/")).as("trailing dot").isEqualTo("foo");
        assertThat(table.lookup("foo.example.com.:443", "/")).isEqualTo("foo");
        assertThat(table.lookup("foo.example.co", "/")).isNull();
        assertThat(table.lookup("foo.example.comm", "/")).isNull();
        assertThat(table.lookup("xfoo.example.com", "/")).isNull();
    }

    @Test
    void readsIpv6LiteralsWithTheirBrackets() {
        HttpRouteTable<String> table = table(b -> {
            b.add("[::1]", PathType.PREFIX, "/", "loopback");
            b.add("", PathType.PREFIX, "/", "any");
        });
        assertThat(table.lookup("[::1]:8080", "/")).isEqualTo("loopback");
        assertThat(table.lookup("[::1]", "/")).isEqualTo("loopback");
        assertThat(table.lookup("[::2]:8080", "/")).isEqualTo("any");
        assertThat(table.lookup("[::1", "/")).as("unclosed bracket").isEqualTo("any");
    }

    @Test
    void wildcardsTakeExactlyOneMoreLabel() {
        HttpRouteTable<String> table = table(b -> {
            b.add("*.foo.com", PathType.PREFIX, "/", "wild");
            b.add("", PathType.PREFIX, "/", "any");
        });
        assertThat(table.lookup("bar.foo.com", "/")).isEqualTo("wild");
        assertThat(table.lookup("BAR.Foo.Com:443", "/")).isEqualTo("wild");
        assertThat(table.lookup("baz.bar.foo.com", "/")).isEqualTo("any");
        assertThat(table.lookup("foo.com", "/")).isEqualTo("any");
        assertThat(table.lookup(".foo.com", "/")).isEqualTo("any");
        assertThat(table.lookup("barfoo.com", "/")).isEqualTo("any");
    }

    @Test
    void anExactHostBeatsAWildcardWhichBeatsAnyHost() {
        HttpRouteTable<String> table = table(b -> {
            b.add("", PathType.PREFIX, "/", "any");
            b.add("*.foo.com", PathType.PREFIX, "/", "wild");
            b.add("bar.foo.com", PathType.PREFIX, "/", "exact");
        });
        assertThat(table.lookup("bar.foo.com", "/")).isEqualTo("exact");
        assertThat(table.lookup("qux.foo.com", "/")).isEqualTo("wild");
        assertThat(table.lookup("example.org", "/")).isEqualTo("any");
    }

    @Test
    void aChosenHostDoesNotFallThroughToLessSpecificHosts() {
        HttpRouteTable<String> table = table(b -> {
            b.add("", PathType.PREFIX, "/", "any");
            b.add("*.foo.com", PathType.PREFIX, "/", "wild");
            b.add("bar.foo.com", PathType.PREFIX, "/api", "exact-api");
            b.add("*.bar.com", PathType.EXACT, "/only", "wild-only");
            b.defaultRoute("default");
        });
        assertThat(table.lookup("bar.foo.com", "/api/x")).isEqualTo("exact-api");
        assertThat(table.lookup("bar.foo.com", "/other")).isEqualTo("default");
        assertThat(table.lookup("x.bar.com", "/other")).isEqualTo("default");
        assertThat(table.lookup("x.bar.com", "/only")).isEqualTo("wild-only");
    }

    @Test
    void aMissingOrEmptyHostGetsTheAnyHostRules() {
        HttpRouteTable<String> table = table(b -> {
            b.add("", PathType.PREFIX, "/", "any");
            b.add("foo.com", PathType.PREFIX, "/", "foo");
        });
        assertThat(table.lookup(null, "/")).isEqualTo("any");
        assertThat(table.lookup("", "/")).isEqualTo("any");
        assertThat(table.lookup(":8080", "/")).isEqualTo("any");
        assertThat(table.lookup("unknown.org", "/")).isEqualTo("any");

        HttpRouteTable<String> noAnyHost = table(b -> {
            b.add("foo.com", PathType.PREFIX, "/", "foo");
        });
        assertThat(noAnyHost.lookup(null, "/")).isNull();
        assertThat(noAnyHost.lookup("unknown.org", "/")).isNull();
    }

    @Test
    void fallsBackToTheHostDefaultThenTheTableDefault() {
        HttpRouteTable<String> table = table(b -> {
            b.add("foo.com", PathType.PREFIX, "/api", "api");
            b.hostDefault("Foo.com", "foo-default");
            b.hostDefault("foo.com", "second-foo-default");
            b.hostDefault("only-default.com", "only");
            b.add("", PathType.PREFIX, "/", "any");
            b.add("bar.com", PathType.EXACT, "/x", "bar-x");
            b.defaultRoute("first");
            b.defaultRoute("default");
        });
        assertThat(table.lookup("foo.com", "/api")).isEqualTo("api");
        assertThat(table.lookup("foo.com", "/web")).as("first hostDefault wins").isEqualTo("foo-default");
        assertThat(table.lookup("only-default.com", "/api")).as("no fall-through to any host").isEqualTo("only");
        assertThat(table.lookup("bar.com", "/y")).isEqualTo("default");
        assertThat(table.defaultRoute()).isEqualTo("default");
        assertThat(HttpRouteTable.<String>builder().build().lookup("foo.com", "/")).isNull();
        assertThat(HttpRouteTable.<String>empty().lookup("foo.com", "/")).isNull();
        assertThat(HttpRouteTable.<String>empty().defaultRoute()).isNull();
    }

    @Test
    void keepsTheFirstOfEqualRules() {
        HttpRouteTable.Builder<String> b = HttpRouteTable.builder();
        assertThat(b.add("foo.com", PathType.PREFIX, "/a", "old")).isTrue();
        assertThat(b.add("FOO.COM", PathType.PREFIX, "/a", "new")).isFalse();
        assertThat(b.add("foo.com", PathType.PREFIX, "/a/", "new")).as("trailing / ignored").isFalse();
        assertThat(b.add("foo.com", PathType.EXACT, "/a", "exact")).isTrue();
        assertThat(b.add("foo.com", PathType.EXACT, "/a", "new")).isFalse();
        assertThat(b.add("foo.com", PathType.EXACT, "/a/", "exact-slash")).isTrue();
        assertThat(b.add("foo.com", PathType.REGEX, "/a", "regex")).isTrue();
        assertThat(b.add("foo.com", PathType.REGEX, "/a", "new")).isFalse();
        assertThat(b.add("bar.com", PathType.PREFIX, "/a", "bar")).isTrue();
        HttpRouteTable<String> table = b.build();
        assertThat(table.lookup("foo.com", "/a")).isEqualTo("exact");
        assertThat(table.lookup("foo.com", "/a/")).isEqualTo("exact-slash");
        assertThat(table.lookup("foo.com", "/a/b")).isEqualTo("regex");
        assertThat(table.ruleCount()).isEqualTo(5);
        assertThat(table.hostCount()).isEqualTo(2);
    }

    @Test
    void triesRegexesLongestFirstThenInDescendingOrder() {
        HttpRouteTable<String> table = table(b -> {
            b.add("", PathType.REGEX, "/api/.*", "short");
            b.add("", PathType.REGEX, "/api/v[0-9]+/.*", "long");
            b.add("", PathType.REGEX, "/x/.*a", "dot-first");
            b.add("", PathType.REGEX, "/x/a.*", "a-first");
        });
        assertThat(table.lookup(null, "/api/v1/users")).isEqualTo("long");
        assertThat(table.lookup(null, "/api/users")).isEqualTo("short");
        // Equal lengths: descending byte order, whatever the insertion order ('a' > '.').
        assertThat(table.lookup(null, "/x/aaa")).isEqualTo("a-first");
        assertThat(table.lookup(null, "/x/ba")).isEqualTo("dot-first");
        assertThat(table.rules()).extracting(RuleView::path)
                                 .containsExactly("/api/v[0-9]+/.*", "/api/.*", "/x/a.*", "/x/.*a");

        HttpRouteTable<String> reversed = table(b -> {
            b.add("", PathType.REGEX, "/x/a.*", "a-first");
            b.add("", PathType.REGEX, "/x/.*a", "dot-first");
        });
        assertThat(reversed.lookup(null, "/x/aaa")).isEqualTo("a-first");
    }

    @Test
    void regexesAreCaseInsensitiveAndAnchoredAtTheStart() {
        HttpRouteTable<String> table = table(b -> {
            b.add("", PathType.REGEX, "/API/v[0-9]+", "api");
            b.add("", PathType.PREFIX, "/", "root");
        });
        assertThat(table.lookup(null, "/api/V2")).isEqualTo("api");
        assertThat(table.lookup(null, "/api/v2/users")).as("lookingAt, not matches").isEqualTo("api");
        assertThat(table.lookup(null, "/api/v2x")).as("not element-wise").isEqualTo("api");
        assertThat(table.lookup(null, "/x/api/v2")).as("anchored").isEqualTo("root");
    }

    @Test
    void exactBeatsRegexWhichBeatsPrefix() {
        HttpRouteTable<String> table = table(b -> {
            b.add("", PathType.PREFIX, "/static/images/icons", "long-prefix");
            b.add("", PathType.REGEX, "/static/.*\\.png", "png");
            b.add("", PathType.EXACT, "/static/images/icons/a.png", "exact");
        });
        assertThat(table.lookup(null, "/static/images/icons/a.png")).isEqualTo("exact");
        assertThat(table.lookup(null, "/static/images/icons/b.png")).isEqualTo("png");
        assertThat(table.lookup(null, "/static/images/icons/b.gif")).isEqualTo("long-prefix");
    }

    @Test
    void pathsAreCaseSensitiveForExactAndPrefix() {
        HttpRouteTable<String> table = table(b -> {
            b.add("", PathType.EXACT, "/Foo", "exact");
            b.add("", PathType.PREFIX, "/Bar", "prefix");
        });
        assertThat(table.lookup(null, "/Foo")).isEqualTo("exact");
        assertThat(table.lookup(null, "/foo")).isNull();
        assertThat(table.lookup(null, "/Bar/x")).isEqualTo("prefix");
        assertThat(table.lookup(null, "/bar/x")).isNull();
    }

    @Test
    void rejectsMalformedArguments() {
        HttpRouteTable.Builder<String> b = HttpRouteTable.builder();
        assertThatThrownBy(() -> b.add("", PathType.EXACT, "foo", "r"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("path: foo (expected: starts with /)");
        assertThatThrownBy(() -> b.add("", PathType.PREFIX, "", "r"))
                .hasMessage("path:  (expected: starts with /)");
        assertThatThrownBy(() -> b.add("", PathType.REGEX, "/(unclosed", "r"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("path: /(unclosed (expected: a valid regex");
        for (String host : new String[] { "foo.com:80", "*", "*.", "a.*.com", "foo..com", ".foo.com", "foo com",
                                          "foo.com/", "[zz]", "[::1" }) {
            assertThatThrownBy(() -> b.add(host, PathType.PREFIX, "/", "r"))
                    .as(host).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("host: " + host + " (expected: ");
        }
        assertThatThrownBy(() -> b.add(null, PathType.PREFIX, "/", "r")).hasMessage("host");
        assertThatThrownBy(() -> b.add("", null, "/", "r")).hasMessage("type");
        assertThatThrownBy(() -> b.add("", PathType.PREFIX, null, "r")).hasMessage("path");
        assertThatThrownBy(() -> b.add("", PathType.PREFIX, "/", null)).hasMessage("route");
        assertThatThrownBy(() -> b.hostDefault("", null)).hasMessage("route");
        assertThatThrownBy(() -> b.build().lookup("foo", null)).hasMessage("path");
    }

    @Test
    void describesEveryRuleForConfigDump() {
        HttpRouteTable<Integer> table = table(b -> {
            b.add("b.com", PathType.PREFIX, "/", 1);
            b.add("b.com", PathType.PREFIX, "/api/", 2);
            b.add("b.com", PathType.EXACT, "/healthz", 3);
            b.add("b.com", PathType.REGEX, "/v[0-9]", 4);
            b.add("*.A.com", PathType.PREFIX, "/", 5);
            b.add("", PathType.EXACT, "/x", 6);
            b.hostDefault("b.com", 7);
            b.hostDefault("c.com", 8);
            b.defaultRoute(9);
        });
        assertThat(table.rules()).containsExactly(
                new RuleView("", PathType.EXACT, "/x", "6"),
                new RuleView("*.a.com", PathType.PREFIX, "/", "5"),
                new RuleView("b.com", PathType.EXACT, "/healthz", "3"),
                new RuleView("b.com", PathType.REGEX, "/v[0-9]", "4"),
                new RuleView("b.com", PathType.PREFIX, "/api/", "2"),
                new RuleView("b.com", PathType.PREFIX, "/", "1"));
        assertThat(table.hostDefaults()).containsExactly(Map.entry("b.com", 7), Map.entry("c.com", 8));
        assertThat(table.hostCount()).isEqualTo(4);
        assertThat(table.ruleCount()).isEqualTo(6);
        assertThat(table).hasToString("HttpRouteTable(4 hosts, 6 rules, default 9)");
    }

    @Test
    void tellsApartHostsWhoseHashesCollide() {
        // Equal hashes: the two share a probe sequence, and the first one probed is the wrong one for the other.
        assertThat("xc0.com".hashCode()).isEqualTo("xan.com".hashCode());
        HttpRouteTable<String> table = table(b -> {
            b.add("xc0.com", PathType.REGEX, "/.*", "c0-regex"); // must not run for xan.com
            b.add("xan.com", PathType.PREFIX, "/api", "an-api");
            b.hostDefault("xan.com", "an-default");
            b.add("*.xc0.com", PathType.EXACT, "/x", "c0-wild");
            b.add("*.xan.com", PathType.EXACT, "/x", "an-wild");
            b.add("", PathType.PREFIX, "/", "any");
        });
        assertThat(table.lookup("XAN.com", "/api/x")).isEqualTo("an-api");
        assertThat(table.lookup("xan.com:80", "/other")).isEqualTo("an-default");
        assertThat(table.lookup("xc0.com", "/other")).isEqualTo("c0-regex");
        assertThat(table.lookup("a.xan.com", "/x")).isEqualTo("an-wild");
        assertThat(table.lookup("a.XC0.com", "/x")).isEqualTo("c0-wild");
        assertThat(table.lookup("a.xan.com", "/y")).as("no fall-through").isNull();
        assertThat(table.lookup("xbn.com", "/api")).isEqualTo("any");
    }

    @Test
    void describesTheRulesOfAHostWithManyPaths() {
        HttpRouteTable<String> table = table(b -> {
            for (int i = 0; i < 3 * PathMatcher.SCANNED_KEYS; i++) {
                b.add("many.com", PathType.PREFIX, "/p/" + (char) ('a' + i) + (i % 2 == 0 ? "/" : ""), "p" + i);
                b.add("many.com", PathType.EXACT, "/e" + i, "e" + i);
            }
            b.add("many.com", PathType.PREFIX, "/p", "p");
            b.add("many.com", PathType.EXACT, "/p", "exact-p");
            b.add("many.com", PathType.REGEX, "/r.*", "r");
            b.add("many.com", PathType.PREFIX, "/", "root");
        });
        List<RuleView> rules = table.rules();
        assertThat(rules).hasSize(6 * PathMatcher.SCANNED_KEYS + 4);
        assertThat(rules.get(0)).isEqualTo(new RuleView("many.com", PathType.EXACT, "/e0", "e0"));
        assertThat(rules).filteredOn(r -> r.type() == PathType.EXACT).extracting(RuleView::path)
                         .isSorted().contains("/p");
        assertThat(rules).filteredOn(r -> r.type() == PathType.PREFIX).extracting(RuleView::path)
                         .startsWith("/p/a/", "/p/b", "/p/c/").endsWith("/p", "/");
        assertThat(rules).filteredOn(r -> r.type() == PathType.REGEX).extracting(RuleView::route)
                         .containsExactly("r");
        assertThat(table.lookup("many.com", "/p")).isEqualTo("exact-p");
        assertThat(table.lookup("many.com", "/p/c/d")).isEqualTo("p2");
        assertThat(table.lookup("many.com", "/p/d")).isEqualTo("p3");
        assertThat(table.lookup("many.com", "/p/z")).isEqualTo("p");
        assertThat(table.lookup("many.com", "/r/p")).isEqualTo("r");
        assertThat(table.lookup("many.com", "/e5")).isEqualTo("e5");
        assertThat(table.lookup("many.com", "/e5/x")).isEqualTo("root");
    }

    @Test
    void answersCorrectlyWith100kRules() {
        int hosts = 25_000;
        HttpRouteTable.Builder<String> b = HttpRouteTable.<String>builder().defaultRoute("default");
        for (int i = 0; i < hosts; i++) {
            String host = "svc-" + i + ".ns.example.com";
            b.add(host, PathType.PREFIX, "/", i + ":/");
            b.add(host, PathType.PREFIX, "/api", i + ":/api");
            b.add(host, PathType.PREFIX, "/api/v1/users", i + ":/api/v1/users");
            b.add(host, PathType.EXACT, "/healthz", i + ":=/healthz");
        }
        HttpRouteTable<String> table = b.build();
        assertThat(table.ruleCount()).isEqualTo(100_000);
        assertThat(table.hostCount()).isEqualTo(hosts);
        for (int i = 0; i < hosts; i++) {
            String host = "SVC-" + i + ".ns.Example.com:8080";
            assertThat(table.lookup(host, "/api/v1/users/42/orders")).isEqualTo(i + ":/api/v1/users");
            assertThat(table.lookup(host, "/api/v2")).isEqualTo(i + ":/api");
            assertThat(table.lookup(host, "/healthz")).isEqualTo(i + ":=/healthz");
            assertThat(table.lookup(host, "/healthz/x")).isEqualTo(i + ":/");
            assertThat(table.lookup("svc-" + i + ".ns.example.org", "/api")).isEqualTo("default");
        }

        HttpRouteTable.Builder<String> deep = HttpRouteTable.builder();
        for (int i = 0; i < 100_000; i++) {
            deep.add("", i % 2 == 0 ? PathType.PREFIX : PathType.EXACT, "/t" + (i / 1000) + "/p" + i, "r" + i);
        }
        HttpRouteTable<String> oneHost = deep.build();
        assertThat(oneHost.ruleCount()).isEqualTo(100_000);
        for (int i = 0; i < 100_000; i++) {
            String path = "/t" + (i / 1000) + "/p" + i;
            assertThat(oneHost.lookup(null, path + "/x")).isEqualTo(i % 2 == 0 ? "r" + i : null);
            assertThat(oneHost.lookup(null, path)).isEqualTo("r" + i);
        }
    }

    private static <R> HttpRouteTable<R> table(Consumer<HttpRouteTable.Builder<R>> rules) {
        HttpRouteTable.Builder<R> b = HttpRouteTable.builder();
        rules.accept(b);
        return b.build();
    }

    @Test
    void lookupAllocatesNothingWithoutRegexes() {
        java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        assumeThat(bean).isInstanceOf(com.sun.management.ThreadMXBean.class);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) bean;
        assumeThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);

        HttpRouteTable.Builder<String> b = HttpRouteTable.<String>builder().defaultRoute("default");
        for (int i = 0; i < 1000; i++) {
            b.add("svc-" + i + ".example.com", PathType.PREFIX, "/api/v1", "api" + i);
            b.add("*.wild-" + i + ".example.com", PathType.EXACT, "/x", "x" + i);
        }
        HttpRouteTable<String> table = b.build();
        String[] hosts = { "SVC-7.Example.com:8080", "a.WILD-9.example.com", "[::1]:80", "nope.example.com" };
        String[] paths = { "/api/v1/users/42/orders", "/x", "/", "/api/v10" };
        List<String> expected = List.of("api7", "x9", "default", "default");
        for (int i = 0; i < 20_000; i++) {
            table.lookup(hosts[i & 3], paths[i & 3]);
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        int hits = 0;
        for (int i = 0; i < 100_000; i++) {
            if (expected.get(i & 3).equals(table.lookup(hosts[i & 3], paths[i & 3]))) {
                hits++;
            }
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertThat(hits).isEqualTo(100_000);
        assertThat(allocated).as("bytes allocated by 100,000 lookups").isLessThan(4096);
    }
}
