package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.testing.LeakDetectionExtension;
import io.ferry.l4.testing.TestBackend;
import io.netty.channel.epoll.Epoll;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What a Service port asks of the TCP proxy beyond balancing, over real loopback sockets: {@code ClientIP}
 * session affinity and its timeout, failover past a dead endpoint with passive health, and the PROXY protocol v2
 * header as a backend that shares no code with Ferry parses it.
 */
@ExtendWith(LeakDetectionExtension.class)
class TcpServicePolicyTest {

    private static final Duration DEADLINE = Duration.ofSeconds(20);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private ServiceProxy proxy;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void startProxy(Transport.Kind kind, TcpProxyConfig config) {
        assumeTrue(kind.isAvailable(), kind + " not available");
        Transport transport = Transport.create(kind, 2);
        closeables.add(transport);
        proxy = new ServiceProxy(transport, config);
        closeables.add(proxy);
    }

    private List<Endpoint> greeters(String... names) throws IOException {
        List<Endpoint> out = new ArrayList<>();
        for (String name : names) {
            TestBackend b = TestBackend.start(TestBackend.greetThenEcho(name));
            closeables.add(b);
            out.add(Endpoint.of(b.address(), name, null));
        }
        return out;
    }

    private static ListenerKey key(String address) throws IOException {
        return ListenerKey.of(InetAddress.getByName(address), 0, Protocol.TCP);
    }

    private InetSocketAddress bound(ListenerKey key) {
        return (InetSocketAddress) proxy.listeners().get(key).localAddress();
    }

