#!/usr/bin/python3
"""Bundle a static site directory into one Quartz site image (lib/http/include/http/site.h).

usage: site-bundle.py [--quiet] SITE_DIR OUT_IMAGE
       site-bundle.py --list IMAGE

Every regular file under SITE_DIR becomes one entry, served at "/" + its relative path
(raw bytes of the name, '/' separators). Symbolic links are followed while they stay
inside the tree; links that leave it, dangling links and anything that is not a regular
file or directory (FIFOs, sockets, devices) are reported and skipped, as are names with
control characters, which no request can reach. Entries carry a MIME type chosen by
extension, a strong ETag (the first 16 bytes of the content's SHA-256, hex, quoted) and,
for compressible types, a gzip variant (level 9, mtime 0) when it is smaller.

Image layout: header, index, strings, then the bodies, each aligned to 8 bytes. The
output is deterministic (same tree, same bytes) and written through a temporary file,
so a failed run never leaves a half-written image behind. Stdlib only, Python 3.7+.
"""

import hashlib
import os
import stat
import struct
import sys
import zlib

MAGIC = b"QZSITE01"
HDR = struct.Struct("<8sIIIIQ")  # magic, count, index_off, strings_off, strings_len, image_len
ENTRY = struct.Struct("<IIIIIIQQQQ")  # path, mime, etag (off, len); body, gz (off, len)
assert HDR.size == 32 and ENTRY.size == 56
ALIGN = 8
CHUNK = 1 << 20
ETAG_LEN = 34  # '"' + 32 hex digits + '"'

UTF8 = "; charset=utf-8"
# By lower-cased extension. Our own table: the mimetypes module reads /etc/mime.types and
# the registry on Windows, so it answers differently from machine to machine.
MIME = {
    "html": "text/html" + UTF8,
    "htm": "text/html" + UTF8,
    "xhtml": "application/xhtml+xml",
    "css": "text/css" + UTF8,
    "js": "text/javascript" + UTF8,
    "mjs": "text/javascript" + UTF8,
    "cjs": "text/javascript" + UTF8,
    "json": "application/json",
    "map": "application/json",
    "jsonld": "application/ld+json",
    "webmanifest": "application/manifest+json",
    "txt": "text/plain" + UTF8,
    "text": "text/plain" + UTF8,
    "md": "text/markdown" + UTF8,
    "markdown": "text/markdown" + UTF8,
    "csv": "text/csv" + UTF8,
    "tsv": "text/tab-separated-values" + UTF8,
    "ics": "text/calendar" + UTF8,
    "vtt": "text/vtt" + UTF8,
    "xml": "application/xml",
    "xsl": "application/xml",
    "xslt": "application/xslt+xml",
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "svg": "image/svg+xml",
    "png": "image/png",
    "apng": "image/apng",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jfif": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "ico": "image/x-icon",
    "cur": "image/x-icon",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "eot": "application/vnd.ms-fontobject",
    "pdf": "application/pdf",
    "wasm": "application/wasm",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "aac": "audio/aac",
    "zip": "application/zip",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "tar": "application/x-tar",
    "xz": "application/x-xz",
    "bz2": "application/x-bzip2",
    "zst": "application/zstd",
    "7z": "application/x-7z-compressed",
}
DEFAULT_MIME = "application/octet-stream"

# Types worth a gzip variant: text and the structured or uncompressed binary formats.
# Already-compressed media (png, jpeg, woff2, mp4, zip...) never shrink.
COMPRESSIBLE = {
    "application/xhtml+xml", "application/json", "application/ld+json",
    "application/manifest+json", "application/xml", "application/xslt+xml",
    "application/rss+xml", "application/atom+xml", "image/svg+xml", "application/wasm",
    "image/bmp", "image/tiff", "image/x-icon", "font/ttf", "font/otf",
    "application/vnd.ms-fontobject", "audio/wav", "application/x-tar",
}


class BundleError(Exception):
    pass


def say(msg):
    print("site-bundle: " + msg, file=sys.stderr)


def show(path):
    return os.fsdecode(path) if isinstance(path, bytes) else path


def mime_for(name):
    base = name.rsplit(b"/", 1)[-1]
    if b"." not in base.lstrip(b"."):
        return DEFAULT_MIME
    ext = base.rsplit(b".", 1)[1].lower().decode("ascii", "replace")
    return MIME.get(ext, DEFAULT_MIME)


