package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * The responses the proxy writes itself: errors (404, 502, 503, 504, ...) and redirects. Bodies are small HTML
 * pages in nginx's shape, built once and shared read-only.
 */
final class LocalResponses {

    private static final ByteBuf[] BODIES = new ByteBuf[600];

    static {
        for (int code : new int[] {301, 302, 307, 308, 400, 403, 404, 408, 413, 414, 417, 421, 431, 500, 502, 503, 504, 505}) {
            HttpResponseStatus status = HttpResponseStatus.valueOf(code);
            String text = code + " " + status.reasonPhrase();
            String html = "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text
                          + "</h1></center>\r\n<hr><center>ferry</center>\r\n</body>\r\n</html>\r\n";
            byte[] bytes = html.getBytes(StandardCharsets.US_ASCII);
            BODIES[code] = Unpooled.unreleasableBuffer(
                    Unpooled.directBuffer(bytes.length).writeBytes(bytes).asReadOnly());
        }
    }

    private LocalResponses() {
    }

    /**
     * A complete response with {@code code}'s page. {@code close} adds {@code Connection: close}; otherwise the
     * connection stays open (HTTP/1.1 default).
     */
    static FullHttpResponse of(int code, boolean close) {
        ByteBuf body = code < BODIES.length && BODIES[code] != null ? BODIES[code].duplicate() : Unpooled.EMPTY_BUFFER;
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(code), body);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/html")
                   .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        if (close) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return r;
    }

    /** A 308 to {@code location}, the redirect ingress-nginx sends for {@code ssl-redirect}. */
    static FullHttpResponse redirect(int code, String location, boolean close) {
        FullHttpResponse r = of(code, close);
        r.headers().set(HttpHeaderNames.LOCATION, location);
        return r;
    }

    /** A {@code 100 Continue} interim response. */
    static FullHttpResponse continue100() {
        return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER);
    }
}
