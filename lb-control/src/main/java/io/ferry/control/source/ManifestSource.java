package io.ferry.control.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressClass;
import io.ferry.control.Cidr;
import io.ferry.control.ClusterState;
import io.ferry.control.ConfigProblem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A static cluster read from YAML manifests: files, or directories of {@code *.yaml}, {@code *.yml} and
 * {@code *.json} files (not recursive, as {@code kubectl apply -f}), watched for changes.
 *
 * <p>Every change produces a new {@link ClusterState} for the sink. Bad input never takes anything down:
 * <ul>
 *   <li>a file that does not parse keeps its last good objects (the error is reported in the state);</li>
 *   <li>a configured path that disappears keeps the objects it had (a directory removed by mistake, a volume
 *       unmounted), reported until it is back;</li>
 *   <li>a file deleted from a directory that still exists takes its objects away (that is an edit).</li>
 * </ul>
 * Like the API server, the source stamps {@code creationTimestamp} on first sight, defaults the namespace to
 * {@code default}, and fills in missing ClusterIPs and nodePorts ({@link ManifestAllocator}).
 *
 * <p>Changes are noticed through the file system's watch service, with a periodic check of sizes and mtimes as a
 * safety net (symlink swaps, network file systems); a burst of events is coalesced by {@code debounce} (at most
 * twice that after its first event, so that a directory edited without pause still applies). Events about other
 * files in a watched directory are ignored, and a reload that finds nothing changed (a file touched or rewritten
 * with the same bytes) hands nothing to the sink. Runs on its own thread ({@code ferry-manifests}).
 */
