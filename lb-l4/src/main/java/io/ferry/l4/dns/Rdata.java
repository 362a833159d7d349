package io.ferry.l4.dns;

import java.util.Arrays;

/** The data of one record, compared by content (an RRset holds each record once). */
final class Rdata {
    final int type;
    final byte[] raw;     // A, AAAA: the address; TXT: the text
    final byte[] target;  // CNAME, PTR, NS, SRV: a wire name
    final int priority;
    final int weight;
    final int port;

    Rdata(int type, byte[] raw, byte[] target, int priority, int weight, int port) {
        this.type = type;
        this.raw = raw;
        this.target = target;
        this.priority = priority;
        this.weight = weight;
        this.port = port;
    }

    void write(MessageWriter w) {
        switch (type) {
            case DnsTable.A:
            case DnsTable.AAAA:
                w.bytes(raw);
                break;
            case DnsTable.TXT:
                w.u8(raw.length);
                w.bytes(raw);
                break;
            case DnsTable.SRV:
                w.u16(priority);
                w.u16(weight);
                w.u16(port);
                w.uncompressedName(target);
                break;
            default: // CNAME, PTR, NS
                w.name(target);
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Rdata)) {
            return false;
        }
        Rdata r = (Rdata) o;
        return type == r.type && priority == r.priority && weight == r.weight && port == r.port
               && Arrays.equals(raw, r.raw) && Arrays.equals(target, r.target);
    }

    @Override
    public int hashCode() {
        return ((type * 31 + Arrays.hashCode(raw)) * 31 + Arrays.hashCode(target)) * 31 + port;
    }
}
