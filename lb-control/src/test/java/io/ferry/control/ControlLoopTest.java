package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.ferry.control.compile.ServiceCompiler;
import io.ferry.control.source.ManifestParser;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.Protocol;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The control loop's retries: a sync that fails is tried again on its own, with a backoff, and stops on close. */
class ControlLoopTest {

    private static final Duration DEADLINE = Duration.ofSeconds(15);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private ServiceProxy proxy;
    private Dataplane dataplane;

    @BeforeEach
    void setUp() {
        Transport transport = Transport.create(Transport.Kind.NIO, 1);
        closeables.add(transport);
        proxy = new ServiceProxy(transport, TcpProxyConfig.builder().build());
        closeables.add(proxy);
        dataplane = new Dataplane(proxy);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private ControlLoop loop(Function<Snapshot, ServiceProxy.ApplyResult> apply, Duration retryMin,
                             Duration retryMax) {
        ControlLoop loop = new ControlLoop(new ServiceCompiler(List.of()), dataplane, apply, Duration.ofMillis(1),
                                           Clock.systemUTC(), retryMin, retryMax);
        closeables.add(loop);
        return loop;
    }

    private static ClusterState state(String yaml) throws Exception {
        List<Service> services = new ArrayList<>();
        for (HasMetadata o : new ManifestParser().parse(yaml)) {
            services.add((Service) o);
        }
        return new ClusterState(services, List.of(), List.of(), List.of());
    }

    /** A clock the test moves by hand. */
    private static final class ManualClock extends Clock {
        private volatile Instant now;

        ManualClock(Instant now) {
            this.now = now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return java.time.ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private static ClusterState withSlice(String name, String triggerTime) {
        io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice slice =
                new io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder()
                        .withNewMetadata().withNamespace("ns").withName(name)
                        .addToLabels("kubernetes.io/service-name", "svc")
                        .addToAnnotations(ControlLoop.TRIGGER_TIME_ANNOTATION, triggerTime).endMetadata()
                        .withAddressType("IPv4").build();
        return new ClusterState(List.of(), List.of(slice), List.of(), List.of());
    }

    private static io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot
            programming(ControlLoop loop) {
        return loop.networkProgrammingDurations().collect().getDataPoints().get(0);
    }

    @Test
    void beforeReadyRunsOnceAfterTheFirstGoodApplyAndBeforeTheLoopSaysReady() throws Exception {
        AtomicInteger applies = new AtomicInteger();
        ControlLoop loop = loop(s -> {
            if (applies.incrementAndGet() == 1) {
                throw new IllegalStateException("first apply fails");
            }
            return dataplane.apply(s);
        }, Duration.ofMillis(1), Duration.ofMillis(5));
        List<String> seen = new CopyOnWriteArrayList<>();
        loop.beforeReady(() -> seen.add("applies=" + applies.get() + " ready=" + loop.status().ready()));

        loop.submit(ClusterState.EMPTY);
        await().atMost(DEADLINE).until(() -> loop.status().ready());
        // Not after the failed apply: after the retry that succeeded, while the loop still said not ready.
        assertThat(seen).containsExactly("applies=2 ready=false");

        long first = loop.status().generation();
        loop.submit(new ClusterState(List.of(), List.of(), List.of(), List.of()));
        await().atMost(DEADLINE).until(() -> loop.status().generation() > first);
        assertThat(seen).hasSize(1);
    }

    @Test
    void networkProgrammingDurationRunsFromTheSliceTriggerTimeToTheApply() throws Exception {
        Instant start = Instant.parse("2026-11-26T10:00:00Z");
        ManualClock clock = new ManualClock(start);
        AtomicInteger applies = new AtomicInteger();
        ControlLoop loop = new ControlLoop(new ServiceCompiler(List.of()), dataplane, s -> {
            applies.incrementAndGet();
            return dataplane.apply(s);
        }, Duration.ofMillis(1), clock, Duration.ofSeconds(1), Duration.ofSeconds(1));
        closeables.add(loop);

        // Changed 2.5 s before the apply: one observation of 2.5 s.
        clock.now = start.plusSeconds(10);
        loop.submit(withSlice("a", start.plusMillis(7_500).toString()));
        await().atMost(DEADLINE).until(() -> applies.get() == 1 && loop.status().generation() == 1);
        assertThat(programming(loop).getCount()).isEqualTo(1);
        assertThat(programming(loop).getSum()).isEqualTo(2.5);

        // The same trigger time again (another object changed): not observed twice.
        clock.now = start.plusSeconds(20);
        loop.submit(withSlice("a", start.plusMillis(7_500).toString()));
        await().atMost(DEADLINE).until(() -> loop.status().generation() == 2);
        assertThat(programming(loop).getCount()).isEqualTo(1);

        // A new change to the slice: observed; one from before the loop started (the initial list) is not.
        clock.now = start.plusSeconds(30);
        loop.submit(new ClusterState(List.of(), List.of(withSlice("a", start.plusSeconds(29).toString())
                                                                 .endpointSlices().get(0),
                                                         withSlice("old", start.minusSeconds(60).toString())
                                                                 .endpointSlices().get(0)),
                                     List.of(), List.of()));
        await().atMost(DEADLINE).until(() -> loop.status().generation() == 3);
        assertThat(programming(loop).getCount()).isEqualTo(2);
        assertThat(programming(loop).getSum()).isEqualTo(3.5);
    }

    @Test
    void aListenerWhosePortIsBusyBindsOnceThePortIsFreedWithoutANewState() throws Exception {
        ControlLoop loop = new ControlLoop(new ServiceCompiler(List.of()), dataplane, Duration.ofMillis(1),
                                          Clock.systemUTC());
        closeables.add(loop);
        ServerSocket busy = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        closeables.add(busy);
        int port = busy.getLocalPort();
        ListenerKey key = ListenerKey.of(InetAddress.getByName("127.0.0.1"), port, Protocol.TCP);

        loop.submit(state("""
                apiVersion: v1
                kind: Service
                metadata: {name: busy, namespace: ns}
                spec:
                  clusterIP: 127.0.0.1
                  ports: [{port: %d}]
                """.formatted(port)));
        await().atMost(DEADLINE).until(() -> !loop.status().problems().isEmpty());
        assertThat(proxy.bindErrors()).containsKey(key);
        assertThat(loop.status().problems()).extracting(Object::toString).singleElement().asString()
                                            .startsWith("listener " + key);

        busy.close();
        await().atMost(DEADLINE).until(() -> proxy.listeners().containsKey(key));
        assertThat(proxy.bindErrors()).isEmpty();
        await().atMost(DEADLINE).until(() -> loop.status().problems().isEmpty());
        assertThat(loop.pendingSince()).isNull();
    }

    @Test
    void aSyncThatThrowsIsRetriedWithABackoffAndTheSuccessClearsPendingSince() {
        AtomicInteger calls = new AtomicInteger();
        List<Long> callNanos = new CopyOnWriteArrayList<>();
        List<Instant> pendingDuringRetries = new CopyOnWriteArrayList<>();
        ControlLoop[] self = new ControlLoop[1];
        ControlLoop loop = loop(snapshot -> {
            callNanos.add(System.nanoTime());
            if (calls.incrementAndGet() <= 3) {
                if (calls.get() > 1) {
                    pendingDuringRetries.add(self[0].pendingSince());
                }
                throw new IllegalStateException("injected failure " + calls.get());
            }
            return dataplane.apply(snapshot);
        }, Duration.ofMillis(20), Duration.ofMillis(40));
        self[0] = loop;

        loop.submit(ClusterState.EMPTY);
        await().atMost(DEADLINE).until(() -> dataplane.current() != null);
        assertThat(calls.get()).isEqualTo(4);
        assertThat(loop.status().ready()).isTrue();
        assertThat(loop.status().lastError()).contains("injected failure 3");
        assertThat(loop.pendingSince()).isNull();
        // While failing, the change stayed pending (so /healthz turns 503 once it waits too long).
        assertThat(pendingDuringRetries).hasSize(2).doesNotContainNull();
        // 20 ms, then 40 ms, then 40 ms (the maximum).
        assertThat(callNanos.get(1) - callNanos.get(0)).isGreaterThanOrEqualTo(Duration.ofMillis(20).toNanos());
        assertThat(callNanos.get(2) - callNanos.get(1)).isGreaterThanOrEqualTo(Duration.ofMillis(40).toNanos());
        assertThat(callNanos.get(3) - callNanos.get(2)).isGreaterThanOrEqualTo(Duration.ofMillis(40).toNanos());
    }

    @Test
    void aNewStateDoesNotWaitForThePendingRetry() {
        AtomicInteger calls = new AtomicInteger();
        ControlLoop loop = loop(snapshot -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("injected failure");
            }
            return dataplane.apply(snapshot);
        }, Duration.ofHours(1), Duration.ofHours(1));

        loop.submit(ClusterState.EMPTY);
        await().atMost(DEADLINE).until(() -> calls.get() == 1);
        loop.submit(new ClusterState(List.of(), List.of(), List.of(), List.of()));
        await().atMost(DEADLINE).until(() -> dataplane.current() != null);
        assertThat(loop.pendingSince()).isNull();
        assertThat(calls.get()).isEqualTo(2);
    }

    @Test
    void closeDoesNotWaitForAPendingRetry() {
        AtomicInteger calls = new AtomicInteger();
        ControlLoop loop = loop(snapshot -> {
            calls.incrementAndGet();
            throw new IllegalStateException("always fails");
        }, Duration.ofHours(1), Duration.ofHours(1));

        loop.submit(ClusterState.EMPTY);
        await().atMost(DEADLINE).until(() -> calls.get() == 1);
        assertTimeoutPreemptively(Duration.ofSeconds(2), loop::close);
        int after = calls.get();
        loop.submit(ClusterState.EMPTY); // closed: ignored
        assertThat(calls.get()).isEqualTo(after);
        assertThat(loop.pendingSince()).isNotNull();
    }
}
