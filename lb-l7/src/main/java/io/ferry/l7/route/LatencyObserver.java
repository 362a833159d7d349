package io.ferry.l7.route;

import io.ferry.l4.Backend;

/**
 * A balancer that learns from response times ({@code load-balance: ewma}). The proxy reports, on the event loop,
 * the time from sending a request to an endpoint to that endpoint's response head.
 */
public interface LatencyObserver {

    /**
     * Records one response time.
     *
     * @param backend the backend the endpoint belongs to
     * @param endpointIndex the endpoint's index in {@code backend}
     * @param latencyNanos request sent to response head, in nanoseconds
     */
    void observe(Backend backend, int endpointIndex, long latencyNanos);
}
