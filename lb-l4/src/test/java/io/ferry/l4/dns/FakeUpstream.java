package io.ferry.l4.dns;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DefaultDnsResponse;
import io.netty.handler.codec.dns.DnsQuery;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponse;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.handler.codec.dns.TcpDnsQueryDecoder;
import io.netty.handler.codec.dns.TcpDnsResponseEncoder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A tiny upstream resolver on loopback for the forwarding tests, built on Netty's own DNS codec (so it checks
 * Ferry's relay against an independent implementation). It answers A records from a map, NXDOMAIN for
 * {@code nx.example.com}, a truncated empty answer over UDP for names starting with {@code tc.} (the full answer
 * over TCP), and nothing at all when silent.
 */
final class FakeUpstream implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Map<String, String> addresses = new ConcurrentHashMap<>();
    /** Every question received, as {@code "udp example.com. A"}. */
    final List<String> received = new CopyOnWriteArrayList<>();
    private final Channel udp;
    private final Channel tcp;
    private volatile boolean silent;

    FakeUpstream() throws InterruptedException {
        Channel u = null;
        Channel t = null;
        // UDP on a free port, then TCP on the same one; that one may be taken for TCP: try another.
        for (int attempt = 0; t == null; attempt++) {
            u = new Bootstrap().group(group).channel(NioDatagramChannel.class)
                               .handler(new ChannelInitializer<Channel>() {
                                   @Override
                                   protected void initChannel(Channel ch) {
                                       ch.pipeline().addLast(new DatagramDnsQueryDecoder(),
                                                             new DatagramDnsResponseEncoder(), new UdpHandler());
                                   }
                               })
                               .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            int port = ((InetSocketAddress) u.localAddress()).getPort();
            io.netty.channel.ChannelFuture f = new ServerBootstrap()
                    .group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new TcpDnsQueryDecoder(), new TcpDnsResponseEncoder(),
                                                  new TcpHandler());
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port)).await();
            if (f.isSuccess()) {
                t = f.channel();
            } else {
                u.close().sync();
                if (attempt == 10) {
                    throw new IllegalStateException("no free port", f.cause());
                }
            }
        }
        udp = u;
        tcp = t;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) udp.localAddress();
    }

    FakeUpstream answer(String name, String ipv4) {
        addresses.put(name.endsWith(".") ? name : name + '.', ipv4);
        return this;
    }

    FakeUpstream silent(boolean on) {
        silent = on;
        return this;
    }

    private void fill(DnsQuery query, DnsResponse response, boolean overUdp) throws Exception {
        DnsQuestion q = query.recordAt(DnsSection.QUESTION);
        response.addRecord(DnsSection.QUESTION, q);
        response.setRecursionAvailable(true);
        response.setRecursionDesired(query.isRecursionDesired());
        String name = q.name().toLowerCase(java.util.Locale.ROOT);
        if (name.equals("nx.example.com.")) {
            response.setCode(DnsResponseCode.NXDOMAIN);
            return;
        }
        if (overUdp && name.startsWith("tc.")) {
            response.setTruncated(true);
            return;
        }
        String ip = addresses.get(name);
        if (ip != null && q.type() == DnsRecordType.A) {
            response.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(
                    q.name(), DnsRecordType.A, 300, Unpooled.wrappedBuffer(InetAddress.getByName(ip).getAddress())));
        }
        if (name.startsWith("tc.") && ip != null) {
            for (int i = 0; i < 3; i++) {
                response.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(
                        q.name(), DnsRecordType.A, 300, Unpooled.wrappedBuffer(new byte[] {10, 9, 9, (byte) i})));
            }
        }
    }

    private final class UdpHandler extends SimpleChannelInboundHandler<DatagramDnsQuery> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramDnsQuery query) throws Exception {
            DnsRecord q = query.recordAt(DnsSection.QUESTION);
            received.add("udp " + q.name() + ' ' + q.type().name());
            if (silent) {
                return;
            }
            DatagramDnsResponse response = new DatagramDnsResponse(query.recipient(), query.sender(), query.id());
            fill(query, response, true);
            ctx.writeAndFlush(response);
        }
    }

    private final class TcpHandler extends SimpleChannelInboundHandler<DnsQuery> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DnsQuery query) throws Exception {
            DnsRecord q = query.recordAt(DnsSection.QUESTION);
            received.add("tcp " + q.name() + ' ' + q.type().name());
            if (silent) {
                return;
            }
            DefaultDnsResponse response = new DefaultDnsResponse(query.id());
            fill(query, response, false);
            ctx.writeAndFlush(response);
        }
    }

    @Override
    public void close() {
        udp.close().syncUninterruptibly();
        tcp.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
