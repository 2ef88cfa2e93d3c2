#!/usr/bin/env python3
"""Makes image archives for mbctl's archive tests, good and deliberately broken.

    make-archive.py KIND LAYOUT OUT.tar [TAG]

LAYOUT is an OCI image layout (one image). KINDs:
  docker25       index.json + blobs/sha256 + manifest.json, as `docker save` writes since Docker 25
  truncated      an oci-archive cut in the middle of a blob
  missing-blob   an oci-archive without one layer blob
  wrong-digest   an oci-archive where a layer blob's bytes do not match its name
  traversal      an oci-archive with an entry named ../escape
  huge-index     an oci-archive whose index.json is 8 MiB
  symlink-blob   an oci-archive where a layer blob is a symlink
"""
import io
import json
import os
import sys
import tarfile

kind, layout, out = sys.argv[1], sys.argv[2], sys.argv[3]
tag = sys.argv[4] if len(sys.argv) > 4 else "latest"


def read(path):
    with open(os.path.join(layout, path), "rb") as f:
        return f.read()


index = json.loads(read("index.json"))
manifest_digest = index["manifests"][0]["digest"].split(":")[1]
manifest = json.loads(read("blobs/sha256/" + manifest_digest))
layers = [layer["digest"].split(":")[1] for layer in manifest["layers"]]
config = manifest["config"]["digest"].split(":")[1]


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


with tarfile.open(out, "w") as tar:
    if kind == "traversal":
        add(tar, "../escape", b"outside")
    add(tar, "oci-layout", read("oci-layout"))
    if kind == "huge-index":
        add(tar, "index.json", b" " * (8 << 20) + json.dumps(index).encode())
    else:
        index["manifests"][0].setdefault("annotations", {})["org.opencontainers.image.ref.name"] = tag
        if kind == "docker25":
            index["manifests"][0]["annotations"]["io.containerd.image.name"] = "docker.io/library/example:" + tag
        add(tar, "index.json", json.dumps(index).encode())
    for name in sorted(os.listdir(os.path.join(layout, "blobs/sha256"))):
        data = read("blobs/sha256/" + name)
        if kind == "missing-blob" and name == layers[0]:
            continue
        if kind == "wrong-digest" and name == layers[0]:
            data = bytes([data[0]]) + bytes(b ^ 0x55 for b in data[1:])
        if kind == "symlink-blob" and name == layers[0]:
            info = tarfile.TarInfo("blobs/sha256/" + name)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
            continue
        add(tar, "blobs/sha256/" + name, data)
    if kind == "docker25":
        add(tar, "manifest.json", json.dumps([{"Config": "blobs/sha256/" + config, "RepoTags": ["example:" + tag],
                                               "Layers": ["blobs/sha256/" + layer for layer in layers]}]).encode())

if kind == "truncated":
    size = os.path.getsize(out)
    with open(out, "r+b") as f:
        f.truncate(size // 2)
