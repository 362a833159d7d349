package io.ferry.l7.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import io.netty.util.CharsetUtil;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * Encodes a response head as the header block of an HTTP/2 HEADERS frame with HPACK's static table only: every
 * field a literal without indexing (RFC 7541, section 6.2.2), its name by static index where the table has it, no
 * Huffman coding (nginx and HAProxy do not refer to the dynamic table in responses either). The block leaves the
 * connection's dynamic table alone, so it can be written at any time beside blocks of Netty's encoder, which keeps
 * its own; and encoding it is a copy of the fields, without the table's hashing and bookkeeping.
 *
 * <p>The fields are those {@code HttpConversionUtil.toHttp2Headers} would give: names in lower case, without the
 * connection-specific fields HTTP/2 forbids ({@code Keep-Alive}, {@code Proxy-Connection}, {@code Transfer-Encoding},
 * {@code Upgrade}) or {@code Host}. A head with a field that mapping treats otherwise ({@code Connection}, which
 * names more fields to leave out; {@code TE}; {@code Cookie}; Netty's {@code x-http2-*} names) it declines, and the
 * caller takes Netty's encoder instead. Ferry takes {@code Connection} out of a response before it gets here, but
 * for one that closes the client connection (HTTP/1.1 only) or while it drains.
 */
final class Http2ResponseHeads {

    /** RFC 7541, appendix A: the names of the static table, in index order from 1. */
    private static final String[] STATIC_NAMES = {
        ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status",
        ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language",
        "accept-ranges", "accept", "access-control-allow-origin", "age", "allow", "authorization", "cache-control",
        "content-disposition", "content-encoding", "content-language", "content-length", "content-location",
        "content-range", "content-type", "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match",
        "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link", "location",
        "max-forwards", "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh", "retry-after",
        "server", "set-cookie", "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via",
        "www-authenticate",
    };

    /** Static index of {@code :status} with the value 200. */
    private static final int STATUS_200 = 8;
    private static final int STATUS_NAME = 8;

    /** A field's HPACK overhead in the header list size (RFC 9113, section 6.5.2). */
    private static final int FIELD_OVERHEAD = 32;

    /** What a name maps to, besides the bytes to write before its value. */
    private static final byte[] SKIP = new byte[0];
    private static final byte[] DECLINE = new byte[0];

    /**
     * Names by case-insensitive hash ({@code AsciiString.hashCode}, which an {@code AsciiString} caches), open
     * addressing; beside each, the bytes that start its field: the literal's first byte with the static name index,
     * or a literal name in lower case; {@link #SKIP} for a name that is not sent, {@link #DECLINE} for one that maps
     * otherwise.
     */
    private static final AsciiString[] NAMES = new AsciiString[512];
    private static final byte[][] STARTS = new byte[NAMES.length][];

    static {
        for (int i = STATIC_NAMES.length; i >= 1; i--) { // the first index of a name wins
            String n = STATIC_NAMES[i - 1];
            if (n.charAt(0) != ':') {
                put(n, indexedName(i));
            }
        }
        // Fields Ferry and endpoints commonly send that the static table lacks.
        for (String n : new String[] {
            "x-content-type-options", "x-frame-options", "x-request-id", "x-xss-protection", "x-powered-by",
            "content-security-policy", "referrer-policy", "alt-svc", "access-control-allow-credentials",
            "access-control-allow-headers", "access-control-allow-methods", "access-control-expose-headers",
            "access-control-max-age", "pragma", "sec-websocket-accept", "trailer", "grpc-status", "grpc-message",
            "x-cache", "x-served-by",
        }) {
            put(n, literalName(n));
        }
        for (String n : new String[] {"keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}) {
            put(n, SKIP);
        }
        // Connection (which Netty's mapping reads for more names to leave out), TE (kept if "trailers"), Cookie
        // (split into crumbs) and Netty's own x-http2-* names (some left out, some kept).
        for (String n : new String[] {"connection", "te", "cookie"}) {
            put(n, DECLINE);
        }
        for (HttpConversionUtil.ExtensionHeaderNames n : HttpConversionUtil.ExtensionHeaderNames.values()) {
            put(n.text().toString(), DECLINE);
        }
    }

    private Http2ResponseHeads() {
    }

    private static void put(String name, byte[] start) {
        AsciiString key = AsciiString.cached(name);
        int slot = key.hashCode() & NAMES.length - 1;
        while (NAMES[slot] != null) {
            if (NAMES[slot].contentEquals(key)) {
                STARTS[slot] = start;
                return;
            }
            slot = slot + 1 & NAMES.length - 1;
        }
        NAMES[slot] = key;
        STARTS[slot] = start;
    }

    /** A literal field without indexing whose name is static index {@code i}: 4-bit prefix integer. */
    private static byte[] indexedName(int i) {
        return i < 15 ? new byte[] {(byte) i} : new byte[] {0x0f, (byte) (i - 15)};
    }

    /** A literal field without indexing with a new name. */
    private static byte[] literalName(String name) {
        byte[] n = name.toLowerCase(Locale.ROOT).getBytes(CharsetUtil.US_ASCII);
        if (n.length >= 127) {
            throw new IllegalArgumentException(name);
        }
        byte[] b = new byte[n.length + 2];
        b[0] = 0;
        b[1] = (byte) n.length;
        System.arraycopy(n, 0, b, 2, n.length);
        return b;
    }

    /** The start of {@code name}'s field from the table, or null if the name is not in it. */
    private static byte[] find(CharSequence name) {
        int h = name instanceof AsciiString ? name.hashCode() : AsciiString.hashCode(name);
        for (int slot = h & NAMES.length - 1; ; slot = slot + 1 & NAMES.length - 1) {
            AsciiString k = NAMES[slot];
            if (k == null) {
                return null;
            }
            if (k == name || k.length() == name.length() && k.contentEqualsIgnoreCase(name)) {
                return STARTS[slot];
            }
        }
    }

    /**
     * Writes {@code response}'s status and headers to {@code out} as one header block, if it maps as described
     * above and its header list size (RFC 9113, section 6.5.2) is at most {@code maxHeaderListSize}; otherwise
     * writes nothing and returns false.
     */
    static boolean encode(HttpResponse response, ByteBuf out, long maxHeaderListSize) {
        Block block = new Block();
        if (!encode(response, block, maxHeaderListSize)) {
            return false;
        }
        out.writeBytes(block.bytes, 0, block.length);
        return true;
    }

    /**
     * As {@link #encode(HttpResponse, ByteBuf, long)}, into {@code block} (emptied first), which its owner keeps
     * from one head to the next: the block is put together in an array and copied to a buffer once, rather than
     * written field by field, each write with a buffer's checks.
     */
    static boolean encode(HttpResponse response, Block block, long maxHeaderListSize) {
        block.length = 0;
        int code = response.status().code();
        int index = staticStatusIndex(code);
        if (index != 0) {
            block.put(0x80 | index); // indexed field
        } else if (code >= 100 && code <= 999) {
            block.ensure(5);
            block.put(STATUS_NAME);
            block.put(3);
            block.put('0' + code / 100);
            block.put('0' + code / 10 % 10);
            block.put('0' + code % 10);
        } else {
            return false;
        }
        long listSize = ":status".length() + 3 + FIELD_OVERHEAD;
        HttpHeaders headers = response.headers();
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            CharSequence name = e.getKey();
            CharSequence value = e.getValue();
            byte[] field = find(name);
            if (field == SKIP) {
                continue;
            }
            int n = name.length();
            int v = value.length();
            if (field == DECLINE || n == 0) {
                return false;
            }
            block.ensure(n + v + 12); // the field's bytes and two lengths of up to five bytes each, and more
            if (field != null) {
                block.put(field, 0, field.length);
            } else {
                block.put(0);
                block.putLength(n);
                block.putLowerCase(name);
            }
            block.putLength(v);
            if (value instanceof AsciiString) {
                AsciiString a = (AsciiString) value;
                block.put(a.array(), a.arrayOffset(), v);
            } else {
                block.putLatin1(value);
            }
            listSize += n + v + FIELD_OVERHEAD;
        }
        return listSize <= maxHeaderListSize;
    }

    private static int staticStatusIndex(int code) {
        switch (code) {
            case 200: return STATUS_200;
            case 204: return 9;
            case 206: return 10;
            case 304: return 11;
            case 400: return 12;
            case 404: return 13;
            case 500: return 14;
            default: return 0;
        }
    }

    /** A header block put together in an array that grows as needed. Confined to one connection's event loop. */
    static final class Block {

        byte[] bytes = new byte[256];
        int length;

        /** Makes room for {@code n} more bytes. */
        void ensure(int n) {
            if (length + n > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + n));
            }
        }

        void put(int b) {
            ensure(1);
            bytes[length++] = (byte) b;
        }

        void put(byte[] a, int from, int n) {
            System.arraycopy(a, from, bytes, length, n);
            length += n;
        }

        /** A string literal's length, not Huffman-coded: a 7-bit prefix integer (RFC 7541, section 5.1). */
        void putLength(int n) {
            if (n < 127) {
                bytes[length++] = (byte) n;
                return;
            }
            bytes[length++] = 127;
            n -= 127;
            while ((n & ~0x7f) != 0) {
                bytes[length++] = (byte) (n & 0x7f | 0x80);
                n >>>= 7;
            }
            bytes[length++] = (byte) n;
        }

        void putLowerCase(CharSequence name) {
            for (int i = 0; i < name.length(); i++) {
                char c = name.charAt(i);
                bytes[length++] = (byte) (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
            }
        }

        /** Each char's low byte, as ISO-8859-1 keeps the chars it has (Netty's encoder writes strings so). */
        void putLatin1(CharSequence value) {
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                bytes[length++] = (byte) (c <= 0xff ? c : '?');
            }
        }
    }
}