    /** Connects from {@code from} (a loopback address standing for one client), returns the greeting. */
    private static String greeting(String from, InetSocketAddress to) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(from, 0));
            s.connect(to, 5_000);
            s.setSoTimeout(10_000);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientIpAffinityPinsEachClientUntilItsEndpointGoesOrItsTimeoutPasses(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        AtomicLong clock = new AtomicLong();
        SessionAffinity affinity = SessionAffinity.of(Duration.ofSeconds(10_800), clock::get);
        List<Endpoint> endpoints = greeters("a", "b", "c", "d", "e");
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, Backend.builder("t/web:80/TCP", endpoints, RandomBalancer.INSTANCE)
                                                      .affinity(affinity).build()).build());
        InetSocketAddress service = bound(key);

        // 50 connections from each of four clients: each client always meets one endpoint.
        Set<String> pinned = new HashSet<>();
        for (String client : List.of("127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24")) {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 50; i++) {
                seen.add(greeting(client, service));
            }
            assertThat(seen).as("endpoints client %s met", client).hasSize(1);
            pinned.addAll(seen);
        }
        assertThat(affinity.size()).isEqualTo(4);

        // The pinned endpoint of one client leaves the Service: that client moves, once, and sticks again.
        String first = greeting("127.0.0.21", service);
        List<Endpoint> without = endpoints.stream().filter(e -> !e.name().equals(first)).toList();
        proxy.apply(L4Table.builder().add(key, Backend.builder("t/web:80/TCP", without, RandomBalancer.INSTANCE)
                                                      .affinity(affinity).build()).build());
        String moved = greeting("127.0.0.21", service);
        assertThat(moved).isNotEqualTo(first);
        for (int i = 0; i < 20; i++) {
            assertThat(greeting("127.0.0.21", service)).isEqualTo(moved);
        }

        // Idle past the timeout: the pin is gone and the next connection is balanced afresh.
        InetAddress client = InetAddress.getByName("127.0.0.21");
        clock.addAndGet(Duration.ofSeconds(10_799).toNanos());
        assertThat(affinity.lookup(client)).isNotNull(); // used just now: still pinned
        clock.addAndGet(Duration.ofSeconds(10_801).toNanos());
        assertThat(affinity.lookup(client)).isNull();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aDeadEndpointCostsNoClientAnErrorAndIsSkippedUntilItsFailTimeout(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.builder().maxFails(1).failTimeout(Duration.ofMillis(300)).build());
        List<Endpoint> endpoints = new ArrayList<>(greeters("a", "b"));
        InetSocketAddress dead;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dead = (InetSocketAddress) s.getLocalSocketAddress(); // closed again: connects are refused
        }
        endpoints.add(1, Endpoint.of(dead, "dead", null));
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, Backend.of("t/web:80/TCP", endpoints, RandomBalancer.INSTANCE))
                           .build());
        InetSocketAddress service = bound(key);

        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            seen.add(greeting("127.0.0.1", service));
        }
        assertThat(seen).containsExactlyInAnyOrder("a", "b");
        // Each failure skipped the endpoint for 300 ms, so far fewer connects failed than the third of 100 that
        // random balancing sends it; every one of them was retried on a live endpoint.
        long failures = proxy.stats().connectFailures();
        assertThat(failures).isGreaterThanOrEqualTo(1);
        assertThat(proxy.stats().retries()).isEqualTo(failures);
        assertThat(proxy.table().lookup(key).stats().retries()).isEqualTo(failures);
        assertThat(proxy.stats().endpointsSkipped()).isEqualTo(failures);
        assertThat(proxy.stats().upstreamUnreachable()).isZero();

        // After the fail timeout it is tried again (and fails again): passive health is not a permanent verdict.
        await().atMost(DEADLINE).until(() -> {
            greeting("127.0.0.1", service);
            return proxy.stats().connectFailures() > failures;
        });
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void withEveryEndpointDeadTheClientIsResetAfterEachIsTriedOnce(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.builder().maxConnectAttempts(5).build());
        List<Endpoint> endpoints = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                endpoints.add(Endpoint.of((InetSocketAddress) s.getLocalSocketAddress()));
            }
        }
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, Backend.of("t/web:80/TCP", endpoints, RandomBalancer.INSTANCE))
                           .build());
        try (Socket s = new Socket()) {
            s.connect(bound(key), 5_000);
            s.setSoTimeout(10_000);
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        } catch (java.net.SocketException reset) {
            // A reset is what kube-proxy's REJECT gives too.
        }
        await().atMost(DEADLINE).until(() -> proxy.stats().upstreamUnreachable() == 1);
        assertThat(proxy.stats().connectFailures()).isEqualTo(3);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void underNativeTransportsEachEventLoopHasItsOwnReusePortSocketAndAllCloseTogether(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        List<Endpoint> endpoints = greeters("a");
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, Backend.of("t/web:80/TCP", endpoints, RandomBalancer.INSTANCE))
                           .build());
        List<io.netty.channel.Channel> sockets = proxy.sockets(key);
        if (kind != Transport.Kind.NIO) {
            assertThat(sockets).hasSize(2); // one per event loop
            assertThat(sockets).extracting(io.netty.channel.Channel::eventLoop).doesNotHaveDuplicates();
            assertThat(sockets).extracting(ch -> ((InetSocketAddress) ch.localAddress()).getPort())
                               .containsOnly(bound(key).getPort());
        } else {
            assertThat(sockets).hasSize(1);
        }
        for (int i = 0; i < 40; i++) {
            assertThat(greeting("127.0.0.1", bound(key))).isEqualTo("a");
        }
        InetSocketAddress address = bound(key);
        proxy.apply(L4Table.EMPTY);
        assertThat(sockets).noneMatch(io.netty.channel.Channel::isOpen);
        // NIO closes a socket registered with a selector at its next select, so the port may accept a moment more.
        await().atMost(DEADLINE).until(() -> {
            try (Socket s = new Socket()) {
                s.connect(address, 2_000);
                return false;
            } catch (java.net.ConnectException refused) {
                return true;
            }
        });
        for (int i = 0; i < 10; i++) { // no socket of the group is left to accept
            try (Socket s = new Socket()) {
                s.connect(address, 2_000);
                throw new AssertionError("connected to a removed listener");
            } catch (java.net.ConnectException expected) {
                // refused
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void proxyProtocolV2TellsTheBackendTheClientAndServiceAddresses(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend backend = TestBackend.start(s -> {
            // A parser written from the specification, not Netty's: signature, version/command, family,
            // length, then the IPv4 addresses and ports; the bytes that follow are the client's.
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] signature = new byte[12];
            in.readFully(signature);
            int versionCommand = in.readUnsignedByte();
            int family = in.readUnsignedByte();
            int length = in.readUnsignedShort();
            byte[] body = new byte[length];
            in.readFully(body);
            String src = (body[0] & 0xff) + "." + (body[1] & 0xff) + "." + (body[2] & 0xff) + "." + (body[3] & 0xff);
            String dst = (body[4] & 0xff) + "." + (body[5] & 0xff) + "." + (body[6] & 0xff) + "." + (body[7] & 0xff);
            int srcPort = ((body[8] & 0xff) << 8) | (body[9] & 0xff);
            int dstPort = ((body[10] & 0xff) << 8) | (body[11] & 0xff);
            boolean signatureOk = java.util.Arrays.equals(signature, new byte[] {
                    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A });
            OutputStream out = s.getOutputStream();
            out.write(String.format("%s %x %x %d %s:%d %s:%d\n", signatureOk, versionCommand, family, length, src,
                                    srcPort, dst, dstPort).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            in.transferTo(out);
            s.shutdownOutput();
        });
        closeables.add(backend);
        ListenerKey key = key("127.0.0.33");
        proxy.apply(L4Table.builder().add(key, Backend.builder("t/pp:80/TCP", List.of(Endpoint.of(backend.address())),
                                                               RandomBalancer.INSTANCE)
                                                      .proxyProtocol(true).build()).build());
        InetSocketAddress service = bound(key);
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress("127.0.0.44", 0));
            s.connect(service, 5_000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertThat(in.readLine()).isEqualTo("true 21 11 12 127.0.0.44:" + s.getLocalPort() + " 127.0.0.33:"
                                                + service.getPort());
            assertThat(in.readLine()).isEqualTo("hello");
        }
    }
}
