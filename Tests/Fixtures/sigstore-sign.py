#!/usr/bin/env python3
"""Makes sigstore (cosign) signatures for mbctl's tests, in exactly the layout skopeo and
containers/image write: a payload {"critical": {"identity": {"docker-reference": REF},
"image": {"docker-manifest-digest": DIGEST}, "type": "cosign container image signature"},
"optional": {...}}, signed with SHA-256 (ECDSA, RSA PKCS #1 v1.5) or as is (Ed25519), uploaded as
a layer of media type application/vnd.dev.cosign.simplesigning.v1+json with the base64 signature
in the annotation dev.cosignproject.cosign/signature, in the OCI manifest tagged sha256-HEX.sig
of the image's repository (signatures already there are kept, new ones appended).
Debian's skopeo has sigstore compiled out, so the tests make them here with `cryptography`.

    sigstore-sign.py keygen p256|p384|ed25519|rsa PRIVATE.pem PUBLIC.pem
    sigstore-sign.py sign REGISTRY REPOSITORY DIGEST IDENTITY PRIVATE.pem
        [--signed-digest D]     put D in the payload instead of DIGEST (a signature moved onto
                                another image)
        [--payload-bytes N]     pad the payload's optional part to about N bytes (oversized)
        [--garbage]             a signature annotation that is not base64
    sigstore-sign.py payload DIGEST IDENTITY     print a payload
    sigstore-sign.py bundle REGISTRY REPOSITORY DIGEST PRIVATE.pem [bundle options]
                                attach a Sigstore bundle as cosign 3 does (BUNDLE_SPEC): a DSSE
                                envelope over the in-toto statement {"subject": [{"digest":
                                {"sha256": HEX}}], "predicateType":
                                "https://sigstore.dev/cosign/sign/v1"}, signed with the key's own
                                hash (SHA-384 on P-384), the bundle the one layer of a manifest
                                whose subject is the image, listed in the referrers tag sha256-HEX
        [--signed-digest D] [--predicate-type T] [--name N]
    sigstore-sign.py bundle-json DIGEST PRIVATE.pem [bundle options]    print such a bundle
    sigstore-sign.py cosign-key PRIVATE.pem PASSPHRASE OUT.key [--cost N]
                                seal a key as cosign does (PKCS #8, scrypt N (32768), r 8, p 1,
                                NaCl secretbox; PEM "ENCRYPTED SIGSTORE PRIVATE KEY")
    sigstore-sign.py verify REGISTRY REPOSITORY DIGEST PUBLIC.pem
                                check every signature in the image's attachment as cosign and
                                containers/image check them; print one JSON line per signature
                                ({"valid", "digest", "identity", "mediaType"}); none: no output
The registry is spoken to over plain HTTP (a docker-registry on loopback without auth).
"""
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request

import nacl.secret
import nacl.utils

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
TIMEOUT = 30


