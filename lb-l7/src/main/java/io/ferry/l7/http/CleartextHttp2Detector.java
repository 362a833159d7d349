package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import java.nio.charset.StandardCharsets;

/**
 * HTTP/2 with prior knowledge on the plain HTTP port (RFC 9113, section 3.3): a connection whose first bytes are
 * HTTP/2's connection preface ({@code PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n}) is handed to HTTP/2, with the scheme
 * {@code http}; any other connection stays with the HTTP/1.1 handlers already in the pipeline. This is what
 * {@code h2load http://...}, {@code curl --http2-prior-knowledge} and plaintext gRPC clients send, and what HAProxy and
 * Envoy accept on a clear-text listener. The HTTP/1.1 {@code Upgrade: h2c} dance is not offered: such a request is
 * answered in HTTP/1.1, which RFC 9110 allows.
 *
 * <p>It looks at the first read only, then leaves the pipeline: an HTTP/1.1 connection pays one comparison of at
 * most 24 bytes. While the bytes so far are a strict prefix of the preface it keeps them and reads on; the HTTP/1.1
 * handler's idle and header timers still run, so a client that stops there is closed as any slow request is.
 *
 * <p>Confined to the connection's event loop.
 */
final class CleartextHttp2Detector extends ChannelInboundHandlerAdapter {

    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final HttpProxy proxy;
    private final int localPort;
    /** The first bytes, while they are a strict prefix of the preface. */
    private ByteBuf prefix;

    CleartextHttp2Detector(HttpProxy proxy, int localPort) {
        this.proxy = proxy;
        this.localPort = localPort;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        ByteBuf in = (ByteBuf) msg;
        if (prefix != null) {
            prefix.writeBytes(in);
            in.release();
            in = prefix;
            prefix = null;
        }
        int n = Math.min(in.readableBytes(), PREFACE.length);
        if (!startsWithPreface(in, n)) {
            ctx.fireChannelRead(in);
            leave(ctx);
        } else if (n < PREFACE.length) {
            prefix = ctx.alloc().buffer(PREFACE.length).writeBytes(in);
            in.release();
            ctx.read();
        } else {
            ChannelPipeline p = ctx.pipeline();
            ((HttpFrontendHandler) p.get("proxy")).handOver();
            p.remove("http");
            p.remove("drain");
            p.remove("proxy");
            proxy.addHttp2(p, localPort, "http");
            ctx.fireChannelRead(in);
            leave(ctx);
        }
    }

    /** Out of the pipeline, unless what the read set off closed the connection and took it out already. */
    private void leave(ChannelHandlerContext ctx) {
        if (!ctx.isRemoved()) {
            ctx.pipeline().remove(this);
        }
    }

    /** Whether the first {@code n} readable bytes of {@code in} are the first {@code n} of the preface. */
    private static boolean startsWithPreface(ByteBuf in, int n) {
        int at = in.readerIndex();
        for (int i = 0; i < n; i++) {
            if (in.getByte(at + i) != PREFACE[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (prefix != null) {
            prefix.release();
            prefix = null;
        }
    }
}
