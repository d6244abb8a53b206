#!/usr/bin/python3
"""`make bench`: every benchmark, Quartz and its peer in alternation, several rounds; then a
table of medians (min-max, Quartz/peer), build/bench.json, a plot and BENCHMARKS.md.

  scripts/bench/run.py               the full run (~12 min on 2 cores)
  BENCH_QUICK=1 scripts/bench/run.py fewer rounds, 1 s wrk runs, Quartz's KVM and the
                                     footprint rows in the first http round only (~3.5 min)
  BENCH_ONLY=boot,http,host,size     a subset of the groups
`make bench` runs it after scripts/bench/deps.sh and `make all`. A quick or partial run
writes build/bench/{BENCHMARKS.md,results.png} instead of the committed BENCHMARKS.md and
bench/results.png; build/bench.json (the rows) and build/bench/meta.json (machine, load,
problems) are written every time, the guests' consoles kept in build/bench/logs/.

Groups, each alternating A B A B .. over rounds (A = Quartz, B = its peer):
  boot  QEMU start -> first HTTP 200 through user networking (Quartz, Linux + nginx), the
        floor (QEMU start -> exit of a PVH ELF that only prints), the guests' own
        entry -> ready figures and QEMU start -> their listening line on the console.
        Then where Quartz's boot goes (boot_profile.py): its phases by its own clock
        beside the blocks translated and instructions executed per phase.
  http  wrk over a tap device in a namespace made here (10.0.0.1 <-> guest 10.0.0.2):
        1/10/100 connections, keep-alive and Connection: close, / and a 1 MiB file;
        Quartz and Linux under TCG with the same QEMU flags, Quartz under KVM beside them.
        Per boot also: host CPU of the idle guest, QEMU's RSS after boot and after 10k
        connections, and at both points the pages in use as the guest itself counts them
        (`mem` typed on its serial console, which this script owns as QEMU's stdin).
        A guest that stops answering is diagnosed (ping, QEMU's CPU), reported under
        Problems and rebooted; the run goes on.
  host  bench/host (make bench-host): the stacks in one process, Quartz vs lwIP.
  size  ELF sizes (site, default site, a one-file site) and the smallest -m that serves.

Needs root (network namespace, tap) for the http group; without it that group is skipped.
Every QEMU, wrk and curl started here is stopped by its own pid; the namespace is deleted.
"""
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from boot_profile import BootProfile
from render import fmt, markdown_table, median

ROOT = Path(__file__).resolve().parents[2]
os.chdir(ROOT)

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
OUT = Path("build/bench")
LOGS = OUT / "logs"
SITE = OUT / "site"                        # site/ plus big.bin, for both guests
ELF = OUT / "quartz/quartz-unikernel.elf"  # Quartz built around SITE
ELF_DEFAULT = OUT / "quartz-default/quartz-unikernel.elf"   # around site/
ELF_MIN = OUT / "quartz-min/quartz-unikernel.elf"           # around a one-file site
FLOOR = OUT / "floor.elf"
LINUX = OUT / "linux"
BIG_BYTES = 1 << 20

# Rounds and durations. The http group dominates: 3 guests x 12 wrk runs per round.
CFG = {
    "boot_rounds": 3 if QUICK else 5,
    "http_rounds": 2 if QUICK else 3,
    "wrk_seconds": 1 if QUICK else 3,
    "idle_seconds": 2 if QUICK else 5,
    "conns_for_rss": 10000,
    "conns_seconds": 15 if QUICK else 25,   # a guest too slow for 10k gets no RSS figure
    "host_runs": 2 if QUICK else 3,
    "host_args": "--bytes 536870912" if QUICK else "",
}
CONNS = (1, 10, 100)
MODES = ("keepalive", "close")
PAGES = {"small": "/", "big": "/big.bin"}
NS_IP, GUEST_IP = "10.0.0.1", "10.0.0.2"
TAP = "qzb0"
BOOT_MEM = "128M"      # the same for both guests in the boot group (make run's default)
VM_MEM = "256M"        # the same for both guests in the http group
PEER = "linux-nginx"

started = []           # every Popen we made, so cleanup can stop exactly those
netns = None
events = []            # what went wrong, one string per occurrence (counted in the report)
boot_prof = BootProfile()  # where Quartz's boot goes, filled by bench_boot


def say(msg):
    print("bench: " + msg, flush=True)


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


def sh(*cmd, check=True, timeout=600):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if check and r.returncode:
        sys.exit("bench: %s failed (%d):\n%s" % (" ".join(map(str, cmd)), r.returncode,
                                                 r.stdout[-4000:]))
    return r


def spawn(cmd, log, env=None, stdin=None):
    p = subprocess.Popen(cmd, stdin=stdin, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                         env=env, start_new_session=True)
    started.append(p)
    return p


def stop(p):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p and p.stdin:
        p.stdin.close()


def cleanup():
    for p in started:
        stop(p)
    if netns:
        subprocess.run(["ip", "netns", "del", netns], stderr=subprocess.DEVNULL)


def on_signal(signum, frame):
    raise SystemExit("bench: stopped by signal %d" % signum)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- Results ------------------------------------------------------------------------------

class Row:
    """One line of the table: Quartz's samples against the peer's, plus Quartz under KVM."""

    def __init__(self, group, name, unit, better, peer=PEER, accel="tcg", target=None,
                 note=""):
        self.group, self.name, self.unit, self.better = group, name, unit, better
        self.peer, self.accel, self.target, self.note = peer, accel, target, note
        self.q, self.p, self.k = [], [], []
        self.failures = 0
        self.extra = {}

    def summary(self):
        q, p, k = median(self.q), median(self.p), median(self.k)
        ratio = q / p if q is not None and p else None
        d = {"row": self.name, "quartz": sig(q), "peer": self.peer,
             "peer_value": sig(p), "unit": self.unit, "better": self.better,
             "ratio": sig(ratio, 3), "accel": self.accel, "group": self.group,
             "quartz_min": sig(min(self.q)) if self.q else None,
             "quartz_max": sig(max(self.q)) if self.q else None,
             "peer_min": sig(min(self.p)) if self.p else None,
             "peer_max": sig(max(self.p)) if self.p else None,
             "quartz_kvm": sig(k), "runs": len(self.q), "peer_runs": len(self.p)}
        if self.k:
            d["quartz_kvm_min"], d["quartz_kvm_max"] = sig(min(self.k)), sig(max(self.k))
        if self.failures:
            d["failures"] = self.failures
        if self.target:
            text, check = self.target
            d["target"] = text
            d["target_met"] = check(q, p, k)
        if self.note:
            d["note"] = self.note
        d.update(self.extra)
        if "short" in d:     # runs that gave no figure, per guest
            short = d.pop("short")
            d["missing"] = {w: short.count(w) for w in sorted(set(short))}
        return d


