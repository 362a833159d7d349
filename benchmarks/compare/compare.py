#!/usr/bin/env python3
"""Result parsing and the report of benchmarks/compare.sh (standard library only).

  compare.py wrk FILE                 -> one JSON object: rps, p50_ms, p99_ms, errors, requests
  compare.py h2load FILE [LOGFILE]    -> the same, percentiles from h2load's --log-file
  compare.py iperf3 FILE              -> gbps, retransmits
  compare.py dnsperf FILE             -> rps (queries per second), p50_ms, p99_ms (from -v's per-query lines),
                                         errors (lost queries), requests (completed), rcodes
  compare.py report RESULTS META [--doc FILE]
                                      -> the Markdown tables on stdout; with --doc, also written into FILE: the
                                         HTTP scenarios' between <!-- compare.sh:begin --> and
                                         <!-- compare.sh:end -->, dns's between <!-- compare.sh:dns:begin --> and
                                         <!-- compare.sh:dns:end --> (a table whose scenarios did not run is left
                                         as it is)
"""
import json
import re
import statistics
import sys

BEGIN = "<!-- compare.sh:begin -->"
END = "<!-- compare.sh:end -->"
DNS_BEGIN = "<!-- compare.sh:dns:begin -->"
DNS_END = "<!-- compare.sh:dns:end -->"

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(path):
    out = {"rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": 0, "requests": 0}
    text = open(path, encoding="utf-8", errors="replace").read()
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+" + pct + r"(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            out[key] = ms(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["errors"] += int(m.group(1))
    return out


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def parse_h2load(path, log=None):
    out = {"rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": 0, "requests": 0}
    text = open(path, encoding="utf-8", errors="replace").read()
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    if m:
        total, started, done, ok, failed, errored, timeout = (int(g) for g in m.groups())
        out["requests"] = done
        out["errors"] = failed + errored + timeout
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        out["errors"] += int(m.group(3)) + int(m.group(4))
    if log:
        durations = []
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    try:
                        durations.append(int(parts[2]) / 1000.0)
                    except ValueError:
                        pass
        durations.sort()
        out["p50_ms"] = percentile(durations, 50)
        out["p99_ms"] = percentile(durations, 99)
        out["logged"] = len(durations)
    return out


def parse_iperf3(path):
    try:
        data = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError):
        return {"gbps": 0.0, "errors": 1}
    if "error" in data:
        return {"gbps": 0.0, "errors": 1, "error": data["error"]}
    end = data.get("end", {})
    received = end.get("sum_received", {}).get("bits_per_second", 0.0)
    return {"gbps": received / 1e9, "errors": 0, "retransmits": end.get("sum_sent", {}).get("retransmits", 0)}


def parse_dnsperf(path):
    """dnsperf's summary, and with -v the latency of every answered query ("> NOERROR name type 0.000123")."""
    out = {"rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": 0, "requests": 0, "sent": 0, "lost": 0}
    latencies = []
    with open(path, encoding="utf-8", errors="replace") as f:
        text = []
        for line in f:
            if line.startswith("> "):
                parts = line.split()
                try:
                    latencies.append(float(parts[-1]) * 1000.0)
                except (ValueError, IndexError):
                    pass
            else:
                text.append(line)
    text = "".join(text)
    for key, pattern, conv in (("sent", r"Queries sent:\s+(\d+)", int),
                               ("requests", r"Queries completed:\s+(\d+)", int),
                               ("lost", r"Queries lost:\s+(\d+)", int),
                               ("rps", r"Queries per second:\s+([\d.]+)", float),
                               ("avg_ms", r"Average Latency \(s\):\s+([\d.]+)", lambda v: float(v) * 1000.0),
                               ("stddev_ms", r"Latency StdDev \(s\):\s+([\d.]+)", lambda v: float(v) * 1000.0)):
        m = re.search(pattern, text)
        if m:
            out[key] = conv(m.group(1))
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        out["rcodes"] = {code: int(n) for code, n in re.findall(r"(\w+) (\d+) \(", m.group(1))}
    out["errors"] = out["lost"]
    latencies.sort()
    out["p50_ms"] = percentile(latencies, 50)
    out["p99_ms"] = percentile(latencies, 99)
    out["logged"] = len(latencies)
    return out


# --------------------------------------------------------------------------------------------------- report

SCENARIOS = [
    ("l4-small", "L4 TCP forwarding, small HTTP responses (wrk, keep-alive)"),
    ("l4-bulk", "L4 TCP forwarding, bulk transfer (iperf3, one stream)"),
    ("l7-small", "L7 HTTP/1.1 keep-alive, small body"),
    ("l7-4k", "L7 HTTP/1.1 keep-alive, 4 KiB body"),
    ("tls-small", "TLS keep-alive (HTTP/1.1 over TLS 1.3), small body"),
    ("tls-handshake", "New TLS handshakes (wrk, `Connection: close`: one request per connection)"),
    ("h2-small", "HTTP/2 over TLS (h2load), small body"),
    ("h2c-small", "HTTP/2 in clear text with prior knowledge (h2load), small body"),
]
TARGETS = ["ferry", "nginx", "haproxy", "direct"]
PEERS = ["nginx", "haproxy"]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_num(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def fmt_ms(v):
    if v is None:
        return "—"
    if v < 1:
        return f"{v * 1000:.0f} µs"
    if v < 10:
        return f"{v:.2f} ms"
    return f"{v:.1f} ms"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}"


def summarize(records):
    by = {}
    for r in records:
        by.setdefault((r["scenario"], r["target"]), []).append(r)
    rows = {}
    for (scenario, target), runs in by.items():
        bulk = scenario == "l4-bulk"
        values = [r.get("gbps" if bulk else "rps") or 0.0 for r in runs]
        row = {
            "runs": len(runs),
            "value": median(values),
            "spread": (max(values) - min(values)) / median(values) * 100 if median(values) else None,
            "p50": median([r.get("p50_ms") for r in runs]),
            "p99": median([r.get("p99_ms") for r in runs]),
            "errors": sum(r.get("errors") or 0 for r in runs),
            "cpu": median([r["cpu_s"] / r["elapsed_s"] * 100 if r.get("cpu_s") is not None and r.get("elapsed_s")
                           else None for r in runs]),
            "cpu_per_req": None,
            "other": median([r["other_s"] / r["elapsed_s"] * 100 for r in runs
                             if r.get("other_s") is not None and r.get("elapsed_s")]),
            "conns_per_k": median([r["backend_conns"] / r["backend_reqs"] * 1000 for r in runs
                                   if r.get("backend_reqs") and r.get("backend_conns") is not None]),
        }
        if not bulk:
            per = [r["cpu_s"] / r["requests"] * 1e6 for r in runs
                   if r.get("cpu_s") is not None and r.get("requests")]
            row["cpu_per_req"] = median(per)
        else:
            per = [r["cpu_s"] / (r["gbps"] * r["elapsed_s"] / 8) for r in runs
                   if r.get("cpu_s") is not None and r.get("gbps")]
            row["cpu_per_req"] = median(per)  # CPU seconds per GB moved
        rows[(scenario, target)] = row
    return rows


def report(results_path, meta_path):
    """(the HTTP scenarios' text, the dns scenario's text); '' for one that did not run."""
    import os
    all_records = [json.loads(line) for line in open(results_path, encoding="utf-8") if line.strip()]
    meta = json.load(open(meta_path, encoding="utf-8"))
    records = [r for r in all_records if r["scenario"] != "dns"]
    dns = [r for r in all_records if r["scenario"] == "dns"]
    http_text = report_http(records, meta, os.path.dirname(os.path.abspath(results_path))) if records else ""
    dns_text = report_dns(dns, meta) if dns else ""
    return http_text, dns_text


def report_http(records, meta, out_dir):
    rows = summarize(records)
    out = []
    out.append(f"Taken {meta['date']} on `{meta['host']}` by `{meta['command']}` (Ferry commit `{meta['commit']}`).")
    out.append("")
    out.append(f"{meta['rounds']} round(s) of {meta['duration']} s per proxy and scenario, proxies alternating "
               f"round-robin, after {meta['warmup']} s of warm-up each; every cell is the median over the rounds. "
               f"{meta['connections']} connections (HTTP/2: {meta['connections']} × {meta['streams']} streams), "
               f"one load-generator thread.")
    out.append("")
    out.append("| | |")
    out.append("| --- | --- |")
    for key in ("cpu", "kernel", "ferry", "java", "nginx", "haproxy", "wrk", "h2load", "iperf3", "openssl"):
        if meta.get(key):
            out.append(f"| {key} | {meta[key]} |")
    out.append("")
    if meta.get("noise"):
        out.append(meta["noise"])
        out.append("")
    out.append("| scenario | proxy | req/s | p50 | p99 | errors | vs best peer | vs direct | spread | proxy CPU | "
               "CPU/req | upstream conns/1k req | other load |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scenario, title in SCENARIOS:
        if not any((scenario, t) in rows for t in TARGETS):
            continue
        bulk = scenario == "l4-bulk"
        peers = [rows[(scenario, p)]["value"] for p in PEERS if (scenario, p) in rows]
        best = max(peers) if peers else None
        direct = rows.get((scenario, "direct"), {}).get("value")
        first = True
        for target in TARGETS:
            row = rows.get((scenario, target))
            if not row:
                continue
            value = (f"{row['value']:.2f} Gbit/s" if bulk else fmt_num(row["value"])) if row["value"] else "0"
            per = "—"
            if row["cpu_per_req"] is not None and target != "direct":
                per = f"{row['cpu_per_req']:.2f} s/GB" if bulk else f"{row['cpu_per_req']:.1f} µs"
            cpu = f"{row['cpu']:.0f} %" if row["cpu"] is not None and target != "direct" else "—"
            conns = "—"
            if row["conns_per_k"] is not None and not bulk:
                conns = f"{row['conns_per_k']:.1f}" if row["conns_per_k"] < 10 else f"{row['conns_per_k']:.0f}"
            other = "—" if row["other"] is None else f"{row['other']:.0f} %"
            out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                f"**{scenario}**" if first else "",
                f"**{target}**" if target == "ferry" else target,
                value,
                "—" if bulk else fmt_ms(row["p50"]),
                "—" if bulk else fmt_ms(row["p99"]),
                row["errors"],
                fmt_ratio(row["value"] / best) if best and target != "direct" else "—",
                fmt_ratio(row["value"] / direct) if direct and target != "direct" else "—",
                f"{row['spread']:.0f} %" if row["spread"] is not None and row["runs"] > 1 else "—",
                cpu, per, conns, other))
            first = False
    out.append("")
    out.append("Scenarios: " + "; ".join(f"`{s}` {t}" for s, t in SCENARIOS if any((s, x) in rows for x in TARGETS))
               + ".")
    out.append("")
    out.append("Columns: *req/s* requests per second (`l4-bulk`: iperf3's received throughput); *p50*/*p99* "
               "request latency as the load generator saw it; *errors* socket errors, timeouts and non-2xx/3xx "
               "responses summed over the rounds; *vs best peer* the proxy's throughput over the better of nginx "
               "and HAProxy; *vs direct* over the backend without a proxy; *spread* (max − min) / median over the "
               "rounds; *proxy CPU* the proxy process's CPU time (user + system, every thread: the JVM's JIT and "
               "GC included) over the run's wall time, in % of the one core it is pinned to; *CPU/req* that CPU "
               "time per request (`l4-bulk`: CPU seconds per GB relayed); *upstream conns/1k req* connections the backend "
               "accepted per 1,000 requests it served during the run (its `stub_status`): how well the proxy "
               "reuses upstream connections (L4: one per client connection; direct: the load generator's own); *other load* CPU time (user + "
               "system) that processes other than this benchmark's used during the run, in % of one core: the "
               "noise of a shared machine (200 % is both cores).")
    return "\n".join(out) + "\n" + syscalls_table(out_dir, records)


