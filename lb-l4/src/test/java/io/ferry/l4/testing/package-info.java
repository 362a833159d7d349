/**
 * The test kit every Ferry module shares (published as lb-l4's test jar): {@link
 * io.ferry.l4.testing.LeakDetectionExtension}, which fails a test class that leaks a buffer, and {@link
 * io.ferry.l4.testing.TestBackend}, a plain-socket server on loopback to stand for an endpoint.
 */
package io.ferry.l4.testing;
