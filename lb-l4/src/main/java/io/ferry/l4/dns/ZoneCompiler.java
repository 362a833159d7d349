package io.ferry.l4.dns;

import static io.ferry.l4.dns.DnsTable.A;
import static io.ferry.l4.dns.DnsTable.AAAA;
import static io.ferry.l4.dns.DnsTable.ANY;
import static io.ferry.l4.dns.DnsTable.CLASS_IN;
import static io.ferry.l4.dns.DnsTable.CNAME;
import static io.ferry.l4.dns.DnsTable.NS;
import static io.ferry.l4.dns.DnsTable.SOA;
import static io.ferry.l4.dns.DnsTable.SRV;
import static io.ferry.l4.dns.DnsTable.TXT;

import io.ferry.l4.dns.DnsTable.Answer;
import io.ferry.l4.dns.DnsTable.Node;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns the records a {@link DnsTable.Builder} collected into the table's nodes: adds the names every zone has (the
 * apex with its SOA and NS, {@code svc}, {@code dns-version}, {@code pod}) and the empty non-terminals, then
 * precomputes every answer of every name in wire format, compressed against the question it answers.
 *
 * <p>Runs once per table, on the thread that builds it (the control thread).
 */
final class ZoneCompiler {

    private static final byte[] IN_ADDR_ARPA = DnsName.toWire("in-addr.arpa");
    private static final byte[] IP6_ARPA = DnsName.toWire("ip6.arpa");
    private static final int MAX_CHAIN = 8;

    private final byte[] zone;
    private final int ttl;
    private final long serial;
    private final byte[] mname;
    private final byte[] rname;
    private final MessageWriter writer = new MessageWriter(512);

    ZoneCompiler(byte[] zone, int ttl, long serial) {
        this.zone = zone;
        this.ttl = ttl;
        this.serial = serial;
        this.mname = prefixed("ns.dns");
        this.rname = prefixed("hostmaster");
    }

    /** The nodes of the zone with {@code names} (by wire name, their records), which this adds the zone's names to. */
    List<Node> compile(Map<Key, Names> names, boolean podRecords) {
        Names apex = names.computeIfAbsent(new Key(zone), k -> new Names());
        apex.add(new Rdata(SOA, null, null, 0, 0, 0));
        apex.add(new Rdata(NS, null, mname, 0, 0, 0));
        names.computeIfAbsent(new Key(prefixed("svc")), k -> new Names());
        names.computeIfAbsent(new Key(prefixed("dns-version")), k -> new Names())
             .add(new Rdata(TXT, DnsTable.SCHEMA_VERSION.getBytes(StandardCharsets.US_ASCII), null, 0, 0, 0));
        if (podRecords) {
            names.computeIfAbsent(new Key(prefixed("pod")), k -> new Names());
        }
        // Empty non-terminals: every ancestor of a zone name, up to the apex. An ancestor already there has had its
        // own ancestors added, or will have when the loop reaches it.
        for (Key k : new ArrayList<>(names.keySet())) {
            byte[] w = k.wire;
            if (!DnsName.endsWith(w, w.length, zone)) {
                continue;
            }
            for (int p = w[0] + 1; w.length - p >= zone.length; p += w[p] + 1) {
                if (names.putIfAbsent(new Key(Arrays.copyOfRange(w, p, w.length)), new Names()) != null) {
                    break;
                }
            }
        }
        List<Node> nodes = new ArrayList<>(names.size());
        for (Map.Entry<Key, Names> e : names.entrySet()) {
            nodes.add(node(e.getKey().wire, e.getValue(), names));
        }
        return nodes;
    }

    /** The SOA's data as negative answers carry it: names uncompressed, then the five numbers. */
    byte[] soaRdata() {
        MessageWriter w = new MessageWriter(64);
        w.bytes(mname);
        w.bytes(rname);
        soaNumbers(w);
        return w.copy(0);
    }

    private byte[] prefixed(String labels) {
        byte[] p = DnsName.toWire(labels);
        byte[] out = Arrays.copyOf(p, p.length - 1 + zone.length);
        System.arraycopy(zone, 0, out, p.length - 1, zone.length);
        return out;
    }

    private void soaNumbers(MessageWriter w) {
        w.u32(serial);
        w.u32(7200);   // refresh
        w.u32(1800);   // retry
        w.u32(86400);  // expire
        w.u32(ttl);    // minimum: the TTL of negative answers (RFC 2308)
    }

    private byte[] apexOf(byte[] name) {
        if (DnsName.endsWith(name, name.length, zone)) {
            return zone;
        }
        return DnsName.endsWith(name, name.length, IN_ADDR_ARPA) ? IN_ADDR_ARPA : IP6_ARPA;
    }

