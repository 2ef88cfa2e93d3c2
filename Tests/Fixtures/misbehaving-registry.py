#!/usr/bin/env python3
"""A registry that misbehaves in one way, for mbctl's tests of what a hostile registry can do.

    misbehaving-registry.py MODE PORT LOGFILE [REALM] [CERT KEY]

It listens on 127.0.0.1:PORT (TLS when CERT and KEY are given) and answers /v2/ with 200, then:

  endless-error   every other request: 404, and a body that never ends (16 KiB/s)
  slow-manifest   every other request: 200 with a 1 MiB body trickled at 1 KiB per second
  token-realm     /v2/ itself: 401 with a Bearer challenge whose realm is REALM
  token-server    any request: a token, as a token server answers

Each request is logged to LOGFILE as JSON: its path and whether it carried an Authorization header.
"""
import json
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
REALM = sys.argv[4] if len(sys.argv) > 4 else ""
CERT, KEY = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)
signal.pthread_sigmask(signal.SIG_SETMASK, [])
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with lock, open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization") is not None}) + "\n")
        try:
            self.answer()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def answer(self):
        if MODE == "token-server":
            body = json.dumps({"token": "t", "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/v2/":
            if MODE == "token-realm" and "Authorization" not in self.headers:
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Bearer realm="{REALM}",service="misbehaving"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if MODE == "endless-error":
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"<p>not here</p>" * 64
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(len(chunk) / 16384)
        if MODE == "slow-manifest":
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            while True:
                self.wfile.write(b" " * 1024)
                self.wfile.flush()
                time.sleep(1)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
if CERT:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, KEY)
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
