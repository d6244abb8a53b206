"""The kernel shell on QEMU microvm: boot log, self-tests, panic path, idle cost.

Tests run under every accelerator that works here (TCG always; KVM when /dev/kvm opens —
on this machine that is PVM, a software KVM); each test id names the accelerator."""
import re
import subprocess
import time

import pytest

from qemu import (ROOT, guest, accels, default_accel, host_cpu_share, kvm_usable, qemu_cmd,
                  run)


@pytest.fixture(scope="session", autouse=True)
def kernel_built():
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/quartz-unikernel.elf"], check=True)


@pytest.mark.parametrize("accel", accels())
def test_boot_log_has_a_line_per_subsystem(guest, accel):
    g = guest(accel, "ip=10.0.0.9/16 gw=10.0.0.1 port=8080 colour=blue port=99999")
    # The ready line is logged after every line below: once it is whole, so are they (the
    # log reaches the host in bursts, and under PVM slowly).
    log = g.wait_for_line("boot: ready in ")
    for line in [r"^cmdline: \"ip=10\.0\.0\.9/16 gw=10\.0\.0\.1 port=8080",
                 r"^cmdline: unknown key, ignored: colour=blue$",
                 r"^cmdline: bad value, ignored: port=99999$",
                 r"^memory: 127 MiB RAM, \d+ MiB free in \d+ ranges, (2 MiB|1 GiB) pages.*"
                 r", write-back",
                 r"^interrupts: local APIC id 0, 2 I/O APIC\(s\) with 48 GSIs, 8259 masked$",
                 r"^timer: tsc [\d.]+ MHz \((cpuid|kvmclock|pit)\).*lapic timer [\d.]+ MHz$",
                 r"^devices: 24 virtio-mmio transports \(ACPI layout\), 0 devices, no network",
                 r"^network: address 10\.0\.0\.9/16 gateway 10\.0\.0\.1$",
                 r"^http: port 8080: no network, not serving$"]:
        assert re.search(line, log, re.M), "missing %r in:\n%s" % (line, log)
    ms = float(re.search(r"^boot: ready in ([\d.]+) ms from entry$", log, re.M).group(1))
    print("%s: boot to ready %.3f ms of guest time" % (accel, ms))
    assert ms < 1000, log


@pytest.mark.parametrize("accel", accels())
def test_selftests_pass_and_exit_with_status_1(accel):
    status, log = run(accel, "selftest")
    assert "selftest: memory ok" in log and "selftest: timer ok" in log, log
    assert "selftest: interrupts ok" in log, log
    assert "selftest: scheduler: yield order A1 B1 A2 B2 A3 B3 " in log, log
    assert "selftest: scheduler: blocked task woken by the UART interrupt" in log, log
    assert "selftest: scheduler ok" in log, log
    preempted = int(re.search(r"spinner preempted after (\d+) us", log).group(1))
    print("%s: a task that never yields was preempted after %d us" % (accel, preempted))
    assert re.search(r"^selftest: \d+ checks, 0 failed$", log, re.M), log
    assert status == 1, log


@pytest.mark.parametrize("append", ["selftest", "selftest log=sync"])
def test_every_console_line_ends_with_cr_lf(append):
    # The log makes its line ends where it formats ("\r\n"; the UART takes the bytes as
    # they are): every one, from klog, kprintf's own "\n" and a %s that holds one, with no
    # bare "\n" or doubled "\r". The selftest run writes all three kinds.
    r = subprocess.run(qemu_cmd(default_accel(), append), capture_output=True, timeout=60)
    out = r.stdout
    assert r.returncode == 1 and b"selftest: memory ok\r\n" in out, out[-2000:]
    assert out.count(b"\n") > 10 and out.count(b"\n") == out.count(b"\r\n"), out[-2000:]
    assert b"\r\r" not in out, out[-2000:]


