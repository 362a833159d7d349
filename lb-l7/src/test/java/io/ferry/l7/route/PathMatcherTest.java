package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Checks the hashed matcher against the Ingress rules written out naively, on random rules and paths. */
class PathMatcherTest {

    private static final String[] ELEMENTS = { "a", "b", "aa", "ab", "a.b", "API", "api" };

    @Test
    void agreesWithANaiveMatcherOnRandomRules() {
        SplittableRandom random = new SplittableRandom(42);
        for (int round = 0; round < 300; round++) {
            List<String[]> rules = new ArrayList<>(); // { type, path }
            PathMatcher.Builder<String> b = new PathMatcher.Builder<>();
            int count = 1 + random.nextInt(12);
            for (int i = 0; i < count; i++) {
                PathType type = random.nextBoolean() ? PathType.PREFIX : PathType.EXACT;
                String path = randomPath(random);
                if (b.add(type, path, null, type + " " + path)) {
                    rules.add(new String[] { type.name(), path });
                }
            }
            PathMatcher<String> matcher = b.build();
            for (int i = 0; i < 50; i++) {
                String request = randomPath(random);
                assertThat(matcher.match(request)).as("rules %s, request %s", toString(rules), request)
                                                  .isEqualTo(naive(rules, request));
            }
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

    private static String randomPath(SplittableRandom random) {
        StringBuilder sb = new StringBuilder();
        int depth = random.nextInt(5);
        for (int i = 0; i < depth; i++) {
            sb.append('/').append(ELEMENTS[random.nextInt(ELEMENTS.length)]);
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