def sig(x, digits=4):
    """Round to a few significant digits (JSON readers want numbers, not noise)."""
    if x is None:
        return None
    if x == 0:
        return 0
    from math import floor, log10
    return round(x, max(0, digits - 1 - int(floor(log10(abs(x))))))


rows = {}


def row(group, name, unit, better, **kw):
    if name not in rows:
        rows[name] = Row(group, name, unit, better, **kw)
    return rows[name]


def at_most(limit):
    return lambda q, p, k: None if q is None else q <= limit


def ratio_at_most(limit):
    return lambda q, p, k: None if q is None or not p else q / p <= limit


def ratio_at_least(limit):
    return lambda q, p, k: None if q is None or not p else q / p >= limit


def both_at_most(limit):
    """Quartz under TCG and under KVM (when it ran) within the limit."""
    return lambda q, p, k: None if q is None else q <= limit and (k is None or k <= limit)


# ---- Preparation ----------------------------------------------------------------------------

def prepare():
    """The bench site, the Quartz ELFs, the floor and the Linux peer."""
    LOGS.mkdir(parents=True, exist_ok=True)
    # site/ plus a seeded random 1 MiB file; rewritten only when it differs, so make's
    # stamp sees no change on a second run.
    want = {}
    for f in sorted(Path("site").rglob("*")):
        if f.is_file():
            want[f.relative_to("site")] = f.read_bytes()
    want[Path("big.bin")] = random.Random(20240601).randbytes(BIG_BYTES)
    for rel, data in want.items():
        dst = SITE / rel
        if not dst.is_file() or dst.read_bytes() != data:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
    for f in SITE.rglob("*"):
        if f.is_file() and f.relative_to(SITE) not in want:
            f.unlink()
    minsite = OUT / "min-site"
    minsite.mkdir(parents=True, exist_ok=True)
    idx = minsite / "index.html"
    if not idx.exists():
        idx.write_text("<!doctype html><title>Quartz</title><p>Served by Quartz.</p>\n")
    for elf, site in ((ELF, SITE), (ELF_DEFAULT, Path("site")), (ELF_MIN, minsite)):
        say("building %s (site %s)" % (elf, site))
        sh("make", "-s", "BUILD=%s" % elf.parent, "SITE=%s" % site, str(elf))
    sh("scripts/bench/build-floor.sh", str(FLOOR))
    if "boot" in groups or "http" in groups or "size" in groups:
        say("building the Linux peer around %s (scripts/bench/build-linux-peer.sh)" % SITE)
        r = sh("scripts/bench/build-linux-peer.sh", str(SITE), timeout=1800)
        for line in r.stdout.splitlines()[-3:]:
            say("  " + line)


# ---- Boot ------------------------------------------------------------------------------------

def quartz_cmd(accel, elf=ELF, mem="128M", netdev=None):
    return ["qemu-system-x86_64", "-M", "microvm", "-accel", accel, "-m", mem,
            "-kernel", str(elf), "-append",
            "ip=%s/24 gw=%s port=80" % ((GUEST_IP, NS_IP) if netdev and "tap" in netdev
                                        else ("10.0.2.15", "10.0.2.2")),
            "-nodefaults", "-display", "none", "-serial", "stdio",
            "-netdev", netdev, "-device", "virtio-net-device,netdev=n0"]


def linux_env(accel="tcg", mem="256M", netdev=None):
    env = dict(os.environ, ACCEL=accel, MEM=mem)
    if netdev:
        env.update(NETDEV=netdev, GUEST_IP=GUEST_IP + "/24", GUEST_GW="none")
    return env


class Console:
    """A QEMU started with its serial console on a pipe: every line goes to a log file, and
    the host time (since start) at which each pattern first appeared is kept."""

    def __init__(self, cmd, log, patterns, env=None):
        self.patterns, self.found, self.log = patterns, {}, log
        self.text = []
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        started.append(self.proc)
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        with open(self.log, "wb") as f:
            for line in self.proc.stdout:
                now = time.monotonic() - self.t0
                f.write(line)
                text = line.decode(errors="replace")
                self.text.append(text)
                for key, pat in self.patterns.items():
                    if key not in self.found and pat in text:
                        self.found[key] = now

    def stop(self):
        stop(self.proc)
        self.thread.join(timeout=5)
        return "".join(self.text)


