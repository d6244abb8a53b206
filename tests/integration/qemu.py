"""Booting the Quartz ELF under QEMU microvm the way a user does, and reading its serial log."""
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "build/quartz-unikernel.elf"
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def kvm_usable():
    """KVM when /dev/kvm opens (here it is PVM, a software KVM); else None and why."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return "cannot open /dev/kvm: %s" % e.strerror
    os.close(fd)
    return None


def accels():
    """Every accelerator this machine can test: tcg always, kvm when it opens."""
    return ["tcg"] + ([] if kvm_usable() else ["kvm"])


def default_accel():
    return "kvm" if not kvm_usable() else "tcg"


def qemu_cmd(accel, append="", machine="microvm", mem="128M", extra=()):
    return ["qemu-system-x86_64", "-M", machine, "-accel", accel, "-m", mem,
            "-kernel", str(KERNEL), "-append", append, "-nodefaults", "-display", "none",
            "-serial", "stdio", *DEBUG_EXIT, *extra]


def run(accel, append="", timeout=60, **kw):
    """Boot to completion (selftest or panic end the machine); returns (status, log)."""
    r = subprocess.run(qemu_cmd(accel, append, **kw), capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout.replace("\r", "")


class Guest:
    """A guest left running (it idles forever): read its log, type on its console, then
    stop it by pid."""

    def __init__(self, accel, append="", **kw):
        self.proc = subprocess.Popen(qemu_cmd(accel, append, **kw), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.log = ""

    def wait_for(self, text, timeout=30):
        return self._wait(lambda: text in self.log, repr(text), timeout)

    def wait_for_line(self, start, timeout=30):
        """The log once a whole line beginning with `start` is in it: a long line can
        reach the host in pieces (the guest drains its log ring in 16-byte bursts)."""
        line = re.compile(r"^%s[^\n]*\n" % re.escape(start), re.M)
        return self._wait(lambda: line.search(self.log), "a whole line %r" % start, timeout)

    def type(self, text):
        """Send `text` to the guest's serial console, as keys typed at make run would be."""
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def command(self, line, answer, timeout=30):
        """Type `line` and Enter; return the whole lines the guest logged from then until
        a whole line starting with `answer` (the last one the command prints)."""
        start = len(self.log)
        self.type(line + "\n")
        pat = re.compile(r"^%s[^\n]*\n" % re.escape(answer), re.M)
        self._wait(lambda: pat.search(self.log, start), "a whole line %r after %r" % (
            answer, line), timeout)
        return self.log[start:pat.search(self.log, start).end()]

    def _wait(self, done, what, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                chunk = b""
            if chunk:
                self.log += chunk.decode(errors="replace").replace("\r", "")
            if done():
                return self.log
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("guest never said %s; log:\n%s" % (what, self.log))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc.stdin.close()


def ping_answered(output):
    """The sequence numbers of the echo requests ping saw answered, in order. With
    `-c N -w DEADLINE` ping sends until N replies are in, so every probe was answered
    exactly when this is [1..N] (-W would count a reply later than two round trips as
    lost, and under PVM round trips vary more than that)."""
    return sorted(int(n) for n in re.findall(r"icmp_seq=(\d+) ", output))


def host_cpu_share(pid, seconds=4.0):
    """Fraction of one host CPU the process used over `seconds` (utime + stime)."""
    stat = "/proc/%d/stat" % pid

    def ticks():
        fields = open(stat).read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    t0, c0 = time.monotonic(), ticks()
    time.sleep(seconds)
    return (ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)


@pytest.fixture
def guest():
    """guest(accel, append, **kw) boots a Guest; every one a test started is stopped when
    it ends. Test modules import it (from qemu import guest) to use it."""
    started = []

    def start(*a, **kw):
        g = Guest(*a, **kw)
        started.append(g)
        return g
    yield start
    for g in started:
        g.stop()