    private Node node(byte[] name, Names d, Map<Key, Names> all) {
        byte[] apex = apexOf(name);
        Rdata cname = d.first(CNAME);
        if (cname != null) {
            return aliasNode(name, apex, cname, all);
        }
        int[] types = d.types();
        if (types.length == 0) {
            return new Node(name, apex, types, new Answer[0], null);
        }
        // ANY (RFC 8482 allows less; the sets here are small): every set of the name, the one set's answer if one.
        int[] t = Arrays.copyOf(types, types.length + 1);
        t[types.length] = ANY;
        Answer[] answers = new Answer[t.length];
        for (int i = 0; i < types.length; i++) {
            answers[i] = rrsetAnswer(name, d, types[i], all);
        }
        answers[types.length] = types.length == 1 ? answers[0] : anyAnswer(name, d);
        return new Node(name, apex, t, answers, null);
    }

    /** The records of one type at a name and, for SRV, the addresses of its targets in the additional section. */
    private Answer rrsetAnswer(byte[] name, Names d, int type, Map<Key, Names> all) {
        MessageWriter w = question(name, type);
        int start = w.length();
        List<Rdata> set = d.ofType(type);
        for (Rdata r : set) {
            record(w, name, r);
        }
        int answerLength = w.length() - start;
        int additional = 0;
        if (type == SRV) {
            Set<Key> seen = new HashSet<>();
            for (Rdata srv : set) {
                Key target = new Key(srv.target);
                Names td = seen.add(target) ? all.get(target) : null;
                if (td == null) {
                    continue;
                }
                for (Rdata r : td.records()) {
                    if (r.type == A || r.type == AAAA) {
                        record(w, srv.target, r);
                        additional++;
                    }
                }
            }
        }
        byte[] bytes = w.copy(start);
        return new Answer(bytes, set.size(), answerLength, additional, 0, false, null,
                          rotateUnit(type, bytes, set.size(), answerLength));
    }

    /**
     * The size of each record of an A or AAAA set that may be rotated at run time: more than one record, all of
     * one size, each owned by a pointer to the question (so that no record points into another); else 0.
     */
    private static int rotateUnit(int type, byte[] bytes, int count, int answerLength) {
        if (type != A && type != AAAA || count < 2 || answerLength % count != 0) {
            return 0;
        }
        int unit = answerLength / count;
        for (int at = 0; at < answerLength; at += unit) {
            if ((bytes[at] & 0xFF) != 0xC0 || bytes[at + 1] != 12) {
                return 0;
            }
        }
        return unit;
    }

    private Answer anyAnswer(byte[] name, Names d) {
        MessageWriter w = question(name, ANY);
        int start = w.length();
        for (Rdata r : d.records()) {
            record(w, name, r);
        }
        return new Answer(w.copy(start), d.size(), w.length() - start, 0, 0, false, null, 0);
    }

    /**
     * A name with a CNAME: the CNAME alone for CNAME and ANY queries; for other types the chain of CNAMEs that
     * stays in the table, then the final target's records of the type (RFC 1034 section 3.6.2), a negative
     * answer when that target is in the zone without them, or a target to resolve upstream when it leaves.
     */
    private Node aliasNode(byte[] name, byte[] apex, Rdata cname, Map<Key, Names> all) {
        List<Rdata> chain = new ArrayList<>();
        List<byte[]> owners = new ArrayList<>();
        chain.add(cname);
        owners.add(name);
        Set<Key> seen = new HashSet<>();
        seen.add(new Key(name));
        byte[] target = cname.target;
        Names finalNames = null;
        boolean loop = false;
        for (;;) {
            Names td = all.get(new Key(target));
            Rdata next = td == null ? null : td.first(CNAME);
            if (next == null) {
                finalNames = td;
                break;
            }
            if (!seen.add(new Key(target)) || chain.size() >= MAX_CHAIN) {
                loop = true;
                break;
            }
            chain.add(next);
            owners.add(target);
            target = next.target;
        }
        boolean targetInZone = DnsName.endsWith(target, target.length, zone);

        MessageWriter own = question(name, CNAME);
        int start = own.length();
        record(own, name, cname);
        Answer alone = new Answer(own.copy(start), 1, own.length() - start, 0, 0, false, null, 0);
        List<Integer> types = new ArrayList<>(List.of(CNAME, ANY));
        List<Answer> answers = new ArrayList<>(List.of(alone, alone));
        if (finalNames != null && !loop) {
            for (int type : finalNames.types()) {
                if (type == SOA || type == NS) {
                    continue;
                }
                MessageWriter w = question(name, type);
                int s = w.length();
                writeChain(w, owners, chain);
                List<Rdata> set = finalNames.ofType(type);
                for (Rdata r : set) {
                    record(w, target, r);
                }
                types.add(type);
                answers.add(new Answer(w.copy(s), chain.size() + set.size(), w.length() - s, 0, 0, false, null, 0));
            }
        }
        MessageWriter w = question(name, 0);
        int s = w.length();
        writeChain(w, owners, chain);
        int rcode = !loop && targetInZone && finalNames == null ? DnsResponder.NXDOMAIN : DnsResponder.NOERROR;
        boolean negative = !loop && targetInZone;
        byte[] chase = loop || targetInZone ? null : target;
        Answer otherwise = new Answer(w.copy(s), chain.size(), w.length() - s, 0, rcode, negative, chase, 0);
        int[] t = new int[types.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = types.get(i);
        }
        return new Node(name, apex, t, answers.toArray(new Answer[0]), otherwise);
    }

