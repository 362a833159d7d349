package io.ferry.l4;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.testing.TestBackend;
import io.netty.channel.epoll.Epoll;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The TCP relay end to end over real loopback sockets, on every transport: a client socket, the proxy, and
 * {@link TestBackend}s standing for endpoints.
 */
class TcpProxyTest {

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

    private TestBackend backend(TestBackend.Behaviour behaviour) throws IOException {
        TestBackend b = TestBackend.start(behaviour);
        closeables.add(b);
        return b;
    }

    private static ListenerKey key(String address) throws IOException {
        return ListenerKey.of(InetAddress.getByName(address), 0, Protocol.TCP);
    }

    private static Backend backendOf(String name, InetSocketAddress... addresses) {
        List<Endpoint> eps = new ArrayList<>();
        for (InetSocketAddress a : addresses) {
            eps.add(Endpoint.of(a));
        }
        return Backend.of(name, eps, RandomBalancer.INSTANCE);
    }

    private InetSocketAddress boundAddress(ListenerKey key) {
        return (InetSocketAddress) proxy.listeners().get(key).localAddress();
    }

    private static Socket connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.connect(address, 5_000);
        s.setSoTimeout(20_000);
        return s;
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void largeRandomPayloadSurvivesTheRoundTrip(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend echo = backend(TestBackend.echo());
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/echo:1/TCP", echo.address())).build());

        byte[] payload = new byte[24 * 1024 * 1024 + 17];
        new Random(42).nextBytes(payload);
        try (Socket s = connect(boundAddress(key))) {
            CompletableFuture<byte[]> reply = CompletableFuture.supplyAsync(() -> {
                try {
                    return TestBackend.readAll(s.getInputStream());
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            OutputStream out = s.getOutputStream();
            for (int off = 0; off < payload.length; off += 65536) {
                out.write(payload, off, Math.min(65536, payload.length - off));
            }
            out.flush();
            // The FIN goes while megabytes of echo are still on their way back: the proxy must keep writing to a
            // client whose input it has shut down (see EpollRegistrationFix).
            s.shutdownOutput();
            byte[] got = reply.get(60, SECONDS);
            assertThat(got.length).isEqualTo(payload.length);
            assertThat(sha256(got)).isEqualTo(sha256(payload));
        }
        assertThat(proxy.stats().bytesFromClients()).isEqualTo(payload.length);
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.stats().bytesToClients() == payload.length);
    }

    /**
     * The client half-closes before any reply exists, so the proxy shuts its input down with nothing to write; the
     * reply then comes in faster than the client reads it, so the proxy must start waiting for writability on a
     * socket whose input is closed. On Netty 4.2.18's epoll that failed with epoll_ctl ENOENT and truncated the
     * reply every time (see EpollRegistrationFix).
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void bigReplyAfterTheClientHalfClosedArrivesWhole(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        byte[] reply = new byte[16 * 1024 * 1024];
        new Random(7).nextBytes(reply);
        TestBackend server = backend(TestBackend.replyAfterEof(reply));
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/http10:1/TCP", server.address())).build());

        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(16 * 1024);
            s.setSoTimeout(20_000);
            s.connect(boundAddress(key), 5_000);
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            byte[] got = TestBackend.readAll(s.getInputStream());
            assertThat(got.length).isEqualTo(reply.length);
            assertThat(sha256(got)).isEqualTo(sha256(reply));
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void clientFinReachesTheEndpointAndTheReplyStillComesBack(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend digest = backend(TestBackend.digestAfterEof());
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/digest:1/TCP", digest.address())).build());

        byte[] payload = "half-close works".getBytes(StandardCharsets.UTF_8);
        try (Socket s = connect(boundAddress(key))) {
            s.getOutputStream().write(payload);
            s.shutdownOutput();
            String reply = new String(TestBackend.readAll(s.getInputStream()), StandardCharsets.UTF_8);
            assertThat(reply).isEqualTo(payload.length + " " + sha256(payload) + "\n");
        }
    }

    /**
     * The other way round: the endpoint sends and half-closes first, and the client, having read to the end, still
     * sends a megabyte and then its FIN. Once the proxy has passed the endpoint's FIN on, the client's FIN closes
     * both sides (no half-closure left to keep); what the client sent before it must reach the endpoint whole, and
     * neither side may stay open.
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void endpointFinFirstAndTheClientStillSendsItsLastBytes(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        CompletableFuture<String> received = new CompletableFuture<>();
        TestBackend server = backend(sock -> {
            sock.getOutputStream().write("bye\n".getBytes(StandardCharsets.US_ASCII));
            sock.shutdownOutput();
            byte[] got = TestBackend.readAll(sock.getInputStream());
            received.complete(got.length + " " + sha256(got));
        });
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/bye:1/TCP", server.address())).build());

        byte[] payload = new byte[1024 * 1024];
        new Random(3).nextBytes(payload);
        try (Socket s = connect(boundAddress(key))) {
            assertThat(new String(TestBackend.readAll(s.getInputStream()), StandardCharsets.US_ASCII))
                    .isEqualTo("bye\n");
            s.getOutputStream().write(payload);
            s.shutdownOutput();
            assertThat(received.get(20, SECONDS)).isEqualTo(payload.length + " " + sha256(payload));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.stats().active() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void connectionsSpreadOverEveryEndpoint(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend a = backend(TestBackend.greetThenEcho("a"));
        TestBackend b = backend(TestBackend.greetThenEcho("b"));
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/ab:1/TCP", a.address(), b.address())).build());

        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < 200; i++) {
            seen.merge(greeting(boundAddress(key)), 1, Integer::sum);
        }
        assertThat(seen.keySet()).containsExactlyInAnyOrder("a", "b");
        // Uniform random over 200 tries: fewer than 50 for either is a one-in-a-million event.
        assertThat(seen.values()).allSatisfy(n -> assertThat(n).isGreaterThan(50));
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void refusedEndpointIsSkippedForAnother(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend live = backend(TestBackend.greetThenEcho("live"));
        InetSocketAddress refusing = unusedPort();
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/failover:1/TCP", refusing, live.address())).build());

        for (int i = 0; i < 30; i++) {
            assertThat(greeting(boundAddress(key))).isEqualTo("live");
        }
        assertThat(proxy.stats().connectFailures()).isPositive();
        assertThat(proxy.stats().upstreamUnreachable()).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void noEndpointResetsAtOnce(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        ListenerKey empty = key("127.0.0.1");
        ListenerKey dead = key("127.0.0.2");
        proxy.apply(L4Table.builder()
                           .add(empty, Backend.of("t/empty:1/TCP", List.of(), RandomBalancer.INSTANCE))
                           .add(dead, backendOf("t/dead:1/TCP", unusedPort()))
                           .build());

        for (ListenerKey key : List.of(empty, dead)) {
            assertResetPromptly(boundAddress(key));
        }
        assertThat(proxy.stats().noEndpointRejects()).isEqualTo(1);
        assertThat(proxy.stats().upstreamUnreachable()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void swapMovesNewConnectionsAndLeavesOpenOnesAlone(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend a = backend(TestBackend.greetThenEcho("a"));
        TestBackend b = backend(TestBackend.greetThenEcho("b"));
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/svc:1/TCP", a.address())).build());
        InetSocketAddress listener = boundAddress(key);

        try (Socket open = connect(listener)) {
            BufferedReader reader = reader(open);
            assertThat(reader.readLine()).isEqualTo("a");

            proxy.apply(L4Table.builder().add(key, backendOf("t/svc:1/TCP", b.address())).build());
            assertThat(boundAddress(key)).isEqualTo(listener); // the listener was kept, not rebound
            assertThat(greeting(listener)).isEqualTo("b");

            // The connection opened before the swap still talks to "a".
            open.getOutputStream().write("still here\n".getBytes(StandardCharsets.UTF_8));
            assertThat(reader.readLine()).isEqualTo("still here");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void removedListenerStopsAcceptingButOpenConnectionsCarryOn(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend a = backend(TestBackend.greetThenEcho("a"));
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/svc:1/TCP", a.address())).build());
        InetSocketAddress listener = boundAddress(key);

        try (Socket open = connect(listener)) {
            BufferedReader reader = reader(open);
            assertThat(reader.readLine()).isEqualTo("a");

            ServiceProxy.ApplyResult result = proxy.apply(L4Table.EMPTY);
            assertThat(result.removed()).containsExactly(key);
            assertThat(proxy.listeners()).isEmpty();
            // Nothing of ours answers there any more. (Another process may have taken the freed port, or the kernel
            // may self-connect a loopback socket to it, so a connect that succeeds is not by itself a failure: what
            // must not happen is reaching "a" through the proxy.)
            assertThat(answerOrNull(listener)).isNotEqualTo("a");

            open.getOutputStream().write("ping\n".getBytes(StandardCharsets.UTF_8));
            assertThat(reader.readLine()).isEqualTo("ping");
        }
    }

    /** The first line whoever listens at {@code address} says within a second, or {@code null}. */
    private static String answerOrNull(InetSocketAddress address) {
        try (Socket s = new Socket()) {
            s.connect(address, 1_000);
            s.setSoTimeout(1_000);
            return reader(s).readLine();
        } catch (IOException e) {
            return null;
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void endpointResetIsPassedOnAsReset(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend a = backend(TestBackend.greetThenEcho("a"));
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/svc:1/TCP", a.address())).build());

        try (Socket s = connect(boundAddress(key))) {
            assertThat(reader(s).readLine()).isEqualTo("a");
            a.resetAll();
            s.setSoTimeout(5_000);
            assertThatThrownBy(() -> {
                int r = s.getInputStream().read();
                s.getOutputStream().write(1);
                s.getOutputStream().write(1);
                throw new AssertionError("read " + r + ", expected a reset");
            }).isInstanceOf(SocketException.class);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void idleConnectionsAreClosed(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.builder().idleTimeout(Duration.ofMillis(300)).build());
        TestBackend a = backend(TestBackend.greetThenEcho("a"));
        ListenerKey key = key("127.0.0.1");
        proxy.apply(L4Table.builder().add(key, backendOf("t/svc:1/TCP", a.address())).build());

        try (Socket s = connect(boundAddress(key))) {
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            assertThat(reader(s).readLine()).isEqualTo("a");
            assertThat(in.read()).isEqualTo(-1);
        }
        assertThat(proxy.stats().idleTimeouts()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.stats().active() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void listenerThatCannotBindIsReportedAndTheRestGoLive(Transport.Kind kind) throws Exception {
        startProxy(kind, TcpProxyConfig.DEFAULT);
        TestBackend a = backend(TestBackend.greetThenEcho("a"));
        try (ServerSocket squatter = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ListenerKey taken = ListenerKey.of(InetAddress.getLoopbackAddress(), squatter.getLocalPort(),
                                               Protocol.TCP);
            ListenerKey free = key("127.0.0.3");
            ServiceProxy.ApplyResult result = proxy.apply(
                    L4Table.builder()
                           .add(taken, backendOf("t/taken:1/TCP", a.address()))
                           .add(free, backendOf("t/free:1/TCP", a.address()))
                           .build());
            assertThat(result.bindErrors()).containsOnlyKeys(taken);
            assertThat(greeting(boundAddress(free))).isEqualTo("a");
        }
    }

    /** The connection is reset at once: on connect, on read or on a later write; a hang would time out. */
    private static void assertResetPromptly(InetSocketAddress address) {
        assertThatThrownBy(() -> {
            try (Socket s = connect(address)) {
                s.setSoTimeout(5_000);
                int r = s.getInputStream().read();
                s.getOutputStream().write(1);
                s.getOutputStream().write(1);
                throw new AssertionError("read " + r + ", expected a reset");
            }
        }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
    }

    private static String greeting(InetSocketAddress address) throws IOException {
        try (Socket s = connect(address)) {
            return reader(s).readLine();
        }
    }

    private static BufferedReader reader(Socket s) throws IOException {
        return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
    }

    private static InetSocketAddress unusedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return (InetSocketAddress) s.getLocalSocketAddress();
        }
    }

    private static String sha256(byte[] data) {
        MessageDigest md = TestBackend.sha256();
        return HexFormat.of().formatHex(md.digest(data));
    }
}
