package io.ferry.l4.dns;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes a DNS message into a growing byte array, compressing names (RFC 1035 section 4.1.4): a name whose
 * ending was written before is written as its new labels and then a pointer to that ending.
 *
 * <p>Used off the hot path, by {@link DnsTable.Builder} to precompute answers and by the forwarder to build
 * chased answers. Not thread-safe; one message per instance.
 */
final class MessageWriter {

    private static final int MAX_POINTER = 0x3FFF;

    private byte[] buf;
    private int length;
    private final Map<Suffix, Integer> written = new HashMap<>();

    MessageWriter(int capacity) {
        buf = new byte[capacity];
    }

    int length() {
        return length;
    }

    /** The bytes from {@code from} to the end. */
    byte[] copy(int from) {
        return Arrays.copyOfRange(buf, from, length);
    }

    void u8(int v) {
        ensure(1);
        buf[length++] = (byte) v;
    }

    void u16(int v) {
        ensure(2);
        buf[length++] = (byte) (v >>> 8);
        buf[length++] = (byte) v;
    }

    void u32(long v) {
        u16((int) (v >>> 16) & 0xFFFF);
        u16((int) v & 0xFFFF);
    }

    void bytes(byte[] b) {
        bytes(b, 0, b.length);
    }

    void bytes(byte[] b, int off, int len) {
        ensure(len);
        System.arraycopy(b, off, buf, length, len);
        length += len;
    }

    void u16At(int offset, int v) {
        buf[offset] = (byte) (v >>> 8);
        buf[offset + 1] = (byte) v;
    }

    /** Writes a wire name, compressed against what was written before, and remembers its endings. */
    void name(byte[] wire) {
        name(wire, true);
    }

    /**
     * Writes a wire name without compressing it (SRV targets, RFC 2782), but remembers its endings so that later
     * names may point into it.
     */
    void uncompressedName(byte[] wire) {
        name(wire, false);
    }

    private void name(byte[] wire, boolean compress) {
        int p = 0;
        while (wire[p] != 0) {
            Suffix s = new Suffix(wire, p);
            Integer at = compress ? written.get(s) : null;
            if (at != null) {
                u16(0xC000 | at);
                return;
            }
            if (length <= MAX_POINTER) {
                written.putIfAbsent(s, length);
            }
            int len = wire[p] + 1;
            bytes(wire, p, len);
            p += len;
        }
        u8(0);
    }

    private void ensure(int n) {
        if (length + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, length + n));
        }
    }

    /** The ending of a wire name from {@code offset}; compared by content. */
    private static final class Suffix {
        private final byte[] wire;
        private final int offset;
        private final int hash;

        Suffix(byte[] wire, int offset) {
            this.wire = wire;
            this.offset = offset;
            int h = 1;
            for (int i = offset; i < wire.length && wire[i] != 0; i++) {
                h = 31 * h + wire[i];
            }
            this.hash = h;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Suffix)) {
                return false;
            }
            Suffix other = (Suffix) o;
            return hash == other.hash && Arrays.equals(wire, offset, end(), other.wire, other.offset, other.end());
        }

        private int end() {
            int p = offset;
            while (wire[p] != 0) {
                p += wire[p] + 1;
            }
            return p;
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
