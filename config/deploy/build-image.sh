#!/usr/bin/env bash
# Builds Ferry's container image without a container engine and without a registry: the base is a Debian
# bookworm root made with debootstrap from Debian's mirrors, the result an OCI image tarball (with a docker-save
# manifest.json too) that `skopeo copy oci-archive:`, `docker load`, `podman load` and `ctr images import` take.
# The image config/deploy/Containerfile describes (which remains for machines with a container engine and Docker
# Hub), on a Debian base with a jlinked Java 17 instead of eclipse-temurin:17-jre.
#
#   config/deploy/build-image.sh [--output PATH] [--tag NAME:TAG] [--verify] [--refresh]
#   config/deploy/build-image.sh --verify-only [--output PATH]
#
# Run from the repository root, as root (debootstrap, chroot, file capabilities), on linux/amd64. Writes
# lb-control/target/ferry-image.tar. Builds lb-control/target/ferry.jar first if it is missing (not if it is
# stale: run Maven yourself after a change). docs/deploy.md explains it all.
#
# Two layers: the base (Debian minbase, iproute2, a jlinked Java 17 runtime in /opt/java/openjdk whose java
# binary has cap_net_bind_service=+ep, user 10001) and the jar (/opt/ferry/ferry.jar).
#
# Cached under $FERRY_IMAGE_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/ferry-image): the debootstrap root,
# the base layer (keyed by everything that goes into it) and jdeps' answer per jar; a warm build only makes the
# jar's layer. --refresh rebuilds the root and the base from the mirrors (to pick up Debian's security updates).
#
# Environment:
#   FERRY_IMAGE_CACHE         the cache directory (above)
#   FERRY_DEBIAN_MIRROR       default http://deb.debian.org/debian
#   FERRY_DEBIAN_SECURITY     default http://deb.debian.org/debian-security
#   SOURCE_DATE_EPOCH         the image's creation time and the jar layer's mtimes (default: the last commit's)
#   MVN_ARGS                  extra Maven arguments when the jar is built (e.g. -o)
# shellcheck disable=SC2012 # ls -t on the cache's own file names, to keep the newest
set -euo pipefail

SUITE=bookworm
ARCH=amd64
# Bump when the way the base layer is made changes outside image/provision.sh (it is part of the cache key).
BASE_FORMAT=1
# Loaded by reflection or service lookup, so jdeps cannot see them: JMX beans, TLS with EC keys (the API server's
# and Ingress certificates), java.util.logging (the JDK HTTP client's logger).
EXTRA_MODULES=(java.management jdk.crypto.ec java.logging)

OUTPUT=lb-control/target/ferry-image.tar
TAG=ferry:0.1.0
VERIFY=0
VERIFY_ONLY=0
REFRESH=0

usage() { sed -n '2,/^set -euo/{/^# shellcheck/d;/^#/s/^# \{0,1\}//p}' "$0"; }
die() { printf 'build-image.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '==> [%3ss] %s\n' "$SECONDS" "$*" >&2; }

while (($#)); do
    case $1 in
        --output) OUTPUT=${2:?--output PATH}; shift 2 ;;
        --output=*) OUTPUT=${1#*=}; shift ;;
        --tag) TAG=${2:?--tag NAME:TAG}; shift 2 ;;
        --tag=*) TAG=${1#*=}; shift ;;
        --verify) VERIFY=1; shift ;;
        --verify-only) VERIFY_ONLY=1; shift ;;
        --refresh) REFRESH=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

[[ -f pom.xml && -f config/deploy/Containerfile ]] || die "run from the repository root"
HERE=config/deploy/image
VERIFY_SH=$HERE/verify.sh

if ((VERIFY_ONLY)); then
    exec "$VERIFY_SH" "$OUTPUT"
fi

[[ $EUID -eq 0 ]] || die "run as root: debootstrap, chroot and setcap need it"
[[ $(uname -m) == x86_64 ]] || die "builds linux/amd64 images on x86_64 only"
[[ $TAG == *:* ]] || die "--tag $TAG: want NAME:TAG"

for tool in python3 tar unshare chroot sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
if ! command -v debootstrap >/dev/null; then
    step "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
JDEPS=${JAVA_HOME:+$JAVA_HOME/bin/}jdeps
command -v "$JDEPS" >/dev/null || JDEPS=jdeps
command -v "$JDEPS" >/dev/null || die "jdeps is missing (a JDK, 17 or later, as for Maven)"

