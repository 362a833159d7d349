package io.ferry.control;

import io.ferry.l4.Transport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code java -jar ferry.jar [flags]}: the command line. Flag names follow kube-proxy and ingress-nginx where
 * they exist; {@code docs/configuration.md} lists them all.
 */
@Command(name = "ferry", mixinStandardHelpOptions = true, version = "Ferry 0.1.0",
        sortOptions = false, usageHelpAutoWidth = true,
        description = "A load-balancer data plane for Kubernetes nodes: Service proxy (ClusterIP, NodePort) "
                      + "from watched manifests, with tables swapped live.")
public final class FerryMain implements Callable<Integer> {

    @Option(names = "--manifests", paramLabel = "PATH",
            description = "YAML manifests (a file or a directory), watched; edits apply live. Repeatable.")
    List<Path> manifests = new ArrayList<>();

    @Option(names = "--demo", description = "Run config/demo with built-in demo backends.")
    boolean demo;

    @Option(names = "--node-name", paramLabel = "NAME", description = "This node's name (default: the hostname).")
    String nodeName;

    @Option(names = "--nodeport-addresses", paramLabel = "CIDR", split = ",",
            description = "Where NodePort listeners bind: the local addresses in these prefixes "
                          + "(default: every local address).")
    List<String> nodePortAddresses = new ArrayList<>();

    @Option(names = "--admin-address", paramLabel = "IP", defaultValue = "127.0.0.1",
            description = "Address of the admin server (default: ${DEFAULT-VALUE}).")
    String adminAddress;

    @Option(names = "--admin-port", paramLabel = "PORT", defaultValue = "10256",
            description = "Port of /healthz, /livez, /readyz, /config_dump (default: ${DEFAULT-VALUE}).")
    int adminPort;

    @Option(names = "--service-cidr", paramLabel = "CIDR", defaultValue = "10.96.0.0/12",
            description = "Manifest mode: where missing ClusterIPs are allocated (default: ${DEFAULT-VALUE}).")
    String serviceCidr;

    @Option(names = "--shutdown-grace-period", paramLabel = "DURATION", defaultValue = "30s",
            converter = DurationConverter.class,
            description = "How long SIGTERM waits for open connections (default: ${DEFAULT-VALUE}).")
    Duration shutdownGracePeriod;

    @Option(names = "--transport", paramLabel = "auto|io_uring|epoll|nio", defaultValue = "auto",
            description = "I/O transport of every listener (default: ${DEFAULT-VALUE}: the HTTP edge on io_uring where "
                          + "the kernel allows it, the L4 relay, UDP and DNS on epoll).")
    String transport;

    @Option(names = "--io-threads", paramLabel = "N", defaultValue = "0",
            description = "Event loops (default: 0 = one per core).")
    int ioThreads;

    @Option(names = "--tcp-connect-timeout", paramLabel = "DURATION", defaultValue = "5s",
            converter = DurationConverter.class,
            description = "Budget to reach an endpoint, over all tries (default: ${DEFAULT-VALUE}).")
    Duration tcpConnectTimeout;

    @Option(names = "--tcp-idle-timeout", paramLabel = "DURATION", defaultValue = "1h",
            converter = DurationConverter.class,
            description = "Close TCP connections idle this long; 0 for never (default: ${DEFAULT-VALUE}).")
    Duration tcpIdleTimeout;

    @Option(names = "--tcp-buffer-size", paramLabel = "BYTES", defaultValue = "524288",
            description = "Bytes a TCP Service connection holds per direction, read from one side and not yet taken "
                          + "by the other, before it stops reading that side (default: ${DEFAULT-VALUE}).")
    int tcpBufferSize;

    @Option(names = "--dns-address", paramLabel = "HOST:PORT",
            description = "Serve cluster DNS (UDP and TCP) here; off unless set (--demo: 127.0.0.1:10053).")
    String dnsAddress;

    @Option(names = "--cluster-domain", paramLabel = "DOMAIN", defaultValue = "cluster.local",
            description = "The zone the DNS server is authoritative for (default: ${DEFAULT-VALUE}).")
    String clusterDomain;

    @Option(names = "--dns-ttl", paramLabel = "SECONDS", defaultValue = "5",
            description = "TTL of the cluster DNS records (default: ${DEFAULT-VALUE}).")
    int dnsTtl;

    @Option(names = "--dns-upstream", paramLabel = "IP[:PORT]", split = ",",
            description = "Resolvers for names outside the zone (default: the nameservers of /etc/resolv.conf).")
    List<String> dnsUpstreams;

