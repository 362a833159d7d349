package io.ferry.l4;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;

/**
 * What both halves of a relayed TCP connection do alike: pass a FIN on, close after pending writes, reset.
 *
 * <p>Every method must be called on the event loop that both channels share.
 */
final class Relay {

    private Relay() {
    }

    /**
     * {@code from} has read its peer's FIN: once everything already written to {@code to} is flushed, shut down
     * {@code to}'s output so that its peer reads the FIN too. When both directions have ended, close both.
     */
    static void propagateFin(Channel from, Channel to) {
        if (!to.isActive()) {
            from.close();
            return;
        }
        to.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                from.close();
                to.close();
            } else if (isInputShutdown(to)) {
                // The other direction ended earlier: the conversation is over.
                closeOnFlush(from);
                to.close();
            } else {
                shutdownOutput(to);
                // Both directions now end at to's peer's FIN: let it close to at once. With half-closure on,
                // Netty would answer that FIN with a shutdown(SHUT_RD) that fails (ENOTCONN, an exception with a
                // stack trace), an epoll_ctl and an event that only leads here to close both anyway.
                to.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
            }
        });
    }

    /**
     * Sends {@code ch}'s FIN. Everything written to it is flushed (the caller waited), and the relay writes nothing
     * after, so on the native transports this is the {@code shutdown(SHUT_WR)} alone: Netty's
     * {@code shutdownOutput} would also fail a pending-write queue that is empty, and first build a
     * {@code ChannelOutputShutdownException} for it, stack trace and all (3 % of the CPU of a connection that
     * carries one request). The socket records the shutdown, so the channel's {@code isOutputShutdown()} says so.
     * A later write, which the relay does not make, would fail with {@code EPIPE} and close the channel.
     */
    static void shutdownOutput(Channel ch) {
        FileDescriptor fd = ch instanceof UnixChannel ? ((UnixChannel) ch).fd() : null;
        if (fd instanceof Socket) {
            try {
                ((Socket) fd).shutdown(false, true);
            } catch (IOException e) {
                ch.close(); // the connection is gone (a reset raced the FIN): nothing is left to relay on it
            }
        } else {
            ((DuplexChannel) ch).shutdownOutput();
        }
    }

    /** Closes {@code ch} once what was written to it is flushed. */
    static void closeOnFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else if (ch.isOpen()) {
            ch.close();
        }
    }

    /** Closes {@code ch} with an RST rather than a FIN (SO_LINGER 0), as kube-proxy's REJECT does. */
    static void reset(Channel ch) {
        if (!ch.isOpen()) {
            return;
        }
        try {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (RuntimeException ignored) {
            // Not every channel type can linger; a FIN is the best left.
        }
        ch.close();
    }

    static boolean isInputShutdown(Channel ch) {
        return ch instanceof DuplexChannel && ((DuplexChannel) ch).isInputShutdown();
    }
}
