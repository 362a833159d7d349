package io.ferry.control.churn;

import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * One client connection of the churn load: a blocking socket to the proxy, TLS with SNI when asked (any
 * certificate accepted: the load looks at which one it got), with a read timeout so that a stall is a failure, not
 * a hang. Owned by one thread.
 */
final class LoadConnection implements AutoCloseable {

    static final int READ_TIMEOUT_MILLIS = 10_000;

    private final Socket socket;
    final InputStream in;
    final OutputStream out;
    private final BigInteger serial;

    private LoadConnection(Socket socket, BigInteger serial) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
        this.out = socket.getOutputStream();
        this.serial = serial;
    }

    /**
     * Connects to {@code proxy}; with {@code sni} non-null, completes a TLS handshake for that name first, on a
     * fresh context (no session resumption: every connection gets the certificate served now).
     */
    static LoadConnection open(InetSocketAddress proxy, String sni) throws IOException {
        Socket plain = new Socket();
        try {
            plain.setTcpNoDelay(true);
            plain.setSoTimeout(READ_TIMEOUT_MILLIS);
            plain.connect(proxy, READ_TIMEOUT_MILLIS);
            if (sni == null) {
                return new LoadConnection(plain, null);
            }
            SSLSocket tls = (SSLSocket) newContext().getSocketFactory()
                                                    .createSocket(plain, sni, proxy.getPort(), true);
            SSLParameters params = tls.getSSLParameters();
            params.setServerNames(List.of(new SNIHostName(sni)));
            tls.setSSLParameters(params);
            tls.startHandshake();
            X509Certificate leaf = (X509Certificate) tls.getSession().getPeerCertificates()[0];
            return new LoadConnection(tls, leaf.getSerialNumber());
        } catch (IOException | RuntimeException e) {
            plain.close();
            throw e;
        }
    }

    private static SSLContext newContext() {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, InsecureTrustManagerFactory.INSTANCE.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The serial number of the certificate the proxy presented, or {@code null} without TLS. */
    BigInteger serial() {
        return serial;
    }

    /** Reads one CRLF-terminated line (ISO-8859-1), without the CRLF. */
    String readLine() throws IOException {
        StringBuilder line = new StringBuilder(64);
        for (;;) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed by the proxy"
                                      + (line.length() == 0 ? "" : " mid-line: " + line));
            }
            if (b == '\n') {
                int n = line.length();
                if (n > 0 && line.charAt(n - 1) == '\r') {
                    line.setLength(n - 1);
                }
                return line.toString();
            }
            line.append((char) b);
        }
    }

    /** Reads exactly {@code n} bytes. */
    byte[] readFully(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) {
            throw new IOException("connection closed by the proxy after " + b.length + " of " + n + " bytes");
        }
        return b;
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
