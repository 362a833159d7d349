package io.ferry.l7.route;

import io.ferry.l4.LatencyHistogram;
import java.util.concurrent.atomic.LongAdder;

/**
 * The counters of one {@link Route} (an Ingress host and path), for {@code /metrics}. Written by every event loop
 * without locks; the Ingress compiler hands the same instance to the next table's route of the same name, so the
 * counts run on across swaps.
 */
public final class RouteStats {

    private final LongAdder requests = new LongAdder();
    private final LongAdder[] responsesByClass = new LongAdder[6];
    private final LongAdder bytesFromClients = new LongAdder();
    private final LongAdder bytesToClients = new LongAdder();
    private final LatencyHistogram upstreamLatency = new LatencyHistogram();
    private final LongAdder noEndpoint = new LongAdder();
    private final LongAdder upstreamConnectFailures = new LongAdder();
    private final LongAdder retries = new LongAdder();

    public RouteStats() {
        for (int i = 0; i < responsesByClass.length; i++) {
            responsesByClass[i] = new LongAdder();
        }
    }

    /** Counts a request routed here. */
    public void request() {
        requests.increment();
    }

    /** Counts a response with {@code status}. */
    public void response(int status) {
        int cls = status / 100;
        responsesByClass[cls >= 1 && cls <= 5 ? cls : 0].increment();
    }

    /** Counts {@code n} request body bytes read from a client and sent on. */
    public void bytesFromClient(int n) {
        bytesFromClients.add(n);
    }

    /** Counts {@code n} response body bytes from an endpoint sent on to a client. */
    public void bytesToClient(int n) {
        bytesToClients.add(n);
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
        noEndpoint.increment();
    }

    /** Counts a failed connect (or stream open) to one of the route's endpoints. */
    public void upstreamConnectFailure() {
        upstreamConnectFailures.increment();
    }

    /** Counts a request sent again, to the same endpoint on a new connection or to the next endpoint. */
    public void retry() {
        retries.increment();
    }

    public long noEndpoints() {
        return noEndpoint.sum();
    }

    public long upstreamConnectFailures() {
        return upstreamConnectFailures.sum();
    }

    public long retries() {
        return retries.sum();
    }

    public long bytesFromClients() {
        return bytesFromClients.sum();
    }

    public long bytesToClients() {
        return bytesToClients.sum();
    }

    /** The endpoints' times to their response heads. */
    public LatencyHistogram upstreamLatency() {
        return upstreamLatency;
    }

    public long requests() {
        return requests.sum();
    }

    /** Responses with a status of class {@code cls} (1 to 5). */
    public long responses(int cls) {
        return responsesByClass[cls].sum();
    }
}
