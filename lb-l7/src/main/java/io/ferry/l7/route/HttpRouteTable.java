package io.ferry.l7.route;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The immutable HTTP routing table: which route a request's Host and path select, with ingress-nginx's semantics.
 *
 * <h2>Host</h2>
 * The Host header (or {@code :authority}) as received is reduced to a host name without allocating: any
 * {@code :port} is ignored, an IPv6 literal keeps its brackets ({@code [::1]:8080} is the host {@code [::1]}),
 * one trailing dot is dropped ({@code foo.com.} is {@code foo.com}, as nginx does), and letters compare
 * case-insensitively (ASCII; internationalized names arrive as punycode). Then one host entry is chosen:
 * <ol>
 *   <li>the exact host, if it has rules or a {@linkplain Builder#hostDefault fallback};</li>
 *   <li>else the wildcard {@code *.rest}, when the host is one label followed by {@code .rest}: {@code *.foo.com}
 *       takes {@code bar.foo.com} but neither {@code baz.bar.foo.com} nor {@code foo.com};</li>
 *   <li>else the entry of host {@code ""}, which takes any host, and a {@code null} or empty Host.</li>
 * </ol>
 * Once an entry is chosen, a path that matches none of its rules does <em>not</em> fall through to the wildcard or
 * the {@code ""} entry: like ingress-nginx, which renders one nginx {@code server} block per host, it gets the
 * entry's fallback, else the table's {@linkplain Builder#defaultRoute default route}, else {@code null}.
 *
 * <h2>Path</h2>
 * Within the chosen entry, the path (normalized by {@link RequestPath#normalize}) is tried against:
 * <ol>
 *   <li>the {@link PathType#EXACT} rule equal to the whole path, case-sensitive;</li>
 *   <li>the {@link PathType#REGEX} rules, case-insensitive and anchored at the start of the path (nginx's
 *       {@code location ~* "^path"}), in ingress-nginx's location order: the longest pattern (in UTF-8 bytes)
 *       first, patterns of equal length in descending byte order. The first that matches wins. (ingress-nginx,
 *       {@code internal/ingress/controller/controller.go}, {@code getBackendServers}: {@code sort.SliceStable} by
 *       {@code Path >}, then {@code sort.SliceStable} by {@code len(Path) >}.)</li>
 *   <li>the longest {@link PathType#PREFIX} rule whose {@code /}-separated elements are a prefix of the path's: a
 *       trailing {@code /} on either side is ignored, a partial element never matches ({@code /aaa/bb} does not take
 *       {@code /aaa/bbb}), and {@code /} takes every path.</li>
 * </ol>
 *
 * <h2>Cost</h2>
 * {@link #lookup} takes no lock and, for entries without Regex rules, allocates nothing: one pass over the Host that
 * finds where the name ends and hashes it (lowercase, in place), one probe of a {@link HostTable} (two for a
 * wildcard), then the entry's path rules (see {@link PathMatcher}): for an entry of a few paths, a comparison of the
 * path with its keys, longest first, that mostly stops at the first characters; for one of many paths, one pass
 * over the path and a hash probe of the whole path and of the longest {@code /} boundary that may be a Prefix key.
 * Its cost grows with the length of the Host and the path, not with the number of hosts or rules. Entries with Regex
 * rules allocate one {@link java.util.regex.Matcher} per Regex rule tried.
 *
 * <p>Laid out flat, so that a lookup is a short chain of cache lines however large the table, rather than a chain
 * of small objects per host: the host slots are one {@code int[]} per {@link HostTable} (exact hosts, wildcards),
 * each pointing at an entry's record in one {@code char[]} shared by every entry (host name, keys, and a path table
 * for an entry of many paths; see {@link PathMatcher}); the routes are one {@code Object[]}.
 *
 * <p>Built off the hot path by the control plane's Ingress compiler and published whole with one volatile write;
 * read by every event loop.
 *
 * @param <R> what a match returns (a {@link Route} in production)
 */
public final class HttpRouteTable<R> {

    private static final HttpRouteTable<Object> EMPTY = new Builder<>().build();

    /** No entry: {@link PathMatcher} entries are record offsets, never 0. */
    private static final int NONE = 0;

    private final PathMatcher<R> paths;
    private final HostTable exactHosts;
    /** Keyed by what follows {@code *.}. */
    private final HostTable wildcardHosts;
    /** The entry of host {@code ""}, or {@link #NONE}. */
    private final int anyHost;
    private final R defaultRoute;
    private final int ruleCount;

    private HttpRouteTable(PathMatcher<R> paths, HostTable exactHosts, HostTable wildcardHosts, int anyHost,
                           R defaultRoute, int ruleCount) {
        this.paths = paths;
        this.exactHosts = exactHosts;
        this.wildcardHosts = wildcardHosts;
        this.anyHost = anyHost;
        this.defaultRoute = defaultRoute;
        this.ruleCount = ruleCount;
    }

    /** The table with no rules and no default: every lookup returns {@code null}. */
    @SuppressWarnings("unchecked")
    public static <R> HttpRouteTable<R> empty() {
        return (HttpRouteTable<R>) EMPTY;
    }

    /** Returns a new builder. */
    public static <R> Builder<R> builder() {
        return new Builder<>();
    }

    /**
     * @param host the Host header or {@code :authority} as received (any case, optional {@code :port}, IPv6
     *             literal in brackets), or {@code null}
     * @param path the normalized request path: starts with {@code /}, no query
     * @return the matched route, else the host's fallback, else the table's default, else {@code null}
     */
    public R lookup(CharSequence host, String path) {
        requireNonNull(path, "path");
        int entry = hostEntry(host);
        if (entry != NONE) {
            R route = paths.match(entry, path);
            if (route != null) {
                return route;
            }
        }
        return defaultRoute;
    }

    /** The route for requests that select no rule and no host fallback, or {@code null}. */
    public R defaultRoute() {
        return defaultRoute;
    }

    /** The number of host entries: exact hosts, wildcards and {@code ""}. */
    public int hostCount() {
        return exactHosts.size() + wildcardHosts.size() + (anyHost != NONE ? 1 : 0);
    }

    /** The number of path rules, not counting fallbacks. */
    public int ruleCount() {
        return ruleCount;
    }

    /**
     * Every path rule, for {@code /config_dump}: hosts in alphabetical order ({@code ""} first), and within a host
     * in the order they are tried (Exact, Regex, Prefix longest first).
     */
    public List<RuleView> rules() {
        List<RuleView> out = new ArrayList<>(ruleCount);
        hosts().forEach((host, entry) -> paths.describe(entry, out));
        return Collections.unmodifiableList(out);
    }

    /** Every host fallback ({@link Builder#hostDefault}) by host, in alphabetical order. */
    public Map<String, R> hostDefaults() {
        Map<String, R> out = new LinkedHashMap<>();
        hosts().forEach((host, entry) -> {
            R fallback = paths.fallback(entry);
            if (fallback != null) {
                out.put(host, fallback);
            }
        });
        return Collections.unmodifiableMap(out);
    }

    @Override
    public String toString() {
        return "HttpRouteTable(" + hostCount() + " hosts, " + ruleCount + " rules, default " + defaultRoute + ')';
    }

    /** Every entry by host name as stored, in alphabetical order. */
    private TreeMap<String, Integer> hosts() {
        TreeMap<String, Integer> hosts = new TreeMap<>();
        exactHosts.forEach(entry -> hosts.put(paths.name(entry), entry));
        wildcardHosts.forEach(entry -> hosts.put(paths.name(entry), entry));
        if (anyHost != NONE) {
            hosts.put("", anyHost);
        }
        return hosts;
    }

    /** The host entry {@code host} selects, or {@link #NONE}; see the class documentation. */
    private int hostEntry(CharSequence host) {
        if (host == null || host.length() == 0) {
            return anyHost;
        }
        int length = host.length();
        int end = length;
        int hash = 0;
        if (host.charAt(0) == '[') {
            int close = indexOf(host, ']', 1, length);
            if (close > 0) {
                end = close + 1;
            }
            hash = HostTable.hash(host, 0, end);
        } else {
            // One pass: where the name ends (a ':' starts the port) and its hash as HostTable has it.
            int previous = 0; // the hash without the last character, in case that is a trailing dot
            for (int i = 0; i < length; i++) {
                char c = host.charAt(i);
                if (c == ':') {
                    end = i;
                    break;
                }
                previous = hash;
                hash = 31 * hash + HostIndex.toLowerAscii(c);
            }
            if (end > 0 && host.charAt(end - 1) == '.') {
                end--;
                hash = previous;
            }
            if (end == 0) {
                return anyHost;
            }
        }
        int entry = exactHosts.get(host, 0, end, hash);
        if (entry == NONE && wildcardHosts.size() != 0) {
            int dot = indexOf(host, '.', 0, end);
            if (dot > 0 && dot + 1 < end) {
                entry = wildcardHosts.get(host, dot + 1, end, HostTable.hash(host, dot + 1, end));
            }
        }
        return entry != NONE ? entry : anyHost;
    }

    private static int indexOf(CharSequence s, char c, int from, int to) {
        for (int i = from; i < to; i++) {
            if (s.charAt(i) == c) {
                return i;
            }
        }
        return -1;
    }

    /**
     * One rule as {@code /config_dump} shows it.
     *
     * @param host the host as stored: lowercase, {@code *.foo.com} for a wildcard, {@code ""} for any host
     * @param type how {@code path} is compared
     * @param path the path as added
     * @param route {@code String.valueOf} the route
     */
    public record RuleView(String host, PathType type, String path, String route) {
    }

    /** Builds an {@link HttpRouteTable}; not thread-safe. */
    public static final class Builder<R> {

        private final Map<String, PathRules<R>> hosts = new HashMap<>();
        private R defaultRoute;

        private Builder() {
        }

        /**
         * Adds a rule. Add older Ingresses first: of two equal rules the first stays. Rules are equal when their
         * host (lowercased), type and path are; Prefix paths compare without their trailing {@code /}, so Prefix
         * {@code /foo/} equals Prefix {@code /foo}.
         *
         * @param host {@code ""} for any host, {@code *.foo.com} for one extra label, else an exact host; any case,
         *             no port, one trailing dot ignored
         * @param path starts with {@code /} for {@link PathType#EXACT} and {@link PathType#PREFIX}; a
         *             {@link java.util.regex.Pattern} for {@link PathType#REGEX}
         * @return {@code false}, keeping the first, if the same host, type and path was added before
         * @throws IllegalArgumentException if {@code host} or {@code path} is malformed
         */
        public boolean add(String host, PathType type, String path, R route) {
            String key = hostKey(host);
            requireNonNull(type, "type");
            requireNonNull(path, "path");
            requireNonNull(route, "route");
            Pattern pattern = null;
            if (type == PathType.REGEX) {
                try {
                    pattern = Pattern.compile(path, Pattern.CASE_INSENSITIVE);
                } catch (PatternSyntaxException e) {
                    throw new IllegalArgumentException(
                            "path: " + path + " (expected: a valid regex; " + e.getDescription() + " at index "
                            + e.getIndex() + ')', e);
                }
            } else if (!path.startsWith("/")) {
                throw new IllegalArgumentException("path: " + path + " (expected: starts with /)");
            }
            return hosts.computeIfAbsent(key, k -> new PathRules<>()).add(type, path, pattern, route);
        }

        /** The route for requests to {@code host} that match none of its paths; the first call wins. */
        public Builder<R> hostDefault(String host, R route) {
            String key = hostKey(host);
            requireNonNull(route, "route");
            hosts.computeIfAbsent(key, k -> new PathRules<>()).fallback(route);
            return this;
        }

        /** The route for requests that select no rule and no host fallback; the last call wins. */
        public Builder<R> defaultRoute(R route) {
            defaultRoute = requireNonNull(route, "route");
            return this;
        }

        public HttpRouteTable<R> build() {
            List<String> names = new ArrayList<>(hosts.size());
            List<PathRules<R>> rules = new ArrayList<>(hosts.size());
            int ruleCount = 0;
            int wildcards = 0;
            for (Map.Entry<String, PathRules<R>> e : hosts.entrySet()) {
                names.add(e.getKey());
                rules.add(e.getValue());
                ruleCount += e.getValue().ruleCount();
                if (e.getKey().startsWith("*.")) {
                    wildcards++;
                }
            }
            int[] entries = new int[names.size()];
            PathMatcher<R> paths = PathMatcher.compile(names, rules, entries);
            int any = NONE;
            int[] wildcard = new int[wildcards];
            int[] exact = new int[names.size() - wildcards - (hosts.containsKey("") ? 1 : 0)];
            int w = 0;
            int x = 0;
            for (int i = 0; i < entries.length; i++) {
                String host = names.get(i);
                if (host.isEmpty()) {
                    any = entries[i];
                } else if (host.startsWith("*.")) {
                    wildcard[w++] = entries[i];
                } else {
                    exact[x++] = entries[i];
                }
            }
            return new HttpRouteTable<>(paths, new HostTable(paths, exact, 0), new HostTable(paths, wildcard, 2),
                                        any, defaultRoute, ruleCount);
        }

        /**
         * {@code host} lowercased without its trailing dot, after checking it is {@code ""}, a DNS name, a
         * {@code *.} wildcard of one, or an IPv6 literal in brackets.
         */
        private static String hostKey(String host) {
            requireNonNull(host, "host");
            String key = HostIndex.toLowerAscii(host);
            if (key.length() > 1 && key.endsWith(".") && !key.endsWith("..")) {
                key = key.substring(0, key.length() - 1);
            }
            if (!validHost(key)) {
                throw new IllegalArgumentException(
                        "host: " + host + " (expected: a DNS name, *.suffix, [IPv6] or \"\" for any host)");
            }
            return key;
        }

        private static boolean validHost(String key) {
            if (key.isEmpty()) {
                return true;
            }
            if (key.startsWith("[")) {
                if (key.length() < 3 || !key.endsWith("]")) {
                    return false;
                }
                for (int i = 1; i < key.length() - 1; i++) {
                    char c = key.charAt(i);
                    if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c == '.')) {
                        return false;
                    }
                }
                return true;
            }
            int start = key.startsWith("*.") ? 2 : 0;
            if (start == key.length()) {
                return false;
            }
            char previous = '.';
            for (int i = start; i < key.length(); i++) {
                char c = key.charAt(i);
                if (c == '.') {
                    if (previous == '.') {
                        return false; // an empty label
                    }
                } else if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')) {
                    return false;
                }
                previous = c;
            }
            return previous != '.';
        }
    }
}
