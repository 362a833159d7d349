package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Answers one query: parses it ({@link DnsQuery}), looks its name up in the live {@link DnsTable} once, and
 * writes the response, or hands the query to the {@link DnsForwarder} when the name is outside the zone.
 *
 * <p>Responses over UDP are cut from a shared buffer, {@value #ARENA_SIZE} bytes at a time: each is a slice of
 * exactly its size, released when its datagram has been sent, and the buffer is returned to the allocator when
 * the last slice is. That is one allocation (and one leak-detector sample) per few dozen queries rather than per
 * query. Over TCP, where an answer may be up to 65,535 bytes, each response is a buffer of its own.
 *
 * <p>One instance per UDP listener channel or TCP connection: confined to that channel's event loop. The owner
 * calls {@link #release()} when the channel is done.
 */
final class DnsResponder {

    static final int NOERROR = 0;
    static final int FORMERR = 1;
    static final int SERVFAIL = 2;
    static final int NXDOMAIN = 3;
    static final int NOTIMP = 4;
    static final int REFUSED = 5;
    /** Extended RCODE 16 (RFC 6891): the upper 8 bits travel in the OPT record. */
    static final int BADVERS = 16;

    static final int FLAG_QR = 0x8000;
    static final int FLAG_AA = 0x0400;
    static final int FLAG_TC = 0x0200;
    static final int FLAG_RD = 0x0100;
    static final int FLAG_RA = 0x0080;
    static final int FLAG_CD = 0x0010;
    static final int OPT_LENGTH = 11;

    private static final int AXFR = 252;
    private static final int IXFR = 251;
    private static final int CLASS_ANY = 255;
    private static final byte[] POD_LABEL = {3, 'p', 'o', 'd'};
    /** The size of the buffer UDP responses are cut from; a response over a quarter of it gets its own buffer. */
    static final int ARENA_SIZE = 16 * 1024;

    private final DnsServer server;
    private final DnsStats stats;
    private final DnsQuery q = new DnsQuery();
    private int rotation;
    /** The buffer UDP responses are cut from (its writer index is the next free byte), or null. */
    private ByteBuf arena;
    // The message being answered; set for the duration of respond().
    private ByteBuf msg;
    private ByteBufAllocator alloc;
    private boolean tcp;
    private int rcode;
    private boolean dropped;

    DnsResponder(DnsServer server) {
        this.server = server;
        this.stats = server.stats();
    }

    /**
     * The response to {@code message} (not released here), to be written now; or null when there is none: the
     * message was dropped, or forwarded and the forwarder will answer.
     *
     * @param client the client's address
     * @param tcp    whether the query came over TCP (no size limit but 65535, no truncation below it)
     */
    ByteBuf respond(ByteBuf message, Channel channel, InetSocketAddress client, boolean tcp, long startNanos) {
        msg = message;
        alloc = channel.alloc();
        this.tcp = tcp;
        dropped = false;
        try {
            ByteBuf out = respond0(channel, client, tcp, startNanos);
            if (out != null) {
                stats.response(rcode, startNanos);
            }
            return out;
        } finally {
            msg = null;
        }
    }

    private ByteBuf respond0(Channel channel, InetSocketAddress client, boolean tcp, long startNanos) {
        switch (q.parse(msg)) {
            case DnsQuery.DROP:
                dropped = true;
                stats.malformedDropped.increment();
                return null;
            case DnsQuery.FORMERR:
                stats.malformedAnswered.increment();
                return bare(FORMERR);
            case DnsQuery.NOTIMP:
                return bare(NOTIMP);
            default:
                break;
        }
        stats.query(q.qtype);
        if (q.edns && q.ednsVersion != 0) {
            return empty(BADVERS);
        }
        DnsTable t = server.table();
        if (!t.ready) {
            return empty(SERVFAIL);
        }
        if (q.qclass != DnsTable.CLASS_IN && q.qclass != CLASS_ANY || q.qtype == AXFR || q.qtype == IXFR) {
            stats.refused.increment();
            return empty(REFUSED);
        }
        int limit = tcp ? 65535
                        : q.edns ? Math.min(Math.max(q.ednsPayload, 512), server.config().maxUdpPayload()) : 512;
        DnsTable.Node node = t.lookup(q.name, q.nameLength, q.hash);
        if (node != null) {
            DnsTable.Answer a = node.answer(q.qtype);
            if (a == null) {
                return negative(t, NOERROR, node.apex);
            }
            if (a.chase != null && (q.qtype == DnsTable.A || q.qtype == DnsTable.AAAA)
                && forwardingAllowed(client.getAddress())) {
                DnsForwarder f = server.forwarder(channel.eventLoop());
                f.chase(new DnsClient(channel, client, tcp), msg, q, a, limit, startNanos);
                return null;
            }
            return answer(t, a, node.apex, limit);
        }
        if (t.inZone(q.name, q.nameLength)) {
            ByteBuf pod = t.podRecords ? pod(t) : null;
            return pod != null ? pod : negative(t, NXDOMAIN, t.zone);
        }
        if (forwardingAllowed(client.getAddress())) {
            server.forwarder(channel.eventLoop()).forward(new DnsClient(channel, client, tcp), msg, q, limit, startNanos);
            return null;
        }
        stats.refused.increment();
        return empty(REFUSED);
    }

    /** Gives back this responder's share of the response buffer; the responder can still be used after. */
    void release() {
        if (arena != null) {
            arena.release();
            arena = null;
        }
    }

    /**
     * An empty buffer for a response of exactly {@code size} bytes: over UDP a slice of the arena (whose capacity is
     * {@code size}, so every response must be sized exactly), over TCP a buffer of its own.
     */
    private ByteBuf buffer(int size) {
        if (tcp || size > ARENA_SIZE / 4) {
            return alloc.ioBuffer(size);
        }
        ByteBuf a = arena;
        if (a == null || a.writableBytes() < size) {
            if (a != null) {
                a.release();
            }
            a = arena = alloc.ioBuffer(ARENA_SIZE, ARENA_SIZE);
        }
        int at = a.writerIndex();
        a.writerIndex(at + size);
        return a.retainedSlice(at, size).clear();
    }

    /** Whether the last message given to {@link #respond} was dropped (not a query; a TCP peer is then closed). */
    boolean dropped() {
        return dropped;
    }

    private boolean forwardingAllowed(InetAddress client) {
        return server.forwarding() && (server.config().forwardForAnyClient() || isPrivate(client));
    }

    /** Loopback, link-local, RFC 1918, RFC 6598 (100.64.0.0/10) and IPv6 unique-local (fc00::/7) addresses. */
    static boolean isPrivate(InetAddress a) {
        if (a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress()) {
            return true;
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet4Address) {
            return (b[0] & 0xFF) == 100 && (b[1] & 0xC0) == 64;
        }
        return (b[0] & 0xFE) == 0xFC;
    }

    /** The flags of a response to the current query: QR, RD and CD copied, AA when authoritative, RA, RCODE. */
    private int flags(boolean authoritative, boolean truncated, int rcode) {
        int f = FLAG_QR | (q.flags & (FLAG_RD | FLAG_CD)) | (rcode & 0xF);
        if (authoritative) {
            f |= FLAG_AA;
        }
        if (truncated) {
            f |= FLAG_TC;
        }
        if (server.forwarding()) {
            f |= FLAG_RA;
        }
        return f;
    }

    /** A header alone (no question): for messages whose question cannot be echoed. */
    private ByteBuf bare(int rcode) {
        this.rcode = rcode;
        ByteBuf out = buffer(12);
        out.writeShort(q.id);
        out.writeShort(FLAG_QR | (q.flags & (0x7800 | FLAG_RD)) | rcode);
        out.writeZero(8);
        return out;
    }

    /** The header, the question echoed as the client sent it, and room for {@code size} bytes in all. */
    private ByteBuf start(int size, int flags, int rcode, int answers, int authority, int additional) {
        this.rcode = rcode;
        ByteBuf out = buffer(size);
        out.writeShort(q.id);
        out.writeShort(flags);
        out.writeShort(1);
        out.writeShort(answers);
        out.writeShort(authority);
        out.writeShort(additional + (q.edns ? 1 : 0));
        out.writeBytes(msg, q.questionOffset, q.questionLength);
        return out;
    }

    /** An answer with no records (REFUSED, SERVFAIL, BADVERS). */
    private ByteBuf empty(int rcode) {
        ByteBuf out = start(12 + q.questionLength + (q.edns ? OPT_LENGTH : 0), flags(false, false, rcode), rcode, 0, 0, 0);
        opt(out, rcode);
        return out;
    }

    /** NXDOMAIN or NODATA: the SOA of the name's zone in the authority section (RFC 2308). */
    private ByteBuf negative(DnsTable t, int rcode, byte[] apex) {
        int size = 12 + q.questionLength + soaLength(t) + (q.edns ? OPT_LENGTH : 0);
        ByteBuf out = start(size, flags(true, false, rcode), rcode, 0, 1, 0);
        soa(out, t, apex);
        opt(out, rcode);
        return out;
    }

    private ByteBuf answer(DnsTable t, DnsTable.Answer a, byte[] apex, int limit) {
        int soa = a.negative ? soaLength(t) : 0;
        int base = 12 + q.questionLength + (q.edns ? OPT_LENGTH : 0);
        int length = a.bytes.length;
        int additional = a.additionalCount;
        int answers = a.answerCount;
        boolean truncated = false;
        if (base + soa + length > limit) {
            if (base + soa + a.answerLength <= limit) {
                // The additional section is a courtesy: dropping it needs no TC (RFC 2181 section 9).
                length = a.answerLength;
                additional = 0;
            } else {
                truncated = true;
                stats.truncated.increment();
                length = 0;
                answers = 0;
                additional = 0;
                soa = 0;
            }
        }
        ByteBuf out = start(base + soa + length, flags(true, truncated, a.rcode), a.rcode, answers, soa > 0 ? 1 : 0,
                            additional);
        if (length > 0) {
            if (a.rotateUnit > 0) {
                // Round robin over the records of one A or AAAA set, as CoreDNS's loadbalance plugin does.
                int k = (rotation++ & 0x7FFFFFFF) % a.answerCount * a.rotateUnit;
                out.writeBytes(a.bytes, k, a.answerLength - k);
                out.writeBytes(a.bytes, 0, k);
                out.writeBytes(a.bytes, a.answerLength, length - a.answerLength);
            } else {
                out.writeBytes(a.bytes, 0, length);
            }
        }
        if (soa > 0) {
            soa(out, t, apex);
        }
        opt(out, a.rcode);
        return out;
    }

    static int soaLength(DnsTable t) {
        return 12 + t.soaRdata.length;
    }

    /** The SOA of {@code apex}, whose name is a suffix of the question's: its owner points into the question. */
    private void soa(ByteBuf out, DnsTable t, byte[] apex) {
        writeSoa(out, t, 12 + q.nameLength - apex.length);
    }

    static void writeSoa(ByteBuf out, DnsTable t, int ownerOffset) {
        out.writeShort(0xC000 | ownerOffset);
        out.writeShort(DnsTable.SOA);
        out.writeShort(DnsTable.CLASS_IN);
        out.writeInt(t.ttl);
        out.writeShort(t.soaRdata.length);
        out.writeBytes(t.soaRdata);
    }

    /** The OPT record of a response to an EDNS query: our UDP size, the upper bits of the RCODE, DO copied. */
    private void opt(ByteBuf out, int rcode) {
        if (q.edns) {
            writeOpt(out, server.config().maxUdpPayload(), rcode, q.dnssecOk);
        }
    }

    static void writeOpt(ByteBuf out, int udpPayload, int rcode, boolean dnssecOk) {
        out.writeByte(0);
        out.writeShort(41);
        out.writeShort(udpPayload);
        out.writeByte(rcode >>> 4);
        out.writeByte(0);
        out.writeShort(dnssecOk ? 0x8000 : 0);
        out.writeShort(0);
    }

    /**
     * The specification's deprecated pod names, {@code <a-b-c-d>.<ns>.pod.<zone>} (dashes for the dots, or for the
     * colons of an IPv6 address), answered from the name alone as CoreDNS's {@code pods insecure} does; or null when
     * the name is not of that shape ({@code <ns>.pod.<zone>} answers NODATA).
     */
    private ByteBuf pod(DnsTable t) {
        byte[] n = q.name;
        int labels = DnsName.labelCount(n, q.nameLength);
        int second = n[0] + 1;
        if (labels == t.zoneLabels + 2 && podAt(n, second)) {
            return negative(t, NOERROR, t.zone);
        }
        if (labels != t.zoneLabels + 3) {
            return null;
        }
        int third = second + n[second] + 1;
        if (!podAt(n, third)) {
            return null;
        }
        InetAddress ip = dashedAddress(n, 1, n[0]);
        if (ip == null) {
            return null;
        }
        int type = ip instanceof Inet4Address ? DnsTable.A : DnsTable.AAAA;
        if (q.qtype != type && q.qtype != DnsTable.ANY) {
            return negative(t, NOERROR, t.zone);
        }
        byte[] bytes = ip.getAddress();
        ByteBuf out = start(12 + q.questionLength + 12 + bytes.length + (q.edns ? OPT_LENGTH : 0),
                            flags(true, false, NOERROR), NOERROR, 1, 0, 0);
        out.writeShort(0xC00C);
        out.writeShort(type);
        out.writeShort(DnsTable.CLASS_IN);
        out.writeInt(t.ttl);
        out.writeShort(bytes.length);
        out.writeBytes(bytes);
        opt(out, NOERROR);
        return out;
    }

    private static boolean podAt(byte[] n, int at) {
        for (int i = 0; i < POD_LABEL.length; i++) {
            if (n[at + i] != POD_LABEL[i]) {
                return false;
            }
        }
        return true;
    }

    /** {@code 10-1-2-3} → 10.1.2.3; {@code fd00--1} → fd00::1; null if the label is neither. */
    static InetAddress dashedAddress(byte[] n, int from, int length) {
        char[] text = new char[length];
        int dashes = 0;
        for (int i = 0; i < length; i++) {
            char c = (char) n[from + i];
            if (c == '-') {
                dashes++;
            }
            text[i] = c;
        }
        String s = new String(text);
        byte[] ip = dashes == 3 ? NetUtil.createByteArrayFromIpAddressString(s.replace('-', '.')) : null;
        if (ip == null) {
            ip = NetUtil.createByteArrayFromIpAddressString(s.replace('-', ':'));
            if (ip != null && ip.length != 16) {
                ip = null;
            }
        }
        if (ip == null) {
            return null;
        }
        try {
            return InetAddress.getByAddress(ip);
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }
}
