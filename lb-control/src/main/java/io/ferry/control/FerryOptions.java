package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.ferry.l4.TcpProxyConfig;
import io.ferry.l4.Transport;
import io.ferry.l7.route.RoutePolicy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything the process is told on its command line, validated. Immutable; build with {@link #builder()}.
 * {@link FerryMain} fills it from flags; tests fill it directly.
 */
public final class FerryOptions {

    final List<Path> manifests;
    final boolean demo;
    final String nodeName;
    final List<Cidr> nodePortAddresses;
    final InetAddress adminAddress;
    final int adminPort;
    final Cidr serviceCidr;
    final Duration shutdownGracePeriod;
    final Transport.Kind transport;
    final Transport.Kind relayTransport;
    final int ioThreads;
    final Duration tcpConnectTimeout;
    final Duration tcpIdleTimeout;
    final int tcpBufferSize;
    final Duration udpIdleTimeout;
    final InetSocketAddress dnsAddress;
    final String clusterDomain;
    final int dnsTtl;
    final List<InetSocketAddress> dnsUpstreams;
    final boolean dnsForward;
    final Duration minSyncPeriod;
    final Duration healthzTimeout;
    final InetAddress httpAddress;
    final int httpPort;
    final String ingressClass;
    final boolean watchIngressWithoutClass;
    final boolean accessLog;
    final int httpsPort;
    final String defaultSslCertificate;
    final boolean hsts;
    final int upstreamKeepaliveConnections;
    final int upstreamMaxConnections;
    final Duration upstreamKeepaliveTimeout;
    final int upstreamKeepaliveRequests;
    final Duration warmup;
    final int upstreamMaxFails;
    final Duration upstreamFailTimeout;
    final boolean kubernetes;
    final Path kubeconfig;
    final List<String> publishStatusAddresses;

    private FerryOptions(Builder b) {
        this.manifests = List.copyOf(b.manifests);
        this.demo = b.demo;
        this.nodeName = b.nodeName;
        this.nodePortAddresses = List.copyOf(b.nodePortAddresses);
        this.adminAddress = b.adminAddress;
        this.adminPort = b.adminPort;
        this.serviceCidr = b.serviceCidr;
        this.shutdownGracePeriod = b.shutdownGracePeriod;
        this.transport = b.transport;
        this.relayTransport = b.relayTransport;
        this.ioThreads = b.ioThreads;
        this.tcpConnectTimeout = b.tcpConnectTimeout;
        this.tcpIdleTimeout = b.tcpIdleTimeout;
        this.tcpBufferSize = b.tcpBufferSize;
        this.udpIdleTimeout = b.udpIdleTimeout;
        this.dnsAddress = b.dnsAddress;
        this.clusterDomain = b.clusterDomain;
        this.dnsTtl = b.dnsTtl;
        this.dnsUpstreams = b.dnsUpstreams == null ? null : List.copyOf(b.dnsUpstreams);
        this.dnsForward = b.dnsForward;
        this.minSyncPeriod = b.minSyncPeriod;
        this.healthzTimeout = b.healthzTimeout;
        this.httpAddress = b.httpAddress;
        this.httpPort = b.httpPort;
        this.ingressClass = b.ingressClass;
        this.watchIngressWithoutClass = b.watchIngressWithoutClass;
        this.accessLog = b.accessLog;
        this.httpsPort = b.httpsPort;
        this.defaultSslCertificate = b.defaultSslCertificate;
        this.hsts = b.hsts;
        this.upstreamKeepaliveConnections = b.upstreamKeepaliveConnections;
        this.upstreamMaxConnections = b.upstreamMaxConnections;
        this.upstreamKeepaliveTimeout = b.upstreamKeepaliveTimeout;
        this.upstreamKeepaliveRequests = b.upstreamKeepaliveRequests;
        this.warmup = b.warmup;
        this.upstreamMaxFails = b.upstreamMaxFails;
        this.upstreamFailTimeout = b.upstreamFailTimeout;
        this.kubernetes = b.kubernetes;
        this.kubeconfig = b.kubeconfig;
        this.publishStatusAddresses = List.copyOf(b.publishStatusAddresses);
    }

    public static Builder builder() {
        return new Builder();
    }

    public List<Path> manifests() {
        return manifests;
    }

    public boolean demo() {
        return demo;
    }

    public int adminPort() {
        return adminPort;
    }

    public Duration shutdownGracePeriod() {
        return shutdownGracePeriod;
    }

    /** Builds {@link FerryOptions}; every setter checks its value. */
    public static final class Builder {
        private final List<Path> manifests = new ArrayList<>();
        private boolean demo;
        private String nodeName = defaultNodeName();
        private final List<Cidr> nodePortAddresses = new ArrayList<>();
        private InetAddress adminAddress = InetAddress.getLoopbackAddress();
        private int adminPort = 10256;
        private Cidr serviceCidr = Cidr.parse("10.96.0.0/12");
        private Duration shutdownGracePeriod = Duration.ofSeconds(30);
        private Transport.Kind transport = Transport.Kind.best();
        private Transport.Kind relayTransport = Transport.Kind.bestForRelay();
        private int ioThreads;
        private Duration tcpConnectTimeout = Duration.ofSeconds(5);
        private Duration tcpIdleTimeout = Duration.ofHours(1);
        private int tcpBufferSize = TcpProxyConfig.DEFAULT_BUFFER_SIZE;
        private Duration udpIdleTimeout = Duration.ofSeconds(30);
        private InetSocketAddress dnsAddress;
        private String clusterDomain = "cluster.local";
        private int dnsTtl = 5;
        private List<InetSocketAddress> dnsUpstreams;
        private boolean dnsForward = true;
        private Duration minSyncPeriod = Duration.ofMillis(50);
        private Duration healthzTimeout = Duration.ofSeconds(60);
        private InetAddress httpAddress = new InetSocketAddress(0).getAddress();
        private int httpPort = 8080;
        private String ingressClass = "ferry";
        private boolean watchIngressWithoutClass;
        private boolean accessLog = true;
        private int httpsPort = 8443;
        private String defaultSslCertificate;
        private boolean hsts = true;
        private int upstreamKeepaliveConnections = 1024;
        private int upstreamMaxConnections = 1024;
        private Duration upstreamKeepaliveTimeout = Duration.ofSeconds(60);
        private int upstreamKeepaliveRequests = 10_000;
        private Duration warmup = Duration.ZERO;
        private int upstreamMaxFails = RoutePolicy.DEFAULT_MAX_FAILS;
        private Duration upstreamFailTimeout = RoutePolicy.DEFAULT_FAIL_TIMEOUT;
        private boolean kubernetes;
        private Path kubeconfig;
        private final List<String> publishStatusAddresses = new ArrayList<>();

        private Builder() {
        }

        public Builder addManifests(Path path) {
            manifests.add(requireNonNull(path, "path"));
            return this;
        }

        public Builder demo(boolean demo) {
            this.demo = demo;
            return this;
        }

        public Builder nodeName(String nodeName) {
            this.nodeName = requireNonNull(nodeName, "nodeName");
            return this;
        }

        /** Where NodePort listeners bind: local addresses in these prefixes; none given means every address. */
        public Builder addNodePortAddresses(Cidr cidr) {
            nodePortAddresses.add(requireNonNull(cidr, "cidr"));
            return this;
        }

        public Builder adminAddress(InetAddress adminAddress) {
            this.adminAddress = requireNonNull(adminAddress, "adminAddress");
            return this;
        }

        public Builder adminPort(int adminPort) {
            if (adminPort < 0 || adminPort > 65535) {
                throw new IllegalArgumentException("admin-port: " + adminPort + " (expected: 0-65535)");
            }
            this.adminPort = adminPort;
            return this;
        }

        public Builder serviceCidr(Cidr serviceCidr) {
            this.serviceCidr = requireNonNull(serviceCidr, "serviceCidr");
            return this;
        }

        public Builder shutdownGracePeriod(Duration d) {
            this.shutdownGracePeriod = nonNegative("shutdown-grace-period", d);
            return this;
        }

        /**
         * One transport for everything. Without this call the HTTP edge runs on {@link Transport.Kind#best()} and
         * the L4 relay, UDP, DNS, health checks and the admin server on {@link Transport.Kind#bestForRelay()}.
         */
        public Builder transport(Transport.Kind transport) {
            this.transport = requireNonNull(transport, "transport");
            this.relayTransport = transport;
            return this;
        }

        public Builder ioThreads(int ioThreads) {
            if (ioThreads < 0) {
                throw new IllegalArgumentException("io-threads: " + ioThreads + " (expected: >= 0)");
            }
            this.ioThreads = ioThreads;
            return this;
        }

        public Builder tcpConnectTimeout(Duration d) {
            if (requireNonNull(d, "tcpConnectTimeout").isZero() || d.isNegative()) {
                throw new IllegalArgumentException("tcp-connect-timeout: " + d + " (expected: > 0)");
            }
            this.tcpConnectTimeout = d;
            return this;
        }

        /** Where the cluster DNS server listens (UDP and TCP); {@code null} (the default) for off. */
        public Builder dnsAddress(InetSocketAddress address) {
            this.dnsAddress = address;
            return this;
        }

        public Builder clusterDomain(String domain) {
            this.clusterDomain = requireNonNull(domain, "cluster-domain");
            return this;
        }

        public Builder dnsTtl(int seconds) {
            if (seconds < 0 || seconds > 86_400) {
                throw new IllegalArgumentException("dns-ttl: " + seconds + " (expected: 0-86400)");
            }
            this.dnsTtl = seconds;
            return this;
        }

        /** The resolvers names outside the zone go to; {@code null} (the default) for /etc/resolv.conf's. */
        public Builder dnsUpstreams(List<InetSocketAddress> upstreams) {
            this.dnsUpstreams = upstreams;
            return this;
        }

        /** Whether names outside the zone are forwarded (else REFUSED). */
        public Builder dnsForward(boolean forward) {
            this.dnsForward = forward;
            return this;
        }

        public Builder udpIdleTimeout(Duration d) {
            requireNonNull(d, "conntrack-udp-timeout");
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("conntrack-udp-timeout: " + d + " (expected: > 0)");
            }
            this.udpIdleTimeout = d;
            return this;
        }

        /** Bytes a TCP relay holds per direction before it stops reading ({@code TcpProxyConfig#bufferSize}). */
        public Builder tcpBufferSize(int bytes) {
            TcpProxyConfig.builder().bufferSize(bytes); // the same check, the same message
            this.tcpBufferSize = bytes;
            return this;
        }

        public Builder tcpIdleTimeout(Duration d) {
            this.tcpIdleTimeout = nonNegative("tcp-idle-timeout", d);
            return this;
        }

        public Builder minSyncPeriod(Duration d) {
            this.minSyncPeriod = nonNegative("min-sync-period", d);
            return this;
        }

        public Builder healthzTimeout(Duration d) {
            this.healthzTimeout = nonNegative("healthz-timeout", d);
            return this;
        }

        /** Where the edge HTTP proxy listens; the wildcard address by default. */
        public Builder httpAddress(InetAddress httpAddress) {
            this.httpAddress = requireNonNull(httpAddress, "httpAddress");
            return this;
        }

        /** The edge HTTP proxy's port: 8080 by default, {@code 0} for any free port, {@code -1} for none. */
        public Builder httpPort(int httpPort) {
            if (httpPort < -1 || httpPort > 65535) {
                throw new IllegalArgumentException("http-port: " + httpPort + " (expected: -1-65535)");
            }
            this.httpPort = httpPort;
            return this;
        }

        public Builder ingressClass(String ingressClass) {
            requireNonNull(ingressClass, "ingressClass");
            if (ingressClass.isBlank()) {
                throw new IllegalArgumentException("ingress-class: \"\" (expected: a class name)");
            }
            this.ingressClass = ingressClass;
            return this;
        }

        public Builder watchIngressWithoutClass(boolean watch) {
            this.watchIngressWithoutClass = watch;
            return this;
        }

        public Builder accessLog(boolean accessLog) {
            this.accessLog = accessLog;
            return this;
        }

        /** The edge HTTPS port: 8443 by default, {@code 0} for any free port, {@code -1} for none. */
        public Builder httpsPort(int httpsPort) {
            if (httpsPort < -1 || httpsPort > 65535) {
                throw new IllegalArgumentException("https-port: " + httpsPort + " (expected: -1-65535)");
            }
            this.httpsPort = httpsPort;
            return this;
        }

        /** {@code namespace/name} of the Secret served for unknown SNI; {@code null} for a generated certificate. */
        public Builder defaultSslCertificate(String secret) {
            if (secret != null && !secret.matches("[^/\\s]+/[^/\\s]+")) {
                throw new IllegalArgumentException("default-ssl-certificate: " + secret
                                                   + " (expected: namespace/name)");
            }
            this.defaultSslCertificate = secret;
            return this;
        }

        /** Whether HTTPS responses carry {@code Strict-Transport-Security}, as ingress-nginx sends by default. */
        public Builder hsts(boolean hsts) {
            this.hsts = hsts;
            return this;
        }

        /**
         * Idle upstream connections the edge proxy keeps per endpoint and event loop (1,024; ingress-nginx's
         * {@code upstream-keepalive-connections} is 320); {@code 0} closes each after its request.
         */
        public Builder upstreamKeepaliveConnections(int connections) {
            if (connections < 0) {
                throw new IllegalArgumentException("upstream-keepalive-connections: " + connections
                                                   + " (expected: >= 0)");
            }
            this.upstreamKeepaliveConnections = connections;
            return this;
        }

        /**
         * Upstream connections the edge proxy keeps open at once per endpoint and event loop, in use or idle; a
         * request that finds every one busy waits for one, up to its route's connect timeout, then gets 503
         * (1,024, as the idle pool; {@code 0} for no limit, as ingress-nginx).
         */
        public Builder upstreamMaxConnections(int connections) {
            if (connections < 0) {
                throw new IllegalArgumentException("upstream-max-connections: " + connections + " (expected: >= 0)");
            }
            this.upstreamMaxConnections = connections;
            return this;
        }

        /** How long an idle upstream connection is kept (ingress-nginx's {@code upstream-keepalive-timeout}, 60 s). */
        public Builder upstreamKeepaliveTimeout(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("upstream-keepalive-timeout: " + d + " (expected: > 0)");
            }
            this.upstreamKeepaliveTimeout = d;
            return this;
        }

        /** Requests one upstream connection serves before it is closed (ingress-nginx's, 10,000). */
        public Builder upstreamKeepaliveRequests(int requests) {
            if (requests < 1) {
                throw new IllegalArgumentException("upstream-keepalive-requests: " + requests + " (expected: >= 1)");
            }
            this.upstreamKeepaliveRequests = requests;
            return this;
        }

        /**
         * Before any listener opens, run HTTP, HTTPS and HTTP/2 traffic through a private copy of the edge proxy, for
         * at most this long, so that the first clients meet compiled code ({@link Warmup}); zero (the default here;
         * the command line's is 5 s) skips it.
         */
        public Builder warmup(Duration d) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("warmup: " + d + " (expected: >= 0)");
            }
            this.warmup = d;
            return this;
        }

        /**
         * Passive health of the edge proxy's routes, nginx's {@code max_fails} (1): failed tries in a row after
         * which an endpoint is skipped for {@link #upstreamFailTimeout}; {@code 0} turns it off. An Ingress's
         * {@code upstream-max-fails} annotation overrides it for its routes.
         */
        public Builder upstreamMaxFails(int fails) {
            if (fails < 0) {
                throw new IllegalArgumentException("upstream-max-fails: " + fails + " (expected: >= 0)");
            }
            this.upstreamMaxFails = fails;
            return this;
        }

        /**
         * How long the edge proxy skips an endpoint that failed {@link #upstreamMaxFails} times, nginx's
         * {@code fail_timeout} (10 s); {@code 0}: never skipped. The {@code upstream-fail-timeout} annotation
         * overrides it.
         */
        public Builder upstreamFailTimeout(Duration d) {
            this.upstreamFailTimeout = nonNegative("upstream-fail-timeout", d);
            return this;
        }

        /** Watch the cluster Ferry runs in (in-cluster service account, or the usual fabric8 auto-configuration). */
        public Builder kubernetes(boolean kubernetes) {
            this.kubernetes = kubernetes;
            return this;
        }

        /** Watch the cluster a kubeconfig file points at; {@code null} for none. */
        public Builder kubeconfig(Path kubeconfig) {
            this.kubeconfig = kubeconfig;
            return this;
        }

        /** An address written to the status of the Ingresses Ferry serves (Kubernetes mode); default: this node's. */
        public Builder addPublishStatusAddress(String address) {
            requireNonNull(address, "address");
            if (address.isBlank()) {
                throw new IllegalArgumentException("publish-status-address: \"\" (expected: an IP or a host name)");
            }
            publishStatusAddresses.add(address.trim());
            return this;
        }

        public FerryOptions build() {
            if ((kubernetes || kubeconfig != null) && (demo || !manifests.isEmpty())) {
                throw new IllegalArgumentException("--kubernetes/--kubeconfig with --manifests or --demo (expected: "
                                                   + "one source of objects: the cluster, or manifests)");
            }
            if (manifests.isEmpty() && !demo && !kubernetes && kubeconfig == null) {
                throw new IllegalArgumentException("nothing to serve: give --kubernetes, --kubeconfig PATH, "
                                                   + "--manifests PATH or --demo");
            }
            return new FerryOptions(this);
        }

        private static Duration nonNegative(String flag, Duration d) {
            if (requireNonNull(d, flag).isNegative()) {
                throw new IllegalArgumentException(flag + ": " + d + " (expected: >= 0)");
            }
            return d;
        }

        private static String defaultNodeName() {
            try {
                return InetAddress.getLocalHost().getHostName();
            } catch (Exception e) {
                String env = System.getenv("HOSTNAME");
                return env == null ? "localhost" : env;
            }
        }
    }
}
