package io.ferry.l7.http;

import static io.netty.handler.codec.http.HttpVersion.HTTP_1_1;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Http2ResponseHeads}: each header block is decoded by Netty's own HPACK decoder (validating) and must give
 * the fields {@code HttpConversionUtil.toHttp2Headers(response, false)} gives, in the same order, {@code :status}
 * first; a head it does not map that way, or one over the header list size, is declined with nothing written; and
 * its blocks leave the dynamic table alone, so they interleave with those of Netty's indexing encoder on one
 * decoder.
 */
class Http2ResponseHeadsTest {

    /** Large enough for the 20,000-byte value (the decoder's default list size is 8 KiB). */
    private static final long DECODER_MAX_HEADER_LIST_SIZE = 1 << 20;

    /** Bytes a caller had written before the block: a frame header's place. */
    private static final byte[] FRAME_HEADER_PLACE = {9, 8, 7, 6, 5, 4, 3, 2, 1};

    // ---- helpers

    private static HttpResponse response(int code) {
        return new DefaultHttpResponse(HTTP_1_1, HttpResponseStatus.valueOf(code));
    }

    /** An nginx-like head: names in mixed case, as String and as AsciiString, names and values. */
    private static HttpResponse nginxLike() {
        HttpResponse r = response(200);
        r.headers()
         .add("Server", "nginx/1.25.3")
         .add(AsciiString.of("Date"), AsciiString.of("Tue, 14 Nov 2026 08:12:31 GMT"))
         .add("Content-TYPE", AsciiString.of("text/html; charset=utf-8"))
         .add(HttpHeaderNames.CONTENT_LENGTH, "615")
         .add(AsciiString.of("Last-Modified"), "Mon, 13 Nov 2026 17:00:00 GMT")
         .add("ETag", "\"6553a2f0-267\"")
         .add("Accept-Ranges", HttpHeaderValues.BYTES)
         .add("Set-Cookie", "session=abc123; Path=/; HttpOnly")
         .add(AsciiString.of("SET-COOKIE"), AsciiString.of("theme=dark; Max-Age=3600"))
         .add("X-Custom-Thing", "Some Value");
        return r;
    }

    private static DefaultHttp2HeadersDecoder decoder() {
        return new DefaultHttp2HeadersDecoder(true, DECODER_MAX_HEADER_LIST_SIZE);
    }

