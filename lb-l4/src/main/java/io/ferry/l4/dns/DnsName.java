package io.ferry.l4.dns;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * Domain names as Ferry's DNS server stores them: absolute, lowercase, in wire format (length-prefixed labels
 * ending with the root's zero byte).
 *
 * <p>Only host-name-like labels are accepted: 1-63 bytes of letters, digits, {@code -} and {@code _} (the
 * underscore for SRV owner names such as {@code _http._tcp}); a whole name is at most 255 bytes in wire format.
 * Kubernetes object names are always of that shape; anything else (escapes, other bytes) is rejected rather than
 * guessed.
 */
public final class DnsName {

    /** The longest name in wire format, with its root byte (RFC 1035 section 2.3.4). */
    public static final int MAX_WIRE_LENGTH = 255;
    /** The longest label (RFC 1035 section 2.3.4). */
    public static final int MAX_LABEL_LENGTH = 63;

    private DnsName() {
    }

    /** Whether {@code label} is a label this server can hold. */
    public static boolean isValidLabel(String label) {
        if (label == null || label.isEmpty() || label.length() > MAX_LABEL_LENGTH) {
            return false;
        }
        for (int i = 0; i < label.length(); i++) {
            if (!isLabelChar(label.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code name} (dotted, with or without the final dot) is a name this server can hold. */
    public static boolean isValidName(String name) {
        try {
            toWire(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * The lowercase wire form of a dotted name ({@code "Web.Default.svc.cluster.local."} or without the final dot).
     *
     * @throws IllegalArgumentException if a label is empty, too long or has a byte other than a letter, digit,
     *                                  {@code -} or {@code _}, or if the name is longer than 255 bytes
     */
    public static byte[] toWire(String name) {
        requireNonNull(name, "name");
        int n = name.endsWith(".") ? name.length() - 1 : name.length();
        if (n == 0) {
            throw new IllegalArgumentException("name: \"" + name + "\" (expected: a name below the root)");
        }
        if (n + 2 > MAX_WIRE_LENGTH) {
            throw new IllegalArgumentException("name: " + name + " (expected: at most 253 characters)");
        }
        byte[] out = new byte[n + 2];
        int lengthAt = 0;
        for (int i = 0; i <= n; i++) {
            char c = i < n ? name.charAt(i) : '.';
            if (c == '.') {
                int len = i - lengthAt;
                if (len < 1 || len > MAX_LABEL_LENGTH) {
                    throw new IllegalArgumentException("name: " + name + " (label \"" + name.substring(lengthAt, i)
                                                       + "\"; expected: 1-63 letters, digits, '-' or '_')");
                }
                out[lengthAt] = (byte) len;
                lengthAt = i + 1;
            } else if (isLabelChar(c)) {
                out[i + 1] = (byte) lower(c);
            } else {
                int end = name.indexOf('.', i);
                throw new IllegalArgumentException("name: " + name + " (label \""
                                                   + name.substring(lengthAt, end < 0 ? n : Math.min(end, n))
                                                   + "\"; expected: 1-63 letters, digits, '-' or '_')");
            }
        }
        out[n + 1] = 0;
        return out;
    }

    private static boolean isLabelChar(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_';
    }

    /** The dotted form of a wire name (without the final dot; {@code "."} for the root). */
    public static String toText(byte[] wire) {
        StringBuilder b = new StringBuilder();
        int p = 0;
        while (p < wire.length && wire[p] != 0) {
            int len = wire[p];
            if (b.length() > 0) {
                b.append('.');
            }
            for (int i = 1; i <= len; i++) {
                b.append((char) (wire[p + i] & 0xFF));
            }
            p += len + 1;
        }
        return b.length() == 0 ? "." : b.toString();
    }

    /**
     * The reverse-lookup name of an address: {@code d.c.b.a.in-addr.arpa} for IPv4, 32 nibbles then
     * {@code ip6.arpa} for IPv6.
     */
    public static String reverseName(InetAddress address) {
        requireNonNull(address, "address");
        byte[] a = address.getAddress();
        StringBuilder b = new StringBuilder(address instanceof Inet4Address ? 29 : 73);
        if (address instanceof Inet4Address) {
            for (int i = 3; i >= 0; i--) {
                b.append(a[i] & 0xFF).append('.');
            }
            return b.append("in-addr.arpa").toString();
        }
        for (int i = 15; i >= 0; i--) {
            b.append(Character.forDigit(a[i] & 0xF, 16)).append('.')
             .append(Character.forDigit((a[i] >> 4) & 0xF, 16)).append('.');
        }
        return b.append("ip6.arpa").toString();
    }

    /** How many labels a wire name has (the root has none). */
    static int labelCount(byte[] wire, int length) {
        int n = 0;
        int p = 0;
        while (p < length && wire[p] != 0) {
            p += wire[p] + 1;
            n++;
        }
        return n;
    }

    /**
     * Whether the first {@code length} bytes of {@code name} (a lowercase wire name) end with {@code suffix} (a
     * lowercase wire name) at a label boundary.
     */
    static boolean endsWith(byte[] name, int length, byte[] suffix) {
        int start = length - suffix.length;
        if (start < 0) {
            return false;
        }
        int p = 0;
        while (p < start) {
            p += name[p] + 1;
        }
        if (p != start) {
            return false;
        }
        for (int i = 0; i < suffix.length; i++) {
            if (name[start + i] != suffix[i]) {
                return false;
            }
        }
        return true;
    }

    /** The hash the table and the query parser share: over the lowercase wire bytes. */
    static int hash(byte[] name, int length) {
        int h = 1;
        for (int i = 0; i < length; i++) {
            h = 31 * h + name[i];
        }
        return h ^ (h >>> 16);
    }

    static int lower(int c) {
        return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
    }
}
