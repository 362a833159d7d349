/**
 * Compilers: from a {@link io.ferry.control.ClusterState} to the data plane's immutable tables. They are pure
 * functions of their input and options, run on the control thread, and report what they reject as
 * {@link io.ferry.control.ConfigProblem}s instead of failing. Start at
 * {@link io.ferry.control.compile.ServiceCompiler}.
 */
package io.ferry.control.compile;
