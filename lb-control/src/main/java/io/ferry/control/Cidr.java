package io.ferry.control;

import static java.util.Objects.requireNonNull;

import io.netty.util.NetUtil;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 prefix such as {@code 10.96.0.0/12}. Immutable.
 */
public final class Cidr {

    private final byte[] network;
    private final int prefixLength;
    private final String text;

    private Cidr(byte[] network, int prefixLength) {
        this.network = network;
        this.prefixLength = prefixLength;
        this.text = literal(network) + '/' + prefixLength;
    }

    /**
     * Parses {@code a.b.c.d/n} or {@code x::y/n}. Host bits are cleared, as {@code ip route} does.
     *
     * @throws IllegalArgumentException naming the bad value and the expected form
     */
    public static Cidr parse(String text) {
        requireNonNull(text, "text");
        int slash = text.indexOf('/');
        byte[] addr = NetUtil.createByteArrayFromIpAddressString(slash < 0 ? text : text.substring(0, slash));
        if (addr == null) {
            throw new IllegalArgumentException("CIDR: " + text + " (expected: an IP prefix such as 10.96.0.0/12)");
        }
        int bits = addr.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(text.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException("CIDR: " + text + " (expected: a prefix length of 0-" + bits + ')');
            }
        }
        for (int i = 0; i < addr.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            addr[i] &= (byte) (0xff << (8 - keep));
        }
        return new Cidr(addr, prefix);
    }

    /** Whether {@code address} lies in this prefix (an IPv4 address never lies in an IPv6 prefix). */
    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            int keep = Math.max(0, Math.min(8, prefixLength - i * 8));
            int mask = (0xff << (8 - keep)) & 0xff;
            if ((a[i] & mask) != (network[i] & mask)) {
                return false;
            }
        }
        return true;
    }

    /** The number of addresses, capped at {@link Long#MAX_VALUE}. */
    public long size() {
        int hostBits = network.length * 8 - prefixLength;
        return hostBits >= 63 ? Long.MAX_VALUE : 1L << hostBits;
    }

    /** The address at {@code offset} from the network address, {@code 0 <= offset < size()}. */
    public InetAddress address(long offset) {
        if (offset < 0 || offset >= size()) {
            throw new IllegalArgumentException("offset: " + offset + " (expected: 0-" + (size() - 1) + ')');
        }
        BigInteger value = new BigInteger(1, network).add(BigInteger.valueOf(offset));
        byte[] raw = value.toByteArray();
        byte[] out = new byte[network.length];
        int copy = Math.min(raw.length, out.length);
        System.arraycopy(raw, raw.length - copy, out, out.length - copy, copy);
        try {
            return InetAddress.getByAddress(out);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    public boolean isIpv4() {
        return network.length == 4;
    }

    private static String literal(byte[] addr) {
        try {
            return InetAddress.getByAddress(addr).getHostAddress();
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr && ((Cidr) o).text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }

    @Override
    public String toString() {
        return text;
    }
}
