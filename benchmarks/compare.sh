#!/usr/bin/env bash
# Ferry side by side with nginx and HAProxy, and its cluster DNS with NSD and dnsmasq, on loopback, in one run.
#
#   benchmarks/compare.sh [--quick] [--duration S] [--rounds N] [--warmup S] [--connections N]
#                         [--scenarios a,b,...] [--proxies ferry,nginx,haproxy,direct,nsd,dnsmasq]
#                         [--java PATH] [--ferry-jvm-opts '...'] [--jar PATH]
#                         [--perf] [--syscalls] [--jit] [--no-install] [--no-doc] [--keep]
#
# Installs what it lacks from Debian's packages (nginx with the stream module, haproxy, wrk, nghttp2-client for
# h2load, iperf3, openssl, curl, python3; linux-perf with --perf; dnsperf, nsd, dnsmasq-base and bind9-dnsutils
# for dns), starts one backend (nginx serving a small and a 4 KiB file, and an iperf3 server) and puts Ferry, nginx
# and HAProxy in front of it with equivalent settings: one worker thread each, pinned to CPU 0, no access log; the
# backend and the load generators run on CPU 1. Then, per scenario, it warms each proxy up, runs the same load
# through each proxy and straight to the backend ("direct"), alternating round-robin for --rounds rounds, and
# prints the medians as a Markdown table, which it also writes into docs/benchmarks.md between the markers
# <!-- compare.sh:begin --> and <!-- compare.sh:end -->.
#
# Scenarios (--scenarios, in this order):
#   l4-small       wrk, keep-alive, GET /small through a TCP-forwarded Service (Ferry ClusterIP, nginx stream{},
#                  HAProxy mode tcp)
#   l4-bulk        iperf3, one stream, through the same TCP proxies
#   l7-small       wrk, HTTP/1.1 keep-alive, GET /small (Ferry Ingress, nginx http{} with upstream keepalive,
#                  HAProxy mode http with http-reuse always)
#   l7-4k          the same with GET /4k (4096 bytes)
#   tls-small      wrk over https (TLS 1.3, ECDSA P-256), keep-alive, GET /small
#   tls-handshake  wrk over https with "Connection: close": every request is a new connection and a full
#                  handshake (wrk does not resume sessions), so req/s is handshakes/s
#   h2-small       h2load, HTTP/2 over TLS, --connections connections x 10 streams, GET /small
#   h2c-small      h2load, HTTP/2 in clear text with prior knowledge, the same load (Ferry and HAProxy take it on
#                  their HTTP port; nginx, which cannot serve both on one port, and the backend on port 23084)
#   dns            dnsperf (UDP, 1 thread, 100 queries in flight) against DNS servers instead of proxies: Ferry
#                  (a second process: --dns-address, --io-threads 1), NSD (server-count 1) and dnsmasq, each
#                  serving the same zone of 1,000 ClusterIP and 50 headless Services (benchmarks/compare/dnszone.py
#                  writes it as Ferry manifests, NSD zone files and dnsmasq host-record/srv-host lines, and the
#                  query mix: A, SRV, AAAA/NODATA, NXDOMAIN, PTR); the answers of the three are compared before
#                  any load. Its table goes between <!-- compare.sh:dns:begin --> and <!-- compare.sh:dns:end -->.
#
# --proxies picks the targets of every scenario: ferry, nginx, haproxy and direct for the HTTP ones, ferry, nsd
# and dnsmasq for dns (Ferry is in both).
#
# Every load is bounded by --duration (default 10 s, after --warmup 10 s per proxy and scenario; --quick: 3 s,
# 1 round, 1 s warm-up, no doc update) and goes only to 127.0.0.0/8. Ferry runs as `java -jar` with no JVM option
# (--ferry-jvm-opts adds some; --ferry-args adds Ferry flags, e.g. '--transport epoll') and is left to finish compiling its start-up code before any load. --perf records
# each proxy's CPU profile (perf, cpu-clock) in round 1 and summarizes it (benchmarks/compare/perftop.py);
# --syscalls counts each proxy's system calls per request in round 1 (perf stat on the syscall tracepoints); --jit
# runs Ferry with -XX:+LogCompilation and prints, per measured round, the C2 compiles inside it and the uncommon traps
# before it (benchmarks/compare/jitrounds.py): what the JIT still does after the warm-up, on the proxy's CPU. Every
# process started here is stopped on exit; the raw outputs stay in /tmp/ferry-compare-last. Needs root for
# apt-get (skip it with --no-install when the tools are there). Ferry's jar is built with
# `mvn -B -q -DskipTests package -pl lb-control -am` when lb-control/target/ferry.jar is missing.
set -euo pipefail

ORIG_ARGS="$*"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$ROOT/benchmarks/compare"

DURATION=10
ROUNDS=3
WARMUP=10
CONNECTIONS=64
STREAMS=10
SCENARIOS="l4-small,l4-bulk,l7-small,l7-4k,tls-small,tls-handshake,h2-small,h2c-small,dns"
TARGETS="ferry,nginx,haproxy,direct,nsd,dnsmasq"
JAVA_BIN=${JAVA_BIN:-java}
FERRY_JVM_OPTS=${FERRY_JVM_OPTS:-}
FERRY_ARGS=${FERRY_ARGS:-}
JAR="$ROOT/lb-control/target/ferry.jar"
INSTALL=1
WRITE_DOC=1
KEEP=0
QUICK=0
PERF=0
SYSCALLS=0
JIT=0
PROXY_CPU=0
LOAD_CPU=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DURATION=3; ROUNDS=1; WARMUP=1; WRITE_DOC=0 ;;
    --duration) DURATION=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --connections) CONNECTIONS=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --proxies) TARGETS=$2; shift ;;
    --java) JAVA_BIN=$2; shift ;;
    --ferry-jvm-opts) FERRY_JVM_OPTS=$2; shift ;;
    --ferry-args) FERRY_ARGS=$2; shift ;;
    --jar) JAR=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --doc) WRITE_DOC=1 ;;
    --no-doc) WRITE_DOC=0 ;;
    --keep) KEEP=1 ;;
    --perf) PERF=1 ;;
    --syscalls) SYSCALLS=1 ;;
    --jit) JIT=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$DURATION" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$WARMUP" -ge 0 ] || { echo "compare.sh: bad numbers" >&2; exit 2; }

