package io.ferry.l7.http;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * An HTTP/1.x client on a plain socket, for tests where the bytes on the wire matter: pipelining, malformed
 * requests, {@code Expect: 100-continue}, HTTP/1.0, responses without a body. It writes exactly what it is given
 * and parses responses strictly (status line, headers, then the body as framed).
 */
final class RawHttp implements AutoCloseable {

    /** A parsed response; header names lowercased. */
    record Response(String version, int status, Map<String, List<String>> headers, byte[] body) {

        /** The first value of {@code name}, or {@code null}. */
        String header(String name) {
            List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
            return v == null ? null : v.get(0);
        }

        boolean has(String name) {
            return headers.containsKey(name.toLowerCase(Locale.ROOT));
        }

        String text() {
            return new String(body, StandardCharsets.ISO_8859_1);
        }

        @Override
        public String toString() {
            return version + " " + status + " " + headers + " " + body.length + " body bytes";
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private RawHttp(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    static RawHttp connect(InetSocketAddress address) throws IOException {
        return connect(address, null);
    }

    /** A connection from {@code from} (any port), or from any local address if {@code null}. */
    static RawHttp connect(InetSocketAddress address, InetAddress from) throws IOException {
        Socket s = new Socket();
        if (from != null) {
            s.bind(new InetSocketAddress(from, 0));
        }
        s.connect(address, 5_000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        return new RawHttp(s);
    }

    /** Writes {@code text} (ISO-8859-1) in one write. */
    RawHttp send(String text) throws IOException {
        return send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    RawHttp send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /** Sends a GET for {@code path} with {@code Host: host} and reads the response. */
    Response get(String host, String path) throws IOException {
        send("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
        return read();
    }

    /** Reads one response to a request that may have a body. */
    Response read() throws IOException {
        return read(false);
    }

    /** Reads one response; {@code toHead}: it answers a HEAD, so it has no body whatever its headers say. */
    Response read(boolean toHead) throws IOException {
        String statusLine = line();
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new IOException("not a status line: " + statusLine);
        }
        int status = Integer.parseInt(parts[1]);
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (String line; !(line = line()).isEmpty(); ) {
            int colon = line.indexOf(':');
            headers.computeIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                   .add(line.substring(colon + 1).trim());
        }
        Response head = new Response(parts[0], status, headers, new byte[0]);
        if (toHead || status < 200 || status == 204 || status == 304) {
            return head;
        }
        byte[] body;
        String te = head.header("transfer-encoding");
        String cl = head.header("content-length");
        if (te != null && te.equalsIgnoreCase("chunked")) {
            body = chunked();
        } else if (cl != null) {
            body = in.readNBytes(Integer.parseInt(cl));
            if (body.length != Integer.parseInt(cl)) {
                throw new EOFException("body cut at " + body.length + " of " + cl + " bytes");
            }
        } else {
            body = in.readAllBytes();
        }
        return new Response(parts[0], status, headers, body);
    }

    private byte[] chunked() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String size = line();
            int semi = size.indexOf(';');
            int n = Integer.parseInt(semi < 0 ? size.trim() : size.substring(0, semi).trim(), 16);
            if (n == 0) {
                while (!line().isEmpty()) {
                    // trailers
                }
                return body.toByteArray();
            }
            byte[] chunk = in.readNBytes(n);
            if (chunk.length != n) {
                throw new EOFException("chunk cut at " + chunk.length + " of " + n + " bytes");
            }
            body.write(chunk);
            if (!line().isEmpty()) {
                throw new IOException("no CRLF after a chunk");
            }
        }
    }

    private String line() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c < 0) {
                throw new EOFException("connection closed after \"" + sb + "\"");
            }
            sb.append((char) c);
        }
        int end = sb.length();
        if (end == 0 || sb.charAt(end - 1) != '\r') {
            throw new IOException("line without CR: " + sb);
        }
        return sb.substring(0, end - 1);
    }

    /**
     * Whether the proxy closed the connection (end of stream or reset) with nothing more to read, waiting up to
     * {@code millis}; {@code false} if it is still open then. Bytes that arrive instead fail the test.
     */
    boolean closedWithin(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            int b = in.read();
            if (b >= 0) {
                throw new AssertionError("expected the connection to close, read byte " + b);
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true; // reset
        } finally {
            socket.setSoTimeout(10_000);
        }
    }

    /** How many bytes can be read until the connection ends, within the socket timeout. */
    long drain() throws IOException {
        long n = 0;
        byte[] buf = new byte[8192];
        try {
            for (int r; (r = in.read(buf)) != -1; ) {
                n += r;
            }
        } catch (SocketException e) {
            // reset: the end as well
        }
        return n;
    }

    /** Reads until {@code limit} bytes have come or the connection ends; returns how many came. */
    long drainUpTo(long limit) throws IOException {
        long n = 0;
        byte[] buf = new byte[64 * 1024];
        while (n < limit) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, limit - n));
            if (r < 0) {
                break;
            }
            n += r;
        }
        return n;
    }

    Socket socket() {
        return socket;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** For raw backends: reads up to and including the blank line that ends a request head. */
    static void readHead(InputStream in) throws IOException {
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed in the head");
            }
            matched = b == end[matched] ? matched + 1 : b == '\r' ? 1 : 0;
        }
    }
}
