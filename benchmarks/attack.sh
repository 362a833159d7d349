#!/usr/bin/env bash
# Ferry attacked by tools that share no code with it, on loopback, in one run.
#
#   benchmarks/attack.sh [--quick] [--connections N] [--jar PATH] [--no-install] [--no-testssl] [--keep]
#
# Installs what it lacks from Debian's packages (slowhttptest, sslscan, testssl.sh, curl, python3), starts
# `java -jar lb-control/target/ferry.jar --demo` on 127.0.0.1 (free ports, plus one Ingress without a host to the
# demo's myblog Service, so that requests to 127.0.0.1 are proxied rather than answered 404), and then:
#
#   slowloris       slowhttptest -H: N connections, each sending one more header line every 10 s. Ferry's header
#                   timeout (60 s for the whole head) must close every one of them.
#   slow-body       slowhttptest -B (R-U-Dead-Yet) with 70 s between body chunks: Ferry's client body timeout (60 s
#                   between two reads, nginx's client_body_timeout) must close every one of them.
#   slow-body-10s   slowhttptest -B with 10 s between chunks: under the body timeout, so the connections are held
#                   (no minimum data rate, docs/security.md §9), and must not deny service to anyone else.
#   slow-read       slowhttptest -X: N connections that pipeline 10 requests each and read the answers 5 bytes
#                   at a time through a tiny receive window.
#
# While each one runs, a curl loop sends a normal request every 0.5 s (at most 5 s each): every one must be
# answered 200, and slowhttptest's own probe must find the service available in every second of its report. A
# request after each run must be answered too. Then sslscan (and testssl.sh unless --no-testssl) scans the HTTPS
# port, for the default certificate and for the demo host's: only TLS 1.2 and 1.3, only AEAD ciphers with forward
# secrecy (no RC4, DES, 3DES, NULL, EXPORT, anon, MD5, CBC or SHA-1 MAC suites; 128 bits or more), no
# renegotiation, no TLS compression (CRIME), not vulnerable to Heartbleed.
#
# Prints one line per check and a summary, and exits 1 if any check failed. Each slowhttptest run is bounded
# (80 s, 90 s for slow-body; --quick: 70 s, slowloris and slow-body only, sslscan only); everything goes only to
# 127.0.0.1. Every process started here is stopped on exit; the reports (slowhttptest CSV and HTML, scanner
# outputs, Ferry's log) stay in /tmp/ferry-attack-last. Needs root for apt-get (--no-install skips it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=/tmp/ferry-attack-last
JAR="$ROOT/lb-control/target/ferry.jar"
CONNECTIONS=500
QUICK=0
INSTALL=1
TESTSSL=1
KEEP=0

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --connections) CONNECTIONS="$2"; shift ;;
        --jar) JAR="$2"; shift ;;
        --no-install) INSTALL=0 ;;
        --no-testssl) TESTSSL=0 ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done

PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

# ---- tools --------------------------------------------------------------------------------------------------------
need=()
command -v slowhttptest >/dev/null || need+=(slowhttptest)
command -v sslscan >/dev/null || need+=(sslscan)
[ "$TESTSSL" = 1 ] && [ "$QUICK" = 0 ] && ! command -v testssl >/dev/null && need+=(testssl.sh)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$INSTALL" = 0 ]; then
        echo "missing: ${need[*]} (run without --no-install, as root)" >&2
        exit 2
    fi
    echo "Installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
if [ ! -f "$JAR" ]; then
    echo "Building $JAR"
    (cd "$ROOT" && mvn -B -o -q -DskipTests package -pl lb-control -am)
fi

rm -rf "$OUT"
mkdir -p "$OUT"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
HTTP=$(free_port); HTTPS=$(free_port); ADMIN=$(free_port); DNS=$(free_port)

# Every path of every host to the demo's blog (its backend reads the whole body before it answers).
cat > "$OUT/catchall.yaml" <<'EOF'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: attack-catchall
  namespace: demo
  annotations:
    nginx.ingress.kubernetes.io/ssl-redirect: "false"
spec:
  ingressClassName: ferry
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: myblog
            port:
              number: 80
EOF

(cd "$ROOT" && exec java -jar "$JAR" --demo --manifests "$OUT/catchall.yaml" --http-address 127.0.0.1 \
    --http-port "$HTTP" --https-port "$HTTPS" --admin-port "$ADMIN" --dns-address "127.0.0.1:$DNS" \
    --no-access-log >"$OUT/ferry.log" 2>&1) &
FERRY=$!
PIDS+=("$FERRY")
for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$ADMIN/readyz" >/dev/null 2>&1 && break
    kill -0 "$FERRY" 2>/dev/null || { echo "Ferry exited; see $OUT/ferry.log" >&2; tail -20 "$OUT/ferry.log" >&2; exit 1; }
    sleep 0.5
