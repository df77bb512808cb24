#!/usr/bin/env python3
"""h2spec (every section: generic, http2, hpack; strict mode) against the waypoint's HTTP/2
listener, as h2_harness serves it on plain TCP (h2c prior knowledge). Two runs:

  direct  every request answered by a VirtualService direct response (the server side alone)
  proxy   every request forwarded to a Python HTTP/1.1 backend (the exchange end to end)

Fails on any h2spec failure not listed in h2spec_expected_failures.txt; warns about listed
ones that passed (unless their reason starts with "intermittent"). h2spec comes from tools/setup-go-tools (${WEFT_CACHE:-/var/cache/weft}/go/
bin/h2spec, or $H2SPEC); without it the test is skipped (exit 77), or fails under CI=true.

Usage: h2spec_test.py --harness PATH [--out DIR]
"""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import harness as hz

HERE = os.path.dirname(os.path.abspath(__file__))
MIN_CASES = 140  # h2spec 2.2.1 has 146 in strict mode: fewer means a run broke off


def find_h2spec():
    if os.environ.get("H2SPEC"):
        p = os.environ["H2SPEC"]
        return p if os.access(p, os.X_OK) else None
    cache = os.environ.get("WEFT_CACHE") or "/var/cache/weft"
    p = os.path.join(cache, "go", "bin", "h2spec")
    if os.access(p, os.X_OK):
        return p
    return shutil.which("h2spec")


def expected_failures():
    out = {}
    with open(os.path.join(HERE, "h2spec_expected_failures.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                case, _, reason = line.partition(" ")
                out[case] = reason.strip()
    return out


def parse_junit(path):
    """[(case id, description, failure text or None)] in h2spec's order."""
    with open(path, "rb") as f:
        raw = f.read()
    # h2spec copies frame payloads (PING data with NULs) into its reports: not valid XML.
    raw = bytes(b for b in raw if b >= 0x20 or b in b"\t\n\r")
    cases = []
    for suite in ET.fromstring(raw).iter("testsuite"):
        for i, tc in enumerate(suite.iter("testcase"), 1):
            problem = None
            for tag in ("failure", "error"):
                el = tc.find(tag)
                if el is not None:
                    problem = (el.text or el.get("message") or tag).strip()
            cases.append(("%s/%d" % (tc.get("package"), i), tc.get("classname"), problem))
    return cases


def run(h2spec, name, port, out_dir, expected):
    junit = os.path.join(out_dir, "h2spec-%s.xml" % name)
    if os.path.exists(junit):
        os.remove(junit)
    cmd = [h2spec, "--strict", "-h", "127.0.0.1", "-p", str(port), "-o", "3", "-j", junit]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    tail = [l for l in p.stdout.splitlines() if "tests," in l]
    print("[%s] %s" % (name, tail[-1].strip() if tail else "(no summary)"))
    if not os.path.exists(junit):
        print(p.stdout[-4000:], p.stderr[-2000:])
        return None, ["h2spec wrote no report (exit %d)" % p.returncode]
    cases = parse_junit(junit)
    problems = []
    if len(cases) < MIN_CASES:
        problems.append("only %d cases ran" % len(cases))
    for case, desc, failure in cases:
        if failure and case not in expected:
            problems.append("%s (%s): %s" % (case, desc, " | ".join(failure.splitlines())))
        elif failure:
            print("[%s] expected failure %s: %s" % (name, case, expected[case]))
        elif case in expected and not expected[case].startswith("intermittent"):
            print("[%s] WARNING: %s (%s) passes now: take it off h2spec_expected_failures.txt" %
                  (name, case, desc))
    return cases, problems


def main():
    argv = sys.argv[1:]
    binary = hz.harness_binary(sys.argv)
    out_dir = argv[argv.index("--out") + 1] if "--out" in argv else os.getcwd()
    h2spec = find_h2spec()
    if not h2spec:
        ci = os.environ.get("CI", "")
        msg = "h2spec is not installed: run tools/setup (tools/setup-go-tools builds it)"
        if ci and ci != "false":
            print("FAIL: " + msg + "; CI must run this test")
            print("0 passed, 1 failed")
            return 1
        print("skipped: " + msg)
        return 77
    expected = expected_failures()
    backend = hz.Backend()
    total = passed = 0
    problems = []
    runs_failed = 0
    try:
        for name, backend_port in (("direct", 0), ("proxy", backend.port)):
            h = hz.Harness(binary, backend_port=backend_port)
            try:
                cases, p = run(h2spec, name, h.port, out_dir, expected)
                if not h.alive():
                    p.append("h2_harness died during the run")
            finally:
                h.close()
            problems += ["[%s] %s" % (name, x) for x in p]
            runs_failed += bool(p)
            for _, _, failure in cases or []:
                total += 1
                passed += failure is None
    finally:
        backend.close()
    for x in problems:
        print("UNEXPECTED: " + x)
    print("h2spec: %d of %d cases passed over both runs; %d expected failures listed" %
          (passed, total, len(expected)))
    # One line per the runner convention: the runs (direct, proxy) that passed and failed.
    print("%d passed, %d failed" % (2 - runs_failed, runs_failed))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
