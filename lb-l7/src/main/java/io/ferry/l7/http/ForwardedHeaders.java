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
        if (to.contains(X_FORWARDED_FOR)) {
            // Several X-Forwarded-For fields are one list (RFC 9110 5.3); the client is appended to all of it.
            List<String> previous = to.getAll(X_FORWARDED_FOR);
            StringBuilder xff = new StringBuilder(32);
            for (int i = 0; i < previous.size(); i++) {
                String v = previous.get(i).trim();
                if (!v.isEmpty()) {
                    xff.append(v).append(", ");
                }
            }
            FlatHttpHeaders.setKnownName(to, X_FORWARDED_FOR, xff.append(clientIp).toString());
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

    /** Drops the {@code x-http2-*} headers Netty's HTTP/2 to HTTP/1 conversion adds; they are not the client's. */
    static void removeHttp2Extensions(HttpHeaders headers) {
        for (AsciiString name : HTTP2_EXTENSIONS) {
            headers.remove(name);
        }
    }
}
