"""Shared pieces of the HTTP suite (test_http_*.py): a deterministic test site, a kernel
built around it, the guest booted under QEMU with its port 80 forwarded to the host, and a
small raw HTTP/1.1 client for what curl and http.client will not send.

Everything goes through what a user has: QEMU, the serial log and the network. The kernel
is built once per pytest process in its own build directory (build/http-test), so it never
disturbs build/; each QEMU started here is stopped by its own pid.
"""
import atexit
import ctypes
import itertools
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import zlib
from pathlib import Path

from conftest import tap_unavailable  # noqa: F401 - re-exported for test_http_load
from qemu import ROOT, default_accel, qemu_cmd

# The accelerator of the tests that run once (the core matrix runs under every one):
# QUARTZ_HTTP_ACCEL=tcg or kvm overrides the default (kvm when /dev/kvm opens).
ACCEL = os.environ.get("QUARTZ_HTTP_ACCEL") or default_accel()
BUILD = "build/http-test"
KERNEL = ROOT / BUILD / "quartz-unikernel.elf"
IMAGE = ROOT / BUILD / "site.img"
MEM = "32M"
TRANSPORTS = {"legacy": [], "modern": ["-global", "virtio-mmio.force-legacy=false"]}

BIG = "big.bin"            # ~3 MiB of random bytes: no gzip variant, octet-stream
TEXT = "text-1m.txt"       # ~1 MiB of words: compressible, has a gzip variant
SMALL = "small.txt"        # a few bytes: gzip would not be smaller, so no variant
MEDIUM = "medium.dat"      # ~300 KB of random bytes, unknown extension: octet-stream

# What each file must be served as (independent of the bundler's own table).
EXPECTED_TYPES = {
    "/index.html": "text/html; charset=utf-8",
    "/style.css": "text/css; charset=utf-8",
    "/dir/index.html": "text/html; charset=utf-8",
    "/dir/sub/page.html": "text/html; charset=utf-8",
    "/odd name.txt": "text/plain; charset=utf-8",
    "/\u00fcber-\u00fc.txt": "text/plain; charset=utf-8",
    "/many.dots.in.name.js": "text/javascript; charset=utf-8",
    "/" + BIG: "application/octet-stream",
    "/" + MEDIUM: "application/octet-stream",
    "/" + TEXT: "text/plain; charset=utf-8",
    "/" + SMALL: "text/plain; charset=utf-8",
    "/empty.txt": "text/plain; charset=utf-8",
    "/image.svg": "image/svg+xml",
    "/pixel.png": "image/png",
    "/data.json": "application/json",
}


