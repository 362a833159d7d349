package io.ferry.l7.route;

/** How a rule's path is compared with a request's path. */
public enum PathType {
    /** The whole path, case-sensitive. */
    EXACT,
    /** Element-wise prefix on {@code /}; a trailing {@code /} on either side is ignored. Also ImplementationSpecific. */
    PREFIX,
    /** ingress-nginx's {@code use-regex}: a case-insensitive regex anchored at the start of the path. */
    REGEX
}
