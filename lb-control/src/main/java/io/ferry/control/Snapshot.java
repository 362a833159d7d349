package io.ferry.control;

import io.ferry.l4.dns.DnsTable;

import static java.util.Objects.requireNonNull;

import io.ferry.control.compile.CompiledIngresses;
import io.ferry.control.compile.CompiledServices;
import io.ferry.control.compile.CompiledTls;
import io.ferry.l4.L4Table;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.Route;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Every table the data plane needs, compiled from one {@link ClusterState}, and what was rejected on the way.
 * Immutable; applied whole by {@link Dataplane#apply(Snapshot)}.
 */
public final class Snapshot {

    private final long generation;
    private final Instant createdAt;
    private final CompiledServices services;
    private final CompiledIngresses ingresses;
    private final CompiledTls tls;
    private final List<ConfigProblem> problems;
    private final DnsTable dns;

    /** A snapshot with no HTTP routes. */
    public Snapshot(long generation, Instant createdAt, ClusterState state, CompiledServices services) {
        this(generation, createdAt, state, services, EMPTY_INGRESSES, null);
    }

    /**
     * @param tls the TLS table and its problems, or {@code null} when HTTPS is off
     */
    public Snapshot(long generation, Instant createdAt, ClusterState state, CompiledServices services,
                    CompiledIngresses ingresses, CompiledTls tls) {
        this.generation = generation;
        this.createdAt = requireNonNull(createdAt, "createdAt");
        this.services = requireNonNull(services, "services");
        this.ingresses = requireNonNull(ingresses, "ingresses");
        this.tls = tls;
        List<ConfigProblem> all = new ArrayList<>(state.problems());
        all.addAll(services.problems());
        all.addAll(ingresses.problems());
        if (tls != null) {
            all.addAll(tls.problems());
        }
        this.problems = List.copyOf(all);
        this.dns = null;
    }

    private Snapshot(Snapshot s, DnsTable dns, List<ConfigProblem> dnsProblems) {
        this.generation = s.generation;
        this.createdAt = s.createdAt;
        this.services = s.services;
        this.ingresses = s.ingresses;
        this.tls = s.tls;
        List<ConfigProblem> all = new ArrayList<>(s.problems);
        all.addAll(dnsProblems);
        this.problems = List.copyOf(all);
        this.dns = dns;
    }

    /** This snapshot with the cluster DNS table compiled from the same state, and what that compile rejected. */
    public Snapshot withDns(DnsTable table, List<ConfigProblem> dnsProblems) {
        return new Snapshot(this, requireNonNull(table, "table"), dnsProblems);
    }

    /** The cluster DNS records, or {@code null} when the DNS server is off. */
    public DnsTable dns() {
        return dns;
    }

    private static final CompiledIngresses EMPTY_INGRESSES =
            new CompiledIngresses(HttpRouteTable.empty(), List.of(), List.of());

    /** Counts up from 1 with each compiled snapshot. */
    public long generation() {
        return generation;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public L4Table l4() {
        return services.table();
    }

    public CompiledServices services() {
        return services;
    }

    /** The HTTP routes the edge proxy serves. */
    public HttpRouteTable<Route> http() {
        return ingresses.table();
    }

    public CompiledIngresses ingresses() {
        return ingresses;
    }

    /** The TLS table (SNI to certificate) and its views, or {@code null} when HTTPS is off. */
    public CompiledTls tls() {
        return tls;
    }

    /** What the source and the compilers rejected. */
    public List<ConfigProblem> problems() {
        return problems;
    }

    @Override
    public String toString() {
        return "Snapshot(#" + generation + ", " + services.table() + ", " + problems.size() + " problems)";
    }
}
