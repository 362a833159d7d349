package io.ferry.l7.route;

import static java.util.Objects.requireNonNull;

import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * A set of CIDR ranges a client address must fall in: ingress-nginx's {@code allowlist-source-range} (formerly
 * {@code whitelist-source-range}). Immutable; {@link #allows(InetAddress)} runs on event loops.
 *
 * <p>Ranges are kept as masked network numbers: an IPv4 range as one {@code int} network and mask, an IPv6 range as
 * two {@code long} halves and their masks. A check compares the address with each range, so it costs a few
 * instructions per range and allocates nothing for an IPv4 client. (For an IPv6 client it reads the address with
 * {@link InetAddress#getAddress()}, whose 16-byte copy is the only accessor the JDK offers; it does not escape and
 * the JIT usually removes it.)
 *
 * <p>An IPv4-mapped IPv6 range ({@code ::ffff:10.0.0.0/104}) is stored as the IPv4 range it denotes, and an
 * IPv4-mapped IPv6 client is checked against the IPv4 ranges, so a dual-stack listener sees the ranges the user
 * wrote.
 */
public final class SourceRanges {

    /** Admits every address: the default when no range is configured. */
    public static final SourceRanges ANY = new SourceRanges(List.of(), new int[0], new int[0], new long[0],
                                                            new long[0], new long[0], new long[0], true);

    /**
     * Admits no address: what a route gets when its ranges could not be read, so that an unreadable allowlist
     * fails closed (ingress-nginx denies such a location too).
     */
    public static final SourceRanges NONE = new SourceRanges(List.of(), new int[0], new int[0], new long[0],
                                                             new long[0], new long[0], new long[0], false);

    private final List<String> cidrs;
    private final int[] v4Networks;
    private final int[] v4Masks;
    private final long[] v6NetworksHigh;
    private final long[] v6NetworksLow;
    private final long[] v6MasksHigh;
    private final long[] v6MasksLow;
    private final boolean any;

    private SourceRanges(List<String> cidrs, int[] v4Networks, int[] v4Masks, long[] v6NetworksHigh,
                         long[] v6NetworksLow, long[] v6MasksHigh, long[] v6MasksLow, boolean any) {
        this.cidrs = cidrs;
        this.v4Networks = v4Networks;
        this.v4Masks = v4Masks;
        this.v6NetworksHigh = v6NetworksHigh;
        this.v6NetworksLow = v6NetworksLow;
        this.v6MasksHigh = v6MasksHigh;
        this.v6MasksLow = v6MasksLow;
        this.any = any;
    }

    /**
     * Parses a comma-separated list of CIDRs and bare addresses, IPv4 or IPv6, as ingress-nginx reads
     * {@code allowlist-source-range}: {@code "10.0.0.0/8, 192.168.1.7, fd00::/8"}. Spaces around entries are
     * ignored; host bits below the prefix are cleared ({@code 10.1.2.3/8} is {@code 10.0.0.0/8}). Host names are
     * refused: nothing here resolves.
     *
     * @throws IllegalArgumentException naming the first bad entry and what was expected
     */
    public static SourceRanges parse(String commaSeparatedCidrs) {
        requireNonNull(commaSeparatedCidrs, "commaSeparatedCidrs");
        if (commaSeparatedCidrs.isBlank()) {
            throw new IllegalArgumentException("source ranges: \"" + commaSeparatedCidrs
                                               + "\" (expected: comma-separated CIDRs such as 10.0.0.0/8,fd00::/8)");
        }
        List<String> normalized = new ArrayList<>();
        List<int[]> v4 = new ArrayList<>();
        List<long[]> v6 = new ArrayList<>();
        for (String raw : commaSeparatedCidrs.split(",", -1)) {
            String entry = raw.strip();
            int slash = entry.indexOf('/');
            String addressText = slash < 0 ? entry : entry.substring(0, slash);
            byte[] bytes = addressText.isEmpty() ? null : NetUtil.createByteArrayFromIpAddressString(addressText);
            if (bytes == null || addressText.indexOf('%') >= 0) {
                throw new IllegalArgumentException("source range: \"" + entry + "\" in \"" + commaSeparatedCidrs
                                                   + "\" (expected: an IPv4 or IPv6 address, optionally /prefix)");
            }
            int maxPrefix = bytes.length * 8;
            int prefix = maxPrefix;
            if (slash >= 0) {
                prefix = prefixLength(entry.substring(slash + 1), maxPrefix);
                if (prefix < 0) {
                    throw new IllegalArgumentException("source range: \"" + entry + "\" in \"" + commaSeparatedCidrs
                                                       + "\" (expected: a prefix length 0-" + maxPrefix + ')');
                }
            }
            if (bytes.length == 16 && isIpv4Mapped(bytes) && prefix >= 96) {
                byte[] v4bytes = new byte[4];
                System.arraycopy(bytes, 12, v4bytes, 0, 4);
                bytes = v4bytes;
                prefix -= 96;
            }
            if (bytes.length == 4) {
                int mask = prefix == 0 ? 0 : -1 << (32 - prefix);
                int network = toInt(bytes, 0) & mask;
                v4.add(new int[] { network, mask });
                normalized.add(NetUtil.intToIpAddress(network) + '/' + prefix);
            } else {
                long maskHigh = mask64(prefix);
                long maskLow = mask64(prefix - 64);
                long high = toLong(bytes, 0) & maskHigh;
                long low = toLong(bytes, 8) & maskLow;
                v6.add(new long[] { high, low, maskHigh, maskLow });
                normalized.add(ipv6String(high, low) + '/' + prefix);
            }
        }
        int[] v4Networks = new int[v4.size()];
        int[] v4Masks = new int[v4.size()];
        for (int i = 0; i < v4.size(); i++) {
            v4Networks[i] = v4.get(i)[0];
            v4Masks[i] = v4.get(i)[1];
        }
        long[] highs = new long[v6.size()];
        long[] lows = new long[v6.size()];
        long[] maskHighs = new long[v6.size()];
        long[] maskLows = new long[v6.size()];
        for (int i = 0; i < v6.size(); i++) {
            highs[i] = v6.get(i)[0];
            lows[i] = v6.get(i)[1];
            maskHighs[i] = v6.get(i)[2];
            maskLows[i] = v6.get(i)[3];
        }
        return new SourceRanges(List.copyOf(normalized), v4Networks, v4Masks, highs, lows, maskHighs, maskLows,
                                false);
    }

    /**
     * Whether {@code address} may use the route. Thread-safe; allocation-free for IPv4 addresses.
     *
     * @param address the client's address; {@code null} (unknown) is admitted only by {@link #ANY}
     */
    public boolean allows(InetAddress address) {
        if (any) {
            return true;
        }
        if (address == null) {
            return false;
        }
        if (address instanceof Inet4Address) {
            // Inet4Address.hashCode() is the address as an int, in every JDK (SourceRangesTest pins it): the one
            // way to read it without the copy getAddress() makes.
            return allowsV4(address.hashCode());
        }
        byte[] bytes = address.getAddress();
        if (isIpv4Mapped(bytes)) {
            return allowsV4(toInt(bytes, 12));
        }
        long high = toLong(bytes, 0);
        long low = toLong(bytes, 8);
        for (int i = 0; i < v6NetworksHigh.length; i++) {
            if ((high & v6MasksHigh[i]) == v6NetworksHigh[i] && (low & v6MasksLow[i]) == v6NetworksLow[i]) {
                return true;
            }
        }
        return false;
    }

    private boolean allowsV4(int ip) {
        for (int i = 0; i < v4Networks.length; i++) {
            if ((ip & v4Masks[i]) == v4Networks[i]) {
                return true;
            }
        }
        return false;
    }

    /** The ranges as parsed and normalized ({@code 10.0.0.0/8}); empty for {@link #ANY} and {@link #NONE}. */
    public List<String> cidrs() {
        return cidrs;
    }

    /** Whether every address is admitted. */
    public boolean isAny() {
        return any;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof SourceRanges)) {
            return false;
        }
        SourceRanges that = (SourceRanges) o;
        return any == that.any && cidrs.equals(that.cidrs);
    }

    @Override
    public int hashCode() {
        return cidrs.hashCode() * 31 + (any ? 1 : 0);
    }

    @Override
    public String toString() {
        if (any) {
            return "any";
        }
        return cidrs.isEmpty() ? "none" : String.join(",", cidrs);
    }

    private static int prefixLength(String text, int max) {
        if (text.isEmpty() || text.length() > 3) {
            return -1;
        }
        int value = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value > max ? -1 : value;
    }

    private static boolean isIpv4Mapped(byte[] bytes) {
        if (bytes.length != 16) {
            return false;
        }
        for (int i = 0; i < 10; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return bytes[10] == (byte) 0xff && bytes[11] == (byte) 0xff;
    }

    /** The mask of the first {@code bits} bits of a 64-bit half; all ones for 64 or more, zero for 0 or less. */
    private static long mask64(int bits) {
        if (bits <= 0) {
            return 0;
        }
        return bits >= 64 ? -1L : -1L << (64 - bits);
    }

    private static int toInt(byte[] b, int offset) {
        return (b[offset] & 0xff) << 24 | (b[offset + 1] & 0xff) << 16 | (b[offset + 2] & 0xff) << 8
               | b[offset + 3] & 0xff;
    }

    private static long toLong(byte[] b, int offset) {
        long value = 0;
        for (int i = 0; i < 8; i++) {
            value = value << 8 | (b[offset + i] & 0xff);
        }
        return value;
    }

    private static String ipv6String(long high, long low) {
        byte[] b = new byte[16];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (high >>> (56 - 8 * i));
            b[8 + i] = (byte) (low >>> (56 - 8 * i));
        }
        try {
            // Inet6Address.getByAddress keeps a mapped form that InetAddress.getByAddress would fold to IPv4.
            return NetUtil.toAddressString(Inet6Address.getByAddress(null, b, -1));
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // 16 bytes are always an IPv6 address
        }
    }
}
