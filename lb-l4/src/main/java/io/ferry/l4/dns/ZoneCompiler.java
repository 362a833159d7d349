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
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
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

    private final byte[] zone;
    private final int ttl;
    private final long serial;

    ZoneCompiler(byte[] zone, int ttl, long serial) {
        this.zone = zone;
        this.ttl = ttl;
        this.serial = serial;
    }

    /** The nodes of the zone with {@code names} (by wire name, their record sets); {@code names} is not changed. */
    List<Node> compile(Map<Key, Names> names, boolean podRecords) {
        Map<Key, Names> all = new LinkedHashMap<>(names);
        Names apex = all.computeIfAbsent(new Key(zone), k -> new Names());
        apex.add(new Rdata(SOA, null, null, 0, 0, 0));
        apex.add(new Rdata(NS, null, mname(), 0, 0, 0));
        all.computeIfAbsent(new Key(prefixed("svc")), k -> new Names());
        all.computeIfAbsent(new Key(prefixed("dns-version")), k -> new Names())
           .add(new Rdata(TXT, DnsTable.SCHEMA_VERSION.getBytes(StandardCharsets.US_ASCII), null, 0, 0, 0));
        if (podRecords) {
            all.computeIfAbsent(new Key(prefixed("pod")), k -> new Names());
        }
        // Empty non-terminals: every ancestor of a zone name, up to the apex.
        for (Key k : new ArrayList<>(all.keySet())) {
            if (!DnsName.endsWith(k.wire, k.wire.length, zone)) {
                continue;
            }
            byte[] w = k.wire;
            int p = 0;
            while (w.length - p > zone.length) {
                p += w[p] + 1;
                all.computeIfAbsent(new Key(Arrays.copyOfRange(w, p, w.length)), x -> new Names());
            }
        }
        List<Node> nodes = new ArrayList<>(all.size());
        for (Map.Entry<Key, Names> e : all.entrySet()) {
            nodes.add(node(e.getKey().wire, e.getValue(), all));
        }
        return nodes;
    }

    byte[] soaRdata() {
        MessageWriter w = new MessageWriter(64);
        w.bytes(mname());
        w.bytes(rname());
        soaNumbers(w);
        return w.copy(0);
    }

    private byte[] mname() {
        return prefixed("ns.dns");
    }

    private byte[] rname() {
        return prefixed("hostmaster");
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
        Set<Rdata> cname = d.sets.get(CNAME);
        if (cname != null) {
            return aliasNode(name, apex, cname.iterator().next(), all);
        }
        List<Integer> types = new ArrayList<>(d.sets.keySet());
        if (!types.isEmpty()) {
            types.add(ANY);
        }
        int[] t = new int[types.size()];
        Answer[] answers = new Answer[types.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = types.get(i);
            answers[i] = t[i] == ANY ? anyAnswer(name, d) : rrsetAnswer(name, d, t[i], all);
        }
        return new Node(name, apex, t, answers, null);
    }

    /** The records of one type at a name and, for SRV, the addresses of its targets in the additional section. */
    private Answer rrsetAnswer(byte[] name, Names d, int type, Map<Key, Names> all) {
        MessageWriter w = question(name, type);
        int start = w.length();
        Set<Rdata> set = d.sets.get(type);
        for (Rdata r : set) {
            record(w, name, r);
        }
        int answerLength = w.length() - start;
        int additional = 0;
        if (type == SRV) {
            Set<Key> targets = new LinkedHashSet<>();
            for (Rdata r : set) {
                targets.add(new Key(r.target));
            }
            for (Key target : targets) {
                Names td = all.get(target);
                if (td == null) {
                    continue;
                }
                for (int at : new int[] {A, AAAA}) {
                    for (Rdata r : td.sets.getOrDefault(at, Set.of())) {
                        record(w, target.wire, r);
                        additional++;
                    }
                }
            }
        }
        int rotate = (type == A || type == AAAA) && set.size() > 1 ? answerLength / set.size() : 0;
        return new Answer(w.copy(start), set.size(), answerLength, additional, 0, false, null, rotate);
    }

    /** ANY (RFC 8482 allows less; the sets here are small): every RRset of the name. */
    private Answer anyAnswer(byte[] name, Names d) {
        MessageWriter w = question(name, ANY);
        int start = w.length();
        int n = 0;
        for (Set<Rdata> set : d.sets.values()) {
            for (Rdata r : set) {
                record(w, name, r);
                n++;
            }
        }
        return new Answer(w.copy(start), n, w.length() - start, 0, 0, false, null, 0);
    }

    /**
     * A name with a CNAME: the CNAME alone for CNAME and ANY queries; for other types the chain of CNAMEs that
     * stays in the table, then the final target's records of the type (RFC 1034 section 3.6.2), a negative
     * answer when that target is in the zone without them, or a target to resolve upstream when it leaves.
     */
    private Node aliasNode(byte[] name, byte[] apex, Rdata cname, Map<Key, Names> all) {
        List<byte[]> chain = new ArrayList<>();
        chain.add(name);
        byte[] target = cname.target;
        Names finalData = null;
        Set<Key> seen = new HashSet<>();
        seen.add(new Key(name));
        boolean loop = false;
        for (int hops = 0; ; hops++) {
            Names td = all.get(new Key(target));
            Set<Rdata> next = td == null ? null : td.sets.get(CNAME);
            if (next == null) {
                finalData = td;
                break;
            }
            if (!seen.add(new Key(target)) || hops >= 8) {
                loop = true;
                break;
            }
            chain.add(target);
            target = next.iterator().next().target;
        }
        boolean targetInZone = DnsName.endsWith(target, target.length, zone);

        List<Integer> types = new ArrayList<>();
        List<Answer> answers = new ArrayList<>();
        MessageWriter own = question(name, CNAME);
        int start = own.length();
        record(own, name, cname);
        Answer alone = new Answer(own.copy(start), 1, own.length() - start, 0, 0, false, null, 0);
        types.add(CNAME);
        answers.add(alone);
        types.add(ANY);
        answers.add(alone);
        if (finalData != null && !loop) {
            for (Map.Entry<Integer, Set<Rdata>> e : finalData.sets.entrySet()) {
                if (e.getKey() == SOA || e.getKey() == NS) {
                    continue;
                }
                MessageWriter w = question(name, e.getKey());
                int s = w.length();
                writeChain(w, chain, all);
                for (Rdata r : e.getValue()) {
                    record(w, target, r);
                }
                types.add(e.getKey());
                answers.add(new Answer(w.copy(s), chain.size() + e.getValue().size(), w.length() - s, 0, 0,
                                       false, null, 0));
            }
        }
        MessageWriter w = question(name, 0);
        int s = w.length();
        writeChain(w, chain, all);
        int rcode = !loop && targetInZone && finalData == null ? 3 : 0;
        boolean negative = !loop && targetInZone;
        byte[] chase = loop || targetInZone ? null : target;
        Answer otherwise = new Answer(w.copy(s), chain.size(), w.length() - s, 0, rcode, negative, chase, 0);
        int[] t = new int[types.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = types.get(i);
        }
        return new Node(name, apex, t, answers.toArray(new Answer[0]), otherwise);
    }

    private void writeChain(MessageWriter w, List<byte[]> chain, Map<Key, Names> all) {
        for (byte[] link : chain) {
            record(w, link, all.get(new Key(link)).sets.get(CNAME).iterator().next());
        }
    }

    /** A writer holding a blank header and the question {@code name}, so that names compress against it. */
    private static MessageWriter question(byte[] name, int type) {
        MessageWriter w = new MessageWriter(64 + name.length * 2);
        for (int i = 0; i < 12; i++) {
            w.u8(0);
        }
        w.name(name);
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
            w.name(mname());
            w.name(rname());
            soaNumbers(w);
        } else {
            r.write(w);
        }
        w.u16At(lengthAt, w.length() - start);
    }

    /** The record sets of one name, by type. */
    static final class Names {
        final Map<Integer, Set<Rdata>> sets = new LinkedHashMap<>();

        void add(Rdata r) {
            sets.computeIfAbsent(r.type, t -> new LinkedHashSet<>()).add(r);
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
