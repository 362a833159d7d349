package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The proxy's own headers ({@link FlatHttpHeaders}) take a one-pass path through
 * {@link ForwardedHeaders#addForwarded}: they end with the fields, in the order, that the general path gives any
 * other {@link HttpHeaders}, after {@link ForwardedHeaders#stripHopByHop} as the proxy calls it first.
 */
class ForwardedHeadersFlatTest {

    private static final String[][] REQUESTS = {
        {"Host", "a.example"},
        {},
        {"host", "a.example", "TE", "trailers", "te", "gzip", "Trailer", "X-T", "Transfer-Encoding", "chunked",
         "Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive", "Proxy-Authenticate", "Basic",
         "Proxy-Authorization", "Basic Zm9v", "Upgrade", "websocket", "X-Keep", "1"},
        {"Connection", "keep-alive, X-Hop", "X-Hop", "secret", "Upgrade", "h2c", "Accept", "*/*"},
        {"X-Forwarded-For", "203.0.113.7", "Host", "b", "x-forwarded-for", "198.51.100.1, 192.0.2.9",
         "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil", "X-FORWARDED-PORT", "1", "X-Real-IP", "1.2.3.4",
         "X-Forwarded-Protocol", "kept", "X-Real-IPs", "kept", "X-Forwarded-For", ""},
        {"x-forwarded-host", "client's", "X-Request-ID", "abc"},
    };

    private static HttpHeaders fill(HttpHeaders h, String[] fields) {
        for (int i = 0; i < fields.length; i += 2) {
            h.add(fields[i], fields[i + 1]);
        }
        return h;
    }

    private static List<String> fields(HttpHeaders h) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : (Iterable<Map.Entry<CharSequence, CharSequence>>)
                h::iteratorCharSequence) {
            out.add(e.getKey() + ": " + e.getValue());
        }
        return out;
    }

    @Test
    void stripHopByHopRemovesTheSameFieldsFromBoth() {
        for (String[] request : REQUESTS) {
            for (boolean keepUpgrade : new boolean[] {false, true}) {
                HttpHeaders general = fill(ForwardedHeaders.UNVALIDATED.newHeaders(), request);
                HttpHeaders flat = fill(new FlatHttpHeaders(true), request);
                ForwardedHeaders.stripHopByHop(general, keepUpgrade);
                ForwardedHeaders.stripHopByHop(flat, keepUpgrade);
                assertThat(fields(flat)).as("%s, keepUpgrade %s", List.of(request), keepUpgrade)
                                        .isEqualTo(fields(general));
                ForwardedHeaders.addForwarded(general, "127.0.0.1", "https", "h", "443");
                ForwardedHeaders.addForwarded(flat, "127.0.0.1", "https", "h", "443");
                assertThat(fields(flat)).as("%s, keepUpgrade %s", List.of(request), keepUpgrade)
                                        .isEqualTo(fields(general));
            }
        }
    }

    @Test
    void addForwardedSetsWhatTheGeneralPathSets() {
        for (String[] request : REQUESTS) {
            for (String host : new String[] {"shop.example:8080", null}) {
                HttpHeaders general = fill(ForwardedHeaders.UNVALIDATED.newHeaders(), request);
                HttpHeaders flat = fill(new FlatHttpHeaders(true), request);
                ForwardedHeaders.addForwarded(general, "127.0.0.1", "http", host, "8080");
                ForwardedHeaders.addForwarded(flat, "127.0.0.1", "http", host, "8080");
                assertThat(fields(flat)).as("%s, host %s", List.of(request), host).isEqualTo(fields(general));
            }
        }
        // What the backend then sees, spelled out once.
        HttpHeaders flat = fill(new FlatHttpHeaders(true), REQUESTS[4]);
        ForwardedHeaders.addForwarded(flat, "127.0.0.1", "http", "shop.example:8080", "8080");
        assertThat(fields(flat)).containsExactly(
                "Host: b", "X-Forwarded-Protocol: kept", "X-Real-IPs: kept",
                "x-forwarded-for: 203.0.113.7, 198.51.100.1, 192.0.2.9, 127.0.0.1",
                "x-forwarded-proto: http", "x-forwarded-host: shop.example:8080", "x-forwarded-port: 8080",
                "x-real-ip: 127.0.0.1");
    }
}
