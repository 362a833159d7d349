package io.ferry.l4;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.testing.UdpTestBackend;
import io.netty.channel.Channel;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The UDP proxy end to end over real loopback sockets, on every transport: JDK datagram sockets as clients, the
 * proxy, and {@link UdpTestBackend}s standing for endpoints. Nothing sleeps: counters are polled with a deadline,
 * and a task run on a listener's event loop after an apply proves that the apply's own tasks there have run.
 */
class UdpProxyTest {

    private static final Duration DEADLINE = Duration.ofSeconds(10);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private UdpProxy proxy;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void startProxy(Transport.Kind kind, UdpProxyConfig config) {
        assumeTrue(kind.isAvailable(), kind + " not available");
        Transport transport = Transport.create(kind, 2);
        closeables.add(transport);
        proxy = new UdpProxy(transport, config);
        closeables.add(proxy);
    }

    private UdpTestBackend backend(String name) throws IOException {
        UdpTestBackend b = UdpTestBackend.start(name);
        closeables.add(b);
        return b;
    }

    private Client client(ListenerKey key) throws IOException {
        Client c = new Client(boundAddress(key));
        closeables.add(c);
        return c;
    }

    private static ListenerKey key(String address) throws IOException {
        return ListenerKey.of(InetAddress.getByName(address), 0, Protocol.UDP);
    }

    private static Backend backendOf(Balancer balancer, UdpTestBackend... backends) {
        List<Endpoint> eps = new ArrayList<>();
        for (UdpTestBackend b : backends) {
            eps.add(Endpoint.of(b.address(), b.name(), null));
        }
        return Backend.of("t/svc:53/UDP", eps, balancer);
    }

    private InetSocketAddress boundAddress(ListenerKey key) {
        InetSocketAddress bound = (InetSocketAddress) proxy.listeners().get(key).localAddress();
        return key.isWildcard() ? new InetSocketAddress(InetAddress.getLoopbackAddress(), bound.getPort()) : bound;
    }