def _png(width=2, height=2):
    """A tiny valid PNG, built by hand (RGB, no filter)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes([255, 0, 0] * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def make_site(root):
    """Write the test site under `root`; return {url path: bytes}. Same bytes every run."""
    rng = random.Random(20240601)
    words = ["quartz", "unikernel", "virtio", "segment", "window", "gateway", "packet",
             "header", "range", "etag", "deflate", "kernel", "frame", "socket", "ring"]
    text = bytearray()
    line = 0
    while len(text) < (1 << 20) + 4321:
        line += 1
        text += ("%06d " % line).encode() + " ".join(
            rng.choice(words) for _ in range(12)).encode() + b"\n"
    files = {
        "/index.html": b"<!doctype html>\n<title>Quartz test site</title>\n"
                       b"<link rel=stylesheet href=style.css>\n<p>Hello from the guest.</p>\n"
                       b"<a href=dir/>dir</a> <img src=pixel.png>\n",
        "/style.css": b"body { font-family: sans-serif; color: #222; }\n" * 40,
        "/dir/index.html": b"<!doctype html>\n<title>dir</title>\n<p>The nested index.</p>\n",
        "/dir/sub/page.html": b"<!doctype html>\n<title>page</title>\n<p>Deeper.</p>\n",
        "/odd name.txt": b"a name with a space\n",
        "/\u00fcber-\u00fc.txt": "a unicode name: \u00fcber\n".encode(),
        "/many.dots.in.name.js": b"console.log('dots');\n" * 10,
        "/" + BIG: rng.randbytes(3 * (1 << 20) + 12345),
        "/" + MEDIUM: rng.randbytes(300007),
        "/" + TEXT: bytes(text),
        "/" + SMALL: b"tiny\n",
        "/empty.txt": b"",
        "/image.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                      b'<rect width="10" height="10" fill="red"/></svg>\n',
        "/pixel.png": _png(),
        "/data.json": b'{"name": "quartz", "files": 14, "ok": true, "list": [1, 2, 3]}\n',
    }
    assert set(files) == set(EXPECTED_TYPES)
    for path, data in files.items():
        p = Path(root) / path[1:]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, (1700000000, 1700000000))  # fixed mtimes: the Makefile's stamp is stable
    return files


def url_path(path):
    """The path as a client writes it in a request target (UTF-8, percent-encoded)."""
    return urllib.parse.quote(path, safe="/?=&")


_cache = {}


def site_and_kernel():
    """(site files {path: bytes}, bundle listing {path: (len, gz_len, etag, mime)}, kernel):
    the site written and the kernel built once per process."""
    if "site" not in _cache:
        tmp = tempfile.mkdtemp(prefix="quartz-http-site-")
        atexit.register(shutil.rmtree, tmp, True)
        files = make_site(Path(tmp) / "site")
        r = subprocess.run(["make", "-s", "-C", str(ROOT), "BUILD=" + BUILD,
                            "SITE=" + str(Path(tmp) / "site"), str(KERNEL.relative_to(ROOT))],
                           capture_output=True, text=True)
        assert r.returncode == 0, "building the test kernel failed:\n" + r.stdout + r.stderr
        listing = {}
        out = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts/site-bundle.py"),
                              "--list", str(IMAGE)], capture_output=True, check=True).stdout
        for line in out.split(b"\n"):
            if line:
                n, gz, etag, mime, path = line.split(b"\t", 4)
                listing[path.decode()] = (int(n), int(gz), etag.decode(), mime.decode())
        _cache["site"] = (files, listing, KERNEL)
    return _cache["site"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def guest_cmd(kernel, accel, append, mem=MEM, extra=(), serial=None):
    cmd = qemu_cmd(accel, append, mem=mem, extra=list(extra))
    cmd[cmd.index("-kernel") + 1] = str(kernel)
    if serial:
        cmd[cmd.index("stdio")] = "file:%s" % serial
    return cmd


class HttpGuest:
    """The test kernel on QEMU's user network, its port 80 forwarded to 127.0.0.1:port.
    The serial log goes to a file (a pipe nobody drains would stall the guest)."""

    def __init__(self, kernel, accel, transport="legacy", mem=MEM, extra_netdev="",
                 timeout=60):
        self.accel, self.transport = accel, transport
        self.host, self.port, self.netns = "127.0.0.1", free_port(), None
        self.dir = Path(tempfile.mkdtemp(prefix="quartz-http-guest-"))
        self.serial = self.dir / "serial.log"
        netdev = "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80%s" % (self.port, extra_netdev)
        cmd = guest_cmd(kernel, accel, "ip=10.0.2.15/24 gw=10.0.2.2 port=80", mem,
                        ["-netdev", netdev, "-device", "virtio-net-device,netdev=n0",
                         *TRANSPORTS[transport]], serial=self.serial)
        self.qemu_err = self.dir / "qemu.err"
        self.proc = None
        try:
            self.boot(cmd, timeout)
        except BaseException:
            self.stop()
            raise

    def boot(self, cmd, timeout):
        """Start QEMU (cmd) and wait until the guest serves; note its connection table."""
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(self.qemu_err, "w"))
        self.wait_for(r"^http: serving .*$", timeout)
        m = re.search(r"^http: serving (\d+) files .* (\d+) connections$", self.log(), re.M)
        self.conns = int(m.group(2)) if m else None

    def log(self):
        text = self.serial.read_text(errors="replace") if self.serial.exists() else ""
        return text.replace("\r", "")

    def wait_for(self, pattern, timeout=30):
        end = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log(), re.M)
            if m:
                return m
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError("guest (%s/%s) never logged %r; QEMU %s; log:\n%s%s" % (
                    self.accel, self.transport, pattern,
                    "exited %s" % self.proc.returncode if self.proc.poll() is not None
                    else "still running", self.log(), self.qemu_err.read_text()))
            time.sleep(0.05)

    @property
    def wall_clock(self):
        return re.search(r"^clock: wall time", self.log(), re.M) is not None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Stop QEMU (by its pid) and return the serial log."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        log = self.log()
        shutil.rmtree(self.dir, ignore_errors=True)
        return log

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, url_path(path))

    def run(self, *cmd, timeout=120):
        """A client command, beside QEMU (here: on the host)."""
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# ---- The guest on a tap device in a network namespace of its own: no slirp in the path
# (slirp's hostfwd listens with a backlog of 1, so it cannot present 200 simultaneous
# clients to the guest). Clients reach it from inside the namespace: commands through
# `ip netns exec`, Python sockets created there (setns on the creating thread only).

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
_ns_names = itertools.count()


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def socket_in_netns(netns):
    """A TCP socket in network namespace `netns` (None: this thread's own)."""
    if not netns:
        return socket.socket()
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/var/run/netns/" + netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            return socket.socket()
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)


