package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The access log escapes what would break its fields, as nginx does. */
class AccessLogFormatTest {

    @Test
    void quotesBackslashesAndControlBytesAreEscaped() {
        String clean = "/blog/index/?q=1";
        assertThat(AccessLogFormat.escaped(clean)).isSameAs(clean);
        assertThat(AccessLogFormat.escaped("/a\"b")).isEqualTo("/a\\x22b");
        assertThat(AccessLogFormat.escaped("x\\y\n")).isEqualTo("x\\x5cy\\x0a");
        assertThat(AccessLogFormat.escaped("caf\u00e9")).isEqualTo("caf\\xe9");
    }
}
