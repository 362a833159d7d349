#!/usr/bin/env bash
# Checks Ferry's image tarball the way a container runtime would run it, without one:
#
#   config/deploy/image/verify.sh [IMAGE.tar]        (default lb-control/target/ferry-image.tar; as root)
#
# 1. The tarball: every blob's sha256 and size, each layer's diff_id (sha256 of the uncompressed tar),
#    manifest.json against index.json, the config against the Containerfile's (image/oci.py check).
# 2. The layers unpacked in order into a temporary root, as containerd does (xattrs included), and
#    cap_net_bind_service=ep on the java binary (getcap).
# 3. In private mount, pid, network, UTS and IPC namespaces (the network one has only loopback: no traffic leaves,
#    and the demo's ports cannot clash with anything on the machine), with the root read-only, /tmp a 64 MiB tmpfs
#    and a minimal /dev, as the DaemonSet runs it (readOnlyRootFilesystem, /tmp an emptyDir):
#    - `ip -V`, and the init container's command, with only CAP_NET_ADMIN;
#    - as the image's user (10001:10001) and environment: `java -version`; the image's entrypoint and default
#      command (--help); then the entrypoint with --demo until /readyz answers 200, with a Service on port 80
#      (which only the file capability allows), the Ingress over HTTP and HTTPS (HTTP/2), every listener bound;
#      then SIGTERM.
set -euo pipefail

die() { printf 'verify.sh: FAILED: %s\n' "$*" >&2; exit 1; }
ok() { printf '  ok  %s\n' "$*"; }

