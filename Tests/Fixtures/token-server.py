#!/usr/bin/env python3
"""A small token server for docker-registry's `auth: token` mode, for mbctl's tests.

    token-server.py PORT KEY.pem CERT.pem USER PASSWORD LOGFILE

Answers GET /token?service=…&scope=… with a JWT (RS256, signed by the openssl tool, the
certificate in the x5c header) granting the scope asked for, when the request carries the
right Basic credentials, or anonymous pull when it carries none and USER is "-". Every request
is appended to LOGFILE, so tests can count token fetches.
"""
import base64
import json
import os
import subprocess
import sys
import signal
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, KEY, CERT, USER, PASSWORD, LOG = sys.argv[1:7]
# A parent may have left signals blocked; make SIGTERM stop this server.
signal.pthread_sigmask(signal.SIG_SETMASK, [])
ISSUER = "mbctl-test-issuer"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der():
    pem = open(CERT).read()
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    return base64.b64encode(base64.b64decode(body)).decode()


def sign(payload):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der()]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input.encode(),
                               stdout=subprocess.PIPE, check=True).stdout
    return signing_input + "." + b64url(signature)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        with open(LOG, "a") as log:
            log.write(json.dumps({"path": url.path, "query": query, "auth": bool(auth)}) + "\n")
        if url.path != "/token":
            self.send_response(404)
            self.end_headers()
            return
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if not (auth == expected or (USER == "-" and not auth)):
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            return
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        token = sign({"iss": ISSUER, "sub": USER, "aud": query.get("service", [""])[0], "exp": now + 300,
                      "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access})
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
