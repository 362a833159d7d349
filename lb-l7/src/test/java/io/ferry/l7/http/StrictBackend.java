package io.ferry.l7.http;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 endpoint on loopback that parses what the proxy sends it as strictly as RFC 9112 allows — CRLF line
 * ends, no obs-fold, token header names, one {@code Content-Length} or exactly {@code Transfer-Encoding: chunked},
 * well-formed chunks — and keeps count of what it saw: each request read to its end ({@link #complete()}), per
 * client address of the proxy's {@code X-Real-IP}; each connection that ended inside a request
 * ({@link #incomplete()}); and anything it could not parse ({@link #malformed()}), which a proxy must never send.
 * Sockets only, no HTTP library: it shares no code with the proxy or its clients.
 *
 * <p>Every complete request is answered {@code 200} with {@code X-Backend: strict} and the body {@code ok} (none to
 * a {@code HEAD}), on a kept-alive connection.
 */
final class StrictBackend implements AutoCloseable {

    private final ServerSocket server;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicInteger> completeBySource = new ConcurrentHashMap<>();
    private final AtomicInteger complete = new AtomicInteger();
    private final AtomicInteger incomplete = new AtomicInteger();
    private final List<String> malformed = new CopyOnWriteArrayList<>();
    private final List<String> targets = new CopyOnWriteArrayList<>();

    private StrictBackend() throws IOException {
        server = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "strict-backend");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    static StrictBackend start() throws IOException {
        return new StrictBackend();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /** Requests read to their end. */
    int complete() {
        return complete.get();
    }

    /** Requests read to their end whose {@code X-Real-IP} is {@code source}. */
    int complete(String source) {
        AtomicInteger n = completeBySource.get(source);
        return n == null ? 0 : n.get();
    }

    /** Connections that ended in the middle of a request. */
    int incomplete() {
        return incomplete.get();
    }

    /** What could not be parsed, with why: must stay empty. */
    List<String> malformed() {
        return malformed;
    }

    /** The request targets of the complete requests, in order. */
    List<String> targets() {
        return targets;
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
            Thread t = new Thread(() -> serve(s), "strict-backend-conn");
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (true) {
                in.mark(1);
                if (in.read() < 0) {
                    return; // between requests: a clean end
                }
                in.reset();
                String[] line;
                Map<String, String> headers;
                try {
                    line = requestLine(in);
                    headers = new ConcurrentHashMap<>();
                    for (String h; !(h = line(in)).isEmpty(); ) {
                        header(h, headers);
                    }
                    body(in, headers);
                } catch (EOFException e) {
                    incomplete.incrementAndGet();
                    return;
                } catch (Malformed e) {
                    malformed.add(e.getMessage());
                    return;
                }
                complete.incrementAndGet();
                targets.add(line[1]);
                String source = headers.getOrDefault("x-real-ip", "");
                completeBySource.computeIfAbsent(source, k -> new AtomicInteger()).incrementAndGet();
                boolean head = line[0].equals("HEAD");
                out.write(("HTTP/1.1 200 OK\r\nX-Backend: strict\r\nContent-Length: 2\r\n\r\n" + (head ? "" : "ok"))
                                  .getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (IOException e) {
            incomplete.incrementAndGet(); // reset by the proxy
        } finally {
            open.remove(s);
        }
    }

    private static String[] requestLine(InputStream in) throws IOException {
        String l = line(in);
        String[] parts = l.split(" ", -1);
        if (parts.length != 3 || parts[0].isEmpty() || !isToken(parts[0]) || parts[1].isEmpty()
            || !parts[2].equals("HTTP/1.1")) {
            throw new Malformed("request line: " + l);
        }
        for (int i = 0; i < parts[1].length(); i++) {
            char c = parts[1].charAt(i);
            if (c <= 0x20 || c == 0x7f) {
                throw new Malformed("control byte in the target: " + l);
            }
        }
        return parts;
    }

    private static void header(String h, Map<String, String> headers) {
        int colon = h.indexOf(':');
        if (colon <= 0 || !isToken(h.substring(0, colon))) {
            throw new Malformed("header line: " + h);
        }
        String name = h.substring(0, colon).toLowerCase(Locale.ROOT);
        String value = h.substring(colon + 1).strip();
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 && c != '\t' || c == 0x7f) {
                throw new Malformed("control byte in " + name);
            }
        }
        if ((name.equals("content-length") || name.equals("transfer-encoding") || name.equals("host"))
            && headers.containsKey(name)) {
            throw new Malformed("repeated " + name);
        }
        headers.merge(name, value, (a, b) -> a + ", " + b);
    }

    private static void body(InputStream in, Map<String, String> headers) throws IOException {
        String te = headers.get("transfer-encoding");
        String cl = headers.get("content-length");
        if (te != null && cl != null) {
            throw new Malformed("Content-Length with Transfer-Encoding");
        }
        if (te != null) {
            if (!te.equalsIgnoreCase("chunked")) {
                throw new Malformed("Transfer-Encoding: " + te);
            }
            while (true) {
                String size = line(in);
                int semi = size.indexOf(';');
                String hex = semi < 0 ? size : size.substring(0, semi);
                if (hex.isEmpty() || hex.length() > 8 || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                    throw new Malformed("chunk size: " + size);
                }
                int n = Integer.parseInt(hex, 16);
                if (n == 0) {
                    for (String t; !(t = line(in)).isEmpty(); ) {
                        header(t, new ConcurrentHashMap<>());
                    }
                    return;
                }
                skip(in, n);
                if (!line(in).isEmpty()) {
                    throw new Malformed("no CRLF after a chunk");
                }
            }
        }
        if (cl != null) {
            if (cl.isEmpty() || cl.length() > 18 || !cl.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new Malformed("Content-Length: " + cl);
            }
            skip(in, Long.parseLong(cl));
        }
    }

    private static void skip(InputStream in, long n) throws IOException {
        byte[] buf = new byte[8192];
        while (n > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, n));
            if (r < 0) {
                throw new EOFException();
            }
            n -= r;
        }
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException();
            }
            if (c == '\n') {
                throw new Malformed("bare LF after \"" + b.toString(StandardCharsets.ISO_8859_1) + '"');
            }
            if (c == '\r') {
                int lf = in.read();
                if (lf < 0) {
                    throw new EOFException();
                }
                if (lf != '\n') {
                    throw new Malformed("bare CR after \"" + b.toString(StandardCharsets.ISO_8859_1) + '"');
                }
                String l = b.toString(StandardCharsets.ISO_8859_1);
                if (!l.isEmpty() && (l.charAt(0) == ' ' || l.charAt(0) == '\t')) {
                    throw new Malformed("obs-fold: " + l);
                }
                return l;
            }
            b.write(c);
            if (b.size() > 64 * 1024) {
                throw new Malformed("line over 64 KiB");
            }
        }
    }

    private static boolean isToken(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = c > 0x20 && c < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0;
            if (!ok) {
                return false;
            }
        }
        return !s.isEmpty();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open) {
            s.close();
        }
    }

    private static final class Malformed extends RuntimeException {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }
}