DNS_TARGETS = ["ferry", "nsd", "dnsmasq"]
DNS_PEERS = ["nsd", "dnsmasq"]


def report_dns(records, meta):
    """The dns scenario's table: Ferry, NSD and dnsmasq serving one zone to dnsperf."""
    rows = summarize(records)
    d = meta.get("dns", {})
    out = [f"Taken {meta['date']} on `{meta['host']}` by `{meta['command']}` (Ferry commit `{meta['commit']}`).", ""]
    out.append(f"{meta['rounds']} round(s) of {meta['duration']} s per server, servers alternating round-robin, "
               f"after {meta['warmup']} s of warm-up each; every cell is the median over the rounds. "
               f"Zone: {d.get('zone', '?')}.")
    out.append("")
    out.append("| | |")
    out.append("| --- | --- |")
    for key in ("cpu", "ferry", "nsd", "dnsmasq", "dnsperf"):
        if d.get(key):
            out.append(f"| {key} | {d[key]} |")
    for key in ("kernel", "java"):
        if meta.get(key):
            out.append(f"| {key} | {meta[key]} |")
    out.append("")
    if meta.get("noise"):
        out.append(meta["noise"])
        out.append("")
    present = [t for t in DNS_TARGETS if ("dns", t) in rows]
    peers = [rows[("dns", p)]["value"] for p in DNS_PEERS if ("dns", p) in rows]
    best = max(peers) if peers else None
    nsd = rows.get(("dns", "nsd"), {}).get("value")
    dnsmasq = rows.get(("dns", "dnsmasq"), {}).get("value")
    out.append("| server | queries/s | p50 | p99 | lost | vs best peer | vs NSD | vs dnsmasq | spread | server CPU | "
               "CPU/query | other load |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for target in present:
        row = rows[("dns", target)]
        own = row["value"]
        mine = target == "ferry"

        def ratio(peer):
            return fmt_ratio(own / peer) if peer and own is not None else "—"
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            "**ferry**" if mine else target,
            fmt_num(own),
            fmt_ms(row["p50"]),
            fmt_ms(row["p99"]),
            row["errors"],
            ratio(best) if mine or target in DNS_PEERS else "—",
            ratio(nsd),
            ratio(dnsmasq),
            f"{row['spread']:.0f} %" if row["spread"] is not None and row["runs"] > 1 else "—",
            f"{row['cpu']:.0f} %" if row["cpu"] is not None else "—",
            f"{row['cpu_per_req']:.1f} µs" if row["cpu_per_req"] is not None else "—",
            "—" if row["other"] is None else f"{row['other']:.0f} %"))
    out.append("")
    mixes = []
    for target in present:
        totals = {}
        for r in records:
            if r["target"] == target:
                for code, n in (r.get("rcodes") or {}).items():
                    totals[code] = totals.get(code, 0) + n
        all_n = sum(totals.values())
        if all_n:
            mixes.append(f"{target} " + ", ".join(f"{code} {n / all_n * 100:.1f} %"
                                                   for code, n in sorted(totals.items(), key=lambda kv: -kv[1])))
    if mixes:
        out.append("Response codes over all rounds: " + "; ".join(mixes) + ".")
        out.append("")
    out.append("Columns: *queries/s* answered queries per second (dnsperf, UDP, one thread, at most 100 queries in "
               "flight: a closed loop, so a server's latency and its rate are two faces of one number); *p50*/*p99* "
               "the latency of every answered query as dnsperf's `-v` printed it; *lost* queries not answered "
               "within 2 s, summed over the rounds; *vs best peer* Ferry's rate over the better of NSD and dnsmasq "
               "(a peer's: over the best, itself included); *vs NSD*, *vs dnsmasq* each server's rate over that "
               "peer's; *spread* (max − min) / median over the rounds; *server CPU* the server's CPU time (user + "
               "system, every thread or process) over the run's wall time, in % of the one core it is pinned to; "
               "*CPU/query* that time per answered query; *other load* CPU time of processes other than this "
               "benchmark's during the run, in % of one core (200 % is both cores).")
    return "\n".join(out) + "\n"