def get_200(port, timeout):
    """One GET / on 127.0.0.1:port: True on a 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            head = b""
            while len(head) < 12:
                data = s.recv(64)
                if not data:
                    break
                head += data
            return head.startswith(b"HTTP/1.") and head[9:12] == b"200"
    except OSError:
        return False


def first_200(port, proc, timeout, t0, ready=lambda: True):
    """Seconds from t0 (monotonic) until a GET / on 127.0.0.1:port first returns 200.

    Until the guest listens, slirp accepts every connection anyway and its SYN to the
    guest is lost and retransmitted seconds later, and each such dead connection still
    costs the guest a SYN when it comes up (under this machine's KVM that added ~0.8 s).
    So no try is made before ready() (the console's listening line, which the 200 cannot
    precede), or before 10 s have passed without it; each try then waits up to 2 s.
    """
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        if not ready() and time.monotonic() - t0 < 10:
            time.sleep(0.0005)
            continue
        if get_200(port, 2.0):
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def boot_to_200(kind, accel, timeout=90):
    """QEMU start -> first 200 through user networking; and the console's figures."""
    port = free_port()
    log = LOGS / ("boot-%s-%s.log" % (kind, accel))
    netdev = "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80" % port
    if kind == "quartz":
        con = Console(quartz_cmd(accel, mem=BOOT_MEM, netdev=netdev), log,
                      {"listen": "http: serving"})
    else:
        # run-linux-peer.sh execs QEMU: the pid is QEMU's.
        con = Console(["scripts/bench/run-linux-peer.sh", str(port)], log,
                      {"listen": "peer: nginx listening"}, env=linux_env(accel, BOOT_MEM))
    try:
        t200 = first_200(port, con.proc, timeout, con.t0, lambda: "listen" in con.found)
        time.sleep(0.05)
    finally:
        text = con.stop()
    if t200 is None:
        say("%s %s: no 200 within %d s; console tail:\n%s" % (kind, accel, timeout,
                                                             tail(log)))
        return None
    res = {"to_200": t200 * 1e3, "to_listen_line": con.found.get("listen", 0) * 1e3 or None,
           "console": text}
    if kind == "quartz":
        m = re.search(r"boot: ready in ([\d.]+) ms from entry", text)
        res["entry"] = float(m.group(1)) if m else None
    else:
        m = re.search(r"peer: nginx listening .*?, ([\d.]+) s after kernel start", text)
        res["entry"] = float(m.group(1)) * 1e3 if m else None
    return res


def floor_exit(accel):
    cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", accel, "-m", "16M",
           "-kernel", str(FLOOR), "-nodefaults", "-display", "none", "-serial", "stdio",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, timeout=30)
    dt = time.monotonic() - t0
    if r.returncode != 1 or b"floor: hello" not in r.stdout:
        say("floor %s: unexpected exit %d" % (accel, r.returncode))
        return None
    return dt * 1e3


def tail(path, n=15):
    try:
        lines = path.read_bytes().decode(errors="replace").replace("\r", "").splitlines()
        return "\n".join("    " + l for l in lines[-n:])
    except OSError:
        return "    (no log)"


def bench_boot():
    g = "boot"
    linux_x40 = ("Quartz ≥ 40x faster than Linux (ratio ≤ 0.025)", ratio_at_most(0.025))
    b200 = row(g, "boot_to_200_tcg", "ms", "lower", target=linux_x40,
               note="QEMU start → first HTTP 200 through user networking (GET /, probed "
                    "from the console's listening line on); both guests -m %s, each round "
                    "floor, Quartz, Linux under TCG, then floor and Quartz under KVM"
                    % BOOT_MEM)
    over = row(g, "boot_to_200_over_floor_tcg", "ms", "lower",
               target=("Quartz ≤ floor + 15 ms", both_at_most(15)),
               note="the same minus the floor (QEMU start → exit of a PVH ELF that prints "
                    "one line) of the same round")
    listen = row(g, "boot_to_listen_line_tcg", "ms", "lower",
                 note="QEMU start → the console's listening line seen by the host "
                      "(Quartz 'http: serving', Linux 'peer: nginx listening')")
    entry = row(g, "entry_to_ready_tcg", "ms", "lower",
                target=("Quartz ≤ 2 ms", both_at_most(2)),
                note="the guest's own clock: Quartz 'boot: ready in N ms from entry' "
                     "(its web server listening); Linux '/proc/uptime' when nginx "
                     "listens (10 ms resolution)")
    kvm = kvm_usable()
    floors = {"tcg": [], "kvm": []}
    for r in range(CFG["boot_rounds"]):
        order = [("floor", "tcg"), ("quartz", "tcg"), ("linux", "tcg")]
        if kvm:
            order += [("floor", "kvm"), ("quartz", "kvm")]
        fl = {}
        for kind, accel in order:
            if kind == "floor":
                fl[accel] = floor_exit(accel)
                if fl[accel] is not None:
                    floors[accel].append(fl[accel])
                boot_prof.add_floor(accel, fl[accel])
                continue
            res = boot_to_200(kind, accel)
            if res is None:
                for x in (b200, over, listen, entry):
                    x.failures += 1
                continue
            if kind == "quartz":
                boot_prof.add_boot(accel, res, fl.get(accel))
            if kind == "quartz" and accel == "tcg":
                dst = "q"
            elif kind == "quartz":
                dst = "k"
            else:
                dst = "p"
            getattr(b200, dst).append(res["to_200"])
            if fl.get(accel) is not None:
                getattr(over, dst).append(res["to_200"] - fl[accel])
            if res["to_listen_line"]:
                getattr(listen, dst).append(res["to_listen_line"])
            if res["entry"] is not None:
                getattr(entry, dst).append(res["entry"])
        say("boot round %d/%d: quartz tcg %s ms, linux %s ms, quartz kvm %s ms, floor "
            "tcg %s ms (load %s)" % (r + 1, CFG["boot_rounds"], fmt(last(b200.q)),
                                     fmt(last(b200.p)), fmt(last(b200.k)),
                                     fmt(fl.get("tcg")), load()))
    over.extra["floor_tcg_ms"] = sig(median(floors["tcg"]))
    over.extra["floor_kvm_ms"] = sig(median(floors["kvm"]))
    over.note += "; floor median %s ms (tcg), %s ms (kvm)" % (
        fmt(median(floors["tcg"])), fmt(median(floors["kvm"])))
    say("boot profile: blocks and instructions per phase (scripts/boot-blocks.py)")
    boot_prof.count(ELF)


def last(xs):
    return xs[-1] if xs else None


# ---- HTTP over a tap device ----------------------------------------------------------------

def ns(*cmd):
    return ["ip", "netns", "exec", netns, *cmd]


