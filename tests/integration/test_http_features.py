"""Conditional requests, ranges, gzip, Date, request bodies, the refusals the server owes
hostile requests (each followed by a normal request on a new connection), and the header
timeout. One guest (-m 32M, legacy transport) on the default accelerator, named in each
test id."""
import email.utils
import gzip
import subprocess
import threading
import time

import pytest

from http_guest import (ACCEL, BIG, MEDIUM, SMALL, TEXT, Conn, HttpGuest, get, guest_problems,
                        site_and_kernel)



@pytest.fixture(scope="module")
def site():
    return site_and_kernel()


@pytest.fixture(scope="module", params=[ACCEL])
def guest(request, site):
    g = HttpGuest(site[2], request.param)
    yield g
    alive = g.alive()
    log = g.stop()
    assert alive, "the guest died:\n" + log
    assert not guest_problems(log), log


def still_serves(guest, site):
    r = get(guest, "/data.json")
    assert r.status == 200 and r.body == site[0]["/data.json"], r


# ---- 304

def test_if_none_match_with_the_etag_gets_304_without_a_body(guest, site):
    files, listing, _ = site
    etag = listing["/style.css"][2]
    with Conn(guest) as c:
        for value in (etag, "W/" + etag, "*", '"nope", ' + etag, '"a" , W/%s' % etag):
            r = c.request("GET", "/style.css", [("If-None-Match", value)])
            assert r.status == 304, (value, r)
            assert r.get("etag") == etag, r
            assert r.get("content-type") is None or r.get("content-type").startswith("text/css")
        r = c.request("HEAD", "/style.css", [("If-None-Match", etag)])
        assert r.status == 304, r
        for value in ('"nope"', 'W/"nope"', etag[:-2] + '"'):
            r = c.request("GET", "/style.css", [("If-None-Match", value)])
            assert r.status == 200 and r.body == files["/style.css"], (value, r)
        # the 304s sent no body: this response parses
        assert c.request("GET", "/" + SMALL).body == files["/" + SMALL]


def test_etags_differ_between_files_and_match_the_bundle(guest, site):
    files, listing, _ = site
    tags = {}
    for path in files:
        r = get(guest, path, method="HEAD")
        tags[path] = r.get("etag")
        assert tags[path] == listing[path][2], (path, r)
    assert len(set(tags.values())) == len(set(files.values())), tags


# ---- Ranges

def test_single_ranges_get_206_with_content_range(guest, site):
    with Conn(guest, timeout=60) as c:
        for path in ("/" + MEDIUM, "/" + BIG):
            data = site[0][path]
            n = len(data)
            cases = {"bytes=0-99": (0, 99), "bytes=-100": (n - 100, n - 1),
                     "bytes=0-0": (0, 0), "bytes=%d-%d" % (n - 10, n + 1000): (n - 10, n - 1),
                     "bytes=%d-%d" % (n // 2, n // 2 + 65535): (n // 2, n // 2 + 65535)}
            if path != "/" + BIG:  # the whole file twice more: only the medium one
                cases.update({"bytes=100-": (100, n - 1), "bytes=-%d" % (n + 5): (0, n - 1)})
            for spec, (first, last) in cases.items():
                r = c.request("GET", path, [("Range", spec)])
                assert r.status == 206, (path, spec, r)
                assert r.get("content-range") == "bytes %d-%d/%d" % (first, last, n), (spec, r)
                assert r.get("content-length") == str(last - first + 1), (spec, r)
                assert r.body == data[first:last + 1], (path, spec)
        r = c.request("HEAD", "/" + BIG, [("Range", "bytes=0-99")])
        assert r.status == 206 and r.get("content-length") == "100", r
        assert c.request("GET", "/" + SMALL).body == site[0]["/" + SMALL]


def test_unsatisfiable_ranges_get_416_with_the_length(guest, site):
    n = len(site[0]["/" + BIG])
    with Conn(guest) as c:
        for path, spec, length in (("/" + BIG, "bytes=%d-" % n, n),
                                   ("/" + BIG, "bytes=%d-%d" % (n + 10, n + 20), n),
                                   ("/" + BIG, "bytes=-0", n),
                                   ("/empty.txt", "bytes=0-0", 0)):
            r = c.request("GET", path, [("Range", spec)])
            assert r.status == 416, (spec, r)
            assert r.get("content-range") == "bytes */%d" % length, (spec, r)
        assert c.request("GET", "/" + SMALL).body == site[0]["/" + SMALL]


def test_ranges_the_server_may_ignore_get_the_whole_file(guest, site):
    data = site[0]["/style.css"]
    with Conn(guest) as c:
        for spec in ("bytes=0-1,5-6", "items=0-1", "bytes=abc", "bytes=5-2"):
            r = c.request("GET", "/style.css", [("Range", spec)])
            assert r.status == 200 and r.body == data, (spec, r)
            assert r.get("content-range") is None, r
        etag = site[1]["/style.css"][2]
        r = c.request("GET", "/style.css", [("Range", "bytes=0-9"), ("If-None-Match", etag)])
        assert r.status == 304, r


def test_curl_resumes_a_download_with_a_range(guest, site, tmp_path):
    data = site[0]["/" + BIG]
    out = tmp_path / "part"
    out.write_bytes(data[:len(data) - 200000])
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "60", "-C", "-", "-o", str(out),
                        "-w", "%{http_code}", guest.url("/" + BIG)], capture_output=True,
                       text=True, timeout=90)
    assert r.returncode == 0 and r.stdout == "206", r.stdout + r.stderr
    assert out.read_bytes() == data


