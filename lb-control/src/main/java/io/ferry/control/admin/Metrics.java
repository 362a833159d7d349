package io.ferry.control.admin;

import static java.util.Objects.requireNonNull;

import io.ferry.control.ControlLoop;
import io.ferry.control.Snapshot;
import io.ferry.l4.Backend;
import io.ferry.l4.BackendStats;
import io.ferry.l4.LatencyHistogram;
import io.ferry.l4.ProxyStats;
import io.ferry.l4.ServiceProxy;
import io.ferry.l7.http.HttpProxy;
import io.ferry.l7.http.HttpStats;
import io.ferry.l7.route.RouteStats;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * The Prometheus metrics {@code /metrics} serves, under {@code ferry_}.
 *
 * <p>Every data-plane metric is a callback ({@link CounterWithCallback}, {@link GaugeWithCallback}) that reads the
 * process-wide {@link ProxyStats} and {@link HttpStats} adders when scraped, so the hot path keeps bumping its
 * {@code LongAdder}s and knows nothing of Prometheus. The control plane's gauges read {@link ControlLoop#status()};
 * its one histogram, {@link ControlLoop#syncDurations()}, is observed by the control thread on each sync. The
 * {@code ferry_http_*} metrics exist only when the edge HTTP proxy runs.
 *
 * <p>A scrape only reads adders and volatile fields and writes text to memory, so it may run on an event loop. Each
 * instance has its own registry (not the client's default one), so several processes can live in one JVM.
 */
public final class Metrics {

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final ExpositionFormats formats = ExpositionFormats.init();

    private Metrics() {
    }

    /** Registers the metrics of {@code proxy}, of {@code loop} and of its data plane's HTTP proxy if it has one. */
    public static Metrics create(ControlLoop loop, ServiceProxy proxy) {
        requireNonNull(loop, "loop");
        requireNonNull(proxy, "proxy");
        Metrics m = new Metrics();
        m.registerL4(proxy.stats());
        m.registerL4PerService(proxy);
        if (loop.dataplane().udpProxy() != null) {
            m.registerUdp(loop.dataplane().udpProxy().stats());
        }
        if (loop.dataplane().dnsServer() != null) {
            m.registerDns(loop.dataplane().dnsServer().stats());
        }
        HttpProxy http = loop.dataplane().httpProxy();
        if (http != null) {
            m.registerHttp(http.stats());
            m.registerHttpPerRoute(loop);
        }
        m.registerControl(loop);
        return m;
    }

    /**
     * Registers the Kubernetes source's counters: {@code ferry_kubernetes_watch_restarts_total} (watches that failed
     * or stopped and were started again). Call once, when the process watches an API server.
     */
    public void registerKubernetes(LongSupplier watchRestarts) {
        counter("ferry_kubernetes_watch_restarts_total",
                "Kubernetes API watches that failed or stopped and were started again", watchRestarts);
    }

    /** The registry the metrics live in. */
    public PrometheusRegistry registry() {
        return registry;
    }

    /**
     * Scrapes every metric and writes them in the format {@code accept} asks for: OpenMetrics when it names
     * {@code application/openmetrics-text}, else the Prometheus text format 0.0.4.
     *
     * @param accept the request's {@code Accept} header, or {@code null}
     */
    public Scrape scrape(String accept) {
        ExpositionFormatWriter writer = formats.findWriter(accept);
        if (!writer.isAvailable()) { // the protobuf format, which this build leaves out
            writer = formats.getPrometheusTextFormatWriter();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not throw
        }
        return new Scrape(writer.getContentType(), out.toByteArray());
    }

    /** One scrape's body and its {@code Content-Type}. */
    public record Scrape(String contentType, byte[] body) {
    }

    /**
     * Per Service port ({@code service="namespace/name:port/PROTOCOL"}), read from the live L4 table at scrape
     * time; a Service port leaves the output when it leaves the table.
     */
    private void registerL4PerService(ServiceProxy proxy) {
        perService("ferry_l4_service_connections_total", "TCP connections accepted (UDP flows created), per Service port", proxy,
                   BackendStats::connections, false);
        perService("ferry_l4_service_connections_active", "TCP connections (UDP flows) open now, per Service port", proxy,
                   BackendStats::active, true);
        perService("ferry_l4_service_rx_bytes_total", "Bytes read from clients, per Service port", proxy,
                   BackendStats::bytesFromClients, false);
        perService("ferry_l4_service_tx_bytes_total", "Bytes sent to clients, per Service port", proxy,
                   BackendStats::bytesToClients, false);
        perService("ferry_l4_service_no_endpoint_rejects_total",
                   "TCP connections reset at once for want of an endpoint, per Service port", proxy,
                   BackendStats::noEndpointRejects, false);
        perService("ferry_l4_service_upstream_connect_failures_total",
                   "Failed connects to endpoints, per Service port", proxy, BackendStats::connectFailures, false);
        perService("ferry_l4_service_retries_total",
                   "TCP connects tried again on another endpoint, per Service port", proxy, BackendStats::retries,
                   false);
        histogram("ferry_l4_service_upstream_connect_duration_seconds",
                  "How long successful TCP connects to endpoints took, per Service port", "service",
                  f -> eachBackend(proxy, (n, st) -> f.accept(n, st.connectLatency())));
    }

    /**
     * Registers a histogram family read at scrape time from {@link LatencyHistogram}s, one series per label value.
     */
    private void histogram(String name, String help, String labelName,
                           Consumer<BiConsumer<String, LatencyHistogram>> each) {
        double[] bounds = LatencyHistogram.boundsSeconds();
        double[] upperBounds = java.util.Arrays.copyOf(bounds, bounds.length + 1);
        upperBounds[bounds.length] = Double.POSITIVE_INFINITY;
        registry.register(new Collector() {
            @Override
            public HistogramSnapshot collect() {
                HistogramSnapshot.Builder b = HistogramSnapshot.builder().name(name).help(help).unit(Unit.SECONDS);
                each.accept((label, h) -> {
                    long[] counts = h.bucketCounts();
                    b.dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder()
                                        .classicHistogramBuckets(ClassicHistogramBuckets.of(upperBounds, counts))
                                        .sum(h.sumSeconds())
                                        .labels(Labels.of(labelName, label))
                                        .build());
                });
                return b.build();
            }

            @Override
            public String getPrometheusName() {
                return name;
            }
        });
    }

    private void perService(String name, String help, ServiceProxy proxy,
                            ToLongFunction<BackendStats> value, boolean gauge) {
        if (gauge) {
            GaugeWithCallback.builder().name(name).help(help).labelNames("service")
                             .callback(cb -> eachBackend(proxy, (n, st) -> cb.call(value.applyAsLong(st), n)))
                             .register(registry);
        } else {
            CounterWithCallback.builder().name(name).help(help).labelNames("service")
                               .callback(cb -> eachBackend(proxy, (n, st) -> cb.call(value.applyAsLong(st), n)))
                               .register(registry);
        }
    }

    /**
     * Per HTTP route ({@code route="namespace/ingress:host/path"}, or {@code ...defaultBackend}), from the live
     * snapshot at scrape time: requests routed and responses by status class.
     */
    private void registerHttpPerRoute(ControlLoop loop) {
        CounterWithCallback.builder()
                .name("ferry_http_route_requests_total")
                .help("HTTP requests routed, per Ingress route")
                .labelNames("route")
                .callback(cb -> routeStats(loop).forEach((name, st) -> cb.call(st.requests(), name)))
                .register(registry);
        CounterWithCallback.builder()
                .name("ferry_http_route_responses_total")
                .help("HTTP responses by status class, per Ingress route")
                .labelNames("route", "code_class")
                .callback(cb -> routeStats(loop).forEach((name, st) -> {
                    for (int cls = 1; cls <= 5; cls++) {
                        cb.call(st.responses(cls), name, cls + "xx");
                    }
                }))
                .register(registry);
        CounterWithCallback.builder()
                .name("ferry_http_route_bytes_total")
                .help("HTTP body bytes proxied per Ingress route: rx from clients to endpoints, tx from endpoints "
                      + "to clients")
                .unit(Unit.BYTES)
                .labelNames("route", "direction")
                .callback(cb -> routeStats(loop).forEach((name, st) -> {
                    cb.call(st.bytesFromClients(), name, "rx");
                    cb.call(st.bytesToClients(), name, "tx");
                }))
                .register(registry);
        perRoute(loop, "ferry_http_route_no_endpoint_total", "HTTP requests answered 503 for want of an endpoint, "
                  + "per Ingress route", RouteStats::noEndpoints);
        perRoute(loop, "ferry_http_route_upstream_connect_failures_total",
                 "Failed connects to endpoints, per Ingress route", RouteStats::upstreamConnectFailures);
        perRoute(loop, "ferry_http_route_retries_total", "HTTP requests sent again, per Ingress route",
                 RouteStats::retries);
        histogram("ferry_http_route_upstream_header_duration_seconds",
                  "Time from sending a request to an endpoint to its response head, per Ingress route", "route",
                  f -> routeStats(loop).forEach((name, st) -> f.accept(name, st.upstreamLatency())));
    }

    private void perRoute(ControlLoop loop, String name, String help, ToLongFunction<RouteStats> value) {
        CounterWithCallback.builder().name(name).help(help).labelNames("route")
                           .callback(cb -> routeStats(loop).forEach((n, st) -> cb.call(value.applyAsLong(st), n)))
                           .register(registry);
    }

    private static Map<String, RouteStats> routeStats(ControlLoop loop) {
        Snapshot s = loop.dataplane().current();
        return s == null ? Map.of() : s.ingresses().stats();
    }

    private static void eachBackend(ServiceProxy proxy, BiConsumer<String, BackendStats> f) {
        Set<String> seen = new HashSet<>();
        for (Backend b : proxy.table().entries().values()) {
            if (seen.add(b.name())) {
                f.accept(b.name(), b.stats());
            }
        }
    }

    private void registerL4(ProxyStats s) {
        counter("ferry_l4_connections_total", "TCP connections accepted", s::accepted);
        gauge("ferry_l4_connections_active", "TCP connections open now", s::active);
        CounterWithCallback.builder()
                .name("ferry_l4_bytes_total")
                .help("TCP bytes: rx read from clients, tx read from endpoints and sent to clients")
                .unit(Unit.BYTES)
                .labelNames("direction")
                .callback(cb -> {
                    cb.call(s.bytesFromClients(), "rx");
                    cb.call(s.bytesToClients(), "tx");
                })
                .register(registry);
        counter("ferry_l4_no_endpoint_rejects_total",
                "TCP connections reset at once because their Service had no usable endpoint", s::noEndpointRejects);
        counter("ferry_l4_upstream_connect_failures_total", "TCP connect attempts to an endpoint that failed",
                s::connectFailures);
        counter("ferry_l4_upstream_unreachable_total",
                "TCP connections reset because no endpoint could be reached", s::upstreamUnreachable);
        counter("ferry_l4_idle_timeouts_total", "TCP connections closed for inactivity", s::idleTimeouts);
        counter("ferry_l4_retries_total", "TCP connects tried again on another endpoint after one failed",
                s::retries);
        counter("ferry_l4_endpoint_ejections_total",
                "Times passive health started skipping an endpoint after failed connects", s::endpointsSkipped);
    }

    private void registerDns(io.ferry.l4.dns.DnsStats s) {
        CounterWithCallback.builder()
                .name("ferry_dns_queries_total")
                .help("DNS queries answered or forwarded, by query type")
                .labelNames("type")
                .callback(cb -> s.queriesByType().forEach((type, n) -> cb.call(n, type)))
                .register(registry);
        CounterWithCallback.builder()
                .name("ferry_dns_responses_total")
                .help("DNS responses sent, by rcode")
                .labelNames("rcode")
                .callback(cb -> s.responsesByRcode().forEach((rcode, n) -> cb.call(n, rcode)))
                .register(registry);
        CounterWithCallback.builder()
                .name("ferry_dns_transport_queries_total")
                .help("DNS queries by transport")
                .labelNames("transport")
                .callback(cb -> {
                    cb.call(s.udpQueries(), "udp");
                    cb.call(s.tcpQueries(), "tcp");
                })
                .register(registry);
        counter("ferry_dns_forwarded_total", "DNS queries for names outside the zone sent to an upstream resolver",
                s::forwarded);
        counter("ferry_dns_forward_failures_total", "Forwarded DNS queries that failed (SERVFAIL sent)",
                s::forwardFailures);
        counter("ferry_dns_forward_timeouts_total", "Forwarded DNS queries the upstream did not answer in time",
                s::forwardTimeouts);
        counter("ferry_dns_refused_total", "DNS queries for names outside the zone answered REFUSED", s::refused);
        counter("ferry_dns_truncated_total", "DNS answers sent over UDP with the TC bit (the client retries over TCP)",
                s::truncated);
        counter("ferry_dns_malformed_total", "DNS messages that could not be parsed (FORMERR sent or dropped)",
                s::malformed);
        histogram("ferry_dns_request_duration_seconds", "Time to answer a DNS query, forwarding included",
                  "server", f -> f.accept("ferry", s.latency()));
    }

    private void registerUdp(io.ferry.l4.UdpStats s) {
        counter("ferry_udp_flows_total", "UDP flows (client address and port to an endpoint) created",
                s::flowsCreated);
        gauge("ferry_udp_flows_active", "UDP flows open now", s::flowsActive);
        counter("ferry_udp_flows_expired_total", "UDP flows closed after the idle timeout", s::flowsExpired);
        counter("ferry_udp_flows_endpoint_removed_total",
                "UDP flows closed at once because their endpoint left the Service", s::flowsEndpointRemoved);
        counter("ferry_udp_upstream_errors_total", "UDP flows closed because their endpoint answered with an error",
                s::upstreamErrors);
        counter("ferry_udp_upstream_connect_failures_total", "UDP upstream sockets that could not be opened",
                s::upstreamConnectFailures);
        counter("ferry_udp_endpoint_ejections_total",
                "Times passive health started skipping a UDP endpoint", s::endpointsSkipped);
        counter("ferry_udp_no_endpoint_drops_total", "UDP datagrams dropped for want of an endpoint",
                s::noEndpointDrops);
        counter("ferry_udp_flow_limit_drops_total", "UDP datagrams dropped because the flow table was full",
                s::flowLimitDrops);
        counter("ferry_udp_oversize_drops_total", "UDP datagrams dropped for being larger than the limit",
                s::oversizeDrops);
        counter("ferry_udp_send_drops_total", "UDP datagrams dropped because a socket's send queue was full",
                s::sendDrops);
        CounterWithCallback.builder()
                .name("ferry_udp_datagrams_total")
                .help("UDP datagrams: rx from clients, tx to clients")
                .labelNames("direction")
                .callback(cb -> {
                    cb.call(s.datagramsFromClients(), "rx");
                    cb.call(s.datagramsToClients(), "tx");
                })
                .register(registry);
        CounterWithCallback.builder()
                .name("ferry_udp_bytes_total")
                .help("UDP payload bytes: rx from clients, tx to clients")
                .unit(Unit.BYTES)
                .labelNames("direction")
                .callback(cb -> {
                    cb.call(s.bytesFromClients(), "rx");
                    cb.call(s.bytesToClients(), "tx");
                })
                .register(registry);
    }

    private void registerHttp(HttpStats s) {
        counter("ferry_http_connections_total", "HTTP client connections accepted", s::connections);
        counter("ferry_http_connections_rejected_total",
                "HTTP client connections closed at accept because the listener had its maximum open",
                s::connectionsRejected);
        gauge("ferry_http_connections_active", "Open HTTP/1.1 connections plus open HTTP/2 streams",
              s::activeConnections);
        counter("ferry_tls_handshake_failures_total",
                "HTTPS connections closed before their TLS handshake completed", s::tlsHandshakeFailures);
        counter("ferry_http2_connections_total", "HTTPS connections that chose HTTP/2 by ALPN", s::h2Connections);
        counter("ferry_http2_streams_total", "HTTP/2 streams (each one request)", s::h2Streams);
        counter("ferry_http_requests_total", "HTTP requests whose head was read", s::requests);
        CounterWithCallback.builder()
                .name("ferry_http_responses_total")
                .help("HTTP responses sent, by status class")
                .labelNames("code_class")
                .callback(cb -> {
                    for (int cls = 1; cls <= 5; cls++) {
                        cb.call(s.responses(cls), cls + "xx");
                    }
                })
                .register(registry);
        counter("ferry_http_bad_requests_total", "HTTP requests refused as malformed (400, 414, 431)",
                s::badRequests);
        counter("ferry_http_misdirected_requests_total",
                "HTTP requests answered 421: their Host has a certificate other than the one SNI chose",
                s::misdirected);
        counter("ferry_http_no_route_total", "HTTP requests no route matched (404)", s::noRoute);
        counter("ferry_http_no_endpoint_total", "HTTP requests whose route had no ready endpoint (503)",
                s::noEndpoint);
        counter("ferry_http_upstream_connections_total", "Upstream connections made", s::upstreamConnects);
        counter("ferry_http_upstream_connection_reuses_total",
                "HTTP requests sent on a pooled (kept-alive) upstream connection", s::upstreamReuses);
        counter("ferry_http_upstream_connect_failures_total", "Upstream connect attempts that failed",
                s::upstreamConnectFailures);
        counter("ferry_http_upstream_errors_total", "Upstream connections that broke or sent something malformed",
                s::upstreamErrors);
        counter("ferry_http_upstream_timeouts_total", "HTTP requests whose upstream timed out (504)",
                s::upstreamTimeouts);
        counter("ferry_http_upstream_queued_total",
                "HTTP requests that waited for an upstream connection (--upstream-max-connections reached)",
                s::upstreamQueued);
        counter("ferry_http_upstream_queue_timeouts_total",
                "HTTP requests that waited for an upstream connection until the connect timeout (503)",
                s::upstreamQueueTimeouts);
        counter("ferry_http_retries_total", "HTTP requests sent again to another endpoint", s::retries);
        counter("ferry_http_endpoint_ejections_total",
                "Times failed tries made passive health skip an endpoint for new HTTP requests", s::endpointEjections);
        counter("ferry_http_client_aborts_total", "Clients that went away before their response was complete",
                s::clientAborts);
        counter("ferry_http_upgrades_total", "Connections switched to another protocol (WebSocket) after a 101",
                s::upgrades);
        counter("ferry_http_regex_step_limit_total",
                "Regex path or rewrite matches stopped at the step limit (answered 500)",
                io.ferry.l7.route.RegexBudget::exceeded);
        CounterWithCallback.builder()
                .name("ferry_http_bytes_total")
                .help("HTTP body bytes proxied: rx from clients to endpoints, tx from endpoints to clients")
                .unit(Unit.BYTES)
                .labelNames("direction")
                .callback(cb -> {
                    cb.call(s.bytesFromClients(), "rx");
                    cb.call(s.bytesToClients(), "tx");
                })
                .register(registry);
    }

    private void registerControl(ControlLoop loop) {
        registry.register(loop.syncDurations());
        registry.register(loop.networkProgrammingDurations());
        GaugeWithCallback.builder()
                .name("ferry_sync_proxy_rules_last_timestamp_seconds")
                .help("When the last snapshot was built and applied, in seconds since the epoch (absent before the "
                      + "first)")
                .callback(cb -> {
                    Instant at = loop.status().appliedAt();
                    if (at != null) {
                        cb.call(at.getEpochSecond() + at.getNano() / 1e9);
                    }
                })
                .register(registry);
        gauge("ferry_snapshot_generation", "The generation of the live snapshot (0 before the first)",
              () -> loop.status().generation());
        gauge("ferry_config_problems",
              "What the live snapshot rejected, plus the listeners it could not bind",
              () -> loop.status().problems().size());
        gaugeSeconds("ferry_snapshot_compile_duration_seconds", "How long the last snapshot took to compile",
                     () -> loop.status().compileTime().toNanos() / 1e9);
        gaugeSeconds("ferry_snapshot_apply_duration_seconds", "How long the last snapshot took to apply",
                     () -> loop.status().applyTime().toNanos() / 1e9);
        gauge("ferry_ready", "1 once the first snapshot is applied, else 0", () -> loop.status().ready() ? 1 : 0);
        gauge("ferry_source_healthy", "1 when the source's last state was read whole; 0 while a manifest path or an "
                                      + "API watch fails and the last good tables stay live",
              () -> loop.sourceHealth().healthy() ? 1 : 0);
    }

    private void counter(String name, String help, LongSupplier value) {
        CounterWithCallback.builder().name(name).help(help)
                           .callback(cb -> cb.call(value.getAsLong()))
                           .register(registry);
    }

    private void gauge(String name, String help, LongSupplier value) {
        GaugeWithCallback.builder().name(name).help(help)
                         .callback(cb -> cb.call(value.getAsLong()))
                         .register(registry);
    }

    private void gaugeSeconds(String name, String help, DoubleSupplier value) {
        GaugeWithCallback.builder().name(name).help(help)
                         .callback(cb -> cb.call(value.getAsDouble()))
                         .register(registry);
    }
}
