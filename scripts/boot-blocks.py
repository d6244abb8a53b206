#!/usr/bin/python3
"""Where a TCG boot's time goes: the code QEMU translated, per boot phase and function.

    scripts/boot-blocks.py [ELF] [--top N] [--executed] [--request] [--json]

Under TCG the first run of any basic block costs QEMU a translation, and a boot runs
almost everything once: on this machine kernel/net.c's node_init took 1.04 ms the first
time and 0.018 ms the second. So entry -> ready under TCG is close to (blocks translated)
x (cost of one). This boots ELF (default build/quartz-unikernel.elf) once under TCG with
QEMU's in_asm log, maps each translated block to the kernel function it starts in (nm),
and splits them into the phases of the guest's "boot: phases" line, in the order kmain
enters them. It prints the phases with their block and instruction counts, and the
functions with the most blocks in each. Firmware blocks (before entry) are left out.

--executed counts instead the instructions the boot executes (QEMU's exec log, blocks
unchained so each run of one is logged; a REP string instruction counts once per
iteration, as it runs): the profile of a hypervisor that emulates every guest instruction,
as this machine's KVM (PVM) does, where the boot's time follows that count.

--request profiles instead the guest's first HTTP request: once the booted guest is idle,
one GET / on a new connection through a forwarded port on 127.0.0.1, and the code the
guest translates (or executes) from then until the connection has closed, per function.
Under TCG the first request pays for its code as the boot does.

--json prints the same as one JSON object (make bench's boot profile reads it).
"""
import argparse
import bisect
import collections
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The first function of each phase, as kmain calls them; "entry" is boot.S up to kmain.
PHASES = [("entry->kmain", None), ("console", "kmain"), ("memory", "mem_init"),
          ("paging", "paging_init"), ("apic", "apic_init"), ("clock", "clock_init"),
          ("tasks", "task_init"), ("devices", "devices_probe"),
          ("wallclock", "wallclock_init"), ("network", "net_start")]
READY = "printk_flush"  # kmain's first call after the ready and phases lines: the end


