package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The HTTP/1.x codec of a client connection: Netty's {@link HttpRequestDecoder} and Ferry's
 * {@link Http1Encoder.ResponseEncoder}, paired as Netty's {@code HttpServerCodec} pairs its decoder and encoder (a
 * response to {@code HEAD} is written without its body; at most {@value #MAX_PIPELINE_DEPTH} requests may wait for
 * their responses, more fail the connection), plus two refusals Netty's decoder does not make:
 * <ul>
 *   <li>obs-fold (a header line starting with a space or a tab, RFC 9112 5.2), which Netty joins to the line before;
 *       Ferry refuses it, as RFC 9112 allows and nginx does, rather than guess;</li>
 *   <li>whitespace before the request line, which Netty skips; empty lines (CRLF) before it are still ignored, as
 *       RFC 9112 2.2 asks.</li>
 * </ul>
 * Such a request is handed on as a {@link FullHttpRequest} whose decoder result is a failure (as Netty hands on
 * every malformed request), so the proxy answers 400 and closes; the bytes after it are discarded.
 *
 * <p>The check reads each request head once, before Netty's decoder, and stops at the blank line that ends it: a
 * body is never scanned. One instance per connection, on its event loop.
 */
final class Http1ServerCodec extends CombinedChannelDuplexHandler<HttpRequestDecoder, Http1Encoder.ResponseEncoder> {

    /** As Netty's {@code HttpServerCodec}: requests decoded and not yet answered. */
    static final int MAX_PIPELINE_DEPTH = 128;

    /** Per request decoded and not yet answered, oldest first: whether it is a {@code HEAD}. */
    private final ArrayDeque<Boolean> heads = new ArrayDeque<>(4);

    Http1ServerCodec(HttpDecoderConfig config) {
        init(new Decoder(config), new Encoder());
    }

    private final class Decoder extends HttpRequestDecoder {

        private final HeadScanner scanner = new HeadScanner();
        private boolean discard;

        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            if (discard) {
                in.skipBytes(in.readableBytes());
                return;
            }
            String bad = scanner.scan(in);
            if (bad != null) {
                discard = true;
                in.skipBytes(in.readableBytes());
                FullHttpRequest invalid = new DefaultFullHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET,
                                                                     "/bad-request", Unpooled.EMPTY_BUFFER);
                invalid.setDecoderResult(DecoderResult.failure(new IllegalArgumentException(bad)));
                heads.add(false);
                out.add(invalid);
                return;
            }
            int before = in.readerIndex();
            int first = out.size();
            super.decode(ctx, in, out);
            scanner.consumed(in.readerIndex() - before);
            for (int i = first; i < out.size(); i++) {
                Object m = out.get(i);
                if (m instanceof HttpRequest) {
                    if (heads.size() >= MAX_PIPELINE_DEPTH) {
                        discard = true;
                        for (int j = i; j < out.size(); j++) {
                            ReferenceCountUtil.release(out.get(j));
                        }
                        out.subList(i, out.size()).clear();
                        in.skipBytes(in.readableBytes());
                        throw new IllegalStateException("pipelined requests: more than " + MAX_PIPELINE_DEPTH
                                                        + " (expected: at most " + MAX_PIPELINE_DEPTH + ')');
                    }
                    heads.add(HttpMethod.HEAD.equals(((HttpRequest) m).method()));
                }
                if (m instanceof DecoderResultProvider && ((DecoderResultProvider) m).decoderResult().isFailure()) {
                    discard = true; // as Netty's decoder: nothing after a malformed message is read
                } else if (m instanceof LastHttpContent) {
                    scanner.reset(); // the next byte starts the next request
                }
            }
        }
    }

    /** Answers {@code HEAD} requests with a head alone. */
    private final class Encoder extends Http1Encoder.ResponseEncoder {

        @Override
        boolean isContentAlwaysEmpty(HttpResponse msg) {
            if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // interim: not the answer to a request
            }
            Boolean head = heads.poll();
            return head != null && head || super.isContentAlwaysEmpty(msg);
        }
    }

    /**
     * Follows one request head, line by line, from its first byte to the blank line that ends it, across reads.
     * The decoder's buffer is at the start of a line whenever a head is being read (Netty consumes whole lines),
     * so {@link #scanned} counts the bytes past its reader index that were already looked at.
     */
    static final class HeadScanner {

        private static final int START = 0;
        private static final int IN_LINE = 1;
        private static final int LINE_START = 2;
        private static final int BLANK_CR = 3;
        private static final int DONE = 4;

        private int state = START;
        private int scanned;

        /**
         * Looks at the head bytes of {@code in} not seen yet: why it must be refused, or {@code null}. Within a line
         * it only looks for the line's end, with the buffer's {@code indexOf} (eight bytes at a time); it looks at
         * the bytes before the request line and at the first one or two of every other line.
         */
        String scan(ByteBuf in) {
            int end = in.writerIndex();
            int i = in.readerIndex() + scanned;
            scan:
            while (i < end) {
                switch (state) {
                    case START: {
                        byte b = in.getByte(i);
                        if (b == ' ' || b == '\t') {
                            return "whitespace before the request line";
                        }
                        if (b == '\r' || b == '\n') {
                            i++;
                            break;
                        }
                        state = IN_LINE;
                        break;
                    }
                    case IN_LINE: {
                        int lf = in.indexOf(i, end, (byte) '\n');
                        if (lf < 0) {
                            i = end;
                            break scan;
                        }
                        i = lf + 1;
                        state = LINE_START;
                        break;
                    }
                    case LINE_START: {
                        byte b = in.getByte(i++);
                        if (b == ' ' || b == '\t') {
                            return "obs-fold: a header line starts with whitespace";
                        }
                        state = b == '\r' ? BLANK_CR : b == '\n' ? DONE : IN_LINE;
                        break;
                    }
                    case BLANK_CR:
                        state = in.getByte(i++) == '\n' ? DONE : IN_LINE;
                        break;
                    default: // DONE
                        break scan;
                }
            }
            scanned = i - in.readerIndex();
            return null;
        }

        /** The decoder consumed {@code n} bytes. */
        void consumed(int n) {
            scanned = Math.max(0, scanned - n);
        }

        /** A request ended: the next byte is the first of the next one. */
        void reset() {
            state = START;
            scanned = 0;
        }
    }
}
