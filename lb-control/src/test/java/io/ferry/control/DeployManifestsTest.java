package io.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.ferry.control.source.ManifestParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code config/deploy}: every manifest parses as the API server would read it, RBAC grants what
 * {@link io.ferry.control.source.KubernetesSource} watches and no more, and the DaemonSet starts Ferry with flags
 * its CLI accepts and probes its admin server where it listens.
 */
class DeployManifestsTest {

    /** Surefire runs with the module directory as the working directory. */
    private static final Path DEPLOY = Path.of("..", "config", "deploy");
    private static final Path KUBERNETES_SOURCE =
            Path.of("src", "main", "java", "io", "ferry", "control", "source", "KubernetesSource.java");
    private static final String NAMESPACE = "ferry-system";

    /** API group of each resource an informer may watch; a new informer needs an entry here and an RBAC rule. */
    private static final Map<String, String> GROUPS = Map.of("services", "",
                                                             "endpointslices", "discovery.k8s.io",
                                                             "ingresses", "networking.k8s.io",
                                                             "ingressclasses", "networking.k8s.io",
                                                             "secrets", "");

    private static List<HasMetadata> objects;

    @BeforeAll
    static void parseAll() throws Exception {
        ManifestParser parser = new ManifestParser();
        List<Path> files;
        try (Stream<Path> s = Files.list(DEPLOY)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".yaml")).sorted().collect(Collectors.toList());
        }
        assertThat(files).extracting(p -> p.getFileName().toString())
                         .containsExactly("00-namespace.yaml", "10-rbac.yaml", "20-ingressclass.yaml",
                                          "30-daemonset.yaml");
        objects = new ArrayList<>();
        for (Path f : files) {
            objects.addAll(parser.parse(Files.readString(f, StandardCharsets.UTF_8)));
        }
    }

    @Test
    void kindsAndNamespaces() {
        assertThat(objects).extracting(HasMetadata::getKind)
                           .containsExactly("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                            "Role", "RoleBinding", "IngressClass", "DaemonSet");
        assertThat(one("Namespace").getMetadata().getName()).isEqualTo(NAMESPACE);
        for (String kind : List.of("ServiceAccount", "Role", "RoleBinding", "DaemonSet")) {
            assertThat(one(kind).getMetadata().getNamespace()).as(kind).isEqualTo(NAMESPACE);
            assertThat(one(kind).getMetadata().getName()).as(kind).startsWith("ferry");
        }
        assertThat(one("ServiceAccount").getMetadata().getName()).isEqualTo("ferry");
    }

    @Test
    void clusterRoleGrantsWhatTheInformersWatchAndNothingBroader() throws IOException {
        ClusterRole role = (ClusterRole) one("ClusterRole");
        Map<String, Set<String>> grants = grants(role.getRules());

        // Every informer of KubernetesSource can list and watch.
        Matcher m = Pattern.compile("new Watched<>\\(\"([a-z]+)\"").matcher(Files.readString(KUBERNETES_SOURCE));
        Set<String> watched = new TreeSet<>();
        while (m.find()) {
            watched.add(m.group(1));
        }
        assertThat(watched).containsExactlyInAnyOrder("services", "endpointslices", "ingresses", "ingressclasses",
                                                      "secrets");
        for (String resource : watched) {
            assertThat(GROUPS).as("API group of " + resource).containsKey(resource);
            assertThat(grants.get(GROUPS.get(resource) + "/" + resource)).as(resource)
                                                                           .contains("list", "watch");
        }

        // Exactly this, and nothing else: no wildcards, no writes but Ingress status, no get on Secrets.
        Map<String, Set<String>> expected = new TreeMap<>();
        expected.put("/services", Set.of("get", "list", "watch"));
        expected.put("discovery.k8s.io/endpointslices", Set.of("get", "list", "watch"));
        expected.put("networking.k8s.io/ingresses", Set.of("get", "list", "watch"));
        expected.put("networking.k8s.io/ingressclasses", Set.of("get", "list", "watch"));
        expected.put("networking.k8s.io/ingresses/status", Set.of("update", "patch"));
        expected.put("/secrets", Set.of("list", "watch"));
        assertThat(grants).isEqualTo(expected);

        ClusterRoleBinding binding = (ClusterRoleBinding) one("ClusterRoleBinding");
        assertThat(binding.getRoleRef().getKind()).isEqualTo("ClusterRole");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertServiceAccount(binding.getSubjects());
    }

    @Test
    void leaseRoleIsNamespacedAndNarrow() {
        Role role = (Role) one("Role");
        assertThat(grants(role.getRules()))
                .isEqualTo(Map.of("coordination.k8s.io/leases", Set.of("get", "create", "update")));
        RoleBinding binding = (RoleBinding) one("RoleBinding");
        assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertServiceAccount(binding.getSubjects());
    }

    @Test
    void ingressClassIsFerrysAndNotDefault() {
        IngressClass ingressClass = (IngressClass) one("IngressClass");
        assertThat(ingressClass.getMetadata().getName()).isEqualTo("ferry");
        assertThat(ingressClass.getSpec().getController()).isEqualTo("ferry.io/ingress-controller");
        Map<String, String> annotations = ingressClass.getMetadata().getAnnotations();
        assertThat(annotations == null ? null : annotations.get("ingressclass.kubernetes.io/is-default-class"))
                .isNotEqualTo("true");
    }

    @Test
    void daemonSetRunsOnEveryNodeInTheHostNetwork() {
        DaemonSet ds = (DaemonSet) one("DaemonSet");
        PodSpec pod = ds.getSpec().getTemplate().getSpec();
        assertThat(ds.getSpec().getSelector().getMatchLabels())
                .isEqualTo(ds.getSpec().getTemplate().getMetadata().getLabels());
        assertThat(pod.getHostNetwork()).isTrue();
        assertThat(pod.getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
        assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
        assertThat(pod.getServiceAccountName()).isEqualTo("ferry");
        assertThat(pod.getTolerations()).anySatisfy(t -> {
            assertThat(t.getOperator()).isEqualTo("Exists");
            assertThat(t.getKey()).isNull();
            assertThat(t.getEffect()).isNull();
        });
        assertThat(ds.getSpec().getUpdateStrategy().getType()).isEqualTo("RollingUpdate");
        assertThat(ds.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal()).isEqualTo(1);

        Container ferry = ferryContainer(pod);
        assertThat(ferry.getImage()).isEqualTo("ferry:0.1.0");
        assertThat(ferry.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(ferry.getResources().getLimits()).containsKey("memory");
        assertThat(ferry.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(ferry.getSecurityContext().getCapabilities().getAdd()).containsExactly("NET_BIND_SERVICE");
        assertThat(ferry.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(ferry.getSecurityContext().getPrivileged()).isNotEqualTo(Boolean.TRUE);

        assertThat(pod.getInitContainers()).singleElement().satisfies(init -> {
            assertThat(String.join(" ", init.getCommand())).contains("ip route replace local \"$SERVICE_CIDR\" dev lo");
            assertThat(init.getEnv()).anySatisfy(e -> {
                assertThat(e.getName()).isEqualTo("SERVICE_CIDR");
                assertThat(e.getValue()).isEqualTo("10.96.0.0/12");
            });
            assertThat(init.getSecurityContext().getCapabilities().getAdd()).containsExactly("NET_ADMIN");
            assertThat(init.getSecurityContext().getPrivileged()).isNotEqualTo(Boolean.TRUE);
        });
    }

    @Test
    void daemonSetArgsAreAcceptedByFerrysCliAndProbesHitItsAdminServer() throws Exception {
        PodSpec pod = ((DaemonSet) one("DaemonSet")).getSpec().getTemplate().getSpec();
        Container ferry = ferryContainer(pod);
        assertThat(ferry.getCommand()).as("the image's entrypoint runs the jar").isNullOrEmpty();

        // $(VAR) references resolve from the container's env, as the kubelet expands them.
        Map<String, EnvVar> env = ferry.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
        assertThat(env.get("NODE_NAME").getValueFrom().getFieldRef().getFieldPath()).isEqualTo("spec.nodeName");
        List<String> args = new ArrayList<>();
        Pattern ref = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");
        for (String arg : ferry.getArgs()) {
            Matcher m = ref.matcher(arg);
            StringBuilder out = new StringBuilder();
            while (m.find()) {
                assertThat(env).as("env for " + arg).containsKey(m.group(1));
                m.appendReplacement(out, m.group(1).equals("NODE_NAME") ? "node-1" : "10.0.0.1");
            }
            m.appendTail(out);
            args.add(out.toString());
        }

        FerryMain main = new FerryMain();
        assertThatCode(() -> new CommandLine(main).parseArgs(args.toArray(String[]::new)))
                .doesNotThrowAnyException();
        assertThat(main.kubernetes).isTrue();
        assertThat(main.nodeName).isEqualTo("node-1");
        FerryOptions options = main.options(); // the checks call() makes before starting
        assertThat(options.kubernetes).isTrue();
        assertThat(options.adminPort()).isEqualTo(main.adminPort);
        assertThat(options.manifests()).isEmpty();

        assertHttpProbe(ferry.getStartupProbe(), "/livez", main);
        assertHttpProbe(ferry.getLivenessProbe(), "/livez", main);
        assertHttpProbe(ferry.getReadinessProbe(), "/readyz", main);
    }

    @Test
    void containerfileCopiesTheShadedJar() throws IOException {
        String containerfile = Files.readString(DEPLOY.resolve("Containerfile"));
        assertThat(containerfile).contains("FROM eclipse-temurin:17-jre")
                                 .contains("COPY lb-control/target/ferry.jar /opt/ferry/ferry.jar")
                                 .contains("\"-jar\", \"/opt/ferry/ferry.jar\"")
                                 .contains("USER 10001");
    }

    private static void assertHttpProbe(Probe probe, String path, FerryMain main) {
        assertThat(probe).as(path).isNotNull();
        HTTPGetAction get = probe.getHttpGet();
        assertThat(get.getPath()).isEqualTo(path);
        assertThat(get.getPort().getIntVal()).isEqualTo(main.adminPort);
        // Without `host` the kubelet probes the pod IP, which with hostNetwork is the node's address: reachable
        // only when the admin server listens on it (or on every address).
        if (get.getHost() == null) {
            assertThat(main.adminAddress).isNotEqualTo("127.0.0.1");
        } else {
            assertThat(get.getHost()).isEqualTo(main.adminAddress);
        }
    }

    private static Container ferryContainer(PodSpec pod) {
        assertThat(pod.getContainers()).singleElement().extracting(Container::getName).isEqualTo("ferry");
        return pod.getContainers().get(0);
    }

    private static void assertServiceAccount(List<Subject> subjects) {
        assertThat(subjects).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getName()).isEqualTo("ferry");
            assertThat(s.getNamespace()).isEqualTo(NAMESPACE);
        });
    }

    /** "group/resource" → verbs, failing on wildcards, resource names and non-resource URLs. */
    private static Map<String, Set<String>> grants(List<PolicyRule> rules) {
        Map<String, Set<String>> out = new TreeMap<>();
        for (PolicyRule rule : rules) {
            assertThat(rule.getApiGroups()).doesNotContain("*");
            assertThat(rule.getResources()).isNotEmpty().doesNotContain("*").noneMatch(r -> r.endsWith("/*"));
            assertThat(rule.getVerbs()).doesNotContain("*");
            assertThat(rule.getResourceNames()).isNullOrEmpty();
            assertThat(rule.getNonResourceURLs()).isNullOrEmpty();
            for (String group : rule.getApiGroups()) {
                for (String resource : rule.getResources()) {
                    out.computeIfAbsent(group + "/" + resource, k -> new TreeSet<>()).addAll(rule.getVerbs());
                }
            }
        }
        return out;
    }

    private static HasMetadata one(String kind) {
        List<HasMetadata> found = objects.stream().filter(o -> o.getKind().equals(kind)).collect(Collectors.toList());
        assertThat(found).as(kind).hasSize(1);
        return found.get(0);
    }
}
