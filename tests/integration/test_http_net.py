"""The web server beyond QEMU's user network, on the default accelerator (named in each
test id), -m 32M: a multi-megabyte download through the impairing relay byte-exact, ping,
arping and HTTP on a tap device, and a capture of a session (scripts/record-session.sh)
that tshark finds free of malformed frames and bad checksums. The tap and relay tests
need root, /dev/net/tun and iproute2, and skip, saying which is missing, without them."""
import re
import subprocess
import time

import pytest

from conftest import LINUX_IP, PEER_PORT, RELAY_PORT, STACK_IP
from http_guest import (ACCEL, BIG, TEXT, TRANSPORTS, guest_cmd, guest_problems, site_and_kernel,
                        url_path)
from qemu import ROOT, ping_answered

APPEND = "ip=%s/24 gw=%s port=80" % (STACK_IP, LINUX_IP)


@pytest.fixture(scope="module")
def site():
    return site_and_kernel()


class NsGuest:
    """The test kernel under QEMU inside a test's namespace; serial log to a file."""

    def __init__(self, link, kernel, netdev, transport="legacy"):
        self.serial = link.tmp / "serial.log"
        err = link.tmp / "qemu.err"
        cmd = guest_cmd(kernel, ACCEL, APPEND, extra=["-netdev", netdev, "-device",
                                                      "virtio-net-device,netdev=n0",
                                                      *TRANSPORTS[transport]],
                        serial=self.serial)
        self.proc = subprocess.Popen(["ip", "netns", "exec", link.ns, *cmd],
                                     stdout=subprocess.DEVNULL, stderr=open(err, "w"))
        end = time.monotonic() + 60
        while "http: serving" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise AssertionError("guest did not start serving:\n%s%s" % (
                    self.log(), err.read_text()))
            time.sleep(0.05)

    def log(self):
        return (self.serial.read_text(errors="replace") if self.serial.exists()
                else "").replace("\r", "")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        return self.log()


def curl_in(link, path, out, timeout=240):
    r = link.sh("curl", "-s", "-S", "--max-time", str(timeout), "-o", str(out), "-w",
                "%{http_code} %{size_download} %{speed_download} %{content_type}",
                "http://%s%s" % (STACK_IP, url_path(path)), check=False, timeout=timeout + 30)
    assert r.returncode == 0, "curl %s: %s" % (path, r.stderr)
    code, size, speed, ctype = r.stdout.split(" ", 3)
    return int(code), int(size), float(speed), ctype


IMPAIRMENTS = {"loss-5pct": "loss=5%,seed=3",
               "loss-3pct-reorder-2pct-dup-2pct": "loss=3%,reorder=2%,dup=2%,seed=7"}


@pytest.mark.parametrize("accel", [ACCEL])
@pytest.mark.parametrize("impair", list(IMPAIRMENTS))
def test_multi_megabyte_download_through_the_impairing_relay_is_byte_exact(
        relay_link, site, tmp_path, accel, impair):
    files, _, kernel = site
    relay_link.relay.start("--impair", IMPAIRMENTS[impair])
    netdev = ("dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=%d,"
              "remote.type=inet,remote.host=127.0.0.1,remote.port=%d" % (PEER_PORT, RELAY_PORT))
    guest = NsGuest(relay_link, kernel, netdev)
    try:
        out = tmp_path / "big"
        t0 = time.monotonic()
        code, size, speed, ctype = curl_in(relay_link, "/" + BIG, out)
        took = time.monotonic() - t0
        assert code == 200 and ctype == "application/octet-stream", (code, ctype)
        assert out.read_bytes() == files["/" + BIG], "%d bytes, not byte-exact" % size
        print("%s, %s: %d bytes in %.1f s (%.0f KB/s)" % (accel, IMPAIRMENTS[impair], size,
                                                         took, speed / 1e3))
        # The gzip variant too (a different body in the image).
        (tmp_path / "text").write_bytes(files["/" + TEXT])
        r = relay_link.sh("sh", "-c", "curl -s -S --max-time 120 -H 'Accept-Encoding: gzip' "
                          "http://%s/%s | gzip -dc | cmp - %s" % (STACK_IP, TEXT,
                                                                 tmp_path / "text"),
                          check=False, timeout=150)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        log = guest.stop()
    relay = relay_link.relay.stop()
    assert relay["tap_to_udp.lost"] > 0 and relay["udp_to_tap.lost"] > 0, relay
    assert not guest_problems(log), log