# The HTTP scenarios and their targets (a proxy in front of one backend), and dns with its own servers.
IFS=, read -r -a SCEN_LIST <<< "$SCENARIOS"
IFS=, read -r -a TARGET_LIST <<< "$TARGETS"
HTTP_TARGETS=() DNS_TARGETS=() HTTP_SCENS=0 DNS=0
for s in "${SCEN_LIST[@]}"; do
  case $s in
    dns) DNS=1 ;;
    l4-small|l4-bulk|l7-small|l7-4k|tls-small|tls-handshake|h2-small|h2c-small) HTTP_SCENS=$((HTTP_SCENS + 1)) ;;
    *) echo "compare.sh: unknown scenario $s (see --help)" >&2; exit 2 ;;
  esac
done
for t in "${TARGET_LIST[@]}"; do
  case $t in
    ferry) HTTP_TARGETS+=(ferry); DNS_TARGETS+=(ferry) ;;
    nginx|haproxy|direct) HTTP_TARGETS+=("$t") ;;
    nsd|dnsmasq) DNS_TARGETS+=("$t") ;;
    *) echo "compare.sh: unknown target $t (see --help)" >&2; exit 2 ;;
  esac
done
HTTP=0
[ "$HTTP_SCENS" -gt 0 ] && [ ${#HTTP_TARGETS[@]} -gt 0 ] && HTTP=1
[ ${#DNS_TARGETS[@]} -gt 0 ] || DNS=0
[ "$HTTP$DNS" != 00 ] || { echo "compare.sh: no scenario has a target (see --help)" >&2; exit 2; }
scenario_targets() {  # scenario_targets SCENARIO -> the targets it runs against, one a line
  if [ "$1" = dns ]; then printf '%s\n' "${DNS_TARGETS[@]}"; else printf '%s\n' "${HTTP_TARGETS[@]}"; fi
}

# ------------------------------------------------------------------------------------------------ addresses
# Everything is on loopback. Each proxy has its own address and the same ports; the ports are below the
# ephemeral range so that the load's own connections never hold them.
BACKEND=127.0.10.10
declare -A ADDR=([ferry]=127.0.10.1 [nginx]=127.0.10.2 [haproxy]=127.0.10.3)
declare -A DNS_ADDR=([ferry]=127.0.20.1 [nsd]=127.0.20.2 [dnsmasq]=127.0.20.3)
DNS_PORT=23053         # UDP and TCP, every DNS server
FERRY_DNS_ADMIN_PORT=23257
L4_PORT=23080          # TCP proxy -> backend HTTP
L4_IPERF_PORT=23201    # TCP proxy -> iperf3
HTTP_PORT=23081        # HTTP proxy
HTTPS_PORT=23443       # HTTPS proxy (HTTP/1.1 and HTTP/2 by ALPN)
H2C_PORT=23084         # HTTP/2 in clear text, where it cannot share HTTP_PORT (nginx; the backend)
BACKEND_HTTP_PORT=23090
BACKEND_HTTPS_PORT=23453
IPERF_PORT=23202
FERRY_ADMIN_PORT=23256
for a in "$BACKEND" "${ADDR[@]}" "${DNS_ADDR[@]}"; do
  [[ $a == 127.* ]] || { echo "compare.sh: $a is not a loopback address" >&2; exit 2; }
done
# A server left from an earlier run (or anything else) on one of these ports would answer in place of the one this
# run starts, which then fails to bind, and the run would measure it without a word: refuse to start instead.
in_use=()
for a in "$BACKEND" "${ADDR[@]}" "${DNS_ADDR[@]}"; do
  for p in $L4_PORT $L4_IPERF_PORT $HTTP_PORT $HTTPS_PORT $H2C_PORT $BACKEND_HTTP_PORT $BACKEND_HTTPS_PORT \
           $IPERF_PORT $FERRY_ADMIN_PORT $DNS_PORT $FERRY_DNS_ADMIN_PORT; do
    (exec 3<>"/dev/tcp/$a/$p") 2>/dev/null && in_use+=("$a:$p")
  done
done
if [ ${#in_use[@]} -gt 0 ]; then
  echo "compare.sh: already listening: ${in_use[*]} (left from an earlier run? see ss -ltnp)" >&2
  exit 1
fi

# ------------------------------------------------------------------------------------------------ tools
need_pkgs=()
if [ "$HTTP" = 1 ]; then
  command -v nginx >/dev/null || need_pkgs+=(nginx)
  [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need_pkgs+=(libnginx-mod-stream)
  command -v haproxy >/dev/null || need_pkgs+=(haproxy)
  command -v wrk >/dev/null || need_pkgs+=(wrk)
  command -v h2load >/dev/null || need_pkgs+=(nghttp2-client)
  command -v iperf3 >/dev/null || need_pkgs+=(iperf3)
  command -v openssl >/dev/null || need_pkgs+=(openssl)
fi
if [ "$DNS" = 1 ]; then
  command -v dnsperf >/dev/null || need_pkgs+=(dnsperf)
  command -v dig >/dev/null || need_pkgs+=(bind9-dnsutils)
  [[ " ${DNS_TARGETS[*]} " != *" nsd "* ]] || [ -x /usr/sbin/nsd ] || need_pkgs+=(nsd)
  [[ " ${DNS_TARGETS[*]} " != *" dnsmasq "* ]] || [ -x /usr/sbin/dnsmasq ] || need_pkgs+=(dnsmasq-base)
fi
command -v curl >/dev/null || need_pkgs+=(curl)
command -v taskset >/dev/null || need_pkgs+=(util-linux)
[ -x /usr/bin/python3 ] || need_pkgs+=(python3)
[ "$PERF$SYSCALLS" = 00 ] || command -v perf >/dev/null || need_pkgs+=(linux-perf)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$INSTALL" = 0 ]; then
    echo "compare.sh: missing ${need_pkgs[*]} (run without --no-install, as root)" >&2; exit 1
  fi
  echo "== installing ${need_pkgs[*]}"
  # Debian starts packaged daemons on install unless policy-rc.d says no; ours use their own ports anyway.
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; }
fi
PY=/usr/bin/python3
[ "$(nproc --all)" -ge 2 ] || { echo "compare.sh: needs at least 2 CPUs (proxy on CPU 0, load on CPU 1)" >&2; exit 1; }

if [ "$PERF" = 1 ]; then
  # Java frames in perf: a symbol map written when the JVM exits, and frame pointers to walk the stacks.
  FERRY_JVM_OPTS="$FERRY_JVM_OPTS -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer"
fi

if [ ! -f "$JAR" ]; then
  echo "== building $JAR"
  (cd "$ROOT" && mvn -B -q -DskipTests package -pl lb-control -am)
fi

# ------------------------------------------------------------------------------------------------ processes
RUN=$(mktemp -d /tmp/ferry-compare.XXXXXX)
chmod 755 "$RUN"    # nginx workers run as an unprivileged user and read www/
if [ "$JIT" = 1 ]; then   # one log per JVM (%p: its pid), the DNS Ferry's too
  FERRY_JVM_OPTS="$FERRY_JVM_OPTS -XX:+UnlockDiagnosticVMOptions -XX:+LogCompilation -XX:LogFile=$RUN/jit-%p.xml"
fi
PIDS=()
cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  if [ "$KEEP" = 1 ] || [ $rc != 0 ]; then echo "== run directory kept: $RUN" >&2; else rm -rf "$RUN"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

fill() {  # fill TEMPLATE OUT [proxy]
  local addr=${3:+${ADDR[$3]}}
  sed -e "s#@RUN@#$RUN#g" -e "s#@ADDR@#${addr}#g" -e "s#@BACKEND@#$BACKEND#g" \
      -e "s#@L4_PORT@#$L4_PORT#g" -e "s#@L4_IPERF_PORT@#$L4_IPERF_PORT#g" \
      -e "s#@HTTP_PORT@#$HTTP_PORT#g" -e "s#@HTTPS_PORT@#$HTTPS_PORT#g" -e "s#@H2C_PORT@#$H2C_PORT#g" \
      -e "s#@BACKEND_HTTP_PORT@#$BACKEND_HTTP_PORT#g" -e "s#@BACKEND_HTTPS_PORT@#$BACKEND_HTTPS_PORT#g" \
      -e "s#@IPERF_PORT@#$IPERF_PORT#g" "$1" > "$2"
}

wait_port() {  # wait_port ADDR PORT WHAT [PID]
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then echo "compare.sh: $3 exited" >&2; return 1; fi
    sleep 0.1
  done
  echo "compare.sh: $3 did not listen on $1:$2" >&2; return 1
}

mkdir -p "$RUN"/{tls,www,backend,nginx,haproxy,ferry,out}
echo "== run directory $RUN"

BACKEND_PIDS=()
if [ "$HTTP" = 1 ]; then
# The certificate: ECDSA P-256, for bench.local and the benchmark addresses.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj /CN=bench.local -addext "subjectAltName=DNS:bench.local,IP:${ADDR[ferry]},IP:${ADDR[nginx]},IP:${ADDR[haproxy]},IP:$BACKEND" \
  -keyout "$RUN/tls/tls.key" -out "$RUN/tls/tls.crt" 2>/dev/null
cat "$RUN/tls/tls.crt" "$RUN/tls/tls.key" > "$RUN/tls/haproxy.pem"

# The backend's files: a small body and a 4 KiB one.
printf 'Hello, Ferry!\n' > "$RUN/www/small"
head -c 4096 /dev/zero | tr '\0' 'x' > "$RUN/www/4k"

# Backend: nginx and iperf3 on the load generator's CPU.
fill "$HERE/backend-nginx.conf" "$RUN/backend/nginx.conf"
taskset -c $LOAD_CPU nginx -e "$RUN/backend/error.log" -p "$RUN/backend/" -c "$RUN/backend/nginx.conf" \
  >"$RUN/backend/stdout.log" 2>&1 &
PIDS+=($!); BACKEND_PIDS+=($!)
taskset -c $LOAD_CPU iperf3 -s -B "$BACKEND" -p "$IPERF_PORT" >"$RUN/backend/iperf3.log" 2>&1 &
PIDS+=($!); BACKEND_PIDS+=($!)
fi

declare -A PROXY_PID DNS_PID
has_target() { [ "$HTTP" = 1 ] && [[ " ${HTTP_TARGETS[*]} " == *" $1 "* ]]; }  # a proxy of the HTTP scenarios
has_dns() { [ "$DNS" = 1 ] && [[ " ${DNS_TARGETS[*]} " == *" $1 "* ]]; }       # a server of the dns scenario

if has_target nginx; then
  fill "$HERE/nginx.conf" "$RUN/nginx/nginx.conf" nginx
  taskset -c $PROXY_CPU nginx -e "$RUN/nginx/error.log" -p "$RUN/nginx/" -c "$RUN/nginx/nginx.conf" \
    >"$RUN/nginx/stdout.log" 2>&1 &
  PROXY_PID[nginx]=$!; PIDS+=($!)
fi
if has_target haproxy; then
  fill "$HERE/haproxy.cfg" "$RUN/haproxy/haproxy.cfg" haproxy
  taskset -c $PROXY_CPU haproxy -db -f "$RUN/haproxy/haproxy.cfg" >"$RUN/haproxy/stdout.log" 2>&1 &
  PROXY_PID[haproxy]=$!; PIDS+=($!)
fi
if has_target ferry; then
  # The manifests get a directory of their own: Ferry watches it, and reloads on any change in it (its log too).
  mkdir -p "$RUN/ferry/manifests"
  fill "$HERE/ferry.yaml" "$RUN/ferry/manifests/bench.yaml" ferry
  {
    printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: bench-tls\n  namespace: bench\n'
    printf 'type: kubernetes.io/tls\nstringData:\n  tls.crt: |\n'
    sed 's/^/    /' "$RUN/tls/tls.crt"
    printf '  tls.key: |\n'
    sed 's/^/    /' "$RUN/tls/tls.key"
  } > "$RUN/ferry/manifests/secret.yaml"
  FERRY_T0=$(date +%s.%N)
  # shellcheck disable=SC2086
  taskset -c $PROXY_CPU "$JAVA_BIN" $FERRY_JVM_OPTS -jar "$JAR" --manifests "$RUN/ferry/manifests" \
    --io-threads 1 --no-access-log --no-hsts \
    --http-address "${ADDR[ferry]}" --http-port $HTTP_PORT --https-port $HTTPS_PORT \
    --admin-address "${ADDR[ferry]}" --admin-port $FERRY_ADMIN_PORT \
    --default-ssl-certificate bench/bench-tls --shutdown-grace-period 1s $FERRY_ARGS >"$RUN/ferry/ferry.log" 2>&1 &
  PROXY_PID[ferry]=$!; PIDS+=($!)
fi

fill_dns() {  # fill_dns TEMPLATE OUT SERVER
  sed -e "s#@DNS_ADDR@#${DNS_ADDR[$3]}#g" -e "s#@DNS_PORT@#$DNS_PORT#g" -e "s#@DIR@#$RUN/dns/$3#g" "$1" > "$2"
}
if [ "$DNS" = 1 ]; then
  # The dns scenario's zone, its three forms and the query mix; then each server, pinned to the proxies' CPU.
  mkdir -p "$RUN/dns"
  $PY "$HERE/dnszone.py" write "$RUN/dns" > "$RUN/dns/summary.txt"
  echo "== dns zone: $(cat "$RUN/dns/summary.txt")"
  if has_dns ferry; then
    # A Ferry of its own: DNS only (no edge proxy), with the zone's Services as manifests in their own directory.
    mkdir -p "$RUN/dns/ferry/manifests" && mv "$RUN/dns/ferry/zone.yaml" "$RUN/dns/ferry/manifests/"
    FERRY_DNS_T0=$(date +%s.%N)
    # shellcheck disable=SC2086
    taskset -c $PROXY_CPU "$JAVA_BIN" $FERRY_JVM_OPTS -jar "$JAR" --manifests "$RUN/dns/ferry/manifests" \
      --io-threads 1 --no-access-log --http-port -1 --https-port -1 \
      --admin-address "${DNS_ADDR[ferry]}" --admin-port $FERRY_DNS_ADMIN_PORT \
      --dns-address "${DNS_ADDR[ferry]}:$DNS_PORT" --no-dns-forward --shutdown-grace-period 1s $FERRY_ARGS \
      >"$RUN/dns/ferry/ferry.log" 2>&1 &
    DNS_PID[ferry]=$!; PIDS+=($!)
  fi
  if has_dns nsd; then
    fill_dns "$HERE/nsd.conf" "$RUN/dns/nsd/nsd.conf" nsd
    taskset -c $PROXY_CPU nsd -d -c "$RUN/dns/nsd/nsd.conf" >"$RUN/dns/nsd/stdout.log" 2>&1 &
    DNS_PID[nsd]=$!; PIDS+=($!)
  fi
  if has_dns dnsmasq; then
    fill_dns "$HERE/dnsmasq.conf" "$RUN/dns/dnsmasq/dnsmasq.conf" dnsmasq
    taskset -c $PROXY_CPU dnsmasq --keep-in-foreground --conf-file="$RUN/dns/dnsmasq/dnsmasq.conf" \
      >"$RUN/dns/dnsmasq/stdout.log" 2>&1 &
    DNS_PID[dnsmasq]=$!; PIDS+=($!)
  fi
fi

if [ "$HTTP" = 1 ]; then
  wait_port "$BACKEND" "$BACKEND_HTTP_PORT" "the backend nginx" "${BACKEND_PIDS[0]}" || { cat "$RUN/backend/"*.log >&2; exit 1; }
  wait_port "$BACKEND" "$IPERF_PORT" "iperf3" "${BACKEND_PIDS[1]}" || { cat "$RUN/backend/"*.log >&2; exit 1; }
fi
for p in nginx haproxy ferry; do
  has_target $p || continue
  wait_port "${ADDR[$p]}" "$HTTPS_PORT" "$p" "${PROXY_PID[$p]}" || { tail -20 "$RUN/$p/"*.log >&2; exit 1; }
done
if has_target ferry; then
  for _ in $(seq 300); do
    curl -sf "http://${ADDR[ferry]}:$FERRY_ADMIN_PORT/readyz" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://${ADDR[ferry]}:$FERRY_ADMIN_PORT/readyz" >/dev/null || { echo "Ferry not ready" >&2; exit 1; }
  FERRY_READY=$(date +%s.%N)
  problems=$(curl -s "http://${ADDR[ferry]}:$FERRY_ADMIN_PORT/config_dump" |
    $PY -c 'import json,sys; print("\n".join(p["subject"]+": "+p["message"] for p in json.load(sys.stdin)["problems"]))')
  [ -z "$problems" ] || { echo "Ferry reports problems:"; echo "$problems"; } >&2
  wait_port "${ADDR[ferry]}" "$L4_PORT" "Ferry's ClusterIP listener"
fi
for d in ferry nsd dnsmasq; do
  has_dns $d || continue
  wait_port "${DNS_ADDR[$d]}" "$DNS_PORT" "$d (dns)" "${DNS_PID[$d]}" || { tail -20 "$RUN/dns/$d/"*.log >&2; exit 1; }
done
if has_dns ferry; then
  # Listening is not enough: Ferry answers SERVFAIL until its first table is applied.
  for _ in $(seq 300); do
    curl -sf "http://${DNS_ADDR[ferry]}:$FERRY_DNS_ADMIN_PORT/readyz" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://${DNS_ADDR[ferry]}:$FERRY_DNS_ADMIN_PORT/readyz" >/dev/null || { echo "Ferry (dns) not ready" >&2; exit 1; }
  FERRY_DNS_READY=$(date +%s.%N)
  problems=$(curl -s "http://${DNS_ADDR[ferry]}:$FERRY_DNS_ADMIN_PORT/config_dump" |
    $PY -c 'import json,sys; print("\n".join(p["subject"]+": "+p["message"] for p in json.load(sys.stdin)["problems"]))')
  [ -z "$problems" ] || { echo "Ferry (dns) reports problems:"; echo "$problems"; } >&2
fi

# ------------------------------------------------------------------------------------------------ targets
url() {  # url TARGET SCENARIO
  local t=$1 s=$2 path=/small
  [ "$s" = l7-4k ] && path=/4k
  if [ "$t" = direct ]; then
    case $s in
      tls-*|h2-*) echo "https://$BACKEND:$BACKEND_HTTPS_PORT$path" ;;
      h2c-*) echo "http://$BACKEND:$H2C_PORT$path" ;;
      *) echo "http://$BACKEND:$BACKEND_HTTP_PORT$path" ;;
    esac
    return
  fi
  case $s in
    l4-small) echo "http://${ADDR[$t]}:$L4_PORT$path" ;;
    tls-*|h2-*) echo "https://${ADDR[$t]}:$HTTPS_PORT$path" ;;
    h2c-*) if [ "$t" = nginx ]; then echo "http://${ADDR[$t]}:$H2C_PORT$path"
           else echo "http://${ADDR[$t]}:$HTTP_PORT$path"; fi ;;
    *) echo "http://${ADDR[$t]}:$HTTP_PORT$path" ;;
  esac
}

