package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.control.compile.CompiledIngresses;
import io.ferry.control.compile.CompiledServices;
import io.ferry.control.compile.DnsCompiler;
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
    private volatile DnsCompiler dns;

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

    /** Also compiles the cluster DNS table from each state; set before the first compile. */
    public SnapshotCompiler withDns(DnsCompiler dns) {
        this.dns = requireNonNull(dns, "dns");
        return this;
    }

    public Snapshot compile(long generation, Instant now, ClusterState state) {
        CompiledServices s = services.compile(state);
        Snapshot snapshot;
        if (ingresses == null) {
            snapshot = new Snapshot(generation, now, state, s);
        } else {
            CompiledIngresses i = ingresses.compile(state);
            CompiledTls t = tls == null ? null : tls.compile(state);
            snapshot = new Snapshot(generation, now, state, s, i, t);
        }
        DnsCompiler d = dns;
        if (d != null) {
            DnsCompiler.Compiled c = d.compile(state);
            snapshot = snapshot.withDns(c.table(), c.problems());
        }
        return snapshot;
    }
}
