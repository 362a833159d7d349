package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.control.compile.CompiledIngresses;
import io.ferry.control.compile.CompiledServices;
import io.ferry.control.compile.CompiledTls;
import io.ferry.control.compile.IngressCompiler;
import io.ferry.control.compile.ServiceCompiler;
import io.ferry.control.compile.TlsCompiler;
import java.time.Instant;

/**
 * Compiles a whole {@link ClusterState} into a {@link Snapshot}: Services into the L4 table, Ingresses into the
 * HTTP route table, their TLS sections and Secrets into the TLS table. Runs on the control thread only (the compilers keep per-object memory of last valid versions).
 */
public final class SnapshotCompiler {

    private final ServiceCompiler services;
    private final IngressCompiler ingresses;
    private final TlsCompiler tls;

    /**
     * @param ingresses {@code null} for no HTTP routes
     * @param tls {@code null} for no TLS table
     */
    public SnapshotCompiler(ServiceCompiler services, IngressCompiler ingresses, TlsCompiler tls) {
        this.services = requireNonNull(services, "services");
        this.ingresses = ingresses;
        this.tls = tls;
    }

    /** A compiler for Services only: no HTTP routes. */
    public static SnapshotCompiler servicesOnly(ServiceCompiler services) {
        return new SnapshotCompiler(services, null, null);
    }

    public Snapshot compile(long generation, Instant now, ClusterState state) {
        CompiledServices s = services.compile(state);
        if (ingresses == null) {
            return new Snapshot(generation, now, state, s);
        }
        CompiledIngresses i = ingresses.compile(state);
        CompiledTls t = tls == null ? null : tls.compile(state);
        return new Snapshot(generation, now, state, s, i, t);
    }
}
