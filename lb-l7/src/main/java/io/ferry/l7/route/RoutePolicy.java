package io.ferry.l7.route;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.regex.Pattern;

/**
 * How requests on one {@link Route} are handled: the typed form of the ingress-nginx annotations Ferry supports.
 * Never config text: every field is checked when the compiler builds it.
 *
 * <p>Immutable; build with {@link #builder()}. {@link #DEFAULT} holds ingress-nginx's defaults.
 */
public final class RoutePolicy {

    /** What {@code backend-protocol} asks for. */
    public enum BackendProtocol { HTTP, HTTPS, GRPC, GRPCS, H2C }

    /** ingress-nginx's {@code proxy-body-size} default, 1 MiB. */
    public static final long DEFAULT_MAX_BODY_SIZE = 1024 * 1024;

    /**
     * nginx's {@code max_fails} default: one failed try (a refused or timed-out connect, or a new connection that
     * breaks before the response head) makes passive health skip the endpoint for {@link #DEFAULT_FAIL_TIMEOUT}.
     */
    public static final int DEFAULT_MAX_FAILS = 1;

    /** nginx's {@code fail_timeout} default: how long an endpoint that failed is skipped, 10 s. */
    public static final Duration DEFAULT_FAIL_TIMEOUT = Duration.ofSeconds(10);

    /**
     * ingress-nginx's defaults: connect 5 s, read and send 60 s, body 1 MiB, HTTP, no rewrite, any source; and
     * nginx's passive health defaults ({@code max_fails=1 fail_timeout=10s}).
     */
    public static final RoutePolicy DEFAULT = builder().build();

    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final Duration sendTimeout;
    private final long maxBodySize;
    private final Pattern rewritePattern;
    private final String rewriteTarget;
    private final SourceRanges allowedSources;
    private final boolean sslRedirect;
    private final boolean forceSslRedirect;
    private final BackendProtocol backendProtocol;
    private final int maxFails;
    private final Duration failTimeout;
    private String text;

