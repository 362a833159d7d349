package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.ServiceProxy;

/**
 * The one way from the control thread to the event loops: {@link #apply(Snapshot)} makes a snapshot's tables live.
 * Each data plane binds the listeners its new table adds, publishes the table with one volatile write, then stops
 * accepting on the listeners it dropped; no established connection is touched.
 *
 * <p>Called by the control thread only.
 */
public final class Dataplane {

    private final ServiceProxy serviceProxy;
    private volatile Snapshot current;

    public Dataplane(ServiceProxy serviceProxy) {
        this.serviceProxy = requireNonNull(serviceProxy, "serviceProxy");
    }

    /** Makes {@code snapshot} live and returns what the L4 data plane did. */
    public ServiceProxy.ApplyResult apply(Snapshot snapshot) {
        requireNonNull(snapshot, "snapshot");
        ServiceProxy.ApplyResult result = serviceProxy.apply(snapshot.l4());
        current = snapshot;
        return result;
    }

    /** The snapshot applied last, or {@code null} before the first. */
    public Snapshot current() {
        return current;
    }

    public ServiceProxy serviceProxy() {
        return serviceProxy;
    }
}
