package io.ferry.l7.route;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.Backend;
import io.ferry.l4.Balancer;
import io.ferry.l4.Endpoint;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * ingress-nginx's {@code load-balance: ewma} (its {@code balancer/ewma.lua}, after Finagle's PeakEwma): each
 * endpoint has an exponentially weighted moving average of its upstream response time, decaying with a 10 s time
 * constant, and a request goes to the better of two endpoints drawn at random ("power of two choices").
 *
 * <p>The average is time-weighted, as in ingress-nginx: a sample observed {@code dt} after the previous one counts
 * with weight {@code 1 - exp(-dt / 10 s)}; when picking, an endpoint's score is its average decayed towards zero by
 * the time since it was last observed, so an endpoint that has been left alone (because it was slow) is tried again
 * once its past fades. An endpoint never observed scores zero.
 *
 * <p>One instance belongs to one {@link Backend} and is sized to its endpoints: build it with
 * {@link #create(List, EwmaBalancer)} from the same list the backend is built from. The proxy reports each
 * response with {@link #observe(Backend, int, long)}. State is two {@link AtomicLongArray}s (the average, as
 * {@code double} bits, and the time of the last observation), shared by every event loop: {@link #select} only
 * reads them, {@link #observe} updates the average with a compare-and-set loop. Nothing locks and nothing
 * allocates. The time of the last observation is written after the average; two observations of one endpoint in
 * the same instant may see each other's time, which only shifts a weight by nanoseconds.
 */
public final class EwmaBalancer implements Balancer, LatencyObserver {

    /** ingress-nginx's {@code DECAY_TIME}: 10 seconds. */
    public static final long DECAY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private static final long NEVER = Long.MIN_VALUE;

    private final InetSocketAddress[] addresses;
    private final AtomicLongArray averages;
    private final AtomicLongArray touched;
    private final LongSupplier nanoClock;

    private EwmaBalancer(InetSocketAddress[] addresses, LongSupplier nanoClock) {
        this.addresses = addresses;
        this.averages = new AtomicLongArray(addresses.length);
        this.touched = new AtomicLongArray(addresses.length);
        this.nanoClock = nanoClock;
        for (int i = 0; i < addresses.length; i++) {
            touched.set(i, NEVER);
        }
    }

    /** A balancer for {@code endpoints} with no history. */
    public static EwmaBalancer create(List<Endpoint> endpoints) {
        return create(endpoints, null);
    }

    /**
     * A balancer for {@code endpoints} that keeps what {@code previous} learnt, as ingress-nginx's balancer sync
     * does when endpoints change: an endpoint {@code previous} knew (by address) keeps its average; a new one starts
     * at the mean of {@code previous}'s averages, so that it is neither flooded nor starved.
     *
     * @param endpoints the endpoints of the backend this balancer will serve, in the backend's order
     * @param previous the balancer of the table being replaced, or {@code null}
     */
    public static EwmaBalancer create(List<Endpoint> endpoints, EwmaBalancer previous) {
        return create(endpoints, previous, System::nanoTime);
    }

    static EwmaBalancer create(List<Endpoint> endpoints, EwmaBalancer previous, LongSupplier nanoClock) {
        requireNonNull(endpoints, "endpoints");
        requireNonNull(nanoClock, "nanoClock");
        InetSocketAddress[] addresses = new InetSocketAddress[endpoints.size()];
        for (int i = 0; i < addresses.length; i++) {
            addresses[i] = endpoints.get(i).address();
        }
        EwmaBalancer b = new EwmaBalancer(addresses, nanoClock);
        if (previous != null && previous.addresses.length > 0) {
            b.inherit(previous);
        }
        return b;
    }

    private void inherit(EwmaBalancer previous) {
        Map<InetSocketAddress, Integer> old = new HashMap<>();
        double sum = 0;
        for (int i = 0; i < previous.addresses.length; i++) {
            old.put(previous.addresses[i], i);
            sum += Double.longBitsToDouble(previous.averages.get(i));
        }
        double mean = sum / previous.addresses.length;
        long now = nanoClock.getAsLong();
        for (int i = 0; i < addresses.length; i++) {
            Integer j = old.get(addresses[i]);
            if (j != null) {
                averages.set(i, previous.averages.get(j));
                touched.set(i, previous.touched.get(j));
            } else {
                averages.set(i, Double.doubleToRawLongBits(mean));
                touched.set(i, now);
            }
        }
    }

    @Override
    public int select(Backend backend, SocketAddress client) {
        int n = backend.size();
        if (n == 1) {
            return 0;
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int a = random.nextInt(n);
        int b = random.nextInt(n - 1);
        if (b >= a) {
            b++;
        }
        if (a >= addresses.length || b >= addresses.length) {
            return a; // a backend this balancer was not sized for: stay correct, if not clever
        }
        long now = nanoClock.getAsLong();
        return score(b, now) < score(a, now) ? b : a;
    }

    /**
     * Records one response of endpoint {@code endpointIndex} of {@code backend}: the time from sending the request
     * (including the connect, as ingress-nginx counts it) to the response head, which is what the proxy reports. Thread-safe, lock-free and
     * allocation-free; an index this balancer does not know is ignored.
     *
     * @param backend the backend the endpoint was selected from (this balancer's)
     * @param endpointIndex what {@link #select} returned
     * @param latencyNanos the response time; negative values count as zero
     */
    @Override
    public void observe(Backend backend, int endpointIndex, long latencyNanos) {
        if (endpointIndex < 0 || endpointIndex >= addresses.length || endpointIndex >= backend.size()) {
            return;
        }
        double sample = Math.max(0, latencyNanos);
        long now = nanoClock.getAsLong();
        for (;;) {
            long bits = averages.get(endpointIndex);
            long last = touched.get(endpointIndex);
            double weight = last == NEVER ? 0 : decayWeight(now - last);
            double next = Double.longBitsToDouble(bits) * weight + sample * (1 - weight);
            if (averages.compareAndSet(endpointIndex, bits, Double.doubleToRawLongBits(next))) {
                touched.set(endpointIndex, now);
                return;
            }
        }
    }

    /** Endpoint {@code index}'s current score in nanoseconds: its average decayed since it was last observed. */
    double score(int index) {
        return score(index, nanoClock.getAsLong());
    }

    private double score(int index, long now) {
        long last = touched.get(index);
        if (last == NEVER) {
            return 0;
        }
        return Double.longBitsToDouble(averages.get(index)) * decayWeight(now - last);
    }

    private static double decayWeight(long elapsedNanos) {
        return elapsedNanos <= 0 ? 1 : Math.exp(-(double) elapsedNanos / DECAY_NANOS);
    }

    /** The number of endpoints this balancer was built for. */
    public int size() {
        return addresses.length;
    }

    @Override
    public String name() {
        return "ewma";
    }

    @Override
    public String toString() {
        return name();
    }
}
