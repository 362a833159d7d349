package io.ferry.l7.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The access log line, in the shape of ingress-nginx's default {@code log-format-upstream}:
 *
 * <pre>
 * $remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
 *     $request_length $request_time [$proxy_upstream_name] [] $upstream_addr $upstream_response_length
 *     $upstream_response_time $upstream_status $req_id
 * </pre>
 *
 * {@code $request_length} is the request body's length here (nginx counts the head too); times are seconds with
 * millisecond precision; {@code -} where there is no value.
 */
final class AccessLogFormat {

    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);

    private AccessLogFormat() {
    }

    static String line(String clientIp, Exchange e) {
        long now = System.nanoTime();
        // The request's wall-clock start, from its monotonic one: no wall-clock read per request when not logging.
        long startMillis = System.currentTimeMillis() - (now - e.startNanos) / 1_000_000;
        HttpHeaders h = e.request.headers();
        StringBuilder sb = new StringBuilder(256);
        sb.append(clientIp).append(" - - [").append(TIME.format(Instant.ofEpochMilli(startMillis))).append("] \"")
          .append(e.request.method().name()).append(' ').append(escaped(e.request.uri())).append(' ')
          .append(e.request.protocolVersion().text()).append("\" ")
          .append(e.status).append(' ').append(e.responseBytes).append(" \"")
          .append(orDash(h.get(HttpHeaderNames.REFERER))).append("\" \"")
          .append(orDash(h.get(HttpHeaderNames.USER_AGENT))).append("\" ")
          .append(e.requestBodyBytes).append(' ');
        seconds(sb, now - e.startNanos).append(" [")
          .append(e.route == null ? "" : e.route.backend().name()).append("] [] ");
        if (e.firstTried == null) {
            sb.append("- - - -");
        } else {
            e.appendTried(sb);
            sb.append(' ').append(e.upstreamStatus == 0 ? 0 : e.responseBytes).append(' ');
            seconds(sb, now - e.upstreamStartNanos).append(' ')
              .append(e.upstreamStatus == 0 ? "-" : Integer.toString(e.upstreamStatus));
        }
        sb.append(' ').append(e.requestId);
        return sb.toString();
    }

    private static StringBuilder seconds(StringBuilder sb, long nanos) {
        long millis = Math.max(0, nanos / 1_000_000);
        sb.append(millis / 1000).append('.');
        long frac = millis % 1000;
        if (frac < 100) {
            sb.append('0');
        }
        if (frac < 10) {
            sb.append('0');
        }
        return sb.append(frac);
    }

    private static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : escaped(s);
    }

    /** nginx's log escaping: {@code "}, {@code \\} and bytes outside printable ASCII as {@code \xHH}. */
    static String escaped(String s) {
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
                break;
            }
            i++;
        }
        if (i == s.length()) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length() + 16).append(s, 0, i);
        for (; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
                sb.append("\\x").append(Character.forDigit((c >> 4) & 0xf, 16)).append(Character.forDigit(c & 0xf, 16));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
