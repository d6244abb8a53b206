"""Fixtures for driving the stack the way a user would: through Linux's own tools.

`node` puts the stack (taprun) on a tap device inside a network namespace created for the
test and removed after it. Nothing here touches the host's own interfaces, and only
processes started here are stopped, by pid.
"""
import itertools
import os
import re
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


# ---- The impairing relay (harness/relay.c) between Linux's tap and the stack's UDP link.

RELAY = ROOT / "build/host/relay"
RELAY_PORT, PEER_PORT = 5000, 5001  # the namespace's own loopback: no clash with anything
TO_STACK, TO_LINUX = "--impair-to-udp", "--impair-to-tap"
UDP_LINK = ("--udp-local", str(PEER_PORT), "--udp-remote", str(RELAY_PORT))


def parse_counters(text):
    """The last block of name=N lines (relay prints one per SIGUSR1 and one on exit)."""
    block = re.split(r"^relay: (?:stopping; )?counters:$", text, flags=re.M)[-1]
    return {k: int(v) for k, v in re.findall(r"^relay\.([a-z0-9_.]+)=(\d+)$", block, re.M)}


class Relay:
    def __init__(self, link):
        self.link = link
        self.log = link.tmp / "relay.log"
        self.proc = None

    def start(self, *impair):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.link.ns, str(RELAY), "--tap", "qz0", "--udp-local",
             str(RELAY_PORT), "--udp-remote", str(PEER_PORT), *impair],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while "relay: up" not in self.text():
            assert time.monotonic() < end and self.proc.poll() is None, self.text()
            time.sleep(0.02)

    def text(self):
        return self.log.read_text() if self.log.exists() else ""

    def snapshot(self):
        """Counters so far (SIGUSR1), the relay left running."""
        marker = "relay: counters:"
        blocks = self.text().count(marker)
        self.proc.send_signal(signal.SIGUSR1)
        end = time.monotonic() + 5
        while True:
            text = self.text()
            if text.count(marker) > blocks and "relay.udp.refused=" in text.split(marker)[-1]:
                return parse_counters(text)
            assert time.monotonic() < end, text
            time.sleep(0.02)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=10)
        return parse_counters(self.text())


@pytest.fixture
def relay_link(linux_link):
    """linux_link plus a relay on qz0 (not started): Linux quiet but for what tests send."""
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/host/relay"], check=True)
    linux_link.sh("sysctl", "-q", "-w", "net.ipv6.conf.qz0.disable_ipv6=1")
    linux_link.sh("ip", "neigh", "replace", STACK_IP, "lladdr", STACK_MAC, "dev", "qz0", "nud",
                  "permanent")
    relay = Relay(linux_link)
    linux_link.relay = relay
    try:
        yield linux_link
    finally:
        relay.stop()


def start(link, *impair):
    """The relay with these impairments, then taprun on its UDP side."""
    link.relay.start(*impair)
    link.start(link=UDP_LINK)
