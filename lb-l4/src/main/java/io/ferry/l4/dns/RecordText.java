package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The records of a precomputed answer as text ({@code "A 10.96.0.10"}, {@code "SRV 0 100 80 web.ns.svc.cluster.local."}),
 * for {@code /config_dump} and tests. Off the hot path: it rebuilds the message the answer was compressed against.
 */
final class RecordText {

    private RecordText() {
    }

    /** The first {@code answer.answerCount} records of {@code answer}, asked as {@code name}. */
    static List<String> answers(byte[] name, DnsTable.Answer answer) {
        ByteBuf msg = Unpooled.buffer(12 + name.length + 4 + answer.bytes.length);
        try {
            msg.writeZero(12);
            msg.writeBytes(name);
            msg.writeZero(4);
            msg.writeBytes(answer.bytes);
            List<String> out = new ArrayList<>();
            byte[] scratch = new byte[DnsName.MAX_WIRE_LENGTH];
            int p = 12 + name.length + 4;
            int end = msg.writerIndex();
            for (int i = 0; i < answer.answerCount; i++) {
                p = DnsQuery.skipName(msg, p, end);
                int type = msg.getUnsignedShort(p);
                int length = msg.getUnsignedShort(p + 8);
                int rdata = p + 10;
                out.add(typeName(type) + ' ' + rdata(msg, type, rdata, length, scratch));
                p = rdata + length;
            }
            return out;
        } finally {
            msg.release();
        }
    }

    private static String rdata(ByteBuf msg, int type, int at, int length, byte[] scratch) {
        switch (type) {
            case DnsTable.A:
            case DnsTable.AAAA:
                byte[] ip = new byte[length];
                msg.getBytes(at, ip);
                try {
                    return InetAddress.getByAddress(ip).getHostAddress();
                } catch (UnknownHostException e) {
                    return "?";
                }
            case DnsTable.SRV:
                return msg.getUnsignedShort(at) + " " + msg.getUnsignedShort(at + 2) + ' '
                       + msg.getUnsignedShort(at + 4) + ' ' + name(msg, at + 6, scratch);
            case DnsTable.TXT:
                return '"' + msg.toString(at + 1, msg.getUnsignedByte(at), StandardCharsets.US_ASCII) + '"';
            case DnsTable.SOA:
                int second = DnsQuery.skipName(msg, at, msg.writerIndex());
                int numbers = DnsQuery.skipName(msg, second, msg.writerIndex());
                return name(msg, at, scratch) + ' ' + name(msg, second, scratch) + ' ' + msg.getUnsignedInt(numbers)
                       + ' ' + msg.getUnsignedInt(numbers + 4) + ' ' + msg.getUnsignedInt(numbers + 8) + ' '
                       + msg.getUnsignedInt(numbers + 12) + ' ' + msg.getUnsignedInt(numbers + 16);
            default: // CNAME, PTR, NS
                return name(msg, at, scratch);
        }
    }

    private static String name(ByteBuf msg, int at, byte[] scratch) {
        int n = ChasedRecords.readName(msg, 0, at, msg.writerIndex(), scratch);
        return DnsName.toText(java.util.Arrays.copyOf(scratch, n)) + '.';
    }

    static String typeName(int type) {
        switch (type) {
            case DnsTable.A: return "A";
            case DnsTable.AAAA: return "AAAA";
            case DnsTable.SRV: return "SRV";
            case DnsTable.PTR: return "PTR";
            case DnsTable.CNAME: return "CNAME";
            case DnsTable.TXT: return "TXT";
            case DnsTable.SOA: return "SOA";
            case DnsTable.NS: return "NS";
            default: return "TYPE" + type;
        }
    }
}
