package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.backend;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.RoundRobinBalancer;
import io.ferry.l4.Transport;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Keep-alive load (GETs and POSTs) on three endpoints, one of which is killed in the middle of the run, as a
 * crashed pod is: its listener closes and its connections are reset. Only requests that were in flight on it when
 * it died may fail: a GET only if its response had started (else it is tried again elsewhere), a POST that reached
 * it is never sent elsewhere, so it never runs twice. A response cut short is closed short of its Content-Length,
 * never made to look whole. Every request that starts once the proxy has seen the death succeeds, and the dead
 * endpoint is skipped rather than tried by every request (passive health). Every failed request is counted.
 */
class BackendKillTest {

    private static final int CLIENTS = 6;
    private static final long RUN_MILLIS = 3_000;
    private static final long KILL_AT_MILLIS = 1_000;
    /** Requests that start this long after the kill must all succeed (the proxy has seen the resets by then). */
    private static final long SETTLE_MILLIS = 500;

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    /** One request as its client saw it. */
    record Outcome(String method, String target, long startMillis, long endMillis, int status, String error) {
        boolean ok() {
            return status == 200;
        }

        /** Whether the response head came and the connection closed inside the body. */
        boolean cut() {
            return error != null && error.contains("cut at");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void onlyRequestsInFlightOnAKilledEndpointFail(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        List<KillableBackend> backends = new ArrayList<>();
        for (String name : List.of("a", "b", "c")) {
            backends.add(h.closeLater(KillableBackend.start(name, 2)));
        }
        KillableBackend victim = backends.get(1);
        h.routeAll("", Route.of("three", backend("three", RoundRobinBalancer.create(), backends.get(0).address(),
                                                  victim.address(), backends.get(2).address()),
                                RoutePolicy.DEFAULT));

        ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
        long t0 = System.nanoTime();
        long end = t0 + TimeUnit.MILLISECONDS.toNanos(RUN_MILLIS);
        CountDownLatch done = new CountDownLatch(CLIENTS);
        for (int i = 0; i < CLIENTS; i++) {
            int client = i;
            Thread t = new Thread(() -> {
                try {
                    load(client, t0, end, outcomes);
                } finally {
                    done.countDown();
                }
            }, "load-" + i);
            t.setDaemon(true);
            t.start();
        }
        await().atMost(Duration.ofSeconds(10))
               .until(() -> System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(KILL_AT_MILLIS));
        long killedAt = millisSince(t0);
        Set<String> lost = victim.kill();
        long killDone = millisSince(t0);
        assertThat(done.await(RUN_MILLIS + 30_000, TimeUnit.MILLISECONDS)).isTrue();

        List<Outcome> all = new ArrayList<>(outcomes);
        List<Outcome> failed = all.stream().filter(o -> !o.ok()).toList();
        long gets = all.stream().filter(o -> o.method.equals("GET")).count();
        System.out.printf("%s: %d requests (%d GET, %d POST), %d failed %s; killed at %d ms with %d requests in "
                          + "flight on it %s; proxy: %d upstream errors, %d retries, %d connect failures, "
                          + "%d ejections%n", kind, all.size(), gets, all.size() - gets, failed.size(), failed,
                          killedAt, lost.size(), lost, proxy.stats().upstreamErrors(), proxy.stats().retries(),
                          proxy.stats().upstreamConnectFailures(), proxy.stats().endpointEjections());

        assertThat(all.size()).as("requests served").isGreaterThan(100);
        assertThat(all.stream().filter(o -> o.startMillis > killDone)).as("requests after the kill").isNotEmpty();
        // Only requests in flight when the endpoint died fail, at most one per client connection.
        assertThat(failed).allSatisfy(o -> {
            assertThat(o.startMillis).isLessThanOrEqualTo(killDone + SETTLE_MILLIS);
            assertThat(o.endMillis).isGreaterThanOrEqualTo(killedAt);
        });
        assertThat(failed.size()).isLessThanOrEqualTo(CLIENTS);
        // A GET fails only if its response had started (the client gets a response cut short, never one that looks
        // whole); before that it is sent to another endpoint. A POST that reached the dead endpoint is answered
        // 502, or cut short likewise, and never sent elsewhere.
        assertThat(failed).allSatisfy(o -> {
            if (o.method.equals("GET")) {
                assertThat(o.cut()).as("%s cut short", o).isTrue();
            } else {
                assertThat(o.status == 502 || o.cut()).as("%s 502 or cut short", o).isTrue();
            }
        });
        // Every request the dead endpoint took down with it was a POST that failed, or a GET that was retried.
        Set<String> failedTargets = new HashSet<>();
        failed.forEach(o -> failedTargets.add(o.target));
        for (String target : lost) {
            assertThat(target.startsWith("/get/") || failedTargets.contains(target)).as(target).isTrue();
        }
        // Nothing ran twice: no POST reached two endpoints.
        for (Outcome o : all) {
            if (o.method.equals("POST")) {
                long reached = backends.stream().filter(b -> b.received().contains(o.target)).count();
                assertThat(reached).as(o.target).isLessThanOrEqualTo(1);
            }
        }
        // Passive health: the dead endpoint was skipped, not tried again by every later request.
        assertThat(proxy.stats().upstreamConnectFailures()).isLessThanOrEqualTo(CLIENTS);
        assertThat(proxy.stats().endpointEjections()).isPositive();
    }

    /** One client: a keep-alive connection, a GET then a POST, again and again until {@code end}. */
    private void load(int client, long t0, long end, ConcurrentLinkedQueue<Outcome> outcomes) {
        RawHttp c = null;
        try {
            for (int n = 0; System.nanoTime() < end; n++) {
                boolean post = n % 2 == 1;
                String target = (post ? "/post/" : "/get/") + client + "-" + n;
                long start = millisSince(t0);
                int status = 0;
                String error = null;
                try {
                    if (c == null) {
                        c = RawHttp.connect(h.address());
                    }
                    c.send(post ? "POST " + target + " HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                                : "GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n");
                    RawHttp.Response r = c.read();
                    status = r.status();
                    if (status == 200 && !r.text().endsWith((post ? " POST " : " GET ") + target)) {
                        error = "wrong body: " + r.text();
                        status = 0;
                    }
                    if ("close".equalsIgnoreCase(r.header("connection"))) {
                        c.close();
                        c = null;
                    }
                } catch (IOException e) {
                    error = e.toString();
                    close(c);
                    c = null;
                }
                outcomes.add(new Outcome(post ? "POST" : "GET", target, start, millisSince(t0), status, error));
            }
        } finally {
            close(c);
        }
    }

    private static void close(RawHttp c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing
            }
        }
    }

    private static long millisSince(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }
}
