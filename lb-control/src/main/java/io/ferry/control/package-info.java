/**
 * Ferry's control plane and process: where the cluster's objects come from, how they become tables, and how the
 * tables reach the data plane.
 *
 * <p>Starting points:
 * <ul>
 *   <li>{@link io.ferry.control.FerryMain} — the command line (picocli) and {@link io.ferry.control.Ferry}, the
 *       process that wires everything.</li>
 *   <li>{@link io.ferry.control.ClusterState} — the immutable set of objects a source saw.</li>
 *   <li>{@link io.ferry.control.ControlLoop} — coalesces states, compiles them
 *       ({@link io.ferry.control.compile.ServiceCompiler}) and applies the {@link io.ferry.control.Snapshot} through
 *       the {@link io.ferry.control.Dataplane}.</li>
 *   <li>{@link io.ferry.control.source.ManifestSource} — a watched directory of YAML manifests.</li>
 *   <li>{@link io.ferry.control.admin.AdminServer} — {@code /healthz}, {@code /readyz}, {@code /config_dump}.</li>
 * </ul>
 */
package io.ferry.control;