# Check every path before measuring: the right body, and HTTP/2 where asked.
check() {
  local t=$1 s=$2 u want got
  u=$(url "$t" "$s")
  want=$(stat -c %s "$RUN/www/$([ "$s" = l7-4k ] && echo 4k || echo small)")
  local opts=(-sk -o /dev/null -w '%{http_code} %{size_download} %{http_version}')
  case $s in h2-*) opts+=(--http2) ;; h2c-*) opts+=(--http2-prior-knowledge) ;; *) opts+=(--http1.1) ;; esac
  got=$(curl "${opts[@]}" --max-time 5 "$u" || true)
  case $s in h2-*|h2c-*) [ "$got" = "200 $want 2" ] ;; *) [ "$got" = "200 $want 1.1" ] ;; esac ||
    { echo "compare.sh: $t $s: $u answered '$got', wanted '200 $want'" >&2; return 1; }
}

backend_counts() {  # -> "accepted requests" of the backend nginx (its stub_status; the query itself is one of each)
  curl -s --max-time 2 "http://$BACKEND:$BACKEND_HTTP_PORT/nginx_status" |
    awk 'NR == 3 { print $1, $3 }'
}

sys_busy() {  # user + nice + system ticks of the whole machine (interrupts and steal left out)
  awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat
}

