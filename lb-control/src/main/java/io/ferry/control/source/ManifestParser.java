package io.ferry.control.source;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the objects of one manifest file: YAML or JSON, any number of {@code ---}-separated documents, and
 * {@code kind: List} wrappers, as {@code kubectl apply -f} does. Stateless and thread-safe.
 *
 * <p>A file either parses whole or not at all: the first bad document fails it with a message that names the
 * document and the reason, so that the caller can keep the file's last good objects.
 */
public final class ManifestParser {

    private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    private final KubernetesSerialization serialization = new KubernetesSerialization();

    /**
     * Parses {@code text}.
     *
     * @return the objects, in file order; kinds Ferry does not know are returned as generic resources
     * @throws ManifestException if a document is not valid YAML or not a valid Kubernetes object
     */
    public List<HasMetadata> parse(String text) throws ManifestException {
        List<HasMetadata> out = new ArrayList<>();
        int doc = 0;
        try (JsonParser parser = yaml.getFactory().createParser(text);
             MappingIterator<JsonNode> docs = yaml.readValues(parser, JsonNode.class)) {
            while (docs.hasNextValue()) {
                doc++;
                JsonNode node = docs.nextValue();
                if (node == null || node.isNull() || node.isMissingNode()) {
                    continue;
                }
                addObjects(node, doc, out);
            }
        } catch (IOException | RuntimeException e) {
            throw new ManifestException("document " + Math.max(doc, 1) + ": " + firstLine(e), e);
        }
        return out;
    }

    private void addObjects(JsonNode node, int doc, List<HasMetadata> out) throws ManifestException {
        if (!node.isObject()) {
            throw new ManifestException("document " + doc + ": expected a Kubernetes object, got " + node.getNodeType());
        }
        String kind = node.path("kind").asText("");
        String apiVersion = node.path("apiVersion").asText("");
        if (kind.isEmpty() || apiVersion.isEmpty()) {
            throw new ManifestException("document " + doc + ": apiVersion and kind are required");
        }
        if (kind.equals("List") || kind.endsWith("List") && node.has("items")) {
            for (JsonNode item : node.path("items")) {
                addObjects(item, doc, out);
            }
            return;
        }
        KubernetesResource resource = serialization.unmarshal(node.toString(), KubernetesResource.class);
        if (!(resource instanceof HasMetadata)) {
            throw new ManifestException("document " + doc + ": " + kind + " has no metadata");
        }
        HasMetadata object = (HasMetadata) resource;
        if (object.getMetadata() == null || object.getMetadata().getName() == null
            || object.getMetadata().getName().isEmpty()) {
            throw new ManifestException("document " + doc + ": " + kind + ": metadata.name is required");
        }
        out.add(object);
    }

    private static String firstLine(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t && t.getMessage() == null) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        // Jackson appends a long source excerpt; the first two lines say what and where.
        String[] lines = m.split("\n");
        return lines.length > 1 ? lines[0] + ' ' + lines[1].trim() : m;
    }

    /** A manifest that cannot be used, with a message fit for a user. */
    public static final class ManifestException extends Exception {
        private static final long serialVersionUID = 1L;

        ManifestException(String message) {
            super(message);
        }

        ManifestException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
