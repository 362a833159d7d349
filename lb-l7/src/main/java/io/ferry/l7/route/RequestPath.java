package io.ferry.l7.route;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.Arrays;

/**
 * The request path an {@link HttpRouteTable} matches, derived from the request target as nginx derives
 * {@code $uri}. The request itself is forwarded unchanged (nginx's {@code proxy_pass} without a URI): only the
 * routing decision sees the normalized form, so {@code /public/../admin} cannot slip past a rule for
 * {@code /admin}.
 *
 * <p>Static and stateless; safe on any thread.
 */
public final class RequestPath {

    private RequestPath() {
    }

    /**
     * The path used for matching, or {@code null} if {@code rawPath} is invalid (the proxy answers 400).
     *
     * <p>{@code rawPath} must start with {@code /}. Then, as nginx does with {@code merge_slashes on}:
     * <ul>
     *   <li>{@code %XX} escapes are decoded (a malformed escape or {@code %00} makes the path invalid, as does a
     *       raw NUL); the decoded bytes are read as UTF-8, a malformed sequence becoming U+FFFD. The characters of
     *       {@code rawPath} are taken as bytes, one per character, as Netty's HTTP/1 and HPACK decoders deliver
     *       them; a character above U+00FF is taken as already decoded and encoded as UTF-8;</li>
     *   <li>repeated slashes are merged ({@code //a///b} is {@code /a/b});</li>
     *   <li>{@code .} segments are dropped and {@code ..} segments remove the segment before them, escaped or not
     *       ({@code /a/%2e%2e/b} is {@code /b}); a {@code ..} above the root makes the path invalid. A decoded
     *       {@code %2F} is a separator, as in nginx.</li>
     * </ul>
     * A path with no {@code %}, no {@code //}, no {@code .} or {@code ..} segment and only ASCII characters is
     * returned as the same instance without allocating: the common case.
     *
     * @param rawPath the request target's path, without the query
     */
    public static String normalize(String rawPath) {
        int length = rawPath.length();
        if (length == 0 || rawPath.charAt(0) != '/') {
            return null;
        }
        for (int i = 0; i < length; i++) {
            char c = rawPath.charAt(i);
            if (c == '%' || c >= 0x80 || c == 0) {
                return normalizeSlow(rawPath);
            }
            if (c == '/' && i + 1 < length) {
                char next = rawPath.charAt(i + 1);
                if (next == '/' || next == '.' && isDotSegment(rawPath, i + 1)) {
                    return normalizeSlow(rawPath);
                }
            }
        }
        return rawPath;
    }

    /** The index of the {@code ?} that starts the query of {@code uri}, or its length if it has no query. */
    public static int queryStart(CharSequence uri) {
        for (int i = 0; i < uri.length(); i++) {
            if (uri.charAt(i) == '?') {
                return i;
            }
        }
        return uri.length();
    }

    /** Whether the segment starting at {@code start} (just after a {@code /}) is {@code .} or {@code ..}. */
    private static boolean isDotSegment(String s, int start) {
        int end = start;
        while (end < s.length() && s.charAt(end) != '/') {
            end++;
        }
        int n = end - start;
        return n == 1 || n == 2 && s.charAt(start + 1) == '.';
    }

    private static String normalizeSlow(String raw) {
        byte[] bytes = decode(raw);
        if (bytes == null) {
            return null;
        }
        byte[] out = new byte[bytes.length];
        int o = 0;
        boolean trailingSlash = false;
        int i = 0; // bytes[i] is a '/', or i is the end
        while (i < bytes.length) {
            int start = i + 1;
            int end = start;
            while (end < bytes.length && bytes[end] != '/') {
                end++;
            }
            int n = end - start;
            boolean last = end == bytes.length;
            if (n == 0 || n == 1 && bytes[start] == '.') {
                trailingSlash = last;
            } else if (n == 2 && bytes[start] == '.' && bytes[start + 1] == '.') {
                if (o == 0) {
                    return null; // above the root
                }
                do {
                    o--;
                } while (out[o] != '/');
                trailingSlash = last;
            } else {
                out[o++] = '/';
                System.arraycopy(bytes, start, out, o, n);
                o += n;
                trailingSlash = false;
            }
            i = end;
        }
        if (o == 0 || trailingSlash) {
            out[o++] = '/';
        }
        return new String(out, 0, o, UTF_8);
    }

    /** {@code raw} as bytes with its {@code %XX} escapes decoded, or {@code null} if an escape is bad or NUL. */
    private static byte[] decode(String raw) {
        int length = raw.length();
        byte[] bytes = new byte[length * 3]; // a character above U+00FF takes up to 3 UTF-8 bytes (4 per pair)
        int b = 0;
        for (int i = 0; i < length; i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int hi = i + 2 < length ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int lo = hi >= 0 ? Character.digit(raw.charAt(i + 2), 16) : -1;
                if (lo < 0 || raw.charAt(i + 1) > 0x7f || raw.charAt(i + 2) > 0x7f) {
                    return null;
                }
                c = (char) (hi << 4 | lo);
                i += 2;
            }
            if (c == 0) {
                return null;
            }
            if (c <= 0xff) {
                bytes[b++] = (byte) c;
            } else {
                int end = Character.isHighSurrogate(c) && i + 1 < length ? i + 2 : i + 1;
                byte[] encoded = raw.substring(i, end).getBytes(UTF_8);
                System.arraycopy(encoded, 0, bytes, b, encoded.length);
                b += encoded.length;
                i = end - 1;
            }
        }
        return Arrays.copyOf(bytes, b);
    }
}