    private RoutePolicy(Builder b) {
        connectTimeout = b.connectTimeout;
        readTimeout = b.readTimeout;
        sendTimeout = b.sendTimeout;
        maxBodySize = b.maxBodySize;
        rewritePattern = b.rewritePattern;
        rewriteTarget = b.rewriteTarget;
        allowedSources = b.allowedSources;
        sslRedirect = b.sslRedirect;
        forceSslRedirect = b.forceSslRedirect;
        backendProtocol = b.backendProtocol;
        maxFails = b.maxFails;
        failTimeout = b.failTimeout;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** {@code proxy-connect-timeout}: how long one connect attempt to an endpoint may take. */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /** {@code proxy-read-timeout}: the longest silence from the upstream while a response is awaited or read. */
    public Duration readTimeout() {
        return readTimeout;
    }

    /** {@code proxy-send-timeout}: the longest the upstream may refuse to take request bytes. */
    public Duration sendTimeout() {
        return sendTimeout;
    }

    /** {@code proxy-body-size} in bytes; {@code 0} means no limit (as in nginx). */
    public long maxBodySize() {
        return maxBodySize;
    }

    /**
     * The pattern the request path is matched against for {@code rewrite-target} (the rule's path as a regex,
     * anchored at the start, case-insensitive as ingress-nginx's {@code ~*}), or {@code null} for no rewrite.
     */
    public Pattern rewritePattern() {
        return rewritePattern;
    }

    /** The {@code rewrite-target} with {@code $1}-style group references, or {@code null} for no rewrite. */
    public String rewriteTarget() {
        return rewriteTarget;
    }

    /** {@code whitelist-source-range}; {@link SourceRanges#ANY} when unset. */
    public SourceRanges allowedSources() {
        return allowedSources;
    }

    /** Redirect plain HTTP to HTTPS (308) when the host has TLS; ingress-nginx's {@code ssl-redirect}, default true. */
    public boolean sslRedirect() {
        return sslRedirect;
    }

    /** Redirect plain HTTP to HTTPS even without TLS for the host; {@code force-ssl-redirect}. */
    public boolean forceSslRedirect() {
        return forceSslRedirect;
    }

    public BackendProtocol backendProtocol() {
        return backendProtocol;
    }

    /**
     * Passive health, nginx's {@code max_fails}: failed tries in a row (refused or timed-out connects, new
     * connections that break before the response head; not read timeouts) after which an endpoint is skipped for
     * {@link #failTimeout()}; {@code 0}: failures are not counted and no endpoint is ever skipped for them.
     */
    public int maxFails() {
        return maxFails;
    }

    /** Passive health, nginx's {@code fail_timeout}: how long a failing endpoint is skipped; zero: never skipped. */
    public Duration failTimeout() {
        return failTimeout;
    }

    @Override
    public String toString() {
        // Made once (the compiler's route views name the policy of every route); a race makes it twice, harmlessly.
        String text = this.text;
        if (text == null) {
            this.text = text = describe();
        }
        return text;
    }

    private String describe() {
        return "RoutePolicy(connect " + connectTimeout + ", read " + readTimeout + ", send " + sendTimeout
               + ", body " + maxBodySize + (rewriteTarget != null ? ", rewrite " + rewritePattern + " -> "
                                                                     + rewriteTarget : "")
               + ", sources " + allowedSources + ", ssl-redirect " + sslRedirect
               + (forceSslRedirect ? ", force-ssl-redirect" : "") + ", " + backendProtocol
               + ", max-fails " + maxFails + ", fail-timeout " + failTimeout + ')';
    }

    /** Builds a {@link RoutePolicy}; starts from ingress-nginx's defaults. */
    public static final class Builder {

        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration readTimeout = Duration.ofSeconds(60);
        private Duration sendTimeout = Duration.ofSeconds(60);
        private long maxBodySize = DEFAULT_MAX_BODY_SIZE;
        private Pattern rewritePattern;
        private String rewriteTarget;
        private SourceRanges allowedSources = SourceRanges.ANY;
        private boolean sslRedirect = true;
        private boolean forceSslRedirect;
        private BackendProtocol backendProtocol = BackendProtocol.HTTP;
        private int maxFails = DEFAULT_MAX_FAILS;
        private Duration failTimeout = DEFAULT_FAIL_TIMEOUT;

        private Builder() {
        }

        public Builder connectTimeout(Duration timeout) {
            connectTimeout = positive(timeout, "connectTimeout");
            return this;
        }

        public Builder readTimeout(Duration timeout) {
            readTimeout = positive(timeout, "readTimeout");
            return this;
        }

        public Builder sendTimeout(Duration timeout) {
            sendTimeout = positive(timeout, "sendTimeout");
            return this;
        }

        /** {@code 0} for no limit. */
        public Builder maxBodySize(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("maxBodySize: " + bytes + " (expected: >= 0)");
            }
            maxBodySize = bytes;
            return this;
        }

        /** Sets both halves of a rewrite, or clears it with two {@code null}s. */
        public Builder rewrite(Pattern pattern, String target) {
            if ((pattern == null) != (target == null)) {
                throw new IllegalArgumentException("rewrite: " + pattern + " -> " + target
                                                   + " (expected: both or neither)");
            }
            rewritePattern = pattern;
            rewriteTarget = target;
            return this;
        }

        public Builder allowedSources(SourceRanges ranges) {
            allowedSources = requireNonNull(ranges, "ranges");
            return this;
        }

        public Builder sslRedirect(boolean redirect) {
            sslRedirect = redirect;
            return this;
        }

        public Builder forceSslRedirect(boolean redirect) {
            forceSslRedirect = redirect;
            return this;
        }

        public Builder backendProtocol(BackendProtocol protocol) {
            backendProtocol = requireNonNull(protocol, "protocol");
            return this;
        }

        /** nginx's {@code max_fails}; {@code 0} turns passive health off, as {@code max_fails=0} does. */
        public Builder maxFails(int fails) {
            if (fails < 0) {
                throw new IllegalArgumentException("maxFails: " + fails + " (expected: >= 0)");
            }
            maxFails = fails;
            return this;
        }

        /** nginx's {@code fail_timeout}; {@link Duration#ZERO} turns passive health off. */
        public Builder failTimeout(Duration timeout) {
            requireNonNull(timeout, "timeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("failTimeout: " + timeout + " (expected: >= 0)");
            }
            failTimeout = timeout;
            return this;
        }

        public RoutePolicy build() {
            return new RoutePolicy(this);
        }

        private static Duration positive(Duration d, String name) {
            requireNonNull(d, name);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
            }
            return d;
        }
    }
}
