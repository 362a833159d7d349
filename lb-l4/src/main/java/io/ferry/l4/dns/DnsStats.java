package io.ferry.l4.dns;

import io.ferry.l4.LatencyHistogram;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The DNS server's counters. Thread-safe and cheap to bump from any event loop (striped adders, no locks); the
 * maps are built at scrape time.
 */
public final class DnsStats {

    private static final String[] TYPES = {
            "A", "AAAA", "SRV", "PTR", "CNAME", "TXT", "SOA", "NS", "MX", "ANY", "HTTPS", "SVCB", "other" };
    private static final String[] RCODES = {
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other" };

    private final LongAdder[] queriesByType = adders(TYPES.length);
    private final LongAdder[] responsesByRcode = adders(RCODES.length);
    private final LatencyHistogram latency = new LatencyHistogram();
    final LongAdder udpQueries = new LongAdder();
    final LongAdder tcpQueries = new LongAdder();
    final LongAdder tcpConnections = new LongAdder();
    final LongAdder forwarded = new LongAdder();
    final LongAdder forwardFailures = new LongAdder();
    final LongAdder forwardTimeouts = new LongAdder();
    final LongAdder chased = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder truncated = new LongAdder();
    final LongAdder malformedDropped = new LongAdder();
    final LongAdder malformedAnswered = new LongAdder();

    private static LongAdder[] adders(int n) {
        LongAdder[] a = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    void query(int qtype) {
        queriesByType[typeSlot(qtype)].increment();
    }

    void response(int rcode, long startNanos) {
        responsesByRcode[rcodeSlot(rcode)].increment();
        latency.observe(System.nanoTime() - startNanos);
    }

    private static int typeSlot(int qtype) {
        switch (qtype) {
            case DnsTable.A: return 0;
            case DnsTable.AAAA: return 1;
            case DnsTable.SRV: return 2;
            case DnsTable.PTR: return 3;
            case DnsTable.CNAME: return 4;
            case DnsTable.TXT: return 5;
            case DnsTable.SOA: return 6;
            case DnsTable.NS: return 7;
            case 15: return 8;
            case DnsTable.ANY: return 9;
            case 65: return 10;
            case 64: return 11;
            default: return TYPES.length - 1;
        }
    }

    private static int rcodeSlot(int rcode) {
        if (rcode >= 0 && rcode <= 5) {
            return rcode;
        }
        return rcode == DnsResponder.BADVERS ? 6 : RCODES.length - 1;
    }

    private static Map<String, Long> snapshot(String[] names, LongAdder[] adders) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) {
            out.put(names[i], adders[i].sum());
        }
        return out;
    }

    /**
     * {@code ferry_dns_queries_total{type=…}}: well-formed queries by question type (A, AAAA, SRV, PTR, CNAME,
     * TXT, SOA, NS, MX, ANY, HTTPS, SVCB, other), every key present.
     */
    public Map<String, Long> queriesByType() {
        return snapshot(TYPES, queriesByType);
    }

    /**
     * {@code ferry_dns_responses_total{rcode=…}}: responses sent by response code (NOERROR, FORMERR, SERVFAIL,
     * NXDOMAIN, NOTIMP, REFUSED, BADVERS, other), forwarded ones included, every key present.
     */
    public Map<String, Long> responsesByRcode() {
        return snapshot(RCODES, responsesByRcode);
    }

    /** {@code ferry_dns_request_duration_seconds}: from a query's arrival to its response's write. */
    public LatencyHistogram latency() {
        return latency;
    }

    /** Well-formed queries of every type. */
    public long queries() {
        long n = 0;
        for (LongAdder a : queriesByType) {
            n += a.sum();
        }
        return n;
    }

    /** {@code ferry_dns_transport_queries_total{transport="udp"}}: messages received over UDP, malformed ones too. */
    public long udpQueries() {
        return udpQueries.sum();
    }

    /** {@code ferry_dns_transport_queries_total{transport="tcp"}}: messages received over TCP, malformed ones too. */
    public long tcpQueries() {
        return tcpQueries.sum();
    }

    /** TCP connections accepted. */
    public long tcpConnections() {
        return tcpConnections.sum();
    }

    /** {@code ferry_dns_forwarded_total}: queries for names outside the zone relayed to an upstream resolver. */
    public long forwarded() {
        return forwarded.sum();
    }

    /**
     * {@code ferry_dns_forward_failures_total}: forwarded queries answered SERVFAIL because no upstream answered
     * in time, or because too many were already waiting.
     */
    public long forwardFailures() {
        return forwardFailures.sum();
    }

    /** {@code ferry_dns_forward_timeouts_total}: upstream attempts that timed out (each may be retried). */
    public long forwardTimeouts() {
        return forwardTimeouts.sum();
    }

    /** ExternalName targets outside the zone resolved upstream for an answer. */
    public long chased() {
        return chased.sum();
    }

    /** {@code ferry_dns_refused_total}: queries for names outside the zone refused (forwarding off or not allowed). */
    public long refused() {
        return refused.sum();
    }

    /** {@code ferry_dns_truncated_total}: UDP answers sent with the TC bit because they did not fit. */
    public long truncated() {
        return truncated.sum();
    }

    /** {@code ferry_dns_malformed_total}: malformed messages, answered FORMERR or dropped. */
    public long malformed() {
        return malformedDropped.sum() + malformedAnswered.sum();
    }

    /** Malformed messages dropped: too short for a header, or a response. */
    public long malformedDropped() {
        return malformedDropped.sum();
    }

    /** Malformed messages answered FORMERR. */
    public long malformedAnswered() {
        return malformedAnswered.sum();
    }
}
