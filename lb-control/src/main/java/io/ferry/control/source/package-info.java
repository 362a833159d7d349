/**
 * Where {@link io.ferry.control.ClusterState}s come from. {@link io.ferry.control.source.ManifestSource} watches
 * YAML manifests ({@link io.ferry.control.source.ManifestParser} reads them,
 * {@link io.ferry.control.source.ManifestAllocator} fills in what the API server would: ClusterIPs and nodePorts).
 */
package io.ferry.control.source;
