#!/usr/bin/python3
"""An HTTP client for the end-to-end tests, run inside a pod (tools/cluster exec).

Sends N requests to URL and prints one line per outcome, "<name> <count>", where <name> is the
answering backend (the x-backend header, else the JSON body's "name"), or "status-<code>" for
non-2xx answers, or "error-<kind>" for failures; then "elapsed-ms <n>".

  http_client.py URL [-n N] [--method M] [--header 'k: v']... [--body TEXT]
                     [--h2] [--new-connection] [--show-body] [--timeout S] [--interval-ms MS]

--h2 speaks HTTP/2 with prior knowledge (python3-h2), one connection, streams in sequence.
--websocket sends an Upgrade: websocket request, expects 101, then sends bytes and expects
them back (the test backend echoes after the upgrade): prints "websocket-echo ok" or
"websocket-echo failed <why>".
Without it HTTP/1.1 keep-alive (http.client), one connection unless --new-connection.
"""
import argparse
import collections
import http.client
import json
import socket
import sys
import time
import urllib.parse


def backend_name(headers, body):
    for k, v in headers:
        if k.lower() == "x-backend":
            return v
    try:
        return json.loads(body).get("name", "unknown")
    except Exception:
        return "unknown"


def run_h1(a, u, counts, bodies):
    conn = None
    for _ in range(a.n):
        if conn is None or a.new_connection:
            if conn:
                conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=a.timeout)
        headers = dict(h.split(":", 1) for h in a.header)
        headers = {k.strip(): v.strip() for k, v in headers.items()}
        try:
            conn.request(a.method, u.path + (("?" + u.query) if u.query else ""),
                         body=a.body, headers=headers)
            r = conn.getresponse()
            body = r.read().decode("latin-1")
            if 200 <= r.status < 300:
                counts[backend_name(r.getheaders(), body)] += 1
            else:
                counts["status-%d" % r.status] += 1
            if a.show_body:
                bodies.append((r.status, dict(r.getheaders()), body))
            if r.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            counts["error-" + type(e).__name__] += 1
            conn = None
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000.0)


def run_h2(a, u, counts, bodies):
    import h2.config
    import h2.connection
    import h2.events
    sock = socket.create_connection((u.hostname, u.port or 80), timeout=a.timeout)
    c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    sock.sendall(c.data_to_send())
    path = u.path + (("?" + u.query) if u.query else "")
    for _ in range(a.n):
        sid = c.get_next_available_stream_id()
        hdrs = [(":method", a.method), (":scheme", "http"), (":authority", u.netloc),
                (":path", path)]
        for h in a.header:
            k, v = h.split(":", 1)
            hdrs.append((k.strip().lower(), v.strip()))
        body = (a.body or "").encode()
        c.send_headers(sid, hdrs, end_stream=not body)
        if body:
            c.send_data(sid, body, end_stream=True)
        sock.sendall(c.data_to_send())
        status, rh, data, done = 0, [], b"", False
        while not done:
            chunk = sock.recv(65536)
            if not chunk:
                counts["error-closed"] += 1
                return
            for ev in c.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    rh = [(k.decode() if isinstance(k, bytes) else k,
                           v.decode() if isinstance(v, bytes) else v) for k, v in ev.headers]
                    status = int(dict(rh)[":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data
                    c.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    counts["error-reset"] += 1
                    done = True
                    status = -1
            sock.sendall(c.data_to_send())
        if status == -1:
            continue
        text = data.decode("latin-1")
        if 200 <= status < 300:
            counts[backend_name(rh, text)] += 1
        else:
            counts["status-%d" % status] += 1
        if a.show_body:
            bodies.append((status, dict(rh), text))


def run_websocket(a, u):
    sock = socket.create_connection((u.hostname, u.port or 80), timeout=a.timeout)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
           % (u.path or "/", u.netloc))
    sock.sendall(req.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            print("websocket-echo failed closed before the head")
            return
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        print("websocket-echo failed", head.split(b"\r\n")[0].decode())
        return
    payload = b"websocket-bytes-" * 4096
    sock.sendall(payload)
    got = rest
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    print("websocket-echo", "ok" if got == payload else "failed mismatch %d" % len(got))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("-n", type=int, default=1)
    p.add_argument("--method", default="GET")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--body")
    p.add_argument("--h2", action="store_true")
    p.add_argument("--new-connection", action="store_true")
    p.add_argument("--show-body", action="store_true")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--interval-ms", type=int, default=0)
    p.add_argument("--websocket", action="store_true")
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    if a.websocket:
        run_websocket(a, u)
        return 0
    counts = collections.Counter()
    bodies = []
    start = time.monotonic()
    try:
        (run_h2 if a.h2 else run_h1)(a, u, counts, bodies)
    except OSError as e:
        counts["error-" + type(e).__name__] += 1
    for name, n in sorted(counts.items()):
        print(name, n)
    print("elapsed-ms", int((time.monotonic() - start) * 1000))
    for status, headers, body in bodies:
        print("BODY", json.dumps({"status": status, "headers": headers, "body": body}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
