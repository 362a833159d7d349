package io.ferry.l4.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ferry.l4.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The server asked by {@code dig} (BIND's client, with its own parser), where it is installed: the answers an
 * operator would see.
 */
class DnsDigTest {

    private static Transport transport;
    private static DnsServer server;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(digInstalled(), "dig is not installed");
        transport = Transport.create(Transport.Kind.best(), 2);
        server = DnsServer.start(transport, DnsServerConfig.builder(new InetSocketAddress("127.0.0.1", 0)).build());
        server.apply(DnsServerTest.cluster().build());
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (transport != null) {
            transport.close();
        }
    }

    private static boolean digInstalled() {
        try {
            Process p = new ProcessBuilder("dig", "-v").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Runs dig against the server with {@code args} and returns its output. */
    private static String dig(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("dig", "@127.0.0.1", "-p",
                                                   String.valueOf(server.localAddress().getPort()),
                                                   "+tries=1", "+time=5"));
        cmd.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        // dig reports what its parser did not like (a bad pointer, a short record); its other warnings (.local is
        // mDNS's, no recursion here) are expected.
        assertThat(out).doesNotContainIgnoringCase("malformed").doesNotContainIgnoringCase("parser")
                       .doesNotContain("FORMERR");
        return out;
    }

    private static List<String> lines(String out) {
        return out.lines().filter(l -> !l.isBlank()).toList();
    }

    @Test
    void aRecord() throws Exception {
        String out = dig("web.ns.svc.cluster.local");
        assertThat(out).contains("status: NOERROR").containsPattern("flags: qr aa rd;")
                       .containsPattern("web\\.ns\\.svc\\.cluster\\.local\\.\\s+5\\s+IN\\s+A\\s+10\\.96\\.0\\.10");
        assertThat(lines(dig("+short", "v6.ns.svc.cluster.local", "AAAA"))).containsExactly("fd00::10");
    }

    @Test
    void srvPtrCnameTxtSoaAndNs() throws Exception {
        assertThat(lines(dig("+short", "_http._tcp.web.ns.svc.cluster.local", "SRV")))
                .containsExactly("0 100 80 web.ns.svc.cluster.local.");
        assertThat(lines(dig("+short", "-x", "10.96.0.10"))).containsExactly("web.ns.svc.cluster.local.");
        assertThat(lines(dig("+short", "-x", "fd00::10"))).containsExactly("v6.ns.svc.cluster.local.");
        assertThat(lines(dig("+short", "ext.ns.svc.cluster.local"))).containsExactly("www.example.com.");
        assertThat(lines(dig("+short", "alias.ns.svc.cluster.local")))
                .containsExactly("web.ns.svc.cluster.local.", "10.96.0.10");
        assertThat(lines(dig("+short", "dns-version.cluster.local", "TXT"))).containsExactly("\"1.1.0\"");
        assertThat(lines(dig("+short", "cluster.local", "SOA")))
                .containsExactly("ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5");
        assertThat(lines(dig("+short", "cluster.local", "NS"))).containsExactly("ns.dns.cluster.local.");
        String srv = dig("_mysql._tcp.db.ns.svc.cluster.local", "SRV");
        assertThat(srv).contains("ANSWER: 3,").contains("ADDITIONAL: 4") // 3 addresses and the OPT record
                       .containsPattern("db-0\\.db\\.ns\\.svc\\.cluster\\.local\\.\\s+5\\s+IN\\s+A\\s+10\\.1\\.0\\.1");
    }

    @Test
    void negativeAnswers() throws Exception {
        String nx = dig("nope.ns.svc.cluster.local");
        assertThat(nx).contains("status: NXDOMAIN").contains("AUTHORITY: 1")
                      .containsPattern("cluster\\.local\\.\\s+5\\s+IN\\s+SOA\\s+ns\\.dns\\.cluster\\.local\\. "
                                       + "hostmaster\\.cluster\\.local\\. 1 7200 1800 86400 5");
        String nodata = dig("ns.svc.cluster.local");
        assertThat(nodata).contains("status: NOERROR").contains("ANSWER: 0").contains("AUTHORITY: 1");
        assertThat(dig("www.example.com")).contains("status: REFUSED");
    }

    @Test
    void truncationAndTcp() throws Exception {
        String truncated = dig("+ignore", "+noedns", "big.ns.svc.cluster.local");
        assertThat(truncated).containsPattern("flags: qr aa tc rd;").contains("ANSWER: 0");
        // dig retries over TCP by itself after a truncated answer.
        assertThat(lines(dig("+short", "big.ns.svc.cluster.local"))).hasSize(100);
        assertThat(lines(dig("+short", "+tcp", "_http._tcp.big.ns.svc.cluster.local", "SRV"))).hasSize(100);
        String edns = dig("+bufsize=1232", "mid.ns.svc.cluster.local");
        assertThat(edns).contains("ANSWER: 60").contains("udp: 1232").doesNotContain("Truncated");
    }

    @Test
    void theQuestionsCaseIsKept() throws Exception {
        assertThat(dig("WEB.ns.Svc.cluster.local"))
                .containsPattern("WEB\\.ns\\.Svc\\.cluster\\.local\\.\\s+5\\s+IN\\s+A\\s+10\\.96\\.0\\.10");
    }
}
