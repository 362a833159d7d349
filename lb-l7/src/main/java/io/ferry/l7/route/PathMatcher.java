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
 * The path rules of one host entry of an {@link HttpRouteTable}: which route a request path selects, in the
 * order {@link HttpRouteTable} documents (Exact, then Regex in order, then the longest Prefix, then the host's
 * fallback).
 *
 * <p>Exact and Prefix rules share one open-addressing hash table keyed by path (Prefix keys without their
 * trailing {@code /}; Prefix {@code /} is kept apart as the root). {@link #match(String)} walks the request path
 * once, hashing as it goes, and probes the table at every {@code /} boundary (a Prefix candidate) and at the end
 * (the Exact candidate): no allocation, and a cost that grows with the path, not with the number of rules.
 * Regex rules, when a host has any, each allocate a {@link java.util.regex.Matcher}. Laid out like
 * {@link HostIndex}: the hashes in one {@code int[]}, each key's characters beside its two routes in one
 * {@code Object[]}, so a probe costs few cache misses.
 *
 * <p>Immutable; built by {@link Builder}, read by every event loop without locks.
 *
 * @param <R> what a match returns
 */
final class PathMatcher<R> {

    /** Regex rules in match order, as ingress-nginx sorts locations; see {@link HttpRouteTable}. */
    static final Comparator<String> REGEX_ORDER = Comparator.comparingInt((String p) -> p.getBytes(UTF_8).length)
                                                            .thenComparing(PathMatcher::compareCodePoints)
                                                            .reversed();

    private static final Pattern[] NO_REGEXES = {};

    private final int[] hashes;
    /** {@code [3 * slot]} the key's characters, {@code + 1} its Exact route, {@code + 2} its Prefix route. */
    private final Object[] slots;
    /** The Prefix rules' paths as written ({@code /foo/} for the key {@code /foo}) by slot, for dumps. */
    private final String[] prefixPaths;
    private final int mask;
    private final int maxExactLength;
    private final int maxPrefixLength;
    private final Object rootRoute;
    private final String rootPath;
    private final Pattern[] regexes;
    private final Object[] regexRoutes;
    private final Object fallback;
    private final int ruleCount;

    private PathMatcher(Builder<R> b) {
        Map<String, Object[]> byKey = new HashMap<>(); // key -> { exact route, prefix route, prefix path }
        int maxExact = -1;
        int maxPrefix = 0;
        for (Map.Entry<String, R> e : b.exact.entrySet()) {
            byKey.computeIfAbsent(e.getKey(), k -> new Object[3])[0] = e.getValue();
            maxExact = Math.max(maxExact, e.getKey().length());
        }
        Object root = null;
        String rootAsWritten = null;
        for (Map.Entry<String, PrefixRule<R>> e : b.prefix.entrySet()) {
            if (e.getKey().isEmpty()) {
                root = e.getValue().route;
                rootAsWritten = e.getValue().path;
                continue;
            }
            Object[] slot = byKey.computeIfAbsent(e.getKey(), k -> new Object[3]);
            slot[1] = e.getValue().route;
            slot[2] = e.getValue().path;
            maxPrefix = Math.max(maxPrefix, e.getKey().length());
        }
        int capacity = tableSize(byKey.size());
        hashes = new int[capacity];
        slots = new Object[3 * capacity];
        prefixPaths = new String[capacity];
        mask = capacity - 1;
        for (Map.Entry<String, Object[]> e : byKey.entrySet()) {
            String key = e.getKey();
            int hash = spread(key.hashCode()); // String.hashCode is the 31-polynomial match() computes
            int slot = hash & mask;
            while (slots[3 * slot] != null) {
                slot = (slot + 1) & mask;
            }
            hashes[slot] = hash;
            slots[3 * slot] = key.toCharArray();
            slots[3 * slot + 1] = e.getValue()[0];
            slots[3 * slot + 2] = e.getValue()[1];
            prefixPaths[slot] = (String) e.getValue()[2];
        }
        maxExactLength = maxExact;
        maxPrefixLength = maxPrefix;
        rootRoute = root;
        rootPath = rootAsWritten;

        List<Map.Entry<String, Pattern>> regexList = new ArrayList<>(b.regex.entrySet());
        regexList.sort(Map.Entry.comparingByKey(REGEX_ORDER)); // stable: equal keys keep insertion order
        regexes = regexList.isEmpty() ? NO_REGEXES : new Pattern[regexList.size()]; // shared: stays in cache
        regexRoutes = new Object[regexList.size()];
        for (int i = 0; i < regexes.length; i++) {
            regexes[i] = regexList.get(i).getValue();
            regexRoutes[i] = b.regexRoutes.get(regexList.get(i).getKey());
        }
        fallback = b.fallback;
        ruleCount = b.exact.size() + b.prefix.size() + b.regex.size();
    }

    /**
     * The route {@code path} selects in this host: its Exact rule, else the first Regex rule that matches at the
     * start, else its longest Prefix rule, else the host's fallback, else {@code null}.
     */
    @SuppressWarnings("unchecked")
    R match(String path) {
        int length = path.length();
        boolean exactPossible = length <= maxExactLength;
        // Past the longest Prefix key nothing more can match, unless the whole path may still be an Exact key.
        int scanEnd = exactPossible ? length : Math.min(length, maxPrefixLength + 1);
        Object prefix = rootRoute;
        int h = 0;
        for (int i = 0; i < scanEnd; i++) {
            char c = path.charAt(i);
            if (c == '/' && i > 0 && i <= maxPrefixLength) {
                int slot = find(path, i, h);
                if (slot >= 0 && slots[3 * slot + 2] != null) {
                    prefix = slots[3 * slot + 2]; // later boundaries are longer: the last hit is the longest
                }
            }
            h = 31 * h + c;
        }
        if (scanEnd == length) {
            int slot = find(path, length, h);
            if (slot >= 0) {
                if (exactPossible && slots[3 * slot + 1] != null) {
                    return (R) slots[3 * slot + 1];
                }
                if (slots[3 * slot + 2] != null) {
                    prefix = slots[3 * slot + 2];
                }
            }
        }
        for (int i = 0; i < regexes.length; i++) {
            if (RegexBudget.matcher(regexes[i], path).lookingAt()) {
                return (R) regexRoutes[i];
            }
        }
        return (R) (prefix != null ? prefix : fallback);
    }

    /** The slot whose key is {@code path[0, length)} given its unspread 31-polynomial hash, or {@code -1}. */
    private int find(String path, int length, int polynomialHash) {
        int hash = spread(polynomialHash);
        for (int slot = hash & mask; ; slot = (slot + 1) & mask) {
            char[] key = (char[]) slots[3 * slot];
            if (key == null) {
                return -1;
            }
            if (hashes[slot] == hash && key.length == length && regionEquals(key, path)) {
                return slot;
            }
        }
    }

    private static boolean regionEquals(char[] key, String path) {
        for (int i = 0; i < key.length; i++) {
            if (key[i] != path.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** The host's fallback ({@link HttpRouteTable.Builder#hostDefault}), or {@code null}. */
    @SuppressWarnings("unchecked")
    R fallback() {
        return (R) fallback;
    }

    int ruleCount() {
        return ruleCount;
    }

    /** Appends this host's rules to {@code out} in the order they are tried. */
    void describe(String host, List<HttpRouteTable.RuleView> out) {
        List<HttpRouteTable.RuleView> exact = new ArrayList<>();
        List<HttpRouteTable.RuleView> prefix = new ArrayList<>();
        for (int slot = 0; slot <= mask; slot++) {
            if (slots[3 * slot + 1] != null) {
                exact.add(new HttpRouteTable.RuleView(host, PathType.EXACT, new String((char[]) slots[3 * slot]),
                                                      String.valueOf(slots[3 * slot + 1])));
            }
            if (slots[3 * slot + 2] != null) {
                prefix.add(new HttpRouteTable.RuleView(host, PathType.PREFIX, prefixPaths[slot],
                                                       String.valueOf(slots[3 * slot + 2])));
            }
        }
        exact.sort(Comparator.comparing(HttpRouteTable.RuleView::path));
        prefix.sort(Comparator.comparingInt((HttpRouteTable.RuleView v) -> trimTrailingSlashes(v.path()).length())
                              .reversed().thenComparing(HttpRouteTable.RuleView::path));
        out.addAll(exact);
        for (int i = 0; i < regexes.length; i++) {
            out.add(new HttpRouteTable.RuleView(host, PathType.REGEX, regexes[i].pattern(),
                                                String.valueOf(regexRoutes[i])));
        }
        out.addAll(prefix);
        if (rootRoute != null) {
            out.add(new HttpRouteTable.RuleView(host, PathType.PREFIX, rootPath, String.valueOf(rootRoute)));
        }
    }

    /** Murmur3's 32-bit finalizer: spreads a polynomial hash over the low bits the table masks. */
    static int spread(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        return h ^ (h >>> 16);
    }

    /** The smallest power of two at least twice {@code entries} (and at least 2): a load factor of 1/2 at most. */
    static int tableSize(int entries) {
        int size = 2;
        while (size < 2 * entries) {
            size <<= 1;
        }
        return size;
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

    /** Collects one host's rules; not thread-safe. Arguments are validated by {@link HttpRouteTable.Builder}. */
    static final class Builder<R> {

        private final Map<String, R> exact = new HashMap<>();
        /** Keyed by the path without trailing {@code /}s. */
        private final Map<String, PrefixRule<R>> prefix = new HashMap<>();
        private final Map<String, Pattern> regex = new LinkedHashMap<>();
        private final Map<String, R> regexRoutes = new HashMap<>();
        private R fallback;

        /** Adds a rule; {@code false}, keeping the first, if an equal one was added before. */
        boolean add(PathType type, String path, Pattern pattern, R route) {
            switch (type) {
                case EXACT:
                    return exact.putIfAbsent(path, route) == null;
                case PREFIX:
                    return prefix.putIfAbsent(trimTrailingSlashes(path), new PrefixRule<>(path, route)) == null;
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

        /** Sets the fallback unless one was set before. */
        void fallback(R route) {
            if (fallback == null) {
                fallback = route;
            }
        }

        PathMatcher<R> build() {
            return new PathMatcher<>(this);
        }
    }

    private static final class PrefixRule<R> {
        final String path;
        final R route;

        PrefixRule(String path, R route) {
            this.path = path;
            this.route = route;
        }
    }
}
