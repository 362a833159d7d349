package io.ferry.l7.http;

import static io.ferry.l7.http.ProxyHarness.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Tables swapped while requests flow: no request fails, and each goes where the table of its time said. */
class LiveSwapTest {

    @RegisterExtension
    final ProxyHarness h = new ProxyHarness();

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void swapsUnderLoadLoseNoRequest(Transport.Kind kind) throws Exception {
        HttpProxy proxy = h.start(kind);
        EchoServer a = h.echo("a");
        EchoServer b = h.echo("b");
        HttpRouteTable<Route> toA = table(route("svc", a.address()));
        HttpRouteTable<Route> toB = table(route("svc", b.address()));
        proxy.apply(toA);

        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger ok = new AtomicInteger();
        List<String> failures = new CopyOnWriteArrayList<>();
        Thread[] clients = new Thread[3];
        for (int t = 0; t < clients.length; t++) {
            clients[t] = new Thread(() -> {
                while (running.get()) {
                    try {
                        HttpResponse<String> r = client.send(HttpRequest.newBuilder(h.uri("/swap")).build(),
                                                             HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200 && r.body().endsWith("\nGET /swap\n")) {
                            ok.incrementAndGet();
                        } else {
                            failures.add(r.statusCode() + " " + r.body());
                        }
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                }
            }, "swap-client-" + t);
            clients[t].start();
        }
        try {
            long end = System.nanoTime() + Duration.ofSeconds(1).toNanos();
            int swaps = 0;
            while (System.nanoTime() < end) {
                int before = ok.get();
                proxy.apply(swaps % 2 == 0 ? toB : toA);
                swaps++;
                // Some traffic under each table before the next swap.
                await().atMost(Duration.ofSeconds(5)).until(() -> ok.get() >= before + 5 || !failures.isEmpty());
            }
            assertThat(swaps).isGreaterThan(4);
        } finally {
            running.set(false);
            for (Thread t : clients) {
                t.join(10_000);
            }
        }
        assertThat(failures).isEmpty();
        assertThat(a.requests()).isPositive();
        assertThat(b.requests()).isPositive();
        assertThat(a.requests() + b.requests()).isEqualTo(ok.get());
    }

    private static HttpRouteTable<Route> table(Route route) {
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add("", PathType.PREFIX, "/", route);
        return b.build();
    }
}