done
URL="http://127.0.0.1:$HTTP/blog/index/"
echo "Ferry (pid $FERRY): http://127.0.0.1:$HTTP https://127.0.0.1:$HTTPS admin http://127.0.0.1:$ADMIN; reports in $OUT"

FAILED=0
RESULTS=()
check() { # name, ok (0/1), detail
    local status=PASS
    if [ "$2" != 0 ]; then status=FAIL; FAILED=1; fi
    RESULTS+=("$status  $1: $3")
    echo "$status  $1: $3"
}

normal_request() {
    curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$URL" 2>/dev/null || echo 000
}

code=$(normal_request)
check "baseline" "$([ "$code" = 200 ]; echo $?)" "GET $URL -> $code"

metric() {
    curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# slow <name> <expect: closed|held|any> <seconds> <slowhttptest mode and options...>
slow() {
    local name=$1 expect=$2 seconds=$3
    shift 3
    local ok=0 failed=0 started
    slowhttptest "$@" -c "$CONNECTIONS" -r 200 -l "$seconds" -p 3 -g -o "$OUT/$name" -u "$URL" \
        >"$OUT/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    started=$(date +%s)
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(normal_request)" = 200 ]; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
        sleep 0.5
        if [ $(($(date +%s) - started)) -gt $((seconds + 60)) ]; then kill "$pid" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
    check "$name: normal requests during" "$([ "$failed" = 0 ] && [ "$ok" -gt 0 ]; echo $?)" \
        "$ok answered 200, $failed not"
    code=$(normal_request)
    check "$name: normal request after" "$([ "$code" = 200 ]; echo $?)" "GET -> $code"
    local csv="$OUT/$name.csv"
    if [ ! -s "$csv" ]; then
        check "$name: slowhttptest report" 1 "no $csv; see $OUT/$name.log"
        return
    fi
    # Seconds,Closed,Pending,Connected,Service Available (0 = the probe got no answer within 3 s)
    local summary
    summary=$(awk -F, 'NR > 2 { rows++; if ($5 == 0) down++; if ($4 > peak) peak = $4; closed = $2; connected = $4
                                 if ($2 > 0 && first == "") first = $1 }
                       END { printf "%d %d %d %d %d %s", rows, down, peak, closed, connected, first == "" ? "-" : first }' "$csv")
    read -r rows down peak closed connected first_close <<<"$summary"
    local exit_status
    exit_status=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/$name.log" | sed -n 's/^Exit status: *//p' | tail -1)
    check "$name: service available (slowhttptest probe)" "$([ "$rows" -gt 0 ] && [ "$down" = 0 ]; echo $?)" \
        "unavailable in $down of $rows seconds; exit status: ${exit_status:-?}"
    case "$expect" in
        closed)
            # slowhttptest stops early, "No open connections left", once the server has closed every one; its
            # report's last second may predate the last few closes.
            check "$name: closed by Ferry's timeout" \
                "$([ "$peak" -gt 0 ] && { [ "$connected" = 0 ] || [ "${exit_status:-}" = "No open connections left" ]; }; echo $?)" \
                "peak $peak connected; closes from second $first_close; $closed closed and $connected connected in the last report line (second $((rows)))" ;;
        held)
            echo "INFO  $name: peak $peak connected, $closed closed, $connected still connected at the end (under the timeout: held)"
            RESULTS+=("INFO  $name: peak $peak connected, $closed closed, $connected still connected at the end (under the timeout: held)") ;;
        *)
            echo "INFO  $name: peak $peak connected, $closed closed, $connected still connected at the end"
            RESULTS+=("INFO  $name: peak $peak connected, $closed closed, $connected connected at the end") ;;
    esac
}

if [ "$QUICK" = 1 ]; then
    slow slowloris closed 70 -H -i 10
    slow slow-body closed 70 -B -i 65 -s 8192
else
    slow slowloris closed 80 -H -i 10
    slow slow-body closed 90 -B -i 70 -s 8192
    slow slow-body-10s held 80 -B -i 10 -s 8192
    slow slow-read any 80 -X -k 10 -n 1 -w 1 -y 32 -z 5
fi
echo "INFO  after the slow runs: ferry_http_connections_active $(metric ferry_http_connections_active), ferry_http_connections_total $(metric ferry_http_connections_total)"