SYSCALL_GROUPS = [
    ("reads", ("read", "recvfrom", "recvmsg", "readv")),
    ("writes", ("write", "sendto", "sendmsg", "writev")),
    ("epoll_wait", ("epoll_wait", "epoll_pwait", "epoll_pwait2")),
    ("epoll_ctl", ("epoll_ctl",)),
    # Under io_uring (Ferry's default transport) reads and writes are ring entries: one io_uring_enter submits a
    # turn's worth and waits for completions, so Ferry's reads and writes show as 0 and its calls are all here.
    ("io_uring_enter", ("io_uring_enter",)),
    ("accept, connect, socket, close, shutdown", ("accept4", "connect", "socket", "close", "shutdown")),
    ("[gs]etsockopt, getsockname, getpeername", ("setsockopt", "getsockopt", "getsockname", "getpeername")),
    ("futex", ("futex",)),
]


def syscalls_table(out_dir, records):
    """The --syscalls counts of round 1, per request (l4-bulk: per MB), as a Markdown table; '' if none."""
    import glob
    import os
    rows = []
    for scenario, _ in SCENARIOS:
        for target in TARGETS:
            path = os.path.join(out_dir, f"syscalls-{scenario}-{target}.csv")
            if not os.path.exists(path):
                continue
            rec = next((r for r in records if r["scenario"] == scenario and r["target"] == target
                        and r["round"] == 1), None)
            if not rec:
                continue
            if scenario == "l4-bulk":
                per = rec.get("gbps", 0) * rec.get("elapsed_s", 0) / 8 * 1000  # MB
            else:
                per = rec.get("requests") or 0
            if not per:
                continue
            counts = {}
            for line in open(path, encoding="utf-8"):
                parts = line.strip().split(",")
                if len(parts) < 3 or line.startswith("#"):
                    continue
                try:
                    counts[parts[2].replace("syscalls:sys_enter_", "")] = float(parts[0])
                except ValueError:
                    pass
            total = counts.get("raw_syscalls:sys_enter", 0)
            cells = [f"{total / per:.1f}"]
            for _, names in SYSCALL_GROUPS:
                cells.append(f"{sum(counts.get(n, 0) for n in names) / per:.2f}")
            rows.append(f"| {scenario} | {target} | " + " | ".join(cells) + " |")
    if not rows:
        return ""
    head = ("| scenario | proxy | all | " + " | ".join(g for g, _ in SYSCALL_GROUPS) + " |\n"
            + "| --- | --- | " + " | ".join("---:" for _ in range(len(SYSCALL_GROUPS) + 1)) + " |")
    return ("\nSystem calls of the proxy process per request (`l4-bulk`: per MB relayed), round 1 (`--syscalls`):\n\n"
            + head + "\n" + "\n".join(rows) + "\n")


