package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandler;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The proxy's HTTP/1.x encoder writes the bytes Netty's encoders write, for every kind of message sequence, and
 * sends a head and the small body behind it as one buffer.
 */
class Http1EncoderTest {

    // ---- what the proxy writes: one sequence per response or request, then a flush ------------------------------

    private static HttpHeaders headers(Object... nameValues) {
        HttpHeaders h = DefaultHttpHeadersFactory.headersFactory().newHeaders();
        for (int i = 0; i < nameValues.length; i += 2) {
            h.add((String) nameValues[i], nameValues[i + 1]);
        }
        return h;
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    private static ByteBuf bytes(int n) {
        ByteBuf b = Unpooled.buffer(n);
        for (int i = 0; i < n; i++) {
            b.writeByte('a' + i % 26);
        }
        return b;
    }

    private static DefaultHttpResponse response(int code, Object... nameValues) {
        return new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(code), headers(nameValues));
    }

    /** Response sequences, each made anew per call (messages are consumed by writing them). */
    private static List<Supplier<List<Object>>> responses() {
        List<Supplier<List<Object>>> all = new ArrayList<>();
        all.add(() -> List.of(response(200, "Content-Length", "5", "Content-Type", "text/plain"),
                              new DefaultLastHttpContent(bytes("hello"))));
        all.add(() -> List.of(response(200, "Content-Length", "0"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(response(200, "Content-Length", "20000"), new DefaultHttpContent(bytes(12000)),
                              new DefaultLastHttpContent(bytes(8000))));
        all.add(() -> List.of(response(200, "Content-Length", "9000"), new DefaultLastHttpContent(bytes(9000))));
        all.add(() -> List.of(response(200, "Content-Length", "6"), new DefaultHttpContent(bytes("abc")),
                              bytes("def"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(response(200, "Transfer-Encoding", "chunked"), new DefaultHttpContent(bytes(300)),
                              new DefaultHttpContent(Unpooled.EMPTY_BUFFER), new DefaultHttpContent(bytes(10000)),
                              new DefaultLastHttpContent(bytes(17))));
        all.add(() -> {
            DefaultLastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
            last.trailingHeaders().add("Grpc-Status", "0").add("X-Checksum", "abc");
            return List.of(response(200, "Transfer-Encoding", "chunked"), new DefaultHttpContent(bytes(16)), last);
        });
        all.add(() -> {
            DefaultLastHttpContent last = new DefaultLastHttpContent(bytes(20000));
            last.trailingHeaders().add("X-Sum", "1");
            return List.of(response(200, "Transfer-Encoding", "chunked"), last);
        });
        all.add(() -> List.of(response(200, "Transfer-Encoding", "chunked"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(response(204, "Content-Length", "0", "Transfer-Encoding", "chunked"),
                              LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(response(205, "Transfer-Encoding", "chunked"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(response(304, "Content-Length", "120"), new DefaultLastHttpContent(bytes(3))));
        all.add(() -> List.of(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE),
                              response(200, "Content-Length", "2"), new DefaultLastHttpContent(bytes("ok"))));
        all.add(() -> List.of(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND,
                                                          bytes("not found\n"),
                                                          headers("Content-Length", "10"), headers())));
        all.add(() -> List.of(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, bytes(5000),
                                                          headers("Content-Length", "5000"), headers())));
        all.add(() -> {
            DefaultFullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                                                    bytes(40), headers("Transfer-Encoding",
                                                                                       "chunked"), headers());
            r.trailingHeaders().add("X-T", "v");
            return List.of(r);
        });
        all.add(() -> List.of(new DefaultHttpResponse(HttpVersion.HTTP_1_0, new HttpResponseStatus(299, "Odd \u00e9"),
                                                      headers("Connection", "close")),
                              new DefaultHttpContent(bytes("until close")), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(599),
                                                      headers("Content-Length", "1")),
                              new DefaultLastHttpContent(bytes("x"))));
        all.add(() -> List.of(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                          HttpResponseStatus.SWITCHING_PROTOCOLS, Unpooled.EMPTY_BUFFER,
                                                          headers("Upgrade", "websocket", "Connection", "Upgrade"),
                                                          headers())));
        all.add(() -> List.of(response(200, "Content-Length", "2"), new DefaultLastHttpContent(bytes("ok")),
                              response(200, "Content-Length", "3"), new DefaultLastHttpContent(bytes("two"))));
        return all;
    }

    private static DefaultHttpRequest request(HttpMethod method, String uri, Object... nameValues) {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri, headers(nameValues));
    }

    private static List<Supplier<List<Object>>> requests() {
        List<Supplier<List<Object>>> all = new ArrayList<>();
        all.add(() -> List.of(request(HttpMethod.GET, "/small?x=1", "Host", "a.example", "X-Forwarded-For", "1.2.3.4"),
                              LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(request(HttpMethod.GET, ""), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(request(HttpMethod.GET, "http://a.example"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(request(HttpMethod.GET, "http://a.example?q=/"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(request(HttpMethod.GET, "http://a.example/p?q"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(request(HttpMethod.GET, "/caf\u00e9"), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(request(HttpMethod.POST, "/upload", "Content-Length", "30000"),
                              new DefaultHttpContent(bytes(10000)), new DefaultHttpContent(bytes(10000)),
                              new DefaultLastHttpContent(bytes(10000))));
        all.add(() -> List.of(request(HttpMethod.PUT, "/c", "Transfer-Encoding", "chunked"),
                              new DefaultHttpContent(bytes(255)), new DefaultLastHttpContent(bytes(4096))));
        all.add(() -> List.of(new DefaultHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET, "/old", headers()),
                              LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf("PURGE"), "/x",
                                                     headers()), LastHttpContent.EMPTY_LAST_CONTENT));
        all.add(() -> List.of(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/f", bytes("body"),
                                                         headers("Content-Length", "4"), headers())));
        return all;
    }

    /** Writes each message with the void promise, as the proxy does, then flushes; the buffers that came out. */
    private static List<ByteBuf> write(ChannelOutboundHandler encoder, List<Object> messages) {
        EmbeddedChannel ch = new EmbeddedChannel(encoder);
        for (Object m : messages) {
            ch.write(m, ch.voidPromise());
        }
        ch.flush();
        List<ByteBuf> out = new ArrayList<>();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            out.add(b);
        }
        assertThat(ch.finish()).isFalse();
        return out;
    }

    private static String drain(List<ByteBuf> buffers) {
        StringBuilder s = new StringBuilder();
        for (ByteBuf b : buffers) {
            s.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return s.toString();
    }

    /** Each sequence written through Netty's encoder and through Ferry's: the same bytes. */
    private static void assertSameBytes(List<Supplier<List<Object>>> sequences, Supplier<ChannelOutboundHandler> netty,
                                        Supplier<ChannelOutboundHandler> ours) {
        for (Supplier<List<Object>> sequence : sequences) {
            String expected = drain(write(netty.get(), sequence.get()));
            String actual = drain(write(ours.get(), sequence.get()));
            assertThat(actual).as("after %s", expected.lines().findFirst().orElse("")).isEqualTo(expected);
        }
    }

    @Test
    void responsesAreTheBytesNettysEncoderWrites() {
        assertSameBytes(responses(), HttpResponseEncoder::new, Http1Encoder.ResponseEncoder::new);
    }

    @Test
    void requestsAreTheBytesNettysEncoderWrites() {
        assertSameBytes(requests(), HttpRequestEncoder::new, Http1Encoder.RequestEncoder::new);
    }

    // ---- how the bytes leave ---------------------------------------------------------------------------------------

    @Test
    void aHeadAndItsSmallBodyLeaveInOneBuffer() {
        List<ByteBuf> out = write(new Http1Encoder.ResponseEncoder(),
                                  List.of(response(200, "Content-Length", "5"),
                                          new DefaultLastHttpContent(bytes("hello"))));
        assertThat(out).hasSize(1);
        assertThat(drain(out)).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");

        // A GET: its empty end adds nothing.
        out = write(new Http1Encoder.RequestEncoder(), List.of(request(HttpMethod.GET, "/"),
                                                               LastHttpContent.EMPTY_LAST_CONTENT));
        assertThat(out).hasSize(1);
        assertThat(drain(out)).isEqualTo("GET / HTTP/1.1\r\n\r\n");

        // A small chunked body, its chunk and the last chunk behind the head.
        out = write(new Http1Encoder.ResponseEncoder(), List.of(response(200, "Transfer-Encoding", "chunked"),
                                                                new DefaultLastHttpContent(bytes("hi"))));
        assertThat(out).hasSize(1);
        assertThat(drain(out)).endsWith("\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    }

    @Test
    void aLargeBodyIsNotCopied() {
        ByteBuf body = bytes(Http1Encoder.JOIN_LIMIT + 1);
        List<ByteBuf> out = write(new Http1Encoder.ResponseEncoder(),
                                  List.of(response(200, "Content-Length", String.valueOf(body.readableBytes())),
                                          new DefaultLastHttpContent(body)));
        assertThat(out).hasSize(2);
        assertThat(out.get(1)).isSameAs(body);
        drain(out);
    }

    @Test
    void aHeadIsHeldOnlyUntilTheFlush() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1Encoder.ResponseEncoder());
        ch.write(response(200, "Content-Length", "2"), ch.voidPromise());
        assertThat((Object) ch.readOutbound()).isNull(); // written, not flushed: nothing has left either way
        ch.flush();
        ByteBuf head = ch.readOutbound();
        assertThat(head.toString(StandardCharsets.ISO_8859_1))
            .isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        head.release();
        ch.writeAndFlush(new DefaultLastHttpContent(bytes("ok")));
        ByteBuf body = ch.readOutbound();
        assertThat(body.toString(StandardCharsets.ISO_8859_1)).isEqualTo("ok");
        body.release();
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void aWriteThatIsWaitedForCompletesWithItsBytes() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1Encoder.ResponseEncoder());
        ChannelFuture head = ch.write(response(200, "Content-Length", "2"));
        ChannelFuture last = ch.write(new DefaultLastHttpContent(bytes("ok")));
        ChannelFuture close = ch.write(Unpooled.EMPTY_BUFFER); // the close idiom, between messages
        ch.flush();
        assertThat(head.isSuccess()).isTrue();
        assertThat(last.isSuccess()).isTrue();
        assertThat(close.isSuccess()).isTrue();
        assertThat(drain(readAll(ch))).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

        // An empty end written with a promise still completes it, though no byte goes with it.
        ch.write(response(200, "Content-Length", "0"), ch.voidPromise());
        ChannelFuture end = ch.write(LastHttpContent.EMPTY_LAST_CONTENT);
        ch.flush();
        assertThat(end.isSuccess()).isTrue();
        assertThat(drain(readAll(ch))).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assertThat(ch.finish()).isFalse();
    }

    private static List<ByteBuf> readAll(EmbeddedChannel ch) {
        List<ByteBuf> out = new ArrayList<>();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            out.add(b);
        }
        return out;
    }

    /** Below the encoder, as an {@code SslHandler} is: flushes what was written before the close passes. */
    private static final class FlushOnClose extends ChannelOutboundHandlerAdapter {
        @Override
        public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
            ctx.flush();
            ctx.close(promise);
        }
    }

    @Test
    void aHeldHeadIsNotLostWhenTheChannelClosesOrTheEncoderLeaves() {
        // Closed before a flush: the held head is passed on first, as a written message; a TLS handler below
        // flushes it before its close_notify.
        EmbeddedChannel ch = new EmbeddedChannel(new FlushOnClose(), new Http1Encoder.ResponseEncoder());
        ch.write(response(200, "Content-Length", "2"), ch.voidPromise());
        ch.close();
        assertThat(drain(readAll(ch))).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        assertThat(ch.finish()).isFalse();

        // Taken out of the pipeline: the held head goes on, in order, before what is written after.
        Http1Encoder.ResponseEncoder encoder = new Http1Encoder.ResponseEncoder();
        ch = new EmbeddedChannel(encoder);
        ch.write(response(200, "Connection", "Upgrade"), ch.voidPromise());
        ch.pipeline().remove(encoder);
        ch.writeAndFlush(bytes("raw"));
        assertThat(drain(readAll(ch))).isEqualTo("HTTP/1.1 200 OK\r\nConnection: Upgrade\r\n\r\nraw");
        assertThat(ch.finish()).isFalse();

        // Taken out of a closed channel's pipeline: the held head is released (the leak check would see it).
        encoder = new Http1Encoder.ResponseEncoder();
        ch = new EmbeddedChannel(encoder);
        ch.write(response(200, "Content-Length", "2"), ch.voidPromise());
        ch.pipeline().fireChannelInactive();
        ch.unsafe().closeForcibly();
        ch.pipeline().remove(encoder);
        assertThat((Object) ch.readOutbound()).isNull();
    }

    @Test
    void aBodyWithNoHeadOrASecondHeadIsRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1Encoder.ResponseEncoder());
        ChannelFuture body = ch.writeAndFlush(new DefaultLastHttpContent(bytes("stray")));
        assertThat(body.cause()).isInstanceOf(IllegalStateException.class).hasMessageContaining("unexpected message");
        ChannelFuture raw = ch.writeAndFlush(bytes("stray"));
        assertThat(raw.cause()).isInstanceOf(IllegalStateException.class);

        ch.write(response(200, "Content-Length", "2"), ch.voidPromise());
        ChannelFuture second = ch.writeAndFlush(response(200));
        assertThat(second.cause()).isInstanceOf(IllegalStateException.class);
        drain(readAll(ch));
        assertThat(ch.finishAndReleaseAll()).isFalse();
        assertThatCode(ch::checkException).doesNotThrowAnyException();
    }

    @Test
    void theHeadSizeEstimateFollowsTheHeads() {
        // Many heads larger than the first estimate: each is still written whole.
        Http1Encoder.ResponseEncoder encoder = new Http1Encoder.ResponseEncoder();
        EmbeddedChannel ch = new EmbeddedChannel(encoder);
        for (int i = 0; i < 20; i++) {
            DefaultHttpResponse r = response(200, "Content-Length", "1");
            r.headers().add(HttpHeaderNames.SET_COOKIE, "c".repeat(100 * i));
            ch.write(r, ch.voidPromise());
            ch.write(new DefaultLastHttpContent(bytes("x")), ch.voidPromise());
            ch.flush();
            String out = drain(readAll(ch));
            assertThat(out).endsWith("\r\n\r\nx").contains("c".repeat(100 * i) + "\r\n");
        }
        assertThat(ch.finish()).isFalse();
    }
}
