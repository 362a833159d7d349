package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * Writes the header lines of an HTTP/1.1 head ({@code name: value} CRLF each) the way the proxy's encoders want
 * them: an {@link AsciiString} (what the decoders make) in one copy from its array, a {@code String} through a
 * scratch array and one copy, instead of Netty's character-at-a-time path. Characters above {@code 0xFF} become
 * {@code '?'}, as {@link AsciiString#c2b} maps them. One instance per connection, on its event loop.
 */
final class HeaderBlockWriter {

    /** The bytes {@code ": "} and CRLF as shorts. */
    private static final int COLON_SPACE = (':' << 8) | ' ';
    private static final int CRLF = ('\r' << 8) | '\n';

    /** A longer scratch array, needed by an unusually long value, is not kept for the next one. */
    private static final int MAX_KEPT_SCRATCH = 1024;

    /** Where a {@code String} is turned into bytes; grown as needed, kept up to {@link #MAX_KEPT_SCRATCH}. */
    private byte[] scratch = new byte[64];

    void write(HttpHeaders headers, ByteBuf buf) {
        if (headers.getClass() == FlatHttpHeaders.class) {
            FlatHttpHeaders flat = (FlatHttpHeaders) headers;
            for (int i = 0, n = flat.size(); i < n; i++) {
                writeField(buf, flat.nameAt(i), flat.valueAt(i));
            }
            return;
        }
        Iterator<Map.Entry<CharSequence, CharSequence>> fields = headers.iteratorCharSequence();
        while (fields.hasNext()) {
            Map.Entry<CharSequence, CharSequence> field = fields.next();
            writeField(buf, field.getKey(), field.getValue());
        }
    }

    private void writeField(ByteBuf buf, CharSequence name, CharSequence value) {
        buf.ensureWritable(name.length() + value.length() + 4);
        writeAscii(buf, name);
        buf.writeShort(COLON_SPACE);
        writeAscii(buf, value);
        buf.writeShort(CRLF);
    }

    private void writeAscii(ByteBuf buf, CharSequence s) {
        if (s instanceof AsciiString) {
            AsciiString a = (AsciiString) s;
            buf.writeBytes(a.array(), a.arrayOffset(), a.length());
        } else if (s instanceof String) {
            String string = (String) s;
            int n = string.length();
            byte[] b = scratch.length >= n ? scratch : grow(n);
            for (int i = 0; i < n; i++) {
                b[i] = AsciiString.c2b(string.charAt(i));
            }
            buf.writeBytes(b, 0, n);
        } else {
            buf.writeCharSequence(s, StandardCharsets.US_ASCII);
        }
    }

    private byte[] grow(int n) {
        byte[] b = new byte[Math.max(n, 2 * scratch.length)];
        if (b.length <= MAX_KEPT_SCRATCH) {
            scratch = b;
        }
        return b;
    }
}
