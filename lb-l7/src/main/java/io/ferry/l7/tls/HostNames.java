package io.ferry.l7.tls;

import io.ferry.l7.route.HostIndex;

/**
 * Host-name helpers of the TLS table: where a Host header's or an SNI's name ends, and the exact-then-one-label
 * wildcard lookup over two {@link HostIndex}es (the route table's host hash, shared).
 */
final class HostNames {

    private HostNames() {
    }

    /**
     * The value of {@code s[start, end)} itself, else of the wildcard that takes it from {@code wildcards} (keyed by
     * what follows {@code *.}): {@code *.foo.com} takes {@code bar.foo.com}, neither {@code a.bar.foo.com} nor
     * {@code foo.com}. {@code null} when neither has it.
     */
    static <V> V lookup(HostIndex<V> exact, HostIndex<V> wildcards, CharSequence s, int start, int end) {
        V v = exact.get(s, start, end);
        if (v != null) {
            return v;
        }
        int dot = indexOf(s, '.', start, end);
        return dot > start && dot < end - 1 ? wildcards.get(s, dot + 1, end) : null;
    }

    /**
     * The end of the host name in a Host header or {@code :authority} ({@code s[0, end)}): without a {@code :port}
     * and without one trailing dot. {@code -1} when there is no DNS name to look up: {@code null}, empty, or an IPv6
     * literal ({@code [::1]:8443}), which no certificate name or Ingress host can be.
     */
    static int hostEnd(CharSequence s) {
        if (s == null || s.length() == 0 || s.charAt(0) == '[') {
            return -1;
        }
        int end = indexOf(s, ':', 0, s.length());
        if (end < 0) {
            end = s.length();
        }
        return trimDot(s, end);
    }

    /** The end of an SNI host name ({@code s[0, end)}) without one trailing dot; {@code -1} when empty. */
    static int sniEnd(CharSequence s) {
        if (s == null || s.length() == 0) {
            return -1;
        }
        return trimDot(s, s.length());
    }

    private static int trimDot(CharSequence s, int end) {
        if (end > 0 && s.charAt(end - 1) == '.') {
            end--;
        }
        return end > 0 ? end : -1;
    }

    private static int indexOf(CharSequence s, char c, int start, int end) {
        for (int i = start; i < end; i++) {
            if (s.charAt(i) == c) {
                return i;
            }
        }
        return -1;
    }
}
