#!/usr/bin/env python3
"""Self and inclusive shares of a `perf record -g` profile, per function, for some threads (name prefixes).

  perf script -i perf.data | benchmarks/compare/perftop.py [--comm PREFIX[,PREFIX...]] [--rows N] [--grep REGEX]

Java frames need the JVM started with -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit
-XX:+PreserveFramePointer (perf reads /tmp/perf-PID.map once the JVM has exited). --grep lists only the functions
whose name matches, inclusive, to split a cost (e.g. 'SslHandler|OpenSsl').
"""
import argparse
import collections
import re
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--comm", default="")
ap.add_argument("--rows", type=int, default=30)
ap.add_argument("--grep", default=None)
args = ap.parse_args()
prefixes = tuple(args.comm.split(","))

self_c = collections.Counter()
incl = collections.Counter()
dso_c = collections.Counter()
threads = collections.Counter()
total = 0
stack = []
comm = None


def simplify(sym):
    sym = re.sub(r"\(.*", "", sym)                      # drop Java argument lists
    sym = re.sub(r"^\S+ (?=[\w.$<>]+$)", "", sym)       # drop the Java return type
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    return sym


def flush():
    global total
    if comm is None or not stack:
        return
    threads[comm] += 1
    if not comm.startswith(prefixes):
        return
    total += 1
    sym, dso = stack[0]
    self_c[sym] += 1
    dso_c[dso] += 1
    for s in set(s for s, _ in stack):
        incl[s] += 1


for line in sys.stdin:
    if not line.strip():
        flush()
        stack = []
        comm = None
        continue
    if not line.startswith((" ", "\t")):
        flush()
        stack = []
        comm = line.split()[0] if line.split() else None
        # perf script puts thread names with spaces first; take up to the pid
        m = re.match(r"^(.*?)\s+\d+(/\d+)?\s", line)
        if m:
            comm = m.group(1).strip()
        continue
    m = re.match(r"\s+[0-9a-f]+\s+(.*)\s+\((.*)\)$", line.rstrip())
    if m:
        sym = simplify(m.group(1))
        dso = m.group(2).split("/")[-1]
        dso = re.sub(r"_\d{6,}.*\.so.*", ".so", dso)
        if sym == "[unknown]":
            sym = "[" + dso + "]"
        stack.append((sym, dso))
flush()

print(f"{total} samples in threads '{args.comm}*' of {sum(threads.values())}; by thread: "
      + ", ".join(f"{t} {100.0 * n / max(1, sum(threads.values())):.1f}%" for t, n in threads.most_common(6)))
print("\n-- by DSO (self)")
for d, n in dso_c.most_common(8):
    print(f"{100.0 * n / total:6.1f}%  {d}")
if args.grep:
    rx = re.compile(args.grep)
    print(f"\n-- inclusive, matching {args.grep}")
    for s, n in incl.most_common():
        if rx.search(s):
            print(f"{100.0 * n / total:6.1f}%  {s}")
            args.rows -= 1
            if args.rows <= 0:
                break
    sys.exit(0)
print("\n-- self")
for s, n in self_c.most_common(args.rows):
    print(f"{100.0 * n / total:6.1f}%  {s}")
print("\n-- inclusive")
for s, n in incl.most_common(args.rows):
    print(f"{100.0 * n / total:6.1f}%  {s}")
