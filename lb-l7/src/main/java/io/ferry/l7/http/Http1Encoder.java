package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.StringUtil;
import java.nio.charset.StandardCharsets;

/**
 * The encoder of the proxy's HTTP/1.x codecs, in place of Netty's {@code HttpObjectEncoder}: the same messages in
 * (a head, then {@link HttpContent}s, then a {@link LastHttpContent}; or a full message; a {@link ByteBuf} as
 * content, or an empty one between messages, as the close idiom writes it) and the same bytes out, with two
 * differences in how they leave:
 * <ul>
 *   <li>A head written with the void promise is held until the next write or flush, and the body that follows it
 *       (up to {@value #JOIN_LIMIT} bytes: most responses, and the empty end of every {@code GET}) is written in the
 *       same buffer: one write down the pipeline and one send where Netty's encoder makes two or three. A held head
 *       is written before anything else reaches the channel, so the order of the bytes is never changed; it only
 *       waits for the flush that sends it anyway.</li>
 *   <li>The proxy's own message classes are told apart by exact class before any interface check (a failing
 *       {@code instanceof} against an interface scans every interface of the class on Java 17, JDK-8180450).</li>
 * </ul>
 * The header block is written by {@link HeaderBlockWriter}. One instance per connection, on its event loop.
 */
abstract class Http1Encoder<H extends HttpMessage> extends ChannelOutboundHandlerAdapter {

    /** A body, or a chunk, up to this many bytes is copied behind the head held before it. */
    static final int JOIN_LIMIT = 8 * 1024;

    private static final int INIT = 0;
    private static final int NOT_CHUNKED = 1;
    private static final int CHUNKED = 2;
    private static final int ALWAYS_EMPTY = 3;

    private static final int CRLF = ('\r' << 8) | '\n';
    private static final byte[] LAST_CHUNK = {'0', '\r', '\n', '\r', '\n'};
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    /** The exact class of the heads the proxy writes through this encoder. */
    private final Class<?> headClass;
    private int state = INIT;
    /** A head written with the void promise and not yet passed on, or null. */
    private ByteBuf held;
    /** As Netty's encoder: a running estimate of a head's size, for the buffer it is written into. */
    private float headSize = 256;

    Http1Encoder(Class<? extends H> headClass) {
        this.headClass = headClass;
    }

    /** Writes the start line of {@code m} (with its CRLF). */
    abstract void encodeStartLine(ByteBuf buf, H m);

    /** Whether {@code m} is never followed by body bytes, whatever its headers say. */
    abstract boolean isContentAlwaysEmpty(H m);

    /** Edits the headers of {@code m} before they are written. */
    void sanitizeHeaders(H m, boolean alwaysEmpty) {
    }

    /** Whether a head may wait for what follows it (an interim response goes out as written). */
    boolean mayHold(H m) {
        return true;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        Class<?> c = msg.getClass();
        if (c == DefaultLastHttpContent.class || msg == LastHttpContent.EMPTY_LAST_CONTENT) {
            LastHttpContent last = (LastHttpContent) msg;
            content(ctx, msg, last.content(), last.trailingHeaders(), true, promise);
        } else if (c == DefaultHttpContent.class) {
            content(ctx, msg, ((HttpContent) msg).content(), null, false, promise);
        } else if (c == headClass) {
            head(ctx, (H) msg, promise);
        } else if (msg instanceof HttpMessage) {
            if (msg instanceof HttpContent) {
                full(ctx, (H) msg, promise);
            } else {
                head(ctx, (H) msg, promise);
            }
        } else if (msg instanceof HttpContent) {
            HttpContent content = (HttpContent) msg;
            boolean last = msg instanceof LastHttpContent;
            content(ctx, msg, content.content(), last ? ((LastHttpContent) msg).trailingHeaders() : null, last,
                    promise);
        } else if (msg instanceof ByteBuf) {
            ByteBuf buf = (ByteBuf) msg;
            if (state == INIT) {
                if (buf.isReadable()) {
                    buf.release();
                    throw unexpected(msg);
                }
                ctx.write(buf, promise); // between messages, only the empty buffer of the close idiom
            } else {
                content(ctx, msg, buf, null, false, promise);
            }
        } else {
            ReferenceCountUtil.release(msg);
            throw unexpected(msg);
        }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        writeHeld(ctx);
        ctx.flush();
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        // Passed on as any written, unflushed message is: a TLS handler below flushes before its close_notify.
        writeHeld(ctx);
        ctx.close(promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            writeHeld(ctx); // the encoder leaves (an upgrade): the head goes before what is written next
        } else if (held != null) {
            held.release();
            held = null;
        }
    }

    private void writeHeld(ChannelHandlerContext ctx) {
        ByteBuf h = held;
        if (h != null) {
            held = null;
            ctx.write(h, ctx.voidPromise());
        }
    }

