package io.ferry.l4.testing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LeakDetectionExtensionTest {

    private static final String NL = System.lineSeparator();

    /** The frames of a receive buffer that Netty's io_uring transport allocated for a read it submitted. */
    private static final String URING_READ = ""
            + "\tio.netty.buffer.AdaptiveByteBufAllocator.newDirectBuffer(AdaptiveByteBufAllocator.java:67)" + NL
            + "\tio.netty.channel.DefaultMaxMessagesRecvByteBufAllocator$MaxMessageHandle.allocate("
            + "DefaultMaxMessagesRecvByteBufAllocator.java:120)" + NL
            + "\tio.netty.channel.uring.IoUringRecvByteAllocatorHandle.allocate(IoUringRecvByteAllocatorHandle.java:57)"
            + NL
            + "\tio.netty.channel.uring.AbstractIoUringStreamChannel$IoUringStreamUnsafe.scheduleRead0("
            + "AbstractIoUringStreamChannel.java:444)" + NL
            + "\tio.netty.channel.uring.AbstractIoUringChannel$AbstractUringUnsafe.pollIn(AbstractIoUringChannel.java:918)"
            + NL;

    private static final String TOUCHED = ""
            + "\tio.netty.channel.DefaultChannelPipeline.touch(DefaultChannelPipeline.java:115)" + NL
            + "\tio.ferry.l7.http.HttpFrontendHandler.channelRead(HttpFrontendHandler.java:200)" + NL;

    @Test
    void aReadBufferNoHandlerSawIsTheTransports() {
        String records = NL + "Recent access records: " + NL + "Created at:" + NL + URING_READ;

        assertThat(LeakDetectionExtension.isUnusedTransportReadBuffer(records)).isTrue();
    }

    @Test
    void aReadBufferAHandlerTouchedIsALeak() {
        String records = NL + "Recent access records: " + NL + "#1:" + NL + TOUCHED + "Created at:" + NL
                         + URING_READ;

        assertThat(LeakDetectionExtension.isUnusedTransportReadBuffer(records)).isFalse();
    }

    @Test
    void aBufferFerryAllocatedIsALeak() {
        String records = NL + "Recent access records: " + NL + "Created at:" + NL
                         + "\tio.netty.buffer.AbstractByteBufAllocator.directBuffer(AbstractByteBufAllocator.java:159)"
                         + NL + "\tio.ferry.l7.http.Http1ClientCodec.encode(Http1ClientCodec.java:90)" + NL;

        assertThat(LeakDetectionExtension.isUnusedTransportReadBuffer(records)).isFalse();
    }

    @Test
    void anEpollReadBufferIsALeak() {
        String records = NL + "Recent access records: " + NL + "Created at:" + NL
                         + URING_READ.replace("io.netty.channel.uring.", "io.netty.channel.epoll.");

        assertThat(LeakDetectionExtension.isUnusedTransportReadBuffer(records)).isFalse();
    }
}
