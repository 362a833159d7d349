package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.control.compile.CompiledIngresses;
import io.ferry.control.compile.CompiledServices;
import io.ferry.control.compile.IngressCompiler;
import io.ferry.control.compile.ServiceCompiler;
import java.time.Instant;

/**
 * Compiles a whole {@link ClusterState} into a {@link Snapshot}: Services into the L4 table, Ingresses into the
 * HTTP route table. Runs on the control thread only (the compilers keep per-object memory of last valid versions).
 */
public final class SnapshotCompiler {

    private final ServiceCompiler services;
    private final IngressCompiler ingresses;

    public SnapshotCompiler(ServiceCompiler services, IngressCompiler ingresses) {
        this.services = requireNonNull(services, "services");
        this.ingresses = requireNonNull(ingresses, "ingresses");
    }

    /** A compiler for Services only: no HTTP routes. */
    public static SnapshotCompiler servicesOnly(ServiceCompiler services) {
        return new SnapshotCompiler(services, null, true);
    }

    private SnapshotCompiler(ServiceCompiler services, IngressCompiler ingresses, boolean unused) {
        this.services = requireNonNull(services, "services");
        this.ingresses = ingresses;
    }

    public Snapshot compile(long generation, Instant now, ClusterState state) {
        CompiledServices s = services.compile(state);
        if (ingresses == null) {
            return new Snapshot(generation, now, state, s);
        }
        CompiledIngresses i = ingresses.compile(state);
        return new Snapshot(generation, now, state, s, i);
    }
}
