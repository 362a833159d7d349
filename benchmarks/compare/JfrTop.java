import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * The hot spots of a JFR recording, for benchmarks/compare.sh: top methods by own samples (self) and by samples
 * under them (total), from {@code jdk.ExecutionSample} events of the threads whose name starts with a prefix, and
 * the top allocation sites ({@code jdk.ObjectAllocationSample}, by weight). A stand-in for {@code jfr view
 * hot-methods}, which fails on some recordings of JDK 17 and 25.
 *
 * <pre>java benchmarks/compare/JfrTop.java RECORDING.jfr [thread-prefix (default ferry-io)] [rows (default 25)]</pre>
 */
public final class JfrTop {

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        String prefix = args.length > 1 ? args[1] : "ferry-io";
        int rows = args.length > 2 ? Integer.parseInt(args[2]) : 25;
        Map<String, Integer> self = new HashMap<>();
        Map<String, Integer> total = new HashMap<>();
        Map<String, Long> allocBySite = new HashMap<>();
        Map<String, Long> allocByClass = new HashMap<>();
        int samples = 0;
        long allocTotal = 0;
        java.time.Instant start = null;
        Map<Long, long[]> compileBySecond = new java.util.TreeMap<>(); // 10 s bucket -> {count, millis}
        Map<String, Integer> deopts = new HashMap<>();
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            String type = e.getEventType().getName();
            if (start == null || e.getStartTime().isBefore(start)) {
                start = e.getStartTime();
            }
            if (type.equals("jdk.Compilation")) {
                long bucket = e.getStartTime().getEpochSecond() / 10 * 10;
                long[] c = compileBySecond.computeIfAbsent(bucket, k -> new long[2]);
                c[0]++;
                c[1] += e.getDuration().toMillis();
                continue;
            }
            if (type.equals("jdk.Deoptimization")) {
                RecordedMethod m = e.getValue("method");
                String where = m == null ? "?" : m.getType().getName() + "." + m.getName();
                deopts.merge(e.getString("reason") + " " + e.getString("action") + " in " + where, 1, Integer::sum);
                continue;
            }
            boolean exec = type.equals("jdk.ExecutionSample");
            boolean alloc = type.equals("jdk.ObjectAllocationSample");
            if (!exec && !alloc) {
                continue;
            }
            var thread = exec ? e.getThread("sampledThread") : e.getThread("eventThread");
            String name = thread == null ? "" : String.valueOf(thread.getJavaName());
            if (!name.startsWith(prefix)) {
                continue;
            }
            RecordedStackTrace st = e.getStackTrace();
            if (st == null || st.getFrames().isEmpty()) {
                continue;
            }
            List<RecordedFrame> frames = st.getFrames();
            if (exec) {
                samples++;
                self.merge(name(frames.get(0)), 1, Integer::sum);
                Set<String> seen = new HashSet<>();
                for (RecordedFrame f : frames) {
                    String n = name(f);
                    if (seen.add(n)) {
                        total.merge(n, 1, Integer::sum);
                    }
                }
            } else {
                long w = e.getLong("weight");
                allocTotal += w;
                allocByClass.merge(e.getClass("objectClass").getName(), w, Long::sum);
                // The first frame outside the JDK and Netty's collections: who asked for the memory.
                String site = name(frames.get(0));
                for (RecordedFrame f : frames) {
                    String n = name(f);
                    if (!n.startsWith("java.") && !n.startsWith("jdk.") && !n.startsWith("sun.")) {
                        site = n;
                        break;
                    }
                }
                allocBySite.merge(site, w, Long::sum);
            }
        }
        System.out.printf("%d execution samples on threads %s*%n", samples, prefix);
        print("self", self, samples, rows);
        print("total (inclusive)", total, samples, rows);
        System.out.printf("%nallocation (sampled weight) %,d MB%n", allocTotal >> 20);
        printL("by class", allocByClass, allocTotal, rows / 2);
        printL("by first non-JDK frame", allocBySite, allocTotal, rows / 2);
        if (!compileBySecond.isEmpty()) {
            System.out.printf("%n-- JIT compilations per 10 s (jdk.Compilation, only those over its threshold)%n");
            long first = compileBySecond.keySet().iterator().next();
            compileBySecond.forEach((b, c) -> System.out.printf("  +%4d s  %5d compilations  %6d ms%n",
                                                                 b - first, c[0], c[1]));
        }
        if (!deopts.isEmpty()) {
            var deoptCount = deopts.values().stream().mapToInt(Integer::intValue).sum();
            System.out.printf("%n-- deoptimizations: %d%n", deoptCount);
            List<Map.Entry<String, Integer>> list = new ArrayList<>(deopts.entrySet());
            list.sort((a, b) -> b.getValue() - a.getValue());
            list.stream().limit(rows / 2).forEach(en -> System.out.printf("%6d  %s%n", en.getValue(), en.getKey()));
        }
    }

    private static String name(RecordedFrame f) {
        RecordedMethod m = f.getMethod();
        if (m == null) {
            return "?";
        }
        String t = m.getType() == null ? "?" : m.getType().getName();
        return t + "." + m.getName();
    }

    private static void print(String title, Map<String, Integer> map, int samples, int rows) {
        System.out.printf("%n-- %s%n", title);
        List<Map.Entry<String, Integer>> list = new ArrayList<>(map.entrySet());
        list.sort((a, b) -> b.getValue() - a.getValue());
        for (int i = 0; i < Math.min(rows, list.size()); i++) {
            var en = list.get(i);
            System.out.printf("%6.1f%%  %6d  %s%n", 100.0 * en.getValue() / Math.max(1, samples), en.getValue(),
                              en.getKey());
        }
    }

    private static void printL(String title, Map<String, Long> map, long sum, int rows) {
        System.out.printf("%n-- %s%n", title);
        List<Map.Entry<String, Long>> list = new ArrayList<>(map.entrySet());
        list.sort((a, b) -> Long.compare(b.getValue(), a.getValue()));
        for (int i = 0; i < Math.min(rows, list.size()); i++) {
            var en = list.get(i);
            System.out.printf("%6.1f%%  %s%n", 100.0 * en.getValue() / Math.max(1, sum), en.getKey());
        }
    }
}
