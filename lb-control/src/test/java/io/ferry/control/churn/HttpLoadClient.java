package io.ferry.control.churn;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A keep-alive HTTP/1.1 client of the churn load, on its own thread: sends {@code GET /<name>/<n>} to one host
 * through the proxy, at a set pace, over one connection for as long as the proxy keeps it (or a new connection
 * per request, to exercise accepts and TLS handshakes under churn). A request counts as done only when its
 * response is a {@code 200} whose body a backend wrote for that very URI; anything else (an error status, a
 * reset, a close before the response ended, a stall over the read timeout) is a failed request.
 */
final class HttpLoadClient implements Runnable {

    private final String name;
    private final InetSocketAddress proxy;
    private final String host;
    private final boolean tls;
    private final boolean connectionPerRequest;
    private final long intervalNanos;
    private final BooleanSupplier running;
    private final ChurnCounters counters;
    private LoadConnection connection;

    /**
     * @param ratePerSecond requests a second; 0 for as fast as the responses come
     */
    HttpLoadClient(String name, InetSocketAddress proxy, String host, boolean tls, boolean connectionPerRequest,
                   double ratePerSecond, BooleanSupplier running, ChurnCounters counters) {
        this.name = name;
        this.proxy = proxy;
        this.host = host;
        this.tls = tls;
        this.connectionPerRequest = connectionPerRequest;
        this.intervalNanos = ratePerSecond <= 0 ? 0 : (long) (TimeUnit.SECONDS.toNanos(1) / ratePerSecond);
        this.running = running;
        this.counters = counters;
    }

    @Override
    public void run() {
        long next = System.nanoTime();
        for (long n = 0; running.getAsBoolean(); n++) {
            String uri = '/' + name + '/' + n;
            counters.requests.increment();
            try {
                if (connection == null) {
                    connection = LoadConnection.open(proxy, tls ? host : null);
                    counters.connections.increment();
                    if (connection.serial() != null) {
                        counters.certificateSerials.add(connection.serial());
                    }
                }
                boolean keepAlive = exchange(uri);
                if (!keepAlive || connectionPerRequest) {
                    if (!keepAlive) {
                        counters.serverCloses.increment();
                    }
                    closeConnection();
                }
            } catch (IOException | RuntimeException e) {
                counters.failedRequests.increment();
                counters.failure(name + ' ' + uri + ": " + e);
                closeConnection();
            }
            if (intervalNanos > 0) {
                next += intervalNanos;
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    try {
                        TimeUnit.NANOSECONDS.sleep(wait); // pacing, not waiting for a condition
                    } catch (InterruptedException e) {
                        break;
                    }
                } else {
                    next = System.nanoTime(); // behind: do not burst to catch up
                }
            }
        }
        closeConnection();
    }

    /** One request and its response; returns whether the connection may carry the next one. */
    private boolean exchange(String uri) throws IOException {
        String request = "GET " + uri + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: ferry-churn\r\n\r\n";
        connection.out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        connection.out.flush();
        String status = connection.readLine();
        int contentLength = -1;
        boolean chunked = false;
        boolean close = false;
        for (String line; !(line = connection.readLine()).isEmpty();) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                throw new IOException("bad header line: " + line);
            }
            String field = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            switch (field) {
                case "content-length" -> contentLength = Integer.parseInt(value);
                case "transfer-encoding" -> chunked = value.equalsIgnoreCase("chunked");
                case "connection" -> close = value.equalsIgnoreCase("close");
                default -> { }
            }
        }
        String body = new String(chunked ? readChunked() : connection.readFully(Math.max(contentLength, 0)),
                                 StandardCharsets.UTF_8);
        if (!status.startsWith("HTTP/1.1 200 ")) {
            throw new IOException("status " + status + ", body " + abbreviate(body));
        }
        if (!ChurnBackend.answers(body, uri)) {
            throw new IOException("wrong body " + abbreviate(body));
        }
        return !close;
    }

    private byte[] readChunked() throws IOException {
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        for (;;) {
            String size = connection.readLine();
            int semi = size.indexOf(';');
            int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
            if (n == 0) {
                while (!connection.readLine().isEmpty()) {
                    // trailers
                }
                return body.toByteArray();
            }
            body.write(connection.readFully(n));
            connection.readLine();
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    private void closeConnection() {
        if (connection != null) {
            connection.close();
            connection = null;
        }
    }
}