@pytest.mark.parametrize("accel", accels())
def test_costs_reports_what_each_privileged_operation_costs_then_serves(guest, accel):
    g = guest(accel, "costs", extra=["-netdev", "user,id=n0", "-device",
                                     "virtio-net-device,netdev=n0"])
    log = g.wait_for("http: serving")
    costs = dict(re.findall(r"^costs: ([^:]+): ([\d.]+) ns$", log, re.M))
    for op in ("4 KiB memcpy", "4096 multiply-adds", "rdtsc", "cli; sti", "pushf; cli; popf",
               "LAPIC register read", "LAPIC register write", "I/O port write",
               "virtio-mmio read", "virtio-mmio write", "timer interrupt wake"):
        assert op in costs and float(costs[op]) > 0, "no figure for %r in:\n%s" % (op, log)
    print("%s: %s" % (accel, ", ".join("%s %s ns" % kv for kv in costs.items())))
    # A halt woken by the timer includes the interrupt: never cheaper than reading a clock.
    assert float(costs["timer interrupt wake"]) > float(costs["rdtsc"]), log


@pytest.mark.parametrize("accel", accels())
def test_panic_reports_cause_registers_backtrace_and_exits_5(accel):
    status, log = run(accel, "panic=test", timeout=30)
    assert "panic: CPU exception 13 (general protection)" in log, log
    assert re.search(r"rip 0x[0-9a-f]{16}", log) and re.search(r"rax [0-9a-f]{16}", log), log
    assert re.search(r"^backtrace:\n  #0 0x[0-9a-f]{16}$", log, re.M), log
    assert "panic: machine stopped" in log
    assert status == 5, log


def test_a_failing_selftest_exits_with_status_3():
    status, log = run(default_accel(), "selftest=fail")
    assert "selftest: deliberate-failure: FAILED: 1 + 1 == 3" in log, log
    assert re.search(r"^selftest: \d+ checks, 1 failed$", log, re.M), log
    assert status == 3, log


@pytest.mark.parametrize("accel", accels())
def test_stack_overflow_hits_the_guard_page_and_reports_a_double_fault(accel):
    status, log = run(accel, "panic=stack", timeout=30)
    assert "panic=stack: overflowing a 4-page task stack" in log, log
    assert "panic: CPU exception 8 (double fault)" in log, log
    assert status == 5, log


@pytest.mark.parametrize("mem", ["16M", "512M", "4G"])
def test_boots_and_passes_selftests_across_memory_sizes(mem):
    status, log = run(default_accel(), "selftest", mem=mem)
    ram = int(re.search(r"^memory: (\d+) MiB RAM", log, re.M).group(1))
    want = {"16M": 16, "512M": 512, "4G": 4096}[mem]
    assert want - 2 <= ram <= want, log
    assert status == 1, log


