package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.ferry.control.compile.ServiceCompiler;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.ServiceProxy;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.prometheus.metrics.core.metrics.Histogram;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control thread: takes {@link ClusterState}s from any source, coalesces bursts, compiles the latest into a
 * {@link Snapshot} and applies it through the {@link Dataplane}.
 *
 * <p>{@link #submit(ClusterState)} may be called from any thread and never blocks. Syncs run on one thread
 * ({@code ferry-control}), at most once per {@code minSyncPeriod} (kube-proxy's rule, in milliseconds here); a
 * state submitted during a sync is picked up by the next one, and only the latest state is ever compiled.
 *
 * <p>A sync that throws leaves the last good tables live, and {@link #pendingSince()} stays set, so that
 * {@code /healthz} fails once the change has waited too long (kube-proxy's behaviour when it cannot program its
 * rules). A sync that leaves listeners unbound (a port held by another process) counts as applied: the rest of the
 * table is live and the listeners are reported in {@link Status#problems()}. Either kind is retried with the
 * latest state after a backoff of 1 s, doubling up to 30 s, and reset by a sync that succeeds; a new state is
 * synced at once as usual. Retries are timers on the control thread: nothing waits or spins, and
 * {@link #close()} cancels them. The {@link SnapshotCompiler} is used on the control thread only.
 */
public final class ControlLoop implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(ControlLoop.class);
    static final Duration RETRY_MIN = Duration.ofSeconds(1);
    static final Duration RETRY_MAX = Duration.ofSeconds(30);

    static final String TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";
    // kube-proxy's buckets for network programming latency: 0.25 s to 9.5 min.
    private static final double[] NETWORK_PROGRAMMING_BUCKETS = networkProgrammingBuckets();

    private final SnapshotCompiler compiler;
    private final Dataplane dataplane;
    private final Function<Snapshot, ServiceProxy.ApplyResult> apply;
    private final Duration minSyncPeriod;
    private final Clock clock;
    private final Duration retryMin;
    private final Duration retryMax;
    private final ScheduledExecutorService executor =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("ferry-control", true));

    private final AtomicReference<ClusterState> latest = new AtomicReference<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private volatile Instant pendingSince;
    private volatile long lastSyncNanos = System.nanoTime() - TimeUnit.DAYS.toNanos(1);
    private volatile Status status = Status.INITIAL;
    private volatile SourceHealth sourceHealth = SourceHealth.HEALTHY;
    private final Histogram syncDurations = Histogram.builder()
            .name("ferry_sync_proxy_rules_duration_seconds")
            .help("How long a sync (compile and apply of a snapshot) took, failed ones included")
            .classicOnly()
            .classicExponentialUpperBounds(0.001, 2, 15) // kube-proxy's buckets: 1 ms to 16 s
            .withoutExemplars()
            .build();

    private final Histogram networkProgrammingDurations = Histogram.builder()
            .name("ferry_network_programming_duration_seconds")
            .help("From an EndpointSlice change (its endpoints.kubernetes.io/last-change-trigger-time) to the "
                  + "snapshot with it being live")
            .classicOnly()
            .classicUpperBounds(NETWORK_PROGRAMMING_BUCKETS)
            .withoutExemplars()
            .build();
    private final Instant startedAt;

    // Control thread only.
    // namespace/name of each EndpointSlice in the last applied state -> its last-change-trigger-time annotation.
    private Map<String, String> appliedTriggerTimes = Map.of();
    private long generation;
    private Set<String> lastProblems = Set.of();
    private ClusterState failedState; // the state of the last sync, while it needs a retry
    private ScheduledFuture<?> retry;
    private Duration retryDelay;
    /** Run once, on the loop's thread, after the first snapshot is applied and before it is reported ready. */
    private volatile Runnable beforeReady;

    public ControlLoop(SnapshotCompiler compiler, Dataplane dataplane, Duration minSyncPeriod, Clock clock) {
        this(compiler, dataplane, requireNonNull(dataplane, "dataplane")::apply, minSyncPeriod, clock, RETRY_MIN,
             RETRY_MAX);
    }

    /** A loop that compiles Services only (no HTTP routes). */
    public ControlLoop(ServiceCompiler compiler, Dataplane dataplane, Duration minSyncPeriod, Clock clock) {
        this(SnapshotCompiler.servicesOnly(compiler), dataplane, minSyncPeriod, clock);
    }

    /** For tests: {@code apply} stands for {@code dataplane.apply}, and the backoff can be shortened. */
    ControlLoop(ServiceCompiler compiler, Dataplane dataplane, Function<Snapshot, ServiceProxy.ApplyResult> apply,
                Duration minSyncPeriod, Clock clock, Duration retryMin, Duration retryMax) {
        this(SnapshotCompiler.servicesOnly(compiler), dataplane, apply, minSyncPeriod, clock, retryMin, retryMax);
    }

    private ControlLoop(SnapshotCompiler compiler, Dataplane dataplane,
                        Function<Snapshot, ServiceProxy.ApplyResult> apply, Duration minSyncPeriod, Clock clock,
                        Duration retryMin, Duration retryMax) {
        this.compiler = requireNonNull(compiler, "compiler");
        this.dataplane = requireNonNull(dataplane, "dataplane");
        this.apply = requireNonNull(apply, "apply");
        this.minSyncPeriod = requireNonNull(minSyncPeriod, "minSyncPeriod");
        this.clock = requireNonNull(clock, "clock");
        this.retryMin = requireNonNull(retryMin, "retryMin");
        this.retryMax = requireNonNull(retryMax, "retryMax");
        if (retryMin.isNegative() || retryMin.isZero() || retryMax.compareTo(retryMin) < 0) {
            throw new IllegalArgumentException("retryMin: " + retryMin + ", retryMax: " + retryMax
                                               + " (expected: 0 < retryMin <= retryMax)");
        }
        this.retryDelay = retryMin;
        this.startedAt = clock.instant();
    }

    private static double[] networkProgrammingBuckets() {
        List<Double> b = new ArrayList<>(List.of(0.25, 0.5));
        for (int i = 1; i <= 59; i++) {
            b.add((double) i);
        }
        for (int i = 0; i < 12; i++) {
            b.add(60.0 + 5 * i);
        }
        for (int i = 0; i < 10; i++) {
            b.add(300.0 + 30 * i);
        }
        return b.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** Hands a new state to the loop; returns at once. */
    public void submit(ClusterState state) {
        requireNonNull(state, "state");
        noteSourceHealth(state);
        latest.set(state);
        if (pendingSince == null) {
            pendingSince = clock.instant();
        }
        if (scheduled.compareAndSet(false, true)) {
            long wait = lastSyncNanos + minSyncPeriod.toNanos() - System.nanoTime();
            try {
                executor.schedule(this::sync, Math.max(0, wait), TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                scheduled.set(false); // closed
            }
        }
    }

    private void sync() {
        scheduled.set(false);
        ClusterState state = latest.getAndSet(null);
        if (state != null) {
            compileAndApply(state);
        }
    }

    private void retry() {
        retry = null;
        ClusterState state = failedState;
        // A newer state already has a sync on the way (submit scheduled it); that sync retries if it fails too.
        if (state != null && latest.get() == null) {
            logger.debug("Retrying the last sync");
            compileAndApply(state);
        }
    }

    private void compileAndApply(ClusterState state) {
        lastSyncNanos = System.nanoTime();
        long started = System.nanoTime();
        boolean failed;
        try {
            Snapshot snapshot = compiler.compile(++generation, clock.instant(), state);
            long compiled = System.nanoTime();
            ServiceProxy.ApplyResult result = apply.apply(snapshot);
            long applied = System.nanoTime();
            if (latest.get() == null) {
                pendingSince = null;
            } else {
                pendingSince = clock.instant();
            }
            List<ConfigProblem> problems = new ArrayList<>(snapshot.problems());
            for (Map.Entry<ListenerKey, String> e : result.bindErrors().entrySet()) {
                problems.add(new ConfigProblem("listener " + e.getKey(), e.getValue()));
            }
            logNewProblems(problems);
            Runnable first = status.ready() ? null : beforeReady;
            if (first != null) {
                beforeReady = null;
                first.run();
            }
            status = new Status(true, snapshot.generation(), snapshot.createdAt(), List.copyOf(problems),
                                status.lastError, Duration.ofNanos(compiled - started),
                                Duration.ofNanos(applied - compiled));
            logger.info("Applied snapshot #{}: {} listeners, {} problems (compile {} ms, apply {} ms)",
                        snapshot.generation(), snapshot.l4().size(), problems.size(),
                        TimeUnit.NANOSECONDS.toMillis(compiled - started),
                        TimeUnit.NANOSECONDS.toMillis(applied - compiled));
            failed = !result.bindErrors().isEmpty();
            observeNetworkProgramming(state);
        } catch (RuntimeException e) {
            if (e.toString().equals(status.lastError)) {
                logger.error("Sync failed again: {}; the last good tables stay live", e.toString());
            } else {
                logger.error("Sync failed; the last good tables stay live", e);
            }
            status = status.withError(e.toString());
            failed = true;
        }
        syncDurations.observe((System.nanoTime() - started) / 1e9);
        if (failed) {
            failedState = state;
            scheduleRetry();
        } else {
            failedState = null;
            retryDelay = retryMin;
            if (retry != null) {
                retry.cancel(false);
                retry = null;
            }
        }
    }

    /**
     * Observes {@code ferry_network_programming_duration_seconds} as kube-proxy does: for every EndpointSlice whose
     * {@code endpoints.kubernetes.io/last-change-trigger-time} is new since the last applied state, the time from
     * that moment to now, when the snapshot with it is live. Trigger times from before this loop started (the
     * initial list of a long-lived cluster) are skipped, as kube-proxy skips them.
     */
    private void observeNetworkProgramming(ClusterState state) {
        Map<String, String> next = new HashMap<>();
        Instant now = clock.instant();
        for (EndpointSlice slice : state.endpointSlices()) {
            Map<String, String> annotations = slice.getMetadata().getAnnotations();
            String trigger = annotations == null ? null : annotations.get(TRIGGER_TIME_ANNOTATION);
            if (trigger == null) {
                continue;
            }
            String key = slice.getMetadata().getNamespace() + '/' + slice.getMetadata().getName();
            next.put(key, trigger);
            if (trigger.equals(appliedTriggerTimes.get(key))) {
                continue;
            }
            try {
                Instant at = Instant.parse(trigger);
                if (!at.isBefore(startedAt) && !at.isAfter(now)) {
                    networkProgrammingDurations.observe(Duration.between(at, now).toNanos() / 1e9);
                }
            } catch (DateTimeParseException e) {
                logger.debug("EndpointSlice {}: {} is not a timestamp: {}", key, TRIGGER_TIME_ANNOTATION, trigger);
            }
        }
        appliedTriggerTimes = next;
    }

    /** Schedules a retry of {@link #failedState} unless one is due already; each one waits twice as long. */
    private void scheduleRetry() {
        if (retry != null) {
            return;
        }
        Duration delay = retryDelay;
        try {
            retry = executor.schedule(this::retry, delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            return; // closed
        }
        retryDelay = delay.multipliedBy(2).compareTo(retryMax) > 0 ? retryMax : delay.multipliedBy(2);
        if (delay.equals(retryMin)) {
            logger.info("Sync incomplete; retrying in {} ms, then less and less often", delay.toMillis());
        } else {
            logger.debug("Sync incomplete; retrying in {} ms", delay.toMillis());
        }
    }

    private void logNewProblems(List<ConfigProblem> problems) {
        Set<String> now = problems.stream().map(ConfigProblem::toString).collect(Collectors.toSet());
        for (String p : now) {
            if (!lastProblems.contains(p)) {
                logger.warn("Configuration problem: {}", p);
            }
        }
        lastProblems = now;
    }

    /**
     * Records what the source said about itself with {@code state}: the problems it reported (a manifest path that
     * is gone or does not parse, a watch of the API server that is down), each meaning that part of the live
     * tables is the last good version rather than what the source holds now. Called by the source's thread; a
     * source hands its states over one at a time.
     */
    private void noteSourceHealth(ClusterState state) {
        List<ConfigProblem> problems = state.problems();
        SourceHealth before = sourceHealth;
        if (problems.isEmpty()) {
            if (!before.healthy()) {
                logger.info("The source is healthy again");
                sourceHealth = SourceHealth.HEALTHY;
            }
            return;
        }
        Instant since = before.healthy() ? clock.instant() : before.failingSince();
        sourceHealth = new SourceHealth(since, List.copyOf(problems));
    }

    /**
     * Whether the last state the source handed over was whole, and if not since when it has not been; safe to read
     * from any thread. The tables stay live either way: this is what {@code /healthz} reports as {@code source}.
     */
    public SourceHealth sourceHealth() {
        return sourceHealth;
    }

    /** What the loop has done; safe to read from any thread. */
    public Status status() {
        return status;
    }

    /**
     * Sets what runs once, on the loop's thread, when the first snapshot has been applied and before {@link #status()}
     * says ready (the process uses it to settle its heap); call it before the first submit.
     */
    public void beforeReady(Runnable task) {
        this.beforeReady = task;
    }

    /** When the oldest change not yet applied arrived, or {@code null} if everything is applied. */
    public Instant pendingSince() {
        return pendingSince;
    }

    /**
     * {@code ferry_sync_proxy_rules_duration_seconds}, kube-proxy's {@code sync_proxy_rules_duration_seconds}:
     * observed once per sync, on the control thread. Not registered anywhere; the admin server's metrics do that.
     */
    public Histogram syncDurations() {
        return syncDurations;
    }

    /**
     * {@code ferry_network_programming_duration_seconds}, kube-proxy's {@code network_programming_duration_seconds};
     * observed on the control thread after each successful apply. Not registered anywhere.
     */
    public Histogram networkProgrammingDurations() {
        return networkProgrammingDurations;
    }

    public Dataplane dataplane() {
        return dataplane;
    }

    @Override
    public void close() {
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * What the source reported about itself in its last state.
     *
     * @param failingSince when it first reported a problem without a whole state since, or {@code null}
     * @param problems what it reported: the subjects it could not read, and why; empty when healthy
     */
    public record SourceHealth(Instant failingSince, List<ConfigProblem> problems) {

        static final SourceHealth HEALTHY = new SourceHealth(null, List.of());

        /** Whether the source's last state was read whole (so the tables are not older than the source). */
        public boolean healthy() {
            return problems.isEmpty();
        }
    }

    /**
     * The loop's state for health checks and {@code /config_dump}.
     *
     * @param ready whether a first snapshot has been applied
     * @param generation the last applied snapshot's generation (0 before the first)
     * @param appliedAt when it was applied, or {@code null}
     * @param problems what the last snapshot rejected, with the listeners it could not bind
     * @param lastError the last sync that failed, or {@code null}
     */
    public record Status(boolean ready, long generation, Instant appliedAt, List<ConfigProblem> problems,
                         String lastError, Duration compileTime, Duration applyTime) {

        static final Status INITIAL = new Status(false, 0, null, List.of(), null, Duration.ZERO, Duration.ZERO);

        Status withError(String error) {
            return new Status(ready, generation, appliedAt, problems, error, compileTime, applyTime);
        }
    }
}
