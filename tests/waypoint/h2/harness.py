"""Shared pieces of the waypoint's HTTP/2 conformance tests (h2spec_test.py, frames_test.py).

- Backend: an HTTP/1.1 server (Python's http.server, keep-alive) in a thread of the test
  process, on 127.0.0.1 at a free port. It answers every request with a small text body, and
  remembers what it received (method, path, body, trailers of chunked bodies), so a test can
  check what reached the upstream. /trailers answers with a chunked body and a trailer.
- H2Backend: the same over h2c with prior knowledge (python3-h2), for an HTTP/2 upstream:
  echoes the request body, /big/N answers N bytes; sends as flow control allows.
- Harness: the h2_harness binary (the waypoint's ServeHttp and exchange on plain TCP) started
  as a child process; `port` is where it listens, `requests()` the number of requests that
  reached the exchange (it prints that each time a downstream connection ends), `rss_kib()` /
  `peak_rss_kib()` its memory.
"""
import os
import queue
import re
import socket
import socketserver
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "h2-backend"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet
        pass

    def _read_body(self):
        trailers = {}
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        line = self.rfile.readline()
                        if line in (b"\r\n", b"\n", b""):
                            return body, trailers
                        name, _, value = line.decode("latin-1").partition(":")
                        trailers[name.strip().lower()] = value.strip()
                body += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return (self.rfile.read(n) if n else b""), trailers

    def _answer(self):
        body, trailers = self._read_body()
        self.server.received.append(
            {"method": self.command, "path": self.path, "body": body, "trailers": trailers,
             "headers": {k.lower(): v for k, v in self.headers.items()}})
        if self.path == "/trailers":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "x-checksum")
            self.end_headers()
            for part in (b"one,", b"two,", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nx-checksum: abc123\r\n\r\n")
            return
        if self.path.startswith("/big/"):
            out = b"x" * int(self.path.split("/")[2])
        else:
            out = b"hello from the backend\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer


class _Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # The waypoint closes an upstream connection whose request it abandoned (the client
        # reset its stream): a short body or a broken pipe here is expected, not news.
        pass


class Backend:
    def __init__(self):
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.received = []
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def received(self):
        return self.server.received

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class H2Backend:
    """An h2c backend (prior knowledge), a thread per connection. Answers 200 with the request
    body (or N bytes for /big/N), DATA frames as the peer's windows allow; `received` holds
    method, path, headers and body of every request."""

    def __init__(self):
        import h2.config  # python3-h2; only the tests with an HTTP/2 upstream need it
        import h2.connection
        import h2.events
        import h2.exceptions
        self._h2 = h2
        self.received = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, sock):
        h2 = self._h2
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        conn.increment_flow_control_window(1 << 24)
        requests, pending = {}, {}

        def pump():
            for sid in list(pending):
                data = pending[sid]
                try:
                    while data:
                        n = min(len(data), conn.local_flow_control_window(sid),
                                conn.max_outbound_frame_size)
                        if n <= 0:
                            break
                        conn.send_data(sid, data[:n])
                        data = data[n:]
                    if not data:
                        conn.end_stream(sid)
                except h2.exceptions.StreamClosedError:
                    data = b""
                if data:
                    pending[sid] = data
                else:
                    del pending[sid]

        try:
            sock.sendall(conn.data_to_send())
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        requests[ev.stream_id] = {"headers": dict(ev.headers), "body": b""}
                    elif isinstance(ev, h2.events.DataReceived):
                        requests[ev.stream_id]["body"] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        req = requests.pop(ev.stream_id)
                        h = req["headers"]
                        path = h.get(":path", "")
                        self.received.append({"method": h.get(":method", ""), "path": path,
                                              "body": req["body"], "headers": h})
                        out = (b"x" * int(path.split("/")[2]) if path.startswith("/big/")
                               else req["body"])
                        conn.send_headers(ev.stream_id, [
                            (":status", "200"), ("content-length", str(len(out)))])
                        pending[ev.stream_id] = out
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        sock.sendall(conn.data_to_send())
                        return
                pump()
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()

    def close(self):
        self.sock.close()


class Harness:
    def __init__(self, binary, backend_port=0, max_header_list_bytes=None,
                 backend_protocol=None):
        args = [binary, "--port", "0"]
        if backend_port:
            args += ["--backend-port", str(backend_port)]
        if backend_protocol:
            args += ["--backend-protocol", backend_protocol]
        if max_header_list_bytes is not None:
            args += ["--max-header-list-bytes", str(max_header_list_bytes)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening (\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("h2_harness did not start: %r" % line)
        self.port = int(m.group(1))
        self._closed = queue.Queue()
        self._last = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            m = re.match(r"closed requests=(\d+)", line)
            if m:
                self._closed.put(int(m.group(1)))

    def requests_after_close(self, timeout=5.0):
        """Requests that reached the exchange, as of the next downstream connection's end."""
        n = self._closed.get(timeout=timeout)
        self._last = n
        return n

    def _status(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def rss_kib(self):
        return self._status("VmRSS")

    def peak_rss_kib(self):
        return self._status("VmHWM")

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def harness_binary(argv):
    """--harness PATH from argv (ctest), else the build-h2 / build default."""
    if "--harness" in argv:
        return argv[argv.index("--harness") + 1]
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    for build in (os.environ.get("WEFT_BUILD", ""), os.path.join(root, "build")):
        p = os.path.join(build, "bin", "tests", "h2_harness")
        if build and os.path.exists(p):
            return p
    raise SystemExit("h2_harness not found: pass --harness PATH")


def wait_for(pred, timeout=5.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
