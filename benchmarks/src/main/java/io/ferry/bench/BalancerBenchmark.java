package io.ferry.bench;

import io.ferry.l4.Backend;
import io.ferry.l4.Balancer;
import io.ferry.l4.Balancers;
import io.ferry.l4.Endpoint;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of {@link Balancer#select}, the balancer's part of every new TCP connection, for each value of
 * {@code ferry.io/lb-algorithm} with 3, 100 and 1,000 endpoints.
 *
 * <p>The backend's endpoints are pod addresses in {@code 10.128.0.0/9} on port 8080, built with
 * {@link Balancers#create(Balancers.Algorithm, List, Balancer)} as the compiler builds them. The clients are 4,096
 * {@link InetSocketAddress}es at random IPv4 addresses and ports (fixed seed), walked one per call, so the hash
 * balancers see a new client each time. For {@code least-connections}, every endpoint starts with 0 to 9 open
 * connections (fixed seed), as a busy Service has, rather than the all-tied zeros of an idle one.
 * <ul>
 *   <li>{@link #select(Cursor)}: one choice;</li>
 *   <li>{@link #connection(Cursor)}: a choice, then {@link Balancer#acquire} and {@link Balancer#release} of the
 *       endpoint, which is what one connection costs the balancer (the counting balancer's two atomic adds
 *       included);</li>
 *   <li>{@link #build()}: building the balancer from the endpoint list with no previous one, off the hot path on
 *       the control thread (in microseconds).</li>
 * </ul>
 *
 * <p>{@link #select(Cursor)} and {@link #connection(Cursor)} do not allocate: run with {@code -prof gc} and
 * {@code gc.alloc.rate.norm} stays at about 0 B/op. Single-threaded by default; with {@code -t N} the threads share
 * the backend (and, for {@code round-robin} and {@code least-connections}, its atomics) and each keeps its own
 * cursor.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class BalancerBenchmark {

    /** Where the endpoints' pod addresses are numbered from, {@code 10.128.0.0/9}. */
    private static final int POD_CIDR_BASE = (10 << 24) | (128 << 16);
    private static final int CLIENTS = 4096;
    private static final long SEED = 0x5eed_ba1aL;

    /** The value of {@code ferry.io/lb-algorithm}. */
    @Param({ "random", "round-robin", "least-connections", "source-hash", "maglev" })
    public String algorithm;

    /** The number of endpoints of the Service port. */
    @Param({ "3", "100", "1000" })
    public int endpoints;

    private List<Endpoint> endpointList;
    private Backend backend;
    private InetSocketAddress[] clients;

    /** Where one benchmark thread is in the client array. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup(Level.Trial)
    public void setUp() throws UnknownHostException {
        if (endpoints < 1 || endpoints > 1 << 20) {
            throw new IllegalArgumentException("endpoints: " + endpoints + " (expected: 1-" + (1 << 20) + ')');
        }
        SplittableRandom random = new SplittableRandom(SEED);
        endpointList = new ArrayList<>();
        for (int i = 0; i < endpoints; i++) {
            endpointList.add(Endpoint.of(new InetSocketAddress(ipv4(POD_CIDR_BASE + i), 8080)));
        }
        Balancer balancer = Balancers.create(algorithm, endpointList, null);
        backend = Backend.of("bench/svc:80/TCP", endpointList, balancer);
        if (!balancer.name().replace('_', '-').equals(algorithm)) {
            throw new IllegalStateException("balancer: " + balancer.name() + " (expected: " + algorithm + ')');
        }
        // Connections already open: the same number the counting balancer sees on a busy Service.
        for (int i = 0; i < endpoints; i++) {
            for (int open = random.nextInt(10); open > 0; open--) {
                balancer.acquire(backend, i);
            }
        }
        clients = new InetSocketAddress[CLIENTS];
        for (int i = 0; i < CLIENTS; i++) {
            clients[i] = new InetSocketAddress(ipv4(random.nextInt()), 1024 + random.nextInt(64512));
        }
    }

    /** Chooses the endpoint for a new client. */
    @Benchmark
    public int select(Cursor cursor) {
        return backend.balancer().select(backend, clients[cursor.next++ & (CLIENTS - 1)]);
    }

    /** Chooses, acquires and releases: the balancer's whole share of one connection. */
    @Benchmark
    public int connection(Cursor cursor) {
        Balancer balancer = backend.balancer();
        int index = balancer.select(backend, clients[cursor.next++ & (CLIENTS - 1)]);
        balancer.acquire(backend, index);
        balancer.release(backend, index);
        return index;
    }

    /** Builds the balancer, as the compiler does when a Service's endpoints change. */
    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public Balancer build() {
        return Balancers.create(algorithm, endpointList, null);
    }

    private static InetAddress ipv4(int address) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {
                (byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address });
    }
}