# ---- TLS ----------------------------------------------------------------------------------------------------------
scan() { # name, sni
    local name=$1 sni=$2 f="$OUT/sslscan-$1.txt"
    sslscan --no-colour --sni-name="$sni" "127.0.0.1:$HTTPS" >"$f" 2>&1 || true
    local bad_proto
    bad_proto=$(grep -E '^(SSLv2|SSLv3|TLSv1\.0|TLSv1\.1) +enabled' "$f" || true)
    check "tls $name: no SSLv2/SSLv3/TLS 1.0/TLS 1.1" "$([ -z "$bad_proto" ] && grep -qE '^SSLv3 +disabled' "$f"; echo $?)" \
        "$(grep -E '^(SSLv2|SSLv3|TLSv1\.[0-3]) +(enabled|disabled)' "$f" | awk '{ printf "%s %s; ", $1, $2 }')"
    check "tls $name: TLS 1.2 and 1.3 enabled" \
        "$(grep -qE '^TLSv1\.2 +enabled' "$f" && grep -qE '^TLSv1\.3 +enabled' "$f"; echo $?)" "as expected"
    local ciphers weak
    ciphers=$(awk '$1 == "Accepted" || $1 == "Preferred" { print $2, $3, $5 }' "$f")
    weak=$(echo "$ciphers" | awk '$1 == "TLSv1.2" && ($3 !~ /^ECDHE-/ || $3 !~ /(GCM|CHACHA20|CCM)/) { print }
                                  $3 ~ /(RC4|DES|NULL|EXP|ADH|AECDH|anon|MD5|CBC|-SHA$)/ || $2 < 128 { print }')
    check "tls $name: only AEAD ciphers with forward secrecy" "$([ -n "$ciphers" ] && [ -z "$weak" ]; echo $?)" \
        "$(echo "$ciphers" | awk '{ printf "%s ", $3 }')${weak:+; weak: $weak}"
    check "tls $name: no renegotiation" "$(grep -q 'Session renegotiation not supported' "$f"; echo $?)" \
        "$(grep -A1 'TLS renegotiation:' "$f" | tail -1)"
    local compression
    compression=$(grep -A1 'TLS Compression:' "$f" | tail -1)
    if echo "$compression" | grep -q 'Compression disabled'; then
        check "tls $name: no compression" 0 "$compression"
    elif echo "$compression" | grep -q 'does not support compression'; then
        # sslscan's OpenSSL cannot offer compression: testssl.sh's own sockets decide below.
        echo "INFO  tls $name: sslscan cannot test compression ($compression); see testssl.sh"
    else
        check "tls $name: no compression" 1 "$compression"
    fi
    local heartbleed
    heartbleed=$(grep -i 'to heartbleed' "$f" || true)
    check "tls $name: not vulnerable to Heartbleed" \
        "$([ -n "$heartbleed" ] && ! echo "$heartbleed" | grep -qvi 'not vulnerable'; echo $?)" \
        "$(echo "$heartbleed" | tr '\n' ';')"
}
scan default 127.0.0.1
scan demo-host myblog.devops.cn

if [ "$TESTSSL" = 1 ] && [ "$QUICK" = 0 ]; then
    f="$OUT/testssl.txt"
    testssl --quiet --color 0 --warnings off -C -R -H "127.0.0.1:$HTTPS" >"$f" 2>&1 || true
    check "tls testssl: no TLS compression (CRIME)" \
        "$(grep -E '^ *CRIME' "$f" | grep -q 'not vulnerable'; echo $?)" "$(grep -E '^ *CRIME' "$f" | tr -s ' ')"
    check "tls testssl: no client-initiated renegotiation" \
        "$(grep -E 'Client-Initiated Renegotiation' "$f" | grep -q 'not vulnerable'; echo $?)" \
        "$(grep -E 'Client-Initiated Renegotiation' "$f" | tr -s ' ')"
    check "tls testssl: not vulnerable to Heartbleed" \
        "$(grep -E '^ *Heartbleed' "$f" | grep -q 'not vulnerable'; echo $?)" "$(grep -E '^ *Heartbleed' "$f" | tr -s ' ')"
fi

code=$(normal_request)
check "still serving at the end" "$([ "$code" = 200 ]; echo $?)" "GET -> $code"
if kill -0 "$FERRY" 2>/dev/null; then alive=0; else alive=1; fi
check "Ferry still running" "$alive" "pid $FERRY"

echo
echo "Summary ($(date -u +%FT%TZ), $CONNECTIONS connections per slowhttptest run):"
printf '  %s\n' "${RESULTS[@]}"
if [ "$KEEP" = 1 ]; then
    echo "Ferry left running (--keep): pid $FERRY"
    PIDS=()
fi
if [ "$FAILED" != 0 ]; then
    echo "FAILED: at least one check did not pass; reports in $OUT"
    exit 1
fi
echo "All checks passed; reports in $OUT"
