package io.ferry.control;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Reads durations the way kube-proxy's and ingress-nginx's flags write them: {@code 30s}, {@code 500ms},
 * {@code 1m30s}, {@code 2h}; a bare number is seconds.
 */
final class DurationConverter implements CommandLine.ITypeConverter<Duration> {

    private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h)");

    @Override
    public Duration convert(String value) {
        return parse(value);
    }

    static Duration parse(String value) {
        if (value.matches("\\d+")) {
            return Duration.ofSeconds(Long.parseLong(value));
        }
        Matcher m = PART.matcher(value);
        Duration total = Duration.ZERO;
        int end = 0;
        while (m.find() && m.start() == end) {
            long n = Long.parseLong(m.group(1));
            switch (m.group(2)) {
                case "ms":
                    total = total.plusMillis(n);
                    break;
                case "s":
                    total = total.plusSeconds(n);
                    break;
                case "m":
                    total = total.plusMinutes(n);
                    break;
                default:
                    total = total.plusHours(n);
            }
            end = m.end();
        }
        if (end != value.length() || value.isEmpty()) {
            throw new CommandLine.TypeConversionException(
                    "'" + value + "' (expected: a duration such as 30s, 500ms, 1m30s or 2h)");
        }
        return total;
    }
}
