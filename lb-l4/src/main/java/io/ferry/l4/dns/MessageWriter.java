package io.ferry.l4.dns;

import java.util.Arrays;

/**
 * Writes a DNS message into a growing byte array, compressing names (RFC 1035 section 4.1.4) the way precomputed
 * answers need: a name already written whole (an SRV or CNAME target that a later record is owned by) becomes a
 * pointer to it, and a name that ends like the question (whose name sits at offset 12 of every response) becomes its
 * own labels and a pointer into the question.
 *
 * <p>Used off the hot path, by {@link ZoneCompiler} to precompute answers. Not thread-safe; one message at a time
 * ({@link #reset()} between them).
 */
final class MessageWriter {

    private static final int MAX_POINTER = 0x3FFF;

    private byte[] buf;
    private int length;
    private byte[] question;
    private final boolean[] questionLabels = new boolean[DnsName.MAX_WIRE_LENGTH];
    private int questionAt;
    private byte[][] names = new byte[4][];
    private int[] offsets = new int[4];
    private int count;

    MessageWriter(int capacity) {
        buf = new byte[capacity];
    }

    /** Empties the writer for the next message, keeping its buffers. */
    void reset() {
        length = 0;
        question = null;
        count = 0;
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

    /** Writes the question's name, which later names compress against. */
    void questionName(byte[] wire) {
        question = wire;
        questionAt = length;
        Arrays.fill(questionLabels, 0, wire.length, false);
        for (int p = 0; p < wire.length; p += wire[p] + 1) {
            questionLabels[p] = true;
            if (wire[p] == 0) {
                break;
            }
        }
        bytes(wire);
    }

    /** Writes a wire name, compressed against the question and the names written before. */
    void name(byte[] wire) {
        int at = length;
        for (int i = 0; i < count; i++) {
            byte[] n = names[i];
            if (n == wire || n.length == wire.length && Arrays.equals(n, wire)) {
                u16(0xC000 | offsets[i]);
                return;
            }
        }
        if (question != null) {
            // The longest ending shared with the question; the root alone is not worth a pointer.
            for (int p = 0; wire[p] != 0; p += wire[p] + 1) {
                int q = question.length - (wire.length - p);
                if (q >= 0 && questionLabels[q]
                    && Arrays.equals(wire, p, wire.length, question, q, question.length)) {
                    bytes(wire, 0, p);
                    u16(0xC000 | (questionAt + q));
                    // The question itself is remembered as the question, so that every record it owns points there
                    // and none into another record (the records of a set are rotated at run time).
                    remember(wire, p == 0 ? questionAt + q : at);
                    return;
                }
            }
        }
        remember(wire, at);
        bytes(wire);
    }

    /**
     * Writes a wire name without compressing it (SRV targets, RFC 2782), and remembers it so that a later record
     * owned by it points here.
     */
    void uncompressedName(byte[] wire) {
        remember(wire, length);
        bytes(wire);
    }

    private void remember(byte[] wire, int at) {
        if (at > MAX_POINTER) {
            return;
        }
        if (count == names.length) {
            names = Arrays.copyOf(names, count * 2);
            offsets = Arrays.copyOf(offsets, count * 2);
        }
        names[count] = wire;
        offsets[count++] = at;
    }

    private void ensure(int n) {
        if (length + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, length + n));
        }
    }
}
