package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import org.junit.jupiter.api.Test;

/** {@link DrainHandler} on an {@link EmbeddedChannel}: when a draining connection closes, and what it says. */
class DrainHandlerTest {

    private final DrainHandler drain = new DrainHandler(() -> false);
    private final EmbeddedChannel ch = new EmbeddedChannel(drain);

    private void request() {
        assertThat(ch.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"))).isTrue();
        ((DefaultFullHttpRequest) ch.readInbound()).release();
    }

    private HttpResponse head(HttpResponseStatus status) {
        ch.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, status));
        return ch.readOutbound();
    }

    private void end() {
        ch.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        ch.runPendingTasks();
        ch.outboundMessages().forEach(io.netty.util.ReferenceCountUtil::release);
        ch.outboundMessages().clear();
    }

    @Test
    void anIdleConnectionClosesAtOnce() {
        request();
        head(HttpResponseStatus.OK);
        end();
        assertThat(ch.isOpen()).isTrue();
        drain.drain();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void aBusyConnectionClosesAfterItsResponseWhichSaysSo() {
        request();
        drain.drain();
        assertThat(ch.isOpen()).isTrue();
        assertThat(head(HttpResponseStatus.OK).headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("close");
        assertThat(ch.isOpen()).isTrue();
        end();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void aResponseStartedBeforeTheDrainStillEndsTheConnection() {
        request();
        assertThat(head(HttpResponseStatus.OK).headers().contains(HttpHeaderNames.CONNECTION)).isFalse();
        drain.drain();
        assertThat(ch.isOpen()).isTrue();
        end();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void anInterimResponseIsNotTheEnd() {
        request();
        drain.drain();
        ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        ch.runPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        assertThat(((HttpResponse) ch.readOutbound()).headers().contains(HttpHeaderNames.CONNECTION)).isFalse();
        assertThat(head(HttpResponseStatus.OK).headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("close");
        end();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void anUpgradedConnectionIsLeftToFinish() {
        request();
        ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS));
        ((DefaultFullHttpResponse) ch.readOutbound()).release();
        drain.drain();
        assertThat(ch.isOpen()).isTrue();
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void aConnectionAcceptedDuringTheDrainServesOneRequest() {
        DrainHandler late = new DrainHandler(() -> true);
        EmbeddedChannel c = new EmbeddedChannel(late);
        c.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
        ((DefaultFullHttpRequest) c.readInbound()).release();
        c.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        assertThat(((HttpResponse) c.readOutbound()).headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("close");
        c.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        c.runPendingTasks();
        assertThat(c.isOpen()).isFalse();
        c.finishAndReleaseAll();
    }
}