def write_doc(doc_path, text, begin=BEGIN, end_marker=END,
              heading="## Side by side with nginx and HAProxy (compare.sh)"):
    doc = open(doc_path, encoding="utf-8").read()
    block = begin + "\n\n" + text + "\n" + end_marker
    if begin in doc and end_marker in doc:
        start = doc.index(begin)
        end = doc.index(end_marker) + len(end_marker)
        doc = doc[:start] + block + doc[end:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + heading + "\n\n" + block + "\n"
    open(doc_path, "w", encoding="utf-8").write(doc)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "wrk":
        print(json.dumps(parse_wrk(argv[2])))
    elif cmd == "h2load":
        print(json.dumps(parse_h2load(argv[2], argv[3] if len(argv) > 3 else None)))
    elif cmd == "iperf3":
        print(json.dumps(parse_iperf3(argv[2])))
    elif cmd == "dnsperf":
        print(json.dumps(parse_dnsperf(argv[2])))
    elif cmd == "report":
        http_text, dns_text = report(argv[2], argv[3])
        sys.stdout.write(http_text + ("\n" if http_text and dns_text else "") + dns_text)
        if len(argv) > 5 and argv[4] == "--doc":
            if http_text:
                write_doc(argv[5], http_text)
            if dns_text:
                write_doc(argv[5], dns_text, DNS_BEGIN, DNS_END,
                          "## Cluster DNS side by side with NSD and dnsmasq (compare.sh, dns)")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
