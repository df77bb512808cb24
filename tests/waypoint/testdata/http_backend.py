#!/usr/bin/env python3
"""An HTTP/1.1 backend for the waypoint tests (Python's http.server, keep-alive).

Every request is answered with JSON describing what arrived: the backend's name, method, path,
headers (as received), and the body it read (Content-Length or chunked, decoded here because
http.server does not). Special paths:
  /status/<code>      answer with that status
  /chunked            answer with a chunked body of three chunks and a trailer
  /close              answer, then close the connection without a Content-Length
  /big/<MiB>          a body of that many MiB (Content-Length), written 64 KiB at a time
  Upgrade: websocket  101 Switching Protocols (with Sec-WebSocket-Accept), then every byte
                      received is echoed back until the client closes
  /fail/<percent>     500 for that share of requests (at random), else 200
  /delay/<ms>         wait that long, then answer
  /__count            {"requests": N, "connections": C, "last": <the last request's doc>}
                      about every other request and the connections that carried them (not
                      counted itself)
Options: --status N answers every request with N (a broken pod); --delay-ms N waits before
every answer (a slow pod).
Usage: http_backend.py --address IP --port N --name NAME [--status N] [--delay-ms N]
"""
import argparse
import base64
import hashlib
import json
import random
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stall between head and body
    server_version = "backend"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet
        pass


    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            body = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n else b""

    def upgrade(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("X-Backend", self.server.name)
        self.end_headers()
        self.wfile.flush()
        sock = self.connection
        while True:
            data = sock.recv(65536)
            if not data:
                break
            sock.sendall(data)
        self.close_connection = True

    def answer(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.upgrade()
        body = self.read_body()
        if self.path == "/__count":
            with self.server.lock:
                out = json.dumps({"requests": self.server.requests,
                                  "connections": self.server.connections,
                                  "last": self.server.last}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        doc = {
            "name": self.server.name,
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("latin-1"),
        }
        with self.server.lock:
            self.server.requests += 1
            self.server.last = doc
            if not getattr(self, "counted", False):  # one handler per connection
                self.counted = True
                self.server.connections += 1
        status = 200
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        if self.path.startswith("/fail/"):
            status = 500 if random.random() * 100 < float(self.path.split("/")[2]) else 200
        delay = self.server.delay_ms
        if self.path.startswith("/delay/"):
            delay = int(self.path.split("/")[2])
        if delay:
            time.sleep(delay / 1000.0)
        if self.server.status:
            status = self.server.status
        if self.path.startswith("/big/"):
            total = int(self.path.split("/")[2]) << 20
            self.send_response(200)
            self.send_header("Content-Length", str(total))
            self.end_headers()
            block = b"b" * 65536
            for _ in range(total // len(block)):
                self.wfile.write(block)
            return
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "x-trailer")
            self.end_headers()
            for part in (b"one,", b"two,", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nx-trailer: done\r\n\r\n")
            return
        out = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", self.server.name)
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(out)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = answer


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # a burst of connections is not dropped (the default is 5)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--status", type=int, default=0)
    p.add_argument("--delay-ms", type=int, default=0)
    a = p.parse_args()
    s = Server((a.address, a.port), Handler)
    s.name = a.name
    s.status = a.status
    s.delay_ms = a.delay_ms
    s.lock = threading.Lock()
    s.requests = 0
    s.connections = 0
    s.last = None
    print("ready", flush=True)
    s.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
