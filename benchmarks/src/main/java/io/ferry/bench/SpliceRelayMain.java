package io.ferry.bench;

import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import io.ferry.l4.L4Table;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import io.ferry.l4.RandomBalancer;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bulk TCP through the L4 relay, copying (Ferry's {@link ServiceProxy}) against a minimal relay that moves the
 * bytes with epoll {@code splice(2)} (Netty's {@code spliceTo}), on one event loop, to a sink on another event loop
 * that counts and discards; "direct" is the client to the sink with no relay. Not a JMH benchmark: each run is one transfer of {@code GiB} gibibytes, timed from the first write to
 * the sink's last byte, alternating the two relays. Loopback only.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar io.ferry.bench.SpliceRelayMain [GiB] [rounds]</pre>
 */
public final class SpliceRelayMain {

    private SpliceRelayMain() {
    }

    public static void main(String[] args) throws Exception {
        long bytes = (long) (Double.parseDouble(args.length > 0 ? args[0] : "2") * (1L << 30));
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        try (Transport transport = Transport.create(Transport.Kind.EPOLL, 1);
             Transport sinkTransport = Transport.create(Transport.Kind.EPOLL, 1)) {
            AtomicLong sunk = new AtomicLong();
            // The sink has its own event loop, so that the relay's loop does only the relaying.
            Channel sink = new ServerBootstrap()
                    .group(sinkTransport.group())
                    .channel(EpollServerSocketChannel.class)
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public boolean isSharable() {
                            return true;
                        }

                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            sunk.addAndGet(((ByteBuf) msg).readableBytes());
                            ((ByteBuf) msg).release();
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            InetSocketAddress sinkAddress = (InetSocketAddress) sink.localAddress();

            ServiceProxy copy = new ServiceProxy(transport, TcpProxyConfig.DEFAULT);
            ListenerKey key = ListenerKey.of(InetAddress.getLoopbackAddress(), 0, Protocol.TCP);
            copy.apply(L4Table.builder().add(key, Backend.of("bench/sink:1/TCP", List.of(Endpoint.of(sinkAddress)),
                                                               RandomBalancer.INSTANCE)).build());
            InetSocketAddress copyAddress = (InetSocketAddress) copy.listeners().get(key).localAddress();

            Channel splice = new ServerBootstrap()
                    .group(transport.group())
                    .channel(EpollServerSocketChannel.class)
                    .childOption(EpollChannelOption.EPOLL_MODE, EpollMode.LEVEL_TRIGGERED)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel in) {
                            new Bootstrap().group(in.eventLoop()).channel(EpollSocketChannel.class)
                                           .option(EpollChannelOption.EPOLL_MODE, EpollMode.LEVEL_TRIGGERED)
                                           .handler(new ChannelInboundHandlerAdapter())
                                           .connect(sinkAddress).addListener(f -> {
                                               Channel out = ((io.netty.channel.ChannelFuture) f).channel();
                                               ((EpollSocketChannel) in).spliceTo((EpollSocketChannel) out,
                                                                                  Integer.MAX_VALUE);
                                               in.config().setAutoRead(true);
                                           });
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            InetSocketAddress spliceAddress = (InetSocketAddress) splice.localAddress();

            // Warm up both paths, then alternate.
            run("warm-up copy", copyAddress, bytes / 4, sunk);
            run("warm-up splice", spliceAddress, bytes / 4, sunk);
            run("direct (warm-up)", sinkAddress, bytes / 4, sunk);
            for (int r = 0; r < rounds; r++) {
                run("copy", copyAddress, bytes, sunk);
                run("splice", spliceAddress, bytes, sunk);
                run("direct", sinkAddress, bytes, sunk);
            }
            copy.close();
            splice.close().sync();
            sink.close().sync();
        }
    }

    private static void run(String name, InetSocketAddress to, long bytes, AtomicLong sunk) throws Exception {
        byte[] chunk = new byte[256 * 1024];
        long start = sunk.get();
        long t0 = System.nanoTime();
        try (Socket s = new Socket()) {
            s.setSendBufferSize(4 << 20);
            s.connect(to);
            OutputStream out = s.getOutputStream();
            for (long sent = 0; sent < bytes; sent += chunk.length) {
                out.write(chunk, 0, (int) Math.min(chunk.length, bytes - sent));
            }
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (sunk.get() - start < bytes && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long got = sunk.get() - start;
        System.out.printf("%-18s %6.2f GiB in %6.2f s = %7.2f Gbit/s%s%n", name, got / (double) (1L << 30), seconds,
                          got * 8 / seconds / 1e9, got < bytes ? "  (INCOMPLETE)" : "");
    }
}
