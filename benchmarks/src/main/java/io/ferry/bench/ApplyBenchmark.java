package io.ferry.bench;

import io.ferry.control.Dataplane;
import io.ferry.control.Snapshot;
import io.ferry.control.SnapshotCompiler;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l7.http.HttpProxy;
import io.ferry.l7.http.HttpProxyConfig;
import java.time.Instant;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of {@link Dataplane#apply(Snapshot)} on a data plane that already listens on {@link #services} ClusterIP
 * listeners (real sockets, bound at set-up on {@code 127.96.0.0/12} port 80, every address of which is local), with
 * the edge HTTP proxy's route table of as many Ingresses.
 *
 * <ul>
 *   <li>{@link #endpointsOnly()}: the next snapshot changes one endpoint of one Service and no listener — what pod
 *       churn applies. Nothing is bound or closed; this is the table swap plus the listener reconciliation.</li>
 *   <li>{@link #addRemoveOneService()}: alternately a snapshot with one more Service (one listener bound) and the
 *       original (that listener closed): what creating or deleting a Service applies.</li>
 * </ul>
 *
 * The snapshots are compiled at set-up; only {@code apply} is measured.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ApplyBenchmark {

    @Param({ "100", "1000", "10000" })
    public int services;

    private Transport transport;
    private ServiceProxy serviceProxy;
    private HttpProxy httpProxy;
    private Dataplane dataplane;
    private Snapshot[] endpointChanges;
    private Snapshot[] serviceChanges;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        transport = Transport.create(Transport.Kind.best(), 1);
        serviceProxy = new ServiceProxy(transport, TcpProxyConfig.DEFAULT);
        httpProxy = new HttpProxy(transport, HttpProxyConfig.builder().accessLog(false).build());
        dataplane = new Dataplane(serviceProxy, httpProxy);

        ClusterFixture base = ClusterFixture.create(services, 10, services, ClusterFixture.SERVICE_CIDR_127_96);
        SnapshotCompiler compiler = ClusterFixture.compiler(true, null);
        long generation = 0;
        Snapshot original = compiler.compile(++generation, Instant.now(), base.state());
        ClusterFixture changed = base.withEndpointChanged(services / 2);
        Snapshot a = compiler.compile(++generation, Instant.now(), changed.state());
        Snapshot b = compiler.compile(++generation, Instant.now(), changed.withEndpointChanged(services / 2).state());
        Snapshot more = compiler.compile(++generation, Instant.now(),
                                         base.withOneMoreService(ClusterFixture.SERVICE_CIDR_127_96).state());
        Snapshot back = compiler.compile(++generation, Instant.now(), base.state());
        endpointChanges = new Snapshot[] { a, b };
        serviceChanges = new Snapshot[] { more, back };

        ServiceProxy.ApplyResult first = dataplane.apply(original);
        if (first.added() != services || !first.bindErrors().isEmpty()) {
            throw new IllegalStateException("bound " + first.added() + " of " + services + " listeners; errors: "
                                            + first.bindErrors().entrySet().stream().limit(3).toList());
        }
        ServiceProxy.ApplyResult r = dataplane.apply(a);
        if (r.added() != 0 || !r.removed().isEmpty() || a.l4().lookup(a.l4().listeners().iterator().next()) == null) {
            throw new IllegalStateException("endpoint change: " + r.added() + " added, " + r.removed() + " removed");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        serviceProxy.close();
        httpProxy.close();
        transport.close();
    }

    /** Applies a snapshot that differs from the live one by one endpoint. */
    @Benchmark
    public ServiceProxy.ApplyResult endpointsOnly() {
        return dataplane.apply(endpointChanges[next++ & 1]);
    }

    /** Applies a snapshot that adds one Service (one bind), or removes it again (one close). */
    @Benchmark
    public ServiceProxy.ApplyResult addRemoveOneService() {
        ServiceProxy.ApplyResult r = dataplane.apply(serviceChanges[next++ & 1]);
        if (r.added() + r.removed().size() != 1) {
            throw new IllegalStateException(r.added() + " added, " + r.removed() + " removed (expected: one change)");
        }
        return r;
    }
}
