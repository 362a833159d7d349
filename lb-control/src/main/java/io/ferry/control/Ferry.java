package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.ferry.control.admin.AdminServer;
import io.ferry.control.compile.CompiledIngresses;
import io.ferry.control.compile.DnsCompiler;
import io.ferry.control.compile.IngressCompiler;
import io.ferry.control.compile.ServiceCompiler;
import io.ferry.control.compile.TlsCompiler;
import io.ferry.control.demo.DemoBackends;
import io.ferry.control.source.KubernetesSource;
import io.ferry.control.source.ManifestSource;
import io.ferry.l4.ServiceProxy;
import io.ferry.l4.UdpProxy;
import io.ferry.l4.UdpProxyConfig;
import io.ferry.l4.dns.DnsServer;
import io.ferry.l4.dns.DnsServerConfig;
import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l7.http.HttpProxy;
import io.ferry.l7.http.HttpProxyConfig;
import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.tls.SelfSignedCertificates;
import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsContexts;
import io.ferry.l7.tls.TlsTable;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Base64.Encoder;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Ferry process: the transport, the data planes, the control loop, the sources and the admin server, wired
 * and started in that order, and stopped in the reverse order with a drain in between.
 */
public final class Ferry implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(Ferry.class);
    private static final String DEMO_RESOURCES = "io/ferry/control/demo/manifests/";
    private static final List<String> DEMO_FILES = List.of("00-namespace.yaml", "myblog.yaml", "mysql.yaml", "ingress.yaml");

    private final FerryOptions options;
    private final List<AutoCloseable> started = new ArrayList<>();
    /** The HTTP edge's event loops. */
    private Transport transport;
    /** The L4 relay's, UDP's, DNS's and the admin server's: {@link #transport} itself when the kinds agree. */
    private Transport relayTransport;
    private ServiceProxy serviceProxy;
    private HttpProxy httpProxy;
    private ControlLoop controlLoop;
    private AdminServer admin;
    private HealthCheckServer healthChecks;
    private UdpProxy udpProxy;
    private DnsServer dnsServer;
    private ManifestSource manifests;
    private KubernetesSource kubernetes;
    private Dataplane dataplane;
    private volatile boolean draining;

    private Ferry(FerryOptions options) {
        this.options = options;
    }

    /** Starts a process with {@code options}; on failure, whatever started is stopped again. */
    public static Ferry start(FerryOptions options) throws Exception {
        Ferry ferry = new Ferry(requireNonNull(options, "options"));
        try {
            ferry.startAll();
        } catch (Exception e) {
            ferry.close();
            throw e;
        }
        return ferry;
    }

    private void startAll() throws Exception {
        Clock clock = Clock.systemUTC();
        boolean http = options.httpPort >= 0 || options.httpsPort >= 0;
        relayTransport = Transport.create(options.relayTransport, options.ioThreads);
        started.add(relayTransport);
        if (http && options.transport != options.relayTransport) {
            // The edge on its own event loops: their kind cannot be mixed with the relay's in one loop.
            transport = Transport.create(options.transport, options.ioThreads, "ferry-http");
            started.add(transport);
            logger.info("Transport: {} for the L4 relay, UDP and DNS, {} for the HTTP edge, {} event loops each",
                        relayTransport.kind(), transport.kind(), relayTransport.eventLoops());
        } else {
            transport = relayTransport;
            logger.info("Transport: {} with {} event loops", transport.kind(), transport.eventLoops());
        }

        TcpProxyConfig tcpConfig = TcpProxyConfig.builder()
                                                 .connectTimeout(options.tcpConnectTimeout)
                                                 .idleTimeout(options.tcpIdleTimeout)
                                                 .bufferSize(options.tcpBufferSize)
                                                 .build();
        if (!options.warmup.isZero()) {
            // Before anything listens: no client meets the interpreter.
            Warmup.run(relayTransport, http ? transport : null, options.warmup, tcpConfig);
        }
        serviceProxy = new ServiceProxy(relayTransport, tcpConfig);
        started.add(serviceProxy);
        udpProxy = new UdpProxy(relayTransport, UdpProxyConfig.builder().idleTimeout(options.udpIdleTimeout).build());
        started.add(udpProxy);
        TlsCompiler tlsCompiler = null;
        if (options.httpPort >= 0 || options.httpsPort >= 0) {
            httpProxy = new HttpProxy(transport, HttpProxyConfig.builder()
                                                                .accessLog(options.accessLog)
                                                                .hsts(options.hsts)
                                                                .upstreamMaxIdlePerEndpoint(
                                                                        options.upstreamKeepaliveConnections)
                                                                .upstreamMaxConnectionsPerEndpoint(
                                                                        options.upstreamMaxConnections)
                                                                .upstreamIdleTimeout(
                                                                        options.upstreamKeepaliveTimeout)
                                                                .upstreamMaxRequests(
                                                                        options.upstreamKeepaliveRequests)
                                                                .build());
            started.add(httpProxy);
            // Listen now (the ports are taken, clients can connect), accept once the first snapshot is live.
            httpProxy.holdAcceptsUntilFirstTable();
            if (options.httpPort >= 0) {
                InetSocketAddress bound = httpProxy.bind(new InetSocketAddress(options.httpAddress,
                                                                               options.httpPort));
                logger.info("Edge HTTP proxy on {} (IngressClass {}), accepting from the first snapshot", bound,
                            options.ingressClass);
            }
            if (options.httpsPort >= 0) {
                TlsCertificate generated = TlsCertificate.generateDefault();
                tlsCompiler = new TlsCompiler(options.ingressClass, options.watchIngressWithoutClass, generated,
                                              options.defaultSslCertificate);
                httpProxy.applyTls(TlsTable.of(generated));
                InetSocketAddress bound = httpProxy.bindHttps(new InetSocketAddress(options.httpAddress,
                                                                                    options.httpsPort));
                logger.info("Edge HTTPS proxy on {} (TLS by {}, ALPN h2 and http/1.1), accepting from the first "
                            + "snapshot", bound, TlsContexts.providerName());
            }
        }
        SnapshotCompiler compiler = new SnapshotCompiler(
                new ServiceCompiler(nodePortAddresses(options.nodePortAddresses), options.nodeName),
                httpProxy == null ? null : new IngressCompiler(options.ingressClass,
                                                               options.watchIngressWithoutClass,
                                                               RoutePolicy.builder()
                                                                          .maxFails(options.upstreamMaxFails)
                                                                          .failTimeout(options.upstreamFailTimeout)
                                                                          .build()),
                tlsCompiler);
        InetSocketAddress dnsAt = options.dnsAddress != null ? options.dnsAddress
                : options.demo ? new InetSocketAddress(InetAddress.getLoopbackAddress(), 10053) : null;
        if (dnsAt != null) {
            compiler.withDns(new DnsCompiler(options.clusterDomain, options.dnsTtl));
        }
        dataplane = new Dataplane(serviceProxy, httpProxy);
        controlLoop = new ControlLoop(compiler, dataplane, options.minSyncPeriod, clock);
        controlLoop.beforeReady(Ferry::settleHeap);
        healthChecks = new HealthCheckServer(relayTransport, nodePortAddresses(options.nodePortAddresses), () -> {
            java.time.Instant pending = controlLoop.pendingSince();
            return pending == null
                   || java.time.Duration.between(pending, clock.instant()).compareTo(options.healthzTimeout) <= 0;
        });
        started.add(healthChecks);
        dataplane.healthChecks(healthChecks);
        dataplane.udpProxy(udpProxy);
        if (dnsAt != null) {
            List<InetSocketAddress> upstreams = !options.dnsForward ? List.of()
                    : options.dnsUpstreams != null ? options.dnsUpstreams
                    : DnsServerConfig.nameservers(Path.of("/etc/resolv.conf"));
            dnsServer = DnsServer.start(relayTransport, DnsServerConfig.builder(dnsAt).upstreams(upstreams).build());
            started.add(dnsServer);
            dataplane.dnsServer(dnsServer);
            logger.info("Cluster DNS for {} on {} (UDP and TCP); other names {}", options.clusterDomain,
                        dnsServer.localAddress(), upstreams.isEmpty() ? "REFUSED" : "forwarded to " + upstreams);
        }
        started.add(controlLoop);

        admin = AdminServer.start(relayTransport, new InetSocketAddress(options.adminAddress, options.adminPort),
                                  controlLoop, serviceProxy, () -> draining, options.healthzTimeout, clock);
        started.add(admin);
        logger.info("Admin server on http://{}:{}/ (healthz, livez, readyz, config_dump)",
                    admin.address().getHostString(), admin.address().getPort());

        if (options.kubernetes || options.kubeconfig != null) {
            Config config = options.kubeconfig != null
                            ? Config.fromKubeconfig(Files.readString(options.kubeconfig))
                            : Config.autoConfigure(null);
            KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
            started.add(client);
            if (httpProxy != null) {
                List<String> addresses = options.publishStatusAddresses.isEmpty()
                                         ? nodeAddresses() : options.publishStatusAddresses;
                if (addresses.isEmpty()) {
                    logger.warn("No address to publish in Ingress status (give --publish-status-address)");
                } else {
                    String namespace = System.getenv().getOrDefault("POD_NAMESPACE", "ferry-system");
                    IngressStatusWriter status = new IngressStatusWriter(client, namespace, "ferry-ingress-status",
                                                                         options.nodeName, addresses,
                                                                         Duration.ofMinutes(1));
                    started.add(status);
                    dataplane.onApplied(s -> status.served(servedIngresses(s)));
                    status.start();
                    logger.info("Ingress status: {} for the Ingresses served, written by the leader of Lease {}/{}",
                                addresses, namespace, "ferry-ingress-status");
                }
            }
            kubernetes = new KubernetesSource(client, controlLoop::submit, Duration.ofMillis(100));
            started.add(kubernetes);
            admin.metrics().registerKubernetes(kubernetes::watchRestarts);
            kubernetes.start();
            logger.info("Watching the Kubernetes API at {}", config.getMasterUrl());
            return;
        }
        List<Path> paths = new ArrayList<>(options.manifests);
        if (options.demo) {
            started.add(DemoBackends.start(relayTransport));
            paths.add(demoManifests());
            paths.add(demoSecret());
        }
        manifests = new ManifestSource(paths, options.serviceCidr, controlLoop::submit, Duration.ofMillis(100),
                                       clock);
        started.add(manifests);
        manifests.start();
        logger.info("Watching manifests: {}", manifests.paths());
    }

    /**
     * One full collection once the first snapshot is live: what start-up built to last (the tables, the listeners,
     * the admin server, about 2 MB) moves to the old generation now. Otherwise every young collection under the
     * first load copies it again, until it is old enough to be promoted (15 collections by default): on one CPU
     * with the default SerialGC that made each young pause 4-6 ms instead of 1-1.5 ms, and the p99 of the first
     * seconds of traffic followed (docs/benchmarks.md). A no-op under {@code -XX:+DisableExplicitGC}.
     */
    private static void settleHeap() {
        long started = System.nanoTime();
        System.gc();
        logger.info("Heap settled after the first snapshot: one full collection in {} ms",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /**
     * The demo's manifests: {@code config/demo} when run from a checkout (so that edits there apply live),
     * otherwise the copy inside the jar, unpacked to a temporary directory.
     */
    private static Path demoManifests() throws IOException {
        Path checkout = Path.of("config", "demo");
        if (Files.isRegularFile(checkout.resolve("myblog.yaml"))) {
            return checkout;
        }
        Path dir = Files.createTempDirectory("ferry-demo");
        for (String name : DEMO_FILES) {
            try (InputStream in = Ferry.class.getClassLoader().getResourceAsStream(DEMO_RESOURCES + name)) {
                if (in == null) {
                    throw new IOException("the demo manifest " + name + " is missing from the jar");
                }
                Files.copy(in, dir.resolve(name));
            }
        }
        return dir;
    }

    /**
     * The demo's TLS Secret {@code demo/myblog-tls}: a certificate for {@code myblog.devops.cn} and
     * {@code *.devops.cn} generated at start (the tutorial makes it with openssl), written to a temporary file so
     * that it reaches the data plane the way any Secret manifest does.
     */
    private static Path demoSecret() throws IOException {
        SelfSignedCertificates.Pem pem = SelfSignedCertificates.generate("myblog.devops.cn", "*.devops.cn");
        Encoder b64 = Base64.getEncoder();
        String yaml = """
                # Generated at start by ferry --demo: the tutorial's self-signed *.devops.cn certificate.
                apiVersion: v1
                kind: Secret
                metadata: {name: myblog-tls, namespace: demo}
                type: kubernetes.io/tls
                data:
                  tls.crt: %s
                  tls.key: %s
                """.formatted(b64.encodeToString(pem.certificate()), b64.encodeToString(pem.privateKey()));
        Path file = Files.createTempFile("ferry-demo-tls", ".yaml");
        file.toFile().deleteOnExit();
        Files.writeString(file, yaml);
        return file;
    }

    /** The {@code ns/name} of every Ingress a snapshot routes for. */
    private static Set<String> servedIngresses(Snapshot s) {
        Set<String> ids = new HashSet<>();
        for (CompiledIngresses.RouteView r : s.ingresses().routes()) {
            ids.add(r.ingress());
        }
        return ids;
    }

    /** This node's addresses for Ingress status: every up, non-loopback, non-link-local address. */
    private static List<String> nodeAddresses() throws IOException {
        List<String> out = new ArrayList<>();
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || nic.isLoopback()) {
                continue;
            }
            for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                if (!a.isLinkLocalAddress() && !a.isLoopbackAddress()) {
                    out.add(InetAddress.getByAddress(a.getAddress()).getHostAddress());
                }
            }
        }
        return out;
    }

    /** The local addresses inside {@code cidrs}; with no prefix given, the wildcard (every local address). */
    static List<InetAddress> nodePortAddresses(List<Cidr> cidrs) throws IOException {
        if (cidrs.isEmpty()) {
            return List.of(new InetSocketAddress(0).getAddress());
        }
        List<InetAddress> out = new ArrayList<>();
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                if (a.isLinkLocalAddress()) {
                    continue;
                }
                for (Cidr c : cidrs) {
                    if (c.contains(a)) {
                        out.add(InetAddress.getByAddress(a.getAddress())); // without the scope id
                        break;
                    }
                }
            }
        }
        if (out.isEmpty()) {
            logger.warn("No local address lies in --nodeport-addresses {}; NodePorts will not be served", cidrs);
        }
        return out;
    }

    public ControlLoop controlLoop() {
        return controlLoop;
    }

    /** The cluster DNS server, or {@code null} when it is off. */
    public DnsServer dnsServer() {
        return dnsServer;
    }

    /** The UDP Service proxy. */
    public UdpProxy udpProxy() {
        return udpProxy;
    }

    /** The {@code healthCheckNodePort} servers. */
    public HealthCheckServer healthChecks() {
        return healthChecks;
    }

    public ServiceProxy serviceProxy() {
        return serviceProxy;
    }

    /** The edge HTTP proxy, or {@code null} when {@code --http-port -1}. */
    public HttpProxy httpProxy() {
        return httpProxy;
    }

    /** The Kubernetes source, or {@code null} in manifest mode. */
    public KubernetesSource kubernetesSource() {
        return kubernetes;
    }

    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    /**
     * The SIGTERM path: {@code /readyz} turns 503, listeners stop accepting, and open connections get up to
     * {@code grace} to finish before everything stops.
     */
    public void drainAndClose(Duration grace) {
        draining = true;
        // No more syncs: an edit during the grace period must not bind the listeners again.
        if (manifests != null) {
            manifests.close();
        }
        if (kubernetes != null) {
            kubernetes.close();
        }
        if (controlLoop != null) {
            controlLoop.close();
        }
        if (serviceProxy != null) {
            serviceProxy.closeListeners();
            if (httpProxy != null) {
                httpProxy.drain(); // idle keep-alive connections close now, busy ones after their response
            }
            long deadline = System.nanoTime() + grace.toNanos();
            long active;
            while ((active = activeConnections()) > 0 && System.nanoTime() < deadline) {
                try {
                    TimeUnit.MILLISECONDS.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (active > 0) {
                logger.warn("Grace period over: closing {} open connections", active);
            } else {
                logger.info("All connections finished");
            }
        }
        close();
    }

    private long activeConnections() {
        return serviceProxy.stats().active() + (httpProxy == null ? 0 : httpProxy.stats().activeConnections());
    }

    @Override
    public void close() {
        for (int i = started.size() - 1; i >= 0; i--) {
            try {
                started.get(i).close();
            } catch (Exception e) {
                logger.warn("Error while stopping {}", started.get(i), e);
            }
        }
        started.clear();
    }
}
