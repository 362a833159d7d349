package io.ferry.l7.http;

import io.netty.channel.Channel;

/**
 * Where one request goes, as {@link HttpFrontendHandler} sees it: a channel that takes the request as HTTP/1 objects
 * ({@code HttpRequest}, {@code HttpContent}) and gives back the response the same way, reporting to the handler it is
 * attached to. Two kinds: a pooled HTTP/1.1 {@link UpstreamConnection}, and an {@link H2cUpstreamStream} (one
 * HTTP/2 stream of a shared cleartext connection, which ends with its response).
 *
 * <p>Confined to the event loop of the client connection that uses it.
 */
interface Upstream {

    /** The channel the request is written to (the connection, or the HTTP/2 stream's child channel). */
    Channel channel();

    /** Gives this upstream to {@code frontend} for one request: what it reads goes there from now on. */
    void attach(HttpFrontendHandler frontend);

    /**
     * Takes this upstream back from its request. {@code keep} asks for reuse (an HTTP/1.1 connection goes back to its
     * pool); an upstream that cannot be reused, or {@code keep == false}, is closed.
     */
    void release(boolean keep);

    /** Requests sent on this upstream so far (always 1 for an HTTP/2 stream). */
    int requests();
}