def compressible(mime):
    return mime.startswith("text/") or mime.split(";")[0] in COMPRESSIBLE


def inside(path, root):
    return path == root or path.startswith(root.rstrip(b"/") + b"/")


def walk(root):
    """Yield (relative path bytes, absolute path bytes) for every file to bundle, sorted."""
    real_root = os.path.realpath(root)
    files = []

    def visit(dirpath, rel, ancestors):
        try:
            entries = sorted(os.scandir(dirpath), key=lambda e: e.name)
        except OSError as e:
            raise BundleError("cannot read directory %s: %s" % (show(dirpath), e.strerror))
        for ent in entries:
            path = os.path.join(dirpath, ent.name)
            rel_path = rel + b"/" + ent.name
            if any(c < 0x20 or c == 0x7F for c in ent.name):
                say("skipping %r: control characters in the name" % show(path))
                continue
            if ent.is_symlink():
                target = os.path.realpath(path)
                if not inside(target, real_root):
                    say("skipping %s: symbolic link leaves the tree" % show(path))
                    continue
            try:
                st = os.stat(path)
            except OSError as e:
                if not ent.is_symlink():
                    raise BundleError("cannot stat %s: %s" % (show(path), e.strerror))
                say("skipping %s: dangling symbolic link" % show(path))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    say("skipping %s: symbolic link loop" % show(path))
                    continue
                visit(path, rel_path, ancestors | {key})
            elif stat.S_ISREG(st.st_mode):
                try:
                    ent.name.decode("utf-8")
                except UnicodeDecodeError:
                    say("warning: %r is not UTF-8; its path is stored as raw bytes" % show(path))
                files.append((rel_path, path))
            else:
                say("skipping %s: not a regular file" % show(path))

    st = os.stat(root)
    visit(root, b"", frozenset([(st.st_dev, st.st_ino)]))
    files.sort()
    return files


def align(n):
    return (n + ALIGN - 1) & ~(ALIGN - 1)


def copy_file(src, out, gzip_it):
    """Stream src into out; return (length, etag, gzip bytes or None)."""
    h = hashlib.sha256()
    n = 0
    crc = 0
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9) if gzip_it else None
    gz = []
    try:
        with open(src, "rb") as f:
            while True:
                buf = f.read(CHUNK)
                if not buf:
                    break
                h.update(buf)
                out.write(buf)
                n += len(buf)
                if deflate:
                    crc = zlib.crc32(buf, crc)
                    gz.append(deflate.compress(buf))
    except OSError as e:
        raise BundleError("cannot read %s: %s" % (show(src), e.strerror))
    etag = ('"' + h.digest()[:16].hex() + '"').encode("ascii")
    if not deflate:
        return n, etag, None
    gz.append(deflate.flush())
    # RFC 1952 by hand rather than the gzip module so the header is fixed: no name,
    # mtime 0, XFL 2 (best compression), OS 255 (unknown) whatever the machine.
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, n & 0xFFFFFFFF)
    return n, etag, header + b"".join(gz) + trailer


