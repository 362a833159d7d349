package io.ferry.bench;

import io.ferry.l4.Backend;
import io.ferry.l4.Endpoint;
import io.ferry.l4.RandomBalancer;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.net.InetSocketAddress;
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
 * The cost of {@link HttpRouteTable#lookup(CharSequence, String)}, the one table access of every HTTP request, as
 * the table grows from 10 to 100,000 Ingresses.
 *
 * <p>Each of the {@link #ingresses} Ingresses has its own host, {@code svc-<i>.team-<i % 97>.example.com}, with
 * the Prefix paths {@code /}, {@code /api} and {@code /api/v1/users} and the Exact path {@code /healthz}; the table
 * has a default route (ingress-nginx's default backend). The probes are Host headers as clients send them, in
 * mixed case with a port ({@code Svc-42.Team-42.Example.COM:8080}), each its own String:
 * <ul>
 *   <li>{@link #hit(Cursor)}: {@code /api/v1/users/42/orders}, which selects the host's {@code /api/v1/users};</li>
 *   <li>{@link #missHost(Cursor)}: the same path on a host that is in no Ingress ({@code .example.org}), which
 *       gets the default route;</li>
 *   <li>{@link #rootPath(Cursor)}: {@code /index.html}, which only the host's Prefix {@code /} takes.</li>
 * </ul>
 * Each method walks its probes in a shuffled order, one per call, over a power-of-two array that covers every
 * host, so the benchmark sees the whole table rather than one hot host ({@link #hotHosts} narrows that down). The
 * path is the same for every probe: a proxy normalizes it once per request with
 * {@link io.ferry.l7.route.RequestPath}, apart from the lookup.
 *
 * <p>With 100,000 Ingresses the table no longer fits in cache, and a lookup is a handful of dependent cache (and
 * TLB) misses: the probe's Host string, the host slot, the host's record (its name and path keys, a few adjacent
 * lines) and the slot of the route. In a proxy the Host header was just parsed and is in cache; here the probe
 * strings are cold, which adds two misses.
 *
 * <p>The methods return the route as an {@code Object}, not a {@link Route}: a {@code Route} return would make
 * javac cast the table's erased {@code R}, and the cast reads the header of the route object, which lies wherever
 * the heap put it. That first touch of the route is the caller's (a proxy reads the route's fields next, whatever
 * the table), not the table's; at 100,000 Ingresses with 1,024 hot hosts it cost about 20 ns per lookup here,
 * against the table's own 85, and hid what the table's layout does. {@link #hitRoute(Cursor)} measures the two
 * together.
 *
 * <p>No method allocates: run with {@code -prof gc} and {@code gc.alloc.rate.norm} stays at about 0 B/op.
 * Single-threaded by default; with {@code -t N} the threads share the table and each keeps its own cursor.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class HttpRouteLookupBenchmark {

    private static final String HIT_PATH = "/api/v1/users/42/orders";
    private static final String ROOT_PATH = "/index.html";
    private static final long SEED = 0x5eed_7007L;

    /** The number of Ingresses, each with its own host and four paths. */
    @Param({ "10", "1000", "100000" })
    public int ingresses;

    /**
     * How many of the hosts the probes cover: {@code 0}, the default, for all of them; a smaller number (such as
     * {@code -p hotHosts=1024}) keeps the probed working set in cache, which tells the cost of the lookup itself
     * apart from the cost of cache misses.
     */
    @Param("0")
    public int hotHosts;

    private HttpRouteTable<Route> table;
    private Route defaultRoute;
    private String[] hitHosts;
    private String[] missHosts;
    /** The Ingress each probe is for. */
    private int[] probed;
    private int mask;

    /** Where one benchmark thread is in the probe arrays. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup(Level.Trial)
    public void setUp() {
        if (ingresses < 1) {
            throw new IllegalArgumentException("ingresses: " + ingresses + " (expected: >= 1)");
        }
        defaultRoute = route("ingress-nginx/default-backend", "default-http-backend");
        HttpRouteTable.Builder<Route> builder = HttpRouteTable.builder();
        builder.defaultRoute(defaultRoute);
        for (int i = 0; i < ingresses; i++) {
            String host = host(i);
            add(builder, host, PathType.PREFIX, "/", ingressName(i), "web-" + i);
            add(builder, host, PathType.PREFIX, "/api", ingressName(i), "api-" + i);
            add(builder, host, PathType.PREFIX, "/api/v1/users", ingressName(i), "users-" + i);
            add(builder, host, PathType.EXACT, "/healthz", ingressName(i), "health-" + i);
        }
        table = builder.build();

        if (hotHosts < 0) {
            throw new IllegalArgumentException("hotHosts: " + hotHosts + " (expected: >= 0)");
        }
        int hosts = hotHosts == 0 ? ingresses : Math.min(hotHosts, ingresses);
        int length = Integer.highestOneBit(hosts);
        if (length < hosts) {
            length <<= 1;
        }
        mask = length - 1;
        probed = new int[length];
        for (int i = 0; i < length; i++) {
            probed[i] = i % hosts;
        }
        SplittableRandom random = new SplittableRandom(SEED);
        for (int i = length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int p = probed[i];
            probed[i] = probed[j];
            probed[j] = p;
        }
        hitHosts = new String[length];
        missHosts = new String[length];
        for (int i = 0; i < length; i++) {
            int s = probed[i];
            hitHosts[i] = "Svc-" + s + ".Team-" + (s % 97) + ".Example.COM:8080";
            missHosts[i] = "Svc-" + s + ".Team-" + (s % 97) + ".Example.ORG:8080";
        }
        check();
    }

    /** A deep path on a known host: the longest of three Prefix rules. */
    @Benchmark
    public Object hit(Cursor cursor) {
        return table.lookup(hitHosts[cursor.next++ & mask], HIT_PATH);
    }

    /**
     * {@link #hit} as a proxy has it: the route typed as a {@link Route}, so that the lookup is followed by the
     * caller's first touch of the route object (the cast reads its header).
     */
    @Benchmark
    public Route hitRoute(Cursor cursor) {
        return table.lookup(hitHosts[cursor.next++ & mask], HIT_PATH);
    }

    /** A host that is in no Ingress: the default route. */
    @Benchmark
    public Object missHost(Cursor cursor) {
        return table.lookup(missHosts[cursor.next++ & mask], HIT_PATH);
    }

    /** A path that only the host's Prefix {@code /} takes. */
    @Benchmark
    public Object rootPath(Cursor cursor) {
        return table.lookup(hitHosts[cursor.next++ & mask], ROOT_PATH);
    }

    private static String host(int ingress) {
        return "svc-" + ingress + ".team-" + (ingress % 97) + ".example.com";
    }

    private static String ingressName(int ingress) {
        return "team-" + (ingress % 97) + "/ingress-" + ingress + ':' + host(ingress);
    }

    private static void add(HttpRouteTable.Builder<Route> builder, String host, PathType type, String path,
                            String ingress, String service) {
        if (!builder.add(host, type, path, route(ingress + path, service))) {
            throw new IllegalStateException("rule: " + host + ' ' + type + ' ' + path + " (expected: new)");
        }
    }

    private static Route route(String name, String service) {
        Backend backend = Backend.of(service + ":80",
                                     List.of(Endpoint.of(new InetSocketAddress("10.128.0.1", 8080))),
                                     RandomBalancer.INSTANCE);
        return Route.of(name, backend, RoutePolicy.DEFAULT);
    }

    /** Fails the trial if the probes do not do what their names say. */
    private void check() {
        if (table.hostCount() != ingresses || table.ruleCount() != 4 * ingresses) {
            throw new IllegalStateException("table: " + table + " (expected: " + ingresses + " hosts)");
        }
        for (int i = 0; i < hitHosts.length; i++) {
            expect(hitHosts[i], HIT_PATH, ingressName(probed[i]) + "/api/v1/users");
            expect(hitHosts[i], ROOT_PATH, ingressName(probed[i]) + "/");
        }
        for (String host : missHosts) {
            expect(host, HIT_PATH, defaultRoute.name());
        }
    }

    private void expect(String host, String path, String routeName) {
        Route route = table.lookup(host, path);
        if (route == null || !route.name().equals(routeName)) {
            throw new IllegalStateException(host + ' ' + path + ": " + route + " (expected: " + routeName + ')');
        }
    }
}
