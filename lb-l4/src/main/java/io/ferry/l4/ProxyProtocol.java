package io.ferry.l4;

import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.InetSocketAddress;

/**
 * The PROXY protocol v2 header Ferry sends first on a connection to an endpoint when its Service asks for it
 * ({@code ferry.io/proxy-protocol: v2}), so that the endpoint sees the client's real address and the address it
 * connected to — which no kube-proxy mode gives through a NodePort without {@code externalTrafficPolicy: Local}.
 *
 * <p>Encoded by Netty's {@link HAProxyMessageEncoder}, placed in the upstream pipeline for this one write and
 * taken out again, so the relay that follows sees a plain byte pipe.
 */
final class ProxyProtocol {

    private ProxyProtocol() {
    }

    /**
     * Writes (without flushing) the header for {@code client}'s connection to {@code upstream}: the client's
     * address as the source and the address it reached (the Service's) as the destination; a {@code LOCAL} header if
     * either is not an IP socket address. A client on IPv4 reaching an IPv6 listener (or the reverse) is described
     * in IPv6 with the IPv4 side mapped.
     */
    static void write(Channel upstream, Channel client) {
        HAProxyMessage header = message(client);
        ChannelPipeline p = upstream.pipeline();
        p.addFirst(HAProxyMessageEncoder.INSTANCE);
        try {
            upstream.write(header, upstream.voidPromise());
        } finally {
            p.remove(HAProxyMessageEncoder.INSTANCE);
        }
    }

    static HAProxyMessage message(Channel client) {
        if (!(client.remoteAddress() instanceof InetSocketAddress)
            || !(client.localAddress() instanceof InetSocketAddress)) {
            return new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.LOCAL,
                                      HAProxyProxiedProtocol.UNKNOWN, null, null, 0, 0);
        }
        InetSocketAddress src = (InetSocketAddress) client.remoteAddress();
        InetSocketAddress dst = (InetSocketAddress) client.localAddress();
        boolean v4 = src.getAddress() instanceof Inet4Address && dst.getAddress() instanceof Inet4Address;
        return new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.PROXY,
                                  v4 ? HAProxyProxiedProtocol.TCP4 : HAProxyProxiedProtocol.TCP6,
                                  text(src, v4), text(dst, v4), src.getPort(), dst.getPort());
    }

    private static String text(InetSocketAddress a, boolean v4) {
        if (v4 || !(a.getAddress() instanceof Inet4Address)) {
            return NetUtil.toAddressString(a.getAddress());
        }
        return "::ffff:" + a.getAddress().getHostAddress();
    }
}
