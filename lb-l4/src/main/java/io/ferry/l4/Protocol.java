package io.ferry.l4;

/** The transport protocol of a Service port, as Kubernetes names it. */
public enum Protocol {
    TCP,
    UDP,
    SCTP
}
