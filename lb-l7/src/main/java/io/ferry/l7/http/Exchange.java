package io.ferry.l7.http;

import io.ferry.l7.route.Route;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;

/**
 * One request and its response as they cross the proxy: what was asked, where it went, how far each direction
 * has got. A plain record of state for {@link HttpFrontendHandler}, confined to its event loop.
 */
final class Exchange {

    final HttpRequest request;
    final long startNanos;
    CharSequence requestId;
    String host;
    boolean keepAlive;
    boolean http10;
    boolean head;
    boolean idempotent;
    boolean upgrade;
    boolean expectContinue;
    boolean continueSent;

    Route route;
    HttpRequest upstreamRequest;
    int attempts;
    int endpointIndex;
    /** The first endpoint tried: retries walk the table from it and never pass it. */
    int firstEndpoint;
    InetSocketAddress endpoint;
    /** The endpoint of the first try, and of the others after it when there were retries (for the log). */
    InetSocketAddress firstTried;
    ArrayList<InetSocketAddress> retriedOn;
    boolean reused;
    boolean headSent;
    ArrayDeque<HttpContent> pendingBody;
    long upstreamStartNanos;
    /** When it started to wait for a connection to {@link #endpoint} (every one busy, at the limit). */
    long queuedNanos;
    long upstreamHeadNanos;
    long lastUpstreamActivity;
    boolean upstreamKeepAlive;
    boolean skipLast;

    boolean requestComplete;
    long requestBodyBytes;
    long discardedBytes;

    /** Answered by the proxy itself (an error or a redirect); the rest of the request body is discarded. */
    boolean local;
    boolean responseStarted;
    boolean responseComplete;
    int status;
    int upstreamStatus;
    long responseBytes;

    /** @param startNanos {@code System.nanoTime()} when the request's head was read */
    Exchange(HttpRequest request, long startNanos) {
        this.request = request;
        this.startNanos = startNanos;
    }

    void noteEndpoint(InetSocketAddress address) {
        if (firstTried == null) {
            firstTried = address;
        } else {
            if (retriedOn == null) {
                retriedOn = new ArrayList<>(2);
            }
            retriedOn.add(address);
        }
    }

    /** nginx's {@code $upstream_addr}: every endpoint tried, in order, comma-separated. */
    void appendTried(StringBuilder sb) {
        appendAddress(sb, firstTried);
        if (retriedOn != null) {
            for (InetSocketAddress a : retriedOn) {
                appendAddress(sb.append(", "), a);
            }
        }
    }

    private static void appendAddress(StringBuilder sb, InetSocketAddress a) {
        sb.append(a.getAddress().getHostAddress()).append(':').append(a.getPort());
    }

    void releasePendingBody() {
        if (pendingBody != null) {
            for (HttpContent c; (c = pendingBody.poll()) != null; ) {
                c.release();
            }
            pendingBody = null;
        }
    }
}
