package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressLoadBalancerIngress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressLoadBalancerIngressBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.IngressLoadBalancerStatus;
import io.fabric8.kubernetes.api.model.networking.v1.IngressStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.HttpURLConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes {@code status.loadBalancer.ingress} on the Ingresses Ferry serves, from one replica at a time: the
 * replicas elect a leader with fabric8's {@code LeaderElector} on a {@code coordination.k8s.io/v1} Lease, and
 * only the leader writes. IP literals among the addresses become {@code ip} entries, anything else a
 * {@code hostname}, in the order given.
 *
 * <p>The control plane reports the Ingresses it serves with {@link #served(Set)} (their {@code namespace/name})
 * after each applied snapshot. A pass then reads each served Ingress and replaces its status subresource when it
 * differs from the addresses; passes also run every {@code resyncPeriod}, so a status someone else overwrote is
 * restored, and when this replica becomes leader. Ingresses outside the served set (other classes) are never
 * written, with one exception: an Ingress that leaves the set while this replica watches has its status cleared
 * if it still holds exactly our addresses. Writes are PUTs on the status subresource carrying the
 * resourceVersion read, so a concurrent change is never silently lost (a conflicting write is re-read and retried
 * a few times; a conflicting clear is dropped). Ferry does not clear statuses on shutdown: with one replica per node, another replica takes over the
 * lease, and the addresses it publishes replace ours.
 *
 * <p>Threading: {@link #served(Set)} stores an immutable set in a volatile field and wakes the writer; it never
 * blocks. The API calls for the status run on one daemon thread of the writer's own ({@code ferry-ingress-status});
 * the election runs on the client's executor and only flips {@link #isLeader()} and wakes the writer. Errors are
 * logged and retried at the next pass; nothing is thrown to the caller.
 *
 * <p>The caller owns the {@link KubernetesClient}: {@link #close()} stops writing, releases the lease if held and
 * leaves the client open.
 */
public final class IngressStatusWriter implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(IngressStatusWriter.class);

    static final Duration LEASE_DURATION = Duration.ofSeconds(15);
    static final Duration RENEW_DEADLINE = Duration.ofSeconds(10);
    static final Duration RETRY_PERIOD = Duration.ofSeconds(2);
    /** Tries of one status write when the Ingress changed between our read and our write. */
    private static final int MAX_ATTEMPTS = 3;

    private final KubernetesClient client;
    private final String leaseNamespace;
    private final String leaseName;
    private final String identity;
    private final List<String> addresses;
    private final List<IngressLoadBalancerIngress> desired;
    private final Duration resyncPeriod;
    private final Duration leaseDuration;
    private final Duration renewDeadline;
    private final Duration retryPeriod;
    private final ScheduledExecutorService executor =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("ferry-ingress-status", true));
    private final AtomicBoolean scheduled = new AtomicBoolean();

    private volatile Set<String> served = Set.of();
    private volatile boolean leader;
    private volatile boolean started;
    private volatile boolean closed;
    private CompletableFuture<?> election;
    /** The served set the last pass saw; confined to the writer thread. */
    private Set<String> lastServed = Set.of();

    /**
     * @param client a connected client; the writer does not close it
     * @param leaseNamespace the namespace of the Lease (e.g. {@code ferry-system})
     * @param leaseName the name of the Lease (e.g. {@code ferry-ingress-status})
     * @param identity this replica's name in the Lease, unique among replicas (e.g. the node name)
     * @param addresses what to publish, IP literals or host names; at least one
     * @param resyncPeriod how often every served Ingress is checked again (e.g. 1 minute); positive
     */
    public IngressStatusWriter(KubernetesClient client, String leaseNamespace, String leaseName, String identity,
                               List<String> addresses, Duration resyncPeriod) {
        this(client, leaseNamespace, leaseName, identity, addresses, resyncPeriod,
             LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD);
    }

    /** With the election's timings; fabric8 requires lease > renew deadline > 2.2 × retry period. */
    IngressStatusWriter(KubernetesClient client, String leaseNamespace, String leaseName, String identity,
                        List<String> addresses, Duration resyncPeriod,
                        Duration leaseDuration, Duration renewDeadline, Duration retryPeriod) {
        this.client = requireNonNull(client, "client");
        this.leaseNamespace = requireNonNull(leaseNamespace, "leaseNamespace");
        this.leaseName = requireNonNull(leaseName, "leaseName");
        this.identity = requireNonNull(identity, "identity");
        this.addresses = List.copyOf(requireNonNull(addresses, "addresses"));
        this.desired = loadBalancerIngress(this.addresses);
        this.resyncPeriod = requireNonNull(resyncPeriod, "resyncPeriod");
        this.leaseDuration = requireNonNull(leaseDuration, "leaseDuration");
        this.renewDeadline = requireNonNull(renewDeadline, "renewDeadline");
        this.retryPeriod = requireNonNull(retryPeriod, "retryPeriod");
        if (identity.isEmpty()) {
            throw new IllegalArgumentException("identity: \"\" (expected: a non-empty name)");
        }
        if (desired.isEmpty()) {
            throw new IllegalArgumentException("addresses: [] (expected: at least one address)");
        }
        if (resyncPeriod.isNegative() || resyncPeriod.isZero()) {
            throw new IllegalArgumentException("resyncPeriod: " + resyncPeriod + " (expected: > 0)");
        }
    }

    /**
     * Joins the election and starts the periodic passes; returns at once. Call once.
     *
     * @throws IllegalStateException if already started or closed
     * @throws IllegalArgumentException if the election's timings are inconsistent
     */
    public synchronized void start() {
        if (started || closed) {
            throw new IllegalStateException("start(): already " + (closed ? "closed" : "started"));
        }
        started = true;
        election = client.leaderElector().withConfig(new LeaderElectionConfigBuilder()
                .withName("ferry-ingress-status")
                .withLeaseDuration(leaseDuration)
                .withRenewDeadline(renewDeadline)
                .withRetryPeriod(retryPeriod)
                .withLock(new LeaseLock(leaseNamespace, leaseName, identity))
                .withLeaderCallbacks(new LeaderCallbacks(this::startedLeading, this::stoppedLeading,
                                                         this::newLeader))
                .withReleaseOnCancel(true)
                .build()).build().start();
        executor.scheduleWithFixedDelay(this::wake, resyncPeriod.toMillis(), resyncPeriod.toMillis(),
                                        TimeUnit.MILLISECONDS);
    }

    /** Whether this replica holds the Lease and writes statuses. */
    public boolean isLeader() {
        return leader;
    }

    /**
     * Records the Ingresses Ferry serves now and wakes the writer; cheap, non-blocking and safe from any thread.
     *
     * @param ingressIds {@code namespace/name} of every served Ingress
     */
    public void served(Set<String> ingressIds) {
        Set<String> copy = Set.copyOf(requireNonNull(ingressIds, "ingressIds"));
        if (!copy.equals(served)) {
            served = copy;
            wake();
        }
    }

    /** Stops writing, then leaves the election, releasing the Lease if held. Idempotent. */
    @Override
    public void close() {
        CompletableFuture<?> running;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            running = election;
        }
        leader = false;
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (running != null) {
            running.cancel(true); // releases the Lease (releaseOnCancel) before returning
        }
    }

    private void startedLeading() {
        logger.info("{} leads {}/{}: writing Ingress status {}", identity, leaseNamespace, leaseName, addresses);
        leader = !closed;
        wake();
    }

    private void stoppedLeading() {
        if (leader) {
            logger.info("{} no longer leads {}/{}", identity, leaseNamespace, leaseName);
        }
        leader = false;
    }

    private void newLeader(String holder) {
        logger.debug("Lease {}/{} held by {}", leaseNamespace, leaseName, holder);
    }

    private void wake() {
        if (closed || !scheduled.compareAndSet(false, true)) {
            return;
        }
        try {
            executor.execute(this::pass);
        } catch (RejectedExecutionException e) {
            scheduled.set(false); // closed
        }
    }

    /** One look at every served Ingress, and at those that left the set; on the writer thread. */
    private void pass() {
        scheduled.set(false);
        Set<String> now = served;
        Set<String> gone = new HashSet<>(lastServed);
        gone.removeAll(now);
        lastServed = now;
        if (!leader) {
            return;
        }
        for (String id : now) {
            if (!leader || Thread.currentThread().isInterrupted()) {
                return;
            }
            try {
                publish(id);
            } catch (RuntimeException e) {
                if (!closed) { // close() interrupts a call in flight
                    logger.warn("Ingress {}: status not written, retrying at the next resync: {}", id, e.toString());
                }
            }
        }
        for (String id : gone) {
            if (!leader || Thread.currentThread().isInterrupted()) {
                return;
            }
            try {
                clear(id);
            } catch (RuntimeException e) {
                if (!closed) {
                    logger.warn("Ingress {}: status not cleared: {}", id, e.toString());
                }
            }
        }
    }

    private void publish(String id) {
        String[] nsName = split(id);
        for (int attempt = 1; ; attempt++) {
            Ingress ingress = client.network().v1().ingresses().inNamespace(nsName[0]).withName(nsName[1]).get();
            if (ingress == null || desired.equals(current(ingress))) {
                return;
            }
            try {
                updateStatus(ingress, desired);
                logger.info("Ingress {}: status.loadBalancer.ingress {} -> {}", id, addresses(ingress), addresses);
                return;
            } catch (KubernetesClientException e) {
                if (e.getCode() != HttpURLConnection.HTTP_CONFLICT || attempt == MAX_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private void clear(String id) {
        String[] nsName = split(id);
        Ingress ingress = client.network().v1().ingresses().inNamespace(nsName[0]).withName(nsName[1]).get();
        if (ingress == null || !desired.equals(current(ingress))) {
            return; // deleted, or someone else's status now
        }
        // A conflict means someone changed the Ingress since; leave it to them.
        updateStatus(ingress, List.of());
        logger.info("Ingress {}: no longer served, status cleared", id);
    }

    /**
     * Replaces the load balancer entries with a PUT on the status subresource, carrying the resourceVersion read:
     * a concurrent change makes it fail with 409 instead of being lost. (A merge patch would do, but fabric8's mock
     * server appends to lists where the API server replaces them.)
     */
    private void updateStatus(Ingress ingress, List<IngressLoadBalancerIngress> entries) {
        Ingress updated = new IngressBuilder(ingress).editOrNewStatus().withNewLoadBalancer()
                                                     .withIngress(entries).endLoadBalancer().endStatus().build();
        client.network().v1().ingresses().inNamespace(ingress.getMetadata().getNamespace()).resource(updated)
              .updateStatus();
    }

    private static List<String> addresses(Ingress ingress) {
        List<String> out = new ArrayList<>();
        for (IngressLoadBalancerIngress i : current(ingress)) {
            out.add(i.getIp() != null ? i.getIp() : i.getHostname());
        }
        return out;
    }

    /** The status entries of {@code ingress} reduced to ip and hostname, for comparison with ours. */
    private static List<IngressLoadBalancerIngress> current(Ingress ingress) {
        IngressStatus status = ingress.getStatus();
        IngressLoadBalancerStatus lb = status == null ? null : status.getLoadBalancer();
        if (lb == null || lb.getIngress() == null) {
            return List.of();
        }
        List<IngressLoadBalancerIngress> out = new ArrayList<>();
        for (IngressLoadBalancerIngress i : lb.getIngress()) {
            out.add(new IngressLoadBalancerIngressBuilder().withIp(i.getIp()).withHostname(i.getHostname()).build());
        }
        return out;
    }

    static List<IngressLoadBalancerIngress> loadBalancerIngress(List<String> addresses) {
        List<IngressLoadBalancerIngress> out = new ArrayList<>();
        for (String a : addresses) {
            requireNonNull(a, "address");
            if (a.isEmpty()) {
                throw new IllegalArgumentException("address: \"\" (expected: an IP literal or a host name)");
            }
            IngressLoadBalancerIngressBuilder b = new IngressLoadBalancerIngressBuilder();
            out.add(NetUtil.isValidIpV4Address(a) || NetUtil.isValidIpV6Address(a) ? b.withIp(a).build()
                                                                                    : b.withHostname(a).build());
        }
        return List.copyOf(out);
    }

    private static String[] split(String id) {
        int slash = id.indexOf('/');
        if (slash <= 0 || slash == id.length() - 1) {
            throw new IllegalArgumentException("ingress: " + id + " (expected: namespace/name)");
        }
        return new String[] { id.substring(0, slash), id.substring(slash + 1) };
    }
}