class TapHttpGuest(HttpGuest):
    """The test kernel on tap qz0 in a namespace made for it: Linux 10.0.0.1/24, the guest
    10.0.0.2/24 serving port 80."""

    def __init__(self, kernel, accel, transport="legacy", mem=MEM, timeout=60):
        self.accel, self.transport = accel, transport
        self.host, self.port = "10.0.0.2", 80
        self.netns = "qzh%d_%d" % (os.getpid(), next(_ns_names))
        self.dir = Path(tempfile.mkdtemp(prefix="quartz-http-guest-"))
        self.serial = self.dir / "serial.log"
        self.qemu_err = self.dir / "qemu.err"
        self.proc = None
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        try:
            for cmd in (["ip", "link", "set", "lo", "up"],
                        ["ip", "tuntap", "add", "dev", "qz0", "mode", "tap"],
                        ["ip", "addr", "add", "10.0.0.1/24", "dev", "qz0"],
                        ["ip", "link", "set", "qz0", "up"],
                        ["sysctl", "-q", "-w", "net.ipv6.conf.qz0.disable_ipv6=1"]):
                subprocess.run(["ip", "netns", "exec", self.netns, *cmd], check=True)
            cmd = guest_cmd(kernel, accel, "ip=10.0.0.2/24 gw=10.0.0.1 port=80", mem,
                            ["-netdev", "tap,id=n0,ifname=qz0,script=no,downscript=no",
                             "-device", "virtio-net-device,netdev=n0",
                             *TRANSPORTS[transport]], serial=self.serial)
            self.boot(["ip", "netns", "exec", self.netns, *cmd], timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        try:
            log = super().stop()
        finally:
            subprocess.run(["ip", "netns", "del", self.netns], check=False)
        return log

    def url(self, path="/"):
        return "http://10.0.0.2%s" % url_path(path)

    def run(self, *cmd, timeout=120):
        return subprocess.run(["ip", "netns", "exec", self.netns, *cmd], capture_output=True,
                              text=True, timeout=timeout)


def guest_problems(log):
    """Lines of a guest log that say something went wrong."""
    return [l for l in log.splitlines()
            if re.search(r"panic|error|damaged|out of memory|refused|cannot", l, re.I)]


# ---- A raw HTTP/1.1 client: exact bytes out, responses parsed by Content-Length.

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.fields = headers          # [(lower-case name, value)] in order
        self.body = body

    def get(self, name, default=None):
        vals = self.all(name)
        assert len(vals) <= 1, "%s sent %d times: %r" % (name, len(vals), self.fields)
        return vals[0] if vals else default

    def all(self, name):
        return [v for k, v in self.fields if k == name.lower()]

    def __repr__(self):
        return "<%s %d %s %r body %d bytes%s>" % (
            self.version, self.status, self.reason, self.fields, len(self.body),
            ": %r" % self.body[:120] if len(self.body) < 200 else "")


class Conn:
    """One TCP connection to the guest (an HttpGuest or a TapHttpGuest: its address, and
    its namespace if any), and a buffer of what it has sent us."""

    def __init__(self, guest, timeout=15):
        self.sock = socket_in_netns(guest.netns)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((guest.host, guest.port))
        except BaseException:
            self.sock.close()
            raise
        self.buf = bytearray()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed by the guest; unparsed %r" % bytes(self.buf[:200]))
        self.buf += chunk

    def read_response(self, method="GET"):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end + 4]
        lines = head.split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        assert version == "HTTP/1.1" and status.isdigit(), "bad status line %r" % lines[0]
        fields = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            assert colon and name == name.strip(), "bad header line %r" % line
            fields.append((name.lower(), value.strip()))
        r = Response(version, int(status), reason, fields, b"")
        assert r.get("transfer-encoding") is None, r
        if method == "HEAD" or r.status in (204, 304) or r.status < 200:
            return r
        length = r.get("content-length")
        assert length is not None and length.isdigit(), "no Content-Length: %r" % r
        n = int(length)
        while len(self.buf) < n:
            self._fill()
        r.body = bytes(self.buf[:n])
        del self.buf[:n]
        return r

    def request(self, method, path, headers=(), version="HTTP/1.1", host=True):
        target = url_path(path) if not path.startswith(("http:", "*")) else path
        lines = ["%s %s %s" % (method, target, version)]
        if host:
            lines.append("Host: quartz")
        lines += ["%s: %s" % h for h in headers]
        self.send("\r\n".join(lines) + "\r\n\r\n")
        return self.read_response(method)

    def closed_by_peer(self, timeout=5):
        """True when the guest closes (EOF) with nothing more unread, within `timeout`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return not self.buf
            if not chunk:
                return not self.buf
            self.buf += chunk
        return False


def get(guest, path, headers=(), method="GET", version="HTTP/1.1"):
    """One request on a fresh connection (Connection: close); the response."""
    with Conn(guest) as c:
        return c.request(method, path, [("Connection", "close"), *headers], version=version)
