package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The cost of decoding an endpoint's response head and small body: Ferry's {@link Http1ClientCodec} decoder against
 * Netty's {@link HttpResponseDecoder} with the settings Ferry used before it ({@code decoder=netty}).
 *
 * <p>The response is what nginx sends for a 14-byte static file (status line, seven fields, {@code Content-Length}
 * body), 64 of them pipelined in one direct buffer that is handed to the decoder at once, as one read of a busy
 * keep-alive connection would be; the score is per response, the decoded head, body and end handed to a handler that
 * reads the head's field count and releases them. Package {@code io.ferry.l7.http}, because the codec is not public.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class UpstreamDecoderBenchmark {

    private static final int RESPONSES = 64;
    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\n"
            + "Server: nginx/1.22.1\r\n"
            + "Date: Fri, 27 Nov 2026 13:45:40 GMT\r\n"
            + "Content-Type: application/octet-stream\r\n"
            + "Content-Length: 14\r\n"
            + "Last-Modified: Fri, 27 Nov 2026 08:34:12 GMT\r\n"
            + "Connection: keep-alive\r\n"
            + "Accept-Ranges: bytes\r\n"
            + "\r\n"
            + "Hello, Ferry!\n").getBytes(StandardCharsets.US_ASCII);

    @Param({"ferry", "netty"})
    public String decoder;

    private EmbeddedChannel channel;
    private ByteBuf responses;

    @Setup(Level.Trial)
    public void setUp(Blackhole bh) {
        ChannelHandler d = decoder.equals("ferry")
                ? new Http1ClientCodec(8192, 64 * 1024, 64 * 1024).new ResponseDecoder(8192, 64 * 1024, 64 * 1024)
                : new HttpResponseDecoder(new HttpDecoderConfig().setMaxInitialLineLength(8192)
                                                                 .setMaxHeaderSize(64 * 1024)
                                                                 .setMaxChunkSize(64 * 1024)
                                                                 .setUseRfc9112TransferEncoding(true));
        channel = new EmbeddedChannel(d, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof HttpResponse) {
                    if (((HttpResponse) msg).decoderResult().isFailure()) {
                        throw new IllegalStateException("not decoded: " + msg);
                    }
                    bh.consume(((HttpResponse) msg).headers().size());
                }
                ReferenceCountUtil.release(msg);
            }
        });
        responses = Unpooled.directBuffer(RESPONSE.length * RESPONSES);
        for (int i = 0; i < RESPONSES; i++) {
            responses.writeBytes(RESPONSE);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.finishAndReleaseAll();
        responses.release();
    }

    @Benchmark
    @OperationsPerInvocation(RESPONSES)
    public void decode() {
        channel.pipeline().fireChannelRead(responses.retainedDuplicate());
    }
}