    private void head(ChannelHandlerContext ctx, H m, ChannelPromise promise) {
        if (state != INIT) {
            ReferenceCountUtil.release(m);
            throw unexpected(m);
        }
        ByteBuf buf;
        boolean hold;
        try {
            buf = encodeHead(ctx, m);
            hold = promise.isVoid() && mayHold(m);
        } finally {
            ReferenceCountUtil.release(m);
        }
        if (hold) {
            held = buf;
        } else {
            ctx.write(buf, promise);
        }
    }

    /** A message with its body: written at once, the body behind the head when it is small. */
    private void full(ChannelHandlerContext ctx, H m, ChannelPromise promise) {
        LastHttpContent last = (LastHttpContent) m;
        if (state != INIT) {
            last.release();
            throw unexpected(m);
        }
        ByteBuf buf;
        try {
            buf = encodeHead(ctx, m);
        } catch (RuntimeException e) {
            last.release();
            throw e;
        }
        held = buf;
        content(ctx, m, last.content(), last.trailingHeaders(), true, promise);
    }

    /**
     * A part of the body: {@code data} (the message's content, or the message itself) is passed on or released;
     * {@code trailers} is non-null only on the last part.
     */
    private void content(ChannelHandlerContext ctx, Object msg, ByteBuf data, HttpHeaders trailers, boolean last,
                         ChannelPromise promise) {
        switch (state) {
            case NOT_CHUNKED:
                if (last) {
                    state = INIT;
                }
                emit(ctx, data, promise);
                break;
            case CHUNKED:
                if (last) {
                    state = INIT;
                }
                emitChunk(ctx, data, last ? trailers : null, last, promise);
                break;
            case ALWAYS_EMPTY:
                if (last) {
                    state = INIT;
                }
                data.release();
                emit(ctx, Unpooled.EMPTY_BUFFER, promise);
                break;
            default: // INIT: a body with no head before it
                data.release();
                throw unexpected(msg);
        }
    }

    /** Passes on {@code data}, behind the held head if there is one and it is small. */
    private void emit(ChannelHandlerContext ctx, ByteBuf data, ChannelPromise promise) {
        int n = data.readableBytes();
        ByteBuf h = held;
        if (h != null) {
            held = null;
            if (n > JOIN_LIMIT) {
                ctx.write(h, ctx.voidPromise());
                ctx.write(data, promise);
                return;
            }
            if (n > 0) {
                h.ensureWritable(n);
                h.writeBytes(data, data.readerIndex(), n);
            }
            data.release();
            ctx.write(h, promise);
        } else if (n > 0) {
            ctx.write(data, promise);
        } else {
            data.release();
            if (!promise.isVoid()) {
                ctx.write(Unpooled.EMPTY_BUFFER, promise); // someone waits for this write to complete
            }
        }
    }

    /** Passes on {@code data} as a chunk, and the last chunk and trailers after it when {@code last}. */
    private void emitChunk(ChannelHandlerContext ctx, ByteBuf data, HttpHeaders trailers, boolean last,
                           ChannelPromise promise) {
        int n = data.readableBytes();
        if (n == 0 && !last) {
            data.release();
            emit(ctx, Unpooled.EMPTY_BUFFER, promise);
            return;
        }
        ByteBuf out = held;
        held = null;
        if (out == null) {
            out = ctx.alloc().buffer(n <= JOIN_LIMIT ? n + 16 : 16);
        }
        if (n > 0) {
            out.ensureWritable(18);
            writeHex(out, n);
            out.writeShort(CRLF);
            if (n > JOIN_LIMIT) {
                ctx.write(out, ctx.voidPromise());
                ctx.write(data, ctx.voidPromise());
                out = ctx.alloc().buffer(last ? 7 : 2);
            } else {
                out.ensureWritable(n + 2);
                out.writeBytes(data, data.readerIndex(), n);
                data.release();
            }
            out.writeShort(CRLF);
        } else {
            data.release();
        }
        if (last) {
            if (trailers == null || trailers.isEmpty()) {
                out.writeBytes(LAST_CHUNK);
            } else {
                out.writeByte('0').writeShort(CRLF);
                HeaderBlockWriter.write(trailers, out);
            }
        }
        ctx.write(out, promise);
    }

    private static void writeHex(ByteBuf out, int n) {
        for (int shift = (31 - Integer.numberOfLeadingZeros(n)) & ~3; shift >= 0; shift -= 4) {
            out.writeByte(HEX[(n >>> shift) & 0xF]);
        }
    }

    private ByteBuf encodeHead(ChannelHandlerContext ctx, H m) {
        ByteBuf buf = ctx.alloc().buffer((int) headSize);
        try {
            encodeStartLine(buf, m);
            int next = isContentAlwaysEmpty(m) ? ALWAYS_EMPTY
                       : HttpUtil.isTransferEncodingChunked(m) ? CHUNKED : NOT_CHUNKED;
            sanitizeHeaders(m, next == ALWAYS_EMPTY);
            HeaderBlockWriter.write(m.headers(), buf);
            headSize = 0.2f * ((buf.readableBytes() << 2) / 3) + 0.8f * headSize;
            state = next;
            return buf;
        } catch (RuntimeException e) {
            buf.release();
            throw e;
        }
    }