MIRROR=${FERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${FERRY_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
CACHE=${FERRY_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-image}
mkdir -p "$CACHE" "$(dirname "$OUTPUT")"
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE"

# Everything temporary lives in the cache's file system (it must keep security.capability xattrs and device
# nodes). Mounts are only ever made in private mount namespaces (unshare --mount): they end with the command,
# so removing the work directory cannot reach into /dev or /proc; the check below is for the impossible case.
WORK=$(mktemp -d "$CACHE/work.XXXXXX")
cleanup() {
    if grep -qF " $WORK" /proc/self/mountinfo; then
        printf 'build-image.sh: %s still has mounts; not removing it\n' "$WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Runs a command inside ROOT with /proc, /dev and /sys mounted, in a private mount namespace.
in_root() {
    local root=$1; shift
    # shellcheck disable=SC2016 # expanded by the inner bash
    unshare --mount --propagation private --fork -- bash -c '
        set -e
        root=$1; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount -t sysfs -o ro sysfs "$root/sys"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root "$@"' bash "$root" "$@"
}

# A layer tar of DIR's entries on stdout: names without ./, sorted, numeric owners, no atime/ctime, fixed pax
# header names (GNU tar puts its pid in them otherwise), and the security.capability xattr as a
# SCHILY.xattr.security.capability pax header (what containerd, Docker and podman restore on unpack).
layer_tar() {
    local dir=$1; shift
    local entries
    mapfile -t entries < <(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
    LC_ALL=C tar -C "$dir" --create --file - --format=posix \
        --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
        --sort=name --numeric-owner --xattrs --xattrs-include='security.capability' \
        "$@" -- "${entries[@]}"
}

# ------------------------------------------------------------------------------------------------- 1. the jar
JAR=lb-control/target/ferry.jar
if [[ ! -f $JAR ]]; then
    step "building $JAR (mvn -B -q -DskipTests package ${MVN_ARGS:-})"
    # shellcheck disable=SC2086
    mvn -B -q -DskipTests ${MVN_ARGS:-} package
fi
[[ -f $JAR ]] || die "$JAR was not built"
JAR_SHA=$(sha256sum "$JAR" | cut -c1-64)

# The Java modules: what jdeps sees in the jar, plus EXTRA_MODULES. jdeps takes ~40 s; cached per jar.
MODULES_FILE=$CACHE/jdeps-$JAR_SHA.txt
if [[ ! -s $MODULES_FILE ]]; then
    step "jdeps $JAR"
    "$JDEPS" --print-module-deps --ignore-missing-deps --multi-release 17 "$JAR" > "$WORK/jdeps.txt"
    mv "$WORK/jdeps.txt" "$MODULES_FILE"
    # keep the ten most recent answers
    ls -1t "$CACHE"/jdeps-*.txt | tail -n +11 | xargs -r rm -f
fi
MODULES=$( { tr ',' '\n' < "$MODULES_FILE"; printf '%s\n' "${EXTRA_MODULES[@]}"; } | tr -d ' \r' | grep . \
           | LC_ALL=C sort -u | paste -sd, )
step "Java modules: $MODULES"

# --------------------------------------------------------------------------------- 2. the debootstrap root
MIRROR_KEY=$(printf '%s\n' "$SUITE" "$ARCH" "$MIRROR" | sha256sum | cut -c1-12)
MINBASE=$CACHE/minbase-$SUITE-$ARCH-$MIRROR_KEY.tar.gz
if ((REFRESH)) || [[ ! -f $MINBASE ]]; then
    step "debootstrap --variant=minbase $SUITE from $MIRROR"
    mkdir "$WORK/minbase"
    unshare --mount --propagation private --fork -- \
        debootstrap --variant=minbase --arch="$ARCH" --components=main "$SUITE" "$WORK/minbase" "$MIRROR" \
        > "$WORK/debootstrap.log" 2>&1 || { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -f "$WORK/minbase"/var/cache/apt/archives/*.deb     # debootstrap's downloads
    tar -C "$WORK/minbase" --create --numeric-owner --xattrs --xattrs-include='*' --gzip --file "$MINBASE.part" .
    mv "$MINBASE.part" "$MINBASE"
    rm -rf "$WORK/minbase"
    ls -1t "$CACHE"/minbase-*.tar.gz | tail -n +3 | xargs -r rm -f
fi

# ------------------------------------------------------------------------------------------ 3. the base layer
BASE_KEY=$( { echo "format $BASE_FORMAT"; echo "modules $MODULES"; echo "mirrors $MIRROR $SECURITY";
              echo "minbase $(basename "$MINBASE") $(stat -c %Y "$MINBASE")"; cat "$HERE/provision.sh"; } \
            | sha256sum | cut -c1-16)
BASE=$CACHE/base-$BASE_KEY.tar.gz
BASE_META=$CACHE/base-$BASE_KEY.json
if ((REFRESH)) || [[ ! -f $BASE || ! -f $BASE_META ]]; then
    step "making the base layer (apt-get in the root: iproute2, openjdk-17-jdk-headless for jlink)"
    ROOT=$WORK/rootfs
    mkdir "$ROOT"
    tar -C "$ROOT" --extract --numeric-owner --preserve-permissions --xattrs --xattrs-include='*' --gzip \
        --file "$MINBASE"
    rm -f "$ROOT/etc/resolv.conf" "$ROOT/etc/hostname"
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf"     # for apt, removed below
    cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF
    install -m 0755 "$HERE/provision.sh" "$ROOT/tmp/ferry-provision.sh"
    in_root "$ROOT" FERRY_JAVA_MODULES="$MODULES" /bin/bash /tmp/ferry-provision.sh > "$WORK/provision.log" 2>&1 \
        || { tail -40 "$WORK/provision.log" >&2; die "provisioning the base failed (log above)"; }
    mv "$ROOT/tmp/ferry-packages.txt" "$WORK/packages.txt"
    JAVA_VERSION=$(sed -n 's/^JAVA_VERSION="\(.*\)"$/\1/p' "$ROOT/opt/java/openjdk/release")
    # What a container runtime provides, or what would leak the build machine into the image.
    rm -f "$ROOT/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
    find "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/tmp" "$ROOT/var/tmp" "$ROOT/run" -mindepth 1 -delete
    chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"

    step "writing the base layer"
    layer_tar "$ROOT" | python3 "$HERE/oci.py" layer "$WORK/base.tar.gz" > "$WORK/base.layer.json"
    python3 "$HERE/oci.py" capability "$WORK/base.tar.gz" opt/java/openjdk/bin/java >&2
    python3 - "$WORK/base.layer.json" "$WORK/packages.txt" "$JAVA_VERSION" "$MODULES" "$SUITE" > "$WORK/base.json" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
meta.update(packages=open(sys.argv[2]).read().split("\n")[:-1], java_version=sys.argv[3],
            java_modules=sys.argv[4].split(","), suite=sys.argv[5])
json.dump(meta, sys.stdout, indent=1)
EOF
    mv "$WORK/base.tar.gz" "$BASE"
    mv "$WORK/base.json" "$BASE_META"
    rm -rf "$ROOT"
    # keep the two most recent bases
    ls -1t "$CACHE"/base-*.tar.gz | tail -n +3 | while read -r old; do rm -f "$old" "${old%.tar.gz}.json"; done
else
    step "base layer from the cache: $BASE"
fi
read -r JAVA_VERSION PACKAGES < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]));
print(m["java_version"], len(m["packages"]))' "$BASE_META")
python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["packages"]))' "$BASE_META" \
    > "${OUTPUT%.tar}.packages.txt"

# -------------------------------------------------------------------------------------------- 4. the jar layer
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
step "writing the jar layer (mtime $(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ))"
mkdir -p "$WORK/app/opt/ferry"
install -m 0644 "$JAR" "$WORK/app/opt/ferry/ferry.jar"
chmod 0755 "$WORK/app/opt" "$WORK/app/opt/ferry"
layer_tar "$WORK/app" --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" \
    | python3 "$HERE/oci.py" layer "$WORK/app.tar.gz" > "$WORK/app.json"

# ------------------------------------------------------------------------------------------- 5. the image
REVISION=$(git rev-parse HEAD 2>/dev/null || true)
if [[ -n $REVISION ]] && ! git diff --quiet HEAD -- 2>/dev/null; then REVISION+=-dirty; fi
step "writing $OUTPUT"
python3 "$HERE/oci.py" assemble --output "$OUTPUT" --tag "$TAG" --created "$SOURCE_DATE_EPOCH" \
    ${REVISION:+--revision "$REVISION"} --java-version "$JAVA_VERSION" \
    --layer "$BASE" --layer-meta "$BASE_META" \
    --layer-created-by "debootstrap --variant=minbase $SUITE; config/deploy/image/provision.sh: iproute2, jlinked Java $JAVA_VERSION (cap_net_bind_service=+ep), user 10001" \
    --layer "$WORK/app.tar.gz" --layer-meta "$WORK/app.json" \
    --layer-created-by "COPY lb-control/target/ferry.jar /opt/ferry/ferry.jar" \
    > "$WORK/image.json"

read -r MANIFEST_DIGEST CONFIG_DIGEST SIZE NAME < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]));
print(m["manifest_digest"], m["config_digest"], m["size"], m["name"])' "$WORK/image.json")
step "done"
cat <<EOF
image:    $OUTPUT ($NAME)
size:     $SIZE bytes ($(numfmt --to=iec-i --suffix=B "$SIZE")); layers: base $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size"])' "$BASE_META") B, jar $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size"])' "$WORK/app.json") B (gzip)
digest:   $MANIFEST_DIGEST (manifest; what a registry shows)
image id: $CONFIG_DIGEST (config; what docker images shows)
java:     $JAVA_VERSION, modules $MODULES
packages: $PACKAGES Debian packages, listed in ${OUTPUT%.tar}.packages.txt
EOF

if ((VERIFY)); then
    "$VERIFY_SH" "$OUTPUT"
fi
