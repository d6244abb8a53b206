"""The guest itself on a Linux tap device, in a namespace the test creates: Linux's ping
and arping against virtio-net, both transports (legacy is microvm's default; modern with
force-legacy=false). Skipped, with the reason, where namespaces or /dev/net/tun are
unavailable."""
import itertools
import os
import re
import subprocess
import time

import pytest

from conftest import tap_unavailable
from qemu import ROOT, accels, default_accel, ping_answered, qemu_cmd

GUEST_IP, LINUX_IP = "10.0.0.2", "10.0.0.1"
TRANSPORTS = {"legacy": [], "modern": ["-global", "virtio-mmio.force-legacy=false"]}
_names = itertools.count()


class TapGuest:
    def __init__(self, accel, transport, tmp):
        self.ns = "qzg%d_%d" % (os.getpid(), next(_names))
        self.log = tmp / "serial.log"
        self.proc = None
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "tuntap", "add", "dev", "qz0", "mode", "tap"],
                    ["ip", "addr", "add", LINUX_IP + "/24", "dev", "qz0"],
                    ["ip", "link", "set", "qz0", "up"]):
            self.sh(*cmd, check=True)
        nic = ["-netdev", "tap,id=n0,ifname=qz0,script=no,downscript=no",
               "-device", "virtio-net-device,netdev=n0", *TRANSPORTS[transport]]
        cmd = qemu_cmd(accel, "ip=%s/24 gw=%s" % (GUEST_IP, LINUX_IP), extra=nic)
        cmd[cmd.index("stdio")] = "file:%s" % self.log
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        # The whole line: the serial port writes it a byte at a time.
        while not re.search(r"network: gateway \S+ (replied in [\d.]+ ms|did not reply.*)\n",
                            self.text()):
            assert time.monotonic() < end and self.proc.poll() is None, self.text()
            time.sleep(0.05)

    def text(self):
        return self.log.read_text() if self.log.exists() else ""

    def sh(self, *cmd, check=False, timeout=120):
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True,
                              text=True, check=check, timeout=timeout)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", self.ns], check=False)


@pytest.fixture
def tap_guest(tmp_path):
    why = tap_unavailable()
    if why:
        pytest.skip(why)
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/quartz-unikernel.elf"], check=True)
    guests = []

    def start(accel, transport):
        g = TapGuest(accel, transport, tmp_path)
        guests.append(g)
        return g
    yield start
    for g in guests:
        g.close()


@pytest.mark.parametrize("accel", accels())
@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_guest_answers_ping_of_every_size_and_arping(tap_guest, accel, transport):
    g = tap_guest(accel, transport)
    assert "network: gateway %s replied" % LINUX_IP in g.text(), g.text()
    for size in (0, 56, 1000, 1472, 4000):  # 4000: reassembled, answered in fragments
        # -w, not -W: a reply later than two round trips was counted lost (ping_answered).
        r = g.sh("ping", "-n", "-c", "3", "-i", "0.05", "-w", "20", "-s", str(size), GUEST_IP)
        assert ping_answered(r.stdout) == [1, 2, 3], "size %d:\n%s" % (size, r.stdout)
        assert "wrong data" not in r.stdout
    r = g.sh("arping", "-c", "2", "-I", "qz0", GUEST_IP)
    assert "Received 2 response(s)" in r.stdout, r.stdout
    assert "52:54:00:12:34:56" in r.stdout.lower()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_guest_loses_nothing_in_a_5000_ping_flood(tap_guest, transport):
    g = tap_guest(default_accel(), transport)
    r = g.sh("ping", "-n", "-f", "-c", "5000", "-W", "2", GUEST_IP, timeout=300)
    assert "5000 packets transmitted, 5000 received" in r.stdout, r.stdout + r.stderr
    print("%s/%s: %s" % (default_accel(), transport, r.stdout.strip().splitlines()[-1]))
