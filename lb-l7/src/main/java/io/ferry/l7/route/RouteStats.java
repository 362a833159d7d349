package io.ferry.l7.route;

import io.ferry.l4.LatencyHistogram;
import io.ferry.l4.StripedCounters;
import java.util.Objects;

/**
 * The counters of one {@link Route} (an Ingress host and path), for {@code /metrics}. Written by every event loop
 * without locks; the Ingress compiler hands the same instance to the next table's route of the same name, so the
 * counts run on across swaps.
 *
 * <p>The counters share one {@link StripedCounters} and the latency histogram allocates its buckets on its first
 * observation, so a route that never had a request costs under a hundred bytes: a table of 10,000 Ingresses pays
 * for the routes that see traffic.
 */
public final class RouteStats {

    // Slots of the counters. Responses: 1xx to 5xx at their class, anything else at 0.
    private static final int RESPONSES = 0;
    private static final int REQUESTS = 6;
    private static final int BYTES_FROM_CLIENTS = 7;
    private static final int BYTES_TO_CLIENTS = 8;
    private static final int NO_ENDPOINT = 9;
    private static final int UPSTREAM_CONNECT_FAILURES = 10;
    private static final int RETRIES = 11;

    private final StripedCounters counts = new StripedCounters(12);
    private final LatencyHistogram upstreamLatency = new LatencyHistogram();

    /** Counts a request routed here. */
    public void request() {
        counts.increment(REQUESTS);
    }

    /** Counts a response with {@code status}. */
    public void response(int status) {
        int cls = status / 100;
        counts.increment(RESPONSES + (cls >= 1 && cls <= 5 ? cls : 0));
    }

    /** Counts {@code n} request body bytes read from a client and sent on. */
    public void bytesFromClient(int n) {
        counts.add(BYTES_FROM_CLIENTS, n);
    }

    /** Counts {@code n} response body bytes from an endpoint sent on to a client. */
    public void bytesToClient(int n) {
        counts.add(BYTES_TO_CLIENTS, n);
    }

    /**
     * Records how long an endpoint took from the moment the request started going to it to its response head (the
     * time to first byte, nginx's {@code $upstream_header_time}).
     */
    public void upstreamLatency(long nanos) {
        upstreamLatency.observe(nanos);
    }

    /** Counts a request answered 503 because the route had no endpoint. */
    public void noEndpoint() {
        counts.increment(NO_ENDPOINT);
    }

    /** Counts a failed connect (or stream open) to one of the route's endpoints. */
    public void upstreamConnectFailure() {
        counts.increment(UPSTREAM_CONNECT_FAILURES);
    }

    /** Counts a request sent again, to the same endpoint on a new connection or to the next endpoint. */
    public void retry() {
        counts.increment(RETRIES);
    }

    public long noEndpoints() {
        return counts.sum(NO_ENDPOINT);
    }

    public long upstreamConnectFailures() {
        return counts.sum(UPSTREAM_CONNECT_FAILURES);
    }

    public long retries() {
        return counts.sum(RETRIES);
    }

    public long bytesFromClients() {
        return counts.sum(BYTES_FROM_CLIENTS);
    }

    public long bytesToClients() {
        return counts.sum(BYTES_TO_CLIENTS);
    }

    /** The endpoints' times to their response heads. */
    public LatencyHistogram upstreamLatency() {
        return upstreamLatency;
    }

    public long requests() {
        return counts.sum(REQUESTS);
    }

    /** Responses with a status of class {@code cls} (1 to 5). */
    public long responses(int cls) {
        return counts.sum(RESPONSES + Objects.checkIndex(cls, 6));
    }
}
