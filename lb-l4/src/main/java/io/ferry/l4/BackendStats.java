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

    final Counter connections = new Counter(counts, CONNECTIONS);
    final Counter active = new Counter(counts, ACTIVE);
    final Counter bytesFromClients = new Counter(counts, BYTES_FROM_CLIENTS);
    final Counter bytesToClients = new Counter(counts, BYTES_TO_CLIENTS);
    final Counter noEndpointRejects = new Counter(counts, NO_ENDPOINT_REJECTS);
    final Counter connectFailures = new Counter(counts, CONNECT_FAILURES);
    final LatencyHistogram connectLatency = new LatencyHistogram();
    final Counter retries = new Counter(counts, RETRIES);

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

    /**
     * One slot of the shared counters, with the {@code LongAdder} methods the relay handlers call on the fields
     * ({@code backendStats.connections.increment()}), so they write into the shared storage unchanged.
     */
    static final class Counter {

        private final StripedCounters counts;
        private final int slot;

        Counter(StripedCounters counts, int slot) {
            this.counts = counts;
            this.slot = slot;
        }

        void increment() {
            counts.add(slot, 1);
        }

        void decrement() {
            counts.add(slot, -1);
        }

        void add(long n) {
            counts.add(slot, n);
        }
    }
}
