#!/bin/bash
# Runs INSIDE the chroot of a fresh `debootstrap --variant=minbase` root (build-image.sh copies it to /tmp and runs
# it with chroot, /proc and /dev mounted): turns it into the base layer of Ferry's image, doing what
# config/deploy/Containerfile does on eclipse-temurin:17-jre. Keep the two in step.
#
# Input (environment): FERRY_JAVA_MODULES, the comma-separated modules of the Java runtime (jdeps of ferry.jar
# plus what it loads by reflection or service lookup; build-image.sh computes it).
#
# The Java runtime is jlinked from Debian's own openjdk-17-jdk-headless, installed here and purged again, so that
# it comes from the same archive as the rest of the root (and gets its security updates) and not from whatever
# JDK the build machine has. The runtime lives in /opt/java/openjdk, where eclipse-temurin has its own.
set -euo pipefail
set -x

: "${FERRY_JAVA_MODULES:?}"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
JAVA_HOME=/opt/java/openjdk

# Slim, as Debian's own container images: never unpack documentation, man pages or translations (copyright
# files are kept), and drop those debootstrap already unpacked.
cat > /etc/dpkg/dpkg.cfg.d/ferry-slim <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/groff/* /usr/share/info/* /usr/share/lintian/* /usr/share/linda/*
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# openjdk's postinst registers its man pages as update-alternatives links, which fails without this directory.
mkdir -p /usr/share/man/man1

# No daemon starts from a package's postinst in a chroot.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d

# /etc/apt/sources.list was written by build-image.sh (the suite, its -updates and its security suite).
apt-get update
apt-get -y -o Dpkg::Options::=--force-confold upgrade

# iproute2: the DaemonSet's init container runs `ip route replace local <service-cidr> dev lo` with this image.
# libcap2-bin: setcap, for the file capability below. It stays: iproute2 depends on it (purging it would take
# iproute2 along).
# openjdk-17-jdk-headless: only for jlink (and its jmods), then purged with all it pulled in (ca-certificates and
# openssl too: Java has its own trust store, and Ferry trusts the API server by the service account's CA).
apt-get install -y --no-install-recommends iproute2 libcap2-bin openjdk-17-jdk-headless

# --strip-java-debug-attributes, not --strip-debug: that also runs objcopy (binutils) on the native libraries, and
# gains nothing on Debian's, whose debug symbols are already in separate -dbg packages.
jlink --add-modules "$FERRY_JAVA_MODULES" \
      --strip-java-debug-attributes --no-header-files --no-man-pages --compress=2 \
      --output "$JAVA_HOME"

# Ferry runs as an unprivileged user, but ClusterIP and NodePort Services listen on ports below 1024, which
# takes CAP_NET_BIND_SERVICE. Kubernetes cannot give a non-root process a capability directly (no ambient
# capabilities), so the java binary carries it as a file capability (the DaemonSet adds NET_BIND_SERVICE to the
# bounding set and allows privilege escalation, without which the kernel ignores file capabilities). A binary
# with file capabilities runs in glibc's secure mode, where $ORIGIN in the launcher's library path is not
# trusted: the runtime's library directories are registered with ldconfig instead.
setcap cap_net_bind_service=+ep "$JAVA_HOME/bin/java"
printf '%s\n' "$JAVA_HOME/lib" "$JAVA_HOME/lib/server" > /etc/ld.so.conf.d/ferry-java.conf

apt-get purge -y --auto-remove openjdk-17-jdk-headless openjdk-17-jre-headless ca-certificates-java java-common \
        ca-certificates openssl
ldconfig
ip -V
[ -z "$(getcap /usr/bin/ip)" ]     # iproute2's optional capabilities on ip (debconf iproute2/setcaps) stay off
ldconfig -p | grep -q "libjli.so .*=> $JAVA_HOME/lib/libjli.so"
ldconfig -p | grep -q "libjvm.so .*=> $JAVA_HOME/lib/server/libjvm.so"

groupadd --system --gid 10001 ferry
useradd --system --uid 10001 --gid ferry --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ferry

"$JAVA_HOME/bin/java" -version

# What the root is made of, for the build's record (build-image.sh reads it, then removes it).
dpkg-query -W -f='${binary:Package} ${Version}\n' | LC_ALL=C sort > /tmp/ferry-packages.txt

# Leave nothing of the build behind: apt's lists and caches, logs, backups of dpkg's and debconf's databases.
rm -f /usr/sbin/policy-rc.d
apt-get clean
rm -rf /usr/share/man/* /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old \
       /var/cache/ldconfig/aux-cache /root/.cache /root/.java
find /var/log -type f -delete
