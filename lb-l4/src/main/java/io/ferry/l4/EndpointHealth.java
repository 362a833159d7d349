package io.ferry.l4;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Passive health of one endpoint, as nginx's {@code max_fails} and {@code fail_timeout}: after {@code maxFails}
 * failed connects in a row the endpoint is skipped by new connections for {@code failTimeout}, then tried again.
 * One success clears the count. A {@code maxFails} of {@code 0} turns the accounting off, as nginx's
 * {@code max_fails=0}: failures are not counted and never make the endpoint unavailable.
 *
 * <p>Shared by every event loop and carried from one table to the next for the same endpoint of the same Service
 * port, so that a swap does not forget a dead endpoint. Lock-free: an atomic counter and a volatile deadline.
 */
public final class EndpointHealth {

    private final AtomicInteger failures = new AtomicInteger();
    private volatile long skippedUntilNanos;
    private volatile boolean skipping;

    /** Whether new connections may use the endpoint at {@code nowNanos}. */
    public boolean isAvailable(long nowNanos) {
        return !skipping || nowNanos - skippedUntilNanos >= 0;
    }

    /**
     * Records a failed connect at {@code nowNanos}; the {@code maxFails}-th in a row makes the endpoint unavailable
     * for {@code failTimeoutNanos}. With {@code maxFails} {@code 0} (or less) nothing is recorded.
     *
     * @return whether this failure made the endpoint unavailable
     */
    public boolean failed(long nowNanos, int maxFails, long failTimeoutNanos) {
        if (maxFails <= 0) {
            return false; // nginx's max_fails=0: no accounting (without this, every failure would reach ">= 0")
        }
        if (failures.incrementAndGet() >= maxFails && failTimeoutNanos > 0) {
            failures.set(0);
            skippedUntilNanos = nowNanos + failTimeoutNanos;
            skipping = true;
            return true;
        }
        return false;
    }

    /** Records a successful connect: the endpoint is available and its failure count starts over. */
    public void succeeded() {
        if (failures.get() != 0) {
            failures.set(0);
        }
        if (skipping) {
            skipping = false;
        }
    }

    @Override
    public String toString() {
        return skipping ? "skipped" : "available";
    }
}