    /** Returns once every task submitted to the listeners' event loops before this call has run. */
    private static void drain(Iterable<Channel> listeners) throws Exception {
        for (Channel ch : listeners) {
            ch.eventLoop().submit(() -> { }).get(5, SECONDS);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void manyClientsEachGetTheirOwnRepliesFromTheServiceAddress(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        UdpTestBackend a = backend("a");
        UdpTestBackend b = backend("b");
        ListenerKey key = key("127.0.0.2");
        Backend svc = backendOf(RandomBalancer.INSTANCE, a, b);
        proxy.apply(L4Table.builder().add(key, svc).build());

        int clients = 50;
        int rounds = 5;
        List<Client> all = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            all.add(client(key));
        }
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Reply> first = new ArrayList<>();
        try {
            List<Callable<Reply>> tasks = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                Client c = all.get(i);
                String id = "client-" + i;
                tasks.add(() -> {
                    Reply r0 = null;
                    for (int r = 0; r < rounds; r++) {
                        Reply reply = c.ask(id + " says " + r);
                        assertThat(reply.payload()).isEqualTo(id + " says " + r);
                        if (r0 == null) {
                            r0 = reply;
                        } else {
                            // One flow: the same endpoint, and the same upstream socket, every time.
                            assertThat(reply.endpoint()).isEqualTo(r0.endpoint());
                            assertThat(reply.sourcePort()).isEqualTo(r0.sourcePort());
                        }
                    }
                    return r0;
                });
            }
            for (Future<Reply> f : pool.invokeAll(tasks, 60, SECONDS)) {
                first.add(f.get());
            }
        } finally {
            pool.shutdownNow();
        }

        Set<String> flows = new HashSet<>();
        Set<String> endpoints = new HashSet<>();
        for (Reply r : first) {
            flows.add(r.endpoint() + ':' + r.sourcePort());
            endpoints.add(r.endpoint());
        }
        assertThat(flows).hasSize(clients); // one upstream socket per client
        assertThat(endpoints).containsExactlyInAnyOrder("a", "b"); // 50 random picks: all alike is 2^-49
        assertThat(a.sources().size() + b.sources().size()).isEqualTo(clients);

        UdpStats s = proxy.stats();
        assertThat(s.flowsCreated()).isEqualTo(clients);
        assertThat(s.flowsActive()).isEqualTo(clients);
        assertThat(s.datagramsFromClients()).isEqualTo(clients * rounds);
        assertThat(s.datagramsToClients()).isEqualTo(clients * rounds);
        assertThat(s.noEndpointDrops() + s.flowLimitDrops() + s.sendDrops() + s.oversizeDrops()).isZero();
        long requestBytes = 0;
        for (int i = 0; i < clients; i++) {
            for (int r = 0; r < rounds; r++) {
                requestBytes += ("client-" + i + " says " + r).length();
            }
        }
        assertThat(s.bytesFromClients()).isEqualTo(requestBytes);
        assertThat(svc.stats().connections()).isEqualTo(clients);
        assertThat(svc.stats().active()).isEqualTo(clients);
        assertThat(svc.stats().bytesFromClients()).isEqualTo(requestBytes);
        assertThat(svc.stats().bytesToClients()).isEqualTo(s.bytesToClients()).isGreaterThan(requestBytes);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void idleFlowsExpireAndTheNextDatagramStartsANewFlow(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.builder().idleTimeout(Duration.ofMillis(500)).build());
        UdpTestBackend a = backend("a");
        CountingBalancer balancer = new CountingBalancer();
        ListenerKey key = key("127.0.0.1");
        Backend svc = backendOf(balancer, a);
        proxy.apply(L4Table.builder().add(key, svc).build());
        Client c = client(key);

        assertThat(c.ask("one").endpoint()).isEqualTo("a");
        await().atMost(DEADLINE).until(() -> proxy.stats().flowsActive() == 0);
        assertThat(proxy.stats().flowsExpired()).isEqualTo(1);
        assertThat(svc.stats().active()).isZero();
        assertThat(balancer.acquires()).isEqualTo(1);
        assertThat(balancer.held(a.address())).isZero();

        assertThat(c.ask("two").payload()).isEqualTo("two");
        assertThat(proxy.stats().flowsCreated()).isEqualTo(2);
        assertThat(svc.stats().connections()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void repliesAloneKeepAFlowAlive(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.builder().idleTimeout(Duration.ofSeconds(1)).build());
        UdpTestBackend a = backend("a");
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf(RandomBalancer.INSTANCE, a)).build());
        Client c = client(key);

