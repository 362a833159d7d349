package io.ferry.l7.http;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.Backend;
import io.ferry.l4.Balancer;
import io.ferry.l4.Endpoint;
import io.ferry.l4.RandomBalancer;
import io.ferry.l4.Transport;
import io.ferry.l4.testing.TestBackend;
import io.ferry.l7.route.HttpRouteTable;
import io.ferry.l7.route.PathType;
import io.ferry.l7.route.Route;
import io.ferry.l7.route.RoutePolicy;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One {@link HttpProxy} on loopback per test, on the transport the test is parameterized with, and everything the
 * test starts around it (backends, clients), closed after the test in reverse order. Register it with
 * {@code @RegisterExtension final ProxyHarness h = new ProxyHarness();}.
 */
final class ProxyHarness implements AfterEachCallback {

    /** The configuration most tests run with: the defaults, without an access log on stdout. */
    static final HttpProxyConfig QUIET = HttpProxyConfig.builder().accessLog(false).build();

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private HttpProxy proxy;
    private InetSocketAddress address;

    /** Starts the proxy with {@link #QUIET}; skips the test where epoll is asked for and missing. */
    HttpProxy start(Transport.Kind kind) throws IOException {
        return start(kind, QUIET);
    }

    HttpProxy start(Transport.Kind kind, HttpProxyConfig config) throws IOException {
        assumeTrue(kind.isAvailable(), kind + " not available");
        Transport transport = closeLater(Transport.create(kind, 2));
        proxy = closeLater(new HttpProxy(transport, config));
        address = proxy.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return proxy;
    }

    HttpProxy proxy() {
        return proxy;
    }

    /** Where the proxy listens. */
    InetSocketAddress address() {
        return address;
    }

    /** {@code http://127.0.0.1:port} + {@code pathAndQuery}. */
    URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + address.getPort() + pathAndQuery);
    }

    /** A new raw client connection to the proxy. */
    RawHttp connect() throws IOException {
        return closeLater(RawHttp.connect(address));
    }

    EchoServer echo(String name) throws IOException {
        return closeLater(EchoServer.start(name));
    }

    TestBackend raw(TestBackend.Behaviour behaviour) throws IOException {
        return closeLater(TestBackend.start(behaviour));
    }

    <T extends AutoCloseable> T closeLater(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    /** Publishes a table with one rule: {@code host}, Prefix {@code /}, to {@code route}. */
    void routeAll(String host, Route route) {
        HttpRouteTable.Builder<Route> b = HttpRouteTable.builder();
        b.add(host, PathType.PREFIX, "/", route);
        proxy.apply(b.build());
    }

    /** A route to {@code endpoints} with a random balancer. */
    static Route route(String name, RoutePolicy policy, InetSocketAddress... endpoints) {
        return Route.of(name, backend(name, RandomBalancer.INSTANCE, endpoints), policy);
    }

    static Route route(String name, InetSocketAddress... endpoints) {
        return route(name, RoutePolicy.DEFAULT, endpoints);
    }

    static Backend backend(String name, Balancer balancer, InetSocketAddress... endpoints) {
        List<Endpoint> eps = new ArrayList<>();
        for (InetSocketAddress a : endpoints) {
            eps.add(Endpoint.of(a));
        }
        return Backend.of(name, eps, balancer);
    }

    /** A loopback address nothing listens on: connecting to it is refused. */
    static InetSocketAddress closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return (InetSocketAddress) s.getLocalSocketAddress();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        Exception first = null;
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        closeables.clear();
        if (first != null) {
            throw first;
        }
    }
}
