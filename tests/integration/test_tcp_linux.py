"""Quartz's TCP against Linux's: nc, curl and Python sockets talk to the tap runner's
services (harness/services.h) from the namespace the fixture creates.

echo:7 returns every byte, discard:9 logs a count and an FNV-1a hash of what it got,
source:19:N sends N bytes of byte[i] = i % 251. Everything is checked byte for byte.
"""
import os
import re
import subprocess
import time

import pytest

from conftest import STACK_IP

SERVICES = ["serve=echo:7", "serve=discard:9", "serve=source:19:3000000"]


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def pattern(n):
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


@pytest.fixture
def tcp_node(linux_link):
    linux_link.start(*SERVICES, "tcp=2048,65536")
    return linux_link


def ns_python(node, code, timeout=120, check=True):
    """Run a Python client inside the namespace (Debian's python3: sockets only)."""
    return node.sh("/usr/bin/python3", "-c", code, timeout=timeout, check=check)


ECHO_CLIENT = r"""
import os, socket, threading
data = os.urandom({n})
s = socket.create_connection(("{ip}", 7), timeout=60)
got = bytearray()
def reader():
    while True:
        b = s.recv(1 << 16)
        if not b:
            return
        got.extend(b)
t = threading.Thread(target=reader)
t.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
t.join(120)
print(len(got), got == data)
"""


def echo_roundtrip(node, n, timeout=180):
    r = ns_python(node, ECHO_CLIENT.format(n=n, ip=STACK_IP), timeout=timeout)
    return r.stdout.split()


def test_nc_gets_its_line_echoed(tcp_node):
    r = tcp_node.sh("sh", "-c", "printf 'hello, quartz\\n' | nc -N -w 5 %s 7" % STACK_IP)
    assert r.stdout == "hello, quartz\n", r.stdout + r.stderr


def test_nc_sees_a_closed_port_refused(tcp_node):
    r = tcp_node.sh("nc", "-z", "-w", "3", STACK_IP, "8", check=False)
    assert r.returncode != 0
    c = tcp_node.counters()
    assert c["tcp.rx_no_conn"] >= 1 and c["tcp.tx_resets"] >= 1


def test_curl_downloads_three_megabytes_byte_exact(tcp_node, tmp_path):
    # source:19 speaks no HTTP: curl's HTTP/0.9 mode takes a response without headers.
    out = tmp_path / "source.bin"
    r = tcp_node.sh("curl", "-s", "--http0.9", "-o", str(out), "--max-time", "60",
                    "http://%s:19/" % STACK_IP, check=False)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == pattern(3000000)


def test_python_echo_of_four_megabytes_is_byte_exact(tcp_node):
    n, ok = echo_roundtrip(tcp_node, 4 << 20)
    assert (n, ok) == (str(4 << 20), "True")
    log = tcp_node.stop()
    assert re.search(r"service: echo:7 from 10\.0\.0\.1:\d+ done: 4194304 bytes in, 4194304 out",
                     log), log


def test_discard_sees_exactly_what_linux_sent(tcp_node):
    data = os.urandom(3 << 20)
    code = ("import socket,sys\ns=socket.create_connection(('%s',9))\n"
            "s.sendall(sys.stdin.buffer.read())\ns.shutdown(socket.SHUT_WR)\n"
            "assert s.recv(1)==b''\n" % STACK_IP)
    subprocess.run(["ip", "netns", "exec", tcp_node.ns, "/usr/bin/python3", "-c", code],
                   input=data, check=True, timeout=120)
    log = tcp_node.stop()
    m = re.search(r"discard:9 from \S+ done: (\d+) bytes in, 0 out, fnv1a64 ([0-9a-f]{16})", log)
    assert m, log
    assert int(m.group(1)) == len(data)
    assert int(m.group(2), 16) == fnv1a64(data)


def test_half_close_linux_keeps_reading_after_its_fin(tcp_node):
    code = r"""
import socket
s = socket.create_connection(("%s", 7))
s.sendall(b"x" * 100000)
s.shutdown(socket.SHUT_WR)        # our FIN: Quartz must still send the echo
got = b""
while True:
    b = s.recv(65536)
    if not b: break
    got += b
print(len(got))
""" % STACK_IP
    assert ns_python(tcp_node, code).stdout.strip() == "100000"


def test_a_hundred_concurrent_echo_connections(tcp_node):
    code = r"""
import os, socket, threading
ok = []
def one(i):
    data = os.urandom(65536)
    s = socket.create_connection(("%s", 7), timeout=60)
    got = bytearray()
    def rd():
        while True:
            b = s.recv(65536)
            if not b: return
            got.extend(b)
    t = threading.Thread(target=rd); t.start()
    s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(60)
    ok.append(bytes(got) == data)
ts = [threading.Thread(target=one, args=(i,)) for i in range(100)]
[t.start() for t in ts]; [t.join(120) for t in ts]
print(sum(ok), len(ok))
""" % STACK_IP
    assert ns_python(tcp_node, code, timeout=180).stdout.split() == ["100", "100"]


def test_a_thousand_idle_connections_do_not_stop_a_new_client(tcp_node):
    code = r"""
import resource, socket
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
idle = [socket.create_connection(("%s", 9), timeout=10) for _ in range(1000)]
s = socket.create_connection(("%s", 7), timeout=10)
s.sendall(b"still serving")
print(s.recv(100).decode())
for c in idle: c.close()
""" % (STACK_IP, STACK_IP)
    assert ns_python(tcp_node, code, timeout=120).stdout.strip() == "still serving"
    c = tcp_node.counters()
    assert c["tcp.opened"] >= 1001


def test_a_syn_flood_does_not_stop_a_new_client(tcp_node):
    """Thousands of SYNs from addresses that never answer fill the SYN queue; SYN cookies
    keep the listener serving a real client in the middle of the flood."""
    flood = r"""
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
frames = [Ether(dst="52:54:00:12:34:56") / IP(src="10.0.0.%%d" %% (100 + i %% 100), dst="%s") /
          TCP(sport=1024 + i, dport=7, flags="S", seq=i * 7919) for i in range(3000)]
sendp(frames, iface="qz0")
""" % STACK_IP
    proc = subprocess.Popen(["ip", "netns", "exec", tcp_node.ns, "/usr/bin/python3", "-c", flood])
    try:
        time.sleep(1.0)
        n, ok = echo_roundtrip(tcp_node, 100000, timeout=60)
        assert (n, ok) == ("100000", "True")
    finally:
        proc.wait(timeout=120)
    c = tcp_node.counters()
    assert c["tcp.syn_queue_full"] > 0 and c["tcp.syn_cookies_sent"] > 0, c
