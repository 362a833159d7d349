package io.ferry.l4;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.ThreadAwareExecutor;

/**
 * Works around a Netty 4.2.18 epoll fault that truncates half-closed connections.
 *
 * <p>When a channel's interest set becomes empty, {@code EpollIoHandler}'s registration removes the fd from epoll
 * ({@code EPOLL_CTL_DEL}, netty/netty#16689) but keeps believing it is added, so the next interest — typically
 * {@code EPOLLOUT} when a write to a client that has sent its FIN cannot complete at once — is an
 * {@code EPOLL_CTL_MOD} that fails with {@code ENOENT}. Netty then shuts the output down and the client sees a
 * clean EOF with part of its reply missing. It happens on every proxied connection whose client half-closes while
 * more than a socket buffer of reply is still on its way.
 *
 * <p>The fix: never hand the registration an empty set. An empty set becomes {@code EPOLLET} alone, which keeps
 * the fd in epoll with no events of interest; {@code EPOLLHUP} and {@code EPOLLERR}, which epoll always reports,
 * are then reported once (edge-triggered) instead of on every wake-up, which was the reason for the removal. Later
 * interests are plain {@code EPOLL_CTL_MOD}s that succeed. A request for the non-empty set already submitted is
 * dropped: the system call would change nothing. Remove this class when Ferry moves to a Netty that resets the
 * registration's state after the removal.
 */
final class EpollRegistrationFix implements IoHandlerFactory {

    private final IoHandlerFactory delegate = EpollIoHandler.newFactory();

    @Override
    public IoHandler newHandler(ThreadAwareExecutor executor) {
        return new Handler(delegate.newHandler(executor));
    }

    @Override
    public boolean isChangingThreadSupported() {
        return delegate.isChangingThreadSupported();
    }

    private static final class Handler implements IoHandler {

        private final IoHandler delegate;

        Handler(IoHandler delegate) {
            this.delegate = delegate;
        }

        @Override
        public void initialize() {
            delegate.initialize();
        }

        @Override
        public int run(IoHandlerContext context) {
            return delegate.run(context);
        }

        @Override
        public void prepareToDestroy() {
            delegate.prepareToDestroy();
        }

        @Override
        public void destroy() {
            delegate.destroy();
        }

        @Override
        public IoRegistration register(IoHandle handle) throws Exception {
            return new Registration(delegate.register(handle));
        }

        @Override
        public void wakeup() {
            delegate.wakeup();
        }

        @Override
        public boolean isCompatible(Class<? extends IoHandle> handleType) {
            return delegate.isCompatible(handleType);
        }
    }

    private static final class Registration implements IoRegistration {

        private final IoRegistration delegate;
        // The interest set last handed to the delegate, or -1. Netty asks for the set it already has now and then
        // (after a connect completes: EPOLLOUT off, then the same set again before EPOLLIN goes on), and each ask
        // is an epoll_ctl(EPOLL_CTL_MOD) that changes nothing.
        private long submitted = -1;

        Registration(IoRegistration delegate) {
            this.delegate = delegate;
        }

        @Override
        public <T> T attachment() {
            return delegate.attachment();
        }

        @Override
        public long submit(IoOps ops) {
            EpollIoOps epollOps = (EpollIoOps) ops;
            if (epollOps.value() == 0) {
                epollOps = EpollIoOps.EPOLLET; // asked for again, it re-arms the one HUP or ERR report: not skipped
            } else if (epollOps.value() == submitted && delegate.isValid()) {
                return submitted;
            }
            long result = delegate.submit(epollOps);
            submitted = result == epollOps.value() ? result : -1;
            return result;
        }

        @Override
        public boolean isValid() {
            return delegate.isValid();
        }

        @Override
        public boolean cancel() {
            return delegate.cancel();
        }
    }
}
