"""Linux's TCP against Quartz's through the impairing relay (harness/relay.c): frames
between Linux's tap and the stack's UDP link are dropped, reordered, duplicated and
corrupted by seed, in both directions, and every transfer must still be byte-exact.

The host kernel here has no netem, hence the relay. Corruption starts past the Ethernet
header (corrupt_offset=14): a tap has no frame check sequence, so a flipped MAC bit would
otherwise reach the stack as a valid frame for someone else.
"""

from conftest import STACK_IP, UDP_LINK
from test_tcp_linux import SERVICES, echo_roundtrip, pattern


def transfer_ok(link, n):
    got, ok = echo_roundtrip(link, n, timeout=300)
    assert (got, ok) == (str(n), "True"), "echo of %d bytes came back as %s bytes" % (n, got)


def test_four_megabytes_echo_byte_exact_through_5_percent_loss_each_way(relay_link):
    relay_link.relay.start("--impair", "loss=5%,seed=5")
    relay_link.start(*SERVICES, "tcp=64,65536", link=UDP_LINK)
    transfer_ok(relay_link, 4 << 20)
    relay = relay_link.relay.stop()
    stack = relay_link.counters()
    assert relay["tap_to_udp.lost"] > 0 and relay["udp_to_tap.lost"] > 0, relay
    assert stack["tcp.retransmits"] + stack.get("tcp.fast_retransmits", 0) > 0, stack
    assert stack.get("tcp.rx_ooo", 0) > 0, stack  # Linux's later segments arrived past a hole


def test_two_megabytes_echo_through_loss_reordering_duplication_and_corruption(relay_link):
    spec = "loss=3%,reorder=3%,dup=3%,corrupt=1%,corrupt_offset=14,delay=2ms,jitter=1ms,seed=9"
    relay_link.relay.start("--impair", spec)
    relay_link.start(*SERVICES, "tcp=64,65536", link=UDP_LINK)
    transfer_ok(relay_link, 2 << 20)
    relay = relay_link.relay.stop()
    stack = relay_link.counters()
    for d in ("tap_to_udp", "udp_to_tap"):
        assert relay[d + ".lost"] and relay[d + ".reordered"] and relay[d + ".duplicated"], relay
    assert relay["tap_to_udp.corrupted"] > 0
    bad = sum(v for k, v in stack.items() if "bad_checksum" in k)
    assert bad > 0, stack  # the damaged frames were caught, not delivered
    assert stack.get("tcp.rx_dup_bytes", 0) > 0, stack


def test_curl_download_through_5_percent_loss_is_byte_exact(relay_link, tmp_path):
    relay_link.relay.start("--impair", "loss=5%,seed=3")
    relay_link.start(*SERVICES, "tcp=64,65536", link=UDP_LINK)
    out = tmp_path / "source.bin"
    r = relay_link.sh("curl", "-s", "--http0.9", "-o", str(out), "--max-time", "120",
                      "http://%s:19/" % STACK_IP, check=False, timeout=180)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == pattern(3000000)
