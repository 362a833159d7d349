package io.ferry.l7.tls;

import io.ferry.l7.tls.SelfSignedCertificates.Pem;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.asn1.ASN1BitString;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;

/** Key encodings, a Netty TLS server on loopback and a JDK TLS client, for the tests of this package. */
final class TlsTestSupport {

    private TlsTestSupport() {
    }

    // ---- key encodings --------------------------------------------------------------------------------------

    /** The PKCS#8 key of {@code pem} as PKCS#1 ({@code RSA PRIVATE KEY}). */
    static byte[] pkcs1(Pem pem) throws IOException {
        PrivateKeyInfo info = PrivateKeyInfo.getInstance(der(pem.privateKey()));
        return SelfSignedCertificates.pem("RSA PRIVATE KEY", info.parsePrivateKey().toASN1Primitive().getEncoded());
    }

    /**
     * The PKCS#8 key of {@code pem} as SEC1 ({@code EC PRIVATE KEY}, with the curve inside), optionally preceded by
     * an {@code EC PARAMETERS} block as {@code openssl ecparam -genkey} writes.
     */
    static byte[] sec1(Pem pem, boolean withParametersBlock) throws IOException {
        PrivateKeyInfo info = PrivateKeyInfo.getInstance(der(pem.privateKey()));
        if (!X9ObjectIdentifiers.id_ecPublicKey.equals(info.getPrivateKeyAlgorithm().getAlgorithm())) {
            throw new IllegalArgumentException("not an EC key");
        }
        ECPrivateKey inner = ECPrivateKey.getInstance(info.parsePrivateKey());
        ASN1Encodable curve = info.getPrivateKeyAlgorithm().getParameters();
        ASN1BitString publicKey = inner.getPublicKey();
        ECPrivateKey sec1 = new ECPrivateKey(256, inner.getKey(), publicKey, curve);
        byte[] key = SelfSignedCertificates.pem("EC PRIVATE KEY", sec1.getEncoded());
        if (!withParametersBlock) {
            return key;
        }
        byte[] params = SelfSignedCertificates.pem("EC PARAMETERS", curve.toASN1Primitive().getEncoded());
        return concat(params, key);
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] der(byte[] pem) {
        String text = new String(pem, StandardCharsets.US_ASCII);
        String body = text.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return java.util.Base64.getDecoder().decode(body);
    }

    // ---- server ---------------------------------------------------------------------------------------------

    /**
     * A Netty server on 127.0.0.1 and an ephemeral port that performs TLS handshakes with the handler its
     * supplier makes for each connection, records each handshake's outcome, and discards what it reads (or echoes
     * it).
     */
    static final class TlsServer implements AutoCloseable {
        private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        private final Channel channel;
        private final BlockingQueue<Object> handshakes = new LinkedBlockingQueue<>();

        TlsServer(Supplier<ChannelHandler> tls) throws InterruptedException {
            this(tls, false);
        }

        TlsServer(Supplier<ChannelHandler> tls, boolean echo) throws InterruptedException {
            channel = new ServerBootstrap()
                    .group(group)
                    .channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(tls.get(), new ChannelInboundHandlerAdapter() {
                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                    if (evt instanceof SslHandshakeCompletionEvent) {
                                        SslHandshakeCompletionEvent e = (SslHandshakeCompletionEvent) evt;
                                        handshakes.add(e.isSuccess() ? ctx.pipeline().get(SslHandler.class)
                                                                     : e.cause());
                                    }
                                    ctx.fireUserEventTriggered(evt);
                                }

                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    if (echo) {
                                        ctx.writeAndFlush(msg);
                                    } else {
                                        ReferenceCountUtil.release(msg);
                                    }
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    ctx.close();
                                }
                            });
                        }
                    })
                    .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
        }

        int port() {
            return ((InetSocketAddress) channel.localAddress()).getPort();
        }

        /** The next handshake's outcome: the server's {@link SslHandler} on success, else why it failed. */
        Object nextHandshake() throws InterruptedException {
            Object o = handshakes.poll(10, TimeUnit.SECONDS);
            if (o == null) {
                throw new AssertionError("no handshake completed on the server within 10 s");
            }
            return o;
        }

        @Override
        public void close() {
            channel.close().syncUninterruptibly();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    // ---- client ---------------------------------------------------------------------------------------------

    /** A JDK client context that trusts every certificate (the tests look at what they got instead). */
    static SSLContext trustAll() throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, new SecureRandom());
        return context;
    }

    /**
     * Connects and handshakes with the JDK's TLS client.
     *
     * @param sni the SNI host name to send, or {@code null} for none
     * @param protocols the protocols to enable, or {@code null} for the JDK's defaults
     * @param ciphers the cipher suites to enable, or {@code null} for the JDK's defaults
     * @param alpn the ALPN protocols to offer, or {@code null} for no ALPN
     * @return the connected socket, after its handshake; the caller closes it
     */
    static SSLSocket handshake(SSLContext context, int port, String sni, List<String> protocols, List<String> ciphers,
                               List<String> alpn) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket();
        try {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
            socket.setSoTimeout(10_000);
            SSLParameters params = socket.getSSLParameters();
            params.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
            if (protocols != null) {
                params.setProtocols(protocols.toArray(new String[0]));
            }
            if (ciphers != null) {
                params.setCipherSuites(ciphers.toArray(new String[0]));
            }
            if (alpn != null) {
                params.setApplicationProtocols(alpn.toArray(new String[0]));
            }
            socket.setSSLParameters(params);
            socket.startHandshake();
            return socket;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /** The leaf certificate the server presented. */
    static X509Certificate peerLeaf(SSLSocket socket) throws IOException {
        return (X509Certificate) socket.getSession().getPeerCertificates()[0];
    }
}
