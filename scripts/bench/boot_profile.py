"""Where Quartz's boot goes, from the same run as the boot rows.

Two accounts side by side, for the targets the boot rows miss:

  - per phase, the guest's own clock ("boot: phases (us)" on its console, medians over the
    run's boots) beside what scripts/boot-blocks.py counts on the same ELF: the blocks QEMU
    translates (a TCG boot's time follows them) and the instructions executed (under this
    machine's KVM, PVM emulates them one by one, and the time follows those);
  - from QEMU's start to the first 200, the host's clock split where the guest's console
    allows: QEMU start to guest entry plus the log reaching the host, entry to ready, and
    the listening line to the first 200, beside the floor of the same round; and for that
    first request, what boot-blocks.py --request counts the same two ways.
"""
import json
import re
import subprocess
from pathlib import Path

from render import fmt, markdown_table, median

ROOT = Path(__file__).resolve().parents[2]
ACCELS = ("tcg", "kvm")


def parse_phases(console):
    """{"entry->kmain": us, ...} from the guest's "boot: phases (us): ..." line, in order."""
    m = re.search(r"boot: phases \(us\): (.*)", console)
    if not m:
        return None
    return {k: int(v) for k, v in re.findall(r"(\S+) (\d+)", m.group(1))}


class BootProfile:
    def __init__(self):
        self.phases = {a: [] for a in ACCELS}
        self.steps = {a: {"floor": [], "before_entry": [], "entry": [], "line_to_200": [],
                          "to_200": [], "over_floor": []} for a in ACCELS}
        self.counts = {}
        self.error = None

    def add_floor(self, accel, ms):
        if ms is not None:
            self.steps[accel]["floor"].append(ms)

    def add_boot(self, accel, res, floor_ms):
        """One Quartz boot of the boot rows (its host-clock figures and its console) and the
        floor of the same round (None if that failed)."""
        ph = parse_phases(res["console"])
        if ph:
            self.phases[accel].append(ph)
        s = self.steps[accel]
        s["to_200"].append(res["to_200"])
        if floor_ms is not None:
            s["over_floor"].append(res["to_200"] - floor_ms)
        if res.get("entry") is not None and res.get("to_listen_line"):
            s["entry"].append(res["entry"])
            s["before_entry"].append(res["to_listen_line"] - res["entry"])
            s["line_to_200"].append(res["to_200"] - res["to_listen_line"])

    def count(self, elf):
        """Translated blocks and executed instructions per phase, and for the first
        request after boot: one TCG boot each."""
        for kind, extra in (("translated", []), ("executed", ["--executed"]),
                            ("request_translated", ["--request"]),
                            ("request_executed", ["--request", "--executed"])):
            r = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts/boot-blocks.py"),
                                str(elf), "--json", "--top", "3", *extra],
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                self.error = "boot-blocks.py %s failed: %s" % (kind, r.stderr.strip()[-300:])
                return
            self.counts[kind] = json.loads(r.stdout)

    def phase_medians(self, accel):
        runs = self.phases[accel]
        if not runs:
            return {}
        return {k: median([r[k] for r in runs if k in r]) for k in runs[0]}

    def summary(self):
        return {"phase_us": {a: self.phase_medians(a) for a in ACCELS},
                "steps_ms": {a: {k: median(v) for k, v in self.steps[a].items()}
                             for a in ACCELS},
                "counts": self.counts, "error": self.error}

    def _phase_table(self):
        tcg, kvm = self.phase_medians("tcg"), self.phase_medians("kvm")
        tr = {p["phase"]: p for p in self.counts.get("translated", {}).get("phases", [])}
        ex = {p["phase"]: p for p in self.counts.get("executed", {}).get("phases", [])}
        head = ["phase", "TCG us", "blocks translated", "TCG us per block", "KVM us",
                "instructions executed", "KVM us per instruction", "most blocks in"]
        rows, tot = [], [0, 0, 0, 0]
        for ph in tcg or kvm:
            t, k = tcg.get(ph), kvm.get(ph)
            b = tr.get(ph, {}).get("blocks")
            i = ex.get(ph, {}).get("insns")
            for j, v in enumerate((t, b, k, i)):
                tot[j] += v or 0
            top = top_text(tr.get(ph, {}).get("top", []))
            rows.append([ph, fmt(t), fmt(b), fmt(t / b if t and b else None), fmt(k),
                         fmt(i), fmt(k / i if k and i else None), top])
        t, b, k, i = tot
        rows.append(["**entry → ready**", fmt(t), fmt(b), fmt(t / b if b else None), fmt(k),
                     fmt(i), fmt(k / i if i else None), ""])
        return markdown_table(head, rows)

    def _steps_table(self):
        med = {a: {k: median(v) for k, v in self.steps[a].items()} for a in ACCELS}
        labels = [("floor", "floor: QEMU start → exit of a PVH ELF that prints one line"),
                  ("before_entry", "QEMU start → guest entry, plus the boot log reaching "
                                   "the host up to the listening line"),
                  ("entry", "guest entry → ready (the guest's clock)"),
                  ("line_to_200", "listening line seen → first 200 (the first "
                                  "connection, its code run for the first time)"),
                  ("to_200", "QEMU start → first 200"),
                  ("over_floor", "**first 200 over the floor of its round** (target "
                                 "≤ 15 ms)")]
        rows = [[label, fmt(med["tcg"][k]), fmt(med["kvm"][k])] for k, label in labels]
        return markdown_table(["step (medians of this run's boots, each alone: they need not add "
                      "up)", "TCG ms", "KVM ms"], rows)

    def lines(self):
        if not any(self.phases.values()):
            return []
        out = ["Each phase as the guest timed it (`boot: phases`, medians of this run's "
               "boots) beside what `scripts/boot-blocks.py` counted on the same ELF in one "
               "TCG boot each: the distinct blocks QEMU translated (under TCG a boot runs "
               "almost all its code once, and each first run costs a translation) and the "
               "instructions executed (what PVM emulates one by one under this machine's "
               "KVM). The per-block and per-instruction columns are the phase's time "
               "divided by its count: where they are steady, the count is the time.", ""]
        out += self._phase_table() + [""]
        tr, ex = self.counts.get("translated"), self.counts.get("executed")
        tcg, kvm = self.phase_medians("tcg"), self.phase_medians("kvm")
        if tr and tcg:
            per = sum(tcg.values()) / tr["blocks"]
            out += ["Under TCG entry → ready is %s us for %d blocks, %s us a block; the "
                    "≤ 2 ms target would need the boot to run fewer than %d distinct blocks "
                    "at that cost (it runs %d instructions' worth of first-time code)."
                    % (fmt(sum(tcg.values())), tr["blocks"], fmt(per), int(2000 / per),
                       tr["insns"]), ""]
        if ex and kvm:
            out += ["Under KVM (PVM) entry → ready is %s us for %d instructions executed, "
                    "%s us an instruction." % (fmt(sum(kvm.values())), ex["insns"],
                                               fmt(sum(kvm.values()) / ex["insns"])), ""]
        if self.error:
            out += ["(%s)" % self.error, ""]
        out += ["From QEMU's start to the first 200:", ""] + self._steps_table() + [""]
        rt, rx = self.counts.get("request_translated"), self.counts.get("request_executed")
        if rt and rx:
            out += ["The first request (GET / on a new connection, once the guest idles) "
                    "ran %d blocks for the first time (%d instructions' worth; most in %s) "
                    "and executed %d instructions (most in %s): under TCG its first run "
                    "pays translations as the boot does, which later requests do not."
                    % (rt["blocks"], rt["insns"], top_text(rt["top"]), rx["insns"],
                       top_text(rx["top"])), ""]
        return out


def top_text(top):
    return ", ".join("%s %d" % (f, n) for f, n in top)
