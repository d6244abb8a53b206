"""The developer tools: the purity gate, the replay CLI and the bisect driver."""
import json
import re
import shutil
import subprocess

import pytest

from conftest import REPLAY, ROOT, STACK_MAC

FIXTURE = ROOT / "pcaps/icmp/ping-sizes.pcap"


def compile_free(tmp_path, name, source):
    src = tmp_path / (name + ".c")
    src.write_text(source)
    obj = tmp_path / (name + ".o")
    flags = subprocess.run(["make", "-s", "-C", str(ROOT), "--no-print-directory",
                            "print-free-cflags"], capture_output=True, text=True,
                           check=True).stdout.split()
    subprocess.run(["gcc", *flags, "-Wno-missing-prototypes", "-c", str(src), "-o", str(obj)],
                   check=True, cwd=ROOT)
    return obj


def purity(*objs):
    return subprocess.run([str(ROOT / "scripts/check-freestanding.sh"), *map(str, objs)],
                          capture_output=True, text=True)


def test_purity_gate_accepts_a_pure_layer(tmp_path):
    ok = compile_free(tmp_path, "pure", "#include <string.h>\n"
                      "int pure_copy(char *d, const char *s) { memcpy(d, s, 4); return 0; }\n")
    r = purity(ok)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("source, complaint", [
    ("int counter;\nint bump(void) { return ++counter; }\n", "writable data"),
    ("static int hits = 1;\nint hit(void) { return hits++; }\n", "writable data"),
    ("void *malloc(unsigned long);\nvoid *grab(void) { return malloc(8); }\n", "references malloc"),
    ("int printf(const char *, ...);\nvoid say(void) { printf(\"hi\"); }\n", "references printf"),
])
def test_purity_gate_rejects_globals_and_libc(tmp_path, source, complaint):
    bad = compile_free(tmp_path, "impure", source)
    r = purity(bad)
    assert r.returncode == 1
    assert complaint in r.stderr, r.stderr


def test_replay_exit_codes_suit_git_bisect(tmp_path, built):
    assert subprocess.run([str(REPLAY), str(FIXTURE)]).returncode == 0
    assert subprocess.run([str(REPLAY), str(tmp_path / "absent.pcap")]).returncode == 125
    # Damage the last byte of the last frame the stack sent (an echo reply's data).
    from scapy.all import Ether, rdpcap, wrpcap
    frames = list(rdpcap(str(FIXTURE)))
    last = max(i for i, f in enumerate(frames) if f[Ether].src == STACK_MAC)
    data = bytearray(bytes(frames[last]))
    data[-1] ^= 0x01
    frames[last] = Ether(bytes(data))
    damaged = tmp_path / "damaged.pcap"
    wrpcap(str(damaged), frames)
    shutil.copy(FIXTURE.with_suffix(".conf"), damaged.with_suffix(".conf"))
    r = subprocess.run([str(REPLAY), str(damaged)], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout
    assert "layer:    Data" in r.stdout and "field:    data.data" in r.stdout, r.stdout


def test_replay_writes_the_actual_conversation_for_wireshark(tmp_path, built):
    out = tmp_path / "actual.pcap"
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "replay", "PCAP=" + str(FIXTURE),
                        "OUT=" + str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    if shutil.which("tshark"):
        t = subprocess.run(["tshark", "-r", str(out)], capture_output=True, text=True)
        assert t.stdout.count("Echo (ping) reply") == 12, t.stdout


def test_bisect_driver_skips_a_commit_that_cannot_replay(tmp_path):
    r = subprocess.run([str(ROOT / "scripts/bisect-replay.sh"), str(tmp_path / "none.pcap")],
                       cwd=ROOT)
    assert r.returncode == 125
    r = subprocess.run([str(ROOT / "scripts/bisect-replay.sh"), str(FIXTURE)], cwd=ROOT)
    assert r.returncode == 0


def test_boot_blocks_profiles_a_tcg_boot_by_phase():
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts/boot-blocks.py"), "--top", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    total = int(re.search(r"TCG: (\d+) blocks", r.stdout).group(1))
    rows = dict((m.group(1), int(m.group(2)))
                for m in re.finditer(r"^  (\S+)\s+(\d+) blocks", r.stdout, re.M))
    # Every phase of the guest's own account, each with code of its own, adding up.
    assert list(rows) == ["entry->kmain", "console", "memory", "paging", "apic", "clock",
                          "tasks", "devices", "wallclock", "network"], r.stdout
    assert all(n > 0 for n in rows.values()) and sum(rows.values()) == total, r.stdout
    # Each names the functions that cost it the most blocks.
    assert len(re.findall(r"insns  \w+ \d+", r.stdout)) == len(rows), r.stdout
    assert "boot: phases (us)" in r.stdout, r.stdout


def test_boot_blocks_json_is_the_same_profile_for_a_program():
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts/boot-blocks.py"), "--json",
                        "--top", "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    prof = json.loads(r.stdout)
    phases = prof["phases"]
    assert prof["counted"] == "translated" and len(phases) == 10, prof
    assert sum(p["blocks"] for p in phases) == prof["blocks"] > 0, prof
    assert sum(p["insns"] for p in phases) == prof["insns"] >= prof["blocks"], prof
    assert all(1 <= len(p["top"]) <= 3 for p in phases), prof
    assert prof["console_phases"].startswith("boot: phases (us): entry->kmain "), prof


def test_boot_blocks_profiles_the_first_request_after_boot():
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts/boot-blocks.py"), "--request",
                        "--json", "--top", "40"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    prof = json.loads(r.stdout)
    assert prof["what"] == "first request" and prof["counted"] == "translated", prof
    # The request's own code, first run after boot: TCP's connection path and HTTP's
    # parser are in it; the boot's code (already translated) is not.
    fns = dict(prof["top"])
    assert "http_parse_request" in fns and "tcp_input_conn" in fns, prof
    assert "kmain" not in fns and "mem_init" not in fns and "net_start" not in fns, prof
    assert prof["insns"] >= prof["blocks"] > 100, prof


def test_boot_blocks_counts_executed_instructions_per_phase():
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts/boot-blocks.py"), "--executed",
                        "--top", "8"], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    m = re.search(r"TCG: (\d+) block runs, (\d+) instructions executed", r.stdout)
    assert m, r.stdout
    runs, insns = int(m.group(1)), int(m.group(2))
    rows = dict((m.group(1), int(m.group(3)))
                for m in re.finditer(r"^  (\S+)\s+(\d+) runs\s+(\d+) insns", r.stdout, re.M))
    assert len(rows) == 10 and sum(rows.values()) == insns and insns >= runs, r.stdout
    # A loop runs its blocks many times: more runs than the boot has distinct blocks.
    assert runs > 5000, r.stdout
    # The network phase brings up the NIC: its ring setup is among what it executes.
    assert re.search(r"^  network .*virtq_", r.stdout, re.M), r.stdout
