package io.ferry.control.churn;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A WebSocket of the churn load, on its own thread: one connection through the proxy to {@code /ws}, opened
 * once, that sends a text message at a set pace and expects the same text back, for the whole run. It is never
 * reopened: any error, close or wrong echo before the run ends counts it dropped. At the end it closes cleanly
 * (a close frame each way).
 */
final class WebSocketLoadClient implements Runnable {

    private final String name;
    private final InetSocketAddress proxy;
    private final String host;
    private final boolean tls;
    private final long intervalNanos;
    private final BooleanSupplier running;
    private final ChurnCounters counters;
    private final SplittableRandom random;
    private volatile boolean open;

    WebSocketLoadClient(String name, InetSocketAddress proxy, String host, boolean tls, long intervalMillis,
                        BooleanSupplier running, ChurnCounters counters) {
        this.name = name;
        this.proxy = proxy;
        this.host = host;
        this.tls = tls;
        this.intervalNanos = TimeUnit.MILLISECONDS.toNanos(intervalMillis);
        this.running = running;
        this.counters = counters;
        this.random = new SplittableRandom(name.hashCode());
    }

    /** Whether the handshake is done and the socket has not failed. */
    boolean isOpen() {
        return open;
    }

    @Override
    public void run() {
        long n = 0;
        try (LoadConnection c = LoadConnection.open(proxy, tls ? host : null)) {
            counters.connections.increment();
            handshake(c);
            open = true;
            counters.openWebSockets.incrementAndGet();
            long next = System.nanoTime();
            while (running.getAsBoolean()) {
                String text = name + " message " + n++;
                writeFrame(c, 0x1, text.getBytes(StandardCharsets.UTF_8));
                String echo = readText(c);
                if (!text.equals(echo)) {
                    throw new IOException("echo " + echo + " (expected: " + text + ')');
                }
                counters.webSocketMessages.increment();
                next += intervalNanos;
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait); // pacing, not waiting for a condition
                }
            }
            writeFrame(c, 0x8, new byte[] {0x03, (byte) 0xe8}); // 1000 normal closure
            int[] opcode = new int[1];
            readFrame(c, opcode);
            if (opcode[0] != 0x8) {
                throw new IOException("opcode " + opcode[0] + " in answer to close (expected: 8)");
            }
        } catch (IOException | RuntimeException e) {
            counters.droppedWebSockets.increment();
            counters.failure(name + " after " + n + " messages: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (open) {
                open = false;
                counters.openWebSockets.decrementAndGet();
            }
        }
    }

    private void handshake(LoadConnection c) throws IOException {
        byte[] nonce = new byte[16];
        random.nextBytes(nonce);
        String request = "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(nonce) + "\r\n"
                         + "Sec-WebSocket-Version: 13\r\n\r\n";
        c.out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        c.out.flush();
        String status = c.readLine();
        while (!c.readLine().isEmpty()) {
            // headers
        }
        if (!status.startsWith("HTTP/1.1 101 ")) {
            throw new IOException("handshake answered " + status);
        }
    }

    /** Writes one final, masked frame (as a client must). */
    private void writeFrame(LoadConnection c, int opcode, byte[] payload) throws IOException {
        if (payload.length > 125) {
            throw new IllegalArgumentException("payload: " + payload.length + " bytes (expected: <= 125)");
        }
        byte[] frame = new byte[6 + payload.length];
        frame[0] = (byte) (0x80 | opcode);
        frame[1] = (byte) (0x80 | payload.length);
        byte[] mask = new byte[4];
        random.nextBytes(mask);
        System.arraycopy(mask, 0, frame, 2, 4);
        for (int i = 0; i < payload.length; i++) {
            frame[6 + i] = (byte) (payload[i] ^ mask[i & 3]);
        }
        c.out.write(frame);
        c.out.flush();
    }

    /** Reads frames until a text frame, answering pings; a close is an error here. */
    private String readText(LoadConnection c) throws IOException {
        int[] opcode = new int[1];
        for (;;) {
            byte[] payload = readFrame(c, opcode);
            switch (opcode[0]) {
                case 0x1 -> {
                    return new String(payload, StandardCharsets.UTF_8);
                }
                case 0x9 -> writeFrame(c, 0xA, payload);
                case 0xA -> { }
                default -> throw new IOException("frame with opcode " + opcode[0] + " (expected: a text echo)");
            }
        }
    }

    private static byte[] readFrame(LoadConnection c, int[] opcode) throws IOException {
        byte[] head = c.readFully(2);
        opcode[0] = head[0] & 0x0f;
        if ((head[1] & 0x80) != 0) {
            throw new IOException("masked frame from the server");
        }
        long length = head[1] & 0x7f;
        if (length == 126) {
            byte[] ext = c.readFully(2);
            length = (ext[0] & 0xff) << 8 | ext[1] & 0xff;
        } else if (length == 127) {
            throw new IOException("frame over 64 KiB");
        }
        return c.readFully((int) length);
    }
}
