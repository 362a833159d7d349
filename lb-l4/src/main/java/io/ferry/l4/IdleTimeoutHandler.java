package io.ferry.l4;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.Ticker;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Fires {@link IdleStateEvent#ALL_IDLE_STATE_EVENT} when a connection has neither read nor written for
 * {@code timeout}, and again every {@code timeout} while it stays so: Netty's {@code IdleStateHandler(0, 0, timeout)}
 * as the proxies use it, for less.
 *
 * <p>{@link IdleStateHandler} learns of a write when it completes, so it turns every write's void promise into a
 * real one and adds a listener to it: an object, a listener and a notification per write, on the hot path of every
 * relayed chunk. This handler counts a write when it is made. The difference shows only for a write that stays
 * unsent (a peer that does not read): the connection is idle from when the write was made rather than from when it
 * last drained, which is what a proxy that stops reading under backpressure wants anyway. One timer per connection,
 * re-armed only when it fires.
 *
 * <p>{@link #suspend()} and {@link #resume()} are for a connection whose idleness matters only at times: a pooled
 * upstream connection is idle-timed in the pool, while a request that has it keeps its own timers. Suspended, reads
 * and writes do not read the clock and the timer fires nothing; {@link #resume()} starts the quiet time anew.
 *
 * <p>One instance per channel, confined to its event loop.
 */
public final class IdleTimeoutHandler extends ChannelDuplexHandler {

    private final long timeoutNanos;
    private ChannelHandlerContext ctx;
    private Ticker ticker;
    private long lastActivity;
    private ScheduledFuture<?> timer;
    private boolean started;
    private boolean suspended;

    /** @param timeout must be positive */
    public IdleTimeoutHandler(long timeout, TimeUnit unit) {
        this.timeoutNanos = unit.toNanos(timeout);
        if (timeoutNanos <= 0) {
            throw new IllegalArgumentException("timeout: " + timeout + " " + unit + " (expected: > 0)");
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.ticker = ctx.executor().ticker();
        if (ctx.channel().isActive() && ctx.channel().isRegistered()) {
            start();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stop();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start();
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stop();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!suspended) {
            lastActivity = ticker.nanoTime();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!suspended) {
            lastActivity = ticker.nanoTime();
        }
        ctx.write(msg, promise);
    }

    /** Stops counting activity and firing events, until {@link #resume()}. On the channel's event loop. */
    public void suspend() {
        suspended = true;
    }

    /** Counts the connection idle from now on. On the channel's event loop. */
    public void resume() {
        suspended = false;
        lastActivity = ticker.nanoTime();
    }

    private void start() {
        if (started) {
            return;
        }
        started = true;
        lastActivity = ticker.nanoTime();
        arm(timeoutNanos);
    }

    private void stop() {
        started = false;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void arm(long delayNanos) {
        timer = ctx.executor().schedule(this::check, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void check() {
        timer = null;
        if (!started || !ctx.channel().isOpen()) {
            return;
        }
        if (suspended) {
            arm(timeoutNanos);
            return;
        }
        long idle = ticker.nanoTime() - lastActivity;
        if (idle < timeoutNanos) {
            arm(timeoutNanos - idle);
            return;
        }
        arm(timeoutNanos);
        ctx.fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);
    }
}
