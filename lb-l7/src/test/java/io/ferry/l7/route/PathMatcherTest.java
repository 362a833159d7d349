package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Checks the matcher against the Ingress rules written out naively, on random rules and paths: entries small enough
 * to be scanned and large enough to get a path table, several entries in one matcher, short and long (64 characters
 * and more) paths.
 */
class PathMatcherTest {

    private static final String[] ELEMENTS = { "a", "b", "aa", "ab", "a.b", "API", "api" };
    /** Long elements push keys and paths past the 64 lengths of the masks; one is not Latin-1. */
    private static final String[] LONG_ELEMENTS = { "a", "ab", "x".repeat(30), "y".repeat(61), "\u00e9t\u00e9",
                                                    "\u043f\u0443\u0442\u044c" };

    @Test
    void agreesWithANaiveMatcherOnRandomRules() {
        SplittableRandom random = new SplittableRandom(42);
        for (int round = 0; round < 300; round++) {
            checkOneEntry(random, ELEMENTS, 1 + random.nextInt(12), 50);
        }
    }

    @Test
    void agreesWithANaiveMatcherOnManyRulesAndLongPaths() {
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 300; round++) {
            checkOneEntry(random, random.nextBoolean() ? ELEMENTS : LONG_ELEMENTS, 1 + random.nextInt(40), 50);
        }
    }

    @Test
    void scansSmallEntriesAndProbesLargeOnes() {
        // At the boundary between the two layouts, with keys that are prefixes of each other.
        for (int keys = PathMatcher.SCANNED_KEYS - 1; keys <= PathMatcher.SCANNED_KEYS + 2; keys++) {
            PathRules<String> b = new PathRules<>();
            StringBuilder path = new StringBuilder();
            for (int i = 0; i < keys; i++) {
                path.append("/k").append(i);
                b.add(i % 3 == 0 ? PathType.EXACT : PathType.PREFIX, path.toString(), null, "r" + i);
            }
            int[] entry = new int[1];
            PathMatcher<String> matcher = PathMatcher.compile(List.of(""), List.of(b), entry);
            String full = path.toString();
            for (int i = 0; i < keys; i++) {
                String key = full.substring(0, full.indexOf("/k" + i) + ("/k" + i).length());
                assertThat(matcher.match(entry[0], key)).as("%d keys, %s", keys, key).isEqualTo("r" + i);
                String below = key + "/x";
                int prefix = i % 3 == 0 ? i - 1 : i; // Exact keys take only the whole path
                while (prefix >= 0 && prefix % 3 == 0) {
                    prefix--;
                }
                assertThat(matcher.match(entry[0], below)).as("%d keys, %s", keys, below)
                                                          .isEqualTo(prefix >= 0 ? "r" + prefix : null);
            }
        }
    }

    @Test
    void keepsEntriesApart() {
        List<String> names = new ArrayList<>();
        List<PathRules<String>> rules = new ArrayList<>();
        for (int host = 0; host < 20; host++) {
            PathRules<String> b = new PathRules<>();
            for (int i = 0; i <= host; i++) {
                b.add(PathType.PREFIX, "/p" + i, null, host + ":/p" + i);
            }
            b.fallback(host + ":fallback");
            names.add("host-" + host + ".example.com");
            rules.add(b);
        }
        int[] entries = new int[names.size()];
        PathMatcher<String> matcher = PathMatcher.compile(names, rules, entries);
        for (int host = 0; host < names.size(); host++) {
            assertThat(matcher.name(entries[host])).isEqualTo(names.get(host));
            assertThat(matcher.fallback(entries[host])).isEqualTo(host + ":fallback");
            for (int i = 0; i < 25; i++) {
                assertThat(matcher.match(entries[host], "/p" + i + "/x"))
                        .isEqualTo(i <= host ? host + ":/p" + i : host + ":fallback");
            }
            String upper = "HOST-" + host + ".Example.com";
            assertThat(matcher.nameEquals(entries[host], 0, upper, 0, upper.length())).isTrue();
            assertThat(matcher.nameEquals(entries[host], 0, "host-x.example.com", 0, 18)).isFalse();
            assertThat(matcher.nameEquals(entries[host], 5, "<" + upper.substring(5) + ">", 1, upper.length() - 4))
                    .isTrue();
        }
    }

    @Test
    void inverse31UndoesAStepOfTheHash() {
        assertThat(31 * PathMatcher.INVERSE_31).isEqualTo(1);
        String s = "/api/v1/users/\u00e9";
        for (int i = 1; i <= s.length(); i++) {
            int h = s.substring(0, i).hashCode();
            assertThat((h - s.charAt(i - 1)) * PathMatcher.INVERSE_31).isEqualTo(s.substring(0, i - 1).hashCode());
        }
    }

    /** Builds one entry of {@code count} random rules and checks {@code requests} random paths against it. */
    private static void checkOneEntry(SplittableRandom random, String[] elements, int count, int requests) {
        List<String[]> rules = new ArrayList<>(); // { type, path }
        PathRules<String> b = new PathRules<>();
        for (int i = 0; i < count; i++) {
            PathType type = random.nextBoolean() ? PathType.PREFIX : PathType.EXACT;
            String path = randomPath(random, elements);
            if (b.add(type, path, null, type + " " + path)) {
                rules.add(new String[] { type.name(), path });
            }
        }
        int[] entry = new int[1];
        PathMatcher<String> matcher = PathMatcher.compile(List.of(""), List.of(b), entry);
        for (int i = 0; i < requests; i++) {
            // Half the requests extend a rule's path, so that long Prefix rules are hit too.
            String request = random.nextBoolean() ? randomPath(random, elements)
                             : PathRules.trimTrailingSlashes(rules.get(random.nextInt(rules.size()))[1])
                               + randomPath(random, elements);
            assertThat(matcher.match(entry[0], request)).as("rules %s, request %s", toString(rules), request)
                                                        .isEqualTo(naive(rules, request));
        }
    }

    /** Exact first, then the Prefix with the most elements, compared element by element. */
    private static String naive(List<String[]> rules, String request) {
        for (String[] r : rules) {
            if (r[0].equals("EXACT") && r[1].equals(request)) {
                return "EXACT " + r[1];
            }
        }
        List<String> requestElements = elements(request);
        String best = null;
        int bestSize = -1;
        for (String[] r : rules) {
            if (r[0].equals("PREFIX")) {
                List<String> ruleElements = elements(r[1]);
                if (ruleElements.size() <= requestElements.size()
                    && requestElements.subList(0, ruleElements.size()).equals(ruleElements)
                    && ruleElements.size() > bestSize) {
                    best = "PREFIX " + r[1];
                    bestSize = ruleElements.size();
                }
            }
        }
        return best;
    }

    private static List<String> elements(String path) {
        List<String> out = new ArrayList<>(Arrays.asList(path.split("/")));
        out.removeIf(String::isEmpty);
        return out;
    }

    private static String randomPath(SplittableRandom random, String[] elements) {
        StringBuilder sb = new StringBuilder();
        int depth = random.nextInt(5);
        for (int i = 0; i < depth; i++) {
            sb.append('/').append(elements[random.nextInt(elements.length)]);
        }
        if (depth == 0 || random.nextInt(4) == 0) {
            sb.append('/');
        }
        return sb.toString();
    }

    private static String toString(List<String[]> rules) {
        List<String> out = new ArrayList<>();
        for (String[] r : rules) {
            out.add(r[0] + ' ' + r[1]);
        }
        return out.toString();
    }
}
