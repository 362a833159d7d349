package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.control.compile.CompiledServices;
import io.ferry.l4.L4Table;
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
    private final List<ConfigProblem> problems;

    public Snapshot(long generation, Instant createdAt, ClusterState state, CompiledServices services) {
        this.generation = generation;
        this.createdAt = requireNonNull(createdAt, "createdAt");
        this.services = requireNonNull(services, "services");
        List<ConfigProblem> all = new ArrayList<>(state.problems());
        all.addAll(services.problems());
        this.problems = List.copyOf(all);
    }

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

    /** What the source and the compilers rejected. */
    public List<ConfigProblem> problems() {
        return problems;
    }

    @Override
    public String toString() {
        return "Snapshot(#" + generation + ", " + services.table() + ", " + problems.size() + " problems)";
    }
}
