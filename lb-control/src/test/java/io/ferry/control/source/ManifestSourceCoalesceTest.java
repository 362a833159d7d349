package io.ferry.control.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.control.Cidr;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A directory edited without pause (every 20 ms, faster than the 100 ms debounce) must still reach the sink
 * while the edits go on: the debounce coalesces a burst, it must not wait for the burst to end.
 */
class ManifestSourceCoalesceTest {

    @TempDir
    Path dir;

    @Test
    void editsWithoutPauseStillApply() throws Exception {
        Path file = dir.resolve("svc.yaml");
        Files.writeString(file, service(0));
        AtomicInteger states = new AtomicInteger();
        try (ManifestSource source = new ManifestSource(List.of(dir), Cidr.parse("10.96.0.0/12"),
                                                        s -> states.incrementAndGet(), Duration.ofMillis(100),
                                                        Clock.systemUTC())) {
            source.start();
            int before = states.get();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            for (int i = 1; System.nanoTime() < end; i++) {
                Path tmp = dir.resolve(".svc.tmp");
                Files.writeString(tmp, service(i));
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                TimeUnit.MILLISECONDS.sleep(20); // the editor's pace
            }
            // At most 200 ms per burst: about 15 states in 3 s; a debounce that waits for quiet gives none.
            assertThat(states.get() - before).as("states handed over while the edits went on").isGreaterThan(4);
        }
    }

    private static String service(int revision) {
        return """
               apiVersion: v1
               kind: Service
               metadata: {name: a, labels: {revision: "r%d"}}
               spec:
                 ports: [{port: 80}]
               """.formatted(revision);
    }
}