# ---- gzip

def test_gzip_variant_when_accepted_with_vary(guest, site, tmp_path):
    files, listing, _ = site
    data = files["/" + TEXT]
    gz_len = listing["/" + TEXT][1]
    assert 0 < gz_len < len(data) // 2, listing["/" + TEXT]
    with Conn(guest) as c:
        for accept in ("gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "GZIP"):
            r = c.request("GET", "/" + TEXT, [("Accept-Encoding", accept)])
            assert r.status == 200 and r.get("content-encoding") == "gzip", (accept, r)
            assert r.get("vary") == "Accept-Encoding", r
            assert r.get("content-length") == str(gz_len), r
            assert gzip.decompress(r.body) == data
        for accept in (None, "gzip;q=0", "deflate, br", "identity"):
            r = c.request("HEAD", "/" + TEXT, [("Accept-Encoding", accept)] if accept else [])
            assert r.status == 200 and r.get("content-encoding") is None, (accept, r)
            assert r.get("vary") == "Accept-Encoding", r  # a cache must still key on it
            assert r.get("content-length") == str(len(data)), r
        r = c.request("GET", "/style.css", [("Accept-Encoding", "gzip;q=0, br")])
        assert r.get("content-encoding") is None and r.body == files["/style.css"], r
        r = c.request("HEAD", "/" + TEXT, [("Accept-Encoding", "gzip")])
        assert r.get("content-encoding") == "gzip" and r.get("content-length") == str(gz_len)
        # No variant: small (gzip would grow it) and already-compressed or random data.
        for path in ("/" + SMALL, "/pixel.png", "/" + MEDIUM, "/" + BIG):
            assert listing[path][1] == 0, listing[path]
            method = "HEAD" if path == "/" + BIG else "GET"
            r = c.request(method, path, [("Accept-Encoding", "gzip")])
            assert r.get("content-encoding") is None and r.get("vary") is None, (path, r)
            assert method == "HEAD" or r.body == files[path]
    out = tmp_path / "text"
    r = subprocess.run(["curl", "-s", "-S", "--compressed", "-o", str(out), "-w",
                        "%{size_download}", guest.url("/" + TEXT)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and out.read_bytes() == data, r.stderr
    assert int(r.stdout) == gz_len, "curl --compressed moved %s bytes" % r.stdout


# ---- Date

def test_date_header_follows_the_guest_wall_clock(guest, site):
    r = get(guest, "/")
    dates = [get(guest, p).get("date") for p in ("/", "/nope", "/" + SMALL)]
    if guest.wall_clock:
        for d in dates:
            assert d and d.endswith(" GMT"), r
            when = email.utils.parsedate_to_datetime(d).timestamp()
            assert abs(when - time.time()) < 300, "Date %r is %.0f s off" % (
                d, when - time.time())
            assert email.utils.format_datetime(
                email.utils.parsedate_to_datetime(d), usegmt=True) == d, d  # IMF-fixdate
    else:
        assert dates == [None] * 3, "Date sent without a wall clock: %r" % dates
    print("%s: wall clock %s; Date %r" % (guest.accel, guest.wall_clock, dates[0]))


# ---- Request bodies and other methods

def test_other_known_methods_get_405_with_allow_and_the_connection_goes_on(guest, site):
    files = site[0]
    with Conn(guest) as c:
        for method, extra, body in (("POST", [("Content-Length", "5")], b"hello"),
                                    ("PUT", [("Content-Length", "3")], b"abc"),
                                    ("DELETE", [], b""), ("OPTIONS", [], b""),
                                    ("PATCH", [("Content-Length", "0")], b""),
                                    ("TRACE", [], b"")):
            head = "%s /index.html HTTP/1.1\r\nHost: q\r\n" % method
            head += "".join("%s: %s\r\n" % h for h in extra)
            c.send(head.encode() + b"\r\n" + body)
            r = c.read_response()
            assert r.status == 405, (method, r)
            assert r.get("allow") == "GET, HEAD", r
            r = c.request("GET", "/" + SMALL)  # the body was skipped, not taken as a request
            assert r.status == 200 and r.body == files["/" + SMALL], (method, r)
        c.send("OPTIONS * HTTP/1.1\r\nHost: q\r\n\r\n")
        r = c.read_response()
        assert r.status == 405 and r.get("allow") == "GET, HEAD", r
    with Conn(guest) as c:
        c.send("CONNECT quartz:443 HTTP/1.1\r\nHost: quartz:443\r\n\r\n")
        r = c.read_response()
        assert r.status == 405, r
    still_serves(guest, site)


def test_a_get_with_a_body_has_it_skipped(guest, site):
    files = site[0]
    with Conn(guest) as c:
        body = b"X" * 20000
        c.send(b"GET /data.json HTTP/1.1\r\nHost: q\r\nContent-Length: %d\r\n\r\n" % len(body)
               + body + b"GET /style.css HTTP/1.1\r\nHost: q\r\n\r\n")
        assert c.read_response().body == files["/data.json"]
        assert c.read_response().body == files["/style.css"]


@pytest.mark.parametrize("what, head, body", [
    ("chunked", "Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n"),
    ("over-64k", "Content-Length: 70000", b"Y" * 70000),
], ids=["chunked", "over-64k"])
def test_bodies_the_server_will_not_read_get_an_answer_then_close(guest, site, what, head,
                                                                  body):
    with Conn(guest) as c:
        c.send(b"POST /index.html HTTP/1.1\r\nHost: q\r\n%s\r\n\r\n" % head.encode() + body)
        r = c.read_response()
        assert r.status == 405 and r.get("connection") == "close", r
        assert c.closed_by_peer(), "open after a body it will not read"
    still_serves(guest, site)


# ---- Hostile requests: the status, Connection: close, the close; then the guest still serves.

LONG_TARGET = "/" + "a" * 3000
BIG_HEAD = "".join("X-Filler-%03d: %s\r\n" % (i, "v" * 60) for i in range(150))
HOSTILE = [
    ("empty-request-line", b"GET\r\n\r\n", 400),
    ("two-spaces", b"GET  / HTTP/1.1\r\nHost: q\r\n\r\n", 400),
    ("lower-case-version", b"GET / http/1.1\r\nHost: q\r\n\r\n", 400),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    ("field-without-colon", b"GET / HTTP/1.1\r\nHost: q\r\nNoColon\r\n\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : q\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: q\r\nX-A: a\r\n  b\r\n\r\n", 400),
    ("bare-cr", b"GET / HTTP/1.1\rHost: q\r\n\r\n", 400),
    ("control-byte-in-field", b"GET / HTTP/1.1\r\nHost: q\r\nX-A: a\x01b\r\n\r\n", 400),
    ("bad-percent-escape", b"GET /%zz HTTP/1.1\r\nHost: q\r\n\r\n", 400),
    ("target-too-long", ("GET %s HTTP/1.1\r\nHost: q\r\n\r\n" % LONG_TARGET).encode(), 414),
    ("head-too-large", ("GET / HTTP/1.1\r\nHost: q\r\n%s\r\n" % BIG_HEAD).encode(), 431),
    ("http-2.0", b"GET / HTTP/2.0\r\nHost: q\r\n\r\n", 505),
    ("http-3.1", b"GET / HTTP/3.1\r\nHost: q\r\n\r\n", 505),
    ("unknown-method", b"BREW / HTTP/1.1\r\nHost: q\r\n\r\n", 501),
    ("unknown-transfer-coding", b"POST / HTTP/1.1\r\nHost: q\r\n"
                                b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("two-content-lengths", b"POST / HTTP/1.1\r\nHost: q\r\nContent-Length: 5\r\n"
                            b"Content-Length: 6\r\n\r\nhello!", 400),
    ("bad-content-length", b"POST / HTTP/1.1\r\nHost: q\r\nContent-Length: -1\r\n\r\n", 400),
    ("length-and-chunked", b"POST / HTTP/1.1\r\nHost: q\r\nContent-Length: 5\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("no-host-on-1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("dot-dot", b"GET /../etc/passwd HTTP/1.1\r\nHost: q\r\n\r\n", 400),
    ("encoded-dot-dot", b"GET /%2e%2e/x HTTP/1.1\r\nHost: q\r\n\r\n", 400),
    ("dot-dot-below-a-dir", b"GET /dir/../../etc/passwd HTTP/1.1\r\nHost: q\r\n\r\n", 400),
    ("encoded-slashes", b"GET /dir%2f..%2f..%2fx HTTP/1.1\r\nHost: q\r\n\r\n", 400),
    ("nul", b"GET /index.html%00.txt HTTP/1.1\r\nHost: q\r\n\r\n", 400),
    ("encoded-newline", b"GET /a%0d%0aSet-Cookie:%20x HTTP/1.1\r\nHost: q\r\n\r\n", 400),
]


@pytest.mark.parametrize("name, raw, status", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_request_is_refused_and_the_guest_still_serves(guest, site, name, raw, status):
    with Conn(guest) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == status, "%s: expected %d, got %r" % (name, status, r)
        assert r.get("connection") == "close", r
        assert r.get("content-type", "").startswith("text/html"), r
        assert str(status).encode() in r.body, r
        assert c.closed_by_peer(), "%s: the connection stayed open after %d" % (name, status)
    still_serves(guest, site)


# ---- The header timeout: 408 for a head that never completes; others are served meanwhile.

def test_a_stalled_head_gets_408_after_the_header_timeout_while_others_are_served(guest,
                                                                                 site):
    files = site[0]
    stalled, idle = Conn(guest, timeout=30), Conn(guest, timeout=30)
    t0 = time.monotonic()
    stalled.send("GET /index.html HTTP/1.1\r\nHost: q\r\nX-Half: ")
    served = []

    def others():
        while time.monotonic() - t0 < 8:
            r = get(guest, "/" + SMALL)
            served.append(r.status == 200 and r.body == files["/" + SMALL])
            time.sleep(0.2)
    t = threading.Thread(target=others)
    t.start()
    try:
        r = stalled.read_response()
        took = time.monotonic() - t0
        assert r.status == 408 and r.get("connection") == "close", r
        assert stalled.closed_by_peer()
        print("%s: 408 after %.1f s" % (guest.accel, took))
        assert 9.0 <= took <= 13.0, "408 came after %.1f s (header timeout is 10 s)" % took
    finally:
        t.join()
        stalled.close()
    assert served and all(served), served
    # A connection idle (no byte sent) all that time is not a stalled head: it still works.
    r = idle.request("GET", "/" + SMALL)
    assert r.status == 200 and r.body == files["/" + SMALL], r
    idle.close()
