package io.ferry.l7.http;

import io.ferry.l7.tls.TlsCertificate;
import io.ferry.l7.tls.TlsTable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.AbstractSniHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * Picks a connection's certificate from the live {@link TlsTable} by the ClientHello's SNI, then replaces itself
 * with the {@link SslHandler} of that certificate. The table is read once per handshake, so a renewed Secret is
 * served to the next handshake while open connections keep the certificate they got. The chosen certificate is
 * kept in the channel's {@link #CERTIFICATE} attribute for the 421 check.
 *
 * <p>One instance per connection, on its event loop.
 */
final class SniCertificateHandler extends AbstractSniHandler<TlsCertificate> {

    /** The certificate the connection's handshake chose. */
    static final AttributeKey<TlsCertificate> CERTIFICATE = AttributeKey.valueOf("ferry.tls.certificate");
    /** Whether the client sent SNI at all. */
    static final AttributeKey<Boolean> SNI_SENT = AttributeKey.valueOf("ferry.tls.sni");

    private final Supplier<TlsTable> table;

    SniCertificateHandler(Supplier<TlsTable> table, long handshakeTimeoutMillis) {
        super(16 * 1024, handshakeTimeoutMillis);
        this.table = table;
    }

    @Override
    protected Future<TlsCertificate> lookup(ChannelHandlerContext ctx, String hostname) {
        return ctx.executor().newSucceededFuture(table.get().select(hostname));
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, String hostname, Future<TlsCertificate> future) {
        TlsCertificate certificate = future.getNow();
        ctx.channel().attr(CERTIFICATE).set(certificate);
        ctx.channel().attr(SNI_SENT).set(hostname != null);
        SslHandler ssl = certificate.sslContext().newHandler(ctx.alloc());
        ssl.setHandshakeTimeoutMillis(10_000);
        ctx.pipeline().replace(this, "ssl", ssl);
    }
}
