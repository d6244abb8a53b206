"""Fault runs against Linux's own TCP/IP through harness/relay.c, the impairing relay.

Inside a namespace the test creates: Linux on tap qz0 (10.0.0.1/24) <-> relay <-> UDP on the
namespace's loopback <-> taprun (10.0.0.2/24) or the unikernel guest under QEMU
(-netdev dgram / -netdev socket,udp=). Linux's IPv6 is off on qz0 and its neighbour entry
for the stack is permanent, so the only frames Linux sends are the test's, and the relay's
counters can be checked against ping's and the stack's exactly.
"""
import re
import subprocess
import time

import pytest

from conftest import (LINUX_IP, PEER_PORT, RELAY, RELAY_PORT, ROOT, STACK_IP,
                      TO_LINUX, TO_STACK, start)
from qemu import default_accel, host_cpu_share, ping_answered, qemu_cmd

def ping(link, *args, timeout=60):
    r = link.sh("ping", "-n", *args, STACK_IP, check=False, timeout=timeout)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, r.stdout + r.stderr
    return int(m.group(1)), int(m.group(2)), r.stdout


def warm_up(link):
    """Ping until one answer: the stack has then resolved Linux's MAC (its ARP may be
    impaired too), so what follows is echo requests and replies only."""
    sent = got = 0
    for _ in range(10):
        s, g, _ = ping(link, "-c", "1", "-W", "1")
        sent, got = sent + s, got + g
        if g:
            return sent, got
    raise AssertionError("no ping got through in 10 tries")


def test_clean_relay_passes_every_ping_and_frame(relay_link):
    start(relay_link)
    sent, got, out = ping(relay_link, "-c", "50", "-i", "0.01", "-W", "2")
    assert sent == got == 50 and " 0% packet loss" in out, out
    relay = relay_link.relay.stop()
    stack = relay_link.counters()
    for d in ("tap_to_udp", "udp_to_tap"):
        assert relay[d + ".in"] == relay[d + ".out"] > 0, relay
        assert relay[d + ".lost"] == relay[d + ".corrupted"] == relay[d + ".overflow"] == 0
    assert relay["tap_to_udp.out"] == stack["eth.rx_frames"]  # everything reached the stack
    assert relay["udp_to_tap.in"] == stack["eth.tx_frames"]  # and everything it sent, Linux
    assert stack["icmp.tx_echo_replies"] == 50


def test_idle_relay_sleeps(relay_link):
    """With frames held in both directions and then nothing to do, the relay must sleep in
    ppoll, not spin on its deadline."""
    start(relay_link, "--impair", "delay=20ms,jitter=5ms")
    ping(relay_link, "-c", "5", "-i", "0.01", "-W", "2")
    share = host_cpu_share(relay_link.relay.proc.pid, seconds=1.5)
    print("idle relay: %.2f%% of a CPU" % (share * 100))
    assert share < 0.05, "idle relay used %.0f%% of a CPU" % (share * 100)


def test_loss_of_20_percent_is_observed_and_the_counters_agree(relay_link):
    start(relay_link, TO_STACK, "loss=20%,seed=11")
    warm_sent, warm_got = warm_up(relay_link)
    before = relay_link.relay.snapshot()
    sent, got, out = ping(relay_link, "-c", "500", "-i", "0.002", "-W", "1", "-q")
    after = relay_link.relay.stop()
    delta = {k: after[k] - before[k] for k in after}
    loss = (sent - got) / sent
    print("ping: %d sent, %d received: %.1f%% loss; relay lost %d of %d toward the stack"
          % (sent, got, 100 * loss, delta["tap_to_udp.lost"], delta["tap_to_udp.in"]))
    assert 0.14 < loss < 0.26, out
    # Linux sent only the echo requests; each one the relay lost is one ping lost.
    assert delta["tap_to_udp.in"] == sent
    assert delta["tap_to_udp.lost"] == sent - got
    assert delta["udp_to_tap.lost"] == 0 and delta["udp_to_tap.out"] >= got
    stack = relay_link.counters()
    assert stack["eth.rx_frames"] == after["tap_to_udp.out"]
    assert stack["icmp.rx_echo_requests"] == stack["icmp.tx_echo_replies"] == warm_got + got


def drop_counters(stack):
    """Every counter of a frame the stack refused, from Ethernet up."""
    bad = ("bad", "truncated", "runt", "not_for_us", "unknown", "unsupported", "multicast")
    return sum(v for k, v in stack.items() if k.split(".")[0] in ("eth", "ipv4", "icmp") and
               k.split(".")[1].startswith("rx_") and any(b in k for b in bad))


