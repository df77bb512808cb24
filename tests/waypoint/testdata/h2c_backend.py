#!/usr/bin/python3
"""An HTTP/2-only backend (h2c with prior knowledge, python3-h2) for the waypoint tests.

Every request is answered 200 with `x-backend: NAME` and a JSON body naming the protocol it
arrived in ("HTTP/2"), the method, path and headers. Anything that is not HTTP/2 (an HTTP/1.1
request) fails the connection preface: the connection is closed without an answer, which is
how an h2c-only server treats it. A request for /delay/<ms> is answered that long after it
ended (the connection waits meanwhile).
Usage: h2c_backend.py --address IP --port N --name NAME
"""
import argparse
import json
import socket
import socketserver
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        requests = {}
        while True:
            data = sock.recv(65536)
            if not data:
                return
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                sock.sendall(conn.data_to_send())
                return
            for ev in events:
                if isinstance(ev, h2.events.RequestReceived):
                    requests[ev.stream_id] = {"headers": dict(ev.headers), "body": b""}
                elif isinstance(ev, h2.events.DataReceived):
                    requests[ev.stream_id]["body"] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    req = requests.pop(ev.stream_id)
                    h = req["headers"]
                    path = h.get(":path", "")
                    if path.startswith("/delay/"):
                        time.sleep(int(path.split("/")[2]) / 1000.0)
                    body = json.dumps({
                        "name": self.server.name,
                        "protocol": "HTTP/2",
                        "method": h.get(":method", ""),
                        "path": h.get(":path", ""),
                        "headers": {k: v for k, v in h.items() if not k.startswith(":")},
                        "body": req["body"].decode("utf-8", "replace"),
                    }).encode()
                    try:
                        conn.send_headers(ev.stream_id, [
                            (":status", "200"), ("content-type", "application/json"),
                            ("content-length", str(len(body))), ("x-backend", self.server.name)])
                        conn.send_data(ev.stream_id, body, end_stream=True)
                    except h2.exceptions.StreamClosedError:
                        pass  # the client reset it while we waited (a /delay/ it gave up on)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
            out = conn.data_to_send()
            if out:
                sock.sendall(out)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", required=True)
    a = p.parse_args()
    server = Server((a.address, a.port), Handler)
    server.name = a.name
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
