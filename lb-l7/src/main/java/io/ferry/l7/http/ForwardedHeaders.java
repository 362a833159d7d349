package io.ferry.l7.http;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Map;

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

    private ForwardedHeaders() {
    }

    /**
     * Copies {@code from} without hop-by-hop headers. {@code keepUpgrade} keeps {@code Upgrade} and puts back
     * {@code Connection: upgrade} (a WebSocket handshake).
     */
    static HttpHeaders withoutHopByHop(HttpHeaders from, boolean keepUpgrade) {
        HttpHeaders to = UNVALIDATED.newHeaders();
        List<String> connectionTokens = from.getAll(HttpHeaderNames.CONNECTION);
        for (java.util.Iterator<Map.Entry<CharSequence, CharSequence>> it = from.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            CharSequence name = e.getKey();
            if (keepUpgrade && AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.UPGRADE)) {
                to.add(name, e.getValue()); // named by "Connection: upgrade", and wanted all the same
                continue;
            }
            if (isHopByHop(name) || namedByConnection(name, connectionTokens)) {
                continue;
            }
            to.add(name, e.getValue());
        }
        if (keepUpgrade) {
            to.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        }
        return to;
    }

    /**
     * Puts back {@code te: trailers} if {@code from} (the client's headers) asked for trailers: the one {@code TE}
     * that HTTP/2 allows (RFC 9113 8.2.2), and which gRPC servers require. For HTTP/2 upstreams only.
     */
    static void keepTeTrailers(HttpHeaders from, HttpHeaders to) {
        if (from.containsValue(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS, true)) {
            to.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
        }
    }

    static boolean isHopByHop(CharSequence name) {
        return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONNECTION)
               || AsciiString.contentEqualsIgnoreCase(name, KEEP_ALIVE)
               || AsciiString.contentEqualsIgnoreCase(name, PROXY_CONNECTION)
               || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TE)
               || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRAILER)
               || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRANSFER_ENCODING)
               || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.UPGRADE)
               || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.PROXY_AUTHENTICATE)
               || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.PROXY_AUTHORIZATION);
    }

    private static boolean namedByConnection(CharSequence name, List<String> connectionTokens) {
        for (int i = 0; i < connectionTokens.size(); i++) {
            String value = connectionTokens.get(i);
            int start = 0;
            while (start <= value.length()) {
                int comma = value.indexOf(',', start);
                int end = comma < 0 ? value.length() : comma;
                String token = value.substring(start, end).trim();
                if (!token.isEmpty() && AsciiString.contentEqualsIgnoreCase(name, token)) {
                    return true;
                }
                start = end + 1;
            }
        }
        return false;
    }

    /** Whether the {@code Connection} header lists {@code token}. */
    static boolean connectionHas(HttpHeaders headers, AsciiString token) {
        return headers.containsValue(HttpHeaderNames.CONNECTION, token, true);
    }

    /**
     * Adds what the upstream learns about the client: {@code X-Forwarded-For} (appended to what the client sent),
     * {@code X-Forwarded-Proto}, {@code -Host}, {@code -Port}, {@code X-Real-IP}.
     */
    static void addForwarded(HttpHeaders to, String clientIp, String proto, String host, int port) {
        // Several X-Forwarded-For fields are one list (RFC 9110 5.3); the client is appended to all of it.
        List<String> previous = to.getAll(X_FORWARDED_FOR);
        StringBuilder xff = new StringBuilder(32);
        for (int i = 0; i < previous.size(); i++) {
            String v = previous.get(i).trim();
            if (!v.isEmpty()) {
                xff.append(v).append(", ");
            }
        }
        to.set(X_FORWARDED_FOR, xff.append(clientIp).toString());
        to.set(X_FORWARDED_PROTO, proto);
        if (host != null) {
            to.set(X_FORWARDED_HOST, host);
        }
        to.setInt(X_FORWARDED_PORT, port);
        to.set(X_REAL_IP, clientIp);
    }

    /** Drops the {@code x-http2-*} headers Netty's HTTP/2 to HTTP/1 conversion adds; they are not the client's. */
    static void removeHttp2Extensions(HttpHeaders headers) {
        for (HttpConversionUtil.ExtensionHeaderNames n : HttpConversionUtil.ExtensionHeaderNames.values()) {
            headers.remove(n.text());
        }
    }
}
