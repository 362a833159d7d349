package io.ferry.l4;

/**
 * The counters of one Service port ({@link Backend}), for {@code /metrics} with a {@code service} label. Written by
 * every event loop without locks; the compiler hands the same instance to the next table's {@link Backend} of the
 * same name, so the counts run on across swaps, and connections opened on an old table keep counting into it.
 *
 * <p>The counters share one {@link StripedCounters}, so a Service port that never had a connection holds no counter
 * storage: a table of 10,000 Service ports pays for the few that see traffic.
 */
public final class BackendStats {

    private static final int CONNECTIONS = 0;
    private static final int ACTIVE = 1;
    private static final int BYTES_FROM_CLIENTS = 2;
    private static final int BYTES_TO_CLIENTS = 3;
    private static final int NO_ENDPOINT_REJECTS = 4;
    private static final int CONNECT_FAILURES = 5;
    private static final int RETRIES = 6;

    private final StripedCounters counts = new StripedCounters(7);

    final LatencyHistogram connectLatency = new LatencyHistogram();

    // The relay handlers' writes: methods on the shared storage, so that a Service port costs no object per counter.

    void addConnections(long n) {
        counts.add(CONNECTIONS, n);
    }

    void addActive(long n) {
        counts.add(ACTIVE, n);
    }

    void addBytesFromClients(long n) {
        counts.add(BYTES_FROM_CLIENTS, n);
    }

    void addBytesToClients(long n) {
        counts.add(BYTES_TO_CLIENTS, n);
    }

    void addNoEndpointRejects(long n) {
        counts.add(NO_ENDPOINT_REJECTS, n);
    }

    void addConnectFailures(long n) {
        counts.add(CONNECT_FAILURES, n);
    }

    void addRetries(long n) {
        counts.add(RETRIES, n);
    }

    /** Connections accepted for this Service port. */
    public long connections() {
        return counts.sum(CONNECTIONS);
    }

    /** Connections open now. */
    public long active() {
        return counts.sum(ACTIVE);
    }

    public long bytesFromClients() {
        return counts.sum(BYTES_FROM_CLIENTS);
    }

    public long bytesToClients() {
        return counts.sum(BYTES_TO_CLIENTS);
    }

    /** Connections reset at once because the Service port had no usable endpoint. */
    public long noEndpointRejects() {
        return counts.sum(NO_ENDPOINT_REJECTS);
    }

    /** Connects tried again on another endpoint after one failed. */
    public long retries() {
        return counts.sum(RETRIES);
    }

    /** How long successful connects to this Service port's endpoints took. */
    public LatencyHistogram connectLatency() {
        return connectLatency;
    }

    /** Connect attempts to this Service port's endpoints that failed. */
    public long connectFailures() {
        return counts.sum(CONNECT_FAILURES);
    }
}
