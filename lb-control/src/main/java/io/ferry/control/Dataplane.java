package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.ServiceProxy;
import io.ferry.l4.UdpProxy;
import io.ferry.l4.dns.DnsServer;
import io.ferry.l7.http.HttpProxy;
import java.util.function.Consumer;

/**
 * The one way from the control thread to the event loops: {@link #apply(Snapshot)} makes a snapshot's tables live.
 * Each data plane binds the listeners its new table adds, publishes the table with one volatile write, then stops
 * accepting on the listeners it dropped; no established connection is touched.
 *
 * <p>Called by the control thread only.
 */
public final class Dataplane {

    private final ServiceProxy serviceProxy;
    private final HttpProxy httpProxy;
    private volatile Snapshot current;
    private volatile Consumer<Snapshot> onApplied = s -> { };
    private volatile HealthCheckServer healthChecks;
    private volatile UdpProxy udpProxy;
    private volatile DnsServer dnsServer;

    /** A data plane with the Service proxy only. */
    public Dataplane(ServiceProxy serviceProxy) {
        this(serviceProxy, null);
    }

    /**
     * @param httpProxy the edge HTTP proxy, or {@code null} when it is off
     */
    public Dataplane(ServiceProxy serviceProxy, HttpProxy httpProxy) {
        this.serviceProxy = requireNonNull(serviceProxy, "serviceProxy");
        this.httpProxy = httpProxy;
    }

    /** Makes {@code snapshot} live and returns what the L4 data plane did. */
    public ServiceProxy.ApplyResult apply(Snapshot snapshot) {
        requireNonNull(snapshot, "snapshot");
        ServiceProxy.ApplyResult result = serviceProxy.apply(snapshot.l4());
        UdpProxy udp = udpProxy;
        if (udp != null) {
            result = result.merge(udp.apply(snapshot.l4()));
        }
        DnsServer dns = dnsServer;
        if (dns != null && snapshot.dns() != null) {
            // In the same apply as the listeners: a name answers the ClusterIP that serves it.
            dns.apply(snapshot.dns());
        }
        HealthCheckServer hc = healthChecks;
        if (hc != null) {
            hc.apply(snapshot.services().healthChecks());
        }
        if (httpProxy != null) {
            if (snapshot.tls() != null) {
                httpProxy.applyTls(snapshot.tls().table());
            }
            httpProxy.apply(snapshot.http());
        }
        current = snapshot;
        onApplied.accept(snapshot);
        return result;
    }

    /** Runs {@code listener} on the control thread after each snapshot is live; it must be quick. */
    public void onApplied(Consumer<Snapshot> listener) {
        this.onApplied = requireNonNull(listener, "listener");
    }

    /** Serves the UDP listeners of each snapshot's L4 table; set before the first apply. */
    public void udpProxy(UdpProxy proxy) {
        this.udpProxy = requireNonNull(proxy, "proxy");
    }

    /** Serves each snapshot's DNS table; set before the first apply. */
    public void dnsServer(DnsServer server) {
        this.dnsServer = requireNonNull(server, "server");
    }

    /** The cluster DNS server, or {@code null} when it is off. */
    public DnsServer dnsServer() {
        return dnsServer;
    }

    /** The UDP Service proxy, or {@code null} when there is none. */
    public UdpProxy udpProxy() {
        return udpProxy;
    }

    /** Serves the {@code healthCheckNodePort}s each snapshot asks for; set before the first apply. */
    public void healthChecks(HealthCheckServer server) {
        this.healthChecks = requireNonNull(server, "server");
    }

    /** The edge HTTP proxy, or {@code null} when it is off. */
    public HttpProxy httpProxy() {
        return httpProxy;
    }

    /** The snapshot applied last, or {@code null} before the first. */
    public Snapshot current() {
        return current;
    }

    public ServiceProxy serviceProxy() {
        return serviceProxy;
    }
}