def make_netns():
    global netns
    name = "qzbench%d" % os.getpid()
    sh("ip", "netns", "add", name)
    netns = name
    sh(*ns("ip", "link", "set", "lo", "up"))
    sh(*ns("ip", "tuntap", "add", "dev", TAP, "mode", "tap"))
    # No IPv6 chatter (router solicitations, DAD) on the link under test.
    sh(*ns("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % TAP), check=False)
    sh(*ns("ip", "addr", "add", NS_IP + "/24", "dev", TAP))
    sh(*ns("ip", "link", "set", TAP, "up"))


def del_netns():
    global netns
    if netns:
        subprocess.run(["ip", "netns", "del", netns], stderr=subprocess.DEVNULL)
        netns = None


def curl_ok(path="/", timeout=0.5, out="/dev/null"):
    r = subprocess.run(ns("curl", "-sf", "-m", str(timeout), "-o", out,
                          "http://%s%s" % (GUEST_IP, path)),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


class TapGuest:
    """Quartz (tcg or kvm) or the Linux peer on the namespace's tap device."""

    checked = set()    # the guests whose site was checked byte for byte (once each)

    def __init__(self, who):
        self.who = who          # quartz-tcg, linux-tcg, quartz-kvm
        self.proc = None
        self.boots = 0

    def start(self):
        self.boots += 1
        self.log = LOGS / ("tap-%s-%d.log" % (self.who, self.boots))
        netdev = "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP
        # ip netns exec (and env, and run-linux-peer.sh) exec: the pid is QEMU's.
        if self.who.startswith("quartz"):
            accel = self.who.split("-")[1]
            self.proc = spawn(ns(*quartz_cmd(accel, mem=VM_MEM, netdev=netdev)), self.log,
                              stdin=subprocess.PIPE)
        else:
            self.proc = spawn(ns("scripts/bench/run-linux-peer.sh"), self.log,
                              env=linux_env("tcg", VM_MEM, netdev), stdin=subprocess.PIPE)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 90:
            if self.proc.poll() is not None:
                break
            if curl_ok("/", 0.3):
                if self.who in TapGuest.checked:
                    return True
                TapGuest.checked.add(self.who)
                return self.check_site()
            time.sleep(0.05)
        say("%s did not come up on the tap; console tail:\n%s" % (self.who, tail(self.log)))
        self.stop()
        return False

    def check_site(self):
        """The same bytes as build/bench/site for / and /big.bin, or this guest is wrong."""
        got = LOGS / "got"
        for path, f in (("/", SITE / "index.html"), ("/big.bin", SITE / "big.bin")):
            if not curl_ok(path, 30, str(got)) or got.read_bytes() != f.read_bytes():
                say("%s serves %s differently from %s" % (self.who, path, f))
                self.stop()
                return False
        return True

    def alive(self):
        """Still answering (a slow guest gets three tries of 5 s)."""
        if not self.proc or self.proc.poll() is not None:
            return False
        return any(curl_ok("/", 5) for _ in range(3))

    # Quartz adds how many of those are connection tables not touched yet (allocated whole
    # at boot, touched as connections need them): the row counts the rest, the pages that
    # hold something.
    MEM = re.compile(rb"^mem: pages in use (\d+)(?:.*; (\d+) of those in use are)?", re.M)

    def pages_in_use(self, timeout=15):
        """Type `mem` on the guest's serial console and read its answer from the log: the
        4 KiB pages in use as the guest counts them (Quartz's page allocator; the Linux
        peer's init answers from /proc/meminfo), or None without an answer."""
        seen = len(self.MEM.findall(self.log.read_bytes()))
        try:
            self.proc.stdin.write(b"mem\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout and self.proc.poll() is None:
            found = self.MEM.findall(self.log.read_bytes())
            if len(found) > seen:
                used, reserved = found[seen]
                return int(used) - int(reserved or 0)
            time.sleep(0.05)
        return None

    def diagnose(self):
        """What a guest that stopped answering still does: ARP/ICMP, host CPU."""
        r = subprocess.run(ns("ping", "-c", "3", "-i", "0.3", "-W", "1", GUEST_IP),
                           capture_output=True, text=True)
        m = re.search(r"(\d+) received", r.stdout)
        cpu = cpu_share(self.proc.pid, 1.0) if self.proc.poll() is None else None
        return "ping %s/3 replies, QEMU at %s%% of a CPU" % (
            m.group(1) if m else "?", "%.0f" % cpu if cpu is not None else "?")

    def stop(self):
        stop(self.proc)


def wrk(conns, mode, path, seconds):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s", "--latency"]
    if mode == "close":
        cmd += ["-H", "Connection: close"]
    cmd.append("http://%s%s" % (GUEST_IP, path))
    r = subprocess.run(ns(*cmd), capture_output=True, text=True, timeout=seconds + 60)
    return parse_wrk(r.stdout + r.stderr)


UNITS_T = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
UNITS_B = {"B": 1.0 / 2**20, "KB": 1.0 / 2**10, "MB": 1.0, "GB": 2.0**10, "TB": 2.0**20}


def parse_wrk(text):
    """wrk's report -> {rps, mibps, p50, p99 (ms), requests, errors, non2xx}."""
    out = {"text": text}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", text)
    out["requests"] = int(m.group(1)) if m else 0
    out["mib_read"] = float(m.group(4)) * UNITS_B.get(m.group(5), 0) if m else 0.0
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    out["mibps"] = float(m.group(1)) * UNITS_B.get(m.group(2), 0) if m else 0.0
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(\w+)" % pct, text, re.M)
        # No latency without a completed request (wrk prints 0.00us then).
        out["p" + pct] = float(m.group(1)) * UNITS_T[m.group(2)] \
            if m and out["requests"] else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] = sum(map(int, m.groups())) if m else 0
    out["timeouts"] = int(m.group(4)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    return out


def cpu_share(pid, seconds):
    """Percent of one host CPU the process used over `seconds` (utime + stime)."""
    def ticks():
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    t0, c0 = time.monotonic(), ticks()
    time.sleep(seconds)
    return 100.0 * (ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)


def rss_mib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def many_connections(n, limit):
    """Up to n short connections (GET / with Connection: close, 10 at a time), for at
    most `limit` seconds, giving up early when the rate so far cannot reach n in time;
    returns how many completed."""
    done, t0 = 0, time.monotonic()
    while done < n and time.monotonic() - t0 < limit:
        w = wrk(10, "close", "/", 2)
        if not w["requests"]:
            break
        done += w["requests"]
        spent = time.monotonic() - t0
        if done + done / spent * (limit - spent) < n:
            break
    return done


def http_rows():
    """The rows of the http group, keyed by (page, mode, conns, metric)."""
    g = "http"
    out = {}
    x3 = ("Quartz ≥ 3x nginx at 10 and 100 connections", ratio_at_least(3))
    for page in PAGES:
        for mode in MODES:
            for c in CONNS:
                base = "http_%s_%s_c%d" % (page, mode, c)
                what = "%s %s, %s, %d conn" % ("GET", PAGES[page], mode, c)
                if page == "small":
                    out[page, mode, c, "rps"] = row(
                        g, base + "_rps_tcg", "req/s", "higher",
                        target=x3 if c >= 10 else None, note=what)
                else:
                    out[page, mode, c, "mibps"] = row(
                        g, base + "_mibps_tcg", "MiB/s", "higher",
                        target=x3 if c >= 10 else None, note=what + " (1 MiB)")
                out[page, mode, c, "p50"] = row(g, base + "_p50_tcg", "ms", "lower",
                                                note=what)
                out[page, mode, c, "p99"] = row(g, base + "_p99_tcg", "ms", "lower",
                                                note=what)
    for (page, mode, c, metric), x in out.items():
        x.metric = metric
    return out


METRICS = ("rps", "mibps", "p50", "p99")


def bench_http():
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        say("http group skipped: needs root and /dev/net/tun (namespace and tap device)")
        return
    table = http_rows()
    g = "size"
    idle = row(g, "idle_host_cpu_pct_tcg", "% of a CPU", "lower",
               target=("Quartz ≈ 0% (≤ 1%)", both_at_most(1)),
               note="QEMU's utime+stime over %d s, guest booted and idle on the tap"
                    % CFG["idle_seconds"])
    rss0 = row(g, "qemu_rss_after_boot_mib_tcg", "MiB", "lower",
               note="QEMU's VmRSS (guest pages touched + QEMU itself), -m %s" % VM_MEM)
    rss1 = row(g, "qemu_rss_after_10k_conns_mib_tcg", "MiB", "lower",
               note="the same after 10k connections (GET / with Connection: close)")
    pages0 = row(g, "guest_pages_after_boot", "pages", "lower",
                 note="4 KiB pages in use as the guest counts them (`mem` typed on its serial "
                      "console, guest idle on the tap). Quartz: its page allocator's pages in "
                      "use less those of connection tables not touched yet (the TCP and HTTP "
                      "tables and TIME_WAIT records are taken whole at boot, sized to memory, "
                      "and a slot or record is first touched when a connection first uses "
                      "it); its image, site included, "
                      "is not counted. "
                      "Linux: MemTotal - MemAvailable from /proc/meminfo, what it could not "
                      "give new work (kernel, nginx, the initramfs it keeps in RAM, site "
                      "included; reclaimable cache not counted): its nearest figure to "
                      "allocated pages")
    pages1 = row(g, "guest_pages_after_10k_conns", "pages", "lower",
                 note="the same after the 10k connections")
    guests = ["quartz-tcg", "linux-tcg"] + (["quartz-kvm"] if kvm_usable() else [])
    make_netns()
    try:
        for r in range(CFG["http_rounds"]):
            for who in guests:
                if QUICK and r and who == "quartz-kvm":
                    continue    # a quick run takes Quartz's KVM figures once
                t_round = time.monotonic()
                # A quick run measures the footprint in its first round only.
                summary = http_round(who, table, idle, (rss0, rss1), (pages0, pages1),
                                     r == 0 or not QUICK)
                say("http round %d/%d %s: %s (%.0f s, load %s)" % (
                    r + 1, CFG["http_rounds"], who, summary, time.monotonic() - t_round,
                    load()))
    finally:
        del_netns()


def http_round(who, table, idle, rss, pages, footprint):
    """One boot of one guest on the tap: (footprint:) idle CPU, RSS and the guest's pages in
    use, 10k connections, RSS and pages again; then every wrk run."""
    d = {"quartz-tcg": "q", "linux-tcg": "p", "quartz-kvm": "k"}[who]
    rss0, rss1 = rss

    def guest_pages(x):
        n = gst.pages_in_use()
        if n is None:
            x.extra.setdefault("short", []).append("%s (no answer to mem)" % who)
            say("%s: no answer to mem on its console" % who)
        else:
            getattr(x, d).append(n)
    gst = TapGuest(who)
    if not gst.start():
        for x in table.values():
            x.failures += 1
        return "did not boot"
    summary = []
    try:
        if footprint:
            time.sleep(1)
            getattr(idle, d).append(cpu_share(gst.proc.pid, CFG["idle_seconds"]))
            getattr(rss0, d).append(rss_mib(gst.proc.pid))
            guest_pages(pages[0])
            # 10k connections; they also warm the guest (and TCG's translation cache).
            n = many_connections(CFG["conns_for_rss"], CFG["conns_seconds"])
            if n >= CFG["conns_for_rss"]:
                getattr(rss1, d).append(rss_mib(gst.proc.pid))
                guest_pages(pages[1])
            else:
                for x in (rss1, pages[1]):
                    x.extra.setdefault("short", []).append("%s (%d connections in %d s)" % (
                        who, n, CFG["conns_seconds"]))
                say("%s: only %d of %d connections in %d s: no RSS figure" % (
                    who, n, CFG["conns_for_rss"], CFG["conns_seconds"]))
        else:
            many_connections(2000, 5)    # warm-up only
        for page, path in PAGES.items():
            for mode in MODES:
                for c in CONNS:
                    key = (page, mode, c)
                    mine = [table[key + (m,)] for m in METRICS if key + (m,) in table]
                    if not gst.alive():
                        why = gst.diagnose()
                        say("%s stopped answering before %s %s c%d (%s); console tail:\n%s"
                            % (who, page, mode, c, why, tail(gst.log)))
                        events.append("%s stopped answering under load and was rebooted "
                                      "(%s; logs: build/bench/logs/tap-%s-*.log)" % (
                                          who, why, who))
                        gst.stop()
                        if not gst.start():
                            for x in mine:
                                x.failures += 1
                            return ", ".join(summary + ["stopped; no reboot"])
                        many_connections(2000, 5)    # warm-up again
                    w = wrk(c, mode, path, CFG["wrk_seconds"])
                    # The 1 MiB file may not finish within a short run at 100
                    # connections: its MiB/s (bytes read) still counts, its latency not.
                    if w["non2xx"] or not (w["requests"] or (page == "big" and
                                                              w["mib_read"])):
                        for x in mine:
                            x.failures += 1
                        say("%s %s %s c%d: %d requests, %d non-2xx, %d socket errors" % (
                            who, page, mode, c, w["requests"], w["non2xx"], w["errors"]))
                        (LOGS / ("wrk-fail-%s-%s-%s-c%d.txt" % (who, page, mode, c))
                         ).write_text(w["text"])
                        continue
                    for m in METRICS:
                        if key + (m,) in table and w[m] is not None:
                            getattr(table[key + (m,)], d).append(w[m])
                    if not w["requests"]:
                        for x in mine[1:]:
                            x.extra.setdefault("short", []).append(who)
                        events.append("%s: no 1 MiB response completed within a %d s run "
                                      "(MiB/s counted, latency rows left empty)" % (
                                          who, CFG["wrk_seconds"]))
                    if w["errors"]:
                        x = mine[0]
                        x.extra["socket_errors"] = x.extra.get("socket_errors", 0) + \
                            w["errors"]
                    if c == 10 and mode == "keepalive":
                        summary.append("%s %s %s" % (page, fmt(w[mine[0].metric]),
                                                     mine[0].unit))
        return ", ".join(summary)
    finally:
        gst.stop()


# ---- Host stacks -------------------------------------------------------------------------

HOST_ROWS = {
    "host_tcp_bulk": "2 GiB over one TCP connection, both ends in one process",
    "host_rx_frames": "receive path, a mix of ARP, ICMP echo, TCP data, pure ACK",
    "host_rx_arp": "receive path, ARP requests",
    "host_rx_icmp": "receive path, ICMP echo requests",
    "host_rx_tcp_data": "receive path, in-order TCP data (64 B)",
    "host_rx_tcp_ack": "receive path, pure ACKs",
    "host_rx_tcp_mss": "receive path, full-sized TCP segments",
    "host_http_conns": "HTTP/1.1 connections: connect, GET /, read, close",
}


def bench_host():
    say("host stacks: make bench-host BENCH_RUNS=%d (quartz lwip alternately)"
        % CFG["host_runs"])
    r = sh("make", "-s", "bench-host", "BENCH_RUNS=%d" % CFG["host_runs"],
           "BENCH_HOST_ARGS=%s" % CFG["host_args"], check=False, timeout=1800)
    if r.returncode:
        say("bench-host failed (%d):\n%s" % (r.returncode, r.stdout[-3000:]))
        return
    runs = [json.loads(l) for l in open(OUT / "host/results.jsonl") if l.startswith("{")]
    target = ("Quartz ≥ 1.5x lwIP", ratio_at_least(1.5))
    cpu = {}
    for x in runs:
        name = x["row"]
        rw = row("host", name, x["unit"], "higher", peer="lwip", accel="host",
                 target=target, note=HOST_ROWS.get(name, ""))
        (rw.q if x["stack"] == "quartz" else rw.p).append(x["value"])
        cpu.setdefault(name, {}).setdefault(x["stack"], []).append(
            x.get("cpu_value", x["value"]))
    for name, c in cpu.items():
        q, p = median(c.get("quartz", [])), median(c.get("lwip", []))
        if q and p:
            rows[name].extra["ratio_cpu"] = sig(q / p, 3)
    say("host stacks done (load %s)" % load())


# ---- Sizes and memory ----------------------------------------------------------------------

def elf_size(elf):
    out = sh("size", str(elf)).stdout.splitlines()[1].split()
    return {"text": int(out[0]), "data": int(out[1]), "bss": int(out[2]),
            "file": elf.stat().st_size}


def serves_with(kind, mem):
    """Boot with -m mem (TCG, user networking): do / and /big.bin come back whole?"""
    port = free_port()
    log = LOGS / ("mem-%s-%s.log" % (kind, mem))
    netdev = "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80" % port
    if kind == "quartz":
        con = Console(quartz_cmd("tcg", mem=mem, netdev=netdev), log,
                      {"listen": "http: serving"})
        limit = 8
    else:
        con = Console(["scripts/bench/run-linux-peer.sh", str(port)], log,
                      {"listen": "peer: nginx listening"}, env=linux_env("tcg", mem))
        limit = 40
    try:
        while "listen" not in con.found:
            if con.proc.poll() is not None or time.monotonic() - con.t0 > limit:
                return False
            time.sleep(0.01)
        if first_200(port, con.proc, 20, time.monotonic()) is None:
            return False
        r = subprocess.run(["curl", "-sf", "-m", "30", "-o", "-",
                            "http://127.0.0.1:%d/big.bin" % port], capture_output=True)
        return r.returncode == 0 and r.stdout == (SITE / "big.bin").read_bytes()
    finally:
        con.stop()


def smallest_mem(kind, sizes):
    for mb in sizes:
        if serves_with(kind, "%dM" % mb):
            return mb
    return None


def bench_size():
    g = "size"
    full, dflt, mini = elf_size(ELF), elf_size(ELF_DEFAULT), elf_size(ELF_MIN)
    linux = (LINUX / "vmlinuz").stat().st_size + (LINUX / "initramfs.cpio.gz").stat().st_size
    a = row(g, "image_kib_bench_site", "KiB", "lower", accel=None,
            note="what QEMU loads, the bench site inside: Quartz's ELF; Linux's vmlinuz + "
                 "initramfs.cpio.gz")
    a.q.append(full["file"] / 1024)
    a.p.append(linux / 1024)
    a.extra.update({"quartz_text": full["text"], "quartz_data": full["data"],
                    "quartz_bss": full["bss"]})
    for name, s, what in (("elf_kib_default_site", dflt, "site/"),
                          ("elf_kib_one_file_site", mini, "a one-file site (no site)")):
        rw = row(g, name, "KiB", "lower", peer=None, accel=None,
                 target=("≤ 256 KiB", at_most(256)) if "one_file" in name else None,
                 note="Quartz's ELF around %s: text %d, data %d, bss %d bytes" % (
                     what, s["text"], s["data"], s["bss"]))
        rw.q.append(s["file"] / 1024)
        rw.extra.update({"quartz_text": s["text"], "quartz_data": s["data"],
                         "quartz_bss": s["bss"]})
    say("ELF sizes: bench site %d KiB, default site %d KiB, one-file site %d KiB "
        "(text %d, data %d, bss %d)" % (full["file"] // 1024, dflt["file"] // 1024,
                                        mini["file"] // 1024, mini["text"], mini["data"],
                                        mini["bss"]))
    m = row(g, "smallest_mem_that_serves_mib", "MiB", "lower",
            target=("Quartz serves with -m 16M", at_most(16)),
            note="smallest -m tried that boots and serves / and the 1 MiB file (TCG)")
    q = smallest_mem("quartz", [4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 128])
    say("smallest -m serving, quartz: %s MiB" % q)
    if q is not None:
        m.q.append(q)
    lx = smallest_mem("linux", [64, 80, 96, 112, 128, 192, 256])
    say("smallest -m serving, linux: %s MiB" % lx)
    if lx is not None:
        m.p.append(lx)


# ---- Output: table, JSON, plot, BENCHMARKS.md --------------------------------------------------

def cell(xs):
    if not xs:
        return "—"
    if len(xs) == 1:
        return fmt(xs[0])
    return "%s (%s–%s)" % (fmt(median(xs)), fmt(min(xs)), fmt(max(xs)))


GROUP_TITLES = {
    "boot": "Boot (user networking; Quartz and Linux under TCG, Quartz KVM beside)",
    "http": "HTTP over a tap device in a namespace (wrk; TCG, Quartz KVM beside)",
    "host": "Host stacks in one process (no VM): Quartz vs lwIP",
    "size": "Footprint",
}


def table_lines(group):
    head = ["row", "unit", "Quartz", "peer", "peer value", "Quartz/peer", "Quartz KVM",
            "target"]
    body = []
    for r in rows.values():
        if r.group != group:
            continue
        s = r.summary()
        tgt = ""
        if r.target:
            met = s["target_met"]
            tgt = "%s %s" % ("✓" if met else "✗" if met is False else "?", r.target[0])
        name = r.name + (" (%d failed)" % r.failures if r.failures else "")
        body.append([name, r.unit, cell(r.q), r.peer or "—", cell(r.p),
                     fmt(s["ratio"]) if s["ratio"] is not None else "—", cell(r.k), tgt])
    return markdown_table(head, body) if body else []


def machine():
    cpu = "?"
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]
    mem = int(open("/proc/meminfo").readline().split()[1]) // 1024
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    return {"uname": uname, "cpu": cpu, "cores": os.cpu_count(),
            "mem_mib": mem, "qemu": qemu,
            "kvm": "yes (/dev/kvm opens; here a software KVM, PVM, which cannot boot "
                   "Debian's kernel)" if kvm_usable() else "no (/dev/kvm does not open)"}


def plot(path):
    """Quartz's advantage per row (peer/Quartz for lower-is-better, Quartz/peer else)."""
    pts = []
    for r in rows.values():
        s = r.summary()
        if s["ratio"]:
            adv = 1 / s["ratio"] if r.better == "lower" else s["ratio"]
            pts.append((r.name, adv))
    if not pts:
        return None
    title = "Quartz vs peer (%s, %s): >1 = Quartz better" % (
        datetime.date.today().isoformat(), "quick" if QUICK else "full run")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return plot_gnuplot(path, pts, title)
    fig, ax = plt.subplots(figsize=(10, 0.28 * len(pts) + 1.5))
    names = [p[0] for p in pts][::-1]
    vals = [p[1] for p in pts][::-1]
    ax.barh(names, vals, color=["#2a9d55" if v >= 1 else "#c0392b" for v in vals])
    ax.set_xscale("log")
    ax.axvline(1, color="black", linewidth=0.8)
    for y, v in enumerate(vals):
        ax.text(v, y, " %.3gx" % v, va="center", fontsize=7)
    ax.set_xlabel("Quartz's advantage over its peer (log scale; peer: linux-nginx or lwip)")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_gnuplot(path, pts, title):
    if not shutil.which("gnuplot"):
        say("no matplotlib and no gnuplot: no plot")
        return None
    data = OUT / "plot.dat"
    data.write_text("".join("%d %s %g\n" % (i, n, v) for i, (n, v) in enumerate(pts)))
    script = """set terminal pngcairo size 1000,%d
set output '%s'
set title '%s'
set logscale y
set style fill solid
set boxwidth 0.8
set xtics rotate by 60 right font ',7'
plot '%s' using 1:3:xtic(2) with boxes notitle, 1 notitle
""" % (500, path, title, data)
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    return path if Path(path).exists() else None


HTTP_NOTE = """`http_<page>_<mode>_c<N>_<metric>_tcg`: wrk (one thread, `--latency`, `--timeout 5s`)
inside the bench's namespace against the guest at 10.0.0.2 over a tap device, after the
footprint rows' 10k connections (or a 5 s warm-up) on the same boot; `small` is `GET /`
(index.html), `big` `GET /big.bin` (1 MiB, seeded random bytes, in both guests' site);
`keepalive` or `close` (`-H "Connection: close"`); N connections; `rps` requests/s,
`mibps` MiB/s read (partial responses count), `p50`/`p99` latency of complete responses.
One boot per guest per round, the guests in turn (Quartz TCG, Linux TCG, Quartz KVM)."""


INTRO = """# Benchmarks

`make bench` (as root: it makes a network namespace and a tap device) measures Quartz
against a peer on this machine and rewrites everything below the marker: the Linux kernel
with nginx (Debian's cloud kernel and nginx in an initramfs, on the same QEMU microvm
flags and memory), the floor (a PVH ELF that prints one line and exits QEMU: QEMU's own
cost), and lwIP for the host-stack rows. Quartz and its peer run in alternation over
several rounds; each cell is the median with min–max, `Quartz/peer` the ratio of the
medians (for rows where lower is better, below 1 is Quartz ahead), and each row carries
its target from the issue, met (✓) or not (✗). The rows are also in `build/bench.json`;
`scripts/bench/run.py` explains every group. `BENCH_QUICK=1 make bench` (about 3.5 min)
leaves this file alone and writes `build/bench/BENCHMARKS.md`.

Read the figures with three things in mind. The Linux peer boots only under TCG here (this
machine's /dev/kvm is PVM, a software KVM, under which Debian's kernel prints nothing), so
the two guests are compared under TCG, where the guest CPU is emulated and the guest that
runs fewer instructions per request wins by more than it would on hardware; Quartz's KVM
column is beside them. Under PVM the guest does not run natively: every instruction costs
about a microsecond (boot with `costs` to see the table: 4096 multiply-adds 6.7 ms, a
4 KiB copy 0.5 ms, a register access 2-9 us), so the KVM column measures instructions
executed, not what KVM on hardware would give. (PVM runs a guest natively only when the
guest is written for its paravirtual ABI: the kernel in hardware ring 3, events through an
entry point it registers, a synthetic CPUID; Quartz is an ordinary x86-64 guest, and its
figures fit one whose every instruction is emulated.) Under TCG the other way round: a
block of guest code costs QEMU a translation the first time it runs (~9 us each here, and
a boot runs almost everything once), so boot time there follows how much distinct code
the boot runs. "Where Quartz's boot goes" below is the profile behind the boot targets,
from the same run: each phase by the guest's clock beside the blocks translated and the
instructions executed (`scripts/boot-blocks.py`, which also profiles the first request
after boot with `--request`), and QEMU start → first 200 split at entry, ready and the
listening line. On the tap both guests get the same
virtio-net offers from QEMU: Linux and Quartz both leave checksums to the device and
hand it TSO bursts, and nginx sends files with sendfile while Quartz queues them in place
in its image (one copy, into the device's buffer, as each segment is made); under user networking (the boot rows) QEMU offers no offloads to
either. Other jobs may share the
machine: the load average before and after is recorded with each run. And Problems lists
what went wrong during the run (a guest that stopped answering, a run with no complete
response), so a gap in the table has its reason next to it.
"""


MARKER = "<!-- Everything below is written by scripts/bench/run.py. -->"


def write_markdown(path, meta, profile, plot_rel):
    old = path.read_text() if path.exists() else ""
    intro = old.split(MARKER)[0].rstrip() + "\n" if MARKER in old else INTRO
    out = [intro, MARKER, "",
           "## Latest run: %s%s" % (meta["date"], " (BENCH_QUICK)" if QUICK else ""), "",
           "- machine: `%s`" % meta["machine"]["uname"],
           "- CPU: %s, %d cores, %d MiB RAM; %s" % (
               meta["machine"]["cpu"], meta["machine"]["cores"], meta["machine"]["mem_mib"],
               meta["machine"]["qemu"]),
           "- accelerators: Quartz vs peer under **TCG**; KVM: %s" % meta["machine"]["kvm"],
           "- load average before / after: %s / %s (other jobs may share the machine); "
           "run took %.1f min" % (meta["load_before"], meta["load_after"],
                                  meta["minutes"]),
           "- rounds: boot %d, http %d × %d s per wrk run, host %d; QEMU -m %s for both "
           "guests on the tap" % (CFG["boot_rounds"], CFG["http_rounds"],
                                  CFG["wrk_seconds"], CFG["host_runs"], VM_MEM), ""]
    for g in GROUP_TITLES:
        lines = table_lines(g)
        if lines:
            out += ["### " + GROUP_TITLES[g], ""] + lines + [""]
    if profile:
        out += ["### Where Quartz's boot goes", ""] + profile
    notes = [(r.name, r.note) for r in rows.values() if r.note and r.group != "http"]
    if notes:
        out += ["### What each row measures", "", HTTP_NOTE, ""]
        out += ["- `%s`: %s" % n for n in notes] + [""]
    if meta.get("problems"):
        out += ["### Problems seen in this run", ""] + ["- " + p for p in meta["problems"]]
        out += [""]
    if plot_rel:
        out += ["![Quartz's advantage per row](%s)" % plot_rel, ""]
    path.write_text("\n".join(out))


def report(meta):
    summaries = [r.summary() for r in rows.values()]
    (Path("build") / "bench.json").write_text(json.dumps(summaries, indent=1,
                                                         ensure_ascii=False) + "\n")
    (OUT / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print()
    print("Quartz vs peers — %s, %s; Quartz vs peer under TCG, KVM %s; load %s → %s" % (
        meta["date"], "BENCH_QUICK" if QUICK else "full run",
        "beside" if kvm_usable() else "not available", meta["load_before"],
        meta["load_after"]))
    for g in GROUP_TITLES:
        lines = table_lines(g)
        if lines:
            print("\n" + GROUP_TITLES[g])
            print("\n".join(lines))
    profile = boot_prof.lines()
    if profile:
        print("\nWhere Quartz's boot goes\n" + "\n".join(profile))
    problems = meta["problems"]
    if problems:
        print("\nProblems:\n" + "\n".join("  - " + p for p in problems))
    # A quick or partial run is for development: it leaves the committed results alone.
    if QUICK or ONLY:
        png, md, rel = OUT / "results.png", OUT / "BENCHMARKS.md", "results.png"
    else:
        png, md, rel = Path("bench/results.png"), Path("BENCHMARKS.md"), "bench/results.png"
    done = plot(str(png))
    write_markdown(md, meta, profile, rel if done else None)
    print("\nbench: wrote build/bench.json, %s, %s" % (md, png if done else "(no plot)"))


def problems():
    out = []
    for r in rows.values():
        if r.failures:
            out.append("%s: %d failed run(s) (see build/bench/logs/)" % (r.name, r.failures))
        for short in sorted(set(r.extra.get("short", []))):
            if r.group != "http":   # the http ones are in `events`, once per wrk run
                out.append("%s: no figure for %s" % (r.name, short))
        if r.extra.get("socket_errors"):
            out.append("%s: wrk reported %d socket errors over all runs (timeouts count as "
                       "errors)" % (r.name, r.extra["socket_errors"]))
    for e in sorted(set(events), key=events.index):
        n = events.count(e)
        out.append(e + (" (×%d)" % n if n > 1 else ""))
    return out


def main():
    global groups
    signal.signal(signal.SIGTERM, on_signal)
    groups = ONLY or {"boot", "http", "host", "size"}
    t0 = time.monotonic()
    lb = load()
    say("%s; %d cores, load %s; KVM %s" % ("BENCH_QUICK" if QUICK else "full run",
                                          os.cpu_count(), lb,
                                          "usable" if kvm_usable() else "not usable"))
    try:
        prepare()
        if "boot" in groups:
            bench_boot()
        if "host" in groups:
            bench_host()
        if "http" in groups:
            bench_http()
        if "size" in groups:
            bench_size()
    finally:
        cleanup()
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip(),
            "quick": QUICK, "machine": machine(), "load_before": lb, "load_after": load(),
            "minutes": (time.monotonic() - t0) / 60, "config": CFG,
            "problems": problems(), "boot_profile": boot_prof.summary()}
    report(meta)


if __name__ == "__main__":
    main()
