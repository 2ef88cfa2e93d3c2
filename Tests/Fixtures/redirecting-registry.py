#!/usr/bin/env python3
"""A registry front that redirects blob downloads to a storage host, as registries backed by S3
or a CDN do, for mbctl's tests.

    redirecting-registry.py FRONT_PORT STORAGE_PORT UPSTREAM USER PASSWORD LOGFILE [throttle]

FRONT (127.0.0.1:FRONT_PORT) demands Basic credentials and forwards /v2/ requests to the real
registry at UPSTREAM (host:port, plain HTTP), except blob GETs, which it answers with a 307 to
http://localhost:STORAGE_PORT/... — another host, so a client must not send its credentials
there. STORAGE serves the blob from UPSTREAM. With "throttle", the first request for each blob
is answered 429 Too Many Requests with Retry-After: 1.

Pushes are sent elsewhere the same way: FRONT answers the POST that starts an upload with a
Location on STORAGE, which takes the PUT of the blob and passes it on to UPSTREAM; manifests and
HEADs are forwarded. Each request is logged to LOGFILE as JSON: which server got it, its method,
and whether it carried an Authorization header.
"""
import base64
import json
import signal
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FRONT, STORAGE, UPSTREAM, USER, PASSWORD, LOG = sys.argv[1:7]
THROTTLE = len(sys.argv) > 7 and sys.argv[7] == "throttle"
throttled = set()
signal.pthread_sigmask(signal.SIG_SETMASK, [])
EXPECTED = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
lock = threading.Lock()


def log(server, handler):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps({"server": server, "method": handler.command, "path": handler.path,
                            "auth": handler.headers.get("Authorization") is not None}) + "\n")


def request_body(handler):
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def forward(handler, path, body=None):
    request = urllib.request.Request(f"http://{UPSTREAM}{path}", method=handler.command, data=body)
    for name in ("Accept", "Range", "Content-Type"):
        if handler.headers.get(name):
            request.add_header(name, handler.headers[name])
    try:
        response = urllib.request.urlopen(request)
    except urllib.error.HTTPError as error:
        response = error
    body = response.read()
    handler.send_response(response.status)
    for name in ("Content-Type", "Docker-Content-Digest", "Content-Range", "Location"):
        if response.headers.get(name):
            handler.send_header(name, response.headers[name])
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def refused(handler):
    """Answers 401 to a request without the right credentials; True if it did."""
    if handler.headers.get("Authorization") == EXPECTED:
        return False
    handler.send_response(401)
    handler.send_header("WWW-Authenticate", 'Basic realm="redirecting"')
    handler.send_header("Content-Length", "0")
    handler.end_headers()
    return True


class Front(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        log("front", self)
        if refused(self):
            return
        if "/blobs/" in self.path and THROTTLE and self.path not in throttled:
            with lock:
                throttled.add(self.path)
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "/blobs/" in self.path:
            self.send_response(307)
            self.send_header("Location", f"http://localhost:{STORAGE}/storage{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        forward(self, self.path)

    do_HEAD = do_GET

    def do_POST(self):
        log("front", self)
        request_body(self)
        if refused(self):
            return
        # /v2/NAME/blobs/uploads/ -> an upload that lives on the storage host.
        name = self.path[len("/v2/"):self.path.index("/blobs/uploads/")]
        self.send_response(202)
        self.send_header("Location", f"http://localhost:{STORAGE}/upload/{name}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self):
        log("front", self)
        body = request_body(self)
        if refused(self):
            return
        forward(self, self.path, body)


class Storage(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        log("storage", self)
        forward(self, self.path[len("/storage"):])

    do_HEAD = do_GET

    def do_PUT(self):
        # /upload/NAME?digest=D: the whole blob, passed on to UPSTREAM as a monolithic upload.
        log("storage", self)
        body = request_body(self)
        name, _, query = self.path[len("/upload/"):].partition("?")
        start = urllib.request.urlopen(urllib.request.Request(
            f"http://{UPSTREAM}/v2/{name}/blobs/uploads/", method="POST", data=b""))
        location = start.headers["Location"]
        if location.startswith("/"):
            location = f"http://{UPSTREAM}{location}"
        separator = "&" if "?" in location else "?"
        request = urllib.request.Request(location + separator + query, method="PUT", data=body)
        request.add_header("Content-Type", "application/octet-stream")
        try:
            response = urllib.request.urlopen(request)
        except urllib.error.HTTPError as error:
            response = error
        self.send_response(response.status)
        if response.headers.get("Docker-Content-Digest"):
            self.send_header("Docker-Content-Digest", response.headers["Docker-Content-Digest"])
        self.send_header("Content-Length", "0")
        self.end_headers()


storage = ThreadingHTTPServer(("127.0.0.1", int(STORAGE)), Storage)
threading.Thread(target=storage.serve_forever, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", int(FRONT)), Front).serve_forever()