def symbols(elf):
    out = subprocess.run(["nm", "-n", "-S", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            syms.append((int(f[0], 16), int(f[1], 16), f[3]))
        elif len(f) == 3 and f[1] in "tT":  # assembly: no size, it runs to the next one
            syms.append((int(f[0], 16), 0, f[2]))
    for i, (start, size, name) in enumerate(syms):
        if not size and i + 1 < len(syms):
            syms[i] = (start, syms[i + 1][0] - start, name)
    return syms


def lines_from(log, offset):
    with open(log, errors="replace") as f:
        f.seek(offset)
        yield from f


def blocks(log, offset=0):
    """Each translated block as the list of its instruction addresses, in order."""
    tbs, cur = [], None
    for line in lines_from(log, offset):
        if line.startswith("IN:"):
            cur = []
            tbs.append(cur)
        elif cur is not None:
            m = re.match(r"0x([0-9a-f]+):", line)
            if m:
                cur.append(int(m.group(1), 16))
    return [tb for tb in tbs if tb]


def executions(log, offset=0):
    """The start address of each block run, in order (the exec log's lines)."""
    runs = []
    pat = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
    for line in lines_from(log, offset):
        m = pat.match(line)
        if m:
            runs.append(int(m.group(1), 16))
    return runs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_request(port, seconds):
    """GET / on a new connection; the response's bytes (the guest closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: quartz\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk


def boot_log(elf, log, seconds, executed=False, request=False):
    """Boot ELF under TCG with QEMU's log in `log`; return (console text, the log's offset
    where the request began, or None, and the response)."""
    port = free_port() if request else None
    netdev = "user,id=n0" + (",hostfwd=tcp:127.0.0.1:%d-:80" % port if request else "")
    cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", "128M",
           "-kernel", str(elf), "-append", "ip=10.0.2.15/24 gw=10.0.2.2 port=80",
           "-nodefaults", "-display", "none", "-serial", "stdio",
           "-netdev", netdev, "-device", "virtio-net-device,netdev=n0",
           "-d", "in_asm,exec,nochain" if executed else "in_asm", "-D", str(log)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    console, deadline = b"", time.monotonic() + seconds
    # The console's prompt comes after ready; the gateway's reply, the network task's
    # first round, is the last thing a booting guest does before it idles.
    until = b"network: gateway" if request else b"boot: phases"
    mark, response = None, b""
    try:
        os.set_blocking(p.stdout.fileno(), False)
        while time.monotonic() < deadline and until not in console:
            console += p.stdout.read() or b""
            time.sleep(0.05)
        time.sleep(0.2)  # the rest of the line; the guest idle
        console += p.stdout.read() or b""
        if request and until in console:
            mark = log.stat().st_size  # QEMU flushes its log after each block it writes
            response = first_request(port, seconds)
            time.sleep(0.2)  # the guest's last ACKs and timers
    finally:
        p.terminate()
        p.wait()
    return console.decode(errors="replace").replace("\r", ""), mark, response


def report_request(args, tbs, owner):
    per_fn = collections.Counter()
    for tb in tbs:
        per_fn[owner(tb[0]) or "(outside the kernel)"] += len(tb) if args.executed else 1
    total, insns = len(tbs), sum(len(tb) for tb in tbs)
    what = "executed" if args.executed else "translated"
    top = per_fn.most_common(args.top)
    if args.json:
        print(json.dumps({"elf": str(args.elf), "counted": what, "what": "first request",
                          "blocks": total, "insns": insns, "top": top}))
        return
    if args.executed:
        print("boot-blocks: %s, TCG: %d block runs, %d instructions executed for the first "
              "request (GET / on a new connection, once the guest idles)"
              % (args.elf, total, insns))
    else:
        print("boot-blocks: %s, TCG: %d blocks (%d instructions) translated for the first "
              "request (GET / on a new connection, once the guest idles)"
              % (args.elf, total, insns))
    print("  " + ", ".join("%s %d" % kv for kv in top))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("elf", nargs="?", default=ROOT / "build/quartz-unikernel.elf")
    ap.add_argument("--top", type=int, default=5, help="functions shown per phase")
    ap.add_argument("--executed", action="store_true",
                    help="count executed instructions, not translated blocks")
    ap.add_argument("--request", action="store_true",
                    help="profile the first HTTP request after boot, not the boot")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    syms = symbols(args.elf)
    starts = [s[0] for s in syms]

    def owner(addr):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < syms[i][0] + syms[i][1]:
            return syms[i][2]
        return None

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "in_asm.log"
        console, mark, response = boot_log(args.elf, log, 60, args.executed, args.request)
        if args.request and not response.startswith(b"HTTP/1.1 200"):
            sys.exit("boot-blocks: no 200 for the first request (%r); console:\n%s"
                     % (response[:40], console))
        if "boot: phases" not in console:
            sys.exit("boot-blocks: the guest never logged its phases:\n" + console)
        start = mark if args.request else 0
        if args.executed:
            # A block runs as its last translation was; it may predate the request.
            length = {tb[0]: len(tb) for tb in blocks(log)}
            tbs = [[pc] * length.get(pc, 1) for pc in executions(log, start)]
        else:
            tbs = blocks(log, start)
    if args.request:
        report_request(args, tbs, owner)
        return
    first_of = {fn: name for name, fn in PHASES if fn}
    phase, counts = PHASES[0][0], collections.OrderedDict()
    per_fn = collections.defaultdict(collections.Counter)
    for tb in tbs:
        fn = owner(tb[0])
        if fn is None:
            continue  # firmware: before the guest's entry
        if fn == READY:
            break
        if fn in first_of and first_of[fn] not in counts:
            phase = first_of[fn]
        n = counts.setdefault(phase, [0, 0])
        n[0] += 1
        n[1] += len(tb)
        per_fn[phase][fn] += len(tb) if args.executed else 1
    total = sum(n[0] for n in counts.values())
    insns = sum(n[1] for n in counts.values())
    line = re.search(r"^boot: phases \(us\): .*$", console, re.M)
    if args.json:
        print(json.dumps({
            "elf": str(args.elf), "counted": "executed" if args.executed else "translated",
            "blocks": total, "insns": insns,
            "phases": [{"phase": name, "blocks": nb, "insns": ni,
                        "top": per_fn[name].most_common(args.top)}
                       for name, (nb, ni) in counts.items()],
            "console_phases": line.group(0).strip()}))
        return
    if args.executed:
        print("boot-blocks: %s, TCG: %d block runs, %d instructions executed from entry to "
              "ready" % (args.elf, total, insns))
    else:
        print("boot-blocks: %s, TCG: %d blocks (%d instructions) translated from entry to "
              "ready" % (args.elf, total, insns))
    for name, (nb, ni) in counts.items():
        top = ", ".join("%s %d" % kv for kv in per_fn[name].most_common(args.top))
        print("  %-12s %6d %s %7d insns  %s" % (name, nb, "runs" if args.executed else
                                                 "blocks", ni, top))
    print("the same boot's own account (slowed by the log): " + line.group(0).strip())


if __name__ == "__main__":
    main()
