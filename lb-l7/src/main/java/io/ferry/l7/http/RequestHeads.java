package io.ferry.l7.http;

import io.ferry.l7.route.RegexBudget;
import io.ferry.l7.route.RoutePolicy;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;

/**
 * The stateless parts of handling a request head: whether its Host is well formed, where {@code rewrite-target}
 * sends it, the redirect host and the request ID. Static; safe on any thread.
 */
final class RequestHeads {

    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private RequestHeads() {
    }

    /**
     * The target the upstream gets: {@code target} unchanged without a rewrite or when the pattern does not match
     * the normalized {@code path}; else the policy's template with {@code $1}..{@code $9} filled in from the match
     * (ingress-nginx's {@code rewrite-target}), made to start with {@code /}, with the query kept.
     *
     * @param query the index of {@code ?} in {@code target}, or {@code -1}
     * @throws RegexBudget.ExceededException if the pattern backtracks past {@link RegexBudget#MAX_READS}
     */
    static String rewrite(RoutePolicy policy, String path, String target, int query) {
        if (policy.rewritePattern() == null) {
            return target;
        }
        Matcher m = RegexBudget.matcher(policy.rewritePattern(), path);
        if (!m.lookingAt()) {
            return target;
        }
        String template = policy.rewriteTarget();
        StringBuilder sb = new StringBuilder(template.length() + 16);
        for (int i = 0; i < template.length(); i++) {
            char ch = template.charAt(i);
            if (ch == '$' && i + 1 < template.length() && Character.isDigit(template.charAt(i + 1))) {
                int g = template.charAt(++i) - '0';
                if (g <= m.groupCount() && m.group(g) != null) {
                    sb.append(m.group(g));
                }
            } else {
                sb.append(ch);
            }
        }
        if (sb.length() == 0 || sb.charAt(0) != '/') {
            sb.insert(0, '/');
        }
        if (query >= 0) {
            sb.append(sb.indexOf("?") < 0 ? target.substring(query) : '&' + target.substring(query + 1));
        }
        return sb.toString();
    }

    /**
     * Whether {@code host} is an RFC 3986 {@code host [":" port]}: a non-empty run of reg-name characters (letters,
     * digits, {@code -._~%!$&'()*+,;=}) or an IP literal in brackets, and neither a leading dot nor {@code ..}
     * (nginx rejects those too). A slash, a space, {@code @} or a control byte makes it a bad request rather than a
     * host to look up or pass on in {@code X-Forwarded-Host}.
     */
    static boolean validHost(String host) {
        int n = host.length();
        if (n == 0 || host.charAt(0) == '.') {
            return false;
        }
        char previous = 0;
        for (int i = 0; i < n; i++) {
            char c = host.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                         || "-._~%!$&'()*+,;=:[]".indexOf(c) >= 0;
            if (!ok || c == '.' && previous == '.') {
                return false;
            }
            previous = c;
        }
        return true;
    }

    /**
     * Whether the {@code Transfer-Encoding} fields of a request, as Netty's decoder let them through, are absent or
     * exactly one {@code chunked} (any case, optional whitespace). Netty has already refused every field list whose
     * last coding is not {@code chunked} or that names it twice; this refuses the codings before it, which the
     * proxy cannot undo ({@code gzip, chunked}).
     */
    static boolean onlyChunked(List<String> transferEncodings) {
        return transferEncodings.isEmpty()
               || transferEncodings.size() == 1 && transferEncodings.get(0).trim().equalsIgnoreCase("chunked");
    }

    /**
     * Whether a request target is free of control bytes ({@code 0x00-0x20}, {@code 0x7f}). Netty's decoder splits
     * the request line on whitespace and passes every other byte on; an upstream must not get them (nginx answers
     * 400 too). Bytes above {@code 0x7f} are let through, as nginx does.
     */
    static boolean validTarget(String uri) {
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c <= 0x20 || c == 0x7f) {
                return false;
            }
        }
        return !uri.isEmpty();
    }

    /** {@code host} without its {@code :port}; an IPv6 literal keeps its brackets. */
    static String hostWithoutPort(String host) {
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            return end < 0 ? host : host.substring(0, end + 1);
        }
        int colon = host.indexOf(':');
        return colon < 0 ? host : host.substring(0, colon);
    }

    /**
     * The {@code X-Request-ID} the upstream and the access log get: the client's when it is 1 to 128 visible ASCII
     * characters, else 32 random hex digits (as ingress-nginx's {@code $req_id}).
     */
    static CharSequence requestId(String fromClient) {
        if (fromClient != null && !fromClient.isEmpty() && fromClient.length() <= 128) {
            boolean ok = true;
            for (int i = 0; i < fromClient.length() && ok; i++) {
                char ch = fromClient.charAt(i);
                ok = ch > 0x20 && ch < 0x7f;
            }
            if (ok) {
                return fromClient;
            }
        }
        // Written straight into the bytes of an AsciiString: the header encoder copies them as they are.
        ThreadLocalRandom r = ThreadLocalRandom.current();
        byte[] id = new byte[32];
        hex(r.nextLong(), id, 0);
        hex(r.nextLong(), id, 16);
        return new AsciiString(id, false);
    }

    private static void hex(long v, byte[] to, int at) {
        for (int i = 15; i >= 0; i--) {
            to[at + i] = HEX[(int) v & 0xf];
            v >>>= 4;
        }
    }
}
