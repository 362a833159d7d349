package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameTypes;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;

/**
 * One HTTP/2 stream of an {@link Http2Frontend} connection, as its {@link HttpFrontendHandler} sees it: what a child
 * channel was, without the channel. The handler reads from it on demand ({@link #read()}), and what arrives while
 * it does not wait is queued, its bytes kept out of the client's flow-control window until taken. It writes HTTP/1
 * objects ({@link #write}), which go out as HEADERS and DATA frames through the connection's encoder, and
 * {@link #close()} resets the stream.
 *
 * <p>The stream's end reaches the handler ({@code clientClosed}) in a task of the event loop, never from inside one
 * of the handler's own calls: a write that ends the stream can close it during the flush that follows.
 *
 * <p>Confined to the connection's event loop.
 */
final class Http2FrontendStream implements Runnable {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Http2FrontendStream.class);

    /** A last DATA payload this small is copied behind its frame header rather than written as a second buffer. */
    private static final int COPY_DATA_UP_TO = 1024;

    private final Http2Frontend connection;
    private final Http2Stream stream;
    private final ChannelHandlerContext ctx;
    private final Http2ConnectionEncoder encoder;
    /** The connection's state, looked up once: the encoder is a chain of decorators. */
    private final Http2Connection h2;
    private final HttpFrontendHandler handler;
    /** Frames that arrived while the handler did not want to read. */
    private ArrayDeque<Object> inbound;
    private boolean readPending;
    /** Whether the stream is in the connection's list of streams that were read this turn. */
    boolean inReadList;
    private boolean closed;
    private boolean closeDelivered;
    private boolean taskScheduled;
    /** The response ended before the request: reset (NO_ERROR) once its last frame has left the flow controller. */
    private boolean resetWhenSent;
    /** A final response head written and not yet sent: it goes out with what follows, or at the flush. */
    private HttpResponse heldHead;

    Http2FrontendStream(Http2Frontend connection, Http2Stream stream, int localPort, String scheme) {
        this.connection = connection;
        this.stream = stream;
        this.ctx = connection.context();
        this.encoder = connection.encoder();
        this.h2 = encoder.connection();
        this.handler = new HttpFrontendHandler(connection.proxy(), scheme, localPort, this);
    }

    void start() {
        handler.streamStarted();
    }

    // ---- what the connection hands over --------------------------------------------------------------------------

    /** A request head, body part or trailers for this stream, in order. */
    void received(Object msg) {
        if (closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (readPending && (inbound == null || inbound.isEmpty())) {
            deliver(msg);
            connection.noteRead(this);
        } else {
            if (inbound == null) {
                inbound = new ArrayDeque<>(4);
            }
            inbound.add(msg);
        }
    }

    /** The end of the connection's read: the handler's read-complete; it asks again if it wants more. */
    void readComplete() {
        readPending = false;
        if (!closeDelivered) {
            handler.clientReadComplete();
        }
    }

    void writabilityChanged() {
        if (!closeDelivered) {
            handler.clientWritabilityChanged();
        }
    }

    /** The stream closed (ended both ways, or reset by either side). */
    /** The client's address as text (the connection's). */
    String clientIp() {
        return connection.clientIp();
    }

    void closed() {
        if (closed) {
            return;
        }
        closed = true;
        heldHead = null;
        if (inbound != null) {
            for (Object m; (m = inbound.poll()) != null; ) {
                ReferenceCountUtil.release(m);
            }
        }
        schedule();
    }

    /** The stream's local side closed: its response's last frame was written. */
    void halfClosedLocally() {
        if (resetWhenSent) {
            schedule(); // not from inside the flow controller's write
        }
    }

    private void schedule() {
        if (!taskScheduled) {
            taskScheduled = true;
            try {
                ctx.executor().execute(this);
            } catch (RejectedExecutionException e) {
                // The event loop is shutting down: the stream's end still reaches the handler, which lets go of
                // what it holds.
                run();
            }
        }
    }

    @Override
    public void run() {
        taskScheduled = false;
        if (resetWhenSent && !closed && stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
            resetWhenSent = false;
            connection.reset(stream, Http2Error.NO_ERROR); // closes the stream: closed() follows
        }
        if (closed) {
            if (!closeDelivered) {
                closeDelivered = true;
                handler.clientClosed();
            }
            return;
        }
        if (readPending && inbound != null && !inbound.isEmpty()) {
            for (Object m; readPending && (m = inbound.poll()) != null; ) {
                deliver(m);
            }
            readPending = false;
            if (!closeDelivered) {
                handler.clientReadComplete();
            }
            connection.flushConnection(); // the window updates for what was taken
        }
    }

    private void deliver(Object msg) {
        int n = msg instanceof HttpContent ? ((HttpContent) msg).content().readableBytes() : 0;
        try {
            handler.clientMessage(msg);
        } catch (Throwable t) {
            logger.warn("HTTP/2 stream {} failed", stream.id(), t);
            close();
            return;
        }
        if (n > 0) {
            try {
                h2.local().flowController().consumeBytes(stream, n);
            } catch (Http2Exception e) {
                connection.reset(stream, Http2Error.INTERNAL_ERROR);
            }
        }
    }

    // ---- what the handler does ---------------------------------------------------------------------------------

    /** Asks for what arrives next (or is queued): handed over in a later task or read, never from inside this call. */
    void read() {
        readPending = true;
        if (inbound != null && !inbound.isEmpty()) {
            schedule();
        }
    }

    boolean isActive() {
        return !closed && stream.state() != Http2Stream.State.CLOSED && ctx.channel().isActive();
    }

    boolean isWritable() {
        return ctx.channel().isWritable() && connection.sendFlow().isWritable(stream);
    }

    ChannelHandlerContext connectionContext() {
        return ctx;
    }

    /**
     * Writes a response head, body part or trailers as HEADERS and DATA frames; flushed by {@link #flush()}. A final
     * response head is held until what follows it: a small last body part goes out in one buffer with it
     * ({@link #writeHeadAndLastNow}).
     */
    void write(Object msg) {
        if (closed || stream.state() == Http2Stream.State.CLOSED) {
            heldHead = null;
            ReferenceCountUtil.release(msg);
            return;
        }
        int id = stream.id();
        if (heldHead != null) {
            HttpResponse head = heldHead;
            heldHead = null;
            if (msg instanceof LastHttpContent && writeHeadAndLastNow(head, (LastHttpContent) msg)) {
                return;
            }
            writeHead(head);
        }
        if (msg instanceof HttpResponse) {
            HttpResponse r = (HttpResponse) msg;
            boolean informational = r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
            if (!(msg instanceof FullHttpResponse)) {
                if (informational) {
                    encoder.writeHeaders(ctx, id, HttpConversionUtil.toHttp2Headers(r, false), 0, false,
                                         ctx.voidPromise());
                } else {
                    heldHead = r;
                }
                return;
            }
            FullHttpResponse full = (FullHttpResponse) msg;
            Http2Headers headers = HttpConversionUtil.toHttp2Headers(r, false);
            boolean nothingMore = !informational && !full.content().isReadable() && full.trailingHeaders().isEmpty();
            encoder.writeHeaders(ctx, id, headers, 0, nothingMore, ctx.voidPromise());
            if (informational || nothingMore) {
                full.release();
            } else {
                writeLast(id, full.content(), full.trailingHeaders());
            }
            return;
        }
        if (msg instanceof LastHttpContent) {
            LastHttpContent last = (LastHttpContent) msg;
            writeLast(id, last.content(), last.trailingHeaders());
        } else if (msg instanceof HttpContent) {
            encoder.writeData(ctx, id, ((HttpContent) msg).content(), 0, false, ctx.voidPromise());
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Writes a final response head as a HEADERS frame that does not end the stream. */
    private void writeHead(HttpResponse head) {
        ByteBuf frame = headersFrame(head, 0);
        if (frame == null) {
            encoder.writeHeaders(ctx, stream.id(), HttpConversionUtil.toHttp2Headers(head, false), 0, false,
                                 ctx.voidPromise());
            return;
        }
        stream.headersSent(false);
        ctx.write(frame, ctx.voidPromise());
    }

    /**
     * Writes {@code head} and {@code last} in one buffer (a HEADERS frame, then a DATA frame that ends the stream, or
     * a HEADERS frame that ends it if {@code last} is empty) when {@code last} has no trailers and a body of at most
     * {@value #COPY_DATA_UP_TO} bytes that may be sent now ({@link #mayWriteLastDataNow}), and the head maps to a
     * header block of {@link Http2ResponseHeads}: the usual end of a small response. False, with nothing done,
     * otherwise.
     */
    private boolean writeHeadAndLastNow(HttpResponse head, LastHttpContent last) {
        ByteBuf content = last.content();
        int n = content.readableBytes();
        if (!last.trailingHeaders().isEmpty() || n > COPY_DATA_UP_TO || n > 0 && !mayWriteLastDataNow(n)) {
            return false;
        }
        ByteBuf frame = headersFrame(head, n == 0 ? 0 : Http2CodecUtil.FRAME_HEADER_LENGTH + n);
        if (frame == null) {
            return false;
        }
        stream.headersSent(false);
        if (n == 0) {
            frame.setByte(frame.readerIndex() + 4, Http2Flags.END_HEADERS | Http2Flags.END_STREAM);
        } else {
            debitSendWindows(n);
            frame.writeMedium(n).writeByte(Http2FrameTypes.DATA).writeByte(Http2Flags.END_STREAM)
                 .writeInt(stream.id()).writeBytes(content, content.readerIndex(), n);
        }
        content.release();
        ChannelPromise written = ctx.newPromise();
        ctx.write(frame, written);
        connection.closeStreamLocal(stream, written);
        return true;
    }

    /**
     * {@code head} as a HEADERS frame (END_HEADERS, not END_STREAM) with {@code room} more bytes of capacity behind
     * it, encoded by {@link Http2ResponseHeads}; null if the stream's first HEADERS cannot go out that way now:
     * the stream is past sending them, something of it waits in the flow controller, the connection is going away,
     * the client shrank the HPACK table (the next header block must then say so, and Netty's encoder does), or the
     * head does not map, exceeds the client's header list size or one frame of the smallest size a peer may set.
     */
    private ByteBuf headersFrame(HttpResponse head, int room) {
        Http2Stream.State state = stream.state();
        Http2HeadersEncoder.Configuration hpack = connection.hpackConfiguration();
        if (state != Http2Stream.State.OPEN && state != Http2Stream.State.HALF_CLOSED_REMOTE || stream.isHeadersSent()
            || connection.goingAway() || connection.sendFlow().hasFlowControlled(stream)
            || hpack.maxHeaderTableSize() < Http2CodecUtil.DEFAULT_HEADER_TABLE_SIZE) {
            return null;
        }
        Http2ResponseHeads.Block block = connection.headBlock();
        if (!Http2ResponseHeads.encode(head, block, hpack.maxHeaderListSize())
            || block.length > Http2CodecUtil.DEFAULT_MAX_FRAME_SIZE) {
            return null;
        }
        int length = block.length;
        ByteBuf frame = ctx.alloc().directBuffer(Http2CodecUtil.FRAME_HEADER_LENGTH + length + room);
        return frame.writeMedium(length).writeByte(Http2FrameTypes.HEADERS).writeByte(Http2Flags.END_HEADERS)
                    .writeInt(stream.id()).writeBytes(block.bytes, 0, length);
    }

    /** Takes over {@code content}. */
    private void writeLast(int id, ByteBuf content, HttpHeaders trailers) {
        if (trailers.isEmpty()) {
            if (!writeLastDataNow(id, content)) {
                encoder.writeData(ctx, id, content, 0, true, ctx.voidPromise());
            }
            return;
        }
        if (content.isReadable()) {
            encoder.writeData(ctx, id, content, 0, false, ctx.voidPromise());
        } else {
            content.release();
        }
        encoder.writeHeaders(ctx, id, HttpConversionUtil.toHttp2Headers(trailers, false), 0, true,
                             ctx.voidPromise());
    }

    /**
     * Writes {@code content} as the stream's last DATA frame at once (a payload up to {@value #COPY_DATA_UP_TO} bytes
     * in one buffer with its frame header, a larger one through the frame writer), as the flow controller would write
     * it at its next flush, when {@link #mayWriteLastDataNow} says it may: the usual end of a response whose head went
     * out first. The bytes are taken off the send windows ({@link #debitSendWindows}), and the local side closes
     * after the write, as the encoder does it. False, with nothing done, otherwise: the flow controller queues it.
     */
    private boolean writeLastDataNow(int id, ByteBuf content) {
        int n = content.readableBytes();
        if (!mayWriteLastDataNow(n)) {
            return false;
        }
        debitSendWindows(n);
        ChannelPromise written = ctx.newPromise();
        if (n <= COPY_DATA_UP_TO) {
            // Frame header and payload in one buffer: one write, one entry in the TLS handler's queue.
            ByteBuf frame = ctx.alloc().directBuffer(Http2CodecUtil.FRAME_HEADER_LENGTH + n);
            frame.writeMedium(n).writeByte(Http2FrameTypes.DATA).writeByte(Http2Flags.END_STREAM).writeInt(id)
                 .writeBytes(content, content.readerIndex(), n);
            content.release();
            ctx.write(frame, written);
        } else {
            encoder.frameWriter().writeData(ctx, id, content, 0, true, written);
        }
        connection.closeStreamLocal(stream, written);
        return true;
    }

    /**
     * Whether the stream's last DATA frame of {@code n} bytes may go out now, past the flow controller: the stream
     * may still send, nothing of it waits in the flow controller, both send windows hold the bytes, they fit one
     * frame of the smallest size a peer may set (16 KiB), the connection is writable and not going away.
     */
    private boolean mayWriteLastDataNow(int n) {
        Http2RemoteFlowController flow = connection.sendFlow();
        Http2Stream.State state = stream.state();
        return (state == Http2Stream.State.OPEN || state == Http2Stream.State.HALF_CLOSED_REMOTE)
               && !connection.goingAway() && !flow.hasFlowControlled(stream)
               && ctx.channel().isWritable() && n <= flow.windowSize(stream) && n <= connection.connectionSendWindow()
               && n <= Http2CodecUtil.DEFAULT_MAX_FRAME_SIZE; // the least a peer may allow: one frame, whatever it set
    }

    /**
     * Takes {@code n} bytes written past the flow controller off the stream's send window now and off the
     * connection's at its next flush ({@link Http2Frontend#sentPastFlowController}).
     */
    private void debitSendWindows(int n) {
        try {
            connection.sendFlow().incrementWindowSize(stream, -n);
        } catch (Http2Exception e) {
            throw new IllegalStateException(e); // a decrease cannot overflow
        }
        connection.sentPastFlowController(n);
    }

    void flush() {
        if (heldHead != null) {
            HttpResponse head = heldHead;
            heldHead = null;
            if (isActive()) {
                writeHead(head);
            }
        }
        connection.flushConnection();
    }

    /**
     * The response is all written. If the client is still sending its request (the proxy answered early), it is
     * asked to stop with a reset carrying NO_ERROR (RFC 9113, section 8.1), once the response has left.
     */
    void responseEnded(boolean requestComplete) {
        flush();
        if (requestComplete || closed || !stream.state().remoteSideOpen()) {
            return;
        }
        if (stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
            connection.reset(stream, Http2Error.NO_ERROR);
        } else {
            // The last DATA frame waits for the client's window: the reset follows it (halfClosedLocally).
            resetWhenSent = true;
        }
    }

    /** Resets the stream (CANCEL), as closing a child channel does. */
    void close() {
        if (!closed) {
            connection.reset(stream, Http2Error.CANCEL);
        }
    }

    @Override
    public String toString() {
        return "Http2FrontendStream(" + ctx.channel() + ", stream " + stream.id() + ')';
    }
}
