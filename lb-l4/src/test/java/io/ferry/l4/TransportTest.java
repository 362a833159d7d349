package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TransportTest {

    @Test
    void parsesEveryNameInAnyCase() {
        assertThat(Transport.Kind.parse("io_uring")).isEqualTo(Transport.Kind.IO_URING);
        assertThat(Transport.Kind.parse("IO-URING")).isEqualTo(Transport.Kind.IO_URING);
        assertThat(Transport.Kind.parse("Epoll")).isEqualTo(Transport.Kind.EPOLL);
        assertThat(Transport.Kind.parse("nio")).isEqualTo(Transport.Kind.NIO);
        assertThat(Transport.Kind.parse("auto")).isEqualTo(Transport.Kind.best());
        assertThatThrownBy(() -> Transport.Kind.parse("kqueue"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected: auto, io_uring, epoll or nio");
    }

    @Test
    void bestPrefersIoUringThenEpollThenNio() {
        Transport.Kind best = Transport.Kind.best();
        if (Transport.Kind.IO_URING.isAvailable()) {
            assertThat(best).isEqualTo(Transport.Kind.IO_URING);
        } else if (Transport.Kind.EPOLL.isAvailable()) {
            assertThat(best).isEqualTo(Transport.Kind.EPOLL);
        } else {
            assertThat(best).isEqualTo(Transport.Kind.NIO);
        }
        assertThat(Transport.Kind.NIO.isAvailable()).isTrue();
    }

    @Test
    void theRelayPrefersEpoll() {
        assertThat(Transport.Kind.bestForRelay())
                .isEqualTo(Transport.Kind.EPOLL.isAvailable() ? Transport.Kind.EPOLL : Transport.Kind.best());
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void eachKindHandsOutItsOwnChannelTypesAndOptions(Transport.Kind kind) {
        assumeTrue(kind.isAvailable(), kind + " not available");
        try (Transport transport = Transport.create(kind, 1)) {
            assertThat(transport.kind()).isEqualTo(kind);
            assertThat(transport.isNative()).isEqualTo(kind != Transport.Kind.NIO);
            assertThat(transport.freeBindOption() != null).isEqualTo(kind != Transport.Kind.NIO);
            switch (kind) {
                case IO_URING -> {
                    assertThat(transport.serverChannelType()).isEqualTo(IoUringServerSocketChannel.class);
                    assertThat(transport.socketChannelType()).isEqualTo(IoUringSocketChannel.class);
                    assertThat(transport.datagramChannelType()).isEqualTo(IoUringDatagramChannel.class);
                    Channel ch = transport.socketChannelFactory(new InetSocketAddress("127.0.0.1", 80)).newChannel();
                    assertThat(ch).isInstanceOf(IoUringSocketChannel.class);
                    ch.unsafe().closeForcibly(); // never registered: nothing but the socket to close
                }
                case EPOLL -> assertThat(transport.serverChannelType()).isEqualTo(EpollServerSocketChannel.class);
                case NIO -> assertThat(transport.serverChannelType()).isEqualTo(NioServerSocketChannel.class);
            }
        }
    }

    /**
     * The relay and the edge do not set TCP_NODELAY (a setsockopt per connection): they rely on Netty's socket
     * channels turning it on when they are created, the accepted ones and the connecting ones alike.
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void socketsHaveNagleOffWithoutAskingForIt(Transport.Kind kind) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        try (Transport transport = Transport.create(kind, 1)) {
            CompletableFuture<Boolean> accepted = new CompletableFuture<>();
            Channel server = new ServerBootstrap()
                    .group(transport.group())
                    .channel(transport.serverChannelType())
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelActive(ChannelHandlerContext ctx) {
                            accepted.complete(ctx.channel().config().getOption(ChannelOption.TCP_NODELAY));
                            ctx.fireChannelActive();
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            try {
                InetSocketAddress at = (InetSocketAddress) server.localAddress();
                Channel client = new Bootstrap()
                        .group(transport.group())
                        .channelFactory(transport.socketChannelFactory(at))
                        .handler(new ChannelInboundHandlerAdapter())
                        .connect(at).sync().channel();
                try {
                    assertThat(client.config().getOption(ChannelOption.TCP_NODELAY)).isTrue();
                    assertThat(accepted.get(10, TimeUnit.SECONDS)).isTrue();
                } finally {
                    client.close().sync();
                }
            } finally {
                server.close().sync();
            }
        }
    }
}
