package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The client codec's head scan refuses obs-fold and whitespace before the request line, stops at the blank line
 * that ends a head (a body is never looked at), and gives the same answer however the head is split across reads
 * and however much of it the decoder has consumed between them.
 */
class HeadScannerTest {

    private static final String FOLD = "obs-fold: a header line starts with whitespace";
    private static final String LEADING = "whitespace before the request line";

    /** Heads, each followed by a body that starts with a tab: a scan that went past the head would refuse it. */
    private static final String[][] CASES = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", null},
        {"GET / HTTP/1.1\nHost: a\n\n", null},
        {"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", null},
        {"\nGET / HTTP/1.1\r\n\r\n", null},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", FOLD},
        {"GET / HTTP/1.1\r\nHost: a\r\n\tc\r\n\r\n", FOLD},
        {"GET / HTTP/1.1\r\n c\r\n\r\n", FOLD},
        {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", LEADING},
        {"\r\n\tGET / HTTP/1.1\r\nHost: a\r\n\r\n", LEADING},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-CR: \rx\r\n\r\n", null},
        {"GET / HTTP/1.1\r\nHost: a\r\n\rX: y\r\n\r\n", null}, // a CR not followed by LF starts a line
        {"GET /" + "x".repeat(300) + " HTTP/1.1\r\nHost: a\r\nX-Long: " + "v".repeat(700) + "\r\n\r\n", null},
    };

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    @Test
    void oneReadGivesTheExpectedAnswer() {
        for (String[] c : CASES) {
            ByteBuf in = ascii(c[0] + "\tbody");
            try {
                assertThat(new Http1ServerCodec.HeadScanner().scan(in)).as("%s", c[0]).isEqualTo(c[1]);
            } finally {
                in.release();
            }
        }
    }

    @Test
    void everySplitGivesTheSameAnswer() {
        for (String[] c : CASES) {
            String all = c[0] + "\tbody";
            for (int split = 0; split <= all.length(); split++) {
                for (boolean consume : new boolean[] {false, true}) {
                    Http1ServerCodec.HeadScanner scanner = new Http1ServerCodec.HeadScanner();
                    ByteBuf in = Unpooled.buffer();
                    try {
                        in.writeCharSequence(all.substring(0, split), StandardCharsets.ISO_8859_1);
                        String answer = scanner.scan(in);
                        if (answer == null && consume) {
                            // As Netty's decoder: whole lines of what came are consumed.
                            int lf = in.indexOf(in.writerIndex(), in.readerIndex(), (byte) '\n');
                            int n = lf < 0 ? 0 : lf + 1 - in.readerIndex();
                            in.skipBytes(n);
                            scanner.consumed(n);
                        }
                        if (answer == null) {
                            in.writeCharSequence(all.substring(split), StandardCharsets.ISO_8859_1);
                            answer = scanner.scan(in);
                        }
                        assertThat(answer).as("%s split at %d, consumed %s", c[0], split, consume).isEqualTo(c[1]);
                    } finally {
                        in.release();
                    }
                }
            }
        }
    }

    @Test
    void theNextHeadIsScannedAfterAReset() {
        Http1ServerCodec.HeadScanner scanner = new Http1ServerCodec.HeadScanner();
        ByteBuf in = ascii("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        try {
            assertThat(scanner.scan(in)).isNull();
            in.skipBytes(in.readableBytes());
            scanner.consumed(in.readerIndex());
            in.writeCharSequence(" GET / HTTP/1.1\r\n\r\n", StandardCharsets.ISO_8859_1);
            assertThat(scanner.scan(in)).as("still past the first head's end").isNull();
            scanner.reset();
            assertThat(scanner.scan(in)).isEqualTo(LEADING);
        } finally {
            in.release();
        }
    }
}
