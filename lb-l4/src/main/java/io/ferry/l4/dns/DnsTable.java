package io.ferry.l4.dns;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The immutable DNS table: every name of the cluster zone (and the reverse names of its addresses) with its
 * answers, precomputed in wire format.
 *
 * <p>Built off the hot path by the compiler with {@link #builder(String)} and published by
 * {@link DnsServer#apply(DnsTable)} with one volatile write. A query costs one hash lookup on its lowercase wire
 * name (an open-addressing table compared with {@link Arrays#equals(byte[], int, int, byte[], int, int)}) and no
 * allocation; its answer is a byte range written after the client's own question, whose name every record points
 * back to (name compression against offset 12 is valid for every query of that name, whatever its case).
 *
 * <p>What exists: each name added, every ancestor of it up to the zone apex (empty non-terminals such as
 * {@code <ns>.svc.<zone>} answer NODATA, not NXDOMAIN), the apex with its SOA and NS, {@code svc.<zone>} and
 * {@code dns-version.<zone>} (TXT, the schema version of the Kubernetes DNS specification). Reverse names exist
 * only where a PTR record was added; other names of {@code in-addr.arpa} and {@code ip6.arpa} are outside the table.
 */
public final class DnsTable {

    static final int A = 1;
    static final int NS = 2;
    static final int CNAME = 5;
    static final int SOA = 6;
    static final int PTR = 12;
    static final int TXT = 16;
    static final int AAAA = 28;
    static final int SRV = 33;
    static final int ANY = 255;
    static final int CLASS_IN = 1;

    /** The version of the Kubernetes DNS-Based Service Discovery specification served at {@code dns-version}. */
    public static final String SCHEMA_VERSION = "1.1.0";
    /** The TTL of every record unless the builder says otherwise. */
    public static final int DEFAULT_TTL = 5;

    /** The table a server has before its first apply: every query is answered SERVFAIL. */
    public static final DnsTable NOT_READY = new DnsTable();

    final boolean ready;
    final byte[] zone;
    final int zoneLabels;
    final int ttl;
    final long serial;
    final boolean podRecords;
    final byte[] soaRdata;
    private final String zoneName;
    private final Node[] slots;
    private final int mask;
    private final int size;
    private final int records;

    private DnsTable() {
        ready = false;
        zone = new byte[] {0};
        zoneLabels = 0;
        ttl = 0;
        serial = 0;
        podRecords = false;
        soaRdata = new byte[0];
        zoneName = ".";
        slots = new Node[1];
        mask = 0;
        size = 0;
        records = 0;
    }

    private DnsTable(Builder b, List<Node> nodes, int records, byte[] soaRdata) {
        ready = true;
        zone = b.zone;
        zoneLabels = DnsName.labelCount(zone, zone.length);
        ttl = b.ttl;
        serial = b.serial;
        podRecords = b.podRecords;
        this.soaRdata = soaRdata;
        zoneName = DnsName.toText(zone);
        int capacity = Integer.highestOneBit(Math.max(4, nodes.size() * 2 + 1) - 1) << 1;
        slots = new Node[capacity];
        mask = capacity - 1;
        for (Node n : nodes) {
            int i = n.hash & mask;
            while (slots[i] != null) {
                i = (i + 1) & mask;
            }
            slots[i] = n;
        }
        size = nodes.size();
        this.records = records;
    }

    /** A builder for the zone {@code zone} (e.g. {@code cluster.local}). */
    public static Builder builder(String zone) {
        return new Builder(zone);
    }

    /** The node of a lowercase wire name ({@code length} bytes of {@code name}, hashed by the parser), or null. */
    Node lookup(byte[] name, int length, int hash) {
        Node[] s = slots;
        int i = hash & mask;
        for (;;) {
            Node n = s[i];
            if (n == null) {
                return null;
            }
            if (n.hash == hash && n.name.length == length && Arrays.equals(n.name, 0, length, name, 0, length)) {
                return n;
            }
            i = (i + 1) & mask;
        }
    }

    /**
     * Whether the lowercase wire-format name in {@code name[0, length)} exists: the lookup the server does for each
     * query (a hash over the bytes, then one probe sequence), without allocating. For benchmarks and tools.
     */
    public boolean containsWire(byte[] name, int length) {
        return lookup(name, length, DnsName.hash(name, length)) != null;
    }

    /** Whether {@code name} (dotted, any case) exists in the table, with records or as an empty non-terminal. */
    public boolean contains(String name) {
        byte[] wire = DnsName.toWire(name);
        return lookup(wire, wire.length, DnsName.hash(wire, wire.length)) != null;
    }

    /**
     * The records of {@code name} (dotted, any case) as text, e.g. {@code ["A 10.96.0.10"]}; empty for a name that
     * exists without records; null for a name that does not exist. For inspection, not for the hot path.
     */
    public List<String> records(String name) {
        byte[] wire = DnsName.toWire(name);
        Node n = lookup(wire, wire.length, DnsName.hash(wire, wire.length));
        return n == null ? null : n.records();
    }

    /** Every name of the table, sorted, with its records as {@link #records(String)} gives them. */
    public Map<String, List<String>> records() {
        Map<String, List<String>> out = new java.util.TreeMap<>();
        for (Node n : slots) {
            if (n != null) {
                out.put(DnsName.toText(n.name), n.records());
            }
        }
        return out;
    }

    /** Whether a lowercase wire name is at or below the zone apex. */
    boolean inZone(byte[] name, int length) {
        return ready && DnsName.endsWith(name, length, zone);
    }

    /** The zone apex, dotted ({@code cluster.local}). */
    public String zone() {
        return zoneName;
    }

    /** The TTL of every record and of negative answers, in seconds. */
    public int ttl() {
        return ttl;
    }

    /** The SOA serial. */
    public long serial() {
        return serial;
    }

    /** How many names exist, empty non-terminals included. */
    public int size() {
        return size;
    }

    /** How many records were added (before deduplication of identical ones). */
    public int recordCount() {
        return records;
    }

    /** Whether {@code <a-b-c-d>.<ns>.pod.<zone>} names are answered (the specification's deprecated pod records). */
    public boolean podRecords() {
        return podRecords;
    }

    @Override
    public String toString() {
        return ready ? "DnsTable(" + zoneName + ", " + size + " names, ttl " + ttl + "s)" : "DnsTable(not ready)";
    }

    /** One name: its answers by query type. Immutable. */
    static final class Node {
        final byte[] name;
        final int hash;
        /** The zone apex the name is in (for the SOA of negative answers). */
        final byte[] apex;
        private final int[] types;
        private final Answer[] answers;
        /** For a name with a CNAME: the answer to every type not listed. Null otherwise (those types are NODATA). */
        private final Answer otherwise;

        Node(byte[] name, byte[] apex, int[] types, Answer[] answers, Answer otherwise) {
            this.name = name;
            this.hash = DnsName.hash(name, name.length);
            this.apex = apex;
            this.types = types;
            this.answers = answers;
            this.otherwise = otherwise;
        }

        List<String> records() {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < types.length; i++) {
                if (types[i] != ANY && (otherwise == null || types[i] == CNAME)) {
                    out.addAll(RecordText.answers(name, answers[i]));
                }
            }
            return out;
        }

        /** The answer to {@code qtype}, or null for NODATA. */
        Answer answer(int qtype) {
            int[] t = types;
            for (int i = 0; i < t.length; i++) {
                if (t[i] == qtype) {
                    return answers[i];
                }
            }
            return otherwise;
        }
    }

    /**
     * A precomputed answer: the answer section (records whose owner names point into the question at offset 12),
     * then the additional section, as bytes to write after the question.
     */
    static final class Answer {
        final byte[] bytes;
        final int answerCount;
        final int answerLength;
        final int additionalCount;
        final int rcode;
        /** Whether the authority section carries the zone's SOA (a negative answer at the end of a CNAME chain). */
        final boolean negative;
        /** The last target of a CNAME chain that leaves the zone (wire form), to resolve upstream; or null. */
        final byte[] chase;
        /** The size of every answer record when they may be rotated (one A or AAAA RRset), else 0. */
        final int rotateUnit;

        Answer(byte[] bytes, int answerCount, int answerLength, int additionalCount, int rcode, boolean negative,
               byte[] chase, int rotateUnit) {
            this.bytes = bytes;
            this.answerCount = answerCount;
            this.answerLength = answerLength;
            this.additionalCount = additionalCount;
            this.rcode = rcode;
            this.negative = negative;
            this.chase = chase;
            this.rotateUnit = rotateUnit;
        }
    }

    /** Builds a {@link DnsTable}; not thread-safe. Names are case-insensitive, with or without the final dot. */
    public static final class Builder {

        private final byte[] zone;
        private int ttl = DEFAULT_TTL;
        private long serial = 1;
        private boolean podRecords = true;
        private final Map<ZoneCompiler.Key, ZoneCompiler.Names> names = new HashMap<>();
        private int records;
        private boolean built;

        private Builder(String zone) {
            this.zone = DnsName.toWire(requireNonNull(zone, "zone"));
        }

        /** The TTL of every record and of negative answers (default 5 s). */
        public Builder ttl(int seconds) {
            if (seconds < 0 || seconds > 86400) {
                throw new IllegalArgumentException("ttl: " + seconds + " (expected: 0-86400)");
            }
            ttl = seconds;
            return this;
        }

        /** The SOA serial (an unsigned 32-bit number; default 1). */
        public Builder serial(long serial) {
            this.serial = serial & 0xFFFFFFFFL;
            return this;
        }

        /** Whether to answer the deprecated {@code <a-b-c-d>.<ns>.pod.<zone>} A/AAAA names (default on). */
        public Builder podRecords(boolean on) {
            podRecords = on;
            return this;
        }

        /**
         * Makes {@code name} (in the zone) exist without records of its own: it answers NODATA rather than NXDOMAIN
         * (a namespace whose Services have no records yet).
         */
        public Builder exists(String name) {
            names.computeIfAbsent(inZone(name), k -> new ZoneCompiler.Names());
            return this;
        }

        /** An A record (IPv4) or AAAA record (IPv6) at {@code name}, which must be in the zone. */
        public Builder address(String name, InetAddress address) {
            requireNonNull(address, "address");
            byte[] ip = address.getAddress();
            add(inZone(name), new Rdata(address instanceof Inet4Address ? A : AAAA, ip, null, 0, 0, 0));
            return this;
        }

        /** An SRV record at {@code name} (in the zone) for {@code port} on {@code target}. */
        public Builder srv(String name, int priority, int weight, int port, String target) {
            check(priority, "priority");
            check(weight, "weight");
            check(port, "port");
            add(inZone(name), new Rdata(SRV, null, DnsName.toWire(target), priority, weight, port));
            return this;
        }

        /** A CNAME record: {@code name} (in the zone) is an alias of {@code target}. A name has one CNAME at most. */
        public Builder cname(String name, String target) {
            add(inZone(name), new Rdata(CNAME, null, DnsName.toWire(target), 0, 0, 0));
            return this;
        }

        /** A PTR record from the reverse name of {@code address} to {@code target}. */
        public Builder ptr(InetAddress address, String target) {
            checkNotBuilt();
            byte[] name = DnsName.toWire(DnsName.reverseName(address));
            add(new ZoneCompiler.Key(name), new Rdata(PTR, null, DnsName.toWire(target), 0, 0, 0));
            return this;
        }

        /** A TXT record of one string (up to 255 bytes of US-ASCII) at {@code name}, in the zone. */
        public Builder txt(String name, String text) {
            byte[] t = requireNonNull(text, "text").getBytes(StandardCharsets.US_ASCII);
            if (t.length > 255) {
                throw new IllegalArgumentException("text: " + t.length + " bytes (expected: at most 255)");
            }
            add(inZone(name), new Rdata(TXT, t, null, 0, 0, 0));
            return this;
        }

        private static void check(int v, String what) {
            if (v < 0 || v > 65535) {
                throw new IllegalArgumentException(what + ": " + v + " (expected: 0-65535)");
            }
        }

        private ZoneCompiler.Key inZone(String name) {
            checkNotBuilt();
            byte[] wire = DnsName.toWire(name);
            if (!DnsName.endsWith(wire, wire.length, zone)) {
                throw new IllegalArgumentException("name: " + name + " (expected: a name in " + DnsName.toText(zone)
                                                   + ')');
            }
            return new ZoneCompiler.Key(wire);
        }

        private void add(ZoneCompiler.Key key, Rdata rdata) {
            ZoneCompiler.Names d = names.computeIfAbsent(key, k -> new ZoneCompiler.Names());
            Rdata cname = d.first(CNAME);
            if (rdata.type == CNAME && cname == null && !d.isEmpty() || rdata.type != CNAME && cname != null) {
                throw new IllegalArgumentException("name: " + DnsName.toText(key.wire)
                                                   + " (a CNAME cannot share its name with other records)");
            }
            if (rdata.type == CNAME && cname != null && !cname.equals(rdata)) {
                throw new IllegalArgumentException("name: " + DnsName.toText(key.wire) + " (expected: one CNAME)");
            }
            d.add(rdata);
            records++;
        }

        private void checkNotBuilt() {
            if (built) {
                throw new IllegalStateException("already built");
            }
        }

        /** The table; the builder cannot be used after. */
        public DnsTable build() {
            checkNotBuilt();
            built = true;
            ZoneCompiler compiler = new ZoneCompiler(zone, ttl, serial);
            return new DnsTable(this, compiler.compile(names, podRecords), records, compiler.soaRdata());
        }
    }

}