@pytest.mark.parametrize("accel", [ACCEL])
def test_on_a_tap_the_guest_answers_ping_and_arping_and_serves_http(linux_link, site,
                                                                    tmp_path, accel):
    files, _, kernel = site
    guest = NsGuest(linux_link, kernel, "tap,id=n0,ifname=qz0,script=no,downscript=no")
    try:
        r = linux_link.sh("ping", "-n", "-c", "5", "-i", "0.05", "-w", "20", "-s", "1400",
                          STACK_IP, check=False)
        assert ping_answered(r.stdout) == [1, 2, 3, 4, 5], r.stdout + r.stderr
        r = linux_link.sh("arping", "-c", "2", "-I", "qz0", STACK_IP, check=False)
        assert "Received 2 response(s)" in r.stdout, r.stdout + r.stderr
        assert "52:54:00:12:34:56" in r.stdout.lower(), r.stdout
        for path in ("/", "/style.css", "/" + BIG, "/\u00fcber-\u00fc.txt"):
            out = tmp_path / "out"
            code, size, speed, _ = curl_in(linux_link, path, out, timeout=60)
            want = files["/index.html" if path == "/" else path]
            assert code == 200 and out.read_bytes() == want, (path, code, size)
            if path == "/" + BIG:
                print("%s tap: %d bytes at %.1f MB/s" % (accel, size, speed / 1e6))
        r = linux_link.sh("ping", "-n", "-c", "3", "-i", "0.05", "-w", "20", STACK_IP,
                          check=False)
        assert ping_answered(r.stdout) == [1, 2, 3], r.stdout  # still answering afterwards
    finally:
        log = guest.stop()
    assert "network: gateway %s replied" % LINUX_IP in log, log
    # A tap with a vnet header: QEMU offers checksum offload and TSO, and the guest takes
    # them (the download above went out in bursts the host cut into segments).
    assert re.search(r"^network: virtio-net .*, offloads checksum\+TSO$", log, re.M), log
    assert not guest_problems(log), log


SESSION = """set -e
u=$QUARTZ_URL
curl -s -S -o /dev/null -o /dev/null "$u/" "$u/style.css"
curl -s -S -o /dev/null --compressed "$u/%s"
curl -s -S -o /dev/null "$u/%s"
curl -s -S -o /dev/null -r 0-99 "$u/%s"
curl -s -S -o /dev/null -I "$u/dir/"
curl -s -S -o /dev/null "$u/no-such-page"
curl -s -S -o /dev/null -H 'Range: bytes=99999999-' "$u/%s"
""" % (TEXT, BIG, BIG, BIG)


@pytest.mark.parametrize("accel", [ACCEL])
def test_a_recorded_session_has_no_malformed_frames_or_bad_checksums(site, tmp_path, accel):
    kernel = site[2]
    pcap = tmp_path / "session.pcap"
    r = subprocess.run([str(ROOT / "scripts/record-session.sh"), "-k", str(kernel), "-a",
                        accel, str(pcap), "sh", "-c", SESSION], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert pcap.exists() and pcap.stat().st_size > len(site[0]["/" + BIG]), r.stderr
    bad = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE", "-o",
         "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
         "-Y", "_ws.malformed || _ws.expert.severity == error || tcp.checksum.status == 2 "
               "|| ip.checksum.status == 2 || udp.checksum.status == 2"],
        capture_output=True, text=True, timeout=120)
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", "tshark objects to:\n" + bad.stdout[:4000]
    resp = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", "http.response", "-T",
                           "fields", "-e", "http.response.code"], capture_output=True,
                          text=True, timeout=120)
    codes = sorted(resp.stdout.split())
    print("%s: capture %d bytes, HTTP responses %s" % (accel, pcap.stat().st_size, codes))
    assert codes.count("200") >= 4 and "404" in codes and "206" in codes, codes
    assert "416" in codes, codes
    log = (tmp_path / "session.pcap.log").read_text(errors="replace")
    assert not guest_problems(log), log
