"""Fixtures for driving the stack the way a user would: through Linux's own tools.

`node` puts the stack (taprun) on a tap device inside a network namespace created for the
test and removed after it. Nothing here touches the host's own interfaces, and only
processes started here are stopped, by pid.
"""
import itertools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAPRUN = ROOT / "build/host/taprun"
REPLAY = ROOT / "build/host/replay"
STACK_IP, LINUX_IP = "10.0.0.2", "10.0.0.1"
STACK_MAC = "52:54:00:12:34:56"
_names = itertools.count()


def tap_unavailable():
    """Why the tap tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces and tap devices"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun on this machine"
    if not shutil.which("ip"):
        return "no iproute2 'ip' command"
    return None


@pytest.fixture(scope="session")
def built():
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/host/taprun", "build/host/replay"],
                   check=True)


class Node:
    """The stack running in taprun, and the Linux side of its link, in one namespace."""

    def __init__(self, ns, tmp):
        self.ns = ns
        self.tmp = tmp
        self.proc = None
        self.log = tmp / "taprun.log"

    def sh(self, *cmd, check=True, timeout=60, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True,
                              text=True, check=check, timeout=timeout, **kw)

    def start(self, *args, link=("--tap", "qz0")):
        """Start taprun; `link` may name a UDP link instead (--udp-local P --udp-remote Q)."""
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, str(TAPRUN), *link,
                                      *args], stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "taprun: up on" in self.log.read_text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("taprun did not come up:\n" + self.log.read_text())

    def stop(self):
        """Stop taprun and return everything it printed (its counters come last)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("taprun ignored SIGINT")
        return self.log.read_text() if self.log.exists() else ""

    def counters(self):
        out = {}
        for line in self.stop().splitlines():
            key, eq, value = line.partition("=")
            if eq and "." in key and value.isdigit():
                out[key] = int(value)
        return out


@pytest.fixture
def linux_link(built, tmp_path):
    """A namespace with a tap device whose Linux side is 10.0.0.1/24; the stack not started."""
    why = tap_unavailable()
    if why:
        pytest.skip(why)
    ns = "qzt%d_%d" % (os.getpid(), next(_names))
    subprocess.run(["ip", "netns", "add", ns], check=True)
    node = Node(ns, tmp_path)
    try:
        node.sh("ip", "link", "set", "lo", "up")
        node.sh("ip", "tuntap", "add", "dev", "qz0", "mode", "tap")
        node.sh("ip", "addr", "add", LINUX_IP + "/24", "dev", "qz0")
        node.sh("ip", "link", "set", "qz0", "up")
        yield node
    finally:
        try:
            node.stop()
        finally:  # the namespace goes even if taprun misbehaved
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.fixture
def node(linux_link):
    """The stack up on the link, at 10.0.0.2/24, ready to be pinged."""
    linux_link.start()
    return linux_link
