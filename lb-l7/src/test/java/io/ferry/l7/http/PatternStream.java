package io.ferry.l7.http;

import java.io.InputStream;
import java.util.Random;
import java.util.zip.CRC32C;

/**
 * A long byte stream that costs nothing to make: a fixed random block of a length that divides no buffer size,
 * repeated. Together with its length, a {@link Checksum} of what arrived tells whether bytes were lost, doubled,
 * reordered or changed on the way.
 */
final class PatternStream extends InputStream {

    private static final byte[] BLOCK = new byte[1024 * 1024 + 7];

    static {
        new Random(20261126).nextBytes(BLOCK);
    }

    private final long length;
    private final Checksum sum = new Checksum();
    private long position;

    PatternStream(long length) {
        this.length = length;
    }

    /** What has been read so far. */
    Checksum checksum() {
        return sum;
    }

    @Override
    public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
        if (position >= length) {
            return -1;
        }
        int at = (int) (position % BLOCK.length);
        int n = (int) Math.min(Math.min(len, length - position), BLOCK.length - at);
        System.arraycopy(BLOCK, at, b, off, n);
        sum.update(b, off, n);
        position += n;
        return n;
    }

    /** A running CRC-32C and byte count; {@code toString()} is {@code "<bytes> <crc32c hex>"}. */
    static final class Checksum {
        private final CRC32C crc = new CRC32C();
        private long bytes;

        void update(byte[] b, int off, int len) {
            crc.update(b, off, len);
            bytes += len;
        }

        long bytes() {
            return bytes;
        }

        @Override
        public String toString() {
            return bytes + " " + Long.toHexString(crc.getValue());
        }
    }
}
