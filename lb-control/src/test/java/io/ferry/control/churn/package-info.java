/**
 * The churn-under-load engine: live backends ({@link io.ferry.control.churn.ChurnBackend}), manifest edits
 * ({@link io.ferry.control.churn.ChurnManifests}), keep-alive HTTP and WebSocket load that counts every request
 * and message, and the run that ties them together ({@link io.ferry.control.churn.ChurnRun}). Used by
 * {@code ChurnUnderLoadTest} and, through lb-control's test jar, by the benchmarks' {@code ChurnMain}.
 */
package io.ferry.control.churn;
