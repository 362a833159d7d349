package io.ferry.l7.route;

import java.util.concurrent.atomic.LongAdder;

/**
 * The counters of one {@link Route} (an Ingress host and path), for {@code /metrics}. Written by every event loop
 * without locks; the Ingress compiler hands the same instance to the next table's route of the same name, so the
 * counts run on across swaps.
 */
public final class RouteStats {

    private final LongAdder requests = new LongAdder();
    private final LongAdder[] responsesByClass = new LongAdder[6];

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

    public long requests() {
        return requests.sum();
    }

    /** Responses with a status of class {@code cls} (1 to 5). */
    public long responses(int cls) {
        return responsesByClass[cls].sum();
    }
}
