/**
 * The admin HTTP server ({@code --admin-address}:{@code --admin-port}): health, readiness and the JSON dump of
 * the live tables. See {@link io.ferry.control.admin.AdminServer}.
 */
package io.ferry.control.admin;
