package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.AbstractHttp2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;

import java.net.InetSocketAddress;
import java.util.ArrayList;

/**
 * The HTTP/2 front end of one client connection: Netty's connection handler (frame codec, HPACK, flow control,
 * stream states and the protocol's limits) with a frame listener that maps each stream straight onto an
 * {@link HttpFrontendHandler} through an {@link Http2FrontendStream}: no child channel, pipeline or frame object
 * per stream. A request's HEADERS become one {@code HttpRequest} (a {@code FullHttpRequest} when they end the
 * stream), its DATA frames {@code HttpContent}s and its trailing HEADERS a {@code LastHttpContent}, converted as
 * Netty's {@code Http2StreamFrameToHttpObjectCodec} does; the response goes back the other way, written through the
 * connection's encoder.
 *
 * <p>Flow control is per stream and on demand, as with Netty's child channels: a DATA frame's bytes are given back
 * to the client's window only when the stream's handler has taken the frame, which it does while its upstream
 * takes the body. A stream's writability is the connection's and the stream's window's together.
 *
 * <p>Confined to the connection's event loop.
 */
final class Http2Frontend extends Http2ConnectionHandler {

    /** The connection's receive window: what all of its streams may have in flight to the proxy together. */
    static final int CONNECTION_WINDOW = 1024 * 1024;

    private final HttpProxy proxy;
    private final int localPort;
    /** {@code https}, or {@code http} for HTTP/2 in clear text (prior knowledge on the HTTP port). */
    private final String scheme;
    private final Http2Connection.PropertyKey streamKey;
    /** Streams that were given something during the current read: their handlers get a read-complete at its end. */
    private final ArrayList<Http2FrontendStream> readThisTurn = new ArrayList<>(8);
    private ChannelHandlerContext ctx;
    private String clientIp;
    /**
     * DATA bytes written past the flow controller ({@link Http2FrontendStream}'s last frame of a small response)
     * and not yet taken off the connection's send window. They come off right before the flow controller next
     * writes, which it does only when the connection flushes ({@link #flush}); until then {@link
     * #connectionSendWindow} counts them. Taken off as each response was written, outside the flow controller's
     * own write, the decrease kept Netty's writability monitor re-checking the streams (1.5 % of the CPU under
     * {@code h2load -c64 -m10}, 0.2 % this way).
     */
    private int sentPastFlowController;
    /**
     * A GOAWAY was sent or received: {@code goAwaySent() || goAwayReceived()} as one field. One test rather than two
     * on the response path matters to the JIT: a warm-up's clients close with a GOAWAY of their own (received), while
     * a load generator that stops leaves the proxy to send one and answer the streams in flight after it (sent). With
     * two tests, the second had never been true when the response path was compiled, and the end of the first
     * HTTP/2 load threw that code away (a 0.4-0.45 s recompile of {@code Http2FrontendStream.write} under the next).
     */
    private boolean goingAway;
    /** The encoder's flow controller, looked up once: the encoder is a chain of decorators. */
    private final Http2RemoteFlowController sendFlow;
    private final Http2Stream connectionStream;
    /** The HPACK encoder's settings as the client set them: its table size and header list size. */
    private final Http2HeadersEncoder.Configuration hpackConfiguration;
    /** Where {@link Http2FrontendStream} puts a response head's header block together. */
    private final Http2ResponseHeads.Block headBlock = new Http2ResponseHeads.Block();

    private Http2Frontend(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings,
                          HttpProxy proxy, int localPort, String scheme) {
        super(decoder, encoder, settings);
        this.proxy = proxy;
        this.localPort = localPort;
        this.scheme = scheme;
        this.streamKey = connection().newKey();
        this.sendFlow = encoder.flowController();
        this.connectionStream = connection().connectionStream();
        this.hpackConfiguration = encoder.configuration().headersConfiguration();
        connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                Http2FrontendStream s = stream.getProperty(streamKey);
                if (s != null) {
                    s.closed();
                }
            }

            @Override
            public void onGoAwaySent(int lastStreamId, long errorCode, ByteBuf debugData) {
                goingAway = true;
            }