def bundle(site_dir, out_path, quiet=False):
    root = os.fsencode(site_dir)
    if not os.path.isdir(root):
        raise BundleError("%s is not a directory" % site_dir)
    files = walk(root)
    if not files:
        raise BundleError("%s holds no files to serve" % site_dir)
    if len(files) >= 1 << 32:
        raise BundleError("too many files")

    # Strings: every path, then each distinct MIME type once, then the ETags (fixed length,
    # so the layout is known before any content is read and bodies can be streamed).
    strings = bytearray()
    paths = []
    for rel, _ in files:
        paths.append((len(strings), len(rel)))
        strings += rel
    mimes = {}
    for rel, _ in files:
        m = mime_for(rel)
        if m not in mimes:
            mimes[m] = (len(strings), len(m))
            strings += m.encode("ascii")
    etag_base = len(strings)
    strings_len = etag_base + ETAG_LEN * len(files)
    index_off = HDR.size
    strings_off = index_off + ENTRY.size * len(files)
    if strings_off + strings_len >= 1 << 32:
        raise BundleError("the paths alone exceed the image's 4 GiB string area")

    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    tmp = out_path + ".tmp"
    entries = []
    total = saved = variants = 0
    try:
        with open(tmp, "wb") as out:
            pos = align(strings_off + strings_len)
            for i, (rel, src) in enumerate(files):
                mime = mime_for(rel)
                out.seek(pos)
                n, etag, gz = copy_file(src, out, compressible(mime))
                body_off = pos
                pos = align(pos + n)
                gz_off = gz_len = 0
                if gz is not None and len(gz) < n:
                    out.seek(pos)
                    out.write(gz)
                    gz_off, gz_len = pos, len(gz)
                    pos = align(pos + gz_len)
                    saved += n - gz_len
                    variants += 1
                strings += etag
                total += n
                entries.append(ENTRY.pack(*paths[i], *mimes[mime], etag_base + ETAG_LEN * i,
                                          ETAG_LEN, body_off, n, gz_off, gz_len))
            assert len(strings) == strings_len
            image_len = pos
            out.seek(0)
            out.write(HDR.pack(MAGIC, len(files), index_off, strings_off, strings_len, image_len))
            out.write(b"".join(entries))
            out.write(strings)
            # The gaps read as zeros (seeks past EOF); this pads the last body's tail.
            out.truncate(image_len)
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if not quiet:
        print("site-bundle: %d files, %d bytes, image %d bytes, gzip saved %d bytes "
              "(%d variants) -> %s" % (len(files), total, image_len, saved, variants, out_path))


def decode(image):
    """Parse and validate an image the way lib/http/site.c does; return the entries."""
    if len(image) < HDR.size:
        raise BundleError("shorter than the header")
    magic, count, index_off, strings_off, strings_len, image_len = HDR.unpack_from(image)
    if magic != MAGIC:
        raise BundleError("bad magic %r" % magic)
    if image_len > len(image) or image_len < HDR.size:
        raise BundleError("image_len %d, file has %d bytes" % (image_len, len(image)))
    if index_off < HDR.size or index_off + count * ENTRY.size > image_len:
        raise BundleError("index outside the image")
    if strings_off < HDR.size or strings_off + strings_len > image_len:
        raise BundleError("strings outside the image")
    strings = image[strings_off:strings_off + strings_len]
    out = []
    prev = None
    for i in range(count):
        f = ENTRY.unpack_from(image, index_off + i * ENTRY.size)
        s = []
        for off, ln in ((f[0], f[1]), (f[2], f[3]), (f[4], f[5])):
            if off + ln > strings_len:
                raise BundleError("entry %d: string outside the string area" % i)
            s.append(bytes(strings[off:off + ln]))
        for off, ln in ((f[6], f[7]), (f[8], f[9])):
            if off + ln > image_len:
                raise BundleError("entry %d: body outside the image" % i)
        if f[9] == 0 and f[8] != 0:
            raise BundleError("entry %d: gz_off without gz_len" % i)
        if not s[0].startswith(b"/"):
            raise BundleError("entry %d: path without a leading '/'" % i)
        if prev is not None and s[0] <= prev:
            raise BundleError("entry %d: paths not sorted or not unique" % i)
        prev = s[0]
        out.append({"path": s[0], "mime": s[1].decode("latin-1"), "etag": s[2].decode("latin-1"),
                    "body": (f[6], f[7]), "gz": (f[8], f[9])})
    return out


def list_image(path):
    with open(path, "rb") as f:
        image = f.read()
    entries = decode(image)
    w = sys.stdout.buffer
    # One line per file, the path last so names with spaces or tabs stay unambiguous.
    for e in entries:
        line = "%d\t%d\t%s\t%s\t" % (e["body"][1], e["gz"][1], e["etag"], e["mime"])
        w.write(line.encode("ascii") + e["path"] + b"\n")
    w.flush()


def main(argv):
    usage = "usage: site-bundle.py [--quiet] SITE_DIR OUT_IMAGE | --list IMAGE"
    try:
        if len(argv) == 2 and argv[0] == "--list":
            list_image(argv[1])
            return 0
        quiet = bool(argv) and argv[0] == "--quiet"
        if quiet:
            argv = argv[1:]
        if len(argv) != 2 or argv[0].startswith("--"):
            print(usage, file=sys.stderr)
            return 2
        bundle(argv[0], argv[1], quiet)
        return 0
    except BundleError as e:
        say("error: %s" % e)
        return 1
    except OSError as e:
        say("error: %s: %s" % (show(e.filename) if e.filename else "", e.strerror))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