own_ticks() {  # this script's waited-for children (the load generators) plus the backend's processes
  local rest
  rest=$(sed 's/^.*) //' "/proc/$$/stat")
  # shellcheck disable=SC2086
  set -- $rest
  local backend=0
  # shellcheck disable=SC2046
  [ ${#BACKEND_PIDS[@]} -eq 0 ] || backend=$(cpu_ticks "${BACKEND_PIDS[@]}" $(pgrep -P "${BACKEND_PIDS[0]}"))
  echo $(( ${14} + ${15} + backend ))
}

proxy_pids() {  # proxy_pids TARGET SCENARIO -> the proxy's processes and their descendants
  local pid=${PROXY_PID[$1]:-}   # (nginx: master and worker; NSD: xfrd, its child main and main's server child)
  [ "$2" != dns ] || pid=${DNS_PID[$1]:-}
  [ -n "$pid" ] || return 0
  local level=("$pid") next
  while [ ${#level[@]} -gt 0 ]; do
    printf '%s\n' "${level[@]}"
    mapfile -t next < <(pgrep -P "$(IFS=,; echo "${level[*]}")" 2>/dev/null || true)
    level=("${next[@]}")
  done
}

cpu_ticks() {  # cpu_ticks PID... -> utime + stime in clock ticks, summed
  local total=0 pid rest
  for pid in "$@"; do
    rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    set -- $rest
    total=$((total + ${12} + ${13}))
  done
  echo $total
}

TICKS=$(getconf CLK_TCK)
# --syscalls: every system call of the proxy, and those that tell reads, writes, polling and connection churn apart.
SYSCALL_EVENTS=raw_syscalls:sys_enter
for sc in read recvfrom recvmsg readv write sendto sendmsg writev epoll_wait epoll_pwait epoll_pwait2 epoll_ctl \
          io_uring_enter accept4 connect socket close shutdown setsockopt getsockopt getsockname getpeername futex; do
  SYSCALL_EVENTS+=",syscalls:sys_enter_$sc"
done
RESULTS="$RUN/out/results.jsonl"
: > "$RESULTS"

# run_load TARGET SCENARIO SECONDS OUTFILE -> the load generator's raw output in OUTFILE (.log, .h2log for h2load)
run_load() {
  local t=$1 s=$2 secs=$3 out=$4 u=""
  [ "$s" = dns ] || u=$(url "$t" "$s")
  case $s in
    dns)
      # One thread, at most 100 queries in flight (dnsperf's default), the mix looped for SECONDS; -v prints
      # every query's rcode and latency, for the percentiles. Queries not answered within 2 s are lost.
      timeout $((secs + 20)) taskset -c $LOAD_CPU dnsperf -s "${DNS_ADDR[$t]}" -p "$DNS_PORT" -d "$RUN/dns/queries.txt" \
        -T 1 -c 1 -q 100 -t 2 -l "$secs" -v >"$out" 2>&1 || true ;;
    l4-bulk)
      local host=${ADDR[$t]:-$BACKEND} port=$L4_IPERF_PORT
      [ "$t" = direct ] && port=$IPERF_PORT
      timeout $((secs + 20)) taskset -c $LOAD_CPU iperf3 -c "$host" -p "$port" -t "$secs" -J >"$out" 2>&1 || true ;;
    tls-handshake)
      timeout $((secs + 20)) taskset -c $LOAD_CPU wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency \
        -H 'Connection: close' "$u" >"$out" 2>&1 || true ;;
    h2-small|h2c-small)
      rm -f "$out.h2log"
      timeout $((secs + 20)) taskset -c $LOAD_CPU h2load -t1 -c"$CONNECTIONS" -m"$STREAMS" -D "$secs" \
        --log-file="$out.h2log" "$u" >"$out" 2>&1 || true ;;
    *)
      timeout $((secs + 20)) taskset -c $LOAD_CPU wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency "$u" \
        >"$out" 2>&1 || true ;;
  esac
}

