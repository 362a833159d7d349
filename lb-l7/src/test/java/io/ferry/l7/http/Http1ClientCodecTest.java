package io.ferry.l7.http;

import static io.netty.handler.codec.http.HttpMethod.GET;
import static io.netty.handler.codec.http.HttpMethod.HEAD;
import static io.netty.handler.codec.http.HttpMethod.POST;
import static io.netty.handler.codec.http.HttpVersion.HTTP_1_1;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Http1ClientCodec} on an {@link EmbeddedChannel}: the decoding of upstream responses (status line, headers,
 * limits, framing, failures, a close in the middle, bytes split anywhere) and the encoding of requests.
 *
 * <p>Bytes are fed in buffers of a pooled allocator without caches (also the channel's allocator): a retained slice
 * of such a buffer has its own reference count, and every buffer not released shows in the arena's count of active
 * allocations, checked after each test.
 */
class Http1ClientCodecTest {

    private static final int MAX_INITIAL_LINE = 8192;
    private static final int MAX_HEADER_SIZE = 64 * 1024;
    private static final int MAX_CHUNK_SIZE = 64 * 1024;

    private final PooledByteBufAllocator alloc = new PooledByteBufAllocator(false, 1, 0, 8192, 9, 0, 0, false);
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private final List<Object> taken = new ArrayList<>();
    private final EmbeddedChannel ch = channel(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK_SIZE);

    @AfterEach
    void releaseEverything() {
        List<Integer> refCnts = new ArrayList<>();
        for (Object m : taken) {
            refCnts.add(m instanceof ReferenceCounted r ? r.refCnt() : 1);
            ReferenceCountUtil.release(m);
        }
        for (EmbeddedChannel c : channels) {
            c.finishAndReleaseAll();
        }
        assertThat(refCnts).as("reference counts of the decoded messages when taken").allMatch(n -> n == 1);
        assertThat(alloc.metric().heapArenas().get(0).numActiveAllocations()).as("buffers not released").isZero();
    }

    // ---- helpers

    private EmbeddedChannel channel(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
        EmbeddedChannel c = new EmbeddedChannel();
        c.config().setAllocator(alloc);
        c.pipeline().addLast(new Http1ClientCodec(maxInitialLineLength, maxHeaderSize, maxChunkSize));
        channels.add(c);
        return c;
    }

    /** Writes a request (so the codec knows its method) and drops the bytes it is encoded to. */
    private static void request(EmbeddedChannel c, HttpMethod method) {
        c.writeOutbound(new DefaultFullHttpRequest(HTTP_1_1, method, "/"));
        for (Object m; (m = c.readOutbound()) != null; ) {
            ReferenceCountUtil.release(m);
        }
    }

    private void request(HttpMethod method) {
        request(ch, method);
    }

    private void feed(EmbeddedChannel c, String bytes) {
        ByteBuf b = alloc.heapBuffer(bytes.length());
        b.writeCharSequence(bytes, ISO_8859_1);
        c.writeInbound(b);
    }

    private void feed(String bytes) {
        feed(ch, bytes);
    }

    /** Every decoded message waiting; released after the test. */
    private List<Object> readAll(EmbeddedChannel c) {
        List<Object> out = new ArrayList<>();
        for (Object m; (m = c.readInbound()) != null; ) {
            out.add(m);
        }
        taken.addAll(out);
        return out;
    }

    private List<Object> readAll() {
        return readAll(ch);
    }

    /** A GET, then its response's bytes: what they decode to. */
    private List<Object> exchange(String response) {
        request(GET);
        feed(response);
        return readAll();
    }

    /** All message bytes up to the close, the channel closed (what the close adds is part of the answer). */
    private List<Object> closeAndReadAll() {
        ch.finish();
        return readAll();
    }

    private static String body(List<?> msgs) {
        StringBuilder sb = new StringBuilder();
        for (Object m : msgs) {
            if (m instanceof HttpContent c) {
                sb.append(c.content().toString(ISO_8859_1));
            }
        }
        return sb.toString();
    }

    /** The raw bytes of messages that must all be ByteBufs. */
    private static String raw(List<Object> msgs) {
        StringBuilder sb = new StringBuilder();
        for (Object m : msgs) {
            assertThat(m).as("a raw message").isInstanceOf(ByteBuf.class);
            sb.append(((ByteBuf) m).toString(ISO_8859_1));
        }
        return sb.toString();
    }

    private static boolean failed(Object m) {
        return m instanceof DecoderResultProvider p && p.decoderResult().isFailure();
    }

    private static List<String> lines(HttpHeaders headers) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, String> e : headers) {
            out.add(e.getKey() + ": " + e.getValue());
        }
        return out;
    }

    /** Exactly one response, decoded without failure: an HttpResponse, HttpContents, a LastHttpContent. */
    private static HttpResponse assertOneResponse(List<Object> msgs) {
        assertThat(msgs).as("decoded messages").hasSizeGreaterThanOrEqualTo(2);
        assertThat(msgs).as("decoded messages").noneMatch(Http1ClientCodecTest::failed);
        assertThat(msgs.get(0)).isInstanceOf(HttpResponse.class).isNotInstanceOf(FullHttpResponse.class);
        for (Object m : msgs.subList(1, msgs.size() - 1)) {
            assertThat(m).isInstanceOf(HttpContent.class).isNotInstanceOf(LastHttpContent.class);
        }
        assertThat(msgs.get(msgs.size() - 1)).isInstanceOf(LastHttpContent.class);
        return (HttpResponse) msgs.get(0);
    }

    /** A message with a failed decoder result, only failed messages after it, and no sign of a complete response. */
    private static void assertFailed(List<Object> msgs) {
        int first = -1;
        for (int i = 0; i < msgs.size() && first < 0; i++) {
            if (failed(msgs.get(i))) {
                first = i;
            }
        }
        assertThat(first).as("index of a message with a failed decoder result in %s", msgs).isNotNegative();
        assertThat(msgs.subList(first, msgs.size())).as("messages from the failure on").allMatch(Http1ClientCodecTest::failed);
        assertThat(msgs).as("a LastHttpContent that is not failed").noneMatch(m -> m instanceof LastHttpContent && !failed(m));
    }

    /** The head itself is a failed HttpResponse. */
    private static void assertFailedHead(List<Object> msgs) {
        assertThat(msgs).as("decoded messages").isNotEmpty();
        assertThat(msgs.get(0)).isInstanceOf(HttpResponse.class);
        assertThat(failed(msgs.get(0))).as("decoder result of %s is a failure", msgs.get(0)).isTrue();
        assertFailed(msgs);
    }

    /** The messages of one response: its head, then its contents up to and with its LastHttpContent. */
    private static final class Response {
        HttpResponse head;
        final List<HttpContent> parts = new ArrayList<>();
        LastHttpContent last;

        int code() {
            return head.status().code();
        }

        String body() {
            return Http1ClientCodecTest.body(parts);
        }
    }

    private static List<Response> responses(List<Object> msgs) {
        List<Response> out = new ArrayList<>();
        Response r = null;
        for (Object m : msgs) {
            assertThat(failed(m)).as("decoder result of %s is a failure", m).isFalse();
            if (m instanceof HttpResponse head) {
                assertThat(r).as("a response before the end of the previous one").isNull();
                r = new Response();
                r.head = head;
                out.add(r);
            }
            if (m instanceof HttpContent c) {
                assertThat(r).as("content outside a response").isNotNull();
                r.parts.add(c);
                if (c instanceof LastHttpContent last) {
                    r.last = last;
                    r = null;
                }
            }
        }
        assertThat(r).as("the last response ends").isNull();
        return out;
    }

    private static String response(String head, String body) {
        return "HTTP/1.1 200 OK\r\n" + head + "\r\n" + body;
    }

    // ---- status line

    @Test
    void statusLineGivesVersionCodeAndReason() {
        HttpResponse r = assertOneResponse(exchange("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assertThat(r.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.status().reasonPhrase()).isEqualTo("OK");
    }

    @Test
    void http10StatusLineGivesHttp10() {
        HttpResponse r = assertOneResponse(exchange("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assertThat(r.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_0);
    }

    @Test
    void customReasonPhraseIsKept() {
        HttpResponse r = assertOneResponse(exchange("HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\n"));
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.status().reasonPhrase()).isEqualTo("Fine");
    }

    @Test
    void missingReasonPhraseIsAccepted() {
        HttpResponse r = assertOneResponse(exchange("HTTP/1.1 204\r\n\r\n"));
        assertThat(r.status().code()).isEqualTo(204);
    }

    @Test
    void emptyLinesBeforeTheStatusLineAreSkipped() {
        List<Object> msgs = exchange("\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
        assertThat(assertOneResponse(msgs).status().code()).isEqualTo(200);
        assertThat(body(msgs)).isEqualTo("hi");
    }

    @ParameterizedTest
    @ValueSource(strings = {"HTTP/2.0 200 OK", "FOO/1.1 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK",
                            "HTTP/1.1 abc OK", "HTTP/1.1 099 OK", "HTTP/1.1 600 OK", "HTTP/1.1 200 O\u0000K"})
    void badStatusLineGivesAFailedResponse(String statusLine) {
        assertFailedHead(exchange(statusLine + "\r\nContent-Length: 0\r\n\r\n"));
    }

    // ---- headers

    @Test
    void headerValueIsTrimmedOfSpacesAndTabs() {
        HttpResponse r = assertOneResponse(exchange(response(
                "Content-Type:  text/plain \r\nX-Tab:\t v \t\r\nX-Inner: a  b\r\nContent-Length: 0\r\n", "")));
        assertThat(r.headers().get("Content-Type")).isEqualTo("text/plain");
        assertThat(r.headers().get("X-Tab")).isEqualTo("v");
        assertThat(r.headers().get("X-Inner")).isEqualTo("a  b");
    }

    @Test
    void headerNamesAreKeptAsSentAndLookedUpCaseInsensitively() {
        HttpResponse r = assertOneResponse(exchange(response("X-MiXeD-Case: 1\r\nContent-Length: 0\r\n", "")));
        assertThat(lines(r.headers())).contains("X-MiXeD-Case: 1");
        assertThat(r.headers().get("x-mixed-case")).isEqualTo("1");
        assertThat(r.headers().get("X-MIXED-CASE")).isEqualTo("1");
    }

    @Test
    void repeatedHeadersAreKeptInOrder() {
        HttpResponse r = assertOneResponse(exchange(response(
                "Set-Cookie: a=1\r\nX-Other: x\r\nSet-Cookie: b=2\r\nset-cookie: c=3\r\nContent-Length: 0\r\n", "")));
        assertThat(r.headers().getAll("Set-Cookie")).containsExactly("a=1", "b=2", "c=3");
    }

    @Test
    void tabInsideAValueIsAccepted() {
        HttpResponse r = assertOneResponse(exchange(response("X-A: a\tb\r\nContent-Length: 0\r\n", "")));
        assertThat(r.headers().get("X-A")).isEqualTo("a\tb");
    }

    @Test
    void bareLfLineEndingsAreAccepted() {
        List<Object> msgs = exchange("HTTP/1.1 200 OK\nX-A: v\nContent-Length: 2\n\nhi");
        HttpResponse r = assertOneResponse(msgs);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().get("X-A")).isEqualTo("v");
        assertThat(body(msgs)).isEqualTo("hi");
    }

    @Test
    void obsFoldIsJoinedToThePreviousValueWithOneSpace() {
        HttpResponse r = assertOneResponse(exchange(response("X-A: one\r\n two\r\nContent-Length: 0\r\n", "")));
        assertThat(r.headers().getAll("X-A")).containsExactly("one two");
    }

    @Test
    void obsFoldStartingWithATabAndSeveralFoldLinesAreJoined() {
        HttpResponse r = assertOneResponse(exchange(response(
                "X-A: one\r\n\t two\r\n   three\r\nX-B: b\r\nContent-Length: 0\r\n", "")));
        assertThat(r.headers().getAll("X-A")).containsExactly("one two three");
        assertThat(r.headers().get("X-B")).isEqualTo("b");
    }

    @Test
    void whitespaceBetweenNameAndColonIsRemoved() {
        HttpResponse r = assertOneResponse(exchange(response("X-A : v\r\nContent-Length: 0\r\n", "")));
        assertThat(lines(r.headers())).contains("X-A: v");
        assertThat(r.headers().get("X-A")).isEqualTo("v");
    }

    @ParameterizedTest
    @ValueSource(strings = {"X-A v", ": v", "X(A): v", "X A: v", "X-A: a\u0001b", "X-A: a\u007fb", "X-A: a\u0000b",
                            "X\u0000A: v"})
    void badHeaderLineGivesAFailedResponse(String line) {
        assertFailedHead(exchange(response(line + "\r\nContent-Length: 0\r\n", "")));
    }

    /** Field lines are scanned eight bytes at a time: a bad byte is found at every offset within a word. */
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 6, 7, 8, 9, 15, 16, 17, 23, 30})
    void controlCharacterAnywhereInALongValueGivesAFailedResponse(int at) {
        StringBuilder v = new StringBuilder("v".repeat(32));
        v.setCharAt(at, at % 2 == 0 ? '\u0001' : '\u007f');
        assertFailedHead(exchange(response("X-Long: " + v + "\r\nContent-Length: 0\r\n", "")));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 8, 9, 15, 16, 31})
    void tabAndObsTextAnywhereInALongValueAreKept(int at) {
        StringBuilder v = new StringBuilder("v".repeat(32));
        v.setCharAt(at, '\t');
        v.setCharAt((at + 5) % 32, '\u00e9');
        HttpResponse r = assertOneResponse(exchange(response("X-Long: " + v + "\r\nContent-Length: 0\r\n", "")));
        assertThat(r.headers().get("X-Long")).isEqualTo(v.toString().strip());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 8, 9, 16, 17})
    void colonAtAnyOffsetEndsTheName(int nameLength) {
        String name = "N".repeat(nameLength);
        HttpResponse r = assertOneResponse(exchange(response(name + ":value\r\nContent-Length: 0\r\n", "")));
        assertThat(r.headers().get(name)).isEqualTo("value");
    }

    @Test
    void aLineWithNoColonAfterManyBytesGivesAFailedResponse() {
        assertFailedHead(exchange(response("X".repeat(40) + "\r\nContent-Length: 0\r\n", "")));
    }

    @Test
    void knownNamesInAnotherCaseKeepTheirSpelling() {
        HttpResponse r = assertOneResponse(exchange("HTTP/1.1 200 OK\r\nCONTENT-TYPE: a\r\ncontent-length: 0\r\n"
                                                    + "Server: s\r\n\r\n"));
        assertThat(r.headers().names()).containsExactly("CONTENT-TYPE", "content-length", "Server");
    }

    /** What the decoder learnt of a head on the way, which the proxy reads instead of looking again. */
    @Test
    void aResponseWithBodySaysItsFramingAndWhetherItHasHopByHopFields() {
        Http1ClientCodec.Response length = (Http1ClientCodec.Response) assertOneResponse(
                exchange(response("Content-Length: 5\r\nConnection: keep-alive\r\n", "hello")));
        assertThat(length.contentLength).isTrue();
        assertThat(length.chunked).isFalse();
        assertThat(length.otherHopByHop).isFalse();

        Http1ClientCodec.Response chunked = (Http1ClientCodec.Response) assertOneResponse(
                exchange(response("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n")));
        assertThat(chunked.chunked).isTrue();
        assertThat(chunked.contentLength).isFalse();
        assertThat(chunked.otherHopByHop).as("Transfer-Encoding is hop-by-hop").isTrue();

        for (String field : List.of("Keep-Alive: timeout=5", "TE: trailers", "trailer: x", "Upgrade: h2c",
                                    "Proxy-Connection: close", "proxy-authenticate: Basic",
                                    "Proxy-Authorization: Basic x")) {
            Http1ClientCodec.Response r = (Http1ClientCodec.Response) assertOneResponse(
                    exchange(response(field + "\r\nContent-Length: 0\r\n", "")));
            assertThat(r.otherHopByHop).as(field).isTrue();
        }
    }

    /** Whether the head keeps the connection, said as the decoder reads it, is what HttpUtil finds looking again. */
    @Test
    void aResponseWithBodySaysWhetherItKeepsTheConnectionAsHttpUtilFindsIt() {
        List<String> connections = List.of("", "Connection: close\r\n", "Connection: Close\r\n",
                                           "Connection: keep-alive\r\n", "connection: Keep-Alive\r\n",
                                           "Connection:  close , x-private\r\n", "Connection: x-private,keep-alive\r\n",
                                           "Connection: upgrade, CLOSE\r\n", "Connection: closed\r\n",
                                           "Connection: keep-alive-ish\r\n", "Connection: ,\r\n",
                                           "Connection: keep-alive\r\nConnection: close\r\n",
                                           "Connection: x\r\nconnection: keep-alive\r\n");
        for (String version : List.of("HTTP/1.1", "HTTP/1.0")) {
            for (String connection : connections) {
                for (String framing : List.of("Content-Length: 0\r\n", "Transfer-Encoding: chunked\r\n")) {
                    String body = framing.startsWith("Transfer") ? "0\r\n\r\n" : "";
                    Http1ClientCodec.Response r = (Http1ClientCodec.Response) assertOneResponse(
                            exchange(version + " 200 OK\r\n" + connection + framing + "\r\n" + body));
                    assertThat(r.keepAlive).as("%s %s", version, connection).isEqualTo(HttpUtil.isKeepAlive(r));
                }
            }
        }
    }

    // ---- request encoding

    /**
     * The request head is the bytes Netty's {@code HttpRequestEncoder} writes, with names and values of every kind
     * a head carries (AsciiString, String, another CharSequence), empty and long values, and chars above 0x7f and
     * above 0xff (written as Netty writes them: the low byte up to 0xff, {@code ?} above).
     */
    @Test
    void requestHeadIsWhatNettysEncoderWrites() {
        FullHttpRequest request = new DefaultFullHttpRequest(HTTP_1_1, POST, "/api/v1/items?q=%C3%A9",
                                                            Unpooled.copiedBuffer("body", US_ASCII));
        HttpHeaders h = request.headers();
        h.add(HttpHeaderNames.HOST, "example.com");
        h.add("x-string-name", new StringBuilder("builder value"));
        h.add(io.netty.util.AsciiString.of("x-ascii"), io.netty.util.AsciiString.of("ascii value"));
        h.add("x-empty", "");
        h.add("x-long", "v".repeat(5000));
        h.add("x-latin1", "caf\u00e9 \u00ff");
        h.add("x-wide", "\u20ac\u4e2d");
        h.add("x-long-again", "w".repeat(70));
        h.add("x-repeat", "one");
        h.add("x-repeat", "two");
        HttpUtil.setContentLength(request, 4);

        EmbeddedChannel netty = new EmbeddedChannel(new io.netty.handler.codec.http.HttpRequestEncoder());
        netty.writeOutbound(request.retainedDuplicate());
        String expected = outboundBytes(netty);
        netty.finishAndReleaseAll();

        ch.writeOutbound(request);
        assertThat(outboundBytes(ch)).isEqualTo(expected)
                                     .contains("x-latin1: caf\u00e9 \u00ff\r\n", "x-wide: ??\r\n");
    }

    /** Every byte written to {@code c} so far, as ISO-8859-1. */
    private static String outboundBytes(EmbeddedChannel c) {
        StringBuilder sb = new StringBuilder();
        for (Object m; (m = c.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) m;
            sb.append(b.toString(ISO_8859_1));
            b.release();
        }
        return sb.toString();
    }

    // ---- limits

    @Test
    void longStatusLineWithinTheLimitIsAccepted() {
        HttpResponse r = assertOneResponse(exchange("HTTP/1.1 200 " + "a".repeat(8000) + "\r\nContent-Length: 0\r\n\r\n"));
        assertThat(r.status().reasonPhrase()).hasSize(8000);
    }

    @Test
    void statusLineLongerThanTheLimitGivesAFailedResponse() {
        assertFailedHead(exchange("HTTP/1.1 200 " + "a".repeat(MAX_INITIAL_LINE + 100) + "\r\nContent-Length: 0\r\n\r\n"));
    }

    @Test
    void statusLineOverTheLimitFailsWhileItIsStillArriving() {
        request(GET);
        feed("HTTP/1.1 200 ");
        List<Object> msgs = new ArrayList<>(readAll());
        for (int i = 0; i < 10; i++) {
            feed("a".repeat(1024));
            msgs.addAll(readAll());
        }
        assertFailedHead(msgs);
    }

    @Test
    void headJustUnderTheLimitIsAccepted() {
        StringBuilder head = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            head.append("X-H").append(i).append(": ").append("v".repeat(1000)).append("\r\n");
        }
        HttpResponse r = assertOneResponse(exchange(response(head + "Content-Length: 0\r\n", "")));
        assertThat(r.headers().get("X-H59")).hasSize(1000);
    }

    @Test
    void headLongerThanTheLimitGivesAFailedResponse() {
        StringBuilder head = new StringBuilder();
        for (int i = 0; i < 70; i++) {
            head.append("X-H").append(i).append(": ").append("v".repeat(1000)).append("\r\n");
        }
        assertFailedHead(exchange(response(head + "Content-Length: 0\r\n", "")));
    }

    @Test
    void headerLineOverTheLimitFailsWhileItIsStillArriving() {
        request(GET);
        feed("HTTP/1.1 200 OK\r\n");
        List<Object> msgs = new ArrayList<>(readAll());
        String line = "X-A: " + "v".repeat(MAX_HEADER_SIZE + 2 - 5);
        for (int i = 0; i < line.length(); i += 1024) {
            feed(line.substring(i, Math.min(line.length(), i + 1024)));
            msgs.addAll(readAll());
        }
        assertFailedHead(msgs);
    }

    @Test
    void trailersOverTheLimitFailWhileTheyAreStillArriving() {
        request(GET);
        feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n");
        List<Object> msgs = new ArrayList<>(readAll());
        String line = "X-T: " + "v".repeat(MAX_HEADER_SIZE + 2 - 5);
        for (int i = 0; i < line.length(); i += 1024) {
            feed(line.substring(i, Math.min(line.length(), i + 1024)));
            msgs.addAll(readAll());
        }
        assertFailed(msgs);
    }

    @Test
    void trailersJustUnderTheLimitAreAccepted() {
        String trailer = "X-T: " + "v".repeat(MAX_HEADER_SIZE - 100);
        List<Object> msgs = exchange(response("Transfer-Encoding: chunked\r\n",
                                              "5\r\nhello\r\n0\r\n" + trailer + "\r\n\r\n"));
        assertOneResponse(msgs);
        LastHttpContent last = (LastHttpContent) msgs.get(msgs.size() - 1);
        assertThat(last.trailingHeaders().get("X-T")).hasSize(MAX_HEADER_SIZE - 100);
    }

    // ---- Content-Length

    @Test
    void contentLengthBodyArrivingAtOnceIsOneLastHttpContent() {
        List<Object> msgs = exchange(response("Content-Length: 5\r\n", "hello"));
        assertOneResponse(msgs);
        assertThat(msgs).hasSize(2);
        assertThat(body(msgs)).isEqualTo("hello");
    }

    @Test
    void contentLengthBodyComesInPartsAsItArrivesAndThePartThatCompletesItIsLast() {
        request(GET);
        feed(response("Content-Length: 5\r\n", "hel"));
        List<Object> first = readAll();
        assertThat(first).noneMatch(m -> m instanceof LastHttpContent);
        assertThat(body(first)).isEqualTo("hel");
        feed("lo");
        List<Object> second = readAll();
        assertThat(second).hasSize(1);
        assertThat(second.get(0)).isInstanceOf(LastHttpContent.class);
        assertThat(body(second)).isEqualTo("lo");
        List<Object> all = new ArrayList<>(first);
        all.addAll(second);
        assertOneResponse(all);
    }

    @Test
    void contentLengthZeroGivesTheHeadThenAnEmptyLastHttpContent() {
        List<Object> msgs = exchange(response("Content-Length: 0\r\n", ""));
        assertOneResponse(msgs);
        assertThat(msgs).hasSize(2);
        assertThat(((LastHttpContent) msgs.get(1)).content().readableBytes()).isZero();
    }

    @Test
    void contentLengthBodyIsSplitIntoPartsOfAtMostMaxChunkSize() {
        EmbeddedChannel c = channel(MAX_INITIAL_LINE, MAX_HEADER_SIZE, 16);
        request(c, GET);
        String body = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
        feed(c, response("Content-Length: 40\r\n", body));
        List<Object> msgs = readAll(c);
        assertOneResponse(msgs);
        assertThat(body(msgs)).isEqualTo(body);
        assertThat(msgs.subList(1, msgs.size())).allMatch(m -> ((HttpContent) m).content().readableBytes() <= 16);
    }

    @Test
    void pipelinedResponsesInOneBufferAreDecodedInOrder() {
        request(GET);
        request(GET);
        feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
             + "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nbye");
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).code()).isEqualTo(200);
        assertThat(rs.get(0).body()).isEqualTo("hello");
        assertThat(rs.get(1).code()).isEqualTo(404);
        assertThat(rs.get(1).head.status().reasonPhrase()).isEqualTo("Not Found");
        assertThat(rs.get(1).body()).isEqualTo("bye");
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "-1", "1 2", "+5", "9223372036854775808", "99999999999999999999"})
    void contentLengthThatIsNotANumberOrTooBigGivesAFailedResponse(String value) {
        assertFailedHead(exchange(response("Content-Length: " + value + "\r\n", "hello")));
    }

    @Test
    void twoEqualContentLengthHeadersGiveAFailedResponse() {
        assertFailedHead(exchange(response("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")));
    }

    @Test
    void contentLengthListGivesAFailedResponse() {
        assertFailedHead(exchange(response("Content-Length: 5, 5\r\n", "hello")));
    }

    // ---- chunked

    @Test
    void chunkedBodyIsDecodedAndEndsAtTheLastChunk() {
        request(GET);
        request(GET);
        feed(response("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
             + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).body()).isEqualTo("hello world");
        assertThat(rs.get(0).last.trailingHeaders().isEmpty()).isTrue();
        assertThat(rs.get(1).body()).isEqualTo("hi");
    }

    @Test
    void chunkedIsCaseInsensitive() {
        List<Object> msgs = exchange(response("Transfer-Encoding: Chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"));
        assertOneResponse(msgs);
        assertThat(body(msgs)).isEqualTo("hello");
    }

    @Test
    void chunkedAsTheLastOfSeveralCodingsIsChunked() {
        List<Object> msgs = exchange(response("Transfer-Encoding: gzip, chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"));
        assertOneResponse(msgs);
        assertThat(body(msgs)).isEqualTo("abc");
    }

    @Test
    void chunkExtensionsAreIgnored() {
        List<Object> msgs = exchange(response("Transfer-Encoding: chunked\r\n",
                                              "5;ext=1\r\nhello\r\n1;a=b;c=d\r\n!\r\n0;last=yes\r\n\r\n"));
        assertOneResponse(msgs);
        assertThat(body(msgs)).isEqualTo("hello!");
    }

    @Test
    void chunkLargerThanMaxChunkSizeComesInSeveralParts() {
        EmbeddedChannel c = channel(MAX_INITIAL_LINE, MAX_HEADER_SIZE, 16);
        request(c, GET);
        String data = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
        feed(c, response("Transfer-Encoding: chunked\r\n", "28\r\n" + data + "\r\n0\r\n\r\n"));
        List<Object> msgs = readAll(c);
        assertOneResponse(msgs);
        assertThat(body(msgs)).isEqualTo(data);
        assertThat(msgs.subList(1, msgs.size())).allMatch(m -> ((HttpContent) m).content().readableBytes() <= 16);
        assertThat(msgs.size()).isGreaterThanOrEqualTo(4); // head + at least three parts
    }

    @Test
    void trailersGoIntoTheLastHttpContent() {
        List<Object> msgs = exchange(response("Transfer-Encoding: chunked\r\n",
                                              "5\r\nhello\r\n0\r\nX-T: 1\r\nX-U:  two \r\n\r\n"));
        assertOneResponse(msgs);
        LastHttpContent last = (LastHttpContent) msgs.get(msgs.size() - 1);
        assertThat(last.trailingHeaders().get("X-T")).isEqualTo("1");
        assertThat(last.trailingHeaders().get("x-u")).isEqualTo("two");
        assertThat(body(msgs)).isEqualTo("hello");
    }

    @ParameterizedTest
    @ValueSource(strings = {"zz\r\nhello\r\n0\r\n\r\n", "\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX\r\n0\r\n\r\n"})
    void badChunkGivesAFailure(String chunkedBody) {
        assertFailed(exchange(response("Transfer-Encoding: chunked\r\n", chunkedBody)));
    }

    /** RFC 9112, section 6.3: a sign of smuggling or response splitting, refused rather than forwarded. */
    @ParameterizedTest
    @ValueSource(strings = {"chunked", "gzip"})
    void transferEncodingBesideContentLengthGivesAFailedResponse(String coding) {
        List<Object> msgs = exchange(response("Content-Length: 100\r\nTransfer-Encoding: " + coding + "\r\n",
                                              "5\r\nhello\r\n0\r\n\r\n"));
        assertFailedHead(msgs);
    }

    @Test
    void aStatusLineThatIsNotHttpFailsWithoutWaitingForAHead() {
        request(GET);
        feed("SSH-2.0-OpenSSH_9.6\r\n");
        assertFailedHead(readAll());
    }

    // ---- body until close

    @ParameterizedTest
    @ValueSource(strings = {"gzip", "chunked, gzip"})
    void transferEncodingWithoutChunkedLastIsABodyUntilClose(String codings) {
        request(GET);
        feed(response("Transfer-Encoding: " + codings + "\r\n", "3\r\nabc"));
        List<Object> msgs = new ArrayList<>(readAll());
        feed("\r\n0\r\n\r\n");
        msgs.addAll(readAll());
        assertThat(msgs).noneMatch(m -> m instanceof LastHttpContent);
        List<Object> atClose = closeAndReadAll();
        assertThat(atClose).hasSize(1);
        assertThat(((LastHttpContent) atClose.get(0)).content().readableBytes()).isZero();
        msgs.addAll(atClose);
        assertOneResponse(msgs);
        assertThat(body(msgs)).isEqualTo("3\r\nabc\r\n0\r\n\r\n");
    }

    @Test
    void noFramingHeaderIsABodyUntilClose() {
        request(GET);
        feed(response("", "abc"));
        List<Object> msgs = new ArrayList<>(readAll());
        feed("def");
        msgs.addAll(readAll());
        assertThat(msgs).noneMatch(m -> m instanceof LastHttpContent);
        assertThat(body(msgs)).isEqualTo("abcdef");
        List<Object> atClose = closeAndReadAll();
        assertThat(atClose).hasSize(1);
        assertThat(atClose.get(0)).isInstanceOf(LastHttpContent.class);
        assertThat(((LastHttpContent) atClose.get(0)).content().readableBytes()).isZero();
        msgs.addAll(atClose);
        assertOneResponse(msgs);
    }

    @Test
    void bodyUntilCloseComesInPartsOfAtMostMaxChunkSize() {
        EmbeddedChannel c = channel(MAX_INITIAL_LINE, MAX_HEADER_SIZE, 16);
        request(c, GET);
        String data = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
        feed(c, response("", data));
        List<Object> msgs = new ArrayList<>(readAll(c));
        c.finish();
        msgs.addAll(readAll(c));
        assertOneResponse(msgs);
        assertThat(body(msgs)).isEqualTo(data);
        assertThat(msgs.subList(1, msgs.size())).allMatch(m -> ((HttpContent) m).content().readableBytes() <= 16);
    }

    // ---- responses without a body

    @Test
    void responseToHeadHasNoBodyAndTheNextBytesStartTheNextResponse() {
        request(HEAD);
        request(GET);
        feed(response("Content-Length: 5\r\n", "") + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).parts).hasSize(1);
        assertThat(rs.get(0).body()).isEmpty();
        assertThat(rs.get(1).body()).isEqualTo("hi");
    }

    @Test
    void chunkedResponseToHeadHasNoBody() {
        request(HEAD);
        request(GET);
        feed(response("Transfer-Encoding: chunked\r\n", "") + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).body()).isEmpty();
        assertThat(rs.get(1).body()).isEqualTo("hi");
    }

    @Test
    void headWrittenAsAHeadAndALastContentIsRecordedToo() {
        ch.writeOutbound(new DefaultHttpRequest(HTTP_1_1, HEAD, "/"));
        ch.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        for (Object m; (m = ch.readOutbound()) != null; ) {
            ReferenceCountUtil.release(m);
        }
        request(GET);
        feed(response("Content-Length: 5\r\n", "") + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).body()).isEmpty();
        assertThat(rs.get(1).body()).isEqualTo("hi");
    }

    @Test
    void noContent204WithoutFramingHeadersHasNoBody() {
        request(GET);
        request(GET);
        feed("HTTP/1.1 204 No Content\r\n\r\n" + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).code()).isEqualTo(204);
        assertThat(rs.get(0).body()).isEmpty();
        assertThat(rs.get(1).body()).isEqualTo("hi");
    }

    @Test
    void notModified304WithContentLengthHasNoBody() {
        request(GET);
        request(GET);
        feed("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n" + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).code()).isEqualTo(304);
        assertThat(rs.get(0).body()).isEmpty();
        assertThat(rs.get(1).body()).isEqualTo("hi");
    }

    @ParameterizedTest
    @ValueSource(strings = {"100 Continue", "102 Processing", "103 Early Hints"})
    void interimResponseHasNoBodyAndTheFinalResponseFollows(String status) {
        List<Object> msgs = exchange("HTTP/1.1 " + status + "\r\n\r\n" + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(msgs);
        assertThat(rs).hasSize(2);
        assertThat(rs.get(0).code()).isEqualTo(Integer.parseInt(status.substring(0, 3)));
        assertThat(rs.get(0).parts).hasSize(1);
        assertThat(rs.get(0).body()).isEmpty();
        assertThat(rs.get(1).code()).isEqualTo(200);
        assertThat(rs.get(1).body()).isEqualTo("hi");
    }

    @Test
    void interimResponseDoesNotUseUpTheHeadRequest() {
        request(HEAD);
        request(GET);
        feed("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
             + response("Content-Length: 5\r\n", "")
             + response("Content-Length: 2\r\n", "hi"));
        List<Response> rs = responses(readAll());
        assertThat(rs).hasSize(3);
        assertThat(rs.get(0).code()).isEqualTo(103);
        assertThat(rs.get(0).head.headers().get("Link")).isEqualTo("</a>");
        assertThat(rs.get(1).code()).isEqualTo(200);
        assertThat(rs.get(1).body()).isEmpty();
        assertThat(rs.get(2).body()).isEqualTo("hi");
    }

    // ---- 101

    @Test
    void bytesAfter101InTheSameBufferComeOutRaw() {
        List<Object> msgs = exchange("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                                     + "\u0081\u0005hello");
        assertThat(msgs.size()).isGreaterThanOrEqualTo(3);
        assertOneResponse(msgs.subList(0, 2));
        assertThat(((HttpResponse) msgs.get(0)).status().code()).isEqualTo(101);
        assertThat(((LastHttpContent) msgs.get(1)).content().readableBytes()).isZero();
        assertThat(raw(msgs.subList(2, msgs.size()))).isEqualTo("\u0081\u0005hello");
    }

    @Test
    void laterBytesAfter101ComeOutRaw() {
        List<Object> head = exchange("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        assertOneResponse(head);
        assertThat(head).hasSize(2);
        feed("\u0082\u0002hi");
        assertThat(raw(readAll())).isEqualTo("\u0082\u0002hi");
        feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assertThat(raw(readAll())).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }

    // ---- after a failure

    @Test
    void afterAFailedHeadLaterBytesGiveNothing() {
        request(GET);
        feed("HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n" + response("Content-Length: 2\r\n", "hi"));
        assertFailedHead(readAll());
        feed(response("Content-Length: 2\r\n", "hi"));
        assertThat(readAll()).isEmpty();
    }

    @Test
    void afterABadChunkLaterBytesGiveNothing() {
        request(GET);
        feed(response("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n"));
        assertFailed(readAll());
        feed(response("Content-Length: 2\r\n", "hi"));
        assertThat(readAll()).isEmpty();
    }

    // ---- close in the middle

    @Test
    void closeInTheHeadGivesNoCompleteResponse() {
        request(GET);
        feed("HTTP/1.1 200 OK\r\nContent-Le");
        List<Object> msgs = new ArrayList<>(readAll());
        msgs.addAll(closeAndReadAll());
        assertThat(msgs).noneMatch(m -> m instanceof LastHttpContent && !failed(m));
    }

    @Test
    void closeInAContentLengthBodyGivesNoCompleteResponse() {
        request(GET);
        feed(response("Content-Length: 5\r\n", "hel"));
        List<Object> msgs = new ArrayList<>(readAll());
        msgs.addAll(closeAndReadAll());
        assertThat(msgs).noneMatch(m -> m instanceof LastHttpContent && !failed(m));
    }

    @Test
    void closeInAChunkedBodyGivesNoCompleteResponse() {
        request(GET);
        feed(response("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n3\r\nab"));
        List<Object> msgs = new ArrayList<>(readAll());
        msgs.addAll(closeAndReadAll());
        assertThat(msgs).noneMatch(m -> m instanceof LastHttpContent && !failed(m));
    }

    @Test
    void closeBeforeTheLastChunkGivesNoCompleteResponse() {
        request(GET);
        feed(response("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n"));
        List<Object> msgs = new ArrayList<>(readAll());
        msgs.addAll(closeAndReadAll());
        assertThat(msgs).noneMatch(m -> m instanceof LastHttpContent && !failed(m));
    }

    @Test
    void closeAfterACompleteResponseGivesNothingMore() {
        assertOneResponse(exchange(response("Content-Length: 2\r\n", "hi")));
        assertThat(closeAndReadAll()).isEmpty();
    }

    // ---- split everywhere

    private record Decoded(String version, int code, String reason, List<String> headers, String body,
                           List<String> trailers) {}

    private Decoded decode(String response, boolean byteByByte) {
        EmbeddedChannel c = channel(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK_SIZE);
        request(c, GET);
        List<Object> msgs = new ArrayList<>();
        if (byteByByte) {
            for (int i = 0; i < response.length(); i++) {
                feed(c, response.substring(i, i + 1));
                msgs.addAll(readAll(c));
            }
        } else {
            feed(c, response);
            msgs.addAll(readAll(c));
        }
        HttpResponse head = assertOneResponse(msgs);
        LastHttpContent last = (LastHttpContent) msgs.get(msgs.size() - 1);
        return new Decoded(head.protocolVersion().text(), head.status().code(), head.status().reasonPhrase(),
                           lines(head.headers()), body(msgs), lines(last.trailingHeaders()));
    }

    @Test
    void contentLengthResponseFedByteByByteDecodesAsAtOnce() {
        String response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
        Decoded whole = decode(response, false);
        assertThat(whole.body()).isEqualTo("hello world");
        assertThat(decode(response, true)).isEqualTo(whole);
    }

    @Test
    void chunkedResponseWithExtensionsAndTrailersFedByteByByteDecodesAsAtOnce() {
        String response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + "5;ext=1\r\nhello\r\n6;a=b;c=d\r\n world\r\n0\r\nX-Checksum: abc\r\nX-More: 1\r\n\r\n";
        Decoded whole = decode(response, false);
        assertThat(whole.body()).isEqualTo("hello world");
        assertThat(whole.trailers()).containsExactly("X-Checksum: abc", "X-More: 1");
        assertThat(decode(response, true)).isEqualTo(whole);
    }

    @Test
    void obsFoldResponseFedByteByByteDecodesAsAtOnce() {
        String response = "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nhi";
        Decoded whole = decode(response, false);
        assertThat(whole.headers()).contains("X-A: one two");
        assertThat(decode(response, true)).isEqualTo(whole);
    }

    // ---- allocation

    @Test
    void bodyPartsHaveTheirOwnReferenceCountAndReleaseTheInput() {
        request(GET);
        request(GET);
        feed(response("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n0\r\n\r\n")
             + response("Content-Length: 3\r\n", "jkl"));
        List<Object> msgs = readAll();
        assertThat(body(msgs)).isEqualTo("abcdefghijkl");
        // Released from the last to the first: the input buffer goes when the last part of it goes (checked after).
        for (int i = msgs.size() - 1; i >= 0; i--) {
            Object m = msgs.get(i);
            if (m instanceof HttpContent c) {
                assertThat(c.refCnt()).as("refCnt of %s", c).isEqualTo(1);
                taken.removeIf(t -> t == m);
                c.release();
            }
        }
    }

    // ---- encoder

    @Test
    void encoderWritesRequestLineHeadersAndBody() {
        FullHttpRequest req = new DefaultFullHttpRequest(HTTP_1_1, POST, "/p", Unpooled.copiedBuffer("hello", US_ASCII));
        req.headers().set(HttpHeaderNames.CONTENT_LENGTH, 5);
        ch.writeOutbound(req);
        StringBuilder wire = new StringBuilder();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            wire.append(((ByteBuf) m).toString(US_ASCII));
            ReferenceCountUtil.release(m);
        }
        assertThat(wire.toString()).startsWith("POST /p HTTP/1.1\r\n")
                                   .contains("content-length: 5\r\n")
                                   .endsWith("\r\n\r\nhello");
    }
}
