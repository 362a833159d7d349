/**
 * Ferry's JMH benchmarks: micro-benchmarks of the data plane's hot paths, run from one shaded jar.
 *
 * <p>Starting points:
 * <ul>
 *   <li>{@link io.ferry.bench.L4TableLookupBenchmark} — {@link io.ferry.l4.L4Table#lookup(io.ferry.l4.ListenerKey)}
 *       for a hit and a miss, with 10, 1,000 and 100,000 Service ports in the table.</li>
 *   <li>{@link io.ferry.bench.HttpRouteLookupBenchmark} — the HTTP route table's host and path lookup.</li>
 *   <li>{@link io.ferry.bench.BalancerBenchmark} — each Service balancer's {@code select} (and acquire/release)
 *       at 3, 100 and 1,000 endpoints; results in {@code docs/balancers.md}.</li>
 * </ul>
 *
 * <p>To build and run, from the repository root:
 * <pre>
 * mvn -B -DskipTests package
 * java -jar benchmarks/target/benchmarks.jar L4TableLookupBenchmark -prof gc
 * </pre>
 * Every benchmark carries sensible defaults in its annotations; the usual JMH flags override them
 * ({@code -f} forks, {@code -wi}/{@code -i} warm-up and measurement iterations, {@code -p servicePorts=1000} one
 * parameter value, {@code -bm thrpt} throughput instead of average time, {@code -h} for the rest). The results
 * and the machine they were taken on are kept in {@code docs/benchmarks.md}.
 *
 * <p>Nothing here is used by Ferry at run time.
 */
package io.ferry.bench;