        // 25 replies 100 ms apart: the flow outlives its 1 s timeout more than twice over on replies alone. (The
        // margin is wide so that a loaded machine, pausing the backend's thread, does not break the test.)
        c.send("drip 25 100");
        Set<Integer> ports = new HashSet<>();
        for (int i = 0; i < 25; i++) {
            Reply r = c.receive();
            assertThat(r.payload()).isEqualTo("drip " + i);
            ports.add(r.sourcePort());
        }
        assertThat(ports).hasSize(1);
        assertThat(proxy.stats().flowsCreated()).isEqualTo(1);
        assertThat(proxy.stats().flowsExpired()).isZero();
        await().atMost(DEADLINE).until(() -> proxy.stats().flowsExpired() == 1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void endpointRemovalClosesItsFlowsAtOnceAndLeavesTheOthers(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        UdpTestBackend a = backend("a");
        UdpTestBackend b = backend("b");
        UdpTestBackend c = backend("c");
        CountingBalancer balancer = new CountingBalancer();
        ListenerKey key = key("127.0.0.3");
        proxy.apply(L4Table.builder().add(key, backendOf(balancer, a, b)).build());
        List<Channel> listeners = List.copyOf(proxy.listeners().values());

        Map<Client, Reply> before = new HashMap<>();
        for (int i = 0; i < 20; i++) {
            Client cl = client(key);
            before.put(cl, cl.ask("hello " + i));
        }
        List<Client> onA = new ArrayList<>();
        List<Client> onB = new ArrayList<>();
        before.forEach((cl, r) -> (r.endpoint().equals("a") ? onA : onB).add(cl));
        assertThat(onA).isNotEmpty(); // 20 random picks: all alike is 2^-19
        assertThat(onB).isNotEmpty();

        // The same endpoints again (a new but equal Backend), then one more: no flow is touched.
        proxy.apply(L4Table.builder().add(key, backendOf(balancer, a, b)).build());
        proxy.apply(L4Table.builder().add(key, backendOf(balancer, a, b, c)).build());
        drain(listeners);
        assertThat(proxy.stats().flowsEndpointRemoved()).isZero();
        assertThat(proxy.stats().flowsActive()).isEqualTo(20);

        // b goes: its flows are closed by the time the listener's loop has run the apply's task.
        proxy.apply(L4Table.builder().add(key, backendOf(balancer, a, c)).build());
        drain(listeners);
        assertThat(proxy.stats().flowsEndpointRemoved()).isEqualTo(onB.size());
        assertThat(proxy.stats().flowsActive()).isEqualTo(onA.size());
        assertThat(balancer.held(b.address())).isZero();
        assertThat(balancer.held(a.address())).isEqualTo(onA.size());
        assertThat(proxy.listeners().values()).containsExactlyElementsOf(listeners); // not rebound

        for (Client cl : onA) {
            Reply r = cl.ask("again");
            assertThat(r.endpoint()).isEqualTo("a");
            assertThat(r.sourcePort()).isEqualTo(before.get(cl).sourcePort()); // the same flow
        }
        for (Client cl : onB) {
            assertThat(cl.ask("again").endpoint()).isIn("a", "c"); // a new flow, by the new table
        }
        assertThat(proxy.stats().flowsCreated()).isEqualTo(20 + onB.size());
        assertThat(b.received()).isEqualTo(onB.size()); // nothing more reached b

        // No endpoint left: every flow goes, and datagrams are dropped.
        Backend empty = Backend.of("t/svc:53/UDP", List.of(), balancer);
        proxy.apply(L4Table.builder().add(key, empty).build());
        drain(listeners);
        assertThat(proxy.stats().flowsActive()).isZero();
        assertThat(proxy.stats().flowsEndpointRemoved()).isEqualTo(20 + onB.size());
        assertThat(balancer.totalHeld()).isZero();
        onA.get(0).send("anyone?");
        await().atMost(DEADLINE).until(() -> proxy.stats().noEndpointDrops() == 1);
        assertThat(empty.stats().noEndpointRejects()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void noEndpointDropsAndCounts(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        ListenerKey key = key("127.0.0.1");
        Backend empty = Backend.of("t/empty:53/UDP", List.of(), RandomBalancer.INSTANCE);
        proxy.apply(L4Table.builder().add(key, empty).build());

        Client c = client(key);
        c.send("hello?");
        c.send("hello??");
        await().atMost(DEADLINE).until(() -> proxy.stats().noEndpointDrops() == 2);
        assertThat(empty.stats().noEndpointRejects()).isEqualTo(2);
        assertThat(proxy.stats().flowsCreated()).isZero();
        assertThat(proxy.stats().datagramsFromClients()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void fullFlowTableDropsNewFlowsOnly(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.builder().maxFlowsPerListener(3).build());
        UdpTestBackend a = backend("a");
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf(RandomBalancer.INSTANCE, a)).build());

        List<Client> admitted = List.of(client(key), client(key), client(key));
        for (Client c : admitted) {
            assertThat(c.ask("in").payload()).isEqualTo("in");
        }
        client(key).send("one too many");
        await().atMost(DEADLINE).until(() -> proxy.stats().flowLimitDrops() == 1);
        assertThat(proxy.stats().flowsActive()).isEqualTo(3);
        for (Client c : admitted) {
            assertThat(c.ask("still in").payload()).isEqualTo("still in");
        }
        assertThat(a.received()).isEqualTo(6);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void removedListenerClosesItsPortAndItsFlows(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        UdpTestBackend a = backend("a");
        CountingBalancer balancer = new CountingBalancer();
        ListenerKey key = key("127.0.0.1");
        ListenerKey other = key("127.0.0.2");
        proxy.apply(L4Table.builder()
                           .add(key, backendOf(balancer, a))
                           .add(other, backendOf(balancer, a))
                           .build());
        InetSocketAddress listener = boundAddress(key);
        client(key).ask("hi");
        Client stays = client(other);
        Reply kept = stays.ask("hi");

        ServiceProxy.ApplyResult result = proxy.apply(L4Table.builder().add(other, backendOf(balancer, a)).build());
        assertThat(result.removed()).containsExactly(key);
        assertThat(result.added()).isZero();
        assertThat(proxy.listeners()).containsOnlyKeys(other);
        await().atMost(DEADLINE).until(() -> proxy.stats().flowsActive() == 1);
        assertThat(balancer.totalHeld()).isEqualTo(1);
        // The port is free: a socket without SO_REUSEADDR can bind it.
        try (DatagramSocket s = new DatagramSocket(listener)) {
            assertThat(s.getLocalPort()).isEqualTo(listener.getPort());
        }
        assertThat(stays.ask("still here").sourcePort()).isEqualTo(kept.sourcePort());
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void endpointThatRefusesClosesTheFlow(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        InetSocketAddress nobody = unusedUdpPort();
        ListenerKey key = key("127.0.0.1");
        Backend dead = Backend.of("t/dead:53/UDP", List.of(Endpoint.of(nobody)), RandomBalancer.INSTANCE);
        proxy.apply(L4Table.builder().add(key, dead).build());

        // The endpoint's ICMP port unreachable reaches the flow's connected socket, which closes the flow so that
        // the client's next datagram is balanced afresh.
        Client c = client(key);
        c.send("anyone?");
        await().atMost(DEADLINE).until(() -> proxy.stats().upstreamErrors() == 1);
        await().atMost(DEADLINE).until(() -> proxy.stats().flowsActive() == 0);
        c.send("anyone now?");
        await().atMost(DEADLINE).until(() -> proxy.stats().upstreamErrors() == 2);
        assertThat(proxy.stats().flowsCreated()).isEqualTo(2);
        assertThat(dead.stats().active()).isZero();
        // Passive health skips it after each error, but it is the only endpoint: it is tried anyway.
        assertThat(proxy.stats().endpointsSkipped()).isEqualTo(2);
    }

    private static InetSocketAddress unusedUdpPort() throws IOException {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            return (InetSocketAddress) s.getLocalSocketAddress();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void refusingEndpointIsSkippedByNewFlowsAndLosesItsPins(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT); // skipped for 10 s after 1 error
        UdpTestBackend live = backend("live");
        InetSocketAddress nobody = unusedUdpPort();
        ListenerKey key = key("127.0.0.1");
        // The balancer always picks the dead endpoint; ClientIP affinity then pins the client to it.
        Backend svc = Backend.builder("t/dns:53/UDP", List.of(Endpoint.of(nobody), Endpoint.of(live.address())),
                                      FIRST)
                             .affinity(SessionAffinity.of(SessionAffinity.DEFAULT_TIMEOUT))
                             .build();
        proxy.apply(L4Table.builder().add(key, svc).build());

        Client c = client(key);
        c.send("anyone?");
        await().atMost(DEADLINE).until(() -> proxy.stats().endpointsSkipped() == 1);
        assertThat(proxy.stats().upstreamErrors()).isEqualTo(1);
        assertThat(svc.affinity().lookup(InetAddress.getLoopbackAddress())).isEqualTo(nobody);

        // The pin is to a skipped endpoint, so it is not followed: the client is pinned to the live one, and so
        // are its other ports.
        assertThat(c.ask("now?").endpoint()).isEqualTo("live");
        assertThat(svc.affinity().lookup(InetAddress.getLoopbackAddress())).isEqualTo(live.address());
        assertThat(client(key).ask("and from another port?").endpoint()).isEqualTo("live");
        assertThat(proxy.stats().upstreamErrors()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientIpAffinityPinsEveryPortOfAClientUntilItsEndpointGoes(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        UdpTestBackend a = backend("a");
        UdpTestBackend b = backend("b");
        SessionAffinity affinity = SessionAffinity.of(SessionAffinity.DEFAULT_TIMEOUT);
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, affined(affinity, a, b)).build());
        List<Channel> listeners = List.copyOf(proxy.listeners().values());

        // Every client socket is on 127.0.0.1: one client address, many flows, one endpoint.
        List<Client> clients = new ArrayList<>();
        Set<String> endpoints = new HashSet<>();
        for (int i = 0; i < 10; i++) {
            Client c = client(key);
            clients.add(c);
            endpoints.add(c.ask("hi " + i).endpoint());
        }
        assertThat(endpoints).hasSize(1);
        UdpTestBackend pinned = endpoints.contains("a") ? a : b;
        UdpTestBackend other = pinned == a ? b : a;
        assertThat(proxy.stats().flowsCreated()).isEqualTo(10);

        // The pinned endpoint leaves: its flows close, and the client is pinned to the one left.
        proxy.apply(L4Table.builder().add(key, affined(affinity, other)).build());
        drain(listeners);
        assertThat(proxy.stats().flowsEndpointRemoved()).isEqualTo(10);
        for (Client c : clients) {
            assertThat(c.ask("again").endpoint()).isEqualTo(other.name());
        }
        assertThat(affinity.lookup(InetAddress.getLoopbackAddress())).isEqualTo(other.address());
    }

    private static Backend affined(SessionAffinity affinity, UdpTestBackend... backends) {
        List<Endpoint> eps = new ArrayList<>();
        for (UdpTestBackend b : backends) {
            eps.add(Endpoint.of(b.address(), b.name(), null));
        }
        return Backend.builder("t/svc:53/UDP", eps, RandomBalancer.INSTANCE).affinity(affinity).build();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void oversizeDatagramsAreDroppedNotTruncated(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.builder().maxDatagramSize(1000).build());
        UdpTestBackend a = backend("a");
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf(RandomBalancer.INSTANCE, a)).build());
        Client c = client(key);

        String fits = "x".repeat(900);
        assertThat(c.ask(fits).payload()).isEqualTo(fits);
        c.send("y".repeat(1001));
        await().atMost(DEADLINE).until(() -> proxy.stats().oversizeDrops() == 1);
        c.send("y".repeat(5000));
        await().atMost(DEADLINE).until(() -> proxy.stats().oversizeDrops() == 2);
        assertThat(c.ask("small").payload()).isEqualTo("small");
        assertThat(a.received()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void wildcardListenerAnswersFromTheAddressAsked(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        UdpTestBackend a = backend("a");
        ListenerKey key = ListenerKey.of((InetAddress) null, 0, Protocol.UDP);
        proxy.apply(L4Table.builder().add(key, backendOf(RandomBalancer.INSTANCE, a)).build());

        assertThat(client(key).ask("any address").payload()).isEqualTo("any address"); // checks the source
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void onlyUdpKeysAreServed(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        UdpTestBackend a = backend("a");
        ListenerKey udp = key("127.0.0.1");
        ListenerKey tcp = ListenerKey.of(InetAddress.getByName("127.0.0.1"), 0, Protocol.TCP);
        ServiceProxy.ApplyResult result = proxy.apply(
                L4Table.builder()
                       .add(udp, backendOf(RandomBalancer.INSTANCE, a))
                       .add(tcp, backendOf(RandomBalancer.INSTANCE, a))
                       .build());
        assertThat(result.added()).isEqualTo(1);
        assertThat(proxy.listeners()).containsOnlyKeys(udp);
        assertThat(client(udp).ask("udp").payload()).isEqualTo("udp");
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void listenerThatCannotBindIsReportedAndTheRestGoLive(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        UdpTestBackend a = backend("a");
        try (DatagramSocket squatter = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                                                                                0))) {
            ListenerKey taken = ListenerKey.of(InetAddress.getLoopbackAddress(), squatter.getLocalPort(),
                                               Protocol.UDP);
            ListenerKey free = key("127.0.0.3");
            ServiceProxy.ApplyResult result = proxy.apply(
                    L4Table.builder()
                           .add(taken, backendOf(RandomBalancer.INSTANCE, a))
                           .add(free, backendOf(RandomBalancer.INSTANCE, a))
                           .build());
            assertThat(result.bindErrors()).containsOnlyKeys(taken);
            assertThat(proxy.bindErrors()).containsOnlyKeys(taken);
            assertThat(client(free).ask("free").payload()).isEqualTo("free");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void nativeTransportsBindAClusterIpThatIsNotLocalYet(Transport.Kind kind) throws Exception {
        startProxy(kind, UdpProxyConfig.DEFAULT);
        // TEST-NET-1: never a local address here. With io_uring or epoll, IP_FREEBIND lets the listener wait for
        // the node's route for the service CIDR; NIO has no such option, and reports the listener.
        ListenerKey notLocal = ListenerKey.of(InetAddress.getByName("192.0.2.53"), 0, Protocol.UDP);
        ServiceProxy.ApplyResult result = proxy.apply(
                L4Table.builder().add(notLocal, Backend.of("t/dns:53/UDP", List.of(), RandomBalancer.INSTANCE))
                       .build());
        if (kind != Transport.Kind.NIO) {
            assertThat(result.bindErrors()).isEmpty();
            assertThat(proxy.listeners()).containsOnlyKeys(notLocal);
        } else {
            assertThat(result.bindErrors()).containsOnlyKeys(notLocal);
        }
    }

    /** One answer of a {@link UdpTestBackend}: who answered, which port it saw the request from, and the payload. */
    record Reply(String endpoint, int sourcePort, String payload) {
    }

    /** A JDK datagram socket on 127.0.0.1 talking to one Service address; it checks where each reply came from. */
    private static final class Client implements AutoCloseable {
        private final DatagramSocket socket;
        private final InetSocketAddress service;

        Client(InetSocketAddress service) throws IOException {
            this.service = service;
            this.socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            socket.setSoTimeout(5_000);
        }

        void send(String text) throws IOException {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            socket.send(new DatagramPacket(b, b.length, service));
        }

        Reply receive() throws IOException {
            byte[] buf = new byte[65_536];
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            socket.receive(p);
            SocketAddress from = p.getSocketAddress();
            assertThat(from).isEqualTo(service); // the reply comes from the Service address, not the endpoint
            String[] parts = new String(buf, 0, p.getLength(), StandardCharsets.UTF_8).split(" ", 3);
            return new Reply(parts[0], Integer.parseInt(parts[1]), parts[2]);
        }

        Reply ask(String text) throws IOException {
            send(text);
            return receive();
        }

        @Override
        public void close() {
            socket.close();
        }
    }

    /** Always the first endpoint. */
    private static final Balancer FIRST = new Balancer() {
        @Override
        public int select(Backend backend, SocketAddress client) {
            return 0;
        }

        @Override
        public String name() {
            return "first";
        }
    };

    /** Random choice, and a count of the flows each endpoint holds (acquires less releases), by address. */
    private static final class CountingBalancer implements Balancer {
        private final Map<InetSocketAddress, AtomicInteger> held = new ConcurrentHashMap<>();
        private final AtomicInteger acquires = new AtomicInteger();

        @Override
        public int select(Backend backend, SocketAddress client) {
            return RandomBalancer.INSTANCE.select(backend, client);
        }

        @Override
        public void acquire(Backend backend, int index) {
            acquires.incrementAndGet();
            held.computeIfAbsent(backend.endpoint(index).address(), k -> new AtomicInteger()).incrementAndGet();
        }

        @Override
        public void release(Backend backend, int index) {
            held.get(backend.endpoint(index).address()).decrementAndGet();
        }

        int held(InetSocketAddress endpoint) {
            AtomicInteger n = held.get(endpoint);
            return n == null ? 0 : n.get();
        }

        int acquires() {
            return acquires.get();
        }

        int totalHeld() {
            return held.values().stream().mapToInt(AtomicInteger::get).sum();
        }

        @Override
        public String name() {
            return "counting";
        }
    }
}
