package io.ferry.l4.dns;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;

/**
 * Where the answer to one query goes once an upstream has answered: the server's UDP channel and the client's
 * address, or the client's TCP connection (whose pipeline frames each message). Created only for queries that
 * are forwarded; in-zone answers are written at once.
 */
final class DnsClient {

    final Channel channel;
    /** The client's address (the sender of the datagram, or the TCP peer). */
    final InetSocketAddress address;
    final boolean tcp;

    DnsClient(Channel channel, InetSocketAddress address, boolean tcp) {
        this.channel = channel;
        this.address = address;
        this.tcp = tcp;
    }

    /** Writes and flushes {@code response} (whose ownership passes) to the client; a closed channel releases it. */
    void send(ByteBuf response) {
        if (tcp) {
            channel.writeAndFlush(response);
        } else {
            channel.writeAndFlush(new DatagramPacket(response, address));
        }
    }
}
