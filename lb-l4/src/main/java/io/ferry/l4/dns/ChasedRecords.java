package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;

/**
 * Copies the records of an upstream's answer to a chased CNAME target into Ferry's own answer: the CNAME, A and
 * AAAA records of class IN, with every name decompressed (the pointers of the upstream's message mean nothing in
 * ours). Other records (DNSSEC signatures, DNAMEs) are left out. A malformed reply ends the copy where it breaks.
 */
final class ChasedRecords {

    private ChasedRecords() {
    }

    /** Appends the usable answer records of {@code reply} to {@code out}; returns how many. */
    static int copy(ByteBuf reply, ByteBuf out) {
        int base = reply.readerIndex();
        int end = reply.writerIndex();
        if (end - base < 12) {
            return 0;
        }
        int questions = reply.getUnsignedShort(base + 4);
        int answers = reply.getUnsignedShort(base + 6);
        int p = base + 12;
        for (int i = 0; i < questions; i++) {
            p = DnsQuery.skipName(reply, p, end);
            if (p < 0 || p + 4 > end) {
                return 0;
            }
            p += 4;
        }
        byte[] owner = new byte[DnsName.MAX_WIRE_LENGTH];
        byte[] target = new byte[DnsName.MAX_WIRE_LENGTH];
        int count = 0;
        for (int i = 0; i < answers; i++) {
            int ownerLength = readName(reply, base, p, end, owner);
            int next = DnsQuery.skipName(reply, p, end);
            if (ownerLength < 0 || next < 0 || next + 10 > end) {
                break;
            }
            int type = reply.getUnsignedShort(next);
            int dnsClass = reply.getUnsignedShort(next + 2);
            long ttl = reply.getUnsignedInt(next + 4);
            int rdLength = reply.getUnsignedShort(next + 8);
            int rdata = next + 10;
            if (rdata + rdLength > end) {
                break;
            }
            p = rdata + rdLength;
            if (dnsClass != DnsTable.CLASS_IN) {
                continue;
            }
            if (type == DnsTable.A && rdLength == 4 || type == DnsTable.AAAA && rdLength == 16) {
                header(out, owner, ownerLength, type, ttl, rdLength);
                out.writeBytes(reply, rdata, rdLength);
                count++;
            } else if (type == DnsTable.CNAME) {
                int targetLength = readName(reply, base, rdata, end, target);
                if (targetLength < 0) {
                    break;
                }
                header(out, owner, ownerLength, type, ttl, targetLength);
                out.writeBytes(target, 0, targetLength);
                count++;
            }
        }
        return count;
    }

    private static void header(ByteBuf out, byte[] owner, int ownerLength, int type, long ttl, int rdLength) {
        out.writeBytes(owner, 0, ownerLength);
        out.writeShort(type);
        out.writeShort(DnsTable.CLASS_IN);
        out.writeInt((int) ttl);
        out.writeShort(rdLength);
    }

    /**
     * Reads the possibly compressed name at {@code p} of the message starting at {@code base} into {@code into};
     * returns its length in wire form, or -1 if it is malformed (pointers must point backwards, so they cannot
     * loop).
     */
    static int readName(ByteBuf msg, int base, int p, int end, byte[] into) {
        int n = 0;
        int limit = p;
        for (;;) {
            if (p >= end) {
                return -1;
            }
            int len = msg.getUnsignedByte(p);
            if (len == 0) {
                into[n++] = 0;
                return n;
            }
            if ((len & 0xC0) == 0xC0) {
                if (p + 1 >= end) {
                    return -1;
                }
                int target = base + (((len & 0x3F) << 8) | msg.getUnsignedByte(p + 1));
                if (target >= limit) {
                    return -1;
                }
                p = target;
                limit = target;
                continue;
            }
            if ((len & 0xC0) != 0 || n + len + 2 > DnsName.MAX_WIRE_LENGTH || p + 1 + len > end) {
                return -1;
            }
            msg.getBytes(p, into, n, len + 1);
            n += len + 1;
            p += len + 1;
        }
    }
}
