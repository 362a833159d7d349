package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import java.util.List;
import java.util.Map;

/**
 * Decides which Ingresses Ferry serves, in the order ingress-nginx's {@code k8sStore.GetIngressClass}
 * ({@code internal/ingress/controller/store/store.go}) checks:
 *
 * <ol>
 *   <li><b>{@code spec.ingressClassName} set</b>: served when it names Ferry's class ({@code --ingress-class},
 *       default {@code ferry}) <em>and</em> an IngressClass of that name exists whose {@code spec.controller} is
 *       {@value #CONTROLLER}. When the IngressClass object is missing, the Ingress is not served, as in
 *       ingress-nginx, whose class lister only holds IngressClass objects with its controller and which ignores an
 *       Ingress whose class it cannot find ("Ignoring ingress because of error while validating ingress class").
 *       The class name alone is not enough (ingress-nginx needs {@code --ingress-class-by-name} for that; Ferry
 *       has no such flag). The legacy annotation is not consulted: the field wins.</li>
 *   <li><b>Otherwise the annotation {@code kubernetes.io/ingress.class}</b>: served when its value equals Ferry's
 *       class name, whether or not an IngressClass object exists (as ingress-nginx compares it with its
 *       {@code --ingress-class}). Any other value means another controller's Ingress.</li>
 *   <li><b>No class at all</b>: served when {@code --watch-ingress-without-class} is set, or when Ferry's
 *       IngressClass carries {@code ingressclass.kubernetes.io/is-default-class: "true"}. The second is what the
 *       API server's DefaultIngressClass admission plugin achieves by writing the default class into new
 *       Ingresses; Ferry applies it at read time, so that manifests (which pass through no admission) behave as in
 *       a cluster.</li>
 * </ol>
 *
 * <p>Everything else belongs to another controller and is ignored completely. Immutable.
 */
final class IngressClassFilter {

    /** The {@code spec.controller} of Ferry's IngressClass. */
    static final String CONTROLLER = "ferry.io/ingress-controller";
    static final String CLASS_ANNOTATION = "kubernetes.io/ingress.class";
    static final String DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class";

    private final String className;
    private final boolean classExists;
    private final boolean servesUnclassed;

    /**
     * @param className Ferry's class name ({@code --ingress-class})
     * @param watchWithoutClass {@code --watch-ingress-without-class}
     * @param classes every IngressClass in the cluster
     */
    IngressClassFilter(String className, boolean watchWithoutClass, List<IngressClass> classes) {
        this.className = requireNonNull(className, "className");
        IngressClass ours = null;
        for (IngressClass c : classes) {
            if (c.getMetadata() != null && className.equals(c.getMetadata().getName()) && c.getSpec() != null
                && CONTROLLER.equals(c.getSpec().getController())) {
                ours = c;
                break;
            }
        }
        this.classExists = ours != null;
        this.servesUnclassed = watchWithoutClass || ours != null && isDefault(ours);
    }

    private static boolean isDefault(IngressClass c) {
        Map<String, String> annotations = c.getMetadata().getAnnotations();
        return annotations != null && "true".equals(annotations.get(DEFAULT_CLASS_ANNOTATION));
    }

    /** Whether Ferry serves {@code ingress}. */
    boolean serves(Ingress ingress) {
        String field = ingress.getSpec() == null ? null : ingress.getSpec().getIngressClassName();
        if (field != null && !field.isEmpty()) {
            return classExists && className.equals(field);
        }
        Map<String, String> annotations = ingress.getMetadata() == null ? null
                                                                        : ingress.getMetadata().getAnnotations();
        String annotation = annotations == null ? null : annotations.get(CLASS_ANNOTATION);
        if (annotation != null) {
            return className.equals(annotation);
        }
        return servesUnclassed;
    }
}
