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

    /** ingress-nginx's defaults: connect 5 s, read and send 60 s, body 1 MiB, HTTP, no rewrite, any source. */
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

    @Override
    public String toString() {
        return "RoutePolicy(connect " + connectTimeout + ", read " + readTimeout + ", send " + sendTimeout
               + ", body " + maxBodySize + (rewriteTarget != null ? ", rewrite " + rewritePattern + " -> "
                                                                     + rewriteTarget : "")
               + ", sources " + allowedSources + ", ssl-redirect " + sslRedirect
               + (forceSslRedirect ? ", force-ssl-redirect" : "") + ", " + backendProtocol + ')';
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
