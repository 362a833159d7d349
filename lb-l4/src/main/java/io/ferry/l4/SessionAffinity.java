package io.ferry.l4;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * {@code sessionAffinity: ClientIP} for one Service port: each client address sticks to the endpoint it was first
 * sent to until it has opened no connection and closed none for {@code timeoutSeconds}, or that endpoint leaves
 * the Service. kube-proxy's rule; its default timeout is 10,800 s.
 *
 * <p>Shared by every event loop and by the backends of the Service port (ClusterIP and node-port listeners alike),
 * and carried from one table to the next, so a swap neither forgets nor breaks a pin. A pin holds the endpoint's
 * address, not an index: a new table with the endpoint elsewhere in its list keeps the pin. The map is a
 * {@link ConcurrentHashMap} keyed by the client's {@link InetAddress} (lookups allocate nothing); expired pins are
 * dropped when met, and a sweep of the whole map runs on the next pin after a quarter of the timeout.
 */
public final class SessionAffinity {

    /** kube-proxy's default {@code sessionAffinityConfig.clientIP.timeoutSeconds}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10_800);

    private final long timeoutNanos;
    private final LongSupplier nanoClock;
    private final ConcurrentHashMap<InetAddress, Pin> pins = new ConcurrentHashMap<>();
    private volatile long lastSweepNanos;

    private SessionAffinity(Duration timeout, LongSupplier nanoClock) {
        this.timeoutNanos = timeout.toNanos();
        this.nanoClock = nanoClock;
        this.lastSweepNanos = nanoClock.getAsLong();
    }

    /** Affinity with {@code timeout} (1 s to 86,400 s in Kubernetes) on the system's monotonic clock. */
    public static SessionAffinity of(Duration timeout) {
        return of(timeout, System::nanoTime);
    }

    /** For tests: affinity on {@code nanoClock}. */
    public static SessionAffinity of(Duration timeout, LongSupplier nanoClock) {
        requireNonNull(timeout, "timeout");
        requireNonNull(nanoClock, "nanoClock");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
        }
        return new SessionAffinity(timeout, nanoClock);
    }

    public Duration timeout() {
        return Duration.ofNanos(timeoutNanos);
    }

    /**
     * The endpoint {@code client} is pinned to, or {@code null} if none or its pin expired. A live pin counts as
     * used now.
     */
    public InetSocketAddress lookup(InetAddress client) {
        Pin pin = pins.get(client);
        if (pin == null) {
            return null;
        }
        long now = nanoClock.getAsLong();
        if (now - pin.lastUsedNanos > timeoutNanos) {
            pins.remove(client, pin);
            return null;
        }
        pin.lastUsedNanos = now;
        return pin.endpoint;
    }

    /** Pins {@code client} to {@code endpoint} (again), as used now. */
    public void pin(InetAddress client, InetSocketAddress endpoint) {
        long now = nanoClock.getAsLong();
        Pin pin = pins.get(client);
        if (pin != null && pin.endpoint.equals(endpoint)) {
            pin.lastUsedNanos = now;
        } else {
            pins.put(client, new Pin(endpoint, now));
        }
        if (now - lastSweepNanos > timeoutNanos / 4) {
            lastSweepNanos = now;
            sweep(now);
        }
    }

    /** Marks {@code client}'s pin as used now (a connection of it ended), if it has one. */
    public void touch(InetAddress client) {
        Pin pin = pins.get(client);
        if (pin != null) {
            pin.lastUsedNanos = nanoClock.getAsLong();
        }
    }

    /** Forgets the pins to endpoints not in {@code live}; called by the compiler with each new table. */
    public void retainEndpoints(java.util.Collection<InetSocketAddress> live) {
        pins.values().removeIf(p -> !live.contains(p.endpoint));
    }

    /** How many clients are pinned now (expired pins not yet swept included). */
    public int size() {
        return pins.size();
    }

    private void sweep(long now) {
        for (Iterator<Map.Entry<InetAddress, Pin>> it = pins.entrySet().iterator(); it.hasNext(); ) {
            if (now - it.next().getValue().lastUsedNanos > timeoutNanos) {
                it.remove();
            }
        }
    }

    private static final class Pin {
        final InetSocketAddress endpoint;
        volatile long lastUsedNanos;

        Pin(InetSocketAddress endpoint, long lastUsedNanos) {
            this.endpoint = endpoint;
            this.lastUsedNanos = lastUsedNanos;
        }
    }
}