public final class ManifestSource implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(ManifestSource.class);
    private static final Duration POLL_INTERVAL = Duration.ofSeconds(1);

    private final List<Path> paths;
    private final Consumer<ClusterState> sink;
    private final Duration debounce;
    private final Clock clock;
    private final ManifestParser parser = new ManifestParser();
    private final ManifestAllocator allocator;

    // Confined to the thread that loads (the caller of start(), then the watch thread).
    private final Map<Path, FileState> files = new HashMap<>();
    private final Map<String, String> firstSeen = new HashMap<>();
    private List<String> fingerprint = List.of();

    private boolean lastLoadChanged;
    private List<ConfigProblem> lastProblems = List.of();
    private volatile int reloads;
    private volatile int published;
    private volatile int ignoredEvents;

    private volatile boolean closed;
    private WatchService watcher;
    private Thread thread;

    public ManifestSource(List<Path> paths, Cidr serviceCidr, Consumer<ClusterState> sink, Duration debounce,
                          Clock clock) {
        if (requireNonNull(paths, "paths").isEmpty()) {
            throw new IllegalArgumentException("paths: [] (expected: at least one file or directory)");
        }
        this.paths = paths.stream().map(p -> p.toAbsolutePath().normalize()).toList();
        this.allocator = new ManifestAllocator(requireNonNull(serviceCidr, "serviceCidr"));
        this.sink = requireNonNull(sink, "sink");
        this.debounce = requireNonNull(debounce, "debounce");
        this.clock = requireNonNull(clock, "clock");
    }

    /** Loads the manifests once, hands the state to the sink, then watches on a thread of its own. */
    public synchronized void start() throws IOException {
        sink.accept(load());
        watcher = FileSystems.getDefault().newWatchService();
        registerAll();
        thread = new Thread(this::watchLoop, "ferry-manifests");
        thread.setDaemon(true);
        thread.start();
    }

    private void registerAll() {
        for (Path p : paths) {
            Path dir = Files.isDirectory(p) ? p : p.getParent();
            if (dir != null && Files.isDirectory(dir)) {
                try {
                    dir.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                                 StandardWatchEventKinds.ENTRY_DELETE);
                } catch (IOException e) {
                    logger.warn("Cannot watch {}: {}; changes are found by polling", dir, e.toString());
                }
            }
        }
    }

    private void watchLoop() {
        while (!closed) {
            try {
                WatchKey key = watcher.poll(POLL_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
                boolean changed = false;
                // Coalesce the burst an editor or `kubectl cp` makes: until the files are quiet for the debounce,
                // but no longer than twice that, so that edits without pause still apply.
                long until = System.nanoTime() + 2 * debounce.toNanos();
                while (key != null && !closed) {
                    changed |= concernsManifests(key);
                    key.reset();
                    long left = Math.min(debounce.toNanos(), until - System.nanoTime());
                    key = left <= 0 ? null : watcher.poll(left, TimeUnit.NANOSECONDS);
                }
                if (closed) {
                    return;
                }
                if (changed || !fingerprint().equals(fingerprint)) {
                    reloads++;
                    ClusterState state = load();
                    if (lastLoadChanged) {
                        published++;
                        sink.accept(state);
                    }
                    registerAll(); // a directory that came back is watched again (registering twice is harmless)
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            } catch (RuntimeException e) {
                logger.error("Manifest watch failed; the last good state stays", e);
            }
        }
    }

    /**
     * Whether the events of {@code key} may change what is loaded: events about a file the loader reads (in a
     * watched directory, a manifest name; beside a watched file, that file), a lost event ({@code OVERFLOW}), or a
     * key that is no longer valid (its directory went away), and a ConfigMap volume's {@code ..data} swap. Other files in the directory, such as a log written
     * there, are ignored: reloading for them could loop forever.
     */
    private boolean concernsManifests(WatchKey key) {
        boolean concerns = !key.isValid();
        Path dir = key.watchable() instanceof Path d ? d : null;
        for (WatchEvent<?> event : key.pollEvents()) {
            if (event.kind() == StandardWatchEventKinds.OVERFLOW || dir == null
                || !(event.context() instanceof Path name)) {
                concerns = true;
                continue;
            }
            Path file = dir.resolve(name).toAbsolutePath().normalize();
            boolean read = false;
            String n = name.toString();
            for (Path root : paths) {
                // "..data" and friends: the atomic symlink swap of a ConfigMap or Secret volume.
                read |= root.equals(file) || root.equals(dir.toAbsolutePath().normalize())
                                             && (isManifestName(n) || n.startsWith(".."));
            }
            if (read) {
                concerns = true;
            } else {
                ignoredEvents++;
            }
        }
        return concerns;
    }

    /** Loads the watch loop ran (events or the periodic check said something may have changed). For tests. */
    int reloads() {
        return reloads;
    }

    /** States handed to the sink after start: loads that found a change. For tests. */
    int published() {
        return published;
    }

    /** Watch events about files that are not manifests, ignored. For tests. */
    int ignoredEvents() {
        return ignoredEvents;
    }

    /** Reads every manifest now and returns the state; the sink is not called. For tests and start-up. */
    public synchronized ClusterState load() {
        lastLoadChanged = false;
        List<ConfigProblem> problems = new ArrayList<>();
        Map<Path, List<HasMetadata>> objectsByFile = new LinkedHashMap<>();
        Set<Path> seenFiles = new HashSet<>();
        for (Path root : paths) {
            if (!Files.exists(root)) {
                problems.add(new ConfigProblem(root.toString(), "not found; its last objects stay live"));
                List<HasMetadata> kept = new ArrayList<>();
                files.forEach((file, state) -> {
                    if (file.startsWith(root)) {
                        kept.addAll(state.objects);
                        seenFiles.add(file);
                    }
                });
                objectsByFile.put(root, kept);
                continue;
            }
            for (Path file : manifestFiles(root, problems)) {
                seenFiles.add(file);
                objectsByFile.put(file, loadFile(file, problems));
            }
        }
        lastLoadChanged |= files.keySet().retainAll(seenFiles);
        fingerprint = fingerprint();

        Map<String, HasMetadata> unique = new LinkedHashMap<>();
        Map<String, Path> origin = new HashMap<>();
        objectsByFile.forEach((file, objects) -> {
            for (HasMetadata o : objects) {
                String id = id(o);
                Path first = origin.putIfAbsent(id, file);
                if (first != null) {
                    problems.add(new ConfigProblem(file.toString(), id + " is also defined in " + first
                                                                    + "; the first definition is used"));
                } else {
                    unique.put(id, o);
                }
            }
        });
        firstSeen.keySet().retainAll(unique.keySet());
        if (!problems.equals(lastProblems)) {
            lastProblems = List.copyOf(problems);
            lastLoadChanged = true;
        }

        List<Service> services = new ArrayList<>();
        List<EndpointSlice> slices = new ArrayList<>();
        List<Endpoints> endpoints = new ArrayList<>();
        List<Ingress> ingresses = new ArrayList<>();
        List<IngressClass> ingressClasses = new ArrayList<>();
        List<Secret> secrets = new ArrayList<>();
        for (HasMetadata o : unique.values()) {
            if (o instanceof Service) {
                services.add((Service) o);
            } else if (o instanceof EndpointSlice) {
                slices.add((EndpointSlice) o);
            } else if (o instanceof Endpoints) {
                endpoints.add((Endpoints) o);
            } else if (o instanceof Ingress) {
                ingresses.add((Ingress) o);
            } else if (o instanceof IngressClass) {
                ingressClasses.add((IngressClass) o);
            } else if (o instanceof Secret) {
                secrets.add((Secret) o);
            }
        }
        return new ClusterState(allocator.allocate(services), slices, endpoints, ingresses, ingressClasses, secrets,
                                problems);
    }

    private List<HasMetadata> loadFile(Path file, List<ConfigProblem> problems) {
        FileState previous = files.get(file);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            if (e instanceof NoSuchFileException && !paths.contains(file)) {
                // Deleted from its directory between the listing and now: an edit, not a file that cannot be read.
                files.remove(file);
                return List.of();
            }
            problems.add(new ConfigProblem(file.toString(), "cannot read: " + e.getMessage()
                                                            + keptNote(previous)));
            return previous == null ? List.of() : previous.objects;
        }
        if (previous != null && previous.text.equals(text)) {
            if (previous.error != null) {
                problems.add(new ConfigProblem(file.toString(), previous.error + keptNote(previous)));
            }
            return previous.objects;
        }
        try {
            List<HasMetadata> objects = parser.parse(text);
            for (HasMetadata o : objects) {
                if (o.getMetadata().getNamespace() == null || o.getMetadata().getNamespace().isEmpty()) {
                    o.getMetadata().setNamespace("default");
                }
                if (o.getMetadata().getCreationTimestamp() == null) {
                    o.getMetadata().setCreationTimestamp(firstSeen.computeIfAbsent(id(o), k -> now()));
                }
            }
            files.put(file, new FileState(text, List.copyOf(objects), null));
            lastLoadChanged = true;
            return objects;
        } catch (ManifestParser.ManifestException e) {
            List<HasMetadata> kept = previous == null ? List.of() : previous.objects;
            files.put(file, new FileState(text, kept, e.getMessage()));
            lastLoadChanged = true;
            problems.add(new ConfigProblem(file.toString(), e.getMessage() + keptNote(previous)));
            return kept;
        }
    }

    private static String keptNote(FileState previous) {
        return previous == null || previous.objects.isEmpty() ? "" : "; its last good objects stay live";
    }

    private String now() {
        return DateTimeFormatter.ISO_INSTANT.format(clock.instant().truncatedTo(ChronoUnit.SECONDS));
    }

    private static List<Path> manifestFiles(Path root, List<ConfigProblem> problems) {
        if (!Files.isDirectory(root)) {
            return List.of(root);
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> isManifestName(p.getFileName().toString()) && Files.isRegularFile(p))
                    .sorted().toList();
        } catch (IOException e) {
            problems.add(new ConfigProblem(root.toString(), "cannot list: " + e.getMessage()));
            return List.of();
        }
    }

    /** Whether a file of this name in a watched directory is read: {@code *.yaml}, {@code *.yml}, {@code *.json}, not hidden. */
    private static boolean isManifestName(String name) {
        return !name.startsWith(".") && (name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json"));
    }

    /** Paths, sizes and mtimes of every manifest: a cheap check for changes the watch service missed. */
    private List<String> fingerprint() {
        List<String> out = new ArrayList<>();
        for (Path root : paths) {
            for (Path file : manifestFiles(root, new ArrayList<>())) {
                try {
                    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
                    out.add(file + " " + a.size() + " " + a.lastModifiedTime().toMillis());
                } catch (IOException e) {
                    out.add(file + " missing");
                }
            }
        }
        return out;
    }

    private static String id(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return o.getKind() + ' ' + (ns == null || ns.isEmpty() ? "default" : ns) + '/' + o.getMetadata().getName();
    }

    public List<Path> paths() {
        return paths;
    }

    @Override
    public void close() {
        closed = true;
        if (watcher != null) {
            try {
                watcher.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        if (thread != null) {
            thread.interrupt();
        }
    }

    private static final class FileState {
        final String text;
        final List<HasMetadata> objects;
        final String error;

        FileState(String text, List<HasMetadata> objects, String error) {
            this.text = text;
            this.objects = objects;
            this.error = error;
        }
    }
}
