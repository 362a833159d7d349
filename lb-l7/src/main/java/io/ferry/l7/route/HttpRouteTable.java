package io.ferry.l7.route;

/**
 * SKELETON — the API is fixed; the implementation is being written. See the issue-3 helper's task.
 *
 * @param <R> what a match returns (a {@link Route} in production)
 */
public final class HttpRouteTable<R> {

    public static <R> HttpRouteTable<R> empty() {
        throw new UnsupportedOperationException();
    }

    public static <R> Builder<R> builder() {
        throw new UnsupportedOperationException();
    }

    /**
     * @param host the Host header or {@code :authority} as received (any case, optional {@code :port}, IPv6
     *             literal in brackets), or {@code null}
     * @param path the normalized request path: starts with {@code /}, no query
     * @return the matched route, else the host's fallback, else the table's default, else {@code null}
     */
    public R lookup(CharSequence host, String path) {
        throw new UnsupportedOperationException();
    }

    public R defaultRoute() {
        throw new UnsupportedOperationException();
    }

    public static final class Builder<R> {
        /**
         * @param host {@code ""} for any host, {@code *.foo.com} for one extra label, else an exact host
         * @return {@code false}, keeping the first, if the same host, type and path was added before
         */
        public boolean add(String host, PathType type, String path, R route) {
            throw new UnsupportedOperationException();
        }

        /** The route for requests to {@code host} that match none of its paths; the first call wins. */
        public Builder<R> hostDefault(String host, R route) {
            throw new UnsupportedOperationException();
        }

        public Builder<R> defaultRoute(R route) {
            throw new UnsupportedOperationException();
        }

        public HttpRouteTable<R> build() {
            throw new UnsupportedOperationException();
        }
    }
}
