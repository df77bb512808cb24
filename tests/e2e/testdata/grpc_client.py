#!/usr/bin/python3
"""A gRPC client (grpcio) for the end-to-end tests, run inside a pod.

Calls /test.Echo/Unary (tests/waypoint/testdata/grpc_backend.py) and /test.Echo/Fail on TARGET
and prints:
  unary <code> <echoed payload ok: yes/no> backend=<x-backend> trailer=<x-trailer>
  fail <code> <details>
"""
import sys

import grpc


def main():
    target = sys.argv[1]
    with grpc.insecure_channel(target) as ch:
        unary = ch.unary_unary("/test.Echo/Unary")
        try:
            resp, call = unary.with_call(b"ping-through-the-mesh", timeout=10)
            md = dict(call.initial_metadata())
            tr = dict(call.trailing_metadata())
            print("unary %s %s backend=%s trailer=%s" % (
                call.code().name, "yes" if resp == b"ping-through-the-mesh" else "no",
                md.get("x-backend", "-"), tr.get("x-trailer", "-")))
        except grpc.RpcError as e:
            print("unary %s no backend=- trailer=- %s" % (e.code().name, e.details()))
        fail = ch.unary_unary("/test.Echo/Fail")
        try:
            fail(b"x", timeout=10)
            print("fail OK unexpected")
        except grpc.RpcError as e:
            print("fail %s %s" % (e.code().name, e.details()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
