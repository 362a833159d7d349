package io.ferry.control.demo;

import io.ferry.l4.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's "pods", on loopback addresses that {@code config/demo}'s EndpointSlices name:
 * <ul>
 *   <li>{@code myblog-1} at 127.0.1.1:8002 and {@code myblog-2} at 127.0.1.2:8002 — HTTP; {@code GET /blog/index/}
 *       answers {@code 我的博客列表} and which endpoint served it;</li>
 *   <li>{@code mysql-0} at 127.0.1.3:3306 — sends a MySQL 5.7 greeting on connect, and answers anything else with
 *       MySQL's "Got packets out of order" error, as the tutorial's {@code curl mysql:3306} shows.</li>
 * </ul>
 */
public final class DemoBackends implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(DemoBackends.class);

    /** The demo's endpoints, as the manifests name them. */
    public static final List<InetSocketAddress> MYBLOG = List.of(new InetSocketAddress("127.0.1.1", 8002),
                                                                 new InetSocketAddress("127.0.1.2", 8002));
    public static final InetSocketAddress MYSQL = new InetSocketAddress("127.0.1.3", 3306);

    private final List<Channel> channels;

    private DemoBackends(List<Channel> channels) {
        this.channels = channels;
    }

    /** Starts every demo backend on {@code transport}'s event loops. */
    public static DemoBackends start(Transport transport) throws InterruptedException {
        List<Channel> channels = new ArrayList<>();
        try {
            for (int i = 0; i < MYBLOG.size(); i++) {
                String name = "myblog-" + (i + 1);
                InetSocketAddress at = MYBLOG.get(i);
                channels.add(bind(transport, at, new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                                              new BlogHandler(name, at));
                    }
                }));
            }
            channels.add(bind(transport, MYSQL, new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(new MysqlGreeter());
                }
            }));
        } catch (InterruptedException | RuntimeException e) {
            channels.forEach(Channel::close);
            throw e;
        }
        logger.info("Demo backends: myblog-1 {}, myblog-2 {}, mysql-0 {}", MYBLOG.get(0), MYBLOG.get(1), MYSQL);
        return new DemoBackends(channels);
    }

    private static Channel bind(Transport transport, InetSocketAddress at, ChannelInitializer<Channel> init)
            throws InterruptedException {
        return new ServerBootstrap().group(transport.group()).channel(transport.serverChannelType())
                                    .option(ChannelOption.SO_REUSEADDR, true)
                                    .childHandler(init).bind(at).sync().channel();
    }

    @Override
    public void close() {
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly();
        }
    }

    /** The myblog application: one page, and a 404 for the rest. */
    private static final class BlogHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final String name;
        private final InetSocketAddress at;

        BlogHandler(String name, InetSocketAddress at) {
            this.name = name;
            this.at = at;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            String path = new QueryStringDecoder(req.uri()).path();
            boolean found = path.equals("/blog/index/") || path.equals("/blog/index");
            String body = found
                          ? "我的博客列表\n(served by " + name + " at " + at.getHostString() + ':' + at.getPort() + ")\n"
                          : "404 page not found (" + name + ")\n";
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            FullHttpResponse res = new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1, found ? HttpResponseStatus.OK : HttpResponseStatus.NOT_FOUND,
                    Unpooled.wrappedBuffer(bytes));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
            res.headers().set("X-Served-By", name);
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            HttpUtil.setKeepAlive(res, keepAlive);
            if (keepAlive) {
                ctx.writeAndFlush(res);
            } else {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** A MySQL server that greets and then refuses everything, which is all the demo needs of one. */
    private static final class MysqlGreeter extends ChannelInboundHandlerAdapter {
        private static final String VERSION = "5.7.29";

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(greeting(ctx.alloc().buffer(), (int) (System.nanoTime() & 0xffff)));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            ByteBuf err = ctx.alloc().buffer();
            byte[] message = "Got packets out of order".getBytes(StandardCharsets.US_ASCII);
            writeHeader(err, 1 + 2 + 6 + message.length, 1);
            err.writeByte(0xff).writeShortLE(1156).writeByte('#')
               .writeBytes("08S01".getBytes(StandardCharsets.US_ASCII)).writeBytes(message);
            ctx.writeAndFlush(err).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        /** A protocol-10 handshake packet, as MySQL 5.7 sends it. */
        static ByteBuf greeting(ByteBuf out, int connectionId) {
            byte[] version = VERSION.getBytes(StandardCharsets.US_ASCII);
            byte[] plugin = "mysql_native_password".getBytes(StandardCharsets.US_ASCII);
            int length = 1 + version.length + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 13 + plugin.length + 1;
            writeHeader(out, length, 0);
            out.writeByte(10).writeBytes(version).writeByte(0).writeIntLE(connectionId);
            out.writeBytes("0123defg".getBytes(StandardCharsets.US_ASCII)).writeByte(0);
            out.writeShortLE(0xf7ff).writeByte(0x21).writeShortLE(0x0002).writeShortLE(0x81ff).writeByte(21);
            out.writeZero(10);
            out.writeBytes("hijklmnopqrs".getBytes(StandardCharsets.US_ASCII)).writeByte(0);
            out.writeBytes(plugin).writeByte(0);
            return out;
        }

        private static void writeHeader(ByteBuf out, int length, int sequence) {
            out.writeMediumLE(length).writeByte(sequence);
        }
    }
}
