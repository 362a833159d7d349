package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class IdleTimeoutHandlerTest {

    private final MockTicker ticker = Ticker.newMockTicker();
    private final List<Object> events = new ArrayList<>();
    private final IdleTimeoutHandler idle = new IdleTimeoutHandler(10, TimeUnit.SECONDS);
    private final EmbeddedChannel ch = EmbeddedChannel.builder()
            .ticker(ticker)
            .handlers(idle, new ChannelInboundHandlerAdapter() {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    events.add(evt);
                }
            })
            .build();

    private void advance(long seconds) {
        ticker.advance(seconds, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
    }

    @Test
    void firesOnceTheConnectionHasBeenQuietForTheTimeoutAndAgainEveryTimeoutAfter() {
        advance(9);
        assertThat(events).isEmpty();
        advance(1);
        assertThat(events).containsExactly(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        advance(9);
        assertThat(events).hasSize(1);
        advance(1);
        assertThat(events).hasSize(2); // a pooled connection that ignored the first one is still closed later
    }

    @Test
    void readsAndWritesPushTheDeadlineBack() {
        advance(6);
        ch.writeInbound("read");
        advance(6); // 12 s after the start, 6 s after the read
        assertThat(events).isEmpty();
        ch.writeOutbound("written");
        advance(9); // 9 s after the write
        assertThat(events).isEmpty();
        advance(1);
        assertThat(events).containsExactly(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        assertThat((Object) ch.readInbound()).isEqualTo("read");
        assertThat((Object) ch.readOutbound()).isEqualTo("written");
    }

    @Test
    void aSuspendedConnectionIsNeverIdleAndResumingStartsTheQuietTimeAnew() {
        advance(5);
        idle.suspend();
        advance(30); // quiet, but suspended: a request has the connection and its own timers
        assertThat(events).isEmpty();
        ch.writeOutbound("request");
        ch.writeInbound("response");
        idle.resume(); // back in the pool: idle from now
        advance(9);
        assertThat(events).isEmpty();
        advance(1);
        assertThat(events).containsExactly(IdleStateEvent.ALL_IDLE_STATE_EVENT);
    }

    @Test
    void aClosedConnectionHasNoTimerLeft() {
        ch.close();
        advance(60);
        assertThat(events).isEmpty();
        assertThat(ch.hasPendingTasks()).isFalse();
    }
}
