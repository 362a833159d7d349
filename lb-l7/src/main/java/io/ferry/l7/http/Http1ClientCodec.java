package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The HTTP/1.1 codec of a connection to an endpoint: Ferry's {@link Http1Encoder.RequestEncoder} for the requests,
 * and a response decoder of Ferry's own in place of Netty's {@code HttpResponseDecoder}. Its output is the same kind of
 * objects (an {@code HttpResponse}, then {@code HttpContent}s, then a {@code LastHttpContent}; a malformed response
 * is a message whose decoder result is a failure, and nothing after it is read), but it reads a head in one pass
 * once the whole head is in, straight from the buffer: no line copied aside, header names that endpoints commonly
 * send are shared constants (their hash codes computed once), and the headers it builds are not validated a second
 * time.
 *
 * <p>A response's length follows RFC 9112, section 6.3: no body after a {@code HEAD} request, for 1xx, 204 and
 * 304; chunked when {@code chunked} is the last transfer coding (a {@code Content-Length} beside it is removed);
 * else until the connection closes when {@code Transfer-Encoding} names another coding; else
 * {@code Content-Length}, which must be one decimal number (two of them, even equal, or a list are refused, as by
 * Netty's decoder); else until the connection closes. A {@code 101} ends the HTTP part: what follows is passed on
 * unparsed. Interim responses (100, 102, 103) do not answer the request: the next response does. A chunk's data
 * must be followed by CRLF (or LF); trailers come in the {@code LastHttpContent}.
 *
 * <p>Leniencies, as Netty's decoder and nginx have them for responses: empty lines before the status line are
 * skipped, lines may end with a bare LF, whitespace before a header's colon is removed and an obs-fold line is joined
 * to the value before it with one space (RFC 9112, section 5.2, lets a proxy replace it so). Limits: the status line
 * (its own), the header lines together, a chunk-size line and the trailers; past a limit the response fails.
 *
 * <p>One instance per connection, on its event loop.
 */
final class Http1ClientCodec extends CombinedChannelDuplexHandler<Http1ClientCodec.ResponseDecoder,
                                                                  Http1ClientCodec.RequestEncoder> {

    /** Per request written and not yet answered, oldest first: its method. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);

    Http1ClientCodec(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
        init(new ResponseDecoder(maxInitialLineLength, maxHeaderSize, maxChunkSize), new RequestEncoder());
    }

    /** Notes the method of each request, which says whether its response has a body. */
    final class RequestEncoder extends Http1Encoder.RequestEncoder {

        /** Called once per request head, before it is written. */
        @Override
        boolean isContentAlwaysEmpty(HttpRequest m) {
            methods.add(m.method());
            return false;
        }
    }

    final class ResponseDecoder extends ByteToMessageDecoder {

        private static final int START = 0;
        private static final int HEAD = 1;
        private static final int FIXED = 2;
        private static final int CHUNK_SIZE = 3;
        private static final int CHUNK_DATA = 4;
        private static final int CHUNK_END = 5;
        private static final int TRAILERS = 6;
        private static final int UNTIL_CLOSE = 7;
        private static final int UPGRADED = 8;
        private static final int FAILED = 9;

        /** A larger copy buffer, needed by an unusually large head, is not kept for the next one. */
        private static final int MAX_KEPT_SCRATCH = 16 * 1024;

        private final int maxInitialLineLength;
        private final int maxHeaderSize;
        private final int maxChunkSize;

        private int state = START;
        /** While a head or trailers are read: how far past the reader index whole lines were scanned. */
        private int scanned;
        /** While a head is read: where its header lines start, past the reader index (0 while in the status line). */
        private int headersAt;
        /** The body bytes (FIXED) or chunk bytes (CHUNK_DATA) still to come. */
        private long remaining;
        /** Of the head being parsed: its Content-Length fields, the last one's value, its last Transfer-Encoding. */
        private int contentLengths;
        private AsciiString contentLength;
        private AsciiString transferEncoding;
        /** Of the head being parsed: whether it has a hop-by-hop field other than {@code Connection}. */
        private boolean otherHopByHop;
        /** Of the head being parsed: whether a {@code Connection} field has the token close, or keep-alive. */
        private boolean connectionClose;
        private boolean connectionKeepAlive;
        /** Where header and trailer lines are copied to be parsed; grown as needed, kept up to a size. */
        private byte[] scratch = new byte[512];
        /** Of the head being read, once its status line is in. */
        private HttpVersion version;
        private HttpResponseStatus status;

        ResponseDecoder(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
            this.maxInitialLineLength = maxInitialLineLength;
            this.maxHeaderSize = maxHeaderSize;
            this.maxChunkSize = maxChunkSize;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            for (;;) {
                switch (state) {
                    case START:
                        if (!skipEmptyLines(in)) {
                            return;
                        }
                        state = HEAD;
                        scanned = 0;
                        headersAt = 0;
                        // fall through
                    case HEAD:
                        if (!readHead(in, out)) {
                            return;
                        }
                        if (state == UPGRADED) {
                            return; // the 101 goes first: whoever takes it may take this codec out
                        }
                        break;
                    case FIXED: {
                        int n = (int) Math.min(Math.min(remaining, in.readableBytes()), maxChunkSize);
                        if (n == 0) {
                            return;
                        }
                        remaining -= n;
                        if (remaining == 0) {
                            // A Content-Length body has no trailers: no headers object (nor the factory that
                            // DefaultLastHttpContent(buf, false) makes) for each response.
                            out.add(new DefaultLastHttpContent(in.readRetainedSlice(n), EmptyHttpHeaders.INSTANCE));
                            state = START;
                        } else {
                            out.add(new DefaultHttpContent(in.readRetainedSlice(n)));
                        }
                        break;
                    }
                    case CHUNK_SIZE:
                        if (!readChunkSize(in, out)) {
                            return;
                        }
                        break;
                    case CHUNK_DATA: {
                        int n = (int) Math.min(Math.min(remaining, in.readableBytes()), maxChunkSize);
                        if (n == 0) {
                            return;
                        }
                        remaining -= n;
                        out.add(new DefaultHttpContent(in.readRetainedSlice(n)));
                        if (remaining == 0) {
                            state = CHUNK_END;
                        }
                        break;
                    }
                    case CHUNK_END: {
                        int r = in.readerIndex();
                        if (!in.isReadable()) {
                            return;
                        }
                        byte b = in.getByte(r);
                        if (b == '\n') {
                            in.skipBytes(1);
                        } else if (b == '\r' && in.readableBytes() < 2) {
                            return;
                        } else if (b == '\r' && in.getByte(r + 1) == '\n') {
                            in.skipBytes(2);
                        } else {
                            fail(in, out, true, "no CRLF after a chunk's data");
                            return;
                        }
                        state = CHUNK_SIZE;
                        break;
                    }
                    case TRAILERS:
                        if (!readTrailers(in, out)) {
                            return;
                        }
                        break;
                    case UNTIL_CLOSE: {
                        int n = Math.min(in.readableBytes(), maxChunkSize);
                        if (n == 0) {
                            return;
                        }
                        out.add(new DefaultHttpContent(in.readRetainedSlice(n)));
                        break;
                    }
                    case UPGRADED:
                        if (in.isReadable()) {
                            out.add(in.readRetainedSlice(in.readableBytes()));
                        }
                        return;
                    default: // FAILED
                        in.skipBytes(in.readableBytes());
                        return;
                }
            }
        }

        @Override
        protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            if (in.isReadable()) {
                decode(ctx, in, out);
            }
            if (state == UNTIL_CLOSE) {
                out.add(LastHttpContent.EMPTY_LAST_CONTENT); // the close ends the body
                state = START;
            } else if (state == HEAD && in.isReadable()) {
                fail(in, out, false, "the connection closed in a response head");
            }
            // A close inside a body with a length, or inside a chunked body, ends nothing: the response is short.
        }

        /** Skips CR and LF before a status line; whether a status line's first byte is there. */
        private boolean skipEmptyLines(ByteBuf in) {
            int r = in.readerIndex();
            int w = in.writerIndex();
            while (r < w) {
                byte b = in.getByte(r);
                if (b != '\r' && b != '\n') {
                    in.readerIndex(r);
                    return true;
                }
                r++;
            }
            in.readerIndex(r);
            return false;
        }

        /**
         * Reads a response head once it is all in; false if it is not yet (or the response failed). Hands on the
         * response, and the end of it when it has no body.
         */
        private boolean readHead(ByteBuf in, List<Object> out) {
            int start = in.readerIndex();
            int end = in.writerIndex();
            int line = start + scanned;
            for (;;) {
                int lf = in.indexOf(line, end, (byte) '\n');
                if (lf < 0) {
                    scanned = line - start;
                    if (headersAt == 0 ? end - start > maxInitialLineLength
                                       : end - start - headersAt > maxHeaderSize) {
                        fail(in, out, false, headersAt == 0 ? "status line longer than " + maxInitialLineLength
                                                             : "response head longer than " + maxHeaderSize);
                    }
                    return false;
                }
                if (headersAt == 0) {
                    if (lf - start > maxInitialLineLength) {
                        fail(in, out, false, "status line longer than " + maxInitialLineLength);
                        return false;
                    }
                    if (!statusLine(in, start, lf, out)) {
                        return false;
                    }
                    headersAt = lf + 1 - start;
                } else {
                    if (lf - start - headersAt > maxHeaderSize) {
                        fail(in, out, false, "response head longer than " + maxHeaderSize);
                        return false;
                    }
                    if (lf == line || lf == line + 1 && in.getByte(line) == '\r') {
                        return head(in, start + headersAt, line, lf + 1, out);
                    }
                }
                line = lf + 1;
            }
        }

        /**
         * Parses the status line in {@code [start, lineEnd)} into {@link #version} and {@link #status}, as soon as
         * it is in (an endpoint that is not speaking HTTP is found out without waiting for a head); false if bad.
         */
        private boolean statusLine(ByteBuf in, int start, int lineEnd, List<Object> out) {
            if (lineEnd > start && in.getByte(lineEnd - 1) == '\r') {
                lineEnd--;
            }
            // HTTP/1.x SP 3DIGIT [SP reason]
            if (lineEnd - start < 12 || in.getByte(start) != 'H' || in.getByte(start + 1) != 'T'
                || in.getByte(start + 2) != 'T' || in.getByte(start + 3) != 'P' || in.getByte(start + 4) != '/'
                || in.getByte(start + 5) != '1' || in.getByte(start + 6) != '.' || !isDigit(in.getByte(start + 7))
                || !isBlank(in.getByte(start + 8))) {
                fail(in, out, false, "not an HTTP/1.x status line");
                return false;
            }
            int i = start + 8;
            while (i < lineEnd && isBlank(in.getByte(i))) {
                i++;
            }
            if (lineEnd - i < 3 || !isDigit(in.getByte(i)) || !isDigit(in.getByte(i + 1))
                || !isDigit(in.getByte(i + 2)) || i + 3 < lineEnd && !isBlank(in.getByte(i + 3))) {
                fail(in, out, false, "bad status code");
                return false;
            }
            int code = (in.getByte(i) - '0') * 100 + (in.getByte(i + 1) - '0') * 10 + in.getByte(i + 2) - '0';
            if (code < 100 || code > 599) {
                fail(in, out, false, "bad status code");
                return false;
            }
            status = status(in, code, i + 3, lineEnd);
            if (status == null) {
                fail(in, out, false, "a control character in the reason phrase");
                return false;
            }
            version = in.getByte(start + 7) == '0' ? HttpVersion.HTTP_1_0 : HttpVersion.HTTP_1_1;
            return true;
        }

        /**
         * Parses the rest of a head whose status line was read: its field lines are {@code [headers, blank)}, and it
         * ends at {@code headEnd}.
         */
        private boolean head(ByteBuf in, int headers, int blank, int headEnd, List<Object> out) {
            int code = status.code();
            HttpHeaders h = FlatHttpHeaders.UNVALIDATED.newHeaders();
            contentLengths = 0;
            contentLength = null;
            transferEncoding = null;
            otherHopByHop = false;
            connectionClose = false;
            connectionKeepAlive = false;
            String bad = parseFields(in, headers, blank, h, false);
            if (bad != null) {
                fail(in, out, false, bad);
                return false;
            }
            HttpVersion v = version;
            HttpResponseStatus st = status;
            status = null;
            version = null;
            in.readerIndex(headEnd);
            scanned = 0;

            // RFC 9112, section 6.3
            boolean noBody;
            boolean tunnel = false;
            if (code < 200) {
                noBody = true;
                if (code == 101) {
                    methods.poll();
                }
            } else {
                HttpMethod method = methods.poll();
                // A 2xx to CONNECT is a tunnel: nothing after it is HTTP, and the connection is not reused.
                tunnel = code < 300 && HttpMethod.CONNECT.equals(method);
                noBody = tunnel || code == 204 || code == 304 || HttpMethod.HEAD.equals(method);
            }
            if (noBody) {
                if (tunnel) {
                    h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                }
                out.add(new DefaultHttpResponse(v, st, h));
                out.add(LastHttpContent.EMPTY_LAST_CONTENT);
                state = code == 101 || tunnel ? UPGRADED : START;
                return true;
            }
            if (transferEncoding != null) {
                if (contentLengths > 0) {
                    // RFC 9112, section 6.3: a sign of request smuggling or response splitting, refused.
                    fail(in, out, false, "both Transfer-Encoding and Content-Length");
                    return false;
                }
                boolean chunked = lastCodingIsChunked(transferEncoding);
                if (chunked) {
                    state = CHUNK_SIZE;
                } else {
                    // Not chunked: the close ends the body. Said by no header, so that it is not taken for framing.
                    h.remove(HttpHeaderNames.TRANSFER_ENCODING);
                    state = UNTIL_CLOSE;
                }
                out.add(new Response(v, st, h, chunked, false, otherHopByHop, keepAlive(v)));
                return true;
            }
            long length = contentLengths == 0 ? -1 : contentLengths > 1 ? -2 : parseLength(contentLength);
            if (length == -2) {
                fail(in, out, false, "bad Content-Length");
                return false;
            }
            out.add(new Response(v, st, h, false, length >= 0, otherHopByHop, keepAlive(v)));
            if (length == -1) {
                state = UNTIL_CLOSE;
            } else if (length == 0) {
                out.add(LastHttpContent.EMPTY_LAST_CONTENT);
                state = START;
            } else {
                remaining = length;
                state = FIXED;
            }
            return true;
        }

        /** The status for {@code code} and the reason phrase at {@code [from, end)}; null if the phrase is bad. */
        private HttpResponseStatus status(ByteBuf in, int code, int from, int end) {
            while (from < end && isBlank(in.getByte(from))) {
                from++;
            }
            while (end > from && isBlank(in.getByte(end - 1))) {
                end--;
            }
            HttpResponseStatus known = HttpResponseStatus.valueOf(code);
            String phrase = known.reasonPhrase();
            if (phrase.length() == end - from) {
                int i = 0;
                while (i < phrase.length() && in.getByte(from + i) == phrase.charAt(i)) {
                    i++;
                }
                if (i == phrase.length()) {
                    return known;
                }
            }
            byte[] b = new byte[end - from];
            in.getBytes(from, b);
            for (byte c : b) {
                if (c >= 0 && c < 0x20 && c != '\t' || c == 0x7f) {
                    return null;
                }
            }
            return new HttpResponseStatus(code, new String(b, StandardCharsets.ISO_8859_1));
        }

        /**
         * Parses the field lines in {@code [from, to)} of {@code in} into {@code h}; the reason they are refused, or
         * null. The lines are copied out once and read from the copy. A response head's copy is its own, and its
         * values (and unknown names) are views into it: one array per response rather than one per field. Trailers,
         * rare, are read from a kept scratch array and each value copied; they leave out the fields that must not be
         * trailers.
         */
        private String parseFields(ByteBuf in, int from, int to, HttpHeaders h, boolean trailers) {
            int n = to - from;
            byte[] a;
            if (trailers) {
                a = scratch;
                if (a.length < n + 8) {
                    a = new byte[Math.max(n + 8, a.length * 2)];
                    if (a.length <= MAX_KEPT_SCRATCH) {
                        scratch = a;
                    }
                }
            } else {
                a = new byte[n + 8];
            }
            boolean copy = trailers;
            in.getBytes(from, a, 0, n);
            CharSequence name = null;
            AsciiString value = null;
            int i = 0;
            while (i < n) { // every line of [from, to) ends with LF
                byte b = a[i];
                if (b == ' ' || b == '\t') {
                    if (name == null) {
                        return "a folded line with no field before it";
                    }
                    int end = valueEnd(a, i, n);
                    if (end < 0) {
                        return "a control character in a field value";
                    }
                    AsciiString more = value(a, i, end, copy);
                    value = more.isEmpty() ? value : value.isEmpty() ? more : value.concat(" ").concat(more);
                    i = lineEnd(a, end);
                    continue;
                }
                if (name != null) {
                    add(h, name, value, trailers);
                }
                int start = i;
                int colon = colonOrLf(a, i, n);
                if (a[colon] != ':') {
                    return "a field line with no colon";
                }
                int nameEnd = colon;
                while (nameEnd > start && isBlank(a[nameEnd - 1])) {
                    nameEnd--;
                }
                if (nameEnd == start) {
                    return "an empty field name";
                }
                name = KnownNames.find(a, start, nameEnd);
                if (name == null) {
                    for (int k = start; k < nameEnd; k++) {
                        if (!isTokenChar(a[k])) {
                            return "a field name with a character that is not a token character";
                        }
                    }
                    name = new AsciiString(a, start, nameEnd - start, copy);
                }
                int end = valueEnd(a, colon + 1, n);
                if (end < 0) {
                    return "a control character in a field value";
                }
                value = value(a, colon + 1, end, copy);
                i = lineEnd(a, end);
            }
            if (name != null) {
                add(h, name, value, trailers);
            }
            return null;
        }

        /** The first colon or LF from {@code i} on; eight bytes at a time while eight are left before {@code n}. */
        private static int colonOrLf(byte[] a, int i, int n) {
            for (; i + 8 <= n; i += 8) {
                long w = (long) LONGS.get(a, i);
                if ((zeroBytes(w ^ COLONS) | zeroBytes(w ^ LFS)) != 0) {
                    break;
                }
            }
            while (a[i] != ':' && a[i] != '\n') {
                i++;
            }
            return i;
        }

        /**
         * Where the value that starts at {@code i} ends (its CR or LF); -1 if a control character other than HTAB
         * (or DEL) comes first. Eight bytes at a time until one of them is a control character.
         */
        private static int valueEnd(byte[] a, int i, int n) {
            for (; i + 8 <= n; i += 8) {
                long w = (long) LONGS.get(a, i);
                if ((lessThanSpace(w) | zeroBytes(w ^ DELS)) != 0) {
                    break;
                }
            }
            for (;; i++) {
                int c = a[i] & 0xff;
                if (c < 0x20 || c == 0x7f) {
                    if (c == '\n' || c == '\r' && a[i + 1] == '\n') {
                        return i;
                    }
                    if (c != '\t') {
                        return -1;
                    }
                }
            }
        }

        /** The start of the next line, after the line end (CRLF or LF) at {@code end}. */
        private static int lineEnd(byte[] a, int end) {
            return a[end] == '\r' ? end + 2 : end + 1;
        }

        private void add(HttpHeaders h, CharSequence name, AsciiString value, boolean trailers) {
            if (!trailers && !otherHopByHop && ForwardedHeaders.isHopByHopBesideConnection(name)) {
                otherHopByHop = true;
            }
            if (!trailers && HttpHeaderNames.CONNECTION.contentEqualsIgnoreCase(name)) {
                connectionTokens(value);
            }
            if (HttpHeaderNames.CONTENT_LENGTH.contentEqualsIgnoreCase(name)) {
                if (trailers) {
                    return; // as Netty's decoder: says nothing in trailers
                }
                contentLengths++;
                contentLength = value;
            } else if (HttpHeaderNames.TRANSFER_ENCODING.contentEqualsIgnoreCase(name)) {
                if (trailers) {
                    return;
                }
                transferEncoding = value;
            } else if (trailers && HttpHeaderNames.TRAILER.contentEqualsIgnoreCase(name)) {
                return;
            }
            h.add(name, value);
        }

        /**
         * Notes the tokens close and keep-alive of a {@code Connection} value, as {@code HttpUtil.isKeepAlive} finds
         * them (comma-separated, blanks around them ignored, any case).
         */
        private void connectionTokens(AsciiString v) {
            int end = v.length();
            for (int i = 0; i <= end; ) {
                int comma = v.indexOf(',', i);
                if (comma < 0) {
                    comma = end;
                }
                int from = i;
                int to = comma;
                while (from < to && isBlank(v.byteAt(from))) {
                    from++;
                }
                while (to > from && isBlank(v.byteAt(to - 1))) {
                    to--;
                }
                if (to - from == 5 && AsciiString.regionMatches(v, true, from, HttpHeaderValues.CLOSE, 0, 5)) {
                    connectionClose = true;
                } else if (to - from == 10
                           && AsciiString.regionMatches(v, true, from, HttpHeaderValues.KEEP_ALIVE, 0, 10)) {
                    connectionKeepAlive = true;
                }
                i = comma + 1;
            }
        }

        /** {@code HttpUtil.isKeepAlive} of the head just parsed, from what its fields said on the way. */
        private boolean keepAlive(HttpVersion v) {
            return !connectionClose && (v.isKeepAliveDefault() || connectionKeepAlive);
        }

        /** The value at {@code [from, end)} of {@code a} without the blanks around it. */
        private static AsciiString value(byte[] a, int from, int end, boolean copy) {
            while (from < end && isBlank(a[from])) {
                from++;
            }
            while (end > from && isBlank(a[end - 1])) {
                end--;
            }
            return from == end ? AsciiString.EMPTY_STRING : new AsciiString(a, from, end - from, copy);
        }

        private boolean readChunkSize(ByteBuf in, List<Object> out) {
            int start = in.readerIndex();
            int lf = in.indexOf(start, in.writerIndex(), (byte) '\n');
            if (lf < 0) {
                if (in.readableBytes() > maxInitialLineLength) {
                    fail(in, out, true, "chunk-size line longer than " + maxInitialLineLength);
                }
                return false;
            }
            int i = start;
            while (i < lf && isBlank(in.getByte(i))) {
                i++;
            }
            long size = 0;
            int digits = 0;
            for (; i < lf; i++) {
                int d = hex(in.getByte(i));
                if (d < 0) {
                    break;
                }
                if (++digits > 15) {
                    fail(in, out, true, "chunk size too big");
                    return false;
                }
                size = size << 4 | d;
            }
            while (i < lf && isBlank(in.getByte(i))) {
                i++;
            }
            byte b = i < lf ? in.getByte(i) : (byte) '\n';
            if (digits == 0 || b != ';' && b != '\n' && !(b == '\r' && i == lf - 1)) {
                fail(in, out, true, "bad chunk size");
                return false;
            }
            in.readerIndex(lf + 1);
            if (size == 0) {
                state = TRAILERS;
                scanned = 0;
            } else {
                remaining = size;
                state = CHUNK_DATA;
            }
            return true;
        }

        private boolean readTrailers(ByteBuf in, List<Object> out) {
            int start = in.readerIndex();
            int end = in.writerIndex();
            int line = start + scanned;
            for (;;) {
                int lf = in.indexOf(line, end, (byte) '\n');
                if (lf < 0 ? end - start > maxHeaderSize : lf - start > maxHeaderSize) {
                    fail(in, out, true, "trailers longer than " + maxHeaderSize);
                    return false;
                }
                if (lf < 0) {
                    scanned = line - start;
                    return false;
                }
                if (lf == line || lf == line + 1 && in.getByte(line) == '\r') {
                    if (line == start) {
                        out.add(LastHttpContent.EMPTY_LAST_CONTENT);
                    } else {
                        DefaultLastHttpContent last =
                                new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, ForwardedHeaders.UNVALIDATED);
                        String bad = parseFields(in, start, line, last.trailingHeaders(), true);
                        if (bad != null) {
                            fail(in, out, true, bad);
                            return false;
                        }
                        out.add(last);
                    }
                    in.readerIndex(lf + 1);
                    scanned = 0;
                    state = START;
                    return true;
                }
                line = lf + 1;
            }
        }

        /** The response fails: a failed head, or a failed end if its head was handed on; nothing more is read. */
        private void fail(ByteBuf in, List<Object> out, boolean inBody, String why) {
            state = FAILED;
            in.skipBytes(in.readableBytes());
            IllegalArgumentException cause = new IllegalArgumentException(why);
            if (inBody) {
                DefaultLastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, false);
                last.setDecoderResult(DecoderResult.failure(cause));
                out.add(last);
            } else {
                DefaultHttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_GATEWAY,
                                                                ForwardedHeaders.UNVALIDATED.newHeaders());
                r.setDecoderResult(DecoderResult.failure(cause));
                out.add(r);
            }
        }
    }

    /**
     * A response head with body as the decoder read it, with what it learnt of the head on the way: its framing,
     * whether a hop-by-hop field other than {@code Connection} is among its fields, and whether it keeps the
     * connection alive. What it says equals what the
     * headers say ({@code HttpUtil.isTransferEncodingChunked}, {@code isContentLengthSet}) while nobody has changed
     * them; {@link HttpFrontendHandler#upstreamHead} reads it before it changes them, instead of looking again.
     */
    static final class Response extends DefaultHttpResponse {

        final boolean chunked;
        final boolean contentLength;
        final boolean otherHopByHop;
        /** {@code HttpUtil.isKeepAlive}: no {@code Connection: close}, and HTTP/1.1 or {@code keep-alive}. */
        final boolean keepAlive;

        Response(HttpVersion version, HttpResponseStatus status, HttpHeaders headers, boolean chunked,
                 boolean contentLength, boolean otherHopByHop, boolean keepAlive) {
            super(version, status, headers);
            this.chunked = chunked;
            this.contentLength = contentLength;
            this.otherHopByHop = otherHopByHop;
            this.keepAlive = keepAlive;
        }
    }

    /** Whether the last coding of a Transfer-Encoding value (the last field's) is chunked. */
    private static boolean lastCodingIsChunked(AsciiString te) {
        int end = te.length();
        while (end > 0 && (te.byteAt(end - 1) == ' ' || te.byteAt(end - 1) == '\t')) {
            end--;
        }
        int from = end;
        while (from > 0 && te.byteAt(from - 1) != ',') {
            from--;
        }
        while (from < end && (te.byteAt(from) == ' ' || te.byteAt(from) == '\t')) {
            from++;
        }
        return end - from == 7 && HttpHeaderValues.CHUNKED.contentEqualsIgnoreCase(te.subSequence(from, end, false));
    }

    /** A Content-Length value: -2 if it is not one decimal number. */
    private static long parseLength(AsciiString v) {
        if (v.isEmpty() || v.length() > 18) {
            return -2;
        }
        long n = 0;
        for (int i = 0; i < v.length(); i++) {
            byte c = v.byteAt(i);
            if (c < '0' || c > '9') {
                return -2;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    /** Eight bytes of a byte array as one little-endian long: a field line is scanned eight bytes at a time. */
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long COLONS = 0x3a3a3a3a3a3a3a3aL;
    private static final long LFS = 0x0a0a0a0a0a0a0a0aL;
    private static final long DELS = 0x7f7f7f7f7f7f7f7fL;
    private static final long LOW_BITS = 0x0101010101010101L;
    private static final long HIGH_BITS = 0x8080808080808080L;

    /** Non-zero if a byte of {@code w} is zero (the high bit of the first such byte is set). */
    private static long zeroBytes(long w) {
        return (w - LOW_BITS) & ~w & HIGH_BITS;
    }

    /** Non-zero if a byte of {@code w} is below 0x20 (bytes of 0x80 and above are not). */
    private static long lessThanSpace(long w) {
        return (w - 0x2020202020202020L) & ~w & HIGH_BITS;
    }

    private static boolean isBlank(byte b) {
        return b == ' ' || b == '\t';
    }

    private static boolean isDigit(byte b) {
        return b >= '0' && b <= '9';
    }

    private static int hex(byte b) {
        if (b >= '0' && b <= '9') {
            return b - '0';
        }
        if (b >= 'a' && b <= 'f') {
            return b - 'a' + 10;
        }
        if (b >= 'A' && b <= 'F') {
            return b - 'A' + 10;
        }
        return -1;
    }

    /** RFC 9110's tchar. */
    private static final boolean[] TOKEN = new boolean[128];

    static {
        for (char c = '0'; c <= '9'; c++) {
            TOKEN[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TOKEN[c] = true;
            TOKEN[c - 32] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TOKEN[c] = true;
        }
    }

    private static boolean isTokenChar(byte b) {
        return b > 0 && TOKEN[b];
    }

    /**
     * Field names endpoints commonly send, in the case they send them (nginx, Apache, Go, Node.js title case; some
     * lower case): a name read byte for byte equal to one is that constant, whose hash code is computed once. Any
     * other spelling is a new string: names reach the client as the endpoint wrote them.
     */
    static final class KnownNames {

        /** Open addressing on {@link #hash}; a power of two at least four times the names. */
        private static final AsciiString[] TABLE = new AsciiString[256];

        static {
            String[] names = {
                "Content-Length", "Content-Type", "Date", "Server", "Connection", "Transfer-Encoding",
                "Last-Modified", "ETag", "Etag", "Accept-Ranges", "Cache-Control", "Keep-Alive", "Vary", "Location",
                "Set-Cookie", "Expires", "Content-Encoding", "Strict-Transport-Security", "X-Content-Type-Options",
                "X-Frame-Options", "Access-Control-Allow-Origin", "Age", "Pragma", "Upgrade", "Sec-WebSocket-Accept",
                "Trailer", "Alt-Svc", "Content-Security-Policy", "Link", "Content-Range", "Retry-After",
                "WWW-Authenticate", "X-Powered-By", "Content-Language", "Content-Disposition", "X-Request-Id",
                "Referrer-Policy", "X-XSS-Protection",
            };
            for (String n : names) {
                for (String spelling : new String[] {n, n.toLowerCase(Locale.ROOT)}) {
                    AsciiString s = AsciiString.cached(spelling);
                    s.hashCode(); // computed here, once
                    byte[] k = s.array();
                    int slot = slot(k, 0, k.length);
                    while (TABLE[slot] != null && !TABLE[slot].equals(s)) {
                        slot = slot + 1 & TABLE.length - 1;
                    }
                    TABLE[slot] = s;
                }
            }
        }

        private KnownNames() {
        }

        /** Where a name of {@code [from, to)} starts its search: its length, first and last byte. */
        private static int slot(byte[] a, int from, int to) {
            int h = ((to - from) * 31 + a[from]) * 31 + a[to - 1];
            return (h ^ h >>> 7) & TABLE.length - 1;
        }

        /** The constant spelled as {@code [from, to)} of {@code a} (not empty), or null. */
        static AsciiString find(byte[] a, int from, int to) {
            int len = to - from;
            for (int slot = slot(a, from, to); ; slot = slot + 1 & TABLE.length - 1) {
                AsciiString c = TABLE[slot];
                if (c == null) {
                    return null;
                }
                if (c.length() == len && Arrays.equals(a, from, to, c.array(), 0, len)) { // cached(): offset 0
                    return c;
                }
            }
        }
    }
}
