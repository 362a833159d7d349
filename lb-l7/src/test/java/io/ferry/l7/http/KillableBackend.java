package io.ferry.l7.http;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An HTTP/1.1 keep-alive endpoint on loopback, one thread per connection, that can be killed as a crashed process
 * is: {@link #kill()} stops answering, closes the listener (new connects are refused) and resets every connection
 * at once. Each request is answered {@code 200} with {@code "<name> <METHOD> <path>"} after {@code delayMillis},
 * so that requests are in flight when it dies. It records the target of every request it read and of every
 * request it answered; a response is written whole or not at all with respect to {@link #kill()}.
 */
final class KillableBackend implements AutoCloseable {

    private final String name;
    private final long delayMillis;
    private final ServerSocket server;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Set<String> received = ConcurrentHashMap.newKeySet();
    private final Set<String> answered = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();
    private boolean dead; // guarded by lock

    private KillableBackend(String name, long delayMillis, ServerSocket server) {
        this.name = name;
        this.delayMillis = delayMillis;
        this.server = server;
        Thread t = new Thread(this::acceptLoop, "killable-" + name);
        t.setDaemon(true);
        t.start();
    }

    /** Starts on an ephemeral loopback port. */
    static KillableBackend start(String name, long delayMillis) throws IOException {
        return start(name, delayMillis, 0);
    }

    /** Starts on {@code port} of loopback (0: any). */
    static KillableBackend start(String name, long delayMillis, int port) throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
        return new KillableBackend(name, delayMillis, s);
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /** The targets of the requests read so far. */
    Set<String> received() {
        return received;
    }

    /** The targets of the requests answered so far. */
    Set<String> answered() {
        return answered;
    }

    /**
     * Dies: no response is written from now on, the listener closes, every connection is reset.
     *
     * @return the targets of the requests it had read and not answered: those it took down with it
     */
    Set<String> kill() {
        synchronized (lock) {
            dead = true;
            try {
                server.close();
            } catch (IOException ignored) {
                // closing
            }
            for (Socket s : open) {
                try {
                    s.setSoLinger(true, 0);
                    s.close();
                } catch (IOException ignored) {
                    // already gone
                }
            }
            Set<String> lost = new HashSet<>(received);
            lost.removeAll(answered);
            return lost;
        }
    }

    @Override
    public void close() {
        kill();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            open.add(s);
            Thread t = new Thread(() -> serve(s), "killable-" + name + "-conn");
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            for (;;) {
                String requestLine = line(in);
                if (requestLine == null) {
                    return;
                }
                long length = 0;
                for (String h; !(h = line(in)).isEmpty(); ) {
                    if (h.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                        length = Long.parseLong(h.substring(15).trim());
                    }
                }
                in.readNBytes((int) length);
                String[] parts = requestLine.split(" ");
                String target = parts[1];
                received.add(target);
                Thread.sleep(delayMillis);
                byte[] body = (name + ' ' + parts[0] + ' ' + target).getBytes(StandardCharsets.UTF_8);
                synchronized (lock) {
                    if (dead) {
                        return;
                    }
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n")
                                      .getBytes(StandardCharsets.US_ASCII));
                    out.write(body);
                    out.flush();
                    answered.add(target);
                }
            }
        } catch (IOException | RuntimeException e) {
            // reset or closed: the end of this connection
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.remove(s);
        }
    }

    /** One line without its CRLF; {@code null} at the end of the stream before any byte. */
    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) != -1; ) {
            if (c == '\n') {
                String s = b.toString(StandardCharsets.ISO_8859_1);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
        }
        if (b.size() == 0) {
            return null;
        }
        throw new IOException("closed in a line");
    }
}
