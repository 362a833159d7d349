package io.ferry.l4.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A blocking, thread-per-connection TCP server on loopback that stands for a Service's endpoint in tests.
 * Deliberately not Netty: the proxy under test should meet a peer that shares none of its code.
 */
public final class TestBackend implements AutoCloseable {

    /** What the backend does with one accepted connection. */
    @FunctionalInterface
    public interface Behaviour {
        void handle(Socket socket) throws IOException;
    }

    private final ServerSocket server;
    private final Thread acceptor;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger accepted = new AtomicInteger();

    private TestBackend(InetAddress address, int port, Behaviour behaviour) throws IOException {
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(address, port), 256);
        acceptor = new Thread(() -> acceptLoop(behaviour), "test-backend-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Starts a backend on 127.0.0.1 and an ephemeral port. */
    public static TestBackend start(Behaviour behaviour) throws IOException {
        return start(InetAddress.getLoopbackAddress(), 0, behaviour);
    }

    /** Starts a backend on {@code address:port} (port 0: ephemeral). */
    public static TestBackend start(InetAddress address, int port, Behaviour behaviour) throws IOException {
        return new TestBackend(address, port, behaviour);
    }

    /** Copies everything back until the client ends its side, then ends ours. */
    public static Behaviour echo() {
        return s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            in.transferTo(out);
            out.flush();
            s.shutdownOutput();
        };
    }

    /** Writes {@code name + "\n"}, then echoes. */
    public static Behaviour greetThenEcho(String name) {
        return s -> {
            s.getOutputStream().write((name + "\n").getBytes(StandardCharsets.UTF_8));
            s.getOutputStream().flush();
            echo().handle(s);
        };
    }

    /** Reads to the client's FIN, then replies {@code "<bytes> <sha256>\n"} and closes. */
    public static Behaviour digestAfterEof() {
        return s -> {
            MessageDigest md = sha256();
            byte[] buf = new byte[64 * 1024];
            long total = 0;
            InputStream in = s.getInputStream();
            for (int n; (n = in.read(buf)) != -1; ) {
                md.update(buf, 0, n);
                total += n;
            }
            s.getOutputStream().write((total + " " + HexFormat.of().formatHex(md.digest()) + "\n")
                                              .getBytes(StandardCharsets.UTF_8));
            s.getOutputStream().flush();
        };
    }

    /**
     * Reads the request to its end (the client's FIN), then writes {@code reply} and closes: an HTTP/1.0-style
     * exchange, where the big answer only starts once the proxy has seen the client half-close.
     */
    public static Behaviour replyAfterEof(byte[] reply) {
        return s -> {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            while (in.read(buf) != -1) {
                // discard the request
            }
            s.getOutputStream().write(reply);
            s.getOutputStream().flush();
        };
    }

    private void acceptLoop(Behaviour behaviour) {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            open.add(s);
            Thread t = new Thread(() -> {
                try (s) {
                    behaviour.handle(s);
                } catch (IOException ignored) {
                    // The peer went away; that is what some tests do.
                } finally {
                    open.remove(s);
                }
            }, "test-backend-conn");
            t.setDaemon(true);
            t.start();
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /** How many connections it has accepted. */
    public int accepted() {
        return accepted.get();
    }

    /** Resets every open connection (RST, not FIN). */
    public void resetAll() {
        for (Socket s : open) {
            try {
                s.setSoLinger(true, 0);
                s.close();
            } catch (IOException ignored) {
                // already gone
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open) {
            s.close();
        }
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Reads everything until EOF. */
    public static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toByteArray();
    }
}
