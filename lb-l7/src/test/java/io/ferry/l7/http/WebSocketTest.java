package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A WebSocket through the proxy: the JDK's client, Netty's server, the proxy relaying after the 101. */
class WebSocketTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void messagesFlowBothWaysAndTheCloseHandshakeCompletes(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        WebSocketEchoServer ws = h.closeLater(WebSocketEchoServer.start());
        h.routeAll("", route("ws", ws.address()));

        Recorder recorder = new Recorder();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI uri = URI.create("ws://127.0.0.1:" + h.address().getPort() + "/ws");
        WebSocket socket = client.newWebSocketBuilder().buildAsync(uri, recorder).get(10, TimeUnit.SECONDS);

        for (int i = 0; i < 20; i++) {
            socket.sendText("hello " + i, true).get(10, TimeUnit.SECONDS);
            assertThat(recorder.next()).isEqualTo("text:hello " + i);
        }
        byte[] big = new byte[48 * 1024];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        socket.sendBinary(ByteBuffer.wrap(big), true).get(10, TimeUnit.SECONDS);
        assertThat(recorder.next()).isEqualTo("binary:" + Arrays.hashCode(big));
        socket.sendText("a swap does not touch an open WebSocket", true).get(10, TimeUnit.SECONDS);
        proxy.apply(HttpRouteTable.<Route>builder().build());
        assertThat(recorder.next()).isEqualTo("text:a swap does not touch an open WebSocket");
        socket.sendText("still there", true).get(10, TimeUnit.SECONDS);
        assertThat(recorder.next()).isEqualTo("text:still there");

        socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        assertThat(recorder.next()).isEqualTo("close:1000");
        assertThat(proxy.stats().upgrades()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.stats().activeConnections() == 0);
    }

    /** With one upstream connection per endpoint and event loop, three WebSockets on two loops still all open. */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void openWebSocketsDoNotHoldTheirEndpointsConnectionSlots(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind, HttpProxyConfig.builder().accessLog(false)
                                                       .upstreamMaxConnectionsPerEndpoint(1).build());
        WebSocketEchoServer ws = h.closeLater(WebSocketEchoServer.start());
        RoutePolicy policy = RoutePolicy.builder().connectTimeout(Duration.ofMillis(500)).build();
        h.routeAll("", route("ws", policy, ws.address()));

        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI uri = URI.create("ws://127.0.0.1:" + h.address().getPort() + "/ws");
        List<WebSocket> sockets = new ArrayList<>();
        List<Recorder> recorders = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Recorder recorder = new Recorder();
            sockets.add(client.newWebSocketBuilder().buildAsync(uri, recorder).get(10, TimeUnit.SECONDS));
            recorders.add(recorder);
        }
        for (int i = 0; i < 3; i++) {
            sockets.get(i).sendText("hello " + i, true).get(10, TimeUnit.SECONDS);
            assertThat(recorders.get(i).next()).isEqualTo("text:hello " + i);
        }
        assertThat(proxy.stats().upgrades()).isEqualTo(3);
        assertThat(proxy.stats().upstreamQueued()).isZero();
        for (WebSocket socket : sockets) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void upgradeRefusedByTheBackendIsAnOrdinaryResponse(Transport.Kind kind) throws Exception {
        h.start(kind);
        EchoServer a = h.echo("a");
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("", PathType.PREFIX, "/", route("a", a.address()));
        h.proxy().apply(b.build());

        try (RawHttp c = h.connect()) {
            c.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                   + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
            RawHttp.Response r = c.read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.text()).isEqualTo("a\nGET /ws\n");
        }
        // The handshake reached the backend whole: Upgrade and Connection: upgrade.
        EchoServer.Seen seen = a.take();
        assertThat(seen.headers().getFirst("Upgrade")).isEqualTo("websocket");
        assertThat(seen.headers().getFirst("Connection")).isEqualToIgnoringCase("upgrade");
    }

    /** Collects what the client receives as strings, one per message. */
    private static final class Recorder implements WebSocket.Listener {
        private final BlockingQueue<String> received = new LinkedBlockingQueue<>();
        private final StringBuilder text = new StringBuilder();
        private ByteBuffer binary = ByteBuffer.allocate(0);

        String next() throws InterruptedException {
            String s = received.poll(10, TimeUnit.SECONDS);
            assertThat(s).as("a message within 10 s").isNotNull();
            return s;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                received.add("text:" + text);
                text.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            ByteBuffer joined = ByteBuffer.allocate(binary.remaining() + data.remaining());
            joined.put(binary).put(data).flip();
            binary = joined;
            if (last) {
                byte[] all = new byte[binary.remaining()];
                binary.get(all);
                received.add("binary:" + Arrays.hashCode(all));
                binary = ByteBuffer.allocate(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            received.add("close:" + statusCode);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            received.add("error:" + error);
        }
    }
}
