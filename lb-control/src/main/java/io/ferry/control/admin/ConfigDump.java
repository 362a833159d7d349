package io.ferry.control.admin;

import io.ferry.control.ConfigProblem;
import io.ferry.control.ControlLoop;
import io.ferry.control.Snapshot;
import io.ferry.l4.Backend;
import io.ferry.l4.ListenerKey;
import io.ferry.l4.ProxyStats;
import io.ferry.l4.ServiceProxy;
import io.ferry.l7.http.HttpProxy;
import io.ferry.l7.http.HttpStats;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the document {@code /config_dump} serves: the live snapshot's Services with their endpoints, every
 * listener with its state, what was rejected, and the data plane's counters.
 */
final class ConfigDump {

    private ConfigDump() {
    }

    static Map<String, Object> build(ControlLoop loop, ServiceProxy proxy) {
        ControlLoop.Status status = loop.status();
        Snapshot snapshot = loop.dataplane().current();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("ready", status.ready());
        doc.put("generation", status.generation());
        doc.put("appliedAt", status.appliedAt() == null ? null : status.appliedAt().toString());
        doc.put("pendingSince", loop.pendingSince() == null ? null : loop.pendingSince().toString());
        doc.put("lastError", status.lastError());
        doc.put("compileMillis", status.compileTime().toNanos() / 1e6);
        doc.put("applyMillis", status.applyTime().toNanos() / 1e6);
        doc.put("services", snapshot == null ? List.of() : snapshot.services().services());

        Map<ListenerKey, Channel> bound = new java.util.HashMap<>(proxy.listeners());
        Map<ListenerKey, String> failed = new java.util.HashMap<>(proxy.bindErrors());
        io.ferry.l4.UdpProxy udp = loop.dataplane().udpProxy();
        if (udp != null) {
            bound.putAll(udp.listeners());
            failed.putAll(udp.bindErrors());
        }
        List<Map<String, Object>> listeners = new ArrayList<>();
        List<Map.Entry<ListenerKey, Backend>> entries = new ArrayList<>(proxy.table().entries().entrySet());
        entries.sort(Comparator.comparing(e -> e.getKey().toString()));
        for (Map.Entry<ListenerKey, Backend> e : entries) {
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("listener", e.getKey().toString());
            l.put("backend", e.getValue().name());
            l.put("endpoints", e.getValue().size());
            l.put("balancer", e.getValue().balancer().name());
            Channel ch = bound.get(e.getKey());
            if (ch != null) {
                l.put("state", "bound");
                l.put("boundAddress", String.valueOf(ch.localAddress()));
            } else if (failed.containsKey(e.getKey())) {
                l.put("state", "error");
                l.put("error", failed.get(e.getKey()));
            } else {
                l.put("state", "not-served"); // a protocol this data plane does not serve yet
            }
            listeners.add(l);
        }
        doc.put("listeners", listeners);

        List<Map<String, String>> problems = new ArrayList<>();
        for (ConfigProblem p : status.problems()) {
            problems.add(Map.of("subject", p.subject(), "message", p.message()));
        }
        doc.put("problems", problems);

        ProxyStats s = proxy.stats();
        Map<String, Object> l4 = new LinkedHashMap<>();
        l4.put("connectionsTotal", s.accepted());
        l4.put("connectionsActive", s.active());
        l4.put("noEndpointRejects", s.noEndpointRejects());
        l4.put("upstreamConnectFailures", s.connectFailures());
        l4.put("upstreamUnreachable", s.upstreamUnreachable());
        l4.put("idleTimeouts", s.idleTimeouts());
        l4.put("receivedBytes", s.bytesFromClients());
        l4.put("sentBytes", s.bytesToClients());
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("l4", l4);
        if (udp != null) {
            io.ferry.l4.UdpStats u = udp.stats();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("flowsTotal", u.flowsCreated());
            m.put("flowsActive", u.flowsActive());
            m.put("flowsExpired", u.flowsExpired());
            m.put("flowsEndpointRemoved", u.flowsEndpointRemoved());
            m.put("noEndpointDrops", u.noEndpointDrops());
            m.put("flowLimitDrops", u.flowLimitDrops());
            m.put("upstreamErrors", u.upstreamErrors());
            m.put("receivedDatagrams", u.datagramsFromClients());
            m.put("sentDatagrams", u.datagramsToClients());
            m.put("receivedBytes", u.bytesFromClients());
            m.put("sentBytes", u.bytesToClients());
            stats.put("udp", m);
        }
        HttpProxy http = loop.dataplane().httpProxy();
        if (http != null) {
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("listeners", http.boundAddresses().stream().map(String::valueOf).toList());
            h.put("routes", snapshot == null ? List.of() : snapshot.ingresses().routes());
            if (snapshot != null && snapshot.tls() != null) {
                h.put("tls", snapshot.tls().views());
                h.put("certificates", snapshot.tls().table().entries());
            }
            doc.put("http", h);
            stats.put("http", httpStats(http.stats()));
        }
        doc.put("stats", stats);
        return doc;
    }

    private static Map<String, Object> httpStats(HttpStats s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("connectionsTotal", s.connections());
        m.put("connectionsActive", s.activeConnections());
        m.put("connectionsRejected", s.connectionsRejected());
        m.put("requestsTotal", s.requests());
        for (int cls = 1; cls <= 5; cls++) {
            m.put("responses" + cls + "xx", s.responses(cls));
        }
        m.put("badRequests", s.badRequests());
        m.put("noRoute", s.noRoute());
        m.put("noEndpoint", s.noEndpoint());
        m.put("upstreamConnects", s.upstreamConnects());
        m.put("upstreamReuses", s.upstreamReuses());
        m.put("upstreamConnectFailures", s.upstreamConnectFailures());
        m.put("upstreamErrors", s.upstreamErrors());
        m.put("upstreamTimeouts", s.upstreamTimeouts());
        m.put("upstreamQueued", s.upstreamQueued());
        m.put("upstreamQueueTimeouts", s.upstreamQueueTimeouts());
        m.put("retries", s.retries());
        m.put("clientAborts", s.clientAborts());
        m.put("upgrades", s.upgrades());
        m.put("tlsHandshakeFailures", s.tlsHandshakeFailures());
        m.put("h2Connections", s.h2Connections());
        m.put("h2Streams", s.h2Streams());
        m.put("h2ConnectionErrors", s.h2ConnectionErrors());
        m.put("misdirected", s.misdirected());
        m.put("receivedBytes", s.bytesFromClients());
        m.put("sentBytes", s.bytesToClients());
        return m;
    }
}