measure() {  # measure TARGET SCENARIO ROUND
  local t=$1 s=$2 r=$3 out="$RUN/out/$2-$1-$3.txt" pids=() c0 c1 t0 t1 parsed
  mapfile -t pids < <(proxy_pids "$t" "$s")
  local perf_pid=""
  if [ "$PERF" = 1 ] && [ "$r" = 1 ] && [ ${#pids[@]} -gt 0 ]; then
    perf record -q -e cpu-clock -F 999 -g -p "$(IFS=,; echo "${pids[*]}")" -o "$RUN/out/perf-$s-$t.data" \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local b0="" b1="" s0 s1 o0 o1
  [ "$s" = dns ] || b0=$(backend_counts)
  s0=$(sys_busy); o0=$(own_ticks)
  local stat_pid=""
  if [ "$SYSCALLS" = 1 ] && [ "$r" = 1 ] && [ ${#pids[@]} -gt 0 ]; then
    perf stat -x, -e "$SYSCALL_EVENTS" -p "$(IFS=,; echo "${pids[*]}")" -o "$RUN/out/syscalls-$s-$t.csv" \
      >/dev/null 2>&1 &
    stat_pid=$!
  fi
  c0=$(cpu_ticks "${pids[@]}"); t0=$(date +%s.%N)
  run_load "$t" "$s" "$DURATION" "$out"
  c1=$(cpu_ticks "${pids[@]}"); t1=$(date +%s.%N)
  echo "$s $t $r $t0 $t1" >> "$RUN/out/rounds.txt"
  if [ -n "$stat_pid" ]; then kill -INT "$stat_pid" 2>/dev/null; wait "$stat_pid" 2>/dev/null || true; fi
  s1=$(sys_busy); o1=$(own_ticks)
  [ "$s" = dns ] || b1=$(backend_counts)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true; fi
  case $s in
    l4-bulk) parsed=$($PY "$HERE/compare.py" iperf3 "$out") ;;
    h2-small|h2c-small) parsed=$($PY "$HERE/compare.py" h2load "$out" "$out.h2log"); rm -f "$out.h2log" ;;
    dns) parsed=$($PY "$HERE/compare.py" dnsperf "$out")
         grep -v '^> ' "$out" > "$out.tmp" && mv "$out.tmp" "$out" ;;  # keep the summary, not every query
    *) parsed=$($PY "$HERE/compare.py" wrk "$out") ;;
  esac
  local cpu=None
  [ ${#pids[@]} -gt 0 ] && cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$TICKS" 'BEGIN { printf "%.3f", (b - a) / hz }')
  local elapsed
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  # CPU is over the load generator's whole wall time (h2load and iperf3 also connect and warm up around it).
  echo "$parsed" | $PY -c "import json,sys; d=json.load(sys.stdin); d.update(scenario='$s', target='$t', round=$r,
cpu_s=$cpu, elapsed_s=$elapsed, other_s=max(0, ($s1 - $s0 - ($o1 - $o0) - ($c1 - $c0)) / $TICKS))
b0, b1 = '$b0'.split(), '$b1'.split()
if len(b0) == 2 and len(b1) == 2:
    d.update(backend_conns=int(b1[0]) - int(b0[0]) - 1, backend_reqs=int(b1[1]) - int(b0[1]) - 1)
print(json.dumps(d))" >> "$RESULTS"
  tail -1 "$RESULTS" | $PY -c "import json,sys; d=json.load(sys.stdin)
unit = 'queries/s' if d['scenario'] == 'dns' else 'req/s'
fm = lambda x: '?' if x is None else f'{x:.3g}'
v = f\"{d['gbps']:.2f} Gbit/s\" if 'gbps' in d else f\"{d['rps']:,.0f} {unit} p50 {fm(d['p50_ms'])} ms p99 {fm(d['p99_ms'])} ms\"
cpu = '' if d['cpu_s'] is None else f\" cpu {d['cpu_s'] / d['elapsed_s'] * 100:.0f}%\"
print(f\"   {d['scenario']:<14} {d['target']:<8} round {d['round']}: {v} errors {d['errors']}{cpu}\")"
}

# A JVM keeps compiling its start-up code for a while after it is ready (on one CPU, for tens of seconds): let
# Ferry settle, until it uses less than 5 % of its CPU over 2 s (at most 90 s), before any load.
settle() {  # settle PID T0 READY -> a line on how long start-up took
  local ready_s settled_s cpu_s c0 c1
  ready_s=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", b - a }')
  for _ in $(seq 45); do
    c0=$(cpu_ticks "$1"); sleep 2; c1=$(cpu_ticks "$1")
    [ $(( (c1 - c0) * 100 / (2 * TICKS) )) -lt 5 ] && break
  done
  settled_s=$(awk -v a="$2" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  cpu_s=$(awk -v c="$(cpu_ticks "$1")" -v hz="$TICKS" 'BEGIN { printf "%.1f", c / hz }')
  echo "ready (/readyz) ${ready_s} s after start, idle after ${settled_s} s, ${cpu_s} CPU-s spent by then"
}
FERRY_STARTUP="" FERRY_DNS_STARTUP=""
if has_target ferry; then
  FERRY_STARTUP=$(settle "${PROXY_PID[ferry]}" "$FERRY_T0" "$FERRY_READY")
  echo "== Ferry $FERRY_STARTUP"
fi
if has_dns ferry; then
  FERRY_DNS_STARTUP=$(settle "${DNS_PID[ferry]}" "$FERRY_DNS_T0" "$FERRY_DNS_READY")
  echo "== Ferry (dns) $FERRY_DNS_STARTUP"
fi

echo "== checking every path"
for s in "${SCEN_LIST[@]}"; do
  case $s in
    l4-bulk) continue ;;
    dns)
      # The same answers from every server: rcode and answer section of a sample of the mix over UDP.
      servers=()
      for t in "${DNS_TARGETS[@]}"; do servers+=("${DNS_ADDR[$t]}:$DNS_PORT"); done
      if ! $PY "$HERE/dnszone.py" check "$RUN/dns/check.txt" "${servers[@]}" | sed 's/^/   /'; then
        echo "compare.sh: the DNS servers answer differently (${DNS_TARGETS[*]})" >&2; exit 1
      fi ;;
    *) for t in "${HTTP_TARGETS[@]}"; do check "$t" "$s"; done ;;
  esac
