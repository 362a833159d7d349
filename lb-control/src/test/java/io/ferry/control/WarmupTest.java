package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ferry.l4.Transport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class WarmupTest {

    @Test
    void everyKindOfRequestIsAnsweredAndNothingIsLeftOpen() throws Exception {
        try (Transport transport = Transport.create(Transport.Kind.best(), 1)) {
            long fdsBefore = openFiles();
            Warmup.Result r = Warmup.run(transport, Duration.ofSeconds(120));

            assertThat(r.failures()).isZero();
            assertThat(r.l4()).isEqualTo(16_000);
            assertThat(r.l4Connections()).isEqualTo(2_400);
            assertThat(r.http1()).isEqualTo(8_000);
            assertThat(r.https1()).isEqualTo(8_000);
            assertThat(r.h2()).isEqualTo(16_000);
            assertThat(r.handshakes()).isEqualTo(200);
            // Then it waited for the JIT and touched every kind again, at least once, to no failure.
            assertThat(r.settlePasses()).isBetween(1, 4);
            assertThat(r.settleRequests()).isPositive();
            // The private proxy, its backend and every connection are gone: the process holds the descriptors it
            // held before (give or take the JIT's and the JDK's own few).
            await().atMost(Duration.ofSeconds(10))
                   .untilAsserted(() -> assertThat(openFiles()).isLessThanOrEqualTo(fdsBefore + 8));
        }
    }

    @Test
    void withoutHttpOnlyTheL4RelayIsWarmed() throws Exception {
        try (Transport transport = Transport.create(Transport.Kind.best(), 1)) {
            long fdsBefore = openFiles();
            Warmup.Result r = Warmup.run(transport, null, Duration.ofSeconds(120),
                                         io.ferry.l4.TcpProxyConfig.builder().build());

            assertThat(r.failures()).isZero();
            assertThat(r.l4()).isEqualTo(16_000);
            assertThat(r.l4Connections()).isEqualTo(2_400);
            assertThat(r.requests()).isEqualTo(18_400);
            await().atMost(Duration.ofSeconds(10))
                   .untilAsserted(() -> assertThat(openFiles()).isLessThanOrEqualTo(fdsBefore + 8));
        }
    }

    @Test
    void theRelayAndTheEdgeMayRunOnTransportsOfTheirOwn() throws Exception {
        // As Ferry runs by default (the relay on epoll, the edge on io_uring); NIO for the edge where the two agree.
        Transport.Kind relayKind = Transport.Kind.bestForRelay();
        Transport.Kind httpKind = Transport.Kind.best() != relayKind ? Transport.Kind.best() : Transport.Kind.NIO;
        try (Transport relay = Transport.create(relayKind, 1);
             Transport edge = Transport.create(httpKind, 1, "ferry-http")) {
            Warmup.Result r = Warmup.run(relay, edge, Duration.ofSeconds(120),
                                         io.ferry.l4.TcpProxyConfig.builder().build());

            assertThat(r.failures()).isZero();
            assertThat(r.l4()).isEqualTo(16_000);
            assertThat(r.l4Connections()).isEqualTo(2_400);
            assertThat(r.h2()).isEqualTo(16_000);
            assertThat(r.handshakes()).isEqualTo(200);
        }
    }

    @Test
    void readsTheLengthOfTheCompilerQueue() {
        // HotSpot answers Compiler.queue; the warm-up paces itself by it (and waits for an idle JIT without it).
        assertThat(Warmup.compilerQueue()).isGreaterThanOrEqualTo(0);
    }

    @ParameterizedTest
    @EnumSource(value = Transport.Kind.class, names = "NIO")
    void aBudgetTooShortStopsItEarlyAndCleanly(Transport.Kind kind) {
        try (Transport transport = Transport.create(kind, 1)) {
            Warmup.Result r = Warmup.run(transport, Duration.ofMillis(1));

            assertThat(r.requests()).isLessThan(8_000);
            assertThat(r.took()).isLessThan(Duration.ofSeconds(30));
        }
    }

    private static long openFiles() throws Exception {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