    @Option(names = "--dns-forward", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Forward names outside the zone; --no-dns-forward answers REFUSED (default: true).")
    boolean dnsForward;

    @Option(names = "--conntrack-udp-timeout", paramLabel = "DURATION", defaultValue = "30s",
            converter = DurationConverter.class,
            description = "Forget a UDP flow (client to endpoint) idle this long (default: ${DEFAULT-VALUE}).")
    Duration udpIdleTimeout;

    @Option(names = "--min-sync-period", paramLabel = "DURATION", defaultValue = "50ms",
            converter = DurationConverter.class,
            description = "Least time between two table syncs; bursts in between coalesce (default: ${DEFAULT-VALUE}).")
    Duration minSyncPeriod;

    @Option(names = "--http-address", paramLabel = "IP", defaultValue = "0.0.0.0",
            description = "Address of the edge HTTP proxy (default: ${DEFAULT-VALUE}).")
    String httpAddress;

    @Option(names = "--http-port", paramLabel = "PORT", defaultValue = "8080",
            description = "Port of the edge HTTP proxy; -1 for none (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--ingress-class", paramLabel = "NAME", defaultValue = "ferry",
            description = "The IngressClass served, whose spec.controller is ferry.io/ingress-controller "
                          + "(default: ${DEFAULT-VALUE}).")
    String ingressClass;

    @Option(names = "--watch-ingress-without-class",
            description = "Also serve Ingresses that name no class.")
    boolean watchIngressWithoutClass;

    @Option(names = "--access-log", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Log every HTTP request to stdout (default: on; --no-access-log turns it off).")
    boolean accessLog;

    @Option(names = "--https-port", paramLabel = "PORT", defaultValue = "8443",
            description = "Port of the edge HTTPS proxy (TLS by SNI, HTTP/2 over ALPN); -1 for none "
                          + "(default: ${DEFAULT-VALUE}).")
    int httpsPort;

    @Option(names = "--default-ssl-certificate", paramLabel = "NAMESPACE/NAME",
            description = "The kubernetes.io/tls Secret served for unknown SNI (default: a self-signed certificate "
                          + "generated at start).")
    String defaultSslCertificate;

    @Option(names = "--hsts", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on HTTPS responses "
                          + "(default: on, as ingress-nginx; --no-hsts turns it off).")
    boolean hsts;

    @Option(names = "--upstream-keepalive-connections", paramLabel = "N", defaultValue = "1024",
            description = "Idle upstream connections kept per endpoint and event loop; 0 for none "
                          + "(default: ${DEFAULT-VALUE}).")
    int upstreamKeepaliveConnections;

    @Option(names = "--upstream-max-connections", paramLabel = "N", defaultValue = "1024",
            description = "HTTP/1.1 upstream connections open at once per endpoint and event loop, in use or idle; a "
                          + "request that finds them all busy waits for one, up to the connect timeout, then gets "
                          + "503. 0 for no limit (default: ${DEFAULT-VALUE}).")
    int upstreamMaxConnections;

    @Option(names = "--upstream-keepalive-timeout", paramLabel = "DURATION", defaultValue = "60s",
            converter = DurationConverter.class,
            description = "Close an idle upstream connection after this long (default: ${DEFAULT-VALUE}).")
    Duration upstreamKeepaliveTimeout;

    @Option(names = "--upstream-keepalive-requests", paramLabel = "N", defaultValue = "10000",
            description = "Requests one upstream connection serves before it is closed "
                          + "(default: ${DEFAULT-VALUE}).")
    int upstreamKeepaliveRequests;

    @Option(names = "--warmup", paramLabel = "DURATION", defaultValue = "20s", converter = DurationConverter.class,
            description = "Before opening any listener, run requests through private copies of the L4 relay and "
                          + "(HTTP/1.1, HTTPS, HTTP/2, new TLS connections) the edge proxy on loopback, so that the "
                          + "first clients meet compiled code; it stops at this long if it has not finished; 0 skips "
                          + "it (default: ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--upstream-max-fails", paramLabel = "N", defaultValue = "1",
            description = "Passive health of Ingress routes (nginx's max_fails): failed tries in a row after which "
                          + "an endpoint is skipped for --upstream-fail-timeout; 0 turns it off "
                          + "(default: ${DEFAULT-VALUE}).")
    int upstreamMaxFails;

    @Option(names = "--upstream-fail-timeout", paramLabel = "DURATION", defaultValue = "10s",
            converter = DurationConverter.class,
            description = "How long an endpoint that failed --upstream-max-fails times is skipped (nginx's "
                          + "fail_timeout); 0 for never (default: ${DEFAULT-VALUE}).")
    Duration upstreamFailTimeout;

    @Option(names = "--kubernetes",
            description = "Watch the cluster Ferry runs in (its service account), like kube-proxy in a DaemonSet.")
    boolean kubernetes;

    @Option(names = "--kubeconfig", paramLabel = "PATH",
            description = "Watch the cluster this kubeconfig file points at.")
    Path kubeconfig;

    @Option(names = "--publish-status-address", paramLabel = "ADDRESS", split = ",",
            description = "Kubernetes mode: the addresses written to status.loadBalancer.ingress of the Ingresses "
                          + "Ferry serves (default: this node's addresses). One replica writes, elected on the "
                          + "Lease ferry-ingress-status.")
    List<String> publishStatusAddresses = new ArrayList<>();

    /**
     * Parses {@code IP:PORT}, {@code [IPv6]:PORT} or, with a default port, a bare IP; IP literals only (no DNS
     * lookup at startup).
     */
    static InetSocketAddress hostPort(String text, int defaultPort) {
        String host = text;
        int port = defaultPort;
        int colon = text.lastIndexOf(':');
        if (text.startsWith("[")) {
            int end = text.indexOf(']');
            host = end < 0 ? text : text.substring(1, end);
            if (end >= 0 && end + 1 < text.length() && text.charAt(end + 1) == ':') {
                port = Integer.parseInt(text.substring(end + 2));
            }
        } else if (colon > 0 && text.indexOf(':') == colon) {
            host = text.substring(0, colon);
            port = Integer.parseInt(text.substring(colon + 1));
        }
        byte[] ip = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
        if (ip == null || port < 0 || port > 65535) {
            throw new IllegalArgumentException(text + " (expected: IP:PORT"
                                               + (defaultPort >= 0 ? " or IP" : "") + ", an IP literal)");
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    public static void main(String[] args) {
        defaultNettySettings();
        System.exit(new CommandLine(new FerryMain()).execute(args));
    }

    /**
     * Production defaults for Netty settings the user did not set with {@code -D}: the buffer leak detector off
     * (Netty's default samples one buffer in 128 with a stack trace, a few per cent of an event loop's time; the
     * tests run it at {@code PARANOID}). Must run before any Netty class is loaded.
     */
    static void defaultNettySettings() {
        if (System.getProperty("io.netty.leakDetection.level") == null
            && System.getProperty("io.netty.leakDetectionLevel") == null) {
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
    }

    FerryOptions options() throws Exception {
        FerryOptions.Builder b = FerryOptions.builder();
        if (!"auto".equalsIgnoreCase(transport)) {
            b.transport(Transport.Kind.parse(transport));
        }
        b.demo(demo)
         .adminAddress(InetAddress.getByName(adminAddress))
         .adminPort(adminPort)
         .serviceCidr(Cidr.parse(serviceCidr))
         .shutdownGracePeriod(shutdownGracePeriod)
         .ioThreads(ioThreads)
         .tcpConnectTimeout(tcpConnectTimeout)
         .tcpIdleTimeout(tcpIdleTimeout)
         .tcpBufferSize(tcpBufferSize)
         .udpIdleTimeout(udpIdleTimeout)
         .dnsAddress(dnsAddress == null ? null : hostPort(dnsAddress, -1))
         .clusterDomain(clusterDomain)
         .dnsTtl(dnsTtl)
         .dnsUpstreams(dnsUpstreams == null ? null
                                            : dnsUpstreams.stream().map(u -> hostPort(u, 53)).toList())
         .dnsForward(dnsForward)
         .minSyncPeriod(minSyncPeriod)
         .httpAddress(InetAddress.getByName(httpAddress))
         .httpPort(httpPort)
         .ingressClass(ingressClass)
         .watchIngressWithoutClass(watchIngressWithoutClass)
         .accessLog(accessLog)
         .httpsPort(httpsPort)
         .defaultSslCertificate(defaultSslCertificate)
         .hsts(hsts)
         .upstreamKeepaliveConnections(upstreamKeepaliveConnections)
         .upstreamMaxConnections(upstreamMaxConnections)
         .upstreamKeepaliveTimeout(upstreamKeepaliveTimeout)
         .upstreamKeepaliveRequests(upstreamKeepaliveRequests)
         .warmup(warmup)
         .upstreamMaxFails(upstreamMaxFails)
         .upstreamFailTimeout(upstreamFailTimeout)
         .kubernetes(kubernetes)
         .kubeconfig(kubeconfig);
        publishStatusAddresses.forEach(b::addPublishStatusAddress);
        manifests.forEach(b::addManifests);
        nodePortAddresses.forEach(c -> b.addNodePortAddresses(Cidr.parse(c)));
        if (nodeName != null) {
            b.nodeName(nodeName);
        }
        return b.build();
    }

    @Override
    public Integer call() throws Exception {
        FerryOptions options;
        try {
            options = options();
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("ferry: " + e.getMessage());
            return 2;
        }
        Ferry ferry = Ferry.start(options);
        // SIGTERM (the kubelet stopping the pod) and SIGINT start the drain here, on the main thread, and the
        // process then exits 0. In a JVM shutdown hook the exit status would be 143 whatever the hook did.
        CountDownLatch stop = new CountDownLatch(1);
        AtomicBoolean drained = new AtomicBoolean();
        handle("TERM", stop);
        handle("INT", stop);
        // Any other way out (SIGHUP; SIGTERM where it cannot be handled) still drains, from a shutdown hook.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (drained.compareAndSet(false, true)) {
                ferry.drainAndClose(options.shutdownGracePeriod());
            }
        }, "ferry-shutdown"));
        stop.await();
        if (drained.compareAndSet(false, true)) {
            ferry.drainAndClose(options.shutdownGracePeriod());
        }
        return 0;
    }

    /** Makes signal {@code name} count {@code stop} down instead of ending the JVM, where it can. */
    private static void handle(String name, CountDownLatch stop) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal(name), s -> stop.countDown());
        } catch (IllegalArgumentException | UnsupportedOperationException | LinkageError e) {
            // an unknown signal, or a JVM run with -Xrs: the shutdown hook drains instead
        }
    }
}
