package io.ferry.l7.http;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * Header rewriting between the client and the upstream, as ingress-nginx does it: hop-by-hop headers (RFC 9110
 * 7.6.1, plus every header the {@code Connection} header names) are dropped on both legs; the request gains
 * {@code X-Forwarded-*}, {@code X-Real-IP} and {@code X-Request-ID}.
 */
final class ForwardedHeaders {

    static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
    static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
    static final AsciiString X_FORWARDED_HOST = AsciiString.cached("x-forwarded-host");
    static final AsciiString X_FORWARDED_PORT = AsciiString.cached("x-forwarded-port");
    static final AsciiString X_REAL_IP = AsciiString.cached("x-real-ip");
    static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
    private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
    /** RFC 2068's; Netty deprecates its constant as the header is obsolete, but clients still send it. */
    private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
    /** Copies of headers a codec has already validated need no second check. */
    static final DefaultHttpHeadersFactory UNVALIDATED =
            DefaultHttpHeadersFactory.headersFactory().withValidation(false);

    static final AsciiString STRICT_TRANSPORT_SECURITY = AsciiString.cached("strict-transport-security");

    /** RFC 9110 7.6.1's hop-by-hop headers, but for {@code Connection} and {@code Upgrade}, which are special. */
    private static final AsciiString[] HOP_BY_HOP = {
            KEEP_ALIVE, PROXY_CONNECTION, HttpHeaderNames.TE, HttpHeaderNames.TRAILER,
            HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.PROXY_AUTHENTICATE, HttpHeaderNames.PROXY_AUTHORIZATION };

    private static final AsciiString[] HTTP2_EXTENSIONS;

    static {
        HttpConversionUtil.ExtensionHeaderNames[] names = HttpConversionUtil.ExtensionHeaderNames.values();
        HTTP2_EXTENSIONS = new AsciiString[names.length];
        for (int i = 0; i < names.length; i++) {
            HTTP2_EXTENSIONS[i] = names[i].text();
        }
    }

    private ForwardedHeaders() {
    }

    /**
     * Removes the hop-by-hop headers from {@code headers}, in place: those of RFC 9110 7.6.1 and every header the
     * {@code Connection} header names. {@code keepUpgrade} keeps {@code Upgrade} and puts back
     * {@code Connection: upgrade} (a WebSocket handshake). Whatever the caller needs of the removed headers (framing,
     * keep-alive, {@code TE}) it reads first.
     */
    static void stripHopByHop(HttpHeaders headers, boolean keepUpgrade) {
        stripHopByHop(headers, keepUpgrade, true);
    }

    /**
     * As {@link #stripHopByHop(HttpHeaders, boolean)}; {@code others} false says that {@code headers} has no
     * hop-by-hop header but {@code Connection} (and those it names), as the upstream decoder knows of a response.
     */
    static void stripHopByHop(HttpHeaders headers, boolean keepUpgrade, boolean others) {
        if (headers.contains(HttpHeaderNames.CONNECTION)) {
            List<String> connection = headers.getAll(HttpHeaderNames.CONNECTION);
            for (int i = 0; i < connection.size(); i++) {
                removeNamed(headers, connection.get(i));
            }
            headers.remove(HttpHeaderNames.CONNECTION);
        }
        if (others) {
            for (AsciiString name : HOP_BY_HOP) {
                headers.remove(name);
            }
        }
        if (keepUpgrade) {
            headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        } else if (others) {
            headers.remove(HttpHeaderNames.UPGRADE);
        }
    }

    /** Whether {@code name} is a hop-by-hop header {@link #stripHopByHop} removes, {@code Connection} aside. */
    static boolean isHopByHopBesideConnection(CharSequence name) {
        switch (name.length()) {
            case 2:
            case 7:
            case 10:
            case 16:
            case 17:
            case 18:
            case 19:
                for (AsciiString h : HOP_BY_HOP) {
                    if (h.contentEqualsIgnoreCase(name)) {
                        return true;
                    }
                }
                return HttpHeaderNames.UPGRADE.contentEqualsIgnoreCase(name);
            default:
                return false;
        }
    }

    /**
     * Removes each header a {@code Connection} field value names (a comma-separated token list). The usual tokens
     * ({@code keep-alive}, {@code close}, {@code upgrade}) name headers that go anyway (or, for {@code Upgrade}, that
     * the caller decides on), and are skipped without making a string of them.
     */
    private static void removeNamed(HttpHeaders headers, String value) {
        int start = 0;
        int n = value.length();
        while (start < n) {
            int comma = value.indexOf(',', start);
            int end = comma < 0 ? n : comma;
            int from = start;
            int to = end;
            while (from < to && isOws(value.charAt(from))) {
                from++;
            }
            while (to > from && isOws(value.charAt(to - 1))) {
                to--;
            }
            int len = to - from;
            if (len > 0 && !regionIs(value, from, len, HttpHeaderValues.KEEP_ALIVE)
                && !regionIs(value, from, len, HttpHeaderValues.CLOSE)
                && !regionIs(value, from, len, HttpHeaderValues.UPGRADE)) {
                headers.remove(value.substring(from, to));
            }
            start = end + 1;
        }
    }

