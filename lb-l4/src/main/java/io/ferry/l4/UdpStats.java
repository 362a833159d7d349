package io.ferry.l4;

import java.util.concurrent.atomic.LongAdder;

/**
 * The UDP proxy's counters. Thread-safe and cheap to bump from any event loop (striped adders, no locks).
 *
 * <p>A flow is what conntrack would call a UDP connection: the datagrams between one client address and port and
 * one listener, relayed through one upstream socket to one endpoint. Every datagram read is counted in
 * {@link #datagramsFromClients()} or {@link #datagramsToClients()}; the {@code *Drops} counters say which of them
 * went no further, and why.
 */
public final class UdpStats {

    final LongAdder flowsCreated = new LongAdder();
    final LongAdder flowsActive = new LongAdder();
    final LongAdder flowsExpired = new LongAdder();
    final LongAdder flowsEndpointRemoved = new LongAdder();
    final LongAdder upstreamErrors = new LongAdder();
    final LongAdder upstreamConnectFailures = new LongAdder();
    final LongAdder endpointsSkipped = new LongAdder();
    final LongAdder noEndpointDrops = new LongAdder();
    final LongAdder flowLimitDrops = new LongAdder();
    final LongAdder oversizeDrops = new LongAdder();
    final LongAdder sendDrops = new LongAdder();
    final LongAdder datagramsFromClients = new LongAdder();
    final LongAdder bytesFromClients = new LongAdder();
    final LongAdder datagramsToClients = new LongAdder();
    final LongAdder bytesToClients = new LongAdder();

    /** {@code ferry_udp_flows_total}: flows started (a datagram from a client with no flow yet). */
    public long flowsCreated() {
        return flowsCreated.sum();
    }

    /** {@code ferry_udp_flows_active}: flows open now. */
    public long flowsActive() {
        return flowsActive.sum();
    }

    /** {@code ferry_udp_flows_expired_total}: flows closed after the idle timeout. */
    public long flowsExpired() {
        return flowsExpired.sum();
    }

    /**
     * {@code ferry_udp_flows_endpoint_removed_total}: flows closed because a new table took their endpoint out of
     * their Service port (kube-proxy's conntrack flush for UDP).
     */
    public long flowsEndpointRemoved() {
        return flowsEndpointRemoved.sum();
    }

    /**
     * {@code ferry_udp_upstream_errors_total}: flows closed because their upstream socket reported an error,
     * almost always an ICMP port unreachable (nothing listens on the endpoint's port).
     */
    public long upstreamErrors() {
        return upstreamErrors.sum();
    }

    /**
     * {@code ferry_udp_upstream_connect_failures_total}: flows that could not open their upstream socket (no
     * ephemeral port left, no route); the datagrams that started them are dropped.
     */
    public long upstreamConnectFailures() {
        return upstreamConnectFailures.sum();
    }

    /**
     * {@code ferry_udp_endpoint_ejections_total}: times upstream errors made passive health skip an endpoint for
     * new flows for the fail timeout.
     */
    public long endpointsSkipped() {
        return endpointsSkipped.sum();
    }

    /** {@code ferry_udp_no_endpoint_drops_total}: datagrams dropped because their Service port had no endpoint. */
    public long noEndpointDrops() {
        return noEndpointDrops.sum();
    }

    /** {@code ferry_udp_flow_limit_drops_total}: datagrams dropped because their listener had its most flows. */
    public long flowLimitDrops() {
        return flowLimitDrops.sum();
    }

    /** {@code ferry_udp_oversize_drops_total}: datagrams, either way, larger than the largest relayed. */
    public long oversizeDrops() {
        return oversizeDrops.sum();
    }

    /**
     * {@code ferry_udp_send_drops_total}: datagrams, either way, dropped because the socket that should send them
     * had a full queue (the kernel's send buffer full and Ferry's short queue behind it too).
     */
    public long sendDrops() {
        return sendDrops.sum();
    }

    /** {@code ferry_udp_datagrams_total{direction="rx"}}: datagrams read from clients. */
    public long datagramsFromClients() {
        return datagramsFromClients.sum();
    }

    /** {@code ferry_udp_bytes_total{direction="rx"}}: payload bytes read from clients. */
    public long bytesFromClients() {
        return bytesFromClients.sum();
    }

    /** {@code ferry_udp_datagrams_total{direction="tx"}}: datagrams read from endpoints, to be sent to clients. */
    public long datagramsToClients() {
        return datagramsToClients.sum();
    }

    /** {@code ferry_udp_bytes_total{direction="tx"}}: payload bytes read from endpoints, to be sent to clients. */
    public long bytesToClients() {
        return bytesToClients.sum();
    }

    @Override
    public String toString() {
        return "UdpStats(flows=" + flowsCreated() + ", active=" + flowsActive() + ", expired=" + flowsExpired()
               + ", endpointRemoved=" + flowsEndpointRemoved() + ", upstreamErrors=" + upstreamErrors()
               + ", connectFailures=" + upstreamConnectFailures() + ", endpointsSkipped=" + endpointsSkipped()
               + ", noEndpointDrops=" + noEndpointDrops()
               + ", flowLimitDrops=" + flowLimitDrops() + ", oversizeDrops=" + oversizeDrops()
               + ", sendDrops=" + sendDrops() + ", rx=" + datagramsFromClients() + '/' + bytesFromClients()
               + ", tx=" + datagramsToClients() + '/' + bytesToClients() + ')';
    }
}