    private void writeChain(MessageWriter w, List<byte[]> owners, List<Rdata> chain) {
        for (int i = 0; i < chain.size(); i++) {
            record(w, owners.get(i), chain.get(i));
        }
    }

    /**
     * The compiler's one writer, emptied, holding a blank header and the question {@code name} so that names
     * compress against it. Each answer is copied out of it before the next question.
     */
    private MessageWriter question(byte[] name, int type) {
        MessageWriter w = writer;
        w.reset();
        for (int i = 0; i < 12; i++) {
            w.u8(0);
        }
        w.questionName(name);
        w.u16(type);
        w.u16(CLASS_IN);
        return w;
    }

    private void record(MessageWriter w, byte[] owner, Rdata r) {
        w.name(owner);
        w.u16(r.type);
        w.u16(CLASS_IN);
        w.u32(ttl);
        w.u16(0);
        int lengthAt = w.length() - 2;
        int start = w.length();
        if (r.type == SOA) {
            w.name(mname);
            w.name(rname);
            soaNumbers(w);
        } else {
            r.write(w);
        }
        w.u16At(lengthAt, w.length() - start);
    }

    /**
     * The records of one name, in the order they were added, each once. A small array: most names have one
     * record; a set of many (a large headless Service) gets an index for the duplicate check.
     */
    static final class Names {
        private static final Rdata[] NONE = new Rdata[0];

        private Rdata[] records = NONE;
        private int size;
        private Set<Rdata> index;

        /** Adds {@code r} unless an equal record is there. */
        void add(Rdata r) {
            if (contains(r)) {
                return;
            }
            if (size == records.length) {
                records = Arrays.copyOf(records, Math.max(2, size * 2));
            }
            records[size++] = r;
            if (index != null) {
                index.add(r);
            } else if (size > 8) {
                index = new HashSet<>(Arrays.asList(records).subList(0, size));
            }
        }

        private boolean contains(Rdata r) {
            if (index != null) {
                return index.contains(r);
            }
            for (int i = 0; i < size; i++) {
                if (records[i].equals(r)) {
                    return true;
                }
            }
            return false;
        }

        int size() {
            return size;
        }

        boolean isEmpty() {
            return size == 0;
        }

        List<Rdata> records() {
            return Arrays.asList(records).subList(0, size);
        }

        /** The first record of {@code type}, or null. */
        Rdata first(int type) {
            for (int i = 0; i < size; i++) {
                if (records[i].type == type) {
                    return records[i];
                }
            }
            return null;
        }

        List<Rdata> ofType(int type) {
            List<Rdata> out = new ArrayList<>();
            for (int i = 0; i < size; i++) {
                if (records[i].type == type) {
                    out.add(records[i]);
                }
            }
            return out;
        }

        /** The types present, in the order each first appeared. */
        int[] types() {
            int[] t = new int[Math.min(size, 8)];
            int n = 0;
            outer:
            for (int i = 0; i < size; i++) {
                int type = records[i].type;
                for (int j = 0; j < n; j++) {
                    if (t[j] == type) {
                        continue outer;
                    }
                }
                if (n == t.length) {
                    t = Arrays.copyOf(t, n * 2);
                }
                t[n++] = type;
            }
            return Arrays.copyOf(t, n);
        }
    }

    /** A wire name as a map key. */
    static final class Key {
        final byte[] wire;
        private final int hash;

        Key(byte[] wire) {
            this.wire = wire;
            this.hash = Arrays.hashCode(wire);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key && Arrays.equals(wire, ((Key) o).wire);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
