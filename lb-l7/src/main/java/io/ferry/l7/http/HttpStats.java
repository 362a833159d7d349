package io.ferry.l7.http;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of the edge HTTP proxy, process-wide. Written by every event loop without locks ({@link LongAdder}),
 * read by the admin server.
 */
public final class HttpStats {

    final LongAdder connections = new LongAdder();
    final LongAdder connectionsRejected = new LongAdder();
    final LongAdder h2Connections = new LongAdder();
    final LongAdder h2Streams = new LongAdder();
    final LongAdder misdirected = new LongAdder();
    final LongAdder h2ConnectionErrors = new LongAdder();
    final LongAdder tlsHandshakeFailures = new LongAdder();
    final LongAdder activeConnections = new LongAdder();
    final LongAdder requests = new LongAdder();
    final LongAdder[] responsesByClass = new LongAdder[6];
    final LongAdder badRequests = new LongAdder();
    final LongAdder noRoute = new LongAdder();
    final LongAdder noEndpoint = new LongAdder();
    final LongAdder upstreamConnects = new LongAdder();
    final LongAdder upstreamConnectFailures = new LongAdder();
    final LongAdder upstreamReuses = new LongAdder();
    final LongAdder upstreamErrors = new LongAdder();
    final LongAdder upstreamTimeouts = new LongAdder();
    final LongAdder upstreamQueued = new LongAdder();
    final LongAdder upstreamQueueTimeouts = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder endpointEjections = new LongAdder();
    final LongAdder clientAborts = new LongAdder();
    final LongAdder upgrades = new LongAdder();
    final LongAdder bytesFromClients = new LongAdder();
    final LongAdder bytesToClients = new LongAdder();

    HttpStats() {
        for (int i = 0; i < responsesByClass.length; i++) {
            responsesByClass[i] = new LongAdder();
        }
    }

    void response(int status) {
        int cls = status / 100;
        responsesByClass[cls >= 1 && cls <= 5 ? cls : 0].increment();
    }

    /** Client connections accepted. */
    public long connections() {
        return connections.sum();
    }

    /** Client connections closed at once because their listener held {@link HttpProxyConfig#maxConnections()}. */
    public long connectionsRejected() {
        return connectionsRejected.sum();
    }

    /**
     * HTTPS connections closed before their TLS handshake completed: a bad or refused ClientHello, no handshake
     * within the timeout, or a client that reset or closed mid-handshake.
     */
    public long tlsHandshakeFailures() {
        return tlsHandshakeFailures.sum();
    }

    /** Connections that chose HTTP/2: by ALPN over TLS, or by prior knowledge (its preface first) on the HTTP port. */
    public long h2Connections() {
        return h2Connections.sum();
    }

    /** HTTP/2 streams (each one request). */
    public long h2Streams() {
        return h2Streams.sum();
    }

    /** HTTP/2 connections closed for a protocol error (rapid reset, CONTINUATION flood, bad frames). */
    public long h2ConnectionErrors() {
        return h2ConnectionErrors.sum();
    }

    /** Requests answered 421: their Host has its own certificate, not the one the connection's SNI chose. */
    public long misdirected() {
        return misdirected.sum();
    }

    /** Open HTTP/1.1 connections plus open HTTP/2 streams. */
    public long activeConnections() {
        return activeConnections.sum();
    }

    /** Requests whose head was read. */
    public long requests() {
        return requests.sum();
    }

    /** Responses sent with a status of class {@code cls} (1 to 5). */
    public long responses(int cls) {
        return responsesByClass[cls].sum();
    }

    /** Requests refused as malformed (400, 414, 431). */
    public long badRequests() {
        return badRequests.sum();
    }

    /** Requests no route matched (404). */
    public long noRoute() {
        return noRoute.sum();
    }

    /** Requests whose route had no ready endpoint (503). */
    public long noEndpoint() {
        return noEndpoint.sum();
    }

    /** New upstream connections made. */
    public long upstreamConnects() {
        return upstreamConnects.sum();
    }

    public long upstreamConnectFailures() {
        return upstreamConnectFailures.sum();
    }

    /** Requests sent on a pooled (kept-alive) upstream connection. */
    public long upstreamReuses() {
        return upstreamReuses.sum();
    }

    /** Upstream connections that broke or sent something malformed. */
    public long upstreamErrors() {
        return upstreamErrors.sum();
    }

    public long upstreamTimeouts() {
        return upstreamTimeouts.sum();
    }

    /** Requests that waited for an upstream connection: every one to the endpoint was busy, at the limit. */
    public long upstreamQueued() {
        return upstreamQueued.sum();
    }

    /** Requests that waited for an upstream connection for the whole connect timeout, and got 503. */
    public long upstreamQueueTimeouts() {
        return upstreamQueueTimeouts.sum();
    }

    /** Requests sent again to another endpoint. */
    public long retries() {
        return retries.sum();
    }

    /**
     * Times an endpoint's failures made passive health skip it for new requests ({@code RoutePolicy.failTimeout},
     * nginx's {@code max_fails}/{@code fail_timeout}).
     */
    public long endpointEjections() {
        return endpointEjections.sum();
    }

    /** Clients that went away before their response was complete. */
    public long clientAborts() {
        return clientAborts.sum();
    }

    /** Connections switched to another protocol (WebSocket) after a 101. */
    public long upgrades() {
        return upgrades.sum();
    }

    public long bytesFromClients() {
        return bytesFromClients.sum();
    }

    public long bytesToClients() {
        return bytesToClients.sum();
    }
}
