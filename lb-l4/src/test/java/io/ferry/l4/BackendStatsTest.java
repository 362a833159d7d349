package io.ferry.l4;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BackendStatsTest {

    @Test
    void eachFieldCountsIntoItsOwnCounter() {
        BackendStats s = new BackendStats();
        s.addConnections(1);
        s.addConnections(1);
        s.addActive(1);
        s.addActive(1);
        s.addActive(-1);
        s.addBytesFromClients(100);
        s.addBytesToClients(2_000);
        s.addNoEndpointRejects(1);
        s.addConnectFailures(3);
        s.addRetries(1);
        s.connectLatency.observe(1_000_000);
        assertThat(s.connections()).isEqualTo(2);
        assertThat(s.active()).isEqualTo(1);
        assertThat(s.bytesFromClients()).isEqualTo(100);
        assertThat(s.bytesToClients()).isEqualTo(2_000);
        assertThat(s.noEndpointRejects()).isEqualTo(1);
        assertThat(s.connectFailures()).isEqualTo(3);
        assertThat(s.retries()).isEqualTo(1);
        assertThat(s.connectLatency().count()).isEqualTo(1);
    }

    /** Connections opened and closed on several event loops at once: the totals are exact and none stays active. */
    @Test
    void concurrentConnectionsAreCountedExactly() throws Exception {
        int threads = 4;
        int perThread = 100_000;
        BackendStats s = new BackendStats();
        StripedCountersTest.hammer(threads, t -> {
            for (int i = 0; i < perThread; i++) {
                s.addConnections(1);
                s.addActive(1);
                s.addBytesFromClients(10);
                s.addBytesToClients(t);
                s.addActive(-1);
            }
        });
        assertThat(s.connections()).isEqualTo((long) threads * perThread);
        assertThat(s.active()).isZero();
        assertThat(s.bytesFromClients()).isEqualTo(10L * threads * perThread);
        assertThat(s.bytesToClients()).isEqualTo((long) perThread * (0 + 1 + 2 + 3));
    }
}
