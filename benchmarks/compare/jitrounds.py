#!/usr/bin/env python3
"""What the JIT did during each measured round of Ferry, for benchmarks/compare.sh --jit.

    jitrounds.py ROUNDS_FILE LOG.xml...

ROUNDS_FILE has a line per measured round, "SCENARIO TARGET ROUND START END" (wall-clock seconds). Each LOG is a
HotSpot -XX:+LogCompilation file of one Ferry process: its header gives the JVM's start (time_ms), its stamps are
seconds since then. For every round of the target ferry this prints the C2 compiles that overlap the round (their
summed wall time, and the largest), and the uncommon traps (compiled code thrown away, to be compiled again) from
the end of the previous round (the first round: its start) to the end of this one, each with the method and bytecode
index that took the branch the compiled code had never seen. A compile that lands in a measured round runs on the
proxy's one CPU, beside the event loop; a trap says which branch the warm-up should have taken (docs/benchmarks.md,
"Recompiles inside the measured rounds").
"""
import re
import sys

STAMP = re.compile(r"stamp='([\d.]+)'")
METHOD = re.compile(r"method='([^']+)'")
BCI = re.compile(r"bci='(\d+)'")
REASON = re.compile(r"reason='(\w+)'")
LEVEL = re.compile(r"level='(\d)'")


def short(method):
    """'a.b.C m (sig)' -> 'C.m'."""
    parts = method.replace("&lt;", "<").replace("&gt;", ">").split(" ")
    return parts[0].rsplit(".", 1)[-1] + "." + parts[1] if len(parts) > 1 else parts[0]


def parse(path):
    """(start seconds since the epoch, [(begin, end, method)] of C2 compiles, [(stamp, reason, bci, method)])."""
    start = None
    c2, traps = [], []
    task = None
    lines = open(path, errors="replace")
    pending_trap = None
    for line in lines:
        if start is None:
            m = re.search(r"<hotspot_log [^>]*time_ms='(\d+)'", line)
            if m:
                start = int(m.group(1)) / 1000.0
            continue
        if pending_trap is not None:
            if line.startswith("<jvms"):
                m, b = METHOD.search(line), BCI.search(line)
                traps.append((pending_trap[0], pending_trap[1], b.group(1) if b else "?",
                              short(m.group(1)) if m else "?"))
            pending_trap = None
        if line.startswith("<task "):
            level = LEVEL.search(line)
            if level is None or level.group(1) == "4":
                task = (float(STAMP.search(line).group(1)), METHOD.search(line).group(1))
        elif line.startswith("<task_done") and task is not None:
            c2.append((task[0], float(STAMP.search(line).group(1)), task[1]))
            task = None
        elif line.startswith("<uncommon_trap thread="):
            reason = REASON.search(line)
            pending_trap = (float(STAMP.search(line).group(1)), reason.group(1) if reason else "?")
    return start, c2, traps


def main():
    rounds = []
    for line in open(sys.argv[1]):
        f = line.split()
        if len(f) == 5 and f[1] == "ferry":
            rounds.append((f[0], int(f[2]), float(f[3]), float(f[4])))
    logs = [parse(p) for p in sys.argv[2:]]
    logs = [log for log in logs if log[0] is not None]
    if not rounds or not logs:
        print("jitrounds: no Ferry rounds or no compilation log")
        return
    # The HTTP Ferry's log: the one whose JVM started before the first round and compiled the most.
    start, c2, traps = max((log for log in logs if log[0] <= rounds[0][2]), key=lambda log: len(log[1]),
                           default=logs[0])
    print("| scenario | round | C2 in the round | largest C2 compiles | traps since the previous round |")
    print("| --- | ---: | ---: | --- | --- |")
    previous_end = None
    for scenario, r, t0, t1 in sorted(rounds, key=lambda x: x[2]):
        a, b = t0 - start, t1 - start
        inside = sorted(((e - s, m) for s, e, m in c2 if e >= a and s <= b), reverse=True)
        total = sum(d for d, _ in inside)
        largest = ", ".join(f"{short(m)} {d * 1000:.0f} ms" for d, m in inside[:3] if d >= 0.03) or "—"
        since = a if previous_end is None else previous_end  # the first: its own traps, not the start-up's
        seen = {}
        for s, reason, bci, method in traps:
            if since < s <= b:
                key = f"{method} bci {bci} ({reason})"
                seen[key] = seen.get(key, 0) + 1
        trap_text = "; ".join(f"{k}{' ×' + str(n) if n > 1 else ''}" for k, n in list(seen.items())[:4]) or "—"
        if len(seen) > 4:
            trap_text += f"; {len(seen) - 4} more"
        print(f"| {scenario} | {r} | {total * 1000:.0f} ms | {largest} | {trap_text} |")
        previous_end = b


if __name__ == "__main__":
    main()
