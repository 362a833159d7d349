package io.ferry.control.churn;

import java.math.BigInteger;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** What the load of one churn run saw; shared by its client threads. */
final class ChurnCounters {

    private static final int MAX_SAMPLES = 20;

    final LongAdder requests = new LongAdder();
    final LongAdder failedRequests = new LongAdder();
    final LongAdder connections = new LongAdder();
    /** Keep-alive connections the proxy ended with {@code Connection: close} or a close between requests. */
    final LongAdder serverCloses = new LongAdder();
    final LongAdder webSocketMessages = new LongAdder();
    final LongAdder droppedWebSockets = new LongAdder();
    final AtomicInteger openWebSockets = new AtomicInteger();
    /** Serial numbers of the certificates new TLS connections were given. */
    final Set<BigInteger> certificateSerials = ConcurrentHashMap.newKeySet();
    private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    private final AtomicInteger failureCount = new AtomicInteger();

    /** Records one failure's description; the first few are kept for the report. */
    void failure(String what) {
        if (failureCount.incrementAndGet() <= MAX_SAMPLES) {
            failures.add(what);
        }
    }

    List<String> failureSamples() {
        return List.copyOf(failures);
    }
}
