package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * {@link HttpRouteTable} (its {@link HostTable}s and {@link PathMatcher}) against a reference model written here
 * from the Kubernetes Ingress rules, the plainest way they can be said: generated rule sets (Exact and Prefix paths
 * from a small alphabet, so that rules overlap, share prefixes and differ in case) and generated requests.
 *
 * <p>Paths (Kubernetes): Exact matches the whole path, case-sensitively; Prefix matches when its {@code /}-separated
 * elements are the first elements of the request's (a trailing {@code /} on either side ignored, a partial element
 * never matching); the longest match wins and Exact beats Prefix; of two equal rules the first added stays.
 * Hosts: exact names compare case-insensitively, any {@code :port} and one trailing dot ignored; {@code *.foo.com}
 * takes exactly one more label; an exact host beats a wildcard, which beats the empty host; a chosen host does not
 * fall through to a less specific one (ingress-nginx's one {@code server} per host).
 */
class RouteTablePropertyTest {

    private static final String[] SEGMENTS = {"a", "b", "A", "aa", "ab", "foo"};
    private static final String[] RULE_HOSTS = {"", "foo.com", "bar.foo.com", "*.foo.com", "x.bar.foo.com",
                                                "*.bar.foo.com", "Other.ORG", "[::1]"};
    private static final String[] LABELS = {"foo", "bar", "x", "y", "com", "other", "org", "FOO", "Bar"};

    record Rule(String host, PathType type, String path, String name) {
    }

    record Request(String host, String path) {
    }

    @Property(tries = 400)
    void lookupAgreesWithTheModel(@ForAll("rules") List<Rule> rules, @ForAll("requests") List<Request> requests) {
        HttpRouteTable.Builder<String> b = HttpRouteTable.builder();
        List<Rule> kept = new ArrayList<>();
        for (Rule r : rules) {
            boolean added = b.add(r.host(), r.type(), r.path(), r.name());
            boolean duplicate = kept.stream().anyMatch(k -> sameRule(k, r));
            assertThat(added).as("add %s (a duplicate: %s)", r, duplicate).isEqualTo(!duplicate);
            if (!duplicate) {
                kept.add(r);
            }
        }
        HttpRouteTable<String> table = b.defaultRoute("default").build();
        for (Request q : requests) {
            assertThat(table.lookup(q.host(), q.path())).as("%s with rules %s", q, kept)
                                                         .isEqualTo(model(kept, q));
        }
    }

    @Property(tries = 200)
    void aPrefixRuleTakesExactlyThePathsUnderIt(@ForAll("path") String rule, @ForAll("path") String request) {
        HttpRouteTable.Builder<String> b = HttpRouteTable.builder();
        b.add("", PathType.PREFIX, rule, "prefix");
        String got = b.build().lookup("any", request);
        List<String> r = elements(rule);
        List<String> q = elements(request);
        boolean under = q.size() >= r.size() && q.subList(0, r.size()).equals(r);
        assertThat(got).isEqualTo(under ? "prefix" : null);
    }

    // ---- the model ------------------------------------------------------------------------------------------

    private static String model(List<Rule> rules, Request q) {
        String host = modelHost(q.host());
        String chosen = null;
        if (rules.stream().anyMatch(r -> key(r.host()).equals(host) && !host.isEmpty())) {
            chosen = host;
        } else {
            int dot = host.indexOf('.');
            String wildcard = dot > 0 ? "*" + host.substring(dot) : null;
            if (wildcard != null && dot + 1 < host.length()
                && rules.stream().anyMatch(r -> key(r.host()).equals(wildcard))) {
                chosen = wildcard;
            } else if (rules.stream().anyMatch(r -> r.host().isEmpty())) {
                chosen = "";
            }
        }
        if (chosen == null) {
            return "default";
        }
        String entry = chosen;
        Rule best = null;
        int bestLength = -1;
        for (Rule r : rules) {
            if (!key(r.host()).equals(entry)) {
                continue;
            }
            if (r.type() == PathType.EXACT && r.path().equals(q.path())) {
                return r.name(); // the whole path: nothing is longer
            }
            if (r.type() == PathType.PREFIX) {
                List<String> re = elements(r.path());
                List<String> qe = elements(q.path());
                if (qe.size() >= re.size() && qe.subList(0, re.size()).equals(re) && re.size() > bestLength) {
                    best = r;
                    bestLength = re.size();
                }
            }
        }
        return best != null ? best.name() : "default";
    }

    /** The request's host as a rule key: lowercase, no port, no trailing dot; {@code ""} when there is none. */
    private static String modelHost(String host) {
        String h = host;
        if (h.startsWith("[")) {
            h = h.substring(0, h.indexOf(']') + 1);
        } else {
            int colon = h.indexOf(':');
            if (colon >= 0) {
                h = h.substring(0, colon);
            }
            if (h.endsWith(".")) {
                h = h.substring(0, h.length() - 1);
            }
        }
        return h.toLowerCase(Locale.ROOT);
    }

    private static String key(String ruleHost) {
        return ruleHost.toLowerCase(Locale.ROOT);
    }

    private static boolean sameRule(Rule a, Rule b) {
        if (!key(a.host()).equals(key(b.host())) || a.type() != b.type()) {
            return false;
        }
        return a.type() == PathType.PREFIX ? elements(a.path()).equals(elements(b.path())) : a.path().equals(b.path());
    }

    /** The {@code /}-separated elements of a path, without empty ones. */
    private static List<String> elements(String path) {
        List<String> out = new ArrayList<>(Arrays.asList(path.split("/")));
        out.removeIf(String::isEmpty);
        return out;
    }

    // ---- generators -----------------------------------------------------------------------------------------

    /** A normalized path: {@code /}, or elements from a small alphabet, perhaps with a trailing {@code /}. */
    @Provide
    Arbitrary<String> path() {
        return Combinators.combine(Arbitraries.of(SEGMENTS).list().ofMaxSize(4), Arbitraries.of(true, false))
                          .as((segments, slash) -> segments.isEmpty() ? "/"
                                                   : "/" + String.join("/", segments) + (slash ? "/" : ""));
    }

    @Provide
    Arbitrary<List<Rule>> rules() {
        Arbitrary<Rule> rule = Combinators.combine(Arbitraries.of(RULE_HOSTS), Arbitraries.of(PathType.EXACT,
                                                                                             PathType.PREFIX),
                                                   path(), Arbitraries.integers().between(0, 999))
                                          .as((host, type, path, n) -> new Rule(host, type, path, "r" + n));
        return rule.list().ofMinSize(1).ofMaxSize(12);
    }

    @Provide
    Arbitrary<List<Request>> requests() {
        Arbitrary<String> name = Arbitraries.of(LABELS).list().ofMinSize(1).ofMaxSize(4)
                                            .map(labels -> String.join(".", labels));
        Arbitrary<String> host = Arbitraries.oneOf(
                Combinators.combine(name, Arbitraries.of("", ".", ":8080", ".:443"))
                           .as((n, suffix) -> n + suffix),
                Arbitraries.of(RULE_HOSTS).filter(h -> !h.startsWith("*")),
                Arbitraries.of("BAR.Foo.Com", "[::1]:8443", "", "foo.com.", "a.b.c.bar.foo.com"));
        return Combinators.combine(host, path()).as(Request::new).list().ofMinSize(1).ofMaxSize(10);
    }
}