done

echo "== measuring: ${SCEN_LIST[*]}; $ROUNDS round(s) of ${DURATION}s, ${WARMUP}s warm-up"
for s in "${SCEN_LIST[@]}"; do
  mapfile -t targets < <(scenario_targets "$s")
  [ "$s" = dns ] && [ "$DNS" = 0 ] && continue
  [ "$s" != dns ] && [ "$HTTP" = 0 ] && continue
  echo "== $s: ${targets[*]}"
  if [ "$WARMUP" -gt 0 ]; then
    for t in "${targets[@]}"; do run_load "$t" "$s" "$WARMUP" "$RUN/out/warmup.txt"; done
    rm -f "$RUN/out/warmup.txt" "$RUN/out/warmup.txt.h2log"
  fi
  for r in $(seq "$ROUNDS"); do
    n=${#targets[@]}
    for i in $(seq 0 $((n - 1))); do
      t=${targets[$(( (i + r - 1) % n ))]}
      measure "$t" "$s" "$r"
    done
  done
done

# ------------------------------------------------------------------------------------------------ report
stop_ferry() {  # what a JVM writes when it exits: /tmp/perf-PID.map (--perf), its compilation log (--jit)
  local pid
  for pid in "${PROXY_PID[ferry]:-}" "${DNS_PID[ferry]:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
}
summarize_perf() {
  [ "$PERF" = 1 ] || return 0
  stop_ferry
  for data in "$RUN"/out/perf-*.data; do
    [ -f "$data" ] || continue
    local name=${data%.data} comm=""
    # Ferry's event loops: ferry-io (L4 relay, UDP, DNS) and ferry-http (the HTTP edge)
    case $name in *-ferry) comm=ferry-io,ferry-http ;; esac
    perf script -i "$data" 2>/dev/null | $PY "$HERE/perftop.py" --comm "$comm" --rows 40 > "$name.txt" || true
    if [ "$KEEP" = 1 ]; then   # for perf report / perf script; the JIT's symbols are in /tmp/perf-PID.map
      cp "/tmp/perf-${PROXY_PID[ferry]:-x}.map" "$RUN/out/" 2>/dev/null || true
    else
      rm -f "$data"
    fi
  done
  echo "== perf profiles (round 1 of each proxy and scenario): $RUN/out/perf-*.txt"
}
if has_target ferry; then   # Ferry's counters over the whole run (upstream connects and reuses, errors)
  curl -s "http://${ADDR[ferry]}:$FERRY_ADMIN_PORT/config_dump" > "$RUN/out/ferry-config_dump.json" || true
