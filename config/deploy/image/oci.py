#!/usr/bin/env python3
"""Writes and checks Ferry's image tarball, for config/deploy/build-image.sh and config/deploy/image/verify.sh.

The tarball is an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries a docker-save
style manifest.json pointing at the same blobs, as `docker save` writes since Docker 25: `docker load`,
`podman load`, `ctr images import` and `skopeo copy oci-archive:...` all accept it.

  oci.py layer OUT.tar.gz           reads an uncompressed layer tar on stdin, gzips it (no name, mtime 0) to
                                    OUT.tar.gz, prints {"digest", "diff_id", "size"} as JSON
  oci.py capability LAYER.tar.gz PATH
                                    checks that PATH in the layer carries SCHILY.xattr.security.capability with
                                    cap_net_bind_service effective and permitted; prints it
  oci.py assemble ...               writes the image tarball (see --help)
  oci.py check IMAGE.tar DIR        checks digests, sizes, diff_ids, manifest.json against index.json and the
                                    config against the Containerfile's; unpacks the blobs into DIR and writes
                                    DIR/layers (paths, in order), DIR/env and DIR/command (NUL-separated)

Standard library only.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import tarfile
import time

CHUNK = 1 << 20

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

JAVA_HOME = "/opt/java/openjdk"
JAR = "/opt/ferry/ferry.jar"

# What config/deploy/Containerfile's image runs, and as whom. The Env is eclipse-temurin's, with Debian's
# built-in C.UTF-8 locale in place of en_US.UTF-8 (which would take the locales package).
CONTAINER_CONFIG = {
    "User": "10001:10001",
    "ExposedPorts": {"8080/tcp": {}, "8443/tcp": {}, "10256/tcp": {}},
    "Env": [
        f"PATH={JAVA_HOME}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"JAVA_HOME={JAVA_HOME}",
        "LANG=C.UTF-8",
    ],
    "Entrypoint": ["java", "-XX:MaxRAMPercentage=40", "-XX:+ExitOnOutOfMemoryError", "-jar", JAR],
    "Cmd": ["--help"],
    "WorkingDir": "/",
}

# linux/capability.h: VFS_CAP_REVISION_2/3, VFS_CAP_FLAGS_EFFECTIVE, CAP_NET_BIND_SERVICE
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_REVISION_3 = 0x03000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
CAP_NET_BIND_SERVICE = 10


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def fail(msg):
    print(f"oci.py: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------------- layer

class _Counting(io.RawIOBase):
    """A write-only file that hashes and counts what passes through it to `out`."""

    def __init__(self, out):
        self.out, self.hash, self.size = out, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.hash.update(b)
        self.size += len(b)
        self.out.write(b)
        return len(b)


def cmd_layer(args):
    diff = hashlib.sha256()
    tmp = args.out + ".part"
    with open(tmp, "wb") as raw:
        counting = _Counting(raw)
        # filename="" and mtime=0: the same tar gives the same gzip, hence the same digest.
        with gzip.GzipFile(filename="", mode="wb", fileobj=counting, mtime=0, compresslevel=6) as gz:
            for chunk in iter(lambda: sys.stdin.buffer.read(CHUNK), b""):
                diff.update(chunk)
                gz.write(chunk)
    os.replace(tmp, args.out)
    json.dump({"digest": "sha256:" + counting.hash.hexdigest(), "diff_id": "sha256:" + diff.hexdigest(),
               "size": counting.size}, sys.stdout)
    print()


# ---------------------------------------------------------------------------------------------- capability

def decode_capability(value):
    """Decodes a security.capability xattr (struct vfs_cap_data); returns (effective, permitted mask, text)."""
    if len(value) < 12:
        raise ValueError(f"{len(value)} bytes is too short for vfs_cap_data")
    magic, perm0, _inh0 = struct.unpack_from("<III", value, 0)
    revision = magic & VFS_CAP_REVISION_MASK
    if revision == VFS_CAP_REVISION_2 and len(value) == 20 or revision == VFS_CAP_REVISION_3 and len(value) == 24:
        perm1 = struct.unpack_from("<I", value, 12)[0]
    else:
        raise ValueError(f"unknown vfs_cap_data revision {magic:#x} ({len(value)} bytes)")
    permitted = perm0 | perm1 << 32
    effective = bool(magic & VFS_CAP_FLAGS_EFFECTIVE)
    return effective, permitted, f"revision {revision >> 24}, permitted {permitted:#x}, effective {effective}"


def xattr_from_pax(tarinfo, name):
    value = tarinfo.pax_headers.get("SCHILY.xattr." + name)
    if value is None:
        return None
    # tarfile decodes pax values as UTF-8 with surrogateescape (or as the archive's hdrcharset=BINARY):
    # this gives back the bytes GNU tar wrote.
    return value.encode("utf-8", "surrogateescape")


def member_name(name):
    """A path as it appears in a layer: relative, without ./ (usr/bin/x for /usr/bin/x and ./usr/bin/x)."""
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def cmd_capability(args):
    want = member_name(args.path)
    with tarfile.open(args.layer, "r|gz") as tar:
        for member in tar:
            if member_name(member.name) != want:
                continue
            value = xattr_from_pax(member, "security.capability")
            if value is None:
                fail(f"{args.path} in {args.layer} has no SCHILY.xattr.security.capability pax header")
            effective, permitted, text = decode_capability(value)
            if not effective or not permitted & (1 << CAP_NET_BIND_SERVICE):
                fail(f"{args.path}: the capability is not cap_net_bind_service=+ep ({text})")
            print(f"{member.name}: SCHILY.xattr.security.capability = cap_net_bind_service=+ep ({text})")
            return
    fail(f"{args.path} is not in {args.layer}")


# ------------------------------------------------------------------------------------------------ assemble

def normalized_name(name):
    """ferry -> docker.io/library/ferry, me/ferry -> docker.io/me/ferry, registry.example:5000/ferry as it is."""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return name
    return "docker.io/" + (name if "/" in name else "library/" + name)


def cmd_assemble(args):
    if len(args.layer) != len(args.layer_meta) or len(args.layer) != len(args.layer_created_by):
        fail("every --layer needs its --layer-meta and --layer-created-by")
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(args.created))
    name, _, tag = args.tag.rpartition(":")
    if not name or "/" in tag:
        fail(f"--tag {args.tag}: want NAME:TAG")

    layers = []
    for path, meta_path in zip(args.layer, args.layer_meta):
        with open(meta_path) as f:
            meta = json.load(f)
        if sha256_file(path) != meta["digest"]:
            fail(f"{path} does not match the digest in {meta_path}")
        if os.path.getsize(path) != meta["size"]:
            fail(f"{path} does not match the size in {meta_path}")
        layers.append((path, meta))

    config_body = dict(CONTAINER_CONFIG)
    config_body["Env"] = list(CONTAINER_CONFIG["Env"])
    if args.java_version:
        config_body["Env"].append(f"JAVA_VERSION={args.java_version}")
    labels = {
        "org.opencontainers.image.title": "ferry",
        "org.opencontainers.image.description":
            "Ferry, a load-balancer data plane for Kubernetes nodes (Service proxy and Ingress controller)",
        "org.opencontainers.image.version": tag,
        "org.opencontainers.image.created": created,
    }
    if args.revision:
        labels["org.opencontainers.image.revision"] = args.revision
    config_body["Labels"] = labels

    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": config_body,
        "rootfs": {"type": "layers", "diff_ids": [meta["diff_id"] for _, meta in layers]},
        "history": [{"created": created, "created_by": by} for by in args.layer_created_by],
    }
    config_bytes = canonical(config)
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()

    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": MT_LAYER_GZIP, "digest": meta["digest"], "size": meta["size"]}
                   for _, meta in layers],
    }
    manifest_bytes = canonical(manifest)
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()

    # The image's name: Docker's convention for OCI layouts, which containerd's importer reads (a full
    # reference), and the tag alone as the OCI ref name (skopeo: oci-archive:FILE:TAG).
    full_name = normalized_name(name)
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST, "digest": manifest_digest, "size": len(manifest_bytes),
            "annotations": {"io.containerd.image.name": f"{full_name}:{tag}",
                            "org.opencontainers.image.ref.name": tag},
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }
    blob = lambda digest: "blobs/sha256/" + digest.split(":", 1)[1]
    docker_manifest = [{
        "Config": blob(config_digest),
        "RepoTags": [args.tag],
        "Layers": [blob(meta["digest"]) for _, meta in layers],
    }]

    entries = {  # archive name -> bytes or a file path
        "oci-layout": canonical({"imageLayoutVersion": "1.0.0"}),
        "index.json": canonical(index),
        "manifest.json": canonical(docker_manifest),
        blob(config_digest): config_bytes,
        blob(manifest_digest): manifest_bytes,
    }
    for path, meta in layers:
        entries[blob(meta["digest"])] = path

    tmp = args.output + ".part"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        def header(name, size, directory=False):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = args.created, 0, 0, "", ""
            if directory:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size, info.mode = size, 0o644
            return info

        tar.addfile(header("blobs", 0, directory=True))
        tar.addfile(header("blobs/sha256", 0, directory=True))
        for arcname in sorted(entries):
            content = entries[arcname]
            if isinstance(content, bytes):
                tar.addfile(header(arcname, len(content)), io.BytesIO(content))
            else:
                with open(content, "rb") as f:
                    tar.addfile(header(arcname, os.path.getsize(content)), f)
    os.replace(tmp, args.output)
    json.dump({"manifest_digest": manifest_digest, "config_digest": config_digest,
               "size": os.path.getsize(args.output), "tag": args.tag, "name": f"{full_name}:{tag}"},
              sys.stdout)
    print()


# --------------------------------------------------------------------------------------------------- check

def cmd_check(args):
    out = args.dir
    os.makedirs(out, exist_ok=True)
    blobs = {}   # digest -> path of the unpacked blob
    docs = {}    # oci-layout, index.json, manifest.json -> bytes
    with tarfile.open(args.image, "r:") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            if member.isdir():
                continue
            if not member.isfile():
                fail(f"{member.name}: not a regular file")
            if name in ("oci-layout", "index.json", "manifest.json", "repositories"):
                docs[name] = tar.extractfile(member).read()
            elif name.startswith("blobs/sha256/") and name.count("/") == 2:
                hexdigest = name.rsplit("/", 1)[1]
                path = os.path.join(out, "blob-" + hexdigest)
                h = hashlib.sha256()
                with tar.extractfile(member) as src, open(path, "wb") as dst:
                    for chunk in iter(lambda: src.read(CHUNK), b""):
                        h.update(chunk)
                        dst.write(chunk)
                if h.hexdigest() != hexdigest:
                    fail(f"{name}: its content hashes to sha256:{h.hexdigest()}")
                blobs["sha256:" + hexdigest] = path
            else:
                fail(f"{member.name}: unexpected in an OCI image layout")
    ok = []
    for name in ("oci-layout", "index.json", "manifest.json"):
        if name not in docs:
            fail(f"{name} is missing")
    if json.loads(docs["oci-layout"]).get("imageLayoutVersion") != "1.0.0":
        fail("oci-layout: imageLayoutVersion is not 1.0.0")

    def descriptor(d, media_type, what):
        if d.get("mediaType") != media_type:
            fail(f"{what}: mediaType {d.get('mediaType')}, want {media_type}")
        if d["digest"] not in blobs:
            fail(f"{what}: blob {d['digest']} is missing")
        if os.path.getsize(blobs[d["digest"]]) != d["size"]:
            fail(f"{what}: size {d['size']} but the blob has {os.path.getsize(blobs[d['digest']])} bytes")
        with open(blobs[d["digest"]], "rb") as f:
            return f.read() if media_type != MT_LAYER_GZIP else None

    index = json.loads(docs["index.json"])
    if index.get("schemaVersion") != 2 or len(index.get("manifests", [])) != 1:
        fail("index.json: want schemaVersion 2 and exactly one manifest")
    mdesc = index["manifests"][0]
    manifest = json.loads(descriptor(mdesc, MT_MANIFEST, "index.json manifest"))
    config = json.loads(descriptor(manifest["config"], MT_CONFIG, "manifest config"))
    ok.append(f"index.json -> manifest {mdesc['digest']} ({mdesc.get('annotations', {})})")

    diff_ids = config["rootfs"]["diff_ids"]
    if config["rootfs"].get("type") != "layers" or len(diff_ids) != len(manifest["layers"]):
        fail("config rootfs: diff_ids do not match the manifest's layers")
    layer_paths = []
    for i, (ldesc, diff_id) in enumerate(zip(manifest["layers"], diff_ids)):
        descriptor(ldesc, MT_LAYER_GZIP, f"layer {i}")
        h = hashlib.sha256()
        with gzip.open(blobs[ldesc["digest"]], "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
        if "sha256:" + h.hexdigest() != diff_id:
            fail(f"layer {i}: uncompressed sha256:{h.hexdigest()}, but the config's diff_id is {diff_id}")
        layer_paths.append(blobs[ldesc["digest"]])
        ok.append(f"layer {i}: {ldesc['digest']} ({ldesc['size']} bytes gzip), diff_id {diff_id}")

    docker = json.loads(docs["manifest.json"])
    if len(docker) != 1:
        fail("manifest.json: want exactly one image")
    d = docker[0]
    if d["Config"] != "blobs/sha256/" + manifest["config"]["digest"].split(":")[1]:
        fail("manifest.json: Config is not the OCI manifest's config")
    if d["Layers"] != ["blobs/sha256/" + l["digest"].split(":")[1] for l in manifest["layers"]]:
        fail("manifest.json: Layers are not the OCI manifest's layers")
    ok.append(f"manifest.json: {d['RepoTags']}, same config and layers as index.json")

    for key in ("architecture", "os"):
        want = {"architecture": "amd64", "os": "linux"}[key]
        if config.get(key) != want:
            fail(f"config {key}: {config.get(key)}, want {want}")
    c = config["config"]
    for key, want in CONTAINER_CONFIG.items():
        got = c.get(key)
        if key == "Env":
            missing = [e for e in want if e not in got]
            if missing:
                fail(f"config Env lacks {missing}")
        elif got != want:
            fail(f"config {key}: {got!r}, want {want!r}")
    ok.append(f"config: amd64/linux, User {c['User']}, Entrypoint {c['Entrypoint']}, Cmd {c['Cmd']}, "
              f"ExposedPorts {sorted(c['ExposedPorts'])}, WorkingDir {c['WorkingDir']}")

    with open(os.path.join(out, "layers"), "w") as f:
        f.write("".join(p + "\n" for p in layer_paths))
    with open(os.path.join(out, "env"), "wb") as f:
        f.write(b"".join(e.encode() + b"\0" for e in c["Env"]))
    with open(os.path.join(out, "command"), "wb") as f:
        f.write(b"".join(a.encode() + b"\0" for a in c["Entrypoint"] + c.get("Cmd", [])))
    with open(os.path.join(out, "entrypoint"), "wb") as f:
        f.write(b"".join(a.encode() + b"\0" for a in c["Entrypoint"]))
    with open(os.path.join(out, "user"), "w") as f:
        f.write(c["User"] + "\n")
    for line in ok:
        print("  ok  " + line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("layer")
    s.add_argument("out")
    s.set_defaults(func=cmd_layer)

    s = sub.add_parser("capability")
    s.add_argument("layer")
    s.add_argument("path")
    s.set_defaults(func=cmd_capability)

    s = sub.add_parser("assemble")
    s.add_argument("--output", required=True)
    s.add_argument("--tag", required=True, help="NAME:TAG, e.g. ferry:0.1.0")
    s.add_argument("--created", type=int, required=True, help="seconds since the epoch (SOURCE_DATE_EPOCH)")
    s.add_argument("--revision")
    s.add_argument("--java-version")
    s.add_argument("--layer", action="append", default=[], help="a gzipped layer, base first")
    s.add_argument("--layer-meta", action="append", default=[], help="its JSON from `oci.py layer`")
    s.add_argument("--layer-created-by", action="append", default=[], help="its history line")
    s.set_defaults(func=cmd_assemble)

    s = sub.add_parser("check")
    s.add_argument("image")
    s.add_argument("dir")
    s.set_defaults(func=cmd_check)

    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
