"""The serial console: commands typed on COM1 (help, mem, stats) and answered from the
guest's own counters; unknown commands and over-long lines refused in one line each.

Tests run under every accelerator that works here (TCG always; KVM when /dev/kvm opens)
where the accelerator matters; each test id names it."""
import re
import socket
import subprocess
import urllib.request

import pytest

from qemu import ROOT, guest, accels, default_accel

CONSOLE_UP = "console: type help"
MEM = re.compile(r"^mem: pages in use (\d+), peak (\d+), total (\d+) \(4 KiB each\); (\d+) of "
                 r"those in use are connection tables not touched yet$", re.M)


@pytest.fixture(scope="module", autouse=True)
def kernel_built():
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/quartz-unikernel.elf"], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nic(port=None):
    fwd = ",hostfwd=tcp:127.0.0.1:%d-:80" % port if port else ""
    return ["-netdev", "user,id=n0" + fwd, "-device", "virtio-net-device,netdev=n0"]


def mem(g):
    """(in use, peak, total, reserved) pages, from the mem command."""
    m = MEM.search(g.command("mem", "mem: "))
    assert m, g.log
    return tuple(int(x) for x in m.groups())


@pytest.mark.parametrize("accel", accels())
def test_console_answers_help_mem_stats_and_refuses_the_rest(guest, accel):
    g = guest(accel, "", extra=nic())
    g.wait_for_line(CONSOLE_UP)

    out = g.command("help", "help: stats")
    for name in ("help", "mem", "stats"):
        assert re.search(r"^help: %s +\S" % name, out, re.M), out

    used, peak, total, reserved = mem(g)
    print("%s: %d pages in use (peak %d) of %d, %d of them slots never used" % (
        accel, used, peak, total, reserved))
    # 128 MiB of RAM: the allocator has most of it, and boot took a good share (the TCP
    # connection table alone is half of what was free)...
    assert 0 < used <= peak <= total, g.log
    assert 30000 < total < 128 * 256, g.log
    assert used > total // 4, g.log
    # ...nearly all of it for connections not opened yet: what holds data is a few MiB.
    assert reserved < used and used - reserved < 2048, g.log
    assert reserved > used * 3 // 4, g.log

    out = g.command("stats", "stats: http: ")
    assert MEM.search(out), out
    for layer in ("console", "nic", "eth", "arp", "ip", "icmp", "tcp", "http"):
        assert re.search(r"^stats: %s: .*\d" % layer, out, re.M), "no %s line in:\n%s" % (
            layer, out)
    # The gateway ping at boot went out and came back through every layer it names.
    assert int(re.search(r"^stats: nic: rx (\d+) frames, tx (\d+)", out, re.M).group(2)) > 0
    assert re.search(r"^stats: icmp: rx [1-9]", out, re.M), out

    out = g.command("frobnicate", "console: ")
    assert 'console: unknown command "frobnicate" (try help)\n' in out, out
    # Blanks around a command do not matter; the command still runs.
    assert MEM.search(g.command("  mem  ", "mem: "))

    # Over the 80-character limit but within the 256-byte input ring.
    out = g.command("x" * 120, "console: ")
    assert "console: line longer than 80 characters, discarded\n" in out, out
    assert "unknown command" not in out, out
    # A paste far over the ring: under PVM the task drains it slowly and bytes are lost,
    # but never the Enter, and the line is discarded either way, never run.
    out = g.command("y" * 4000, "console: ")
    assert re.search(r"^console: (line longer than 80 characters|input came faster than the "
                     r"console took it)", out, re.M), out
    print("%s: a 4000-byte paste: %s" % (accel, out.strip().splitlines()[-1]))
    assert "unknown command" not in out, out
    # And the console still works afterwards. (An empty line first: a line that follows
    # lost input is discarded too, and an empty one costs nothing.)
    g.type("\n")
    assert mem(g)[2] == total


def test_pages_in_use_after_serving_are_at_least_those_after_boot(guest):
    port = free_port()
    g = guest(default_accel(), "", extra=nic(port))
    g.wait_for_line(CONSOLE_UP)
    at_boot = mem(g)
    for _ in range(50):
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=30) as r:
            assert r.status == 200
    after = mem(g)
    print("%s: pages in use %d after boot, %d after 50 requests (peak %d)" % (
        default_accel(), at_boot[0], after[0], after[1]))
    assert after[0] >= at_boot[0] and after[1] >= at_boot[1], g.log
    assert after[2] == at_boot[2], g.log
    # Connections took slots from the reserve, never gave any back to it.
    assert after[3] <= at_boot[3] and after[0] - after[3] >= at_boot[0] - at_boot[3], g.log
    out = g.command("stats", "stats: http: ")
    requests = int(re.search(r"^stats: http: \d+ connections now, \d+ accepted, (\d+) requests "
                             r"\(2xx (\d+)", out, re.M).group(1))
    tcp = re.search(r"^stats: tcp: \d+ connections now \(\+(\d+) in TIME_WAIT\), (\d+) opened",
                    out, re.M)
    time_wait, opened = int(tcp.group(1)), int(tcp.group(2))
    assert requests >= 50 and opened >= 50, out
    # The server closes first (urllib says Connection: close), so its side of each recent
    # connection waits out TIME_WAIT, as a record rather than in a slot.
    assert time_wait >= 1, out
