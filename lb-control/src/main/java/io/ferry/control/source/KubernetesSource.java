package io.ferry.control.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A live cluster read from the Kubernetes API through fabric8 shared informers: Services and EndpointSlices
 * ({@code discovery.k8s.io/v1}) without the label {@code service.kubernetes.io/service-proxy-name} (another proxy
 * owns those; a server-side label selector), Ingresses and IngressClasses ({@code networking.k8s.io/v1}), and
 * Secrets of type {@code kubernetes.io/tls} only (a server-side field selector: Ferry never lists other Secrets).
 * Headless EndpointSlices are not filtered here: the Service compiler skips them, the Ingress compiler needs them.
 *
 * <p>Every informer event marks the source dirty; after {@code debounce} (a coalescing window, like kube-proxy's
 * {@code minSyncPeriod}) the source snapshots every informer cache into one new {@link ClusterState} and hands it
 * to the sink. Events that arrive during the window ride along, so a burst makes one state. The first state is
 * handed over only once every informer has synced ({@link #hasSynced()}), so a consumer that reports readiness
 * after its first applied state never serves a partial cluster.
 *
 * <p>Threading: informer callbacks only flip flags and schedule work; the states are built and the sink is called
 * on one thread of the source's own ({@code ferry-kubernetes}), never on a fabric8 thread. The sink must not
 * block for long ({@code ControlLoop::submit} returns at once). The lists in a state are copies; the objects are
 * the informers' cached instances, which fabric8 replaces on every event and never mutates, and which
 * {@link ClusterState}'s contract forbids anyone else to mutate.
 *
 * <p>Watch errors: an informer that fails to list or whose watch breaks keeps its last cache, is retried by
 * fabric8 with a backoff, and is reported as a {@link ConfigProblem} in the states handed over until its watch is
 * back. Each error and each watch that stops and has to be re-established is logged and counted in
 * {@link #watchRestarts()}; a relist after a reconnect brings the cache back in line, deletions included.
 *
 * <p>The caller owns the {@link KubernetesClient}: {@link #close()} stops the informers but leaves the client
 * open.
 */
public final class KubernetesSource implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(KubernetesSource.class);

    /** Objects with this label belong to another service proxy (kube-proxy's rule). */
    static final String SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
    static final String TLS_SECRET_TYPE = "kubernetes.io/tls";
    /** How often the source looks at each informer's watch to notice drops and recoveries. */
    static final Duration WATCH_CHECK_INTERVAL = Duration.ofMillis(200);

    private final KubernetesClient client;
    private final Consumer<ClusterState> sink;
    private final Duration debounce;
    private final ScheduledExecutorService executor =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("ferry-kubernetes", true));

    private final AtomicBoolean dirty = new AtomicBoolean();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final AtomicLong watchRestarts = new AtomicLong();
    /** Informer name → the last error, while its watch is down. */
    private final Map<String, String> watchErrors = new ConcurrentHashMap<>();

    private volatile List<Watched<?>> watched = List.of();
    private volatile boolean started;
    private volatile boolean closed;

    /**
     * @param client a connected client; the source only reads through it, and does not close it
     * @param sink receives each new state on the source's thread; must return quickly
     * @param debounce how long events are gathered before a state is built (e.g. 100 ms); zero or more
     */
    public KubernetesSource(KubernetesClient client, Consumer<ClusterState> sink, Duration debounce) {
        this.client = requireNonNull(client, "client");
        this.sink = requireNonNull(sink, "sink");
        this.debounce = requireNonNull(debounce, "debounce");
        if (debounce.isNegative()) {
            throw new IllegalArgumentException("debounce: " + debounce + " (expected: >= 0)");
        }
    }

    /**
     * Starts the informers and returns at once; the first state follows when all of them have synced. Call once.
     *
     * @throws IllegalStateException if already started or closed
     */
    public synchronized void start() {
        if (started || closed) {
            throw new IllegalStateException("start(): already " + (closed ? "closed" : "started"));
        }
        started = true;
        List<Watched<?>> all = new ArrayList<>();
        all.add(new Watched<>("services", Service.class,
                              client.services().inAnyNamespace().withoutLabel(SERVICE_PROXY_NAME_LABEL)
                                    .runnableInformer(0),
                              s -> !hasLabel(s, SERVICE_PROXY_NAME_LABEL)));
        all.add(new Watched<>("endpointslices", EndpointSlice.class,
                              client.discovery().v1().endpointSlices().inAnyNamespace()
                                    .withoutLabel(SERVICE_PROXY_NAME_LABEL).runnableInformer(0),
                              s -> !hasLabel(s, SERVICE_PROXY_NAME_LABEL)));
        all.add(new Watched<>("ingresses", Ingress.class,
                              client.network().v1().ingresses().inAnyNamespace().runnableInformer(0), i -> true));
        all.add(new Watched<>("ingressclasses", IngressClass.class,
                              client.network().v1().ingressClasses().runnableInformer(0), c -> true));
        // The field selector keeps other Secrets off the wire; the check on our side guards against a server
        // that ignores it.
        all.add(new Watched<>("secrets", Secret.class,
                              client.secrets().inAnyNamespace().withField("type", TLS_SECRET_TYPE)
                                    .runnableInformer(0),
                              s -> TLS_SECRET_TYPE.equals(s.getType())));
        watched = List.copyOf(all);
        for (Watched<?> w : watched) {
            w.start();
        }
        executor.scheduleWithFixedDelay(this::checkWatches, WATCH_CHECK_INTERVAL.toMillis(),
                                        WATCH_CHECK_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whether every informer has listed its objects once; before that, no state has been handed over. */
    public boolean hasSynced() {
        List<Watched<?>> all = watched;
        if (all.isEmpty()) {
            return false;
        }
        for (Watched<?> w : all) {
            if (!w.informer.hasSynced()) {
                return false;
            }
        }
        return true;
    }

    /** How many times a list or watch failed, or a watch stopped and was re-established, since {@link #start()}. */
    public long watchRestarts() {
        return watchRestarts.get();
    }

    /** Stops the informers and the source's thread; no state is handed over afterwards. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (Watched<?> w : watched) {
            try {
                w.informer.stop();
            } catch (RuntimeException e) {
                logger.debug("Stopping the {} informer failed", w.name, e);
            }
        }
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Called on fabric8 threads: marks the state dirty and makes sure a build is on its way. */
    private void changed() {
        dirty.set(true);
        scheduleBuild();
    }

    private void scheduleBuild() {
        if (closed || !scheduled.compareAndSet(false, true)) {
            return;
        }
        try {
            executor.schedule(this::build, debounce.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            scheduled.set(false); // closed
        }
    }

    /** On the source's thread: snapshots every cache into a state for the sink, once all have synced. */
    private void build() {
        scheduled.set(false);
        if (closed || !hasSynced() || !dirty.getAndSet(false)) {
            return; // not synced yet: the last informer to sync schedules another build
        }
        try {
            List<ConfigProblem> problems = new ArrayList<>();
            watchErrors.forEach((name, error) -> problems.add(new ConfigProblem(
                    "watch " + name, error + "; the last known objects stay live while fabric8 retries")));
            ClusterState state = new ClusterState(list(Service.class), list(EndpointSlice.class), List.of(),
                                                  list(Ingress.class), list(IngressClass.class),
                                                  list(Secret.class), problems);
            logger.debug("Kubernetes state: {}", state);
            sink.accept(state);
        } catch (RuntimeException e) {
            logger.error("Building or handing over the cluster state failed; will try again on the next event", e);
            dirty.set(true);
        }
    }

    @SuppressWarnings("unchecked")
    private <T extends HasMetadata> List<T> list(Class<T> type) {
        for (Watched<?> w : watched) {
            if (w.type == type) {
                return ((Watched<T>) w).snapshot();
            }
        }
        throw new IllegalStateException("no informer for " + type.getSimpleName());
    }

    /** On the source's thread, periodically: notices watches that went down or came back. */
    private void checkWatches() {
        for (Watched<?> w : watched) {
            boolean hadError = w.errorSinceCheck.getAndSet(false);
            boolean watching = w.informer.isWatching();
            if (w.wasWatching && !watching && !closed) {
                if (!hadError) {
                    watchRestarts.incrementAndGet(); // a drop without an error: a timeout or 410 Gone
                }
                logger.info("The {} watch stopped; fabric8 is re-establishing it", w.name);
            }
            if (watching && !hadError && watchErrors.remove(w.name) != null) {
                logger.info("The {} watch is back", w.name);
                changed(); // the state's problems changed
            }
            w.wasWatching = watching;
        }
    }

    private static boolean hasLabel(HasMetadata o, String label) {
        Map<String, String> labels = o.getMetadata().getLabels();
        return labels != null && labels.containsKey(label);
    }

    /** One informer, its kind and what of its cache goes into a state. */
    private final class Watched<T extends HasMetadata> implements ResourceEventHandler<T> {

        final String name;
        final Class<T> type;
        final SharedIndexInformer<T> informer;
        final Predicate<T> keep;
        final AtomicBoolean errorSinceCheck = new AtomicBoolean();
        boolean wasWatching; // source thread only

        Watched(String name, Class<T> type, SharedIndexInformer<T> informer, Predicate<T> keep) {
            this.name = name;
            this.type = type;
            this.informer = informer;
            this.keep = keep;
        }

        void start() {
            informer.addEventHandler(this);
            informer.exceptionHandler((isStarted, t) -> {
                watchRestarts.incrementAndGet();
                errorSinceCheck.set(true);
                watchErrors.put(name, String.valueOf(t.getMessage() == null ? t : t.getMessage()));
                logger.warn("The {} {} failed: {}; retrying", name, isStarted ? "watch" : "list", t.toString());
                changed(); // the state's problems changed
                return !closed;
            });
            informer.start().whenComplete((v, t) -> {
                if (t != null) {
                    if (!closed) {
                        logger.error("The {} informer did not start: {}", name, t.toString());
                    }
                } else {
                    logger.debug("The {} informer has synced", name);
                    changed(); // the last one to sync lets the first state through
                }
            });
        }

        List<T> snapshot() {
            List<T> out = new ArrayList<>();
            for (T o : informer.getStore().list()) {
                if (keep.test(o)) {
                    out.add(o);
                }
            }
            return out;
        }

        @Override
        public void onAdd(T obj) {
            changed();
        }

        @Override
        public void onUpdate(T oldObj, T newObj) {
            if (oldObj == null || newObj == null || !Objects.equals(oldObj.getMetadata().getResourceVersion(),
                                                                    newObj.getMetadata().getResourceVersion())) {
                changed();
            }
        }

        @Override
        public void onDelete(T obj, boolean deletedFinalStateUnknown) {
            changed();
        }
    }
}
