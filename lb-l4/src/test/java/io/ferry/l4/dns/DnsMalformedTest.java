package io.ferry.l4.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.Transport;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Bad bytes from clients, over raw UDP and TCP sockets: each is answered FORMERR (or NOTIMP, BADVERS) or dropped,
 * counted, and the server answers the next good query.
 */
class DnsMalformedTest {

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
        Transport transport = Transport.create(kind, 2);
        closeables.add(transport);
        server = DnsServer.start(transport, DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 0)).build());
        closeables.add(server);
        server.apply(DnsServerTest.cluster().build());
    }

    /** A message: header fields, then {@code body} as is. */
    static byte[] message(int id, int flags, int qd, int an, int ns, int ar, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(12 + body.length);
        b.putShort((short) id).putShort((short) flags).putShort((short) qd).putShort((short) an)
         .putShort((short) ns).putShort((short) ar).put(body);
        return b.array();
    }

    /** A question for {@code name} and {@code type}, class IN. */
    static byte[] question(String name, int type) {
        byte[] wire = DnsName.toWire(name);
        byte[] q = Arrays.copyOf(wire, wire.length + 4);
        q[wire.length + 1] = (byte) type;
        q[wire.length + 3] = 1;
        return q;
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** An OPT record: root owner, the given payload size and version. */
    static byte[] opt(int payload, int version) {
        return new byte[] {0, 0, 41, (byte) (payload >> 8), (byte) payload, 0, (byte) version, 0, 0, 0, 0};
    }

    private DatagramSocket socket() throws IOException {
        DatagramSocket s = new DatagramSocket();
        s.setSoTimeout(300);
        closeables.add(s);
        return s;
    }

    private void send(DatagramSocket s, byte[] msg) throws IOException {
        s.send(new DatagramPacket(msg, msg.length, server.localAddress()));
    }

    /** The next datagram, or null if none comes within the socket's timeout. */
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

    private static int rcode(byte[] m) {
        return m[3] & 0xF;
    }

    private byte[] ask(DatagramSocket s, byte[] msg) throws IOException {
        for (int i = 0; i < 20; i++) {
            send(s, msg);
            byte[] r = receive(s);
            if (r != null) {
                return r;
            }
        }
        throw new AssertionError("no answer");
    }

    private void stillAnswers(DatagramSocket s) throws IOException {
        byte[] r = ask(s, message(4242, 0x0100, 1, 0, 0, 0, question("web.ns.svc.cluster.local", 1)));
        assertThat(u16(r, 0)).isEqualTo(4242);
        assertThat(rcode(r)).isZero();
        assertThat(u16(r, 6)).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void badHeadersAndQuestionsAreAnsweredFormerr(Transport.Kind kind) throws Exception {
        start(kind);
        DatagramSocket s = socket();
        byte[] q = question("web.ns.svc.cluster.local", 1);
        byte[][] bad = {
                message(1, 0x0100, 0, 0, 0, 0, new byte[0]),                          // no question
                message(2, 0x0100, 2, 0, 0, 0, concat(q, q)),                         // two questions
                message(3, 0x0100, 1, 0, 0, 0, Arrays.copyOf(q, 10)),                 // the name is cut
                message(4, 0x0100, 1, 0, 0, 0, Arrays.copyOf(q, q.length - 2)),       // no class
                message(5, 0x0100, 1, 0, 0, 0, new byte[] {(byte) 0xC0, 12, 0, 1, 0, 1}), // a pointer in a question
                message(6, 0x0100, 1, 0, 0, 0, new byte[] {70, 'a', 0, 0, 1, 0, 1}),  // a label over 63
                message(7, 0x0100, 1, 0, 0, 1, q),                                    // a missing additional record
                message(8, 0x0100, 1, 0, 0, 2, concat(q, opt(1232, 0), opt(1232, 0))), // two OPT records
                message(9, 0x0100, 1, 1, 0, 0, concat(q, opt(1232, 0))),              // OPT in the answer section
        };
        for (byte[] m : bad) {
            byte[] r = ask(s, m);
            assertThat(u16(r, 0)).isEqualTo(u16(m, 0));
            assertThat(r[2] & 0x80).as("QR").isNotZero();
            assertThat(rcode(r)).as("rcode of query %d", u16(m, 0)).isEqualTo(DnsResponder.FORMERR);
        }
        assertThat(server.stats().malformedAnswered()).isGreaterThanOrEqualTo(bad.length);
        stillAnswers(s);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void otherOpcodesAreNotImplementedAndOtherEdnsVersionsBadvers(Transport.Kind kind) throws Exception {
        start(kind);
        DatagramSocket s = socket();
        byte[] q = question("web.ns.svc.cluster.local", 1);
        byte[] notify = ask(s, message(10, 4 << 11, 1, 0, 0, 0, q));
        assertThat(rcode(notify)).isEqualTo(DnsResponder.NOTIMP);
        byte[] badvers = ask(s, message(11, 0x0100, 1, 0, 0, 1, concat(q, opt(1232, 1))));
        assertThat(rcode(badvers)).isZero();
        assertThat(u16(badvers, 10)).isEqualTo(1); // the OPT record carries the upper bits
        int optAt = badvers.length - 11;
        assertThat(badvers[optAt + 5]).as("extended rcode").isEqualTo((byte) 1);
        byte[] chaos = ask(s, message(12, 0x0100, 1, 0, 0, 0, new byte[] {7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 4,
                                                                        'b', 'i', 'n', 'd', 0, 0, 16, 0, 3}));
        assertThat(rcode(chaos)).isEqualTo(DnsResponder.REFUSED);
        stillAnswers(s);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void shortMessagesAndResponsesAreDroppedAndCounted(Transport.Kind kind) throws Exception {
        start(kind);
        DatagramSocket s = socket();
        send(s, new byte[] {1, 2, 3, 4, 5});
        send(s, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
        byte[] response = message(13, 0x8100, 1, 0, 0, 0, question("web.ns.svc.cluster.local", 1));
        send(s, response);
        await().until(() -> server.stats().malformedDropped() >= 3);
        assertThat(receive(s)).isNull();
        stillAnswers(s);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void randomBytesNeverStopTheServer(Transport.Kind kind) throws Exception {
        start(kind);
        DatagramSocket s = socket();
        Random random = new Random(9);
        int sent = 0;
        for (int batch = 0; batch < 10; batch++) {
            // In batches, so that no datagram is lost to a full socket buffer.
            for (int i = 0; i < 50; i++) {
                byte[] junk = new byte[1 + random.nextInt(120)];
                random.nextBytes(junk);
                send(s, junk);
            }
            sent += 50;
            int expected = sent;
            await().until(() -> server.stats().udpQueries() >= expected);
        }
        // Short, or with QR set: dropped; the rest mostly have an opcode other than QUERY (NOTIMP) or a bad body.
        assertThat(server.stats().malformed()).isGreaterThan(sent / 4);
        s.setSoTimeout(50);
        byte[] r;
        while ((r = receive(s)) != null) {
            assertThat(r[2] & 0x80).as("every reply is a response").isNotZero();
        }
        s.setSoTimeout(300);
        stillAnswers(s);
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void overTcpABadQueryIsAnsweredAndANonQueryClosesTheConnection(Transport.Kind kind) throws Exception {
        start(kind);
        try (Socket t = new Socket()) {
            t.connect(server.localAddress(), 5_000);
            t.setSoTimeout(5_000);
            DataOutputStream out = new DataOutputStream(t.getOutputStream());
            DataInputStream in = new DataInputStream(t.getInputStream());
            byte[] noQuestion = message(21, 0x0100, 0, 0, 0, 0, new byte[0]);
            byte[] good = message(22, 0x0100, 1, 0, 0, 0, question("web.ns.svc.cluster.local", 1));
            for (byte[] m : new byte[][] {noQuestion, good}) {
                out.writeShort(m.length);
                out.write(m);
            }
            out.flush();
            byte[] first = new byte[in.readUnsignedShort()];
            in.readFully(first);
            assertThat(u16(first, 0)).isEqualTo(21);
            assertThat(rcode(first)).isEqualTo(DnsResponder.FORMERR);
            byte[] second = new byte[in.readUnsignedShort()];
            in.readFully(second);
            assertThat(u16(second, 0)).isEqualTo(22);
            assertThat(rcode(second)).isZero();
            out.writeShort(3);
            out.write(new byte[] {1, 2, 3});
            out.flush();
            assertThat(in.read()).as("closed").isEqualTo(-1);
        }
        stillAnswers(socket());
    }
}