def keygen(kind, private_path, public_path):
    key = {
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }[kind]()
    with open(private_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(public_path, "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def payload(digest, identity, pad=0):
    optional = {"creator": "mbctl tests", "timestamp": 1700000000}
    if pad:
        optional["padding"] = "x" * pad
    return json.dumps({"critical": {"identity": {"docker-reference": identity}, "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"}, "optional": optional}, separators=(",", ":")).encode()


def sign_bytes(private_path, data, curve_hash=False):
    with open(private_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        chosen = {256: hashes.SHA256, 384: hashes.SHA384, 521: hashes.SHA512}[key.curve.key_size] if curve_hash else hashes.SHA256
        return key.sign(data, ec.ECDSA(chosen()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def cosign_key(private_path, passphrase, out_path, cost=32768):
    with open(private_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt = nacl.utils.random(32)
    secret = hashlib.scrypt(passphrase.encode(), salt=salt, n=cost, r=8, p=1, maxmem=256 << 20, dklen=32)
    sealed = nacl.secret.SecretBox(secret).encrypt(pkcs8)
    envelope = {"kdf": {"name": "scrypt", "params": {"N": cost, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
                "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(sealed.nonce).decode()},
                "ciphertext": base64.b64encode(sealed.ciphertext).decode()}
    body = base64.encodebytes(json.dumps(envelope).encode()).decode()
    with open(out_path, "w") as f:
        f.write(f"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{body}-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")


def verify(registry, repository, digest, public_path):
    base = f"http://{registry}"
    with open(public_path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    tag = digest.replace(":", "-") + ".sig"
    try:
        with request("GET", f"{base}/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}) as answer:
            manifest = json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return
        raise
    for layer in manifest["layers"]:
        with request("GET", f"{base}/v2/{repository}/blobs/{layer['digest']}") as answer:
            body = answer.read()
        assert "sha256:" + hashlib.sha256(body).hexdigest() == layer["digest"]
        signature = base64.b64decode(layer.get("annotations", {}).get(ANNOTATION, ""))
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, body)
            else:
                key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
            valid = True
        except Exception:
            valid = False
        claims = json.loads(body)
        print(json.dumps({"valid": valid, "mediaType": layer["mediaType"], "type": claims["critical"]["type"],
                          "digest": claims["critical"]["image"]["docker-manifest-digest"],
                          "identity": claims["critical"]["identity"]["docker-reference"]}))


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    return urllib.request.urlopen(req, timeout=TIMEOUT)


def put_blob(base, repository, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = request("POST", f"{base}/v2/{repository}/blobs/uploads/").headers["Location"]
    if location.startswith("/"):
        location = base + location
    separator = "&" if "?" in location else "?"
    request("PUT", f"{location}{separator}digest={digest}", data, {"Content-Type": "application/octet-stream"})
    return {"digest": digest, "size": len(data)}


def sign(registry, repository, digest, identity, private_path, signed_digest=None, pad=0, garbage=False):
    base = f"http://{registry}"
    tag = digest.replace(":", "-") + ".sig"
    manifest, config = None, {"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}
    try:
        with request("GET", f"{base}/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}) as answer:
            manifest = json.load(answer)
        with request("GET", f"{base}/v2/{repository}/blobs/{manifest['config']['digest']}") as answer:
            config = json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    body = payload(signed_digest or digest, identity, pad)
    signature = "not base64!" if garbage else base64.b64encode(sign_bytes(private_path, body)).decode()
    layer = put_blob(base, repository, body)
    layer.update({"mediaType": MEDIA_TYPE, "annotations": {ANNOTATION: signature}})
    layers = (manifest or {}).get("layers", []) + [layer]
    config["rootfs"]["diff_ids"] = config["rootfs"].get("diff_ids") or []
    config["rootfs"]["diff_ids"].append(layer["digest"])
    config_blob = json.dumps(config, separators=(",", ":")).encode()
    config_descriptor = put_blob(base, repository, config_blob)
    config_descriptor["mediaType"] = OCI_CONFIG
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_descriptor, "layers": layers}
    request("PUT", f"{base}/v2/{repository}/manifests/{tag}", json.dumps(document).encode(), {"Content-Type": OCI_MANIFEST}).close()


def bundle_json(digest, private_path, signed_digest=None, predicate_type=SIGN_PREDICATE, name=None):
    subject = {"digest": {"sha256": (signed_digest or digest).split(":", 1)[1]}}
    if name:
        subject["name"] = name
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [subject], "predicateType": predicate_type,
                            "predicate": {}}, separators=(",", ":")).encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(IN_TOTO), IN_TOTO.encode(), len(statement), statement)
    with open(private_path, "rb") as f:
        public = serialization.load_pem_private_key(f.read(), password=None).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    envelope = {"payload": base64.b64encode(statement).decode(), "payloadType": IN_TOTO,
                "signatures": [{"sig": base64.b64encode(sign_bytes(private_path, pae, curve_hash=True)).decode()}]}
    return json.dumps({"mediaType": BUNDLE, "verificationMaterial": {"publicKey": {"hint": base64.b64encode(hashlib.sha256(der).digest()).decode()}},
                       "dsseEnvelope": envelope}, separators=(",", ":")).encode()


def attach_bundle(registry, repository, digest, private_path, **options):
    base = f"http://{registry}"
    with request("GET", f"{base}/v2/{repository}/manifests/{digest}", headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}) as answer:
        subject = {"mediaType": answer.headers["Content-Type"], "digest": digest, "size": len(answer.read())}
    layer = put_blob(base, repository, bundle_json(digest, private_path, **options))
    layer["mediaType"] = BUNDLE
    config = put_blob(base, repository, b"{}")
    config["mediaType"] = OCI_EMPTY
    annotations = {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": options.get("predicate_type", SIGN_PREDICATE),
                   "org.opencontainers.image.created": "2026-11-30T12:00:00Z"}
    document = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE, "config": config, "layers": [layer],
                           "subject": subject, "annotations": annotations}).encode()
    referrer = "sha256:" + hashlib.sha256(document).hexdigest()
    request("PUT", f"{base}/v2/{repository}/manifests/{referrer}", document, {"Content-Type": OCI_MANIFEST}).close()
    tag = digest.replace(":", "-")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    try:
        with request("GET", f"{base}/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_INDEX}) as answer:
            index = json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    index["manifests"].append({"mediaType": OCI_MANIFEST, "digest": referrer, "size": len(document), "artifactType": BUNDLE,
                               "annotations": annotations})
    request("PUT", f"{base}/v2/{repository}/manifests/{tag}", json.dumps(index).encode(), {"Content-Type": OCI_INDEX}).close()


def bundle_options(rest):
    options = {}
    while rest:
        flag = rest.pop(0)
        key = {"--signed-digest": "signed_digest", "--predicate-type": "predicate_type", "--name": "name"}.get(flag)
        if not key:
            sys.exit(f"unknown option {flag}")
        options[key] = rest.pop(0)
    return options


def main(argv):
    if len(argv) == 5 and argv[1] == "keygen":
        keygen(argv[2], argv[3], argv[4])
    elif len(argv) in (5, 7) and argv[1] == "cosign-key":
        cosign_key(argv[2], argv[3], argv[4], *([int(argv[6])] if len(argv) == 7 and argv[5] == "--cost" else []))
    elif len(argv) == 6 and argv[1] == "verify":
        verify(argv[2], argv[3], argv[4], argv[5])
    elif len(argv) == 4 and argv[1] == "payload":
        sys.stdout.buffer.write(payload(argv[2], argv[3]))
    elif len(argv) >= 6 and argv[1] == "bundle":
        attach_bundle(argv[2], argv[3], argv[4], argv[5], **bundle_options(argv[6:]))
    elif len(argv) >= 4 and argv[1] == "bundle-json":
        sys.stdout.buffer.write(bundle_json(argv[2], argv[3], **bundle_options(argv[4:])))
    elif len(argv) >= 7 and argv[1] == "sign":
        options, rest = {}, argv[7:]
        while rest:
            flag = rest.pop(0)
            if flag == "--garbage":
                options["garbage"] = True
            elif flag == "--signed-digest":
                options["signed_digest"] = rest.pop(0)
            elif flag == "--payload-bytes":
                options["pad"] = int(rest.pop(0))
            else:
                sys.exit(f"unknown option {flag}")
        sign(argv[2], argv[3], argv[4], argv[5], argv[6], **options)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
