/**
 * The HTTP route table: which {@link io.ferry.l7.route.Route} a request's Host and path select, compiled from
 * Ingresses and swapped whole. Start at {@link io.ferry.l7.route.HttpRouteTable}.
 */
package io.ferry.l7.route;