@pytest.mark.parametrize("machine, layout, gsi", [
    ("microvm", "ACPI", "gsi 47"),
    ("microvm,acpi=off", "command line", "gsi 12"),
])
def test_finds_the_nic_in_both_microvm_layouts(machine, layout, gsi):
    nic = ["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]
    status, log = run(default_accel(), "selftest", machine=machine, extra=nic)
    assert re.search(r"^devices: virtio-mmio@[0-9a-f]+ %s: net \(device 1, legacy" % gsi, log,
                     re.M), log
    assert "(%s layout), 1 devices" % layout in log, log
    assert status == 1


def test_modern_transport_is_recognised():
    nic = ["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0",
           "-global", "virtio-mmio.force-legacy=false"]
    status, log = run(default_accel(), "selftest", extra=nic)
    assert "net (device 1, modern transport)" in log, log


def test_without_acpi_or_devices_probes_the_eight_default_transports():
    status, log = run(default_accel(), "selftest", machine="microvm,acpi=off")
    assert "devices: 8 virtio-mmio transports (acpi=off layout), 0 devices" in log, log
    assert status == 1


@pytest.mark.parametrize("accel", accels())
def test_idle_guest_burns_no_host_cpu(guest, accel):
    g = guest(accel)
    g.wait_for("http: ")
    time.sleep(1)
    used = host_cpu_share(g.proc.pid)
    print("%s: idle guest used %.1f%% of a host CPU" % (accel, used * 100))
    assert used < 0.10, "idle guest used %.0f%% of a CPU" % (used * 100)


NIC = ["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]


@pytest.mark.parametrize("accel", accels())
@pytest.mark.parametrize("transport, extra", [
    ("legacy", []), ("modern", ["-global", "virtio-mmio.force-legacy=false"])])
def test_guest_resolves_and_pings_its_gateway_over_virtio_net(guest, accel, transport, extra):
    """ARP for the gateway, then an echo through QEMU's user network: the whole receive
    path (device interrupt, I/O APIC, network task, netstack) has to work for a reply."""
    g = guest(accel, "", extra=NIC + extra)
    log = g.wait_for("network: gateway 10.0.2.2 ")
    assert re.search(r"^network: virtio-net 52:54:00:12:34:56, %s transport, 256-entry queues,"
                     r" features [0-9a-f]+, link up, offloads none$" % transport, log, re.M), log
    # QEMU's user network has no vnet header, so it offers no checksum offload or TSO.
    g.wait_for(" ms\n")
    m = re.search(r"^network: gateway 10\.0\.2\.2 replied in ([\d.]+) ms$", g.log, re.M)
    assert m, g.log
    print("%s/%s: gateway round trip %s ms" % (accel, transport, m.group(1)))


def test_guest_reports_a_gateway_that_never_answers(guest):
    g = guest(default_accel(), "gw=10.0.2.99", extra=NIC)
    g.wait_for("network: gateway 10.0.2.99 did not reply (timeout)", timeout=30)


def test_guest_without_a_nic_says_it_is_offline(guest):
    g = guest(default_accel())
    g.wait_for("network: no virtio-net device: the guest is offline")


def test_idle_guest_with_a_nic_burns_no_host_cpu(guest):
    g = guest(default_accel(), "", extra=NIC)
    g.wait_for("network: gateway 10.0.2.2 replied")
    time.sleep(1)
    used = host_cpu_share(g.proc.pid)
    print("%s: idle guest with a NIC used %.1f%% of a host CPU" % (default_accel(), used * 100))
    assert used < 0.10, "idle guest used %.0f%% of a CPU" % (used * 100)


@pytest.mark.parametrize("accel", accels())
def test_boot_log_states_entry_to_ready_and_where_it_went(guest, accel):
    log = guest(accel).wait_for_line("boot: phases")
    ready = float(re.search(r"^boot: ready in ([\d.]+) ms from entry$", log, re.M).group(1))
    m = re.search(r"^boot: phases \(us\): entry->kmain (\d+), console (\d+), memory (\d+), "
                  r"paging (\d+), apic (\d+), clock (\d+), tasks (\d+), devices (\d+), "
                  r"wallclock (\d+), network (\d+)$", log, re.M)
    assert m, log
    phases = [int(x) for x in m.groups()]
    print("%s: ready in %.3f ms; phases (us) %s" % (accel, ready, phases))
    # Ready is the web server listening: the phases, each rounded down to a us, add up to it.
    assert abs(sum(phases) / 1000 - ready) < 0.05, log
    assert log.index("boot: ready in") > log.index("\nhttp: "), log


# The boot log's lines in the order the kernel logs them (those whose presence depends on
# the machine or on timing, like the gateway's reply, are left out of the comparison).
def skeleton(log):
    """Each line up to the phases line, with its numbers blanked."""
    lines = log.split("\n")
    end = next(i for i, l in enumerate(lines) if l.startswith("boot: phases"))
    return [re.sub(r"\d+", "N", l) for l in lines[:end + 1]
            if not l.startswith("network: gateway ")]


@pytest.mark.parametrize("accel", accels())
def test_deferred_boot_log_is_whole_in_order_and_the_same_as_log_sync(guest, accel):
    """The log reaches the UART when the guest idles: the same lines, in the same order,
    as when each is written at once (log=sync)."""
    deferred = guest(accel, "port=80 seed=7", extra=NIC).wait_for_line("boot: phases")
    synced = guest(accel, "port=80 seed=7 log=sync", extra=NIC).wait_for_line("boot: phases")
    want = ["Quartz unikernel", "cmdline: ", "memory: ", "interrupts: ", "timer: ",
            "devices: ", "devices: ", "network: address ", "clock: ", "network: virtio-net ",
            "http: serving ", "boot: ready in ", "boot: phases (us): "]
    got = skeleton(deferred)
    assert [l for l in got if not any(l.startswith(w) for w in want)] == [], deferred
    prefixes = [next(w for w in want if l.startswith(w)) for l in got]
    assert prefixes == want, deferred
    # Nothing reworded or reordered by deferring: the same lines as written through
    # (after the banner and the command line, which differ by the log=sync).
    assert skeleton(synced)[2:] == got[2:], (deferred, synced)


@pytest.mark.parametrize("append, before, report", [
    ("panic=test", "panic: panic=test: faulting on purpose",
     "panic: CPU exception 13 (general protection)"),
    ("panic=stack", "panic: panic=stack: overflowing a 4-page task stack",
     "panic: CPU exception 8 (double fault)"),
])
def test_a_panic_shows_every_earlier_line_then_its_report(append, before, report):
    """What was still queued when the machine faulted comes out before the report."""
    status, log = run(default_accel(), append, timeout=30)
    assert status == 5, log
    lines = log.split("\n")
    order = ["Quartz unikernel", "cmdline: ", "memory: ", "interrupts: ", "timer: ",
             "devices: ", "network: address "]
    if append == "panic=stack":   # the overflow runs as a task, after boot
        order += ["http: ", "boot: ready in ", "boot: phases "]
    order += [before, report, "backtrace:", "panic: machine stopped"]
    at = 0
    for want in order:
        hit = next((i for i in range(at, len(lines)) if lines[i].startswith(want)), None)
        assert hit is not None, "no %r after line %d in:\n%s" % (want, at, log)
        at = hit + 1


def host_tsc_hz():
    """The host's TSC rate when its kernel states one (constant, known frequency), else None.
    Under TCG the guest's TSC is the host's."""
    info = open("/proc/cpuinfo").read()
    flags = re.search(r"^flags\s*:(.*)$", info, re.M).group(1).split()
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", info, re.M)
    if not mhz or "constant_tsc" not in flags or "tsc_known_freq" not in flags:
        return None
    return float(mhz.group(1)) * 1e6


def test_a_pit_timed_tsc_is_refined_from_the_rtc_within_seconds(guest):
    g = guest("tcg")
    g.wait_for("boot: phases")
    t0 = time.monotonic()
    log = g.wait_for_line("timer: tsc refined", timeout=15)
    waited = time.monotonic() - t0
    m = re.search(r"^timer: tsc refined to ([\d.]+) MHz from the RTC \(was ([\d.]+)\), "
                  r"lapic timer ([\d.]+) MHz$", log, re.M)
    assert m, log
    refined, was = float(m.group(1)) * 1e6, float(m.group(2)) * 1e6
    assert re.search(r"^timer: tsc [\d.]+ MHz \(pit\)", log, re.M), log
    print("tcg: refined %.6f MHz after %.1f s (PIT said %.6f MHz)" % (refined / 1e6, waited,
                                                                      was / 1e6))
    # The short PIT window is good to ~1%; the RTC's seconds to well under 0.1%.
    assert abs(was - refined) / refined < 0.01, log
    host = host_tsc_hz()
    if host:
        print("tcg: host TSC %.3f MHz, refined is %+.0f ppm off" % (
            host / 1e6, (refined - host) / host * 1e6))
        assert abs(refined - host) / host < 0.001, log
    # And the LAPIC's alarms follow: QEMU's LAPIC timer counts at 1 GHz / 16.
    assert abs(float(m.group(3)) - 62.5) / 62.5 < 0.01, log


def test_without_an_rtc_the_pit_rate_stays_and_says_so(guest):
    log = guest("tcg", machine="microvm,rtc=off").wait_for_line("timer: no RTC")
    assert re.search(r"^timer: no RTC: the tsc rate stays [\d.]+ MHz from \d+ us of PIT "
                     r"\(unrefined\)$", log, re.M), log


@pytest.mark.skipif(kvm_usable() is not None, reason="no KVM here")
def test_kvmclock_states_the_rate_and_nothing_is_refined(guest):
    g = guest("kvm")
    log = g.wait_for("boot: phases")
    assert re.search(r"^timer: tsc [\d.]+ MHz \(kvmclock\)", log, re.M), log
    time.sleep(3)
    log = g.wait_for("boot: phases")
    assert "refined" not in log and "unrefined" not in log, log
