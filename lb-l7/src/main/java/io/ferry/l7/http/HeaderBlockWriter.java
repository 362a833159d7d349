package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;

/**
 * Writes the header block of an HTTP/1.1 head ({@code name: value} CRLF each, then the empty line) the way the
 * proxy's encoders want it: assembled in a scratch array of the event loop's thread (an {@link AsciiString}, what
 * the decoders make, in one array copy; any other {@link CharSequence} a character at a time) and copied into the
 * buffer once, instead of four writes to the buffer per field, each with its bounds checks and its dispatch to the
 * buffer's class. Characters above {@code 0xFF} become {@code '?'}, as {@link AsciiString#c2b} maps them, and as
 * Netty's encoder writes them.
 */
final class HeaderBlockWriter {

    /** A longer scratch array, needed by an unusually large block, is not kept for the next one. */
    private static final int MAX_KEPT_SCRATCH = 16 * 1024;

    /** Where a block is assembled: one per thread (an event loop's encoders never write two blocks at once). */
    private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected byte[] initialValue() {
            return new byte[1024];
        }
    };

    private HeaderBlockWriter() {
    }

    /** Writes the header lines of {@code headers} and the empty line that ends them to {@code buf}. */
    static void write(HttpHeaders headers, ByteBuf buf) {
        byte[] b = SCRATCH.get();
        int at = 0;
        if (headers.getClass() == FlatHttpHeaders.class) {
            FlatHttpHeaders flat = (FlatHttpHeaders) headers;
            for (int i = 0, n = flat.size(); i < n; i++) {
                CharSequence name = flat.nameAt(i);
                CharSequence value = flat.valueAt(i);
                int end = at + name.length() + value.length() + 6; // ": ", CRLF, and the block's last CRLF
                if (end > b.length) {
                    b = grow(b, end);
                }
                at = field(b, at, name, value);
            }
        } else {
            Iterator<Map.Entry<CharSequence, CharSequence>> fields = headers.iteratorCharSequence();
            while (fields.hasNext()) {
                Map.Entry<CharSequence, CharSequence> field = fields.next();
                int end = at + field.getKey().length() + field.getValue().length() + 6;
                if (end > b.length) {
                    b = grow(b, end);
                }
                at = field(b, at, field.getKey(), field.getValue());
            }
        }
        b[at++] = '\r'; // room left by every field's end, and by the initial size for an empty block
        b[at++] = '\n';
        buf.writeBytes(b, 0, at);
    }

    private static int field(byte[] b, int at, CharSequence name, CharSequence value) {
        at = ascii(b, at, name);
        b[at++] = ':';
        b[at++] = ' ';
        at = ascii(b, at, value);
        b[at++] = '\r';
        b[at++] = '\n';
        return at;
    }

    private static int ascii(byte[] b, int at, CharSequence s) {
        int n = s.length();
        if (s instanceof AsciiString) {
            AsciiString a = (AsciiString) s;
            System.arraycopy(a.array(), a.arrayOffset(), b, at, n);
        } else if (s instanceof String) {
            String string = (String) s;
            for (int i = 0; i < n; i++) {
                b[at + i] = AsciiString.c2b(string.charAt(i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                b[at + i] = AsciiString.c2b(s.charAt(i));
            }
        }
        return at + n;
    }

    /** A copy of {@code b} in an array of at least {@code needed} bytes. */
    private static byte[] grow(byte[] b, int needed) {
        byte[] bigger = Arrays.copyOf(b, Math.max(needed, 2 * b.length));
        if (bigger.length <= MAX_KEPT_SCRATCH) {
            SCRATCH.set(bigger);
        }
        return bigger;
    }
}
