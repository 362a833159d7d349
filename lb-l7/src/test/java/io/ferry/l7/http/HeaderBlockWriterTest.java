package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The proxy's header-block writer gives the bytes Netty's encoder gives, for every kind of name and value. */
class HeaderBlockWriterTest {

    private static HttpHeaders headers() {
        return fill(DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders());
    }

    private static HttpHeaders fill(HttpHeaders h) {
        byte[] head = "xxContent-Type: text/plain".getBytes(StandardCharsets.US_ASCII);
        h.add(new AsciiString(head, 2, 12, false), new AsciiString(head, 16, 10, false)); // views into one array
        h.add("X-Latin", "caf\u00e9");            // one byte as ISO-8859-1
        h.add("X-Wide", "\u20ac5");               // above 0xFF: '?'
        h.add("X-Long", "v".repeat(5000));        // longer than the thread's first scratch array
        h.add("X-After-Long", "short");           // the grown array still works after a long value
        h.add(new StringBuilder("X-Builder"), new StringBuilder("sb"));
        h.add("X-Empty", "");
        return h;
    }

    private static String nettys(HttpHeaders h) {
        EmbeddedChannel ch = new EmbeddedChannel(new HttpResponseEncoder());
        ch.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, h));
        ByteBuf out = ch.readOutbound();
        try {
            String all = out.toString(StandardCharsets.ISO_8859_1);
            return all.substring(all.indexOf("\r\n") + 2); // the header lines and the empty line after them
        } finally {
            out.release();
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void writesWhatNettysEncoderWrites() {
        assertWritesWhatNettysEncoderWrites(headers());
    }

    @Test
    void writesTheProxysOwnHeadersAlike() {
        // FlatHttpHeaders, what the proxy's decoders make, take a path of their own.
        assertWritesWhatNettysEncoderWrites(fill(new FlatHttpHeaders(false)));
    }

    @Test
    void writesBlocksLargerThanTheKeptScratchArrayAndEmptyOnes() {
        HttpHeaders h = headers().add("X-Huge", "h".repeat(40_000)).add("X-Then", "t");
        assertWritesWhatNettysEncoderWrites(h);
        assertWritesWhatNettysEncoderWrites(headers()); // the array kept before still works
        assertWritesWhatNettysEncoderWrites(new FlatHttpHeaders(false));
    }

    private static void assertWritesWhatNettysEncoderWrites(HttpHeaders h) {
        ByteBuf buf = Unpooled.buffer();
        try {
            HeaderBlockWriter.write(h, buf);
            String ours = buf.toString(StandardCharsets.ISO_8859_1);
            assertThat(ours).isEqualTo(nettys(h));
            if (h.isEmpty()) {
                assertThat(ours).isEqualTo("\r\n");
                return;
            }
            assertThat(ours).startsWith("Content-Type: text/plain\r\nX-Latin: caf\u00e9\r\nX-Wide: ?5\r\n")
                            .contains("X-After-Long: short\r\nX-Builder: sb\r\nX-Empty: \r\n")
                            .endsWith("\r\n\r\n");

            // Again (the thread's scratch array reused): the same bytes.
            buf.clear();
            HeaderBlockWriter.write(h, buf);
            assertThat(buf.toString(StandardCharsets.ISO_8859_1)).isEqualTo(ours);
        } finally {
            buf.release();
        }
    }
}
