package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;

/**
 * One parsed query, parsed in place: the header fields, the question's name lowercased into a scratch array with
 * its hash, and the EDNS0 OPT record if there is one (RFC 6891). Nothing is allocated per query.
 *
 * <p>Mutable scratch space, reused for every query of one handler: confined to that handler's event loop.
 */
final class DnsQuery {

    /** The query is well formed. */
    static final int OK = 0;
    /** Not worth an answer: shorter than a header, or a response (QR set), which must never be answered. */
    static final int DROP = 1;
    /** A header, but a malformed body (not one question, a bad name, records that overrun the message). */
    static final int FORMERR = 2;
    /** An opcode other than QUERY. */
    static final int NOTIMP = 3;

    private static final int OPT = 41;

    int id;
    int flags;
    int qtype;
    int qclass;
    /** The question's name, lowercase wire form, in {@code name[0, nameLength)}. */
    final byte[] name = new byte[DnsName.MAX_WIRE_LENGTH];
    int nameLength;
    int hash;
    /** The offset of the question in the message and the length of question (name, type and class). */
    int questionOffset;
    int questionLength;
    boolean edns;
    int ednsPayload;
    int ednsVersion;
    boolean dnssecOk;

    /** Parses the readable bytes of {@code msg} without moving its indexes; returns {@link #OK} or why not. */
    int parse(ByteBuf msg) {
        int start = msg.readerIndex();
        int end = msg.writerIndex();
        edns = false;
        nameLength = 0;
        qtype = 0;
        if (end - start < 12) {
            id = -1;
            return DROP;
        }
        id = msg.getUnsignedShort(start);
        flags = msg.getUnsignedShort(start + 2);
        if ((flags & 0x8000) != 0) {
            return DROP;
        }
        if (((flags >>> 11) & 0xF) != 0) {
            return NOTIMP;
        }
        int qd = msg.getUnsignedShort(start + 4);
        int other = msg.getUnsignedShort(start + 6) + msg.getUnsignedShort(start + 8);
        int additional = msg.getUnsignedShort(start + 10);
        if (qd != 1) {
            return FORMERR;
        }
        int p = start + 12;
        questionOffset = p;
        int n = 0;
        for (;;) {
            if (p >= end) {
                return FORMERR;
            }
            int len = msg.getUnsignedByte(p);
            if (len == 0) {
                name[n++] = 0;
                p++;
                break;
            }
            // Compression pointers have nothing to point at in a question; extended label types are obsolete.
            if (len > DnsName.MAX_LABEL_LENGTH || n + len + 2 > DnsName.MAX_WIRE_LENGTH || p + 1 + len > end) {
                return FORMERR;
            }
            name[n++] = (byte) len;
            for (int i = 1; i <= len; i++) {
                name[n++] = (byte) DnsName.lower(msg.getUnsignedByte(p + i));
            }
            p += 1 + len;
        }
        if (p + 4 > end) {
            return FORMERR;
        }
        nameLength = n;
        hash = DnsName.hash(name, n);
        qtype = msg.getUnsignedShort(p);
        qclass = msg.getUnsignedShort(p + 2);
        p += 4;
        questionLength = p - questionOffset;
        for (int i = 0; i < other + additional; i++) {
            boolean root = p < end && msg.getByte(p) == 0;
            p = skipName(msg, p, end);
            if (p < 0 || p + 10 > end) {
                return FORMERR;
            }
            int type = msg.getUnsignedShort(p);
            int rdLength = msg.getUnsignedShort(p + 8);
            if (type == OPT) {
                // One OPT at most, owned by the root, in the additional section (RFC 6891 section 6.1.1).
                if (i < other || edns || !root) {
                    return FORMERR;
                }
                edns = true;
                ednsPayload = msg.getUnsignedShort(p + 2);
                long ttl = msg.getUnsignedInt(p + 4);
                ednsVersion = (int) (ttl >>> 16) & 0xFF;
                dnssecOk = (ttl & 0x8000) != 0;
            }
            p += 10 + rdLength;
            if (p > end) {
                return FORMERR;
            }
        }
        return OK;
    }

    /** The offset after the name at {@code p}, or -1 if it is malformed. */
    static int skipName(ByteBuf msg, int p, int end) {
        int total = 0;
        for (;;) {
            if (p >= end) {
                return -1;
            }
            int len = msg.getUnsignedByte(p);
            if (len == 0) {
                return p + 1;
            }
            if ((len & 0xC0) == 0xC0) {
                return p + 2 <= end ? p + 2 : -1;
            }
            if ((len & 0xC0) != 0) {
                return -1;
            }
            total += len + 1;
            if (total > DnsName.MAX_WIRE_LENGTH) {
                return -1;
            }
            p += len + 1;
        }
    }

    boolean recursionDesired() {
        return (flags & 0x0100) != 0;
    }
}