    private IllegalStateException unexpected(Object msg) {
        return new IllegalStateException("unexpected message type: " + StringUtil.simpleClassName(msg) + ", state: "
                                         + state);
    }

    /** Writes responses, as Netty's {@code HttpResponseEncoder} does. */
    static class ResponseEncoder extends Http1Encoder<HttpResponse> {

        /** {@code HTTP/1.1 <code> <reason>} CRLF of each status Netty names, by code; null for the others. */
        private static final byte[][] STATUS_LINES = new byte[600][];
        private static final HttpResponseStatus[] KNOWN = new HttpResponseStatus[600];

        static {
            for (int code = 100; code < 600; code++) {
                HttpResponseStatus s = HttpResponseStatus.valueOf(code);
                if (s == HttpResponseStatus.valueOf(code)) { // a constant: an unknown code gets a new instance
                    KNOWN[code] = s;
                    STATUS_LINES[code] = ("HTTP/1.1 " + code + ' ' + s.reasonPhrase() + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII);
                }
            }
        }

        ResponseEncoder() {
            super(DefaultHttpResponse.class);
        }

        @Override
        void encodeStartLine(ByteBuf buf, HttpResponse m) {
            HttpResponseStatus status = m.status();
            int code = status.code();
            HttpVersion version = m.protocolVersion();
            if (version == HttpVersion.HTTP_1_1 && code >= 100 && code < 600 && KNOWN[code] == status) {
                buf.writeBytes(STATUS_LINES[code]);
                return;
            }
            buf.writeCharSequence(version.text(), StandardCharsets.US_ASCII);
            buf.writeByte(' ');
            ByteBufUtil.copy(status.codeAsText(), buf);
            buf.writeByte(' ');
            buf.writeCharSequence(status.reasonPhrase(), StandardCharsets.US_ASCII);
            buf.writeShort(CRLF);
        }

        @Override
        boolean isContentAlwaysEmpty(HttpResponse m) {
            // As Netty's HttpResponseEncoder (RFC 9112, section 6.3); a 101 to a WebSocket handshake of the old
            // draft 00 is followed by bytes of its own.
            HttpResponseStatus status = m.status();
            if (status.codeClass() == HttpStatusClass.INFORMATIONAL) {
                if (status.code() == 101) {
                    return m.headers().contains(HttpHeaderNames.SEC_WEBSOCKET_VERSION);
                }
                return true;
            }
            int code = status.code();
            return code == 204 || code == 304 || code == 205;
        }

        @Override
        void sanitizeHeaders(HttpResponse m, boolean alwaysEmpty) {
            if (!alwaysEmpty) {
                return;
            }
            int code = m.status().code();
            if (code < 200 || code == 204) {
                m.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
                m.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            } else if (code == 205) {
                m.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
                m.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            }
        }

        @Override
        boolean mayHold(HttpResponse m) {
            return m.status().code() >= 200;
        }
    }

    /** Writes requests, as Netty's {@code HttpRequestEncoder} does. */
    static class RequestEncoder extends Http1Encoder<HttpRequest> {

        private static final byte[] HTTP_1_1 = " HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);

        RequestEncoder() {
            super(DefaultHttpRequest.class);
        }

        @Override
        void encodeStartLine(ByteBuf buf, HttpRequest m) {
            ByteBufUtil.copy(m.method().asciiName(), buf);
            buf.writeByte(' ');
            String uri = m.uri();
            if (uri.isEmpty()) {
                buf.writeByte('/'); // RFC 9112, section 3.2.1: an empty path is sent as "/"
            } else {
                CharSequence target = uri;
                boolean slash = false;
                int start = uri.indexOf("://");
                if (start != -1 && uri.charAt(0) != '/') {
                    // An absolute URI with no path gets "/" before its query, or at its end (Netty issue 2732).
                    start += 3;
                    int query = uri.indexOf('?', start);
                    if (query == -1) {
                        slash = uri.lastIndexOf('/') < start;
                    } else if (uri.lastIndexOf('/', query) < start) {
                        target = new StringBuilder(uri).insert(query, '/');
                    }
                }
                ByteBufUtil.writeUtf8(buf, target);
                if (slash) {
                    buf.writeByte('/');
                }
            }
            HttpVersion version = m.protocolVersion();
            if (version == HttpVersion.HTTP_1_1) {
                buf.writeBytes(HTTP_1_1);
            } else {
                buf.writeByte(' ');
                buf.writeCharSequence(version.text(), StandardCharsets.US_ASCII);
                buf.writeShort(CRLF);
            }
        }

        @Override
        boolean isContentAlwaysEmpty(HttpRequest m) {
            return false;
        }
    }
}