fi
if has_dns ferry; then     # and the DNS Ferry's (its DNS counters are in /metrics)
  curl -s "http://${DNS_ADDR[ferry]}:$FERRY_DNS_ADMIN_PORT/metrics" > "$RUN/out/ferry-dns-metrics.txt" || true
fi
first_line() { "$@" 2>&1 | head -1; }
java_ver=$("$JAVA_BIN" $FERRY_JVM_OPTS -version 2>&1 | sed -n '2p;3p' | tr '\n' ' ' | sed 's/ *$//')
gc=""
if has_target ferry || has_dns ferry; then
  jcmd_bin="$(dirname "$(readlink -f "$(command -v "$JAVA_BIN")")")/jcmd"
  gc=$("$jcmd_bin" "${PROXY_PID[ferry]:-${DNS_PID[ferry]}}" VM.flags 2>/dev/null | grep -o -- '-XX:+Use[A-Za-z]*GC' | head -1 || true)
fi
tls_line=""
transport_line=""
if has_target ferry; then
  tls_line=$(grep -o 'TLS by [^)]*)' "$RUN/ferry/ferry.log" | head -1 || true)
  transport_line=$(grep -o 'Transport: .*' "$RUN/ferry/ferry.log" | head -1 | sed -E 's/,? (with )?[0-9]+ event loops( each)?$//' || true)
