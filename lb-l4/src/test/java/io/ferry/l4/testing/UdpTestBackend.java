package io.ferry.l4.testing;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A blocking UDP "who am I" server on loopback that stands for a Service's endpoint in tests. Deliberately not Netty:
 * the proxy under test should meet a peer that shares none of its code.
 *
 * <p>To every datagram it answers {@code "<name> <source port> <payload>"}: which endpoint answered, and from which
 * port the datagram came (the proxy's upstream socket of that flow). A payload {@code "drip <count> <millis>"} is
 * answered {@code count} times, {@code millis} apart, with {@code "<name> <source port> drip <i>"}: a stream of
 * replies with nothing from the client in between. Every source it saw is kept.
 */
public final class UdpTestBackend implements AutoCloseable {

    private final String name;
    private final DatagramSocket socket;
    private final Thread reader;
    private final Set<InetSocketAddress> sources = ConcurrentHashMap.newKeySet();
    private final AtomicInteger received = new AtomicInteger();

    private UdpTestBackend(String name, InetAddress address) throws SocketException {
        this.name = name;
        this.socket = new DatagramSocket(new InetSocketAddress(address, 0));
        this.reader = new Thread(this::readLoop, "udp-test-backend-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts a backend named {@code name} on 127.0.0.1 and an ephemeral port. */
    public static UdpTestBackend start(String name) throws SocketException {
        return new UdpTestBackend(name, InetAddress.getLoopbackAddress());
    }

    private void readLoop() {
        byte[] buf = new byte[65_536];
        while (!socket.isClosed()) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(p);
                received.incrementAndGet();
                InetSocketAddress from = (InetSocketAddress) p.getSocketAddress();
                sources.add(from);
                String payload = new String(p.getData(), p.getOffset(), p.getLength(), StandardCharsets.UTF_8);
                String prefix = name + ' ' + from.getPort() + ' ';
                if (payload.startsWith("drip ")) {
                    String[] parts = payload.split(" ");
                    drip(from, prefix, Integer.parseInt(parts[1]), Long.parseLong(parts[2]));
                } else {
                    send(from, prefix + payload);
                }
            } catch (IOException e) {
                // closed, or the proxy's upstream socket went away before our reply: carry on until closed
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void drip(InetSocketAddress to, String prefix, int count, long millis)
            throws IOException, InterruptedException {
        for (int i = 0; i < count; i++) {
            if (i > 0) {
                Thread.sleep(millis);
            }
            send(to, prefix + "drip " + i);
        }
    }

    private void send(InetSocketAddress to, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        socket.send(new DatagramPacket(b, b.length, to));
    }

    public String name() {
        return name;
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    /** Every address datagrams came from. */
    public Set<InetSocketAddress> sources() {
        return Set.copyOf(sources);
    }

    /** How many datagrams it has read. */
    public int received() {
        return received.get();
    }

    @Override
    public void close() {
        socket.close();
        try {
            reader.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
