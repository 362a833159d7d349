package io.ferry.control;

import static java.util.Objects.requireNonNull;

/**
 * Something in the configuration Ferry could not use: a manifest that does not parse, a Service that does not
 * validate, a listener that cannot be bound. Reported in the log and in {@code /config_dump}; never fatal.
 *
 * @param subject what is wrong: a file, an object ({@code Service demo/myblog}) or a listener
 * @param message why, naming the bad value and what was expected
 */
public record ConfigProblem(String subject, String message) {

    public ConfigProblem {
        requireNonNull(subject, "subject");
        requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return subject + ": " + message;
    }
}