fi
ciphers=""
for t in "${HTTP_TARGETS[@]}"; do
  [ "$HTTP" = 1 ] || break
  u=$(url "$t" tls-small); hp=${u#https://}; hp=${hp%%/*}
  c=$(echo | timeout 5 openssl s_client -connect "$hp" 2>/dev/null | grep -m1 -o 'TLSv1.3, Cipher is [A-Z0-9_]*' | sed 's/, Cipher is / /' || true)
  ciphers+="$t: ${c:-?}; "
done
noise="Machine load while measuring: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the run."
[ "$QUICK" = 1 ] && noise="A --quick smoke run: too short to quote. $noise"
$PY - "$RUN/out/meta.json" <<EOF
import json, sys
meta = {
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "host": "$(hostname) ($(nproc --all) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB)",
  "command": "benchmarks/compare.sh${ORIG_ARGS:+ $ORIG_ARGS}",
  "commit": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- lb-l4 lb-l7 lb-control 2>/dev/null || echo ' + local changes')",
  "rounds": $ROUNDS, "duration": $DURATION, "warmup": $WARMUP, "connections": $CONNECTIONS, "streams": $STREAMS,
  "cpu": "$(lscpu | sed -n 's/^Model name: *//p' | head -1); proxy pinned to CPU $PROXY_CPU, backend and load generator to CPU $LOAD_CPU",
  "kernel": "$(uname -sr)",
  "java": "$java_ver",
  "noise": "$noise",
}
if "$HTTP" == "1":
  meta.update({
  "ferry": "$(first_line "$JAVA_BIN" -jar "$JAR" --version) with --io-threads 1 --no-access-log --no-hsts${FERRY_ARGS:+ $FERRY_ARGS}, JVM options: ${FERRY_JVM_OPTS:-none}${gc:+ (GC: $gc)}${transport_line:+; $transport_line}${tls_line:+; $tls_line}; ${FERRY_STARTUP}",
  "nginx": "$([ "$HTTP" = 1 ] && first_line nginx -v | sed 's/^nginx version: //') (1 worker, stream module; upstream keepalive 64)",
  "haproxy": "$([ "$HTTP" = 1 ] && first_line haproxy -v | sed 's/ - https.*//') (nbthread 1; http-reuse always)",
  "wrk": "$([ "$HTTP" = 1 ] && wrk -v 2>&1 | head -1 | sed 's/ \[.*//' ) (1 thread)",
  "h2load": "$([ "$HTTP" = 1 ] && h2load --version 2>&1 | head -1)",
  "iperf3": "$([ "$HTTP" = 1 ] && first_line iperf3 --version)",
  "openssl": "$([ "$HTTP" = 1 ] && first_line openssl version) (load generators); TLS 1.3 as negotiated: ${ciphers%; }",
  })
if "$DNS" == "1":
  meta["dns"] = {
  "cpu": "$(lscpu | sed -n 's/^Model name: *//p' | head -1); servers pinned to CPU $PROXY_CPU, dnsperf to CPU $LOAD_CPU",
  "zone": "$(cat "$RUN/dns/summary.txt" 2>/dev/null)",
  "ferry": "$(first_line "$JAVA_BIN" -jar "$JAR" --version) with --io-threads 1 --dns-address ${DNS_ADDR[ferry]}:$DNS_PORT --no-dns-forward --http-port -1 --https-port -1${FERRY_ARGS:+ $FERRY_ARGS}, JVM options: ${FERRY_JVM_OPTS:-none}${gc:+ (GC: $gc)}; ${FERRY_DNS_STARTUP}",
  "nsd": "$(has_dns nsd && first_line nsd -v) (server-count 1, no RRL)",
  "dnsmasq": "$(has_dns dnsmasq && first_line dnsmasq -v | sed 's/  Copyright.*//') (no-resolv, local=/cluster.local/, cache-size=0)",
  "dnsperf": "dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p') (-T 1 -c 1 -q 100 -t 2 -v, UDP)",
  }
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF

summarize_perf
if [ "$JIT" = 1 ]; then
  stop_ferry   # the compiler threads' logs are merged into the file at exit
  echo "== the JIT in Ferry's measured rounds (-XX:+LogCompilation; benchmarks/compare/jitrounds.py)"
  $PY "$HERE/jitrounds.py" "$RUN/out/rounds.txt" "$RUN"/jit-*.xml | tee "$RUN/out/jit-rounds.md" || true
fi
echo
if [ "$WRITE_DOC" = 1 ]; then
  $PY "$HERE/compare.py" report "$RESULTS" "$RUN/out/meta.json" --doc "$ROOT/docs/benchmarks.md"
  echo "== written to docs/benchmarks.md"
else
  $PY "$HERE/compare.py" report "$RESULTS" "$RUN/out/meta.json"
fi
LAST=${TMPDIR:-/tmp}/ferry-compare-last
rm -rf "$LAST" && cp -r "$RUN/out" "$LAST" && echo "== raw results and load generator outputs: $LAST"
