package io.ferry.l7.route;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The path rules of one host as they are added, which {@link PathMatcher#compile} lays out as one entry: Exact and
 * Prefix rules by key (a Prefix path without its trailing {@code /}s, so that Prefix {@code /foo/} and {@code /foo}
 * are one rule, and Prefix {@code /} is the root, the key {@code ""}), Regex rules, and the host's fallback.
 *
 * <p>Not thread-safe: filled by one {@link HttpRouteTable.Builder}, which validates the arguments.
 *
 * @param <R> what a rule routes to
 */
final class PathRules<R> {

    /** Regex rules in match order, as ingress-nginx sorts locations; see {@link HttpRouteTable}. */
    static final Comparator<String> REGEX_ORDER = Comparator.comparingInt((String p) -> p.getBytes(UTF_8).length)
                                                            .thenComparing(PathRules::compareCodePoints)
                                                            .reversed();

    private final Map<String, R> exact = new HashMap<>();
    /** Keyed by the path without trailing {@code /}s. */
    private final Map<String, PrefixRule<R>> prefix = new HashMap<>();
    private final Map<String, Pattern> regex = new LinkedHashMap<>();
    private final Map<String, R> regexRoutes = new HashMap<>();
    private R fallback;
    /** The distinct Exact and Prefix keys (the root is none), and the sum of their lengths. */
    private int keyCount;
    private int keyLengths;

    /** Adds a rule; {@code false}, keeping the first, if an equal one was added before. */
    boolean add(PathType type, String path, Pattern pattern, R route) {
        switch (type) {
            case EXACT:
                if (exact.putIfAbsent(path, route) != null) {
                    return false;
                }
                if (!prefix.containsKey(path)) {
                    newKey(path);
                }
                return true;
            case PREFIX:
                String key = trimTrailingSlashes(path);
                if (prefix.putIfAbsent(key, new PrefixRule<>(path, route)) != null) {
                    return false;
                }
                if (!key.isEmpty() && !exact.containsKey(key)) {
                    newKey(key);
                }
                return true;
            case REGEX:
                if (regex.putIfAbsent(path, pattern) != null) {
                    return false;
                }
                regexRoutes.put(path, route);
                return true;
            default:
                throw new Error(type.toString());
        }
    }

    private void newKey(String key) {
        keyCount++;
        keyLengths += key.length();
    }

    /** Sets the fallback unless one was set before. */
    void fallback(R route) {
        if (fallback == null) {
            fallback = route;
        }
    }

    /** The fallback ({@link HttpRouteTable.Builder#hostDefault}), or {@code null}. */
    R fallback() {
        return fallback;
    }

    /** The number of rules, not counting the fallback. */
    int ruleCount() {
        return exact.size() + prefix.size() + regex.size();
    }

    /** The number of distinct Exact and Prefix keys; the root is none. */
    int keyCount() {
        return keyCount;
    }

    /** The sum of the lengths of the {@link #keys()}. */
    int keyLengths() {
        return keyLengths;
    }

    /** The distinct Exact and Prefix keys, in no particular order; the root is none. */
    String[] keys() {
        String[] out = new String[keyCount];
        int n = 0;
        for (String key : exact.keySet()) {
            out[n++] = key;
        }
        for (String key : prefix.keySet()) {
            if (!key.isEmpty() && !exact.containsKey(key)) {
                out[n++] = key;
            }
        }
        return out;
    }

    /** The route of the Exact rule {@code key}, or {@code null}. */
    R exact(String key) {
        return exact.get(key);
    }

    /** The route of the Prefix rule of {@code key} ({@code ""} for the root), or {@code null}. */
    R prefix(String key) {
        PrefixRule<R> rule = prefix.get(key);
        return rule != null ? rule.route() : null;
    }

    /** The path of the Prefix rule of {@code key} as added ({@code /foo/} for {@code /foo}), or {@code null}. */
    String prefixPath(String key) {
        PrefixRule<R> rule = prefix.get(key);
        return rule != null ? rule.path() : null;
    }

    int regexCount() {
        return regex.size();
    }

    /** The Regex rules, pattern to route, in {@link #REGEX_ORDER}. */
    List<Map.Entry<Pattern, R>> regexes() {
        List<Map.Entry<String, Pattern>> rules = new ArrayList<>(regex.entrySet());
        rules.sort(Map.Entry.comparingByKey(REGEX_ORDER)); // stable: equal keys keep insertion order
        List<Map.Entry<Pattern, R>> out = new ArrayList<>(rules.size());
        for (Map.Entry<String, Pattern> e : rules) {
            out.add(Map.entry(e.getValue(), regexRoutes.get(e.getKey())));
        }
        return out;
    }

    /** {@code path} without its trailing {@code /}s: the Prefix key ({@code ""} for {@code /}). */
    static String trimTrailingSlashes(String path) {
        int end = path.length();
        while (end > 0 && path.charAt(end - 1) == '/') {
            end--;
        }
        return path.substring(0, end);
    }

    /** Compares by Unicode code point, which is the byte order of UTF-8 (how Go compares strings). */
    private static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    }

    private record PrefixRule<R>(String path, R route) {
    }
}
