package io.ferry.l4.dns;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays queries for names outside the zone to the upstream resolvers, and resolves the targets of CNAMEs that
 * leave the zone (ExternalName Services) so that the answer carries their addresses, as the specification's
 * example shows.
 *
 * <p>One per event loop, confined to it: its UDP socket, its table of waiting queries (by a fresh random ID, so
 * the client's own ID never reaches an upstream), its timers. Upstreams are tried in order, each for the upstream
 * timeout; when all have failed the client gets SERVFAIL. A reply is accepted only from the upstream the query
 * went to, with the ID and question it was sent with. Queries that came over TCP go upstream over TCP, on a
 * connection of their own. Nothing here blocks and nothing resolves a name through the JDK.
 */
final class DnsForwarder {

    private static final Logger logger = LoggerFactory.getLogger(DnsForwarder.class);

    private final DnsServer server;
    private final EventLoop loop;
    private final List<InetSocketAddress> upstreams;
    private final long timeoutMillis;
    private final int maxPending;
    private final DnsStats stats;
    private final SecureRandom random = nonBlockingRandom();
    private final IntObjectHashMap<Pending> byId = new IntObjectHashMap<>();
    private final Set<Pending> overTcp = new HashSet<>();
    private Channel udp;
    private boolean closed;

    DnsForwarder(DnsServer server, EventLoop loop, List<InetSocketAddress> upstreams) {
        this.server = server;
        this.loop = loop;
        this.upstreams = List.copyOf(upstreams);
        this.timeoutMillis = server.config().upstreamTimeout().toMillis();
        this.maxPending = server.config().maxPendingForwards();
        this.stats = server.stats();
    }

    /** IDs must be unguessable (they and the upstream's address are what a spoofed reply has to match). */
    private static SecureRandom nonBlockingRandom() {
        try {
            return SecureRandom.getInstance("NativePRNGNonBlocking");
        } catch (NoSuchAlgorithmException e) {
            return new SecureRandom();
        }
    }

    /** Binds the upstream socket on this forwarder's loop. Blocks: call it on the control thread. */
    void bind() throws InterruptedException {
        boolean v6 = upstreams.stream().anyMatch(u -> u.getAddress() instanceof Inet6Address);
        InetSocketAddress local = v6 ? new InetSocketAddress("::", 0) : new InetSocketAddress("0.0.0.0", 0);
        ChannelFuture f = new Bootstrap().group(loop)
                                         .channel(server.transport().datagramChannelType())
                                         .handler(new UdpReplyHandler())
                                         .bind(local).await();
        if (!f.isSuccess()) {
            throw new IllegalStateException("cannot bind the DNS forwarder's socket: " + f.cause(), f.cause());
        }
        udp = f.channel();
    }

    /** Forgets every waiting query (releasing its buffers, answering none) and closes the socket. */
    void close() {
        loop.submit(() -> {
            closed = true;
            List<Pending> all = new ArrayList<>(byId.values());
            all.addAll(overTcp);
            for (Pending p : all) {
                finish(p);
            }
            if (udp != null) {
                udp.close();
            }
        }).awaitUninterruptibly();
    }

    /** Relays the client's query ({@code msg}, not released here) to an upstream; its answer goes back as is. */
    void forward(DnsClient client, ByteBuf msg, DnsQuery q, int limit, long startNanos) {
        stats.forwarded.increment();
        ByteBuf query = client.channel.alloc().buffer(msg.readableBytes()).writeBytes(msg, msg.readerIndex(),
                                                                                     msg.readableBytes());
        start(new Relay(client, query, q.questionLength, limit, startNanos, q.id, q.flags));
    }

    /**
     * Resolves {@code answer.chase} (a CNAME target outside the zone) upstream for the client's A or AAAA query,
     * then answers with the chain of CNAMEs and the upstream's records. Without an upstream answer the chain alone
     * is sent.
     */
    void chase(DnsClient client, ByteBuf msg, DnsQuery q, DnsTable.Answer answer, int limit, long startNanos) {
        stats.chased.increment();
        byte[] question = new byte[q.questionLength];
        msg.getBytes(q.questionOffset, question);
        byte[] target = answer.chase;
        ByteBuf query = client.channel.alloc().buffer(12 + target.length + 4 + DnsResponder.OPT_LENGTH);
        query.writeShort(0);
        query.writeShort(DnsResponder.FLAG_RD);
        query.writeShort(1);
        query.writeShort(0);
        query.writeShort(0);
        query.writeShort(1);
        query.writeBytes(target);
        query.writeShort(q.qtype);
        query.writeShort(DnsTable.CLASS_IN);
        DnsResponder.writeOpt(query, server.config().maxUdpPayload(), 0, false);
        start(new Chase(client, query, target.length + 4, limit, startNanos, q, question, answer));
    }

    private void start(Pending p) {
        if (closed || byId.size() + overTcp.size() >= maxPending) {
            stats.forwardFailures.increment();
            p.fail();
            finish(p);
            return;
        }
        send(p);
    }

    private void send(Pending p) {
        if (closed) {
            finish(p);
            return;
        }
        if (p.attempt >= upstreams.size()) {
            stats.forwardFailures.increment();
            p.fail();
            finish(p);
            return;
        }
        InetSocketAddress upstream = upstreams.get(p.attempt++);
        p.upstream = upstream;
        int fresh;
        do {
            fresh = random.nextInt() & 0xFFFF;
        } while (byId.containsKey(fresh));
        int id = fresh;
        p.id = id;
        p.query.setShort(0, id);
        // The timer first: a connect that fails at once moves on to the next upstream (with its own timer) before
        // connect() returns.
        p.timer = loop.schedule(() -> timedOut(p, id), timeoutMillis, TimeUnit.MILLISECONDS);
        if (p.client.tcp) {
            connect(p, upstream);
        } else {
            byId.put(id, p);
            udp.writeAndFlush(new DatagramPacket(p.query.retainedDuplicate(), upstream));
        }
    }

    private void connect(Pending p, InetSocketAddress upstream) {
        ChannelFuture f = new Bootstrap()
                .group(loop)
                .channel(server.transport().socketChannelType())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeoutMillis))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(65535 + 2, 0, 2, 0, 2),
                                              new TcpReplyHandler(p));
                    }
                })
                .connect(upstream);
        p.channel = f.channel();
        overTcp.add(p);
        f.addListener((ChannelFuture cf) -> {
            if (p.channel != cf.channel() || p.done) {
                return;
            }
            if (cf.isSuccess()) {
                ByteBuf out = cf.channel().alloc().buffer(2 + p.query.readableBytes());
                out.writeShort(p.query.readableBytes());
                out.writeBytes(p.query, p.query.readerIndex(), p.query.readableBytes());
                cf.channel().writeAndFlush(out);
            } else {
                detach(p);
                send(p);
            }
        });
    }

    private void timedOut(Pending p, int id) {
        if (p.done || p.id != id) {
            return;
        }
        stats.forwardTimeouts.increment();
        detach(p);
        send(p);
    }

    /** Stops waiting on the current attempt of {@code p}. */
    private void detach(Pending p) {
        if (p.timer != null) {
            p.timer.cancel(false);
            p.timer = null;
        }
        if (byId.get(p.id) == p) {
            byId.remove(p.id);
        }
        if (p.channel != null) {
            Channel c = p.channel;
            p.channel = null;
            overTcp.remove(p);
            c.close();
        }
    }

    private void finish(Pending p) {
        if (!p.done) {
            p.done = true;
            detach(p);
            p.query.release();
        }
    }

    /** Whether {@code reply} answers the current attempt of {@code p}: its ID, QR set, the same question. */
    private static boolean answers(Pending p, ByteBuf reply) {
        int r = reply.readerIndex();
        if (reply.readableBytes() < 12 + p.questionLength || reply.getUnsignedShort(r) != p.id
            || (reply.getUnsignedByte(r + 2) & 0x80) == 0 || reply.getUnsignedShort(r + 4) != 1) {
            return false;
        }
        int s = p.query.readerIndex() + 12;
        for (int i = 0; i < p.questionLength; i++) {
            if (DnsName.lower(reply.getUnsignedByte(r + 12 + i)) != DnsName.lower(p.query.getUnsignedByte(s + i))) {
                return false;
            }
        }
        return true;
    }

    private void replied(Pending p, ByteBuf reply) {
        detach(p);
        try {
            p.complete(reply);
        } finally {
            finish(p);
        }
    }

    /** Replies on the UDP socket. */
    private final class UdpReplyHandler extends SimpleChannelInboundHandler<DatagramPacket> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
            ByteBuf reply = packet.content();
            if (reply.readableBytes() < 12) {
                return;
            }
            Pending p = byId.get(reply.getUnsignedShort(reply.readerIndex()));
            if (p == null || !packet.sender().equals(p.upstream) || !answers(p, reply)) {
                return; // late, spoofed or stray
            }
            replied(p, reply);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            logger.debug("DNS forwarder socket: {}", cause.toString());
        }
    }

    /** The reply on one TCP connection to an upstream. */
    private final class TcpReplyHandler extends SimpleChannelInboundHandler<ByteBuf> {
        private final Pending p;

        TcpReplyHandler(Pending p) {
            this.p = p;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf reply) {
            if (p.channel == ctx.channel() && !p.done && answers(p, reply)) {
                replied(p, reply);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (p.channel == ctx.channel() && !p.done) {
                detach(p);
                send(p);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            logger.debug("DNS upstream {}: {}", p.upstream, cause.toString());
            ctx.close();
        }
    }

    /** One query waiting on an upstream. */
    private abstract static class Pending {
        final DnsClient client;
        /** What is sent upstream (owned; its ID is rewritten for each attempt). */
        final ByteBuf query;
        final int questionLength;
        final int limit;
        final long startNanos;
        int attempt;
        int id = -1;
        InetSocketAddress upstream;
        ScheduledFuture<?> timer;
        Channel channel;
        boolean done;

        Pending(DnsClient client, ByteBuf query, int questionLength, int limit, long startNanos) {
            this.client = client;
            this.query = query;
            this.questionLength = questionLength;
            this.limit = limit;
            this.startNanos = startNanos;
        }

        /** Answers the client from an upstream's {@code reply} (not released here). */
        abstract void complete(ByteBuf reply);

        /** Answers the client when no upstream did. */
        abstract void fail();
    }

    /** A client's query relayed as it is; the reply goes back with the client's ID. */
    private final class Relay extends Pending {
        private final int clientId;
        private final int clientFlags;

        Relay(DnsClient client, ByteBuf query, int questionLength, int limit, long startNanos, int clientId,
              int clientFlags) {
            super(client, query, questionLength, limit, startNanos);
            this.clientId = clientId;
            this.clientFlags = clientFlags;
        }

        @Override
        void complete(ByteBuf reply) {
            int rcode = reply.getUnsignedByte(reply.readerIndex() + 3) & 0xF;
            ByteBuf out;
            if (reply.readableBytes() > limit) {
                stats.truncated.increment();
                out = header(DnsResponder.FLAG_TC | rcode);
            } else {
                out = client.channel.alloc().ioBuffer(reply.readableBytes());
                out.writeBytes(reply, reply.readerIndex(), reply.readableBytes());
                out.setShort(0, clientId);
            }
            stats.response(rcode, startNanos);
            client.send(out);
        }

        @Override
        void fail() {
            stats.response(DnsResponder.SERVFAIL, startNanos);
            client.send(header(DnsResponder.SERVFAIL));
        }

        /** A header and the client's question, with no records. */
        private ByteBuf header(int flagsAndRcode) {
            ByteBuf out = client.channel.alloc().ioBuffer(12 + questionLength);
            out.writeShort(clientId);
            out.writeShort(DnsResponder.FLAG_QR | DnsResponder.FLAG_RA
                           | (clientFlags & (DnsResponder.FLAG_RD | DnsResponder.FLAG_CD)) | flagsAndRcode);
            out.writeShort(1);
            out.writeZero(6);
            out.writeBytes(query, query.readerIndex() + 12, questionLength);
            return out;
        }
    }

    /** A CNAME target resolved upstream for an in-zone answer. */
    private final class Chase extends Pending {
        private final int clientId;
        private final int clientFlags;
        private final boolean edns;
        private final boolean dnssecOk;
        private final byte[] question;
        private final DnsTable.Answer answer;

        Chase(DnsClient client, ByteBuf query, int questionLength, int limit, long startNanos, DnsQuery q,
              byte[] question, DnsTable.Answer answer) {
            super(client, query, questionLength, limit, startNanos);
            this.clientId = q.id;
            this.clientFlags = q.flags;
            this.edns = q.edns;
            this.dnssecOk = q.dnssecOk;
            this.question = question;
            this.answer = answer;
        }

        @Override
        void complete(ByteBuf reply) {
            int r = reply.readerIndex();
            int flags = reply.getUnsignedShort(r + 2);
            if ((flags & DnsResponder.FLAG_TC) != 0) {
                // Too big for UDP upstream, so too big for the client: it retries over TCP, and so do we.
                stats.truncated.increment();
                send(DnsResponder.NOERROR, true, null, 0);
                return;
            }
            int rcode = (flags & 0xF) == DnsResponder.NXDOMAIN ? DnsResponder.NXDOMAIN : DnsResponder.NOERROR;
            ByteBuf records = client.channel.alloc().heapBuffer(256);
            try {
                int count = ChasedRecords.copy(reply, records);
                send(rcode, false, records, count);
            } finally {
                records.release();
            }
        }

        @Override
        void fail() {
            send(DnsResponder.NOERROR, false, null, 0);
        }

        private void send(int rcode, boolean truncated, ByteBuf records, int count) {
            int recordsLength = records == null ? 0 : records.readableBytes();
            int size = 12 + question.length + answer.answerLength + recordsLength + (edns ? DnsResponder.OPT_LENGTH : 0);
            if (size > limit) {
                truncated = true;
                stats.truncated.increment();
            }
            int answers = truncated ? 0 : answer.answerCount + count;
            ByteBuf out = client.channel.alloc().ioBuffer(truncated ? 12 + question.length + 11 : size);
            out.writeShort(clientId);
            out.writeShort(DnsResponder.FLAG_QR | DnsResponder.FLAG_AA | DnsResponder.FLAG_RA
                           | (truncated ? DnsResponder.FLAG_TC : 0)
                           | (clientFlags & (DnsResponder.FLAG_RD | DnsResponder.FLAG_CD)) | rcode);
            out.writeShort(1);
            out.writeShort(answers);
            out.writeShort(0);
            out.writeShort(edns ? 1 : 0);
            out.writeBytes(question);
            if (!truncated) {
                out.writeBytes(answer.bytes, 0, answer.answerLength);
                if (records != null) {
                    out.writeBytes(records, records.readerIndex(), recordsLength);
                }
            }
            if (edns) {
                DnsResponder.writeOpt(out, server.config().maxUdpPayload(), rcode, dnssecOk);
            }
            stats.response(rcode, startNanos);
            client.send(out);
        }
    }
}
