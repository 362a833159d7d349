package io.ferry.l7.route;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The host entries of an {@link HttpRouteTable} and their path rules: which route a request path selects within an
 * entry, in the order {@link HttpRouteTable} documents (Exact, then Regex in order, then the longest Prefix, then
 * the entry's fallback).
 *
 * <h2>Layout</h2>
 * Every entry is a record in one shared {@code char[]}, and an entry is known by the offset of its record ({@code 0}
 * is never one, so {@code 0} marks an empty slot). Ints take two chars. A record holds, one after the other:
 * <ol>
 *   <li>a header of {@value #NAME} chars: the length of the host name, where the entry's routes and Regex rules
 *       are, how many keys it has, and the mask of its path table;</li>
 *   <li>the host name as stored (lowercase; {@code *.foo.com}, {@code ""}), which {@link HostTable} compares a Host
 *       header with;</li>
 *   <li>for an entry of at most {@value #SCANNED_KEYS} keys (most hosts have a handful of paths): a directory of
 *       its keys, longest first, three chars each (the length, whether it is an Exact and/or a Prefix key), then
 *       the keys' characters in that order;</li>
 *   <li>for an entry of more keys: the lengths of its longest Exact and Prefix keys, for each of the two kinds a
 *       64-bit mask of the lengths below 64 at which a key exists, its path table (open addressing with linear
 *       probing, at most half full, two ints per slot: the spread hash of the key and the offset of its key record,
 *       {@code 0} when empty), then the key records (length, index of the routes, kinds, characters).</li>
 * </ol>
 * Exact and Prefix rules share the keys: Prefix keys lose their trailing {@code /}, and Prefix {@code /} is the
 * root, kept apart. Routes are in one {@code Object[]}: per entry its root Prefix route and its fallback, then per
 * key, in key order, its Exact and its Prefix route (either {@code null}); so an entry's first route has an even
 * index, and so has a key's Exact route, its Prefix route an odd one. One entry's header, name and keys are thus a
 * few adjacent cache lines, mostly of one page, whose addresses hardly depend on each other: a lookup that has found
 * the entry reads those and then the route, instead of a chain of small objects spread over the heap.
 *
 * <h2>Matching</h2>
 * An entry of few keys is {@linkplain #scan scanned}, longest key first: a key is compared with the path only when
 * the path is as long, or has a {@code /} right after it, and most comparisons stop at the first characters. The
 * first key that matches is the Exact key of the whole path or the longest Prefix key. The path is not hashed.
 *
 * <p>An entry of more keys is {@linkplain #probe probed}: one pass over the path computes the 31-polynomial hash
 * of {@code String.hashCode} and notes the {@code /} boundaries whose length is in the Prefix mask (the others cannot
 * hit); the whole path is probed if its length is in either mask (an Exact key, else the longest possible Prefix),
 * then the noted boundaries from the longest down, stopping at the first Prefix key. The hash of a shorter prefix
 * comes from undoing characters off the hash (31 is odd, so it has an inverse modulo 2<sup>32</sup>).
 *
 * <p>Either way: no allocation, and a cost that grows with the path (and the few keys scanned), not with the number
 * of rules or hosts. Regex rules, when an entry has any, are tried once an Exact match is ruled out; each allocates
 * a {@link java.util.regex.Matcher}.
 *
 * <p>Immutable; compiled by {@link HttpRouteTable.Builder#build()} from one {@link PathRules} per host, read by every
 * event loop without locks.
 *
 * @param <R> what a match returns
 */
final class PathMatcher<R> {

    /** The inverse of 31 modulo 2<sup>32</sup>: {@code (31 * h + c - c) * INVERSE_31 == h}, which undoes a step. */
    static final int INVERSE_31 = 0xbdef7bdf;

    /** Entries of at most this many keys are scanned; larger ones get a path table. */
    static final int SCANNED_KEYS = 8;

    // The header of a record, at records[entry + ...]; an int takes two chars, the low half first.
    /** An int: the length of the host name. */
    private static final int NAME_LENGTH = 0;
    /** An int: the index in {@link #routes} of the root Prefix route; the next one is the fallback. */
    private static final int ROUTES = 2;
    /** Two ints: the entry's Regex rules are {@code [FIRST_REGEX, END_REGEX)} of {@link #regexes}. */
    private static final int FIRST_REGEX = 4;
    private static final int END_REGEX = 6;
    /** An int: the number of keys. */
    private static final int KEY_COUNT = 8;
    /** An int: the number of slots of the path table minus one; {@code -1} when the keys are scanned. */
    private static final int SLOT_MASK = 10;
    /** Where the name's characters start; the size of the header. */
    static final int NAME = 12;

    // A scanned entry's directory entry of a key, after the name.
    /** The chars of a directory entry: the key's length (an int), its kinds. */
    private static final int DIRECTORY = 3;
    private static final int DIRECTORY_KINDS = 2;

    // What follows the name of an entry with a path table.
    /** An int: the length of the longest Exact key, {@code -1} when there is none. */
    private static final int MAX_EXACT = 0;
    /** An int: the length of the longest Prefix key, {@code 0} when there is none (the root is not a key). */
    private static final int MAX_PREFIX = 2;
    /** Four chars: bit {@code n % 16} of char {@code n / 16} is set when an Exact key has the length {@code n < 64}. */
    private static final int EXACT_LENGTHS = 4;
    /** Four chars: bit {@code n % 16} of char {@code n / 16} is set when a Prefix key has the length {@code n < 64}. */
    private static final int PREFIX_LENGTHS = 8;
    /** Where the path table starts. */
    private static final int SLOTS = 12;
    /** The chars of a slot: the spread hash of the key, the offset of its key record. */
    private static final int SLOT = 4;

    // A key record of an entry with a path table, at records[key + ...].
    /** An int: the length of the key. */
    private static final int KEY_LENGTH = 0;
    /** An int: the index in {@link #routes} of the key's Exact route; the next one is its Prefix route. */
    private static final int KEY_ROUTES = 2;
    /** A char: {@link #EXACT} and/or {@link #PREFIX}, the kinds of rule the key has. */
    private static final int KEY_KINDS = 4;
    private static final int KEY_CHARS = 5;

    private static final char EXACT = 1;
    private static final char PREFIX = 2;

    /** The longest array the JVM allocates everywhere. */
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    /** How a scanned entry orders its keys. */
    private static final Comparator<String> LONGEST_FIRST = Comparator.comparingInt(String::length).reversed();

    private final char[] records;
    private final Object[] routes;
    /** The Prefix rules' paths as written ({@code /foo/} for the key {@code /foo}, {@code /} for the root) by route. */
    private final String[] prefixPaths;
    private final Pattern[] regexes;
    private final Object[] regexRoutes;

    private PathMatcher(int recordSize, int routeCount, int regexCount) {
        records = new char[recordSize];
        routes = new Object[routeCount];
        prefixPaths = new String[routeCount];
        regexes = new Pattern[regexCount];
        regexRoutes = new Object[regexCount];
    }

    /**
     * Compiles {@code rules.get(i)} as the entry of host {@code names.get(i)} and stores that entry in
     * {@code entries[i]}.
     *
     * @param names the host names as {@link HttpRouteTable.Builder} stores them: lowercase ASCII
     * @throws IllegalArgumentException if the records would not fit one array (billions of characters)
     */
    static <R> PathMatcher<R> compile(List<String> names, List<PathRules<R>> rules, int[] entries) {
        long recordSize = 1;
        long routeCount = 0;
        int regexCount = 0;
        for (int i = 0; i < names.size(); i++) {
            PathRules<R> b = rules.get(i);
            int keys = b.keyCount();
            recordSize += NAME + names.get(i).length() + (long) b.keyLengths()
                          + (scanned(keys) ? DIRECTORY * keys : SLOTS + SLOT * tableSize(keys) + KEY_CHARS * keys);
            routeCount += 2 + 2L * keys;
            regexCount += b.regexCount();
        }
        if (recordSize > MAX_ARRAY || routeCount > MAX_ARRAY) {
            throw new IllegalArgumentException("rules: " + recordSize + " characters, " + routeCount
                                               + " routes (expected: at most " + MAX_ARRAY + " each)");
        }
        PathMatcher<R> matcher = new PathMatcher<>((int) recordSize, (int) routeCount, regexCount);
        int next = 1;
        int route = 0;
        int regex = 0;
        for (int i = 0; i < names.size(); i++) {
            PathRules<R> b = rules.get(i);
            entries[i] = next;
            next = matcher.write(next, names.get(i), b, route, regex);
            route += 2 + 2 * b.keyCount();
            regex += b.regexCount();
        }
        assert next == recordSize && route == routeCount && regex == regexCount;
        return matcher;
    }

    private static boolean scanned(int keys) {
        return keys <= SCANNED_KEYS;
    }

    /** Writes the record of one entry at {@code entry} and its routes from {@code route}; returns the next entry. */
    private int write(int entry, String name, PathRules<R> b, int route, int regex) {
        int body = entry + NAME + name.length();
        setInt(entry + NAME_LENGTH, name.length());
        setInt(entry + ROUTES, route);
        setInt(entry + KEY_COUNT, b.keyCount());
        name.getChars(0, name.length(), records, entry + NAME);
        routes[route] = b.prefix("");
        prefixPaths[route] = b.prefixPath("");
        routes[route + 1] = b.fallback();

        String[] keys = b.keys();
        int next;
        if (scanned(keys.length)) {
            Arrays.sort(keys, LONGEST_FIRST);
            setInt(entry + SLOT_MASK, -1);
            next = body + DIRECTORY * keys.length;
            for (int k = 0; k < keys.length; k++) {
                setInt(body + DIRECTORY * k, keys[k].length());
                records[body + DIRECTORY * k + DIRECTORY_KINDS] = setRoutes(b, keys[k], route + 2 + 2 * k);
                keys[k].getChars(0, keys[k].length(), records, next);
                next += keys[k].length();
            }
        } else {
            int slotCount = tableSize(keys.length);
            setInt(entry + SLOT_MASK, slotCount - 1);
            int maxExact = -1;
            int maxPrefix = 0;
            next = body + SLOTS + SLOT * slotCount;
            for (int k = 0; k < keys.length; k++) {
                String key = keys[k];
                char kinds = setRoutes(b, key, route + 2 + 2 * k);
                setInt(next + KEY_LENGTH, key.length());
                setInt(next + KEY_ROUTES, route + 2 + 2 * k);
                records[next + KEY_KINDS] = kinds;
                key.getChars(0, key.length(), records, next + KEY_CHARS);
                enter(body + SLOTS, slotCount - 1, spread(key.hashCode()), next); // the hash probe() computes
                next += KEY_CHARS + key.length();
                if ((kinds & EXACT) != 0) {
                    maxExact = Math.max(maxExact, key.length());
                    setLength(body + EXACT_LENGTHS, key.length());
                }
                if ((kinds & PREFIX) != 0) {
                    maxPrefix = Math.max(maxPrefix, key.length());
                    setLength(body + PREFIX_LENGTHS, key.length());
                }
            }
            setInt(body + MAX_EXACT, maxExact);
            setInt(body + MAX_PREFIX, maxPrefix);
        }

        setInt(entry + FIRST_REGEX, regex);
        setInt(entry + END_REGEX, regex + b.regexCount());
        for (Map.Entry<Pattern, R> e : b.regexes()) {
            regexes[regex] = e.getKey();
            regexRoutes[regex++] = e.getValue();
        }
        return next;
    }

    /** Stores the Exact and Prefix routes of {@code key} at {@code route}; returns its kinds. */
    private char setRoutes(PathRules<R> b, String key, int route) {
        routes[route] = b.exact(key);
        routes[route + 1] = b.prefix(key);
        prefixPaths[route + 1] = b.prefixPath(key);
        return (char) ((routes[route] != null ? EXACT : 0) | (routes[route + 1] != null ? PREFIX : 0));
    }

    /** Enters the key record at {@code key} in the path table at {@code slots}. */
    private void enter(int slots, int mask, int hash, int key) {
        int slot = hash & mask;
        while (intAt(slots + SLOT * slot + 2) != 0) {
            slot = (slot + 1) & mask;
        }
        setInt(slots + SLOT * slot, hash);
        setInt(slots + SLOT * slot + 2, key);
    }

    /**
     * The route {@code path} selects in {@code entry}: its Exact rule, else the first Regex rule that matches at the
     * start, else its longest Prefix rule, else the entry's fallback, else {@code null}.
     */
    @SuppressWarnings("unchecked")
    R match(int entry, String path) {
        int route = select(entry, path);
        if (route >= 0 && (route & 1) == 0) {
            return (R) routes[route]; // an Exact route: nothing goes before it
        }
        for (int i = intAt(entry + FIRST_REGEX), end = intAt(entry + END_REGEX); i < end; i++) {
            if (RegexBudget.matcher(regexes[i], path).lookingAt()) {
                return (R) regexRoutes[i];
            }
        }
        if (route >= 0) {
            return (R) routes[route];
        }
        int root = intAt(entry + ROUTES);
        return (R) (routes[root] != null ? routes[root] : routes[root + 1]);
    }

    /**
     * The index in {@link #routes} of the Exact route of the whole path (even) or else of the longest Prefix route
     * (odd) that matches it, or {@code -1}.
     */
    private int select(int entry, String path) {
        return intAt(entry + SLOT_MASK) < 0 ? scan(entry, path) : probe(entry, path);
    }

    /** {@link #select} for a scanned {@code entry}: compares its keys, longest first. */
    private int scan(int entry, String path) {
        char[] r = records;
        int length = path.length();
        int keys = intAt(entry + KEY_COUNT);
        int directory = entry + NAME + intAt(entry + NAME_LENGTH);
        int at = directory + DIRECTORY * keys; // the characters of key k
        for (int k = 0; k < keys; k++) {
            int keyLength = intAt(directory + DIRECTORY * k);
            int kinds = r[directory + DIRECTORY * k + DIRECTORY_KINDS];
            if (keyLength == length) {
                if (regionEquals(at, path, length)) {
                    return intAt(entry + ROUTES) + 2 + 2 * k + ((kinds & EXACT) != 0 ? 0 : 1);
                }
            } else if (keyLength < length && (kinds & PREFIX) != 0 && path.charAt(keyLength) == '/'
                       && regionEquals(at, path, keyLength)) {
                return intAt(entry + ROUTES) + 2 + 2 * k + 1; // longest first: no later key is longer
            }
            at += keyLength;
        }
        return -1;
    }

    /** {@link #select} for an {@code entry} with a path table. */
    private int probe(int entry, String path) {
        int body = entry + NAME + intAt(entry + NAME_LENGTH);
        int length = path.length();
        int maxPrefix = intAt(body + MAX_PREFIX);
        boolean whole = length <= intAt(body + MAX_EXACT) && hasLength(body + EXACT_LENGTHS, length)
                        || length <= maxPrefix && hasLength(body + PREFIX_LENGTHS, length);
        // Past the longest Prefix key no boundary can match: stop there unless the whole path is to be probed.
        int scanEnd = whole ? length : Math.min(length, maxPrefix + 1);
        int first = 0; // the shortest and the longest boundary that may be a Prefix key, 0 if none
        int last = 0;
        int lastHash = 0;
        int h = 0;
        for (int i = 0; i < scanEnd; i++) {
            char c = path.charAt(i);
            if (c == '/' && i > 0 && i <= maxPrefix && hasLength(body + PREFIX_LENGTHS, i)) {
                if (first == 0) {
                    first = i;
                }
                last = i;
                lastHash = h;
            }
            h = 31 * h + c;
        }
        int mask = intAt(entry + SLOT_MASK);
        if (whole) {
            int key = find(body + SLOTS, mask, path, length, h);
            if (key != 0) { // nothing is longer than the whole path
                return intAt(key + KEY_ROUTES) + ((records[key + KEY_KINDS] & EXACT) != 0 ? 0 : 1);
            }
        }
        // From the longest boundary down; h is the hash of path[0, i).
        h = lastHash;
        for (int i = last; i >= first && i > 0; i--) {
            if (path.charAt(i) == '/' && hasLength(body + PREFIX_LENGTHS, i)) {
                int key = find(body + SLOTS, mask, path, i, h);
                if (key != 0 && (records[key + KEY_KINDS] & PREFIX) != 0) {
                    return intAt(key + KEY_ROUTES) + 1;
                }
            }
            h = (h - path.charAt(i - 1)) * INVERSE_31;
        }
        return -1;
    }

    /** The key record of {@code path[0, length)} in the path table at {@code slots}, given its hash, or {@code 0}. */
    private int find(int slots, int mask, String path, int length, int polynomialHash) {
        int hash = spread(polynomialHash);
        for (int slot = hash & mask; ; slot = (slot + 1) & mask) {
            int at = slots + SLOT * slot;
            int key = intAt(at + 2);
            if (key == 0) {
                return 0;
            }
            if (intAt(at) == hash && intAt(key + KEY_LENGTH) == length
                && regionEquals(key + KEY_CHARS, path, length)) {
                return key;
            }
        }
    }

    /** Whether {@code records[at, at + length)} is {@code path[0, length)}. */
    private boolean regionEquals(int at, String path, int length) {
        char[] r = records;
        for (int i = 0; i < length; i++) {
            if (r[at + i] != path.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether {@code entry}'s host name without its first {@code skip} characters equals
     * {@code s[start, end)} in any ASCII case. Allocates nothing.
     */
    boolean nameEquals(int entry, int skip, CharSequence s, int start, int end) {
        int length = end - start;
        if (intAt(entry + NAME_LENGTH) != skip + length) {
            return false;
        }
        char[] r = records;
        int at = entry + NAME + skip;
        for (int i = 0; i < length; i++) {
            if (r[at + i] != HostIndex.toLowerAscii(s.charAt(start + i))) {
                return false;
            }
        }
        return true;
    }

    /** The polynomial hash of {@code entry}'s host name without its first {@code skip} characters. */
    int nameHash(int entry, int skip) {
        char[] r = records;
        int h = 0;
        for (int i = entry + NAME + skip, end = entry + NAME + intAt(entry + NAME_LENGTH); i < end; i++) {
            h = 31 * h + r[i];
        }
        return h;
    }

    /** The host name of {@code entry} as stored: lowercase, {@code *.foo.com} for a wildcard, {@code ""}. */
    String name(int entry) {
        return new String(records, entry + NAME, intAt(entry + NAME_LENGTH));
    }

    /** The fallback of {@code entry} ({@link HttpRouteTable.Builder#hostDefault}), or {@code null}. */
    @SuppressWarnings("unchecked")
    R fallback(int entry) {
        return (R) routes[intAt(entry + ROUTES) + 1];
    }

    /** Appends the rules of {@code entry} to {@code out} in the order they are tried. */
    void describe(int entry, List<HttpRouteTable.RuleView> out) {
        String host = name(entry);
        List<HttpRouteTable.RuleView> exact = new ArrayList<>();
        List<HttpRouteTable.RuleView> prefix = new ArrayList<>();
        int keys = intAt(entry + KEY_COUNT);
        int body = entry + NAME + intAt(entry + NAME_LENGTH);
        boolean scanned = intAt(entry + SLOT_MASK) < 0;
        int at = scanned ? body + DIRECTORY * keys : body + SLOTS + SLOT * (intAt(entry + SLOT_MASK) + 1);
        for (int k = 0; k < keys; k++) {
            int length = intAt(scanned ? body + DIRECTORY * k : at + KEY_LENGTH);
            int chars = scanned ? at : at + KEY_CHARS;
            int route = intAt(entry + ROUTES) + 2 + 2 * k;
            if (routes[route] != null) {
                String path = new String(records, chars, length);
                exact.add(new HttpRouteTable.RuleView(host, PathType.EXACT, path, String.valueOf(routes[route])));
            }
            if (routes[route + 1] != null) {
                prefix.add(new HttpRouteTable.RuleView(host, PathType.PREFIX, prefixPaths[route + 1],
                                                       String.valueOf(routes[route + 1])));
            }
            at = chars + length;
        }
        exact.sort(Comparator.comparing(HttpRouteTable.RuleView::path));
        prefix.sort(Comparator.comparingInt((HttpRouteTable.RuleView v) -> keyLength(v.path())).reversed()
                              .thenComparing(HttpRouteTable.RuleView::path));
        out.addAll(exact);
        for (int i = intAt(entry + FIRST_REGEX); i < intAt(entry + END_REGEX); i++) {
            out.add(new HttpRouteTable.RuleView(host, PathType.REGEX, regexes[i].pattern(),
                                                String.valueOf(regexRoutes[i])));
        }
        out.addAll(prefix);
        int root = intAt(entry + ROUTES);
        if (routes[root] != null) {
            out.add(new HttpRouteTable.RuleView(host, PathType.PREFIX, prefixPaths[root],
                                                String.valueOf(routes[root])));
        }
    }

    private static int keyLength(String prefixPath) {
        return PathRules.trimTrailingSlashes(prefixPath).length();
    }

    /** The int at {@code records[at]}, stored as two chars, the low half first. */
    private int intAt(int at) {
        return records[at] | records[at + 1] << 16;
    }

    private void setInt(int at, int value) {
        records[at] = (char) value;
        records[at + 1] = (char) (value >>> 16);
    }

    /** Whether a key may have {@code length} per the 64-bit mask at {@code records[at]}: always past 63. */
    private boolean hasLength(int at, int length) {
        return length >= 64 || (records[at + (length >> 4)] >>> (length & 15) & 1) != 0;
    }

    private void setLength(int at, int length) {
        if (length < 64) {
            records[at + (length >> 4)] |= (char) (1 << (length & 15));
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
}
