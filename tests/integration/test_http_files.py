"""The guest serving a test site, checked with real clients, under every accelerator this
machine has (KVM when /dev/kvm opens, TCG always) and both virtio-mmio transports (legacy,
and modern with force-legacy=false), each with -m 32M: every file byte-exact with its
type (curl), HEAD, 404, directory index and redirect, keep-alive (http.client), HTTP/1.0,
pipelining. One guest per accelerator and transport; the test id names both."""
import gzip
import http.client
import os
import socket
import subprocess
import time

import pytest

from http_guest import (EXPECTED_TYPES, TRANSPORTS, BIG, SMALL, TEXT, Conn, HttpGuest, get,
                        guest_problems, site_and_kernel, url_path)
from qemu import accels

MATRIX = [(a, t) for a in accels() for t in TRANSPORTS]


@pytest.fixture(scope="module")
def site():
    return site_and_kernel()


@pytest.fixture(scope="module", params=MATRIX, ids=["%s-%s" % m for m in MATRIX])
def guest(request, site):
    accel, transport = request.param
    g = HttpGuest(site[2], accel, transport)
    yield g
    alive = g.alive()
    log = g.stop()
    assert alive, "the guest died:\n" + log
    assert not guest_problems(log), log


def curl(guest, path, out, *args):
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "120", "-o", str(out), "-w",
                        "%{http_code} %{size_download} %{speed_download} %{content_type}",
                        *args, guest.url(path)], capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, "curl %s: %s" % (path, r.stderr)
    code, size, speed, ctype = (r.stdout.split(" ", 3) + [""])[:4]
    return int(code), int(size), float(speed), ctype


def test_every_file_is_served_byte_exact_with_its_type(guest, site, tmp_path):
    files, listing, _ = site
    for path, data in files.items():
        out = tmp_path / "out"
        code, size, speed, ctype = curl(guest, path, out)
        assert code == 200, path
        assert out.read_bytes() == data, "%s: %d bytes differ from the %d sent" % (
            path, size, len(data))
        assert ctype == EXPECTED_TYPES[path] == listing[path][3], (path, ctype)
        if path == "/" + BIG:
            print("%s/%s: curl fetched %d bytes at %.1f MB/s" % (
                guest.accel, guest.transport, size, speed / 1e6))


def get_head_only(guest, path):
    """The head of a GET response, the connection closed before the body is read."""
    with Conn(guest) as c:
        c.send("GET %s HTTP/1.1\r\nHost: quartz\r\n\r\n" % url_path(path))
        return c.read_response("HEAD")


def test_head_has_the_get_headers_and_no_body(guest, site):
    files, listing, _ = site
    with Conn(guest) as c:
        for path, data in files.items():
            head = c.request("HEAD", path)  # parses only if the HEAD before sent no body
            body = get_head_only(guest, path)
            assert head.status == body.status == 200, (path, head, body)
            assert head.get("content-length") == str(len(data)), (path, head)
            assert head.get("etag") == listing[path][2], (path, head)
            strip = lambda r: [(k, v) for k, v in r.fields if k != "date"]  # noqa: E731
            assert strip(head) == strip(body), path
        c.send("HEAD /%s HTTP/1.1\r\nHost: q\r\n\r\nGET /%s HTTP/1.1\r\nHost: q\r\n\r\n"
               % (BIG, SMALL))  # a 3 MiB body HEAD must not send
        assert c.read_response("HEAD").get("content-length") == str(len(files["/" + BIG]))
        assert c.read_response().body == files["/" + SMALL]


def test_missing_paths_get_404_and_the_connection_stays_open(guest, site):
    files = site[0]
    with Conn(guest) as c:
        for path in ("/nope", "/nope.html", "/dir/sub/", "/dir/nope/", "/index.html/",
                     "/INDEX.HTML", "/odd name.txt.gz"):
            r = c.request("GET", path)
            assert r.status == 404, (path, r)
            assert r.get("content-type", "").startswith("text/html"), r
            assert b"404" in r.body and r.get("connection") != "close", r
        r = c.request("HEAD", "/nope")
        assert r.status == 404 and int(r.get("content-length")) > 0, r
        assert c.request("GET", "/").body == files["/index.html"]


