#!/usr/bin/env python3
"""A proxy in front of a docker-registry that fails one upload chunk, for mbctl's tests of
pushes that resume.

    flaky-upload-proxy.py PORT UPSTREAM LOGFILE FAIL

It listens on 127.0.0.1:PORT and passes every request to UPSTREAM (host:port, plain HTTP) and
the answer back, with Locations pointing through the proxy, except the FAIL-th PATCH: it reads
half of that chunk's body, passes nothing on, and answers 503. The registry then holds the
chunks before it, and a client that asks where the upload stands (GET on its Location) can go
on from there. Each request is logged to LOGFILE as JSON: method, path, Content-Range, status.
"""
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, LOG, FAIL = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
signal.pthread_sigmask(signal.SIG_SETMASK, [])
lock = threading.Lock()
patches = 0


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


opener = urllib.request.build_opener(NoRedirects)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status):
        with lock, open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "range": self.headers.get("Content-Range"), "status": status}) + "\n")

    def answer(self, status, headers, body, length=None):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        global patches
        length = int(self.headers.get("Content-Length") or 0)
        if self.command == "PATCH":
            with lock:
                patches += 1
                failing = patches == FAIL
            if failing:
                self.rfile.read(length // 2)
                self.record(503)
                self.close_connection = True
                self.answer(503, [("Connection", "close")], b"")
                return
        body = self.rfile.read(length) if length else None
        request = urllib.request.Request(f"http://{UPSTREAM}{self.path}", method=self.command, data=body)
        for name in ("Accept", "Content-Type", "Content-Range", "Range", "Authorization"):
            if self.headers.get(name):
                request.add_header(name, self.headers[name])
        try:
            response = opener.open(request)
        except urllib.error.HTTPError as error:
            response = error
        data = response.read()
        headers = []
        for name in ("Content-Type", "Docker-Content-Digest", "Range", "Location", "Docker-Upload-UUID", "WWW-Authenticate"):
            value = response.headers.get(name)
            if value:
                headers.append((name, value.replace(f"http://{UPSTREAM}", f"http://127.0.0.1:{PORT}")))
        self.record(response.status)
        # A HEAD's length is the blob's, not that of the (empty) body.
        length = response.headers.get("Content-Length") if self.command == "HEAD" else None
        self.answer(response.status, headers, data, length)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


ThreadingHTTPServer(("127.0.0.1", PORT), Proxy).serve_forever()
