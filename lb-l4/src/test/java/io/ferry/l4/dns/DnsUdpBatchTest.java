package io.ferry.l4.dns;

import static io.ferry.l4.dns.DnsMalformedTest.concat;
import static io.ferry.l4.dns.DnsMalformedTest.message;
import static io.ferry.l4.dns.DnsMalformedTest.question;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.Transport;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Queries that arrive together over UDP, as a busy resolver sends them: on epoll the server reads them several per
 * system call ({@code recvmmsg}, {@link DnsServer#RECV_BATCH} at most, each in a {@link DnsServer#MAX_QUERY}-byte
 * slot of one buffer) and answers them in one {@code sendmmsg}. Every answer must still carry its own query's ID and
 * question, and a query of 2,048 bytes must still be read whole.
 */
class DnsUdpBatchTest {

    private static final String ZONE = "cluster.local";
    private static final String[] NAMES = {
            "web.ns.svc." + ZONE, "db.ns.svc." + ZONE, "nope.ns.svc." + ZONE, "DB-0.db.ns.svc." + ZONE,
            "v6.ns.svc." + ZONE };
    /** The rcode and answer count of each name's A query, in the order of {@link #NAMES}. */
    private static final int[][] EXPECTED = {{0, 1}, {0, 3}, {3, 0}, {0, 1}, {0, 0}};

    private static final int LONG_QUERY = 2048;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private DnsServer server;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private void start(Transport.Kind kind) throws Exception {
        assumeTrue(kind.isAvailable(), kind + " not available");
        Transport transport = Transport.create(kind, 1);
        closeables.add(transport);
        server = DnsServer.start(transport, DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 0)).build());
        closeables.add(server);
        server.apply(DnsServerTest.cluster().build());
    }

    private DatagramSocket socket() throws IOException {
        DatagramSocket s = new DatagramSocket();
        s.setSoTimeout(500);
        s.setReceiveBufferSize(1 << 20);
        closeables.add(s);
        return s;
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void burstsOfQueriesAreEachAnsweredWithTheirOwnIdAndQuestion(Transport.Kind kind) throws Exception {
        start(kind);
        DatagramSocket s = socket();
        int total = 400;
        int burst = 50;
        Map<Integer, byte[]> replies = new HashMap<>();
        // Sent back to back, a burst at a time; any datagram the loopback drops is sent again (at most 10 times).
        for (int attempt = 0; attempt < 10 && replies.size() < total; attempt++) {
            for (int from = 0; from < total; from += burst) {
                int sent = 0;
                for (int id = from; id < from + burst; id++) {
                    if (!replies.containsKey(id)) {
                        byte[] q = query(id);
                        s.send(new DatagramPacket(q, q.length, server.localAddress()));
                        sent++;
                    }
                }
                for (int i = 0; i < sent; i++) {
                    byte[] r = receive(s);
                    if (r == null) {
                        break;
                    }
                    replies.put(u16(r, 0), r);
                }
            }
        }
        assertThat(replies).hasSize(total);
        for (Map.Entry<Integer, byte[]> e : replies.entrySet()) {
            int id = e.getKey();
            byte[] r = e.getValue();
            byte[] q = query(id);
            int name = id % NAMES.length;
            assertThat(r[2] & 0x80).as("QR of %d", id).isNotZero();
            assertThat(r[3] & 0xF).as("rcode of %d (%s)", id, NAMES[name]).isEqualTo(EXPECTED[name][0]);
            assertThat(u16(r, 6)).as("answers of %d (%s)", id, NAMES[name]).isEqualTo(EXPECTED[name][1]);
            // The question is echoed as it was asked, case included.
            assertThat(Arrays.copyOfRange(r, 12, q.length)).as("question of %d", id)
                                                           .isEqualTo(Arrays.copyOfRange(q, 12, q.length));
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aQueryAsLongAsAReadSlotIsReadWhole(Transport.Kind kind) throws Exception {
        start(kind);
        DatagramSocket s = socket();
        byte[] q = question("web.ns.svc." + ZONE, 1);
        // An OPT record whose data is one EDNS padding option (RFC 7830) that fills the datagram to 2,048 bytes,
        // what Netty reads a datagram into by default, and so what the server read before it read in batches.
        int padding = LONG_QUERY - 12 - q.length - 11 - 4;
        byte[] opt = new byte[11 + 4 + padding];
        opt[2] = 41;
        opt[3] = (byte) (1232 >> 8);
        opt[4] = (byte) 1232;
        opt[9] = (byte) ((4 + padding) >> 8);
        opt[10] = (byte) (4 + padding);
        opt[12] = 12;
        opt[13] = (byte) (padding >> 8);
        opt[14] = (byte) padding;
        byte[] msg = message(77, 0x0100, 1, 0, 0, 1, concat(q, opt));
        assertThat(msg).hasSize(LONG_QUERY);
        byte[] r = null;
        for (int i = 0; i < 20 && r == null; i++) {
            s.send(new DatagramPacket(msg, msg.length, server.localAddress()));
            r = receive(s);
        }
        assertThat(r).as("an answer").isNotNull();
        assertThat(u16(r, 0)).isEqualTo(77);
        assertThat(r[3] & 0xF).as("rcode").isZero();
        assertThat(u16(r, 6)).as("answers").isEqualTo(1);
        assertThat(u16(r, 10)).as("the OPT record back").isEqualTo(1);
    }

    /** An A query with ID {@code id} for one of {@link #NAMES}, in a case that depends on the ID. */
    private static byte[] query(int id) {
        String name = NAMES[id % NAMES.length];
        if ((id & 1) == 1) {
            name = name.toUpperCase(java.util.Locale.ROOT);
        }
        return message(id, 0x0100, 1, 0, 0, 0, question(name, 1));
    }

    private static byte[] receive(DatagramSocket s) throws IOException {
        byte[] buf = new byte[4096];
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        try {
            s.receive(p);
        } catch (SocketTimeoutException e) {
            return null;
        }
        return Arrays.copyOf(buf, p.getLength());
    }

    private static int u16(byte[] m, int at) {
        return (m[at] & 0xFF) << 8 | (m[at + 1] & 0xFF);
    }
}
