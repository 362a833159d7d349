package io.ferry.l7.http;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 endpoint on loopback built on the JDK's {@link HttpServer}, which shares no code with the proxy.
 * What it does depends on the path:
 * <ul>
 *   <li>{@code /delay/MS...}: answers like the default after {@code MS} milliseconds;</li>
 *   <li>{@code /status/CODE}: answers {@code CODE} with no body;</li>
 *   <li>{@code /download/BYTES}: streams {@code BYTES} bytes of {@link PatternStream} with a Content-Length;</li>
 *   <li>{@code /upload}: reads the body as it comes and answers {@code "<bytes> <crc32c>"};</li>
 *   <li>{@code /hang}: never answers;</li>
 *   <li>anything else: answers 200 with {@code "<name>\n<METHOD> <uri>\n<body>"} and header {@code X-Backend}; a HEAD
 *       gets the same headers (Content-Length included) and no body.</li>
 * </ul>
 * Every request is recorded ({@link #take()}), and the client port of every connection it served
 * ({@link #connections()}).
 */
final class EchoServer implements AutoCloseable {

    /** A request as this endpoint saw it. */
    record Seen(String method, String uri, Headers headers, String body, int clientPort) {
    }

    private final String name;
    private final HttpServer server;
    private final ExecutorService executor;
    private final BlockingQueue<Seen> seen = new LinkedBlockingQueue<>();
    private final Set<Integer> clientPorts = ConcurrentHashMap.newKeySet();
    private final AtomicInteger requests = new AtomicInteger();
    private final CountDownLatch closed = new CountDownLatch(1);

    private EchoServer(String name) throws IOException {
        this.name = name;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
        this.executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "echo-" + name);
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    static EchoServer start(String name) throws IOException {
        return new EchoServer(name);
    }

    InetSocketAddress address() {
        return server.getAddress();
    }

    /** The next request seen, waiting up to 10 s. */
    Seen take() throws InterruptedException {
        Seen s = seen.poll(10, TimeUnit.SECONDS);
        if (s == null) {
            throw new AssertionError(name + " saw no request");
        }
        return s;
    }

    /** Requests answered or being answered. */
    int requests() {
        return requests.get();
    }

    /** How many distinct connections requests came on. */
    int connections() {
        return clientPorts.size();
    }

    private void handle(HttpExchange x) throws IOException {
        requests.incrementAndGet();
        clientPorts.add(x.getRemoteAddress().getPort());
        String path = x.getRequestURI().getRawPath();
        try (x) {
            if (path.startsWith("/download/")) {
                download(x, Long.parseLong(path.substring("/download/".length())));
                return;
            }
            if (path.equals("/upload")) {
                upload(x);
                return;
            }
            String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.ISO_8859_1);
            seen.add(new Seen(x.getRequestMethod(), x.getRequestURI().toString(), x.getRequestHeaders(), body,
                              x.getRemoteAddress().getPort()));
            if (path.startsWith("/hang")) {
                closed.await();
                return;
            }
            if (path.startsWith("/status/")) {
                x.sendResponseHeaders(Integer.parseInt(path.substring("/status/".length())), -1);
                return;
            }
            if (path.startsWith("/delay/")) {
                String ms = path.substring("/delay/".length()).split("/")[0];
                if (closed.await(Long.parseLong(ms), TimeUnit.MILLISECONDS)) {
                    return;
                }
            }
            byte[] reply = (name + "\n" + x.getRequestMethod() + " " + x.getRequestURI() + "\n" + body)
                    .getBytes(StandardCharsets.ISO_8859_1);
            Headers h = x.getResponseHeaders();
            h.set("X-Backend", name);
            h.set("Content-Type", "text/plain");
            if (x.getRequestMethod().equals("HEAD")) {
                h.set("Content-Length", Integer.toString(reply.length));
                x.sendResponseHeaders(200, -1);
                return;
            }
            x.sendResponseHeaders(200, reply.length);
            x.getResponseBody().write(reply);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void download(HttpExchange x, long bytes) throws IOException {
        x.getRequestBody().readAllBytes();
        x.sendResponseHeaders(200, bytes);
        try (InputStream in = new PatternStream(bytes); OutputStream out = x.getResponseBody()) {
            in.transferTo(out);
        }
    }

    private static void upload(HttpExchange x) throws IOException {
        PatternStream.Checksum sum = new PatternStream.Checksum();
        byte[] buf = new byte[64 * 1024];
        InputStream in = x.getRequestBody();
        for (int n; (n = in.read(buf)) != -1; ) {
            sum.update(buf, 0, n);
        }
        byte[] reply = sum.toString().getBytes(StandardCharsets.US_ASCII);
        x.sendResponseHeaders(200, reply.length);
        x.getResponseBody().write(reply);
    }

    @Override
    public void close() {
        closed.countDown();
        server.stop(0);
        executor.shutdownNow();
    }
}