def test_directories_serve_their_index_and_redirect_without_the_slash(guest, site, tmp_path):
    files = site[0]
    with Conn(guest) as c:
        assert c.request("GET", "/").body == files["/index.html"]
        r = c.request("GET", "/dir/")
        assert r.status == 200 and r.body == files["/dir/index.html"], r
        assert r.get("content-type") == "text/html; charset=utf-8"
        for path in ("/dir", "/dir?x=1"):
            r = c.request("GET", path)
            assert r.status == 301, (path, r)
            assert r.get("location") in ("/dir/", "http://quartz/dir/"), r
        # The same file however the path is written: dot-segments inside the root, doubled
        # slashes, a query, an absolute-form target.
        for target in ("/dir/../style.css", "/./style.css", "//style.css", "/style.css?v=1",
                       "/%73tyle.css", "http://quartz/style.css"):
            c.send("GET %s HTTP/1.1\r\nHost: quartz\r\n\r\n" % target)
            r = c.read_response()
            assert r.status == 200 and r.body == files["/style.css"], (target, r)
    code, _, _, _ = curl(guest, "/dir", tmp_path / "out", "-L")
    assert code == 200 and (tmp_path / "out").read_bytes() == files["/dir/index.html"]


def test_keep_alive_with_http_client(guest, site):
    files = site[0]
    conn = http.client.HTTPConnection("127.0.0.1", guest.port, timeout=30)
    conn.connect()
    sock = conn.sock
    for round_ in range(2):
        for path, data in files.items():
            if len(data) > 100000:  # the big two: test_every_file... has them byte-exact
                continue
            conn.request("GET", url_path(path))
            r = conn.getresponse()
            assert r.status == 200 and r.read() == data, path
            assert not r.will_close, (path, r.getheaders())
            assert conn.sock is sock, "http.client had to reconnect after %s" % path
    conn.request("GET", "/" + TEXT, headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    assert r.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(r.read()) == files["/" + TEXT] and conn.sock is sock
    # http.client closes its socket on Connection: close: watch the guest's side on a copy.
    copy = socket.socket(fileno=os.dup(sock.fileno()))
    conn.request("GET", "/", headers={"Connection": "close"})
    r = conn.getresponse()
    assert r.status == 200 and r.read() == files["/index.html"]
    assert r.getheader("Connection") == "close" and r.will_close
    conn.close()
    copy.settimeout(5)
    try:
        assert copy.recv(1) == b"", "the guest kept the connection open after Connection: close"
    finally:
        copy.close()


def test_http_1_0_closes_unless_asked_to_keep_alive(guest, site):
    files = site[0]
    with Conn(guest) as c:
        r = c.request("GET", "/" + SMALL, version="HTTP/1.0", host=False)
        assert r.status == 200 and r.body == files["/" + SMALL], r
        assert c.closed_by_peer(), "an HTTP/1.0 connection stayed open"
    with Conn(guest) as c:
        for _ in range(3):
            r = c.request("GET", "/" + SMALL, [("Connection", "keep-alive")],
                          version="HTTP/1.0")
            assert r.status == 200 and r.body == files["/" + SMALL], r
            assert r.get("connection", "").lower() == "keep-alive", r
        assert not c.closed_by_peer(timeout=0.3)


def test_pipelined_requests_are_answered_in_order(guest, site):
    files = site[0]
    # The gzip variant of the text file (150 KB) fills TCP's send ring many times over
    # while the requests behind it wait their turn.
    order = ["/style.css", "/" + TEXT, "/data.json", "/nope", "/pixel.png"]
    gz = "Accept-Encoding: gzip\r\n"
    with Conn(guest, timeout=60) as c:
        c.send("".join("GET %s HTTP/1.1\r\nHost: q\r\n%s\r\n" % (p, gz if p == "/" + TEXT
                                                                   else "") for p in order) +
               "HEAD /index.html HTTP/1.1\r\nHost: q\r\n\r\n"
               "GET /dir/ HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n")
        for p in order:
            r = c.read_response()
            if p == "/nope":
                assert r.status == 404, r
            elif p == "/" + TEXT:
                assert r.get("content-encoding") == "gzip", r
                assert gzip.decompress(r.body) == files[p]
            else:
                assert r.status == 200 and r.body == files[p], (p, r)
        r = c.read_response("HEAD")
        assert r.status == 200 and r.get("content-length") == str(len(files["/index.html"]))
        r = c.read_response()
        assert r.body == files["/dir/index.html"] and r.get("connection") == "close", r
        assert c.closed_by_peer()


def test_a_request_split_into_single_bytes_is_answered(guest, site):
    with Conn(guest) as c:
        for b in b"GET /data.json HTTP/1.1\r\nHost: q\r\n\r\n":
            c.send(bytes([b]))
            time.sleep(0.002)
        assert c.read_response().body == site[0]["/data.json"]
    assert get(guest, "/").status == 200
