package io.ferry.control.compile;

import io.ferry.l7.route.RoutePolicy;
import io.ferry.l7.route.RoutePolicy.BackendProtocol;
import io.ferry.l7.route.SourceRanges;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The {@code nginx.ingress.kubernetes.io/*} annotations of one Ingress, parsed into types and checked the way
 * ingress-nginx checks them (its {@code internal/ingress/annotations/*} parsers and
 * {@code annotations/parser/validators.go}). Immutable; built by {@link #parse(Map)}.
 *
 * <p>Three outcomes per annotation:
 * <ul>
 *   <li><b>Supported and valid</b>: its value lands in the typed fields ({@link #applyTo} puts them in a
 *       {@link RoutePolicy}).</li>
 *   <li><b>Supported but invalid</b>: a message in {@link #problems()} and the annotation is ignored (the default
 *       stays), as ingress-nginx falls back to its default. Two exceptions fail closed instead, because ignoring
 *       them would widen access or downgrade security: an unreadable {@code allowlist-source-range} admits nobody
 *       ({@link SourceRanges#NONE}; ingress-nginx denies the location too), and a {@code backend-protocol} Ferry
 *       does not speak yet ({@code HTTPS}, {@code GRPCS}, {@code AUTO_HTTP}, {@code AJP}, {@code FCGI}) makes
 *       the paths answer 503 (see {@link IngressCompiler}); {@code GRPC} and {@code H2C} are spoken, over HTTP/2
 *       cleartext.</li>
 *   <li><b>Not supported</b>: listed in {@link #unsupported()} and reported once. Those whose absence would
 *       expose what they protect or send traffic where it must not go — every {@code *-snippet} (nginx
 *       configuration text), authentication ({@code auth-*}), {@code denylist-source-range} and
 *       {@code canary*} — are listed in {@link #refusals()} instead: the compiler then refuses the whole Ingress
 *       rather than serve it half-applied.</li>
 * </ul>
 */
final class IngressAnnotations {

    static final String PREFIX = "nginx.ingress.kubernetes.io/";

    /** {@code load-balance} values; ingress-nginx's default is {@code round_robin}. */
    enum LoadBalance {
        ROUND_ROBIN("round_robin"), EWMA("ewma");

        private final String value;

        LoadBalance(String value) {
            this.value = value;
        }

        String value() {
            return value;
        }
    }

    /** ingress-nginx's {@code RegexPathWithCapture}: an optional leading {@code /}, then URL-safe characters. */
    private static final Pattern REWRITE_TARGET = Pattern.compile("/?[-._~a-zA-Z0-9/:$]*");
    /** nginx size syntax: bytes, or a number with {@code k}, {@code m} or {@code g} (either case). */
    private static final Pattern SIZE = Pattern.compile("([0-9]+)([kKmMgG]?)");
    private static final Pattern INTEGER = Pattern.compile("[+-]?[0-9]+");

    /** The protocols ingress-nginx accepts for {@code backend-protocol}, plus Ferry's H2C. */
    private static final Set<String> KNOWN_PROTOCOLS = Set.of("HTTP", "HTTPS", "GRPC", "GRPCS", "H2C", "AUTO_HTTP",
                                                              "AJP", "FCGI");

    private static final Set<String> SUPPORTED = Set.of(
            "rewrite-target", "use-regex", "ssl-redirect", "force-ssl-redirect", "proxy-connect-timeout",
            "proxy-read-timeout", "proxy-send-timeout", "proxy-body-size", "whitelist-source-range",
            "allowlist-source-range", "backend-protocol", "load-balance", "upstream-max-fails",
            "upstream-fail-timeout");

    private Duration connectTimeout;
    private Duration readTimeout;
    private Duration sendTimeout;
    private Long maxBodySize;
    private Boolean sslRedirect;
    private Boolean forceSslRedirect;
    private boolean useRegex;
    private String rewriteTarget;
    private SourceRanges allowedSources;
    private String backendProtocol;
    private LoadBalance loadBalance = LoadBalance.ROUND_ROBIN;
    private Integer maxFails;
    private Duration failTimeout;
    private final List<String> refusals = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final List<String> unsupported = new ArrayList<>();

    private IngressAnnotations() {
    }

    /** Parses every annotation of an Ingress; annotations without ingress-nginx's prefix are not looked at. */
    static IngressAnnotations parse(Map<String, String> annotations) {
        IngressAnnotations a = new IngressAnnotations();
        if (annotations == null) {
            return a;
        }
        Map<String, String> ours = new TreeMap<>(); // sorted, so that reports are stable
        for (Map.Entry<String, String> e : annotations.entrySet()) {
            if (e.getKey().startsWith(PREFIX)) {
                ours.put(e.getKey().substring(PREFIX.length()), e.getValue() == null ? "" : e.getValue());
            }
        }
        for (Map.Entry<String, String> e : ours.entrySet()) {
            String name = e.getKey();
            if (name.endsWith("-snippet")) {
                a.refusals.add(PREFIX + name + " (nginx configuration text is never applied)");
            } else if (name.startsWith("auth-")) {
                a.refusals.add(PREFIX + name + " (authentication is not supported; serving without it would "
                               + "expose what it protects)");
            } else if (name.equals("denylist-source-range")) {
                a.refusals.add(PREFIX + name + " (not supported; serving without it would admit the denied "
                               + "sources)");
            } else if (name.startsWith("canary")) {
                a.refusals.add(PREFIX + name + " (canaries are not supported; this Ingress would take all of "
                               + "the traffic meant for a share)");
            } else if (!SUPPORTED.contains(name)) {
                a.unsupported.add(PREFIX + name);
            }
        }
        a.connectTimeout = a.seconds(ours, "proxy-connect-timeout");
        a.readTimeout = a.seconds(ours, "proxy-read-timeout");
        a.sendTimeout = a.seconds(ours, "proxy-send-timeout");
        a.maxBodySize = a.size(ours, "proxy-body-size");
        a.sslRedirect = a.bool(ours, "ssl-redirect");
        a.forceSslRedirect = a.bool(ours, "force-ssl-redirect");
        Boolean regex = a.bool(ours, "use-regex");
        a.useRegex = regex != null && regex;
        a.rewriteTarget = a.rewriteTarget(ours);
        a.allowedSources = a.sourceRanges(ours);
        a.backendProtocol = a.backendProtocol(ours);
        a.loadBalance = a.loadBalance(ours);
        a.maxFails = a.maxFails(ours);
        a.failTimeout = a.failTimeout(ours);
        return a;
    }

    /**
     * A policy builder holding {@code defaults} overridden by these annotations; the rewrite (which depends on
     * the path) is left to the caller.
     */
    RoutePolicy.Builder applyTo(RoutePolicy defaults) {
        RoutePolicy.Builder b = RoutePolicy.builder()
                                           .connectTimeout(connectTimeout != null ? connectTimeout
                                                                                  : defaults.connectTimeout())
                                           .readTimeout(readTimeout != null ? readTimeout : defaults.readTimeout())
                                           .sendTimeout(sendTimeout != null ? sendTimeout : defaults.sendTimeout())
                                           .maxBodySize(maxBodySize != null ? maxBodySize : defaults.maxBodySize())
                                           .sslRedirect(sslRedirect != null ? sslRedirect : defaults.sslRedirect())
                                           .forceSslRedirect(forceSslRedirect != null ? forceSslRedirect
                                                                                      : defaults.forceSslRedirect())
                                           .allowedSources(allowedSources != null ? allowedSources
                                                                                  : defaults.allowedSources())
                                           .backendProtocol(defaults.backendProtocol())
                                           .maxFails(maxFails != null ? maxFails : defaults.maxFails())
                                           .failTimeout(failTimeout != null ? failTimeout : defaults.failTimeout());
        BackendProtocol protocol = backendProtocol == null ? null : policyProtocol();
        if (protocol != null) {
            b.backendProtocol(protocol);
        }
        return b;
    }

    /** {@code use-regex: "true"}. */
    boolean useRegex() {
        return useRegex;
    }

    /** The valid {@code rewrite-target}, or {@code null}. */
    String rewriteTarget() {
        return rewriteTarget;
    }

    /** The {@code backend-protocol} asked for, upper case; {@code null} when unset or invalid. */
    String backendProtocol() {
        return backendProtocol;
    }

    LoadBalance loadBalance() {
        return loadBalance;
    }

    /** Why the whole Ingress must be refused; empty when it may be served. */
    List<String> refusals() {
        return List.copyOf(refusals);
    }

    /** Invalid values, one message each, naming the annotation, the value and what was expected. */
    List<String> problems() {
        return List.copyOf(problems);
    }

    /** Annotations with ingress-nginx's prefix that Ferry ignores, full names, sorted. */
    List<String> unsupported() {
        return List.copyOf(unsupported);
    }

    private BackendProtocol policyProtocol() {
        switch (backendProtocol) {
            case "HTTP":
                return BackendProtocol.HTTP;
            case "HTTPS":
                return BackendProtocol.HTTPS;
            case "GRPC":
                return BackendProtocol.GRPC;
            case "GRPCS":
                return BackendProtocol.GRPCS;
            case "H2C":
                return BackendProtocol.H2C;
            default:
                return null; // AUTO_HTTP, AJP, FCGI: no such policy; the compiler closes those paths
        }
    }

    private void invalid(String name, String value, String expected) {
        problems.add(PREFIX + name + ": \"" + value + "\" (expected: " + expected + "); ignored");
    }

    /** ingress-nginx reads timeouts with Go's {@code strconv.Atoi}: whole seconds, no unit. */
    private Duration seconds(Map<String, String> ours, String name) {
        String value = ours.get(name);
        if (value == null) {
            return null;
        }
        Long seconds = wholeNumber(value);
        if (seconds != null && seconds > 0 && seconds <= Integer.MAX_VALUE) {
            return Duration.ofSeconds(seconds);
        }
        invalid(name, value, "whole seconds above 0 without a unit, such as 60");
        return null;
    }

    /**
     * {@code upstream-max-fails}, nginx's {@code max_fails}: ingress-nginx (up to 0.20, which rendered it into the
     * upstream's {@code server} lines) read it with {@code strconv.Atoi}; {@code 0} turns passive health off.
     */
    private Integer maxFails(Map<String, String> ours) {
        String value = ours.get("upstream-max-fails");
        if (value == null) {
            return null;
        }
        Long n = wholeNumber(value);
        if (n != null && n >= 0 && n <= Integer.MAX_VALUE) {
            return n.intValue();
        }
        invalid("upstream-max-fails", value, "a whole number of failed tries, 0 or more; 0 turns passive health "
                                             + "off");
        return null;
    }

    /**
     * {@code upstream-fail-timeout}, nginx's {@code fail_timeout}: whole seconds without a unit, read with
     * {@code strconv.Atoi} as ingress-nginx did ({@code "30s"} was ignored there too); {@code 0}: never skipped.
     */
    private Duration failTimeout(Map<String, String> ours) {
        String value = ours.get("upstream-fail-timeout");
        if (value == null) {
            return null;
        }
        Long seconds = wholeNumber(value);
        if (seconds != null && seconds >= 0 && seconds <= Integer.MAX_VALUE) {
            return Duration.ofSeconds(seconds);
        }
        invalid("upstream-fail-timeout", value, "whole seconds without a unit, 0 or more, such as 10");
        return null;
    }

    /** Go's {@code strconv.Atoi} syntax (an optional sign, then digits), or {@code null}. */
    private static Long wholeNumber(String value) {
        if (!INTEGER.matcher(value).matches()) {
            return null;
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            return null; // too long
        }
    }

    private Long size(Map<String, String> ours, String name) {
        String value = ours.get(name);
        if (value == null) {
            return null;
        }
        var m = SIZE.matcher(value.strip());
        if (m.matches()) {
            try {
                long number = Long.parseLong(m.group(1));
                int shift;
                switch (m.group(2).toLowerCase(Locale.ROOT)) {
                    case "k":
                        shift = 10;
                        break;
                    case "m":
                        shift = 20;
                        break;
                    case "g":
                        shift = 30;
                        break;
                    default:
                        shift = 0;
                }
                if (number <= Long.MAX_VALUE >> shift) {
                    return number << shift;
                }
            } catch (NumberFormatException e) {
                // too long: reported below
            }
        }
        invalid(name, value, "an nginx size such as 1048576, 512k, 8m or 1g; 0 for no limit");
        return null;
    }

    /** Go's {@code strconv.ParseBool}, which ingress-nginx uses. */
    private Boolean bool(Map<String, String> ours, String name) {
        String value = ours.get(name);
        if (value == null) {
            return null;
        }
        switch (value) {
            case "1": case "t": case "T": case "true": case "TRUE": case "True":
                return true;
            case "0": case "f": case "F": case "false": case "FALSE": case "False":
                return false;
            default:
                invalid(name, value, "true or false");
                return null;
        }
    }

    private String rewriteTarget(Map<String, String> ours) {
        String value = ours.get("rewrite-target");
        if (value == null) {
            return null;
        }
        if (value.isEmpty() || !REWRITE_TARGET.matcher(value).matches()) {
            invalid("rewrite-target", value, "a path of letters, digits and -._~/: with $1-style groups");
            return null;
        }
        for (int i = value.indexOf('$'); i >= 0; i = value.indexOf('$', i + 1)) {
            if (i + 1 >= value.length() || value.charAt(i + 1) < '0' || value.charAt(i + 1) > '9') {
                invalid("rewrite-target", value, "$ only before a group number such as $1; nginx variables are "
                                                 + "not supported");
                return null;
            }
        }
        return value;
    }

    /**
     * {@code allowlist-source-range}, or its older name {@code whitelist-source-range} when the new one is unset
     * or empty (ingress-nginx's alias rule). An invalid list fails closed.
     */
    private SourceRanges sourceRanges(Map<String, String> ours) {
        String name = "allowlist-source-range";
        String value = ours.get(name);
        if (value == null || value.isEmpty()) {
            String alias = ours.get("whitelist-source-range");
            if (alias != null && (value == null || !alias.isEmpty())) {
                name = "whitelist-source-range";
                value = alias;
            }
        }
        if (value == null) {
            return null;
        }
        try {
            return SourceRanges.parse(value);
        } catch (IllegalArgumentException e) {
            problems.add(PREFIX + name + ": " + e.getMessage() + "; the paths admit no client until it is fixed");
            return SourceRanges.NONE;
        }
    }

    /** ingress-nginx upper-cases and trims the value, and falls back to HTTP for an unknown one. */
    private String backendProtocol(Map<String, String> ours) {
        String value = ours.get("backend-protocol");
        if (value == null) {
            return null;
        }
        String upper = value.strip().toUpperCase(Locale.ROOT);
        if (!KNOWN_PROTOCOLS.contains(upper)) {
            invalid("backend-protocol", value, "HTTP, HTTPS, GRPC, GRPCS, H2C, AUTO_HTTP, AJP or FCGI");
            return null;
        }
        return upper;
    }

    private LoadBalance loadBalance(Map<String, String> ours) {
        String value = ours.get("load-balance");
        if (value == null) {
            return LoadBalance.ROUND_ROBIN;
        }
        for (LoadBalance lb : LoadBalance.values()) {
            if (lb.value().equals(value.strip())) {
                return lb;
            }
        }
        invalid("load-balance", value, "round_robin or ewma");
        return LoadBalance.ROUND_ROBIN;
    }
}