def test_every_frame_corrupted_toward_the_stack_is_dropped_by_its_checksums(relay_link):
    """corrupt_offset=14 keeps the Ethernet header: a tap or UDP link has no FCS, so a bit
    flipped in a MAC address would be a valid frame. Everything after it is under the IPv4
    or ICMP checksum, and one flipped bit always breaks an Internet checksum."""
    start(relay_link, TO_STACK, "corrupt=100%,corrupt_offset=14,seed=5")
    sent, got, out = ping(relay_link, "-c", "40", "-i", "0.01", "-W", "1")
    assert got == 0 and "100% packet loss" in out, out
    relay = relay_link.relay.stop()
    stack = relay_link.counters()
    assert relay["tap_to_udp.corrupted"] == relay["tap_to_udp.in"] == sent
    assert stack.get("icmp.rx_echo_requests", 0) == stack.get("icmp.tx_echo_replies", 0) == 0
    print("stack drops: %s" % {k: v for k, v in stack.items() if k.startswith(("eth.rx", "ipv4.rx",
                                                                              "icmp.rx"))})
    assert drop_counters(stack) == sent, stack
    assert stack.get("ipv4.rx_bad_checksum", 0) + stack.get("icmp.rx_bad_checksum", 0) > 0


def test_duplicated_requests_get_duplicate_replies(relay_link):
    start(relay_link, TO_STACK, "dup=100%")
    sent, got, out = ping(relay_link, "-c", "5", "-i", "0.05", "-W", "2")
    dups = re.search(r"\+(\d+) duplicates", out)
    # ping stops at its fifth reply, so the fifth duplicate may arrive after it has gone.
    assert got == 5 and dups and int(dups.group(1)) >= 4 and out.count("DUP!") >= 4, out
    relay = relay_link.relay.stop()
    assert relay["tap_to_udp.duplicated"] == relay["tap_to_udp.in"]
    stack = relay_link.counters()
    assert stack["icmp.rx_echo_requests"] == stack["icmp.tx_echo_replies"] == 10


def test_the_relay_reports_a_bad_spec_and_exits_2(relay_link):
    r = subprocess.run([str(RELAY), "--tap", "qz0", "--udp-local", "1", "--udp-remote", "2",
                        TO_LINUX, "loss=120%"], capture_output=True, text=True)
    assert r.returncode == 2 and "loss=120%: over 100%" in r.stderr, r.stderr


NETDEVS = {
    "dgram": "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=%d,"
             "remote.type=inet,remote.host=127.0.0.1,remote.port=%d" % (PEER_PORT, RELAY_PORT),
    "socket": "socket,id=n0,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d" % (RELAY_PORT, PEER_PORT),
}


@pytest.mark.parametrize("netdev", list(NETDEVS))
def test_guest_answers_ping_through_a_delaying_relay(relay_link, netdev):
    """The unikernel under QEMU on the relay's UDP side; 5 ms of delay each way shows in
    both the guest's boot-time gateway ping and Linux's round-trip times."""
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/quartz-unikernel.elf"], check=True)
    relay_link.relay.start("--impair", "delay=5ms")
    serial = relay_link.tmp / "serial.log"
    cmd = qemu_cmd(default_accel(), "ip=%s/24 gw=%s" % (STACK_IP, LINUX_IP),
                   extra=["-netdev", NETDEVS[netdev], "-device", "virtio-net-device,netdev=n0"])
    cmd[cmd.index("stdio")] = "file:%s" % serial
    qemu_log = relay_link.tmp / "qemu.log"
    guest = subprocess.Popen(["ip", "netns", "exec", relay_link.ns, *cmd],
                             stdout=subprocess.DEVNULL, stderr=open(qemu_log, "w"))
    try:
        end = time.monotonic() + 30
        text = ""
        while "network: gateway" not in text:
            assert time.monotonic() < end and guest.poll() is None, text + qemu_log.read_text()
            time.sleep(0.05)
            text = serial.read_text() if serial.exists() else ""
        m = re.search(r"network: gateway %s replied in ([\d.]+) ms" % LINUX_IP, text)
        assert m and float(m.group(1)) >= 10, text
        sent, got, out = ping(relay_link, "-c", "5", "-i", "0.05", "-w", "20", "-s", "1000")
        assert ping_answered(out) == [1, 2, 3, 4, 5] and "wrong data" not in out, out
        rtt_min = float(re.search(r"= ([\d.]+)/", out).group(1))
        assert rtt_min >= 10.0, out
        print("%s: gateway ping %s ms at boot; %s" % (netdev, m.group(1),
                                                        out.strip().splitlines()[-1]))
    finally:
        if guest.poll() is None:
            guest.terminate()
            guest.wait(timeout=10)
    relay = relay_link.relay.stop()
    assert relay["udp_to_tap.in"] > 5 and relay["tap_to_udp.lost"] == 0
