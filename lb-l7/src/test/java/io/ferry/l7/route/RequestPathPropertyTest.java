package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.Deque;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * What {@link RequestPath#normalize}'s Javadoc promises, for generated raw paths made of plain, empty, dot and
 * dot-dot segments, escaped or not, escaped slashes, and bad escapes — checked against a plain model of nginx's
 * {@code $uri} (decode, then resolve segments on a stack), and for the properties that follow from it: the result
 * starts with {@code /}, has no empty, {@code .} or {@code ..} segment, never climbs above the root (such a path is
 * invalid instead), and normalizing it again changes nothing; a path with nothing to normalize is returned as the
 * same instance.
 */
class RequestPathPropertyTest {

    private static final String[] TOKENS = {"a", "b", "A", "ab", "", ".", "..", "%2e", "%2E", "%2e%2e", ".%2E",
                                            "%2F", "%2f", "%41", "%7e", "~", "a%2Fb", "...", ".a", "a.", "-_"};
    private static final String[] BAD = {"%", "%4", "%zz", "%00", "%0", "%G1", "\u0000"};

    @Property(tries = 2000)
    void agreesWithTheModel(@ForAll("raw") String raw) {
        assertThat(RequestPath.normalize(raw)).as(raw).isEqualTo(model(raw));
    }

    @Property(tries = 2000)
    void aNormalizedPathIsCleanAndStaysUnderTheRoot(@ForAll("raw") String raw) {
        String path = RequestPath.normalize(raw);
        if (path == null) {
            return;
        }
        assertThat(path).startsWith("/").doesNotContain("//");
        String[] segments = path.substring(1).split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            assertThat(segments[i]).as("segment %d of %s", i, path).isNotIn(".", "..");
            if (i < segments.length - 1) {
                assertThat(segments[i]).isNotEmpty();
            }
        }
    }

    @Property(tries = 2000)
    void normalizingTwiceChangesNothing(@ForAll("raw") String raw) {
        String path = RequestPath.normalize(raw);
        // A decoded %25 is a new '%': only paths without one normalize to themselves (nginx decodes once too).
        if (path != null && path.indexOf('%') < 0) {
            assertThat(RequestPath.normalize(path)).isSameAs(path);
        }
    }

    @Property(tries = 1000)
    void aPathWithNothingToNormalizeIsTheSameInstance(@ForAll("plain") String raw) {
        assertThat(RequestPath.normalize(raw)).isSameAs(raw);
    }

    @Property(tries = 1000)
    void climbingAboveTheRootIsInvalid(@ForAll("plain") String raw, @ForAll("ups") String ups) {
        // raw's segments, then one ".." more than it has.
        long depth = raw.chars().filter(c -> c == '/').count() - (raw.endsWith("/") ? 1 : 0);
        String path = raw + (raw.endsWith("/") ? "" : "/") + "../".repeat((int) depth) + ups;
        assertThat(RequestPath.normalize(path)).as(path).isNull();
    }

    @Property(tries = 500)
    void aBadEscapeOrNulIsInvalid(@ForAll("plain") String raw, @ForAll("bad") String bad) {
        assertThat(RequestPath.normalize(raw + bad)).isNull();
        assertThat(RequestPath.normalize(raw + bad + "/x")).isNull();
    }

    // ---- the model ------------------------------------------------------------------------------------------

    /** nginx's $uri for an ASCII raw path: decode %XX (bad or %00: invalid), then resolve segments. */
    static String model(String raw) {
        if (raw.isEmpty() || raw.charAt(0) != '/') {
            return null;
        }
        StringBuilder decoded = new StringBuilder();
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length() || Character.digit(raw.charAt(i + 1), 16) < 0
                    || Character.digit(raw.charAt(i + 2), 16) < 0) {
                    return null;
                }
                c = (char) Integer.parseInt(raw.substring(i + 1, i + 3), 16);
                i += 2;
            }
            if (c == 0) {
                return null;
            }
            decoded.append(c);
        }
        Deque<String> stack = new ArrayDeque<>();
        String[] segments = decoded.substring(1).split("/", -1);
        boolean trailingSlash = false;
        for (int i = 0; i < segments.length; i++) {
            String s = segments[i];
            boolean last = i == segments.length - 1;
            if (s.isEmpty() || s.equals(".")) {
                trailingSlash = last;
            } else if (s.equals("..")) {
                if (stack.isEmpty()) {
                    return null;
                }
                stack.removeLast();
                trailingSlash = last;
            } else {
                stack.addLast(s);
                trailingSlash = false;
            }
        }
        if (stack.isEmpty()) {
            return "/";
        }
        return "/" + String.join("/", stack) + (trailingSlash ? "/" : "");
    }

    // ---- generators -----------------------------------------------------------------------------------------

    @Provide
    Arbitrary<String> raw() {
        Arbitrary<String> token = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(20, Arbitraries.of(TOKENS)),
                net.jqwik.api.Tuple.of(1, Arbitraries.of(BAD)));
        return token.list().ofMaxSize(8).map(t -> "/" + String.join("/", t));
    }

    /** Paths with nothing to normalize: plain ASCII segments, perhaps a trailing slash. */
    @Provide
    Arbitrary<String> plain() {
        Arbitrary<String> segment = Arbitraries.strings().withChars("abcXYZ09-_~.").ofMinLength(1).ofMaxLength(6)
                                               .filter(s -> !s.equals(".") && !s.equals(".."));
        return net.jqwik.api.Combinators.combine(segment.list().ofMaxSize(5), Arbitraries.of(true, false))
                                        .as((s, slash) -> s.isEmpty() ? "/" : "/" + String.join("/", s)
                                                                              + (slash ? "/" : ""));
    }

    @Provide
    Arbitrary<String> ups() {
        return Arbitraries.of("..", "../", "%2e%2e", "%2E%2E/", ".%2e", "../a", "../../b/");
    }

    @Provide
    Arbitrary<String> bad() {
        return Arbitraries.of(BAD);
    }
}