            @Override
            public void onGoAwayReceived(int lastStreamId, long errorCode, ByteBuf debugData) {
                goingAway = true;
            }

            @Override
            public void onStreamHalfClosed(Http2Stream stream) {
                Http2FrontendStream s = stream.getProperty(streamKey);
                if (s != null && stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
                    s.halfClosedLocally();
                }
            }
        });
        connection().remote().flowController().listener(stream -> {
            Http2FrontendStream s = stream.getProperty(streamKey);
            if (s != null) {
                s.writabilityChanged();
            }
        });
        decoder.frameListener(new FrameListener());
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.handlerAdded(ctx); // sends the preface (SETTINGS) if the channel is active
        if (ctx.channel().isActive()) {
            expandConnectionWindow();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        super.channelActive(ctx); // sends the preface
        expandConnectionWindow();
    }

    /**
     * A stream's window stays at 64 KiB; the connection's is raised to {@link #CONNECTION_WINDOW} (Envoy's default),
     * so that a few uploads side by side, or a stream its handler has not read yet, do not stall the others.
     */
    private void expandConnectionWindow() throws Http2Exception {
        Http2Stream connectionStream = connection().connectionStream();
        int delta = CONNECTION_WINDOW - connection().local().flowController().initialWindowSize(connectionStream);
        if (delta > 0) {
            connection().local().flowController().incrementWindowSize(connectionStream, delta);
        }
    }

    ChannelHandlerContext context() {
        return ctx;
    }

    HttpProxy proxy() {
        return proxy;
    }

    /** The client's address as text, worked out once for all the connection's streams. */
    String clientIp() {
        String ip = clientIp;
        if (ip == null) {
            ip = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
            clientIp = ip;
        }
        return ip;
    }

    /** Sends what the encoder holds (flow-controlled DATA included) and flushes the connection. */
    void flushConnection() {
        flush(ctx);
    }

    /**
     * Every flush of the connection: the flow controller writes what it holds here, so the bytes sent past it come
     * off the connection's send window first.
     */
    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (sentPastFlowController != 0) {
            int n = sentPastFlowController;
            sentPastFlowController = 0;
            try {
                sendFlow.incrementWindowSize(connectionStream, -n);
            } catch (Http2Exception e) {
                throw new IllegalStateException(e); // a decrease cannot overflow
            }
        }
        super.flush(ctx);
    }

    /** Whether a GOAWAY was sent or received on this connection ({@link #goingAway}). */
    boolean goingAway() {
        return goingAway;
    }

    /** The connection's send window, less what was {@linkplain #sentPastFlowController sent past} the controller. */
    int connectionSendWindow() {
        return sendFlow.windowSize(connectionStream) - sentPastFlowController;
    }

    /** The send (remote) flow controller. */
    Http2RemoteFlowController sendFlow() {
        return sendFlow;
    }

    Http2HeadersEncoder.Configuration hpackConfiguration() {
        return hpackConfiguration;
    }

    Http2ResponseHeads.Block headBlock() {
        return headBlock;
    }

    /** Notes {@code n} DATA bytes sent past the flow controller: they come off the send window at the next flush. */
    void sentPastFlowController(int n) {
        sentPastFlowController += n;
    }

    void noteRead(Http2FrontendStream s) {
        if (!s.inReadList) {
            s.inReadList = true;
            readThisTurn.add(s);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        ArrayList<Http2FrontendStream> list = readThisTurn;
        // Handlers may read from a stream that was just given its last frame, or reset one: index loop, no iterator.
        for (int i = 0; i < list.size(); i++) {
            Http2FrontendStream s = list.get(i);
            s.inReadList = false;
            s.readComplete();
        }
        list.clear();
        super.channelReadComplete(ctx);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        super.channelWritabilityChanged(ctx);
        if (connection().numActiveStreams() > 0) {
            connection().forEachActiveStream(stream -> {
                Http2FrontendStream s = stream.getProperty(streamKey);
                if (s != null) {
                    s.writabilityChanged();
                }
                return true;
            });
        }
    }

    @Override
    protected void onConnectionError(ChannelHandlerContext ctx, boolean outbound, Throwable cause,
                                     Http2Exception http2Ex) {
        if (!outbound) {
            ctx.fireExceptionCaught(cause); // counted by Http2ConnectionGuard
        }
        super.onConnectionError(ctx, outbound, cause, http2Ex);
    }

    /** Resets {@code stream} with {@code error} (unless it is closed already) and flushes. */
    void reset(Http2Stream stream, Http2Error error) {
        if (stream.state() != Http2Stream.State.CLOSED) {
            resetStream(ctx, stream.id(), error.code(), ctx.voidPromise());
            flushConnection();
        }
    }

    private final class FrameListener extends Http2FrameAdapter {

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int streamDependency,
                                  short weight, boolean exclusive, int padding, boolean endStream)
                throws Http2Exception {
            onHeadersRead(ctx, streamId, headers, padding, endStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
                                  boolean endStream) throws Http2Exception {
            Http2Stream stream = connection().stream(streamId);
            if (stream == null) {
                return;
            }
            Http2FrontendStream s = stream.getProperty(streamKey);
            if (s == null) {
                HttpRequest req;
                try {
                    if (endStream) {
                        req = HttpConversionUtil.toFullHttpRequest(streamId, headers, Unpooled.EMPTY_BUFFER, true);
                    } else {
                        req = HttpConversionUtil.toHttpRequest(streamId, headers, true);
                        if (!HttpUtil.isContentLengthSet(req)) {
                            req.headers().add(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
                        }
                    }
                } catch (Http2Exception e) {
                    throw e;
                } catch (RuntimeException e) {
                    // No :method, a method or header HTTP/1.1 cannot carry: this stream is refused, not the connection.
                    throw Http2Exception.streamError(streamId, Http2Error.PROTOCOL_ERROR, e, "malformed request head");
                }
                s = new Http2FrontendStream(Http2Frontend.this, stream, localPort, scheme);
                stream.setProperty(streamKey, s);
                s.start();
                s.received(req);
            } else {
                // Trailers: they end the stream.
                LastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, true);
                HttpConversionUtil.addHttp2ToHttpHeaders(streamId, headers, last.trailingHeaders(),
                                                         HttpVersion.HTTP_1_1, true, true);
                s.received(last);
            }
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            Http2Stream stream = connection().stream(streamId);
            Http2FrontendStream s = stream == null ? null : stream.getProperty(streamKey);
            if (s == null) {
                return data.readableBytes() + padding;
            }
            data.retain();
            s.received(endOfStream ? new DefaultLastHttpContent(data, true) : new DefaultHttpContent(data));
            // The padding is not the application's: given back now. The data's bytes when the handler takes them.
            return padding;
        }
    }

    /** Builds an {@link Http2Frontend} with the settings and limits of {@link AlpnHandler}. */
    static final class Builder extends AbstractHttp2ConnectionHandlerBuilder<Http2Frontend, Builder> {

        private final HttpProxy proxy;
        private final int localPort;
        private String scheme = "https";

        Builder(HttpProxy proxy, int localPort) {
            this.proxy = proxy;
            this.localPort = localPort;
            // Streams share the connection's window evenly: RFC 9113 deprecated the priority tree that Netty's
            // default (weighted fair queue) keeps per stream, and nginx and HAProxy ignore it too.
            Http2Connection connection = new DefaultHttp2Connection(true);
            connection.remote().flowController(
                    new DefaultHttp2RemoteFlowController(connection, new UniformStreamByteDistributor(connection)));
            connection(connection);
        }

        /** {@code http} for HTTP/2 in clear text; {@code https} (the default) after TLS. */
        Builder scheme(String scheme) {
            this.scheme = scheme;
            return this;
        }

        Builder settings(Http2Settings settings) {
            return initialSettings(settings);
        }

        Builder headerValidation(boolean validate) {
            return validateHeaders(validate);
        }

        Builder maxRstFramesPerWindow(int frames, int seconds) {
            return decoderEnforceMaxRstFramesPerWindow(frames, seconds);
        }

        @Override
        public Http2Frontend build() {
            return super.build();
        }

        @Override
        protected Http2Frontend build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
                                      Http2Settings initialSettings) {
            return new Http2Frontend(decoder, encoder, initialSettings, proxy, localPort, scheme);
        }
    }
}