# --------------------------------------------------------------------------- inside the namespaces (step 3)
if [[ ${1:-} == --in-namespaces ]]; then
    work=$2
    root=$work/rootfs
    meta=$work/image
    mapfile -d '' ENV < "$meta/env"
    mapfile -d '' ENTRYPOINT < "$meta/entrypoint"
    mapfile -d '' COMMAND < "$meta/command"
    USERSPEC=$(< "$meta/user")

    hostname ferry-verify
    ip link set lo up
    mount --bind "$root" "$root"
    mount -o remount,bind,ro "$root"
    mount -t proc proc "$root/proc"
    mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
    mount -t tmpfs -o mode=755,size=64k tmpfs "$root/dev"
    for node in null zero full random urandom tty; do
        touch "$root/dev/$node"
        mount --bind "/dev/$node" "$root/dev/$node"
    done
    mkdir "$root/dev/shm" "$root/dev/pts"
    mount -t tmpfs -o mode=1777,size=1m tmpfs "$root/dev/shm"
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
    ok "namespaces: network with loopback only, root read-only, /tmp tmpfs 64 MiB"

    # What the image runs: its Env, its User, with the root as /.
    as_image() { env -i "${ENV[@]}" chroot --userspec="$USERSPEC" "$root" "$@"; }

    out=$(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ip -V) || die "ip -V: $out"
    ok "ip -V: $out"

    # The init container service-cidr-route: root, CAP_NET_ADMIN only, no privilege escalation; twice (idempotent).
    # shellcheck disable=SC2016,SC2054 # the init container's own quoting; setpriv's comma lists
    init=(setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,+net_admin --
          sh -c 'ip route replace local "$SERVICE_CIDR" dev lo && ip route show table local type local dev lo')
    for _ in 1 2; do
        out=$(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SERVICE_CIDR=10.96.0.0/12 "${init[@]}" 2>&1) \
            || die "the init container's command: $out"
    done
    grep -q '^local 10.96.0.0/12 ' <<< "$out" || die "no local route for 10.96.0.0/12: $out"
    ok "init container command (CAP_NET_ADMIN only, run twice): $(grep '^local 10.96' <<< "$out")"

    out=$(as_image java -version 2>&1) || die "java -version as $USERSPEC: $out"
    ok "java -version as $USERSPEC: $(head -1 <<< "$out")"

    out=$(as_image "${COMMAND[@]}" 2>&1) || die "${COMMAND[*]} as $USERSPEC exited $?: $(tail -5 <<< "$out")"
    grep -q '^Usage: ferry' <<< "$out" || die "${COMMAND[*]} did not print the usage: $(head -5 <<< "$out")"
    ok "entrypoint + cmd as $USERSPEC (${COMMAND[*]}): exit 0, $(head -1 <<< "$out" | cut -c1-60)..."

    [[ $(< /proc/sys/net/ipv4/ip_unprivileged_port_start) -gt 80 ]] \
        || die "ip_unprivileged_port_start is below 80 here: the port-80 check would prove nothing"
    log=$work/demo.log
    # A simple command, not the function: $! is then java's pid (env and chroot exec it).
    env -i "${ENV[@]}" chroot --userspec="$USERSPEC" "$root" "${ENTRYPOINT[@]}" --demo --shutdown-grace-period=2s \
        > "$log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 90))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:10256/readyz || true) == 200 ]]; do
        kill -0 "$pid" 2>/dev/null || { tail -30 "$log" >&2; die "ferry --demo exited before it was ready"; }
        ((SECONDS < deadline)) || { tail -30 "$log" >&2; die "/readyz not 200 within 90 s"; }
        sleep 0.5
    done
    ok "--demo as $USERSPEC: /readyz 200 after $((SECONDS - deadline + 90)) s"

    # Netty's native transport and BoringSSL are unpacked to /tmp and loaded from there (secure mode, read-only /).
    transport=$(grep -o 'Transport: [A-Z_]*' "$log" | head -1)
    tls=$(grep -o 'TLS by [^,]*' "$log" | head -1)
    # io_uring where the namespaces allow it (no seccomp filter here), else epoll; never NIO.
    [[ $transport == 'Transport: IO_URING' || $transport == 'Transport: EPOLL' ]] || die "not native: '$transport'"
    [[ $tls == 'TLS by OpenSSL (BoringSSL)' ]] || die "not on BoringSSL: '$tls'"
    ok "native libraries from /tmp: $transport, $tls"

    status=/proc/$pid/status
    uid=$(awk '/^Uid:/ {print $2 ":" $3}' "$status")
    capeff=$(awk '/^CapEff:/ {print $2}' "$status")
    [[ $uid == 10001:10001 ]] || die "the demo runs as uid $uid"
    (( (16#$capeff & 1 << 10) != 0 )) || die "the demo's CapEff $capeff lacks cap_net_bind_service"
    ok "process: uid $uid, CapEff $capeff (cap_net_bind_service from the file capability, nothing else)"

    body=$(curl -sS --max-time 5 http://127.99.174.93/blog/index/) || die "Service myblog on port 80: curl failed"
    grep -q 'served by' <<< "$body" || die "Service myblog on port 80: $body"
    ok "Service myblog, ClusterIP port 80 (below ip_unprivileged_port_start): $(grep 'served by' <<< "$body")"

    body=$(curl -sS --max-time 5 -H 'Host: myblog.devops.cn' http://127.0.0.1:8080/blog/index/) \
        || die "Ingress over HTTP: curl failed"
    grep -q 'served by' <<< "$body" || die "Ingress over HTTP: $body"
    ok "Ingress over HTTP, port 8080: $(grep 'served by' <<< "$body")"

    out=$(curl -sSk --max-time 5 --http2 -w '\nHTTP/%{http_version} %{http_code}' \
          --resolve myblog.devops.cn:8443:127.0.0.1 https://myblog.devops.cn:8443/blog/index/) \
        || die "Ingress over HTTPS: curl failed"
    grep -q '^HTTP/2 200$' <<< "$out" || die "Ingress over HTTPS: $out"
    ok "Ingress over HTTPS, port 8443: $(tail -1 <<< "$out"), $(grep 'served by' <<< "$out")"

    curl -sS --max-time 5 http://127.0.0.1:10256/config_dump > "$work/config_dump.json" || die "/config_dump"
    python3 - "$work/config_dump.json" <<'EOF' || die "/config_dump: a listener is not bound"
import json, sys
listeners = json.load(open(sys.argv[1]))["listeners"]
bad = [l for l in listeners if l.get("state") != "bound"]
print(f"  ok  /config_dump: {len(listeners)} listeners, {len(listeners) - len(bad)} bound")
sys.exit(1 if bad or not listeners else 0)
EOF

    kill -TERM "$pid"
    deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || die "still running 20 s after SIGTERM"
        sleep 0.2
    done
    rc=0; wait "$pid" || rc=$?
    ok "SIGTERM: exited with $rc"
    exit 0
fi

# ------------------------------------------------------------------------------------------- on the host
IMAGE=${1:-lb-control/target/ferry-image.tar}
[[ -f $IMAGE ]] || die "$IMAGE: no such file (build it with config/deploy/build-image.sh)"
[[ $EUID -eq 0 ]] || die "run as root (chroot, namespaces, xattrs)"
for tool in python3 tar unshare chroot curl getcap setpriv; do
    command -v "$tool" >/dev/null || die "$tool is missing${tool/getcap/ (apt-get install libcap2-bin)}"
done
HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/$(basename "$0")

# Not tmpfs-only xattrs: the work directory is on the same file system as /var/tmp.
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ferry-verify.XXXXXX")
cleanup() {
    if grep -qF " $WORK" /proc/self/mountinfo; then
        printf 'verify.sh: %s still has mounts; not removing it\n' "$WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

start=$SECONDS
echo "verifying $IMAGE ($(stat -c %s "$IMAGE") bytes)"
python3 "$HERE/oci.py" check "$IMAGE" "$WORK/image" || die "the tarball is not a valid image"

mkdir "$WORK/rootfs"
n=0
while read -r layer; do
    tar -C "$WORK/rootfs" --extract --gzip --file "$layer" --numeric-owner --preserve-permissions \
        --xattrs --xattrs-include='security.capability'
    n=$((n + 1))
done < "$WORK/image/layers"
ok "unpacked $n layers in order: $(du -sh "$WORK/rootfs" | cut -f1) in all"
[[ -f $WORK/rootfs/opt/ferry/ferry.jar ]] || die "/opt/ferry/ferry.jar is missing"

cap=$(getcap "$WORK/rootfs/opt/java/openjdk/bin/java")
[[ $cap == *cap_net_bind_service=ep* ]] || die "getcap /opt/java/openjdk/bin/java: '$cap'"
ok "getcap: ${cap#"$WORK/rootfs"}"

unshare --mount --propagation private --pid --net --uts --ipc --fork --kill-child --mount-proc \
    "$SELF" --in-namespaces "$WORK" || die "see above"
echo "verified $IMAGE in $((SECONDS - start)) s"