    /** Fields as "name: value", both as their bytes read as ISO-8859-1, in order. */
    private static List<String> fields(Http2Headers headers) {
        List<String> fields = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : headers) {
            fields.add(AsciiString.of(e.getKey()) + ": " + AsciiString.of(e.getValue()));
        }
        return fields;
    }

    private static List<String> nettyMapping(HttpResponse r) {
        return fields(HttpConversionUtil.toHttp2Headers(r, false));
    }

    /** The header list size (RFC 9113, section 6.5.2) of Netty's mapping of {@code r}. */
    private static long headerListSize(HttpResponse r) {
        long size = 0;
        for (Map.Entry<CharSequence, CharSequence> e : HttpConversionUtil.toHttp2Headers(r, false)) {
            size += e.getKey().length() + e.getValue().length() + 32;
        }
        return size;
    }

    /** Encodes {@code r}, which must not be declined, and decodes the block on a decoder of its own. */
    private static Http2Headers encodeAndDecode(HttpResponse r) throws Http2Exception {
        ByteBuf out = Unpooled.buffer();
        try {
            assertThat(Http2ResponseHeads.encode(r, out, Long.MAX_VALUE)).as("encoded").isTrue();
            Http2Headers decoded = decoder().decodeHeaders(1, out);
            assertThat(out.isReadable()).as("block decoded to its end").isFalse();
            return decoded;
        } finally {
            out.release();
        }
    }

    private static void assertMapsLikeNetty(HttpResponse r) throws Http2Exception {
        assertThat(fields(encodeAndDecode(r))).containsExactlyElementsOf(nettyMapping(r));
    }

    /** {@code r} is declined: false, the writer index where it was and the bytes before it as they were. */
    private static void assertDeclined(HttpResponse r, long maxHeaderListSize) {
        ByteBuf out = Unpooled.buffer();
        try {
            out.writeBytes(FRAME_HEADER_PLACE);
            assertThat(Http2ResponseHeads.encode(r, out, maxHeaderListSize)).as("encoded").isFalse();
            assertThat(out.writerIndex()).as("writer index").isEqualTo(FRAME_HEADER_PLACE.length);
            assertThat(ByteBufUtil.getBytes(out)).containsExactly(FRAME_HEADER_PLACE);
        } finally {
            out.release();
        }
    }

    /** {@code r} is either declined or encoded to the fields of Netty's mapping; either keeps the contract. */
    private static void assertMapsLikeNettyOrDeclines(HttpResponse r) throws Http2Exception {
        ByteBuf out = Unpooled.buffer();
        try {
            if (Http2ResponseHeads.encode(r, out, Long.MAX_VALUE)) {
                assertThat(fields(decoder().decodeHeaders(1, out))).containsExactlyElementsOf(nettyMapping(r));
            } else {
                assertThat(out.writerIndex()).as("writer index after declining").isZero();
            }
        } finally {
            out.release();
        }
    }

    private static String pattern(int length) {
        StringBuilder b = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            b.append((char) ('a' + i % 26));
        }
        return b.toString();
    }

    // ---- the mapping

    @Test
    void anNginxLikeHeadDecodesToNettysMappingWithEveryNameInLowerCase() throws Exception {
        HttpResponse r = nginxLike();

        Http2Headers decoded = encodeAndDecode(r);

        assertThat(fields(decoded)).containsExactlyElementsOf(nettyMapping(r)).containsExactly(
            ":status: 200",
            "server: nginx/1.25.3",
            "date: Tue, 14 Nov 2026 08:12:31 GMT",
            "content-type: text/html; charset=utf-8",
            "content-length: 615",
            "last-modified: Mon, 13 Nov 2026 17:00:00 GMT",
            "etag: \"6553a2f0-267\"",
            "accept-ranges: bytes",
            "set-cookie: session=abc123; Path=/; HttpOnly",
            "set-cookie: theme=dark; Max-Age=3600",
            "x-custom-thing: Some Value");
        for (Map.Entry<CharSequence, CharSequence> e : decoded) {
            String name = e.getKey().toString();
            assertThat(name).isEqualTo(name.toLowerCase(Locale.ROOT));
        }
    }

    @Test
    void namesOfTheExtraTableAndUnknownNamesInAnyCaseComeOutInLowerCase() throws Exception {
        HttpResponse r = response(200);
        r.headers()
         .add("X-Content-Type-Options", "nosniff")
         .add(AsciiString.of("X-FRAME-OPTIONS"), "DENY")
         .add("x-request-id", AsciiString.of("req-42"))
         .add("Alt-Svc", "h3=\":443\"")
         .add("Grpc-Status", "0")
         .add(new StringBuilder("Vary"), "Accept-Encoding")
         .add(new StringBuilder("X-Not-In-Any-Table"), new StringBuilder("v"));

        assertMapsLikeNetty(r);
    }

    @ParameterizedTest
    @ValueSource(ints = {200, 204, 206, 304, 400, 404, 500})
    void aStatusOfTheStaticTableIsOneIndexedByte(int code) throws Exception {
        HttpResponse r = response(code);

        assertThat(encodeAndDecode(r).status()).hasToString(Integer.toString(code));
        ByteBuf out = Unpooled.buffer();
        try {
            assertThat(Http2ResponseHeads.encode(r, out, Long.MAX_VALUE)).isTrue();
            assertThat(out.readableBytes()).isEqualTo(1);
        } finally {
            out.release();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 201, 302, 418, 503, 999})
    void aStatusNotInTheStaticTableIsALiteralOfThreeDigits(int code) throws Exception {
        HttpResponse r = response(code);
        r.headers().add("Content-Length", "0");

        Http2Headers decoded = encodeAndDecode(r);

        assertThat(decoded.status()).hasToString(Integer.toString(code));
        assertThat(fields(decoded)).containsExactlyElementsOf(nettyMapping(r));
    }

    @Test
    void connectionSpecificFieldsAndHostAreLeftOutAndTheRestKept() throws Exception {
        HttpResponse r = response(200);
        r.headers()
         .add("Server", "ferry")
         .add(AsciiString.of("Keep-Alive"), "timeout=5")
         .add("Proxy-Connection", AsciiString.of("keep-alive"))
         .add("Content-Type", "text/plain")
         .add("Transfer-Encoding", HttpHeaderValues.CHUNKED)
         .add(AsciiString.of("UPGRADE"), "h2c")
         .add("Host", "example.com")
         .add("X-Kept", "yes");

        Http2Headers decoded = encodeAndDecode(r);

        assertThat(fields(decoded))
            .containsExactlyElementsOf(nettyMapping(r))
            .containsExactly(":status: 200", "server: ferry", "content-type: text/plain", "x-kept: yes");
    }

    /**
     * Every {@code x-http2-*} name of {@link HttpConversionUtil.ExtensionHeaderNames} that comes in a response head:
     * left out if Netty leaves it out, kept if Netty keeps it (or the head declined).
     */
    @ParameterizedTest
    @EnumSource(HttpConversionUtil.ExtensionHeaderNames.class)
    void everyExtensionHeaderNameIsLeftOutOrKeptAsNettysMappingDoes(HttpConversionUtil.ExtensionHeaderNames n)
            throws Exception {
        HttpResponse r = response(200);
        r.headers().add("Server", "ferry").add(n.text(), "1").add("X-Kept", "yes");

        assertMapsLikeNettyOrDeclines(r);
    }

    /** Netty leaves out every field a Connection field names, {@code close} and {@code keep-alive} too. */
    @ParameterizedTest
    @ValueSource(strings = {"close", "Keep-Alive"})
    void aFieldNamedCloseIsLeftOutWhenConnectionIsCloseAsNettysMappingDoes(String connection) throws Exception {
        HttpResponse r = response(200);
        r.headers().add("Connection", connection).add("Close", "1").add("Server", "ferry");

        assertMapsLikeNettyOrDeclines(r);
    }

    // ---- declining

    /** A Connection field, whatever it names: Netty's mapping leaves those fields out as well as the field. */
    @ParameterizedTest
    @ValueSource(strings = {"close", "keep-alive", "Close", "X-Private", "close, X-Private"})
    void aConnectionFieldIsDeclined(String connection) {
        HttpResponse before = response(200);
        before.headers().add("X-Private", "secret").add("Connection", connection).add("Server", "ferry");
        HttpResponse after = response(200);
        after.headers().add("Server", "ferry").add(AsciiString.of("connection"), connection)
             .add("X-Private", "secret");

        assertDeclined(before, Long.MAX_VALUE);
        assertDeclined(after, Long.MAX_VALUE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"TE", "te", "Cookie", "COOKIE"})
    void aTeOrCookieFieldIsDeclined(String name) {
        HttpResponse r = response(200);
        r.headers().add("Server", "ferry").add(name, name.equalsIgnoreCase("te") ? "trailers" : "a=1; b=2")
         .add("X-Later", "yes");

        assertDeclined(r, Long.MAX_VALUE);
    }

    // ---- lengths

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 126, 127, 128, 254, 255, 300, 16_510, 16_511, 20_000})
    void aValueOfAnyLengthRoundTripsExactly(int length) throws Exception {
        String value = pattern(length);
        HttpResponse r = response(200);
        r.headers().add("Server", value).add("X-Long", AsciiString.of(value)).add("X-After", "end");

        Http2Headers decoded = encodeAndDecode(r);

        assertThat(decoded.get("server")).hasToString(value);
        assertThat(decoded.get("x-long")).hasToString(value);
        assertThat(fields(decoded)).containsExactlyElementsOf(nettyMapping(r));
    }

    @ParameterizedTest
    @ValueSource(ints = {126, 127, 128, 200})
    void aLongUnknownNameRoundTripsExactlyInLowerCase(int length) throws Exception {
        String name = "X-" + pattern(length - 2).toUpperCase(Locale.ROOT);
        HttpResponse r = response(200);
        r.headers().add(name, "v1").add(AsciiString.of(name), AsciiString.of("v2")).add("X-After", "end");

        Http2Headers decoded = encodeAndDecode(r);

        assertThat(decoded.getAll(name.toLowerCase(Locale.ROOT))).map(CharSequence::toString)
                                                                  .containsExactly("v1", "v2");
        assertThat(fields(decoded)).containsExactlyElementsOf(nettyMapping(r));
    }

    // ---- header list size

    @Test
    void aHeadOverTheHeaderListSizeIsDeclinedAndOneOfExactlyThatSizeIsNot() throws Exception {
        HttpResponse r = nginxLike();
        r.headers().add("Keep-Alive", "timeout=5").add("Transfer-Encoding", "chunked"); // not sent, so not counted
        long size = headerListSize(r);
        assertThat(size).isEqualTo(7 + 3 + 32 + 10 * 32 + "server".length() + "nginx/1.25.3".length()
                                   + "date".length() + "Tue, 14 Nov 2026 08:12:31 GMT".length()
                                   + "content-type".length() + "text/html; charset=utf-8".length()
                                   + "content-length".length() + "615".length()
                                   + "last-modified".length() + "Mon, 13 Nov 2026 17:00:00 GMT".length()
                                   + "etag".length() + "\"6553a2f0-267\"".length()
                                   + "accept-ranges".length() + "bytes".length()
                                   + "set-cookie".length() + "session=abc123; Path=/; HttpOnly".length()
                                   + "set-cookie".length() + "theme=dark; Max-Age=3600".length()
                                   + "x-custom-thing".length() + "Some Value".length());

        assertDeclined(r, size - 1);

        ByteBuf out = Unpooled.buffer();
        try {
            assertThat(Http2ResponseHeads.encode(r, out, size)).isTrue();
            assertThat(fields(decoder().decodeHeaders(1, out))).containsExactlyElementsOf(nettyMapping(r));
        } finally {
            out.release();
        }
    }

    @Test
    void aBareStatusCountsSevenAndThreeAndThirtyTwo() {
        HttpResponse r = response(204);

        assertDeclined(r, 7 + 3 + 32 - 1);
        ByteBuf out = Unpooled.buffer();
        try {
            assertThat(Http2ResponseHeads.encode(r, out, 7 + 3 + 32)).isTrue();
        } finally {
            out.release();
        }
    }

    // ---- values

    @Test
    void obsTextComesOutAsItsByteFromAnAsciiStringAndFromAString() throws Exception {
        byte[] cafe = {'c', 'a', 'f', (byte) 0xE9};
        HttpResponse r = response(200);
        r.headers().add("X-Bytes", new AsciiString(cafe, false)).add("X-Chars", "caf\u00e9");

        Http2Headers decoded = encodeAndDecode(r);

        assertThat(AsciiString.of(decoded.get("x-bytes")).toByteArray()).containsExactly(cafe);
        assertThat(AsciiString.of(decoded.get("x-chars")).toByteArray()).containsExactly(cafe);
        assertThat(fields(decoded)).containsExactlyElementsOf(nettyMapping(r));
    }

    @Test
    void anAsciiStringValueThatIsASliceOfALargerArrayComesOutAsTheSliceOnly() throws Exception {
        AsciiString whole = AsciiString.of("<<text/plain>>");
        HttpResponse r = response(200);
        r.headers().add("Content-Type", whole.subSequence(2, 12, false));

        assertThat(encodeAndDecode(r).get("content-type")).hasToString("text/plain");
    }

    @Test
    void aCharBeyondLatin1ComesOutAsAQuestionMarkAsNettysEncoderWritesIt() throws Exception {
        HttpResponse r = response(200);
        r.headers().add("X-Price", "10 \u20ac");

        ByteBuf netty = Unpooled.buffer();
        try {
            new DefaultHttp2HeadersEncoder().encodeHeaders(1, HttpConversionUtil.toHttp2Headers(r, false), netty);
            Http2Headers byNetty = decoder().decodeHeaders(1, netty);

            assertThat(fields(encodeAndDecode(r))).containsExactlyElementsOf(fields(byNetty))
                                                  .contains("x-price: 10 ?");
        } finally {
            netty.release();
        }
    }

    // ---- the connection's decoder

    @Test
    void blocksInterleaveWithThoseOfNettysIndexingEncoderOnOneDecoder() throws Exception {
        List<HttpResponse> heads = new ArrayList<>();
        heads.add(nginxLike());
        HttpResponse notFound = response(404);
        notFound.headers().add("Server", "nginx/1.25.3").add("Content-Type", "text/html").add("Content-Length", "153");
        heads.add(notFound);
        HttpResponse redirect = response(302);
        redirect.headers().add("Location", "https://example.com/login?next=%2F").add("Set-Cookie", "a=1")
                .add("X-Request-Id", "r-1").add("Cache-Control", "no-store");
        heads.add(redirect);
        HttpResponse unavailable = response(503);
        unavailable.headers().add("Retry-After", "120").add("Server", "ferry").add("X-Custom-Thing", "Some Value")
                   .add("Keep-Alive", "timeout=5");
        heads.add(unavailable);

        DefaultHttp2HeadersDecoder decoder = decoder();
        DefaultHttp2HeadersEncoder netty = new DefaultHttp2HeadersEncoder();
        int[] nettyBlockLengths = new int[heads.size()];
        int streamId = 1;
        for (int round = 0; round < 6; round++) {
            for (int i = 0; i < heads.size(); i++) {
                HttpResponse head = heads.get(i);
                List<String> expected = nettyMapping(head);
                boolean oursFirst = (round + i) % 2 == 0;
                for (int k = 0; k < 2; k++) {
                    ByteBuf block = Unpooled.buffer();
                    try {
                        boolean ours = oursFirst == (k == 0);
                        if (ours) {
                            assertThat(Http2ResponseHeads.encode(head, block, Long.MAX_VALUE)).isTrue();
                        } else {
                            netty.encodeHeaders(streamId, HttpConversionUtil.toHttp2Headers(head, false), block);
                            if (round == 1) {
                                assertThat(block.readableBytes()).as("Netty's block, indexed the second time")
                                                                 .isLessThan(nettyBlockLengths[i]);
                            }
                            nettyBlockLengths[i] = block.readableBytes();
                        }
                        assertThat(fields(decoder.decodeHeaders(streamId, block)))
                            .as("round %d, head %d, %s block", round, i, ours ? "our" : "Netty's")
                            .containsExactlyElementsOf(expected);
                    } finally {
                        block.release();
                    }
                    streamId += 2;
                }
            }
        }
    }

    // ---- the buffer

    @Test
    void theBlockIsAppendedBehindBytesAlreadyInTheBuffer() throws Exception {
        HttpResponse r = nginxLike();
        ByteBuf alone = Unpooled.buffer();
        ByteBuf out = Unpooled.buffer(16);
        try {
            assertThat(Http2ResponseHeads.encode(r, alone, Long.MAX_VALUE)).isTrue();
            out.writeBytes(FRAME_HEADER_PLACE);

            assertThat(Http2ResponseHeads.encode(r, out, Long.MAX_VALUE)).isTrue();

            assertThat(ByteBufUtil.getBytes(out, 0, FRAME_HEADER_PLACE.length)).containsExactly(FRAME_HEADER_PLACE);
            assertThat(out.writerIndex()).isEqualTo(FRAME_HEADER_PLACE.length + alone.readableBytes());
            assertThat(out.readerIndex()).isZero();
            out.skipBytes(FRAME_HEADER_PLACE.length);
            assertThat(fields(decoder().decodeHeaders(1, out))).containsExactlyElementsOf(nettyMapping(r));
        } finally {
            alone.release();
            out.release();
        }
    }

    @Test
    void aDeclinedHeadLeavesTheBytesBeforeItEvenAfterFieldsWereEncoded() {
        HttpResponse r = nginxLike();
        r.headers().add("Cookie", "late=1"); // declined after every other field

        assertDeclined(r, Long.MAX_VALUE);
    }
}
