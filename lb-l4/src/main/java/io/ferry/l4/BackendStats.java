package io.ferry.l4;

import java.util.concurrent.atomic.LongAdder;

/**
 * The counters of one Service port ({@link Backend}), for {@code /metrics} with a {@code service} label. Written by
 * every event loop without locks; the compiler hands the same instance to the next table's {@link Backend} of the
 * same name, so the counts run on across swaps, and connections opened on an old table keep counting into it.
 */
public final class BackendStats {

    final LongAdder connections = new LongAdder();
    final LongAdder active = new LongAdder();
    final LongAdder bytesFromClients = new LongAdder();
    final LongAdder bytesToClients = new LongAdder();
    final LongAdder noEndpointRejects = new LongAdder();
    final LongAdder connectFailures = new LongAdder();
    final LatencyHistogram connectLatency = new LatencyHistogram();
    final LongAdder retries = new LongAdder();

    /** Connections accepted for this Service port. */
    public long connections() {
        return connections.sum();
    }

    /** Connections open now. */
    public long active() {
        return active.sum();
    }

    public long bytesFromClients() {
        return bytesFromClients.sum();
    }

    public long bytesToClients() {
        return bytesToClients.sum();
    }

    /** Connections reset at once because the Service port had no usable endpoint. */
    public long noEndpointRejects() {
        return noEndpointRejects.sum();
    }

    /** Connects tried again on another endpoint after one failed. */
    public long retries() {
        return retries.sum();
    }

    /** How long successful connects to this Service port's endpoints took. */
    public LatencyHistogram connectLatency() {
        return connectLatency;
    }

    /** Connect attempts to this Service port's endpoints that failed. */
    public long connectFailures() {
        return connectFailures.sum();
    }
}
