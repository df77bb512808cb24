#!/usr/bin/python3
"""A gRPC server (grpcio, h2c) for the waypoint tests, without generated code: raw bytes in,
raw bytes out.

  /test.Echo/Unary      echoes the request message, with initial metadata x-backend: NAME
                        and trailing metadata x-trailer: done
  /test.Echo/Fail       aborts with NOT_FOUND ("no such thing")
  /test.Echo/Slow       echoes the request message after 1 s
  /test.Echo/Flaky      aborts with UNAVAILABLE on every other call (the 1st, 3rd, ...),
                        echoes on the others
Usage: grpc_backend.py --address IP --port N --name NAME
"""
import argparse
import sys
import threading
import time
from concurrent import futures

import grpc


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", required=True)
    a = p.parse_args()

    def unary(request, context):
        context.send_initial_metadata((("x-backend", a.name),))
        context.set_trailing_metadata((("x-trailer", "done"),))
        return request

    def fail(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    calls = {"flaky": 0}
    lock = threading.Lock()

    def flaky(request, context):
        with lock:
            calls["flaky"] += 1
            n = calls["flaky"]
        if n % 2 == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        return request

    def slow(request, context):
        time.sleep(1)
        return request

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Flaky": grpc.unary_unary_rpc_method_handler(flaky),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    server.add_insecure_port("%s:%d" % (a.address, a.port))
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
