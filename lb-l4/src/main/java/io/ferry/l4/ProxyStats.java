package io.ferry.l4;

import java.util.concurrent.atomic.LongAdder;

/**
 * The TCP proxy's counters. Thread-safe and cheap to bump from any event loop (striped adders, no locks).
 */
public final class ProxyStats {

    final LongAdder accepted = new LongAdder();
    final LongAdder active = new LongAdder();
    final LongAdder noEndpointRejects = new LongAdder();
    final LongAdder connectFailures = new LongAdder();
    final LongAdder upstreamUnreachable = new LongAdder();
    final LongAdder idleTimeouts = new LongAdder();
    final LongAdder bytesFromClients = new LongAdder();
    final LongAdder bytesToClients = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder endpointsSkipped = new LongAdder();

    /** {@code ferry_l4_connections_total}: connections accepted. */
    public long accepted() {
        return accepted.sum();
    }

    /** {@code ferry_l4_connections_active}: connections open now. */
    public long active() {
        return active.sum();
    }

    /** {@code ferry_l4_no_endpoint_rejects_total}: connections reset because their Service had no endpoint. */
    public long noEndpointRejects() {
        return noEndpointRejects.sum();
    }

    /** {@code ferry_l4_upstream_connect_failures_total}: connect attempts to an endpoint that failed. */
    public long connectFailures() {
        return connectFailures.sum();
    }

    /** {@code ferry_l4_upstream_unreachable_total}: connections reset because no endpoint could be reached. */
    public long upstreamUnreachable() {
        return upstreamUnreachable.sum();
    }

    /** {@code ferry_l4_idle_timeouts_total}: connections closed for inactivity. */
    public long idleTimeouts() {
        return idleTimeouts.sum();
    }

    /** {@code ferry_l4_bytes_total{direction="rx"}}: bytes read from clients. */
    public long bytesFromClients() {
        return bytesFromClients.sum();
    }

    /** {@code ferry_l4_bytes_total{direction="tx"}}: bytes read from endpoints (and sent to clients). */
    public long bytesToClients() {
        return bytesToClients.sum();
    }

    /** {@code ferry_l4_retries_total}: connects tried again on another endpoint after one failed. */
    public long retries() {
        return retries.sum();
    }

    /**
     * {@code ferry_l4_endpoint_ejections_total}: times an endpoint's failed connects made passive health skip it
     * for the fail timeout.
     */
    public long endpointsSkipped() {
        return endpointsSkipped.sum();
    }
}
