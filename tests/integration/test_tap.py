"""The stack on a real Linux link: Linux's ping, arping and sockets against it."""
import errno
import re
import time

import pytest

from conftest import LINUX_IP, ROOT, STACK_IP, STACK_MAC


def ping(node, *args, timeout=60):
    return node.sh("ping", "-n", *args, STACK_IP, check=False, timeout=timeout)


@pytest.mark.parametrize("size", [0, 1, 56, 1000, 1472])
def test_ping_of_every_unfragmented_size_is_answered(node, size):
    r = ping(node, "-c", "3", "-i", "0.05", "-W", "2", "-s", str(size))
    assert " 0% packet loss" in r.stdout, r.stdout + r.stderr
    if size >= 8:  # Linux checks the echoed data itself; it complains on a mismatch
        assert "wrong data" not in r.stdout


@pytest.mark.parametrize("size", [1473, 4000, 65507])
def test_fragmented_ping_is_reassembled_and_answered_in_fragments(node, size):
    r = ping(node, "-c", "2", "-i", "0.2", "-W", "2", "-s", str(size))
    assert " 0% packet loss" in r.stdout, r.stdout + r.stderr
    assert "wrong data" not in r.stdout
    c = node.counters()
    assert c["ipv4.frag_reassembled"] == 2
    assert c["ipv4.tx_fragments"] >= 4


def test_ping_flood_loses_nothing(node):
    r = ping(node, "-f", "-c", "2000", "-W", "2", timeout=120)
    assert "2000 packets transmitted, 2000 received" in r.stdout, r.stdout + r.stderr
    c = node.counters()
    assert c["icmp.tx_echo_replies"] == 2000


def test_arping_gets_our_mac(node):
    r = node.sh("arping", "-c", "3", "-I", "qz0", STACK_IP, check=False)
    assert "Received 3 response(s)" in r.stdout, r.stdout + r.stderr
    assert STACK_MAC.upper() in r.stdout.upper()


def test_announces_its_address_on_start(linux_link):
    """Linux learns our MAC from the gratuitous ARP alone, before any traffic of its own.

    Linux only accepts unsolicited ARP into an existing neighbour entry unless arp_accept is
    set, so the test sets it inside its own namespace."""
    linux_link.sh("sysctl", "-q", "-w", "net.ipv4.conf.qz0.arp_accept=1")
    linux_link.start()
    time.sleep(0.5)
    neigh = linux_link.sh("ip", "neigh", "show", STACK_IP, "dev", "qz0").stdout
    assert STACK_MAC in neigh.lower(), neigh
    assert linux_link.counters()["arp.tx_announcements"] >= 1


def test_stack_pings_linux_and_reports_round_trip_times(linux_link):
    linux_link.start("--ping", LINUX_IP, "--count", "3", "--interval", "100", "--size", "1000")
    linux_link.proc.wait(timeout=20)
    out = linux_link.log.read_text()
    rtts = re.findall(r"ping 10\.0\.0\.1 seq=(\d+) len=1000 ttl=64 rtt=([\d.]+) ms", out)
    assert [seq for seq, _ in rtts] == ["1", "2", "3"], out
    assert all(0 < float(rtt) < 1000 for _, rtt in rtts), out
    assert linux_link.proc.returncode == 0


def test_stack_ping_to_an_absent_host_times_out_after_arp_gives_up(linux_link):
    linux_link.start("--ping", "10.0.0.77", "--count", "1", "--duration", "4")
    linux_link.proc.wait(timeout=20)
    out = linux_link.log.read_text()
    assert "ping 10.0.0.77 seq=1 timeout" in out, out
    assert linux_link.proc.returncode == 1
    c = {k: int(v) for k, v in re.findall(r"^([a-z0-9_.]+)=(\d+)$", out, re.M)}
    assert c["arp.tx_requests"] == 3, out  # the retry limit
    assert c["arp.resolve_failed"] == 1
    assert c["arp.queue_dropped"] == 1  # the echo request that waited, counted not leaked


def test_udp_to_the_stack_gets_protocol_unreachable(node):
    """The stack speaks no UDP: Linux's socket must see the ICMP error (ENOPROTOOPT)."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3)\n"
            "s.connect(('%s',9)); s.send(b'hello')\n"
            "try:\n s.recv(100); print('no error')\n"
            "except OSError as e: print('errno', e.errno)\n" % STACK_IP)
    r = node.sh("/usr/bin/python3", "-c", code)
    assert r.stdout.strip() == "errno %d" % errno.ENOPROTOOPT, r.stdout + r.stderr
    c = node.counters()
    assert c["icmp.tx_errors"] == 1 and c["ipv4.rx_unknown_proto"] == 1


@pytest.mark.parametrize("damage", ["eth", "arp", "ipv4", "icmp", "frag", "noise"])
def test_survives_every_damaged_frame_and_keeps_answering(linux_link, damage):
    """scripts/damage.py follows each bad frame with a good echo request (seq = its number)."""
    node = linux_link
    node.sh("ip", "link", "set", "qz0", "mtu", "9000")  # so Linux lets oversize frames out
    node.start()
    r = node.sh("/usr/bin/python3", str(ROOT / "scripts/damage.py"), "qz0", damage, timeout=120)
    sent = len(r.stdout.splitlines())
    assert sent > 5, r.stdout + r.stderr
    after = ping(node, "-c", "2", "-i", "0.1", "-W", "2")
    assert " 0% packet loss" in after.stdout, after.stdout
    c = node.counters()
    # Every liveness probe, plus the ping after: nothing bad froze or wedged the stack.
    assert c["icmp.tx_echo_replies"] >= sent + 2, c
