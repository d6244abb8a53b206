#!/usr/bin/env python3
"""Time the bench's peers from QEMU's start, a few runs each, on loopback only.

  scripts/bench/measure-boot.py floor [--accel tcg|kvm] [--runs N]
      QEMU start -> QEMU exit of build/bench/floor.elf (status 1 through isa-debug-exit).
  scripts/bench/measure-boot.py linux [--accel tcg] [--runs N] [--port P] [--mem 256M]
      QEMU start -> the first HTTP 200 for / through the forwarded port, and -> the
      console's "peer: nginx listening" line; then stops QEMU by its pid.

Prints one line per run and the median. Every run starts and ends its own QEMU.
"""
import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def floor_once(accel):
    cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", accel, "-m", "16M",
           "-kernel", str(ROOT / "build/bench/floor.elf"), "-nodefaults", "-display", "none",
           "-serial", "stdio", *DEBUG_EXIT]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, timeout=30)
    dt = time.monotonic() - t0
    if r.returncode != 1 or b"floor: hello" not in r.stdout:
        sys.exit("floor: unexpected exit %d, output %r" % (r.returncode, r.stdout))
    return dt, {}


def get_200(port, timeout):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", "/")
        r = c.getresponse()
        r.read()
        c.close()
        return r.status == 200
    except (OSError, http.client.HTTPException):
        return False


def linux_once(accel, port, mem, timeout=60):
    env = dict(os.environ, ACCEL=accel, MEM=mem)
    t0 = time.monotonic()
    # run-linux-peer.sh execs QEMU: this pid is QEMU's.
    proc = subprocess.Popen([str(ROOT / "scripts/bench/run-linux-peer.sh"), str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    console = {"log": b"", "listen": None}

    def read_console():
        for line in proc.stdout:
            console["log"] += line
            if console["listen"] is None and b"peer: nginx listening" in line:
                console["listen"] = time.monotonic() - t0
    reader = threading.Thread(target=read_console, daemon=True)
    reader.start()
    t_200 = None
    try:
        # Until the guest's eth0 is up, QEMU's user networking accepts our connection and
        # its SYN to the guest goes unanswered: give up on each try quickly and retry, or
        # slirp's SYN retransmission timer (seconds) would be what we measure.
        while time.monotonic() - t0 < timeout and proc.poll() is None:
            if get_200(port, 0.2):
                t_200 = time.monotonic() - t0
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        reader.join(timeout=5)
    log = console["log"].decode(errors="replace")
    if t_200 is None:
        sys.exit("linux: no 200 within %ds; console:\n%s" % (timeout, log))
    extra = {"console-line": "%.3f s" % console["listen"] if console["listen"] else None}
    for line in log.splitlines():
        if "peer: nginx listening" in line:
            extra["guest"] = repr(line.strip())
    return t_200, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["floor", "linux"])
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--port", type=int, default=18480)
    ap.add_argument("--mem", default="256M")
    a = ap.parse_args()
    times = []
    for i in range(a.runs):
        if a.what == "floor":
            dt, extra = floor_once(a.accel)
        else:
            dt, extra = linux_once(a.accel, a.port, a.mem)
        times.append(dt)
        print("%s %s run %d: %.3f s %s" % (a.what, a.accel, i + 1, dt,
                                          " ".join("%s=%s" % kv for kv in extra.items())))
    print("%s %s: median %.3f s, min %.3f s, max %.3f s over %d runs" %
          (a.what, a.accel, statistics.median(times), min(times), max(times), len(times)))


if __name__ == "__main__":
    main()