    private static boolean isOws(char c) {
        return c == ' ' || c == '\t';
    }

    private static boolean regionIs(String value, int from, int len, AsciiString token) {
        return len == token.length() && value.regionMatches(true, from, token.toString(), 0, len);
    }

    /** Whether the {@code Connection} header lists {@code token}. */
    static boolean connectionHas(HttpHeaders headers, AsciiString token) {
        return headers.containsValue(HttpHeaderNames.CONNECTION, token, true);
    }

    /**
     * Adds what the upstream learns about the client: {@code X-Forwarded-For} (appended to what the client sent),
     * {@code X-Forwarded-Proto}, {@code -Host}, {@code -Port}, {@code X-Real-IP}.
     */
    static void addForwarded(HttpHeaders to, String clientIp, String proto, String host, String port) {
        if (to.getClass() == FlatHttpHeaders.class) {
            addForwarded((FlatHttpHeaders) to, clientIp, proto, host, port);
            return;
        }
        if (to.contains(X_FORWARDED_FOR)) {
            FlatHttpHeaders.setKnownName(to, X_FORWARDED_FOR, forwardedFor(to, clientIp));
        } else {
            FlatHttpHeaders.setKnownName(to, X_FORWARDED_FOR, clientIp);
        }
        FlatHttpHeaders.setKnownName(to, X_FORWARDED_PROTO, proto);
        if (host != null) {
            FlatHttpHeaders.setKnownName(to, X_FORWARDED_HOST, host);
        }
        FlatHttpHeaders.setKnownName(to, X_FORWARDED_PORT, port);
        FlatHttpHeaders.setKnownName(to, X_REAL_IP, clientIp);
    }

    /**
     * {@link #addForwarded(HttpHeaders, String, String, String, String)} for the proxy's own headers: the fields it
     * replaces go in one pass over the headers, and the new ones are appended, in the same order, without a lookup.
     */
    private static void addForwarded(FlatHttpHeaders to, String clientIp, String proto, String host, String port) {
        boolean sent = false;
        for (int i = to.size() - 1; i >= 0; i--) {
            CharSequence name = to.nameAt(i);
            if (name.length() == X_FORWARDED_FOR.length() && X_FORWARDED_FOR.contentEqualsIgnoreCase(name)) {
                sent = true; // read and removed below, the fields in order
            } else if (isForwarded(name, host != null)) {
                to.removeAt(i);
            }
        }
        String xff = clientIp;
        if (sent) {
            xff = forwardedFor(to, clientIp);
            to.remove(X_FORWARDED_FOR);
        }
        to.appendKnown(X_FORWARDED_FOR, xff);
        to.appendKnown(X_FORWARDED_PROTO, proto);
        if (host != null) {
            to.appendKnown(X_FORWARDED_HOST, host);
        }
        to.appendKnown(X_FORWARDED_PORT, port);
        to.appendKnown(X_REAL_IP, clientIp);
    }

    /**
     * The client's address appended to the {@code X-Forwarded-For} fields of {@code headers}: several fields are one
     * list (RFC 9110 5.3).
     */
    private static String forwardedFor(HttpHeaders headers, String clientIp) {
        List<String> previous = headers.getAll(X_FORWARDED_FOR);
        StringBuilder xff = new StringBuilder(32);
        for (int i = 0; i < previous.size(); i++) {
            String v = previous.get(i).trim();
            if (!v.isEmpty()) {
                xff.append(v).append(", ");
            }
        }
        return xff.append(clientIp).toString();
    }

    /** Whether {@code name} is one the proxy sets on the request ({@code X-Forwarded-Host} only if it has one). */
    private static boolean isForwarded(CharSequence name, boolean host) {
        switch (name.length()) {
            case 9:
                return X_REAL_IP.contentEqualsIgnoreCase(name);
            case 16:
                return X_FORWARDED_PORT.contentEqualsIgnoreCase(name)
                       || host && X_FORWARDED_HOST.contentEqualsIgnoreCase(name);
            case 17:
                return X_FORWARDED_PROTO.contentEqualsIgnoreCase(name);
            default:
                return false;
        }
    }

    /** Drops the {@code x-http2-*} headers Netty's HTTP/2 to HTTP/1 conversion adds; they are not the client's. */
    static void removeHttp2Extensions(HttpHeaders headers) {
        for (AsciiString name : HTTP2_EXTENSIONS) {
            headers.remove(name);
        }
    }
}
