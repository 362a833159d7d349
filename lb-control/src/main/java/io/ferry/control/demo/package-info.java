/**
 * The demo: backends on loopback that stand for the classic tutorial's pods ({@code myblog} and {@code mysql}),
 * started by {@code --demo} next to the manifests in {@code config/demo}. See {@link
 * io.ferry.control.demo.DemoBackends}.
 */
package io.ferry.control.demo;
