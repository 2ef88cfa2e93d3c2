#!/usr/bin/env python3
"""Builds OCI image layouts for mbctl's tests from a JSON description.

Layers are real tarballs made with Python's tarfile, compressed with gzip (Python) or zstd (the
zstd tool); configs, manifests and indexes are written the way image builders write them.

    make-image.py SPEC.json OUT_DIR
    make-image.py --layer ENTRIES.json OUT.tar     (one uncompressed layer tar from an entry list)

SPEC: {"tag": "v1",
       "images": [{"platform": "linux/amd64",
                   "config": {"Entrypoint": [...], "Cmd": [...], "Env": [...], ...},
                   "layers": [{"compression": "gzip"|"zstd"|"none",
                               "entries": [{"path": "bin/x", "type": "file", "content": "...", "mode": 493},
                                           {"path": "big", "type": "random", "size": 1048576, "seed": 1},
                                           {"path": "d", "type": "dir"},
                                           {"path": "l", "type": "symlink", "target": "x"},
                                           {"path": "h", "type": "hardlink", "target": "bin/x"},
                                           {"path": "dev/null", "type": "chardev", "major": 1, "minor": 3},
                                           {"path": "dev/loop0", "type": "blockdev", "major": 7, "minor": 0},
                                           {"path": "run/fifo", "type": "fifo"}]}]}],
       Every entry may also carry "mode", "uid", "gid", "mtime" and
       "xattrs": {"security.capability": "hex:0100000200200000..."} (hex: for binary values).
       A layer may instead be {"gnutar": DIR, "compression": …}: GNU tar's archive of DIR
       ("sparse": true stores the holes of sparse files as holes, GNU tar's --sparse).
       For broken images, a layer may set "diff_id" (written as given) and
       "media_type_compression" (the media type claims this compression instead).
       "index": true}          # write an image index even for one image (always for several)
"""
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {"none": "application/vnd.oci.image.layer.v1.tar",
            "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
EPOCH = 1700000000


def put_blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def random_bytes(size, seed):
    rng = random.Random(seed)
    if size <= 1 << 28:
        return rng.randbytes(size)
    # randbytes cannot make a gibibyte in one go.
    return b"".join(rng.randbytes(min(1 << 24, size - start)) for start in range(0, size, 1 << 24))


def xattr_value(text):
    """Pax values are str; binary bytes travel as surrogate escapes (tarfile then writes them raw)."""
    raw = bytes.fromhex(text[4:]) if text.startswith("hex:") else text.encode()
    return raw.decode("utf-8", "surrogateescape")


def build_tar(entries):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry["path"])
            if "xattrs" in entry:
                info.pax_headers = {"SCHILY.xattr." + name: xattr_value(value) for name, value in entry["xattrs"].items()}
            info.mtime = entry.get("mtime", EPOCH)
            info.uid = entry.get("uid", 0)
            info.gid = entry.get("gid", 0)
            kind = entry.get("type", "file")
            data = None
            if kind == "file":
                data = entry.get("content", "").encode()
                info.mode = entry.get("mode", 0o644)
            elif kind == "random":
                data = random_bytes(entry["size"], entry.get("seed", 0))
                info.mode = entry.get("mode", 0o644)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = entry.get("mode", 0o755)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry["target"]
                info.mode = 0o777
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = entry["target"]
                info.mode = entry.get("mode", 0o644)
            elif kind in ("chardev", "blockdev"):
                info.type = tarfile.CHRTYPE if kind == "chardev" else tarfile.BLKTYPE
                info.devmajor, info.devminor = entry["major"], entry["minor"]
                info.mode = entry.get("mode", 0o666)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                info.mode = entry.get("mode", 0o644)
            else:
                raise SystemExit("unknown entry type " + kind)
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def compress(data, method):
    if method == "none":
        return data
    if method == "gzip":
        return gzip.compress(data, mtime=0)
    if method == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, stdout=subprocess.PIPE, check=True).stdout
    raise SystemExit("unknown compression " + method)


def build_image(out, image):
    os_name, arch, *variant = image.get("platform", "linux/amd64").split("/")
    layers, diff_ids = [], []
    for layer in image.get("layers", []):
        if "gnutar" in layer:
            sparse = ["--sparse"] if layer.get("sparse") else []
            tar = subprocess.run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--sort=name", *sparse,
                                  "-C", layer["gnutar"], "-cf", "-", "."], stdout=subprocess.PIPE, check=True).stdout
        else:
            tar = build_tar(layer.get("entries", []))
        method = layer.get("compression", "gzip")
        diff_ids.append(layer.get("diff_id", "sha256:" + hashlib.sha256(tar).hexdigest()))
        digest, size = put_blob(out, compress(tar, method))
        layers.append({"mediaType": MT_LAYER[layer.get("media_type_compression", method)], "digest": digest, "size": size})
    config = {"architecture": arch, "os": os_name, "config": image.get("config", {}),
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "created": "2023-11-14T22:13:20Z", "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "make-image.py"} for _ in layers]}
    if variant:
        config["variant"] = variant[0]
    config_digest, config_size = put_blob(out, json.dumps(config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": config_size},
                "layers": layers}
    digest, size = put_blob(out, json.dumps(manifest, sort_keys=True).encode())
    platform = {"architecture": arch, "os": os_name}
    if variant:
        platform["variant"] = variant[0]
    return {"mediaType": MT_MANIFEST, "digest": digest, "size": size, "platform": platform}


def main():
    if sys.argv[1] == "--layer":
        with open(sys.argv[2]) as f:
            entries = json.load(f)
        with open(sys.argv[3], "wb") as f:
            f.write(build_tar(entries))
        return
    spec_path, out = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    manifests = [build_image(out, image) for image in spec["images"]]
    tag = spec.get("tag", "latest")
    if len(manifests) > 1 or spec.get("index"):
        index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}
        digest, size = put_blob(out, json.dumps(index, sort_keys=True).encode())
        top = {"mediaType": MT_INDEX, "digest": digest, "size": size}
    else:
        top = dict(manifests[0])
        top.pop("platform")
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    print(top["digest"])


if __name__ == "__main__":
    main()
