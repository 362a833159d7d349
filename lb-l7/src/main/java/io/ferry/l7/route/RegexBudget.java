package io.ferry.l7.route;

import static java.util.Objects.requireNonNull;

import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A step limit for the regular expressions Ingress authors write ({@code use-regex} paths, {@code rewrite-target}
 * patterns), which run on an event loop against request paths that clients choose. {@code java.util.regex}
 * backtracks, so a pattern like {@code (a+)+$} can take exponential time on a crafted path (ReDoS); nginx bounds
 * PCRE with a match limit and answers 500 when it is hit. Here the matcher reads its input through a
 * {@link CharSequence} that counts every character read and throws {@link ExceededException} past
 * {@value #MAX_READS} reads (a few milliseconds), which the proxy answers with 500. An ordinary pattern reads each
 * character of a path a handful of times.
 *
 * <p>Stateless apart from a process-wide counter; safe on any thread.
 */
public final class RegexBudget {

    /** Character reads one match may make. */
    public static final int MAX_READS = 1_000_000;

    private static final LongAdder EXCEEDED = new LongAdder();
    private static final ExceededException EXCEPTION = new ExceededException();

    private RegexBudget() {
    }

    /** A matcher of {@code pattern} over {@code input} that throws {@link ExceededException} past the budget. */
    public static Matcher matcher(Pattern pattern, String input) {
        return pattern.matcher(new CountedChars(requireNonNull(input, "input"), MAX_READS));
    }

    /** Matches that ran out of budget since the process started. */
    public static long exceeded() {
        return EXCEEDED.sum();
    }

    /** Thrown (one shared instance, no stack trace) when a match runs out of budget. */
    public static final class ExceededException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        private ExceededException() {
            super("regular expression step limit (" + MAX_READS + " character reads) exceeded", null, false, false);
        }
    }

    /** The input of one match; confined to the thread running it. */
    private static final class CountedChars implements CharSequence {
        private final String s;
        private int left;

        CountedChars(String s, int budget) {
            this.s = s;
            this.left = budget;
        }

        @Override
        public char charAt(int index) {
            if (--left < 0) {
                EXCEEDED.increment();
                throw EXCEPTION;
            }
            return s.charAt(index);
        }

        @Override
        public int length() {
            return s.length();
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return s.substring(start, end);
        }

        @Override
        public String toString() {
            return s;
        }
    }
}
