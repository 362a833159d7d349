package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;
import io.netty.channel.AddressedEnvelope;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRecordDecoder;
import io.netty.handler.codec.dns.DnsPtrRecord;
import io.netty.handler.codec.dns.DnsRawRecord;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponse;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.resolver.ResolvedAddressTypes;
import io.netty.resolver.dns.DnsNameResolver;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.NoopAuthoritativeDnsServerCache;
import io.netty.resolver.dns.NoopDnsCache;
import io.netty.resolver.dns.NoopDnsCnameCache;
import io.netty.resolver.dns.SingletonDnsServerAddressStreamProvider;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real resolver client for the tests: Netty's {@link DnsNameResolver}, pointed at one server, with every cache
 * off. Responses are turned into {@link Reply} (plain strings) and released at once.
 */
final class DnsTestClient implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final InetSocketAddress server;
    private final DnsNameResolver resolver;

    /**
     * @param edns        the EDNS0 buffer size to advertise, or 0 for no OPT record (a 512-byte limit)
     * @param tcpFallback whether to retry over TCP when an answer comes back truncated
     */
    DnsTestClient(InetSocketAddress server, int edns, boolean tcpFallback) {
        this.server = server;
        DnsNameResolverBuilder b = new DnsNameResolverBuilder(group.next())
                .datagramChannelType(NioDatagramChannel.class)
                .nameServerProvider(new SingletonDnsServerAddressStreamProvider(server))
                .resolveCache(NoopDnsCache.INSTANCE)
                .cnameCache(NoopDnsCnameCache.INSTANCE)
                .authoritativeDnsServerCache(NoopAuthoritativeDnsServerCache.INSTANCE)
                .hostsFileEntriesResolver((name, types) -> null)
                .searchDomains(List.of())
                .ndots(1)
                .resolvedAddressTypes(ResolvedAddressTypes.IPV4_PREFERRED)
                .queryTimeoutMillis(5_000)
                .maxQueriesPerResolve(4)
                .optResourceEnabled(edns > 0)
                .maxPayloadSize(edns > 0 ? edns : 512);
        if (tcpFallback) {
            b.socketChannelType(NioSocketChannel.class);
        }
        resolver = b.build();
    }

    /** Asks {@code name} {@code type} (A, AAAA, SRV, PTR, CNAME, SOA, NS, TXT, ANY...) and returns the reply. */
    Reply query(String name, String type) throws Exception {
        AddressedEnvelope<DnsResponse, InetSocketAddress> envelope =
                resolver.query(server, new DefaultDnsQuestion(name, DnsRecordType.valueOf(type)))
                        .get(10, TimeUnit.SECONDS);
        try {
            return new Reply(envelope.content());
        } finally {
            envelope.release();
        }
    }

    /** Resolves a host name to addresses as an application would. */
    List<InetAddress> resolveAll(String name) throws Exception {
        return resolver.resolveAll(name).get(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        resolver.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** A response as strings, e.g. answers {@code ["web.ns.svc.cluster.local. 5 A 10.0.0.1"]}. */
    static final class Reply {
        final String rcode;
        final boolean authoritative;
        final boolean truncated;
        final boolean recursionAvailable;
        final List<String> answers;
        final List<String> authority;
        final List<String> additional;
        /** The EDNS0 UDP size the server advertised, or -1 when its reply had no OPT record. */
        final int ednsPayload;

        Reply(DnsResponse r) {
            rcode = r.code().toString().replaceAll("\\(.*", "").toUpperCase(java.util.Locale.ROOT);
            authoritative = r.isAuthoritativeAnswer();
            truncated = r.isTruncated();
            recursionAvailable = r.isRecursionAvailable();
            answers = section(r, DnsSection.ANSWER);
            authority = section(r, DnsSection.AUTHORITY);
            List<String> add = new ArrayList<>();
            int payload = -1;
            for (int i = 0; i < r.count(DnsSection.ADDITIONAL); i++) {
                DnsRecord rec = r.recordAt(DnsSection.ADDITIONAL, i);
                if (rec.type() == DnsRecordType.OPT) {
                    payload = rec.dnsClass();
                } else {
                    add.add(format(rec));
                }
            }
            additional = add;
            ednsPayload = payload;
        }

        private static List<String> section(DnsResponse r, DnsSection s) {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < r.count(s); i++) {
                out.add(format(r.recordAt(s, i)));
            }
            return out;
        }

        /** The data of each answer, e.g. {@code ["10.0.0.1", "10.0.0.2"]}. */
        List<String> answerData() {
            List<String> out = new ArrayList<>();
            for (String a : answers) {
                String[] w = a.split(" ", 4);
                out.add(w[3]);
            }
            return out;
        }

        @Override
        public String toString() {
            return rcode + (authoritative ? " aa" : "") + (truncated ? " tc" : "") + " answers=" + answers
                   + " authority=" + authority + " additional=" + additional;
        }
    }

    static String format(DnsRecord rec) {
        String head = rec.name() + " " + rec.timeToLive() + " " + rec.type().name() + " ";
        if (rec instanceof DnsPtrRecord) {
            return head + ((DnsPtrRecord) rec).hostname();
        }
        if (!(rec instanceof DnsRawRecord)) {
            return head + rec;
        }
        ByteBuf c = ((DnsRawRecord) rec).content().duplicate();
        if (rec.type() == DnsRecordType.A || rec.type() == DnsRecordType.AAAA) {
            byte[] ip = new byte[c.readableBytes()];
            c.readBytes(ip);
            try {
                return head + InetAddress.getByAddress(ip).getHostAddress();
            } catch (Exception e) {
                return head + "?";
            }
        }
        if (rec.type() == DnsRecordType.SRV) {
            return head + c.readUnsignedShort() + " " + c.readUnsignedShort() + " " + c.readUnsignedShort() + " "
                   + DefaultDnsRecordDecoder.decodeName(c);
        }
        if (rec.type() == DnsRecordType.CNAME || rec.type() == DnsRecordType.NS) {
            return head + DefaultDnsRecordDecoder.decodeName(c);
        }
        if (rec.type() == DnsRecordType.TXT) {
            int len = c.readUnsignedByte();
            return head + '"' + c.readCharSequence(len, java.nio.charset.StandardCharsets.US_ASCII) + '"';
        }
        if (rec.type() == DnsRecordType.SOA) {
            if ((c.getUnsignedByte(c.readerIndex()) & 0xC0) == 0xC0) {
                return head + "(compressed)";
            }
            String mname = DefaultDnsRecordDecoder.decodeName(c);
            String rname = DefaultDnsRecordDecoder.decodeName(c);
            return head + mname + " " + rname + " " + c.readUnsignedInt() + " " + c.readUnsignedInt() + " "
                   + c.readUnsignedInt() + " " + c.readUnsignedInt() + " " + c.readUnsignedInt();
        }
        return head + c.readableBytes() + " bytes";
    }
}
