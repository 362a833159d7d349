package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.l4.Transport;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class TransportOptionTest {

    private static FerryOptions parse(String... args) throws Exception {
        FerryMain main = new FerryMain();
        new CommandLine(main).parseArgs(args);
        return main.options();
    }

    @Test
    void autoPutsTheEdgeOnTheBestTransportAndTheRelayOnEpoll() throws Exception {
        FerryOptions o = parse("--demo");
        assertThat(o.transport).isEqualTo(Transport.Kind.best());
        assertThat(o.relayTransport).isEqualTo(Transport.Kind.bestForRelay());
        assertThat(parse("--demo", "--transport", "AUTO").relayTransport).isEqualTo(Transport.Kind.bestForRelay());
    }

    @Test
    void aNamedTransportRunsEverything() throws Exception {
        FerryOptions o = parse("--demo", "--transport", "nio");
        assertThat(o.transport).isEqualTo(Transport.Kind.NIO);
        assertThat(o.relayTransport).isEqualTo(Transport.Kind.NIO);
    }
}
