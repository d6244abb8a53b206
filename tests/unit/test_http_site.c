/*
 * The site image: built by the real bundler (scripts/site-bundle.py) from trees made here,
 * read back through lib/http/site.c. Round trips, MIME types, ETags, gzip variants, odd
 * names, then site_open against every kind of damage, patched into valid images by hand.
 * Tests run with the repository root as the working directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/site.h"
#include "netstack/net.h"

#define BUNDLER "/usr/bin/python3 scripts/site-bundle.py"

/* Header and entry field offsets, as site.h documents them. */
#define H_COUNT 8
#define H_INDEX_OFF 12
#define H_STRINGS_OFF 16
#define H_STRINGS_LEN 20
#define H_IMAGE_LEN 24
#define E_PATH_OFF 0
#define E_PATH_LEN 4
#define E_MIME_OFF 8
#define E_MIME_LEN 12
#define E_ETAG_OFF 16
#define E_ETAG_LEN 20
#define E_BODY_OFF 24
#define E_BODY_LEN 32
#define E_GZ_OFF 40
#define E_GZ_LEN 48

/* ---- a scratch tree per test ---- */

static char root[64];

static void tree_new(void)
{
    strcpy(root, "/tmp/qz-site-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void tree_remove(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.img'", root, root);
    cr_assert_eq(system(cmd), 0);
}

/* Write root/rel, creating the directories on the way. */
static void put(const char *rel, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s", path);
        *p = '/';
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void put_str(const char *rel, const char *s)
{
    put(rel, s, strlen(s));
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Run the bundler over dir into root.img; its exit status. */
static int run_bundler(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), BUNDLER " --quiet '%s' '%s.img' 2>/dev/null", dir, root);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Bundle the scratch tree and open it; the caller frees the returned image. */
static uint8_t *bundle(struct site *s, size_t *len)
{
    cr_assert_eq(run_bundler(root), 0, "bundler failed on %s", root);
    char img[96];
    snprintf(img, sizeof(img), "%s.img", root);
    uint8_t *buf = read_file(img, len);
    cr_assert_eq(site_open(s, buf, *len), NET_OK);
    return buf;
}

static struct site_file must_find(const struct site *s, const char *path)
{
    struct site_file f;
    cr_assert(site_lookup(s, path, strlen(path), &f), "no %s in the image", path);
    cr_assert_eq(f.path_len, strlen(path));
    cr_assert_eq(memcmp(f.path, path, f.path_len), 0);
    return f;
}

static bool str_is(const char *p, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(p, want, len) == 0;
}

static void expect_body(const struct site *s, const char *path, const void *data, size_t len)
{
    struct site_file f = must_find(s, path);
    cr_assert_eq(f.len, len, "%s: %llu bytes, want %zu", path, (unsigned long long)f.len, len);
    cr_assert_eq(memcmp(f.body, data, len), 0, "%s differs", path);
}

static void expect_mime(const struct site *s, const char *path, const char *mime)
{
    struct site_file f = must_find(s, path);
    cr_assert(str_is(f.mime, f.mime_len, mime), "%s: %.*s, want %s", path, (int)f.mime_len, f.mime,
              mime);
}

/* Deterministic filler: text that compresses, or bytes that do not. */
static void fill_text(char *buf, size_t len)
{
    static const char words[] = "quartz serves static files over its own tcp stack. ";
    for (size_t i = 0; i < len; i++)
        buf[i] = words[i % (sizeof(words) - 1)];
}

static void fill_noise(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

static void put_le(uint8_t *p, int width, uint64_t v)
{
    for (int i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *entry_at(uint8_t *img, uint32_t i)
{
    return img + get_le32(img + H_INDEX_OFF) + (size_t)i * SITE_ENTRY_LEN;
}

TestSuite(http_site, .init = tree_new, .fini = tree_remove);

/* ---- round trips ---- */

Test(http_site, every_file_round_trips_byte_exact)
{
    static char big[100000];
    static uint8_t png[3000];
    fill_text(big, sizeof(big));
    fill_noise(png, sizeof(png), 7);
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    put_str("index.html", "<!doctype html><title>hi</title>");
    put_str("about/index.html", "<p>about</p>");
    put("big.txt", big, sizeof(big));
    put("img/logo.png", png, sizeof(png));
    put("empty.css", "", 0);
    put("nul.bin", "a\0b\0", 4);

    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    cr_assert_eq(s.count, 6);
    expect_body(&s, "/index.html", "<!doctype html><title>hi</title>", 32);
    expect_body(&s, "/about/index.html", "<p>about</p>", 12);
    expect_body(&s, "/big.txt", big, sizeof(big));
    expect_body(&s, "/img/logo.png", png, sizeof(png));
    expect_body(&s, "/empty.css", "", 0);
    expect_body(&s, "/nul.bin", "a\0b\0", 4);

    /* site_get walks the same entries in strictly increasing path order. */
    struct site_file prev = {0}, f;
    for (uint32_t i = 0; i < s.count; i++) {
        cr_assert(site_get(&s, i, &f));
        struct site_file g;
        cr_assert(site_lookup(&s, f.path, f.path_len, &g));
        cr_assert_eq(g.body, f.body);
        if (i > 0) {
            size_t n = prev.path_len < f.path_len ? prev.path_len : f.path_len;
            int c = memcmp(prev.path, f.path, n);
            cr_assert(c < 0 || (c == 0 && prev.path_len < f.path_len));
        }
        cr_assert_eq((uintptr_t)(f.body - img) % 8, 0, "body of %.*s unaligned", (int)f.path_len,
                     f.path);
        prev = f;
    }
    cr_assert_not(site_get(&s, s.count, &f));
    free(img);
}

Test(http_site, mime_type_follows_the_extension)
{
    static const struct {
        const char *path, *mime;
    } cases[] = {
        {"a.html", "text/html; charset=utf-8"},
        {"a.htm", "text/html; charset=utf-8"},
        {"UPPER.HTML", "text/html; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},
        {"a.js", "text/javascript; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"},
        {"a.json", "application/json"},
        {"a.txt", "text/plain; charset=utf-8"},
        {"a.svg", "image/svg+xml"},
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"a.JPEG", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"a.webp", "image/webp"},
        {"a.ico", "image/x-icon"},
        {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},
        {"a.pdf", "application/pdf"},
        {"a.wasm", "application/wasm"},
        {"a.xml", "application/xml"},
        {"a.mp4", "video/mp4"},
        {"a.webm", "video/webm"},
        {"a.mp3", "audio/mpeg"},
        {"a.tar.gz", "application/gzip"},
        {"a.unknownext", "application/octet-stream"},
        {"Makefile", "application/octet-stream"},
        {".htaccess", "application/octet-stream"},
        {"dir.html/plain", "application/octet-stream"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++)
        put_str(cases[i].path, "x");
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    cr_assert_eq(s.count, n);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/%s", cases[i].path);
        expect_mime(&s, path, cases[i].mime);
    }
    free(img);
}

static bool hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

Test(http_site, etag_is_a_quoted_sha256_prefix_of_the_content)
{
    put_str("one.txt", "same bytes\n");
    put_str("sub/two.css", "same bytes\n");
    put_str("three.txt", "other bytes\n");
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    struct site_file a = must_find(&s, "/one.txt"), b = must_find(&s, "/sub/two.css"),
                     c = must_find(&s, "/three.txt");
    cr_assert_eq(a.etag_len, 34);
    cr_assert(a.etag[0] == '"' && a.etag[33] == '"');
    for (int i = 1; i < 33; i++)
        cr_assert(hex_lower(a.etag[i]), "etag %.34s", a.etag);
    cr_assert(a.etag_len == b.etag_len && memcmp(a.etag, b.etag, 34) == 0, "same content");
    cr_assert(memcmp(a.etag, c.etag, 34) != 0, "different content");

    /* Independently: coreutils' sha256sum of the file, first 32 hex digits. */
    char cmd[160], out[80] = {0};
    snprintf(cmd, sizeof(cmd), "sha256sum '%s/three.txt'", root);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(out, sizeof(out), p));
    pclose(p);
    cr_assert_eq(memcmp(c.etag + 1, out, 32), 0, "etag %.34s, sha256 %.64s", c.etag, out);
    free(img);
}

/* gunzip f's variant with gzip(1) and compare with its body. */
static void expect_gunzips_to_body(const struct site_file *f)
{
    char gz[96], cmd[512];
    snprintf(gz, sizeof(gz), "%s.gz", root);
    FILE *o = fopen(gz, "wb");
    cr_assert_not_null(o);
    cr_assert_eq(fwrite(f->gz, 1, f->gz_len, o), f->gz_len);
    fclose(o);
    snprintf(cmd, sizeof(cmd), "gzip -dc '%s' > '%s.out' && rm -f '%s'", gz, root, gz);
    cr_assert_eq(system(cmd), 0, "gzip -d failed");
    snprintf(cmd, sizeof(cmd), "%s.out", root);
    size_t n;
    uint8_t *plain = read_file(cmd, &n);
    unlink(cmd);
    cr_assert_eq(n, f->len);
    cr_assert_eq(memcmp(plain, f->body, n), 0);
    free(plain);
}

Test(http_site, gzip_variant_only_for_compressible_types_when_smaller)
{
    static char text[50000];
    static uint8_t noise[20000];
    fill_text(text, sizeof(text));
    fill_noise(noise, sizeof(noise), 99);
    put("big.html", text, sizeof(text));
    put("big.js", text, sizeof(text));
    put("big.svg", text, sizeof(text));
    put("big.json", text, sizeof(text));
    put("tiny.txt", "ok", 2);
    put("zeros.png", (uint8_t[4096]){0}, 4096); /* compressible bytes, compressed type */
    put("noise.txt", noise, sizeof(noise));     /* compressible type, random bytes */
    put("zeros.bin", (uint8_t[4096]){0}, 4096); /* unknown type: served as is */
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    const char *with[] = {"/big.html", "/big.js", "/big.svg", "/big.json"};
    for (size_t i = 0; i < 4; i++) {
        struct site_file f = must_find(&s, with[i]);
        cr_assert_not_null(f.gz, "%s has no gzip variant", with[i]);
        cr_assert_lt(f.gz_len, f.len / 10);
        cr_assert(f.gz[0] == 0x1f && f.gz[1] == 0x8b && f.gz[2] == 8, "gzip magic");
        cr_assert(f.gz[4] == 0 && f.gz[5] == 0 && f.gz[6] == 0 && f.gz[7] == 0, "mtime 0");
        cr_assert_eq((uintptr_t)(f.gz - img) % 8, 0);
        expect_gunzips_to_body(&f);
    }
    const char *without[] = {"/tiny.txt", "/zeros.png", "/noise.txt", "/zeros.bin"};
    for (size_t i = 0; i < 4; i++) {
        struct site_file f = must_find(&s, without[i]);
        cr_assert_null(f.gz, "%s has a gzip variant", without[i]);
        cr_assert_eq(f.gz_len, 0);
    }
    free(img);
}

Test(http_site, the_same_tree_gives_the_same_bytes)
{
    static char text[20000];
    fill_text(text, sizeof(text));
    put("a/b.html", text, sizeof(text));
    put_str("c.txt", "c");
    put_str("z z/ü.css", "body{}");
    struct site s;
    size_t len1, len2;
    uint8_t *one = bundle(&s, &len1);
    sleep(1); /* a different clock must not reach the image (gzip mtime) */
    uint8_t *two = bundle(&s, &len2);
    cr_assert_eq(len1, len2);
    cr_assert_eq(memcmp(one, two, len1), 0);
    cr_assert_eq(len1 % 8, 0);
    free(one);
    free(two);
}

Test(http_site, odd_names_are_stored_as_raw_utf8_paths)
{
    static const char *names[] = {
        "with space.html",
        "ünïcødé/файл.txt",
        "日本語/ページ.html",
        "a/b/c/d/e/f/g/h/i/deep.css",
        "v1.2.3/file.name.with.dots.js",
        "..leading-dots",
        "trailing.",
        "%41 percent.txt",
        "hash#and?query&.txt",
        "quote'\"s.txt",
        "emoji 🙂.svg",
    };
    size_t n = sizeof(names) / sizeof(names[0]);
    for (size_t i = 0; i < n; i++)
        put_str(names[i], names[i]);
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    cr_assert_eq(s.count, n);
    for (size_t i = 0; i < n; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/%s", names[i]);
        expect_body(&s, path, names[i], strlen(names[i]));
    }
    expect_mime(&s, "/ünïcødé/файл.txt", "text/plain; charset=utf-8");
    expect_mime(&s, "/emoji 🙂.svg", "image/svg+xml");
    expect_mime(&s, "/trailing.", "application/octet-stream");
    free(img);
}

Test(http_site, missing_paths_are_not_found)
{
    put_str("index.html", "i");
    put_str("about/index.html", "a");
    put_str("b.css", "b");
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    static const char *missing[] = {
        "/",
        "/about",
        "/about/",
        "/index.htm",
        "/index.htmlx",
        "/index.html/",
        "/INDEX.HTML",
        "index.html",
        "/b.cs",
        "/a",
        "/zzz",
        "//index.html",
        "/about/index.html\x01",
    };
    struct site_file f;
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
        cr_assert_not(site_lookup(&s, missing[i], strlen(missing[i]), &f), "%s", missing[i]);
    cr_assert_not(site_lookup(&s, "", 0, &f));
    cr_assert_not(site_lookup(&s, NULL, 0, &f));
    /* Lengths, not NULs, delimit: a prefix of a longer buffer matches exactly. */
    cr_assert(site_lookup(&s, "/b.cssXYZ", 6, &f));
    cr_assert(str_is(f.path, f.path_len, "/b.css"));
    free(img);
}

Test(http_site, an_unaligned_copy_and_trailing_bytes_still_open)
{
    put_str("x.txt", "x");
    put_str("y/z.html", "<p>z</p>");
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    for (size_t shift = 1; shift < 8; shift++) {
        uint8_t *buf = malloc(len + shift + 5);
        memcpy(buf + shift, img, len);
        memset(buf + shift + len, 0xee, 5);
        struct site t;
        cr_assert_eq(site_open(&t, buf + shift, len + 5), NET_OK);
        cr_assert_eq(t.len, len, "image_len, not the buffer length");
        struct site_file f;
        cr_assert(site_lookup(&t, "/y/z.html", 9, &f));
        cr_assert_eq(f.len, 8);
        cr_assert_eq(memcmp(f.body, "<p>z</p>", 8), 0);
        free(buf);
    }
    free(img);
}

Test(http_site, list_prints_the_index)
{
    static char text[9000];
    fill_text(text, sizeof(text));
    put("doc.html", text, sizeof(text));
    put_str("a b/c.txt", "c");
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    char cmd[160], line[512];
    snprintf(cmd, sizeof(cmd), BUNDLER " --list '%s.img'", root);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    for (uint32_t i = 0; i < s.count; i++) {
        struct site_file f;
        cr_assert(site_get(&s, i, &f));
        char want[512];
        snprintf(want, sizeof(want), "%llu\t%llu\t%.*s\t%.*s\t%.*s\n", (unsigned long long)f.len,
                 (unsigned long long)f.gz_len, (int)f.etag_len, f.etag, (int)f.mime_len, f.mime,
                 (int)f.path_len, f.path);
        cr_assert_not_null(fgets(line, sizeof(line), p));
        cr_assert_str_eq(line, want);
    }
    cr_assert_null(fgets(line, sizeof(line), p));
    cr_assert_eq(pclose(p), 0);
    free(img);
}

Test(http_site, bundler_follows_links_inside_the_tree_only)
{
    put_str("real.txt", "real");
    put_str("dir/inner.css", "a{}");
    char a[128], b[128];
    snprintf(a, sizeof(a), "%s/link.txt", root);
    cr_assert_eq(symlink("real.txt", a), 0);
    snprintf(a, sizeof(a), "%s/linkdir", root);
    cr_assert_eq(symlink("dir", a), 0);
    snprintf(a, sizeof(a), "%s/dir/loop", root);
    cr_assert_eq(symlink("..", a), 0);
    snprintf(a, sizeof(a), "%s/outside", root);
    cr_assert_eq(symlink("/etc/hostname", a), 0);
    snprintf(a, sizeof(a), "%s/dangling", root);
    cr_assert_eq(symlink("nowhere", a), 0);
    snprintf(b, sizeof(b), "%s/fifo", root);
    cr_assert_eq(mkfifo(b, 0644), 0);
    struct site s;
    size_t len;
    uint8_t *img = bundle(&s, &len);
    expect_body(&s, "/real.txt", "real", 4);
    expect_body(&s, "/link.txt", "real", 4);
    expect_body(&s, "/dir/inner.css", "a{}", 3);
    expect_body(&s, "/linkdir/inner.css", "a{}", 3);
    struct site_file f;
    cr_assert_not(site_lookup(&s, "/outside", 8, &f));
    cr_assert_not(site_lookup(&s, "/dangling", 9, &f));
    cr_assert_not(site_lookup(&s, "/fifo", 5, &f));
    /* The loop back to the root is cut, not followed forever; only the 4 files above. */
    cr_assert_eq(s.count, 4);
    free(img);
}

Test(http_site, bundler_fails_clearly_on_empty_or_missing_dirs)
{
    cr_assert_eq(run_bundler(root), 1, "empty directory");
    char sub[96];
    put_str("only-dirs/and/more/.keep", "");
    snprintf(sub, sizeof(sub), "%s/only-dirs/and/more/.keep", root);
    cr_assert_eq(unlink(sub), 0);
    cr_assert_eq(run_bundler(root), 1, "a tree of empty directories");
    snprintf(sub, sizeof(sub), "%s/does-not-exist", root);
    cr_assert_eq(run_bundler(sub), 1);
    char img[96];
    snprintf(img, sizeof(img), "%s.img", root);
    cr_assert_neq(access(img, F_OK), 0, "no image is left behind");
    if (geteuid() != 0) {
        put_str("secret.txt", "s");
        snprintf(sub, sizeof(sub), "%s/secret.txt", root);
        chmod(sub, 0);
        cr_assert_eq(run_bundler(root), 1, "unreadable file");
    }
}

Test(http_site, the_default_site_bundles)
{
    cr_assert_eq(run_bundler("site"), 0);
    char img[96];
    snprintf(img, sizeof(img), "%s.img", root);
    size_t len;
    uint8_t *buf = read_file(img, &len);
    struct site s;
    cr_assert_eq(site_open(&s, buf, len), NET_OK);
    expect_mime(&s, "/index.html", "text/html; charset=utf-8");
    expect_mime(&s, "/about/index.html", "text/html; charset=utf-8");
    expect_mime(&s, "/style.css", "text/css; charset=utf-8");
    struct site_file f = must_find(&s, "/index.html");
    cr_assert_not_null(f.gz);
    cr_assert(memmem(f.body, f.len, "Quartz", 6) != NULL);
    free(buf);
}

/* ---- damage: hand-patched copies of a valid image ---- */

/* Three files: a text file, a page with a gzip variant, an image; entry order a, b, d. */
static uint8_t *small_image(size_t *len)
{
    static char text[3000];
    fill_text(text, sizeof(text));
    put_str("a.txt", "alpha\n");
    put("b/c.html", text, sizeof(text));
    put("d.png", "\x89PNG\r\n\x1a\n", 8);
    struct site s;
    uint8_t *img = bundle(&s, len);
    cr_assert_eq(s.count, 3);
    struct site_file f;
    cr_assert(site_get(&s, 1, &f) && f.gz != NULL);
    return img;
}

/* In an exact-size buffer, so ASan catches any read past the end. */
static void expect_refused(const uint8_t *img, size_t len, const char *what)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, img, len);
    struct site s;
    cr_assert_eq(site_open(&s, copy, len), NET_EMALFORMED, "accepted: %s", what);
    struct site_file f;
    cr_assert_not(site_lookup(&s, "/a.txt", 6, &f), "%s", what);
    cr_assert_not(site_get(&s, 0, &f), "%s", what);
    free(copy);
}

static void expect_accepted(const uint8_t *img, size_t len, const char *what)
{
    struct site s;
    cr_assert_eq(site_open(&s, img, len), NET_OK, "refused: %s", what);
}

/* Refuse img with the `width`-byte little-endian field at `off` set to v. */
static void refuse_patched(const uint8_t *img, size_t len, size_t off, int width, uint64_t v,
                           const char *what)
{
    uint8_t *copy = malloc(len);
    memcpy(copy, img, len);
    put_le(copy + off, width, v);
    expect_refused(copy, len, what);
    free(copy);
}

Test(http_site, refuses_a_wrong_magic)
{
    size_t len;
    uint8_t *img = small_image(&len);
    for (int i = 0; i < 8; i++) {
        img[i] ^= 0x20;
        expect_refused(img, len, "flipped magic byte");
        img[i] ^= 0x20;
    }
    memcpy(img, "QZSITE02", 8);
    expect_refused(img, len, "QZSITE02");
    free(img);
}

Test(http_site, refuses_every_truncation)
{
    size_t len;
    uint8_t *img = small_image(&len);
    for (size_t n = 0; n < len; n++)
        expect_refused(img, n, "a prefix");
    struct site s;
    cr_assert_eq(site_open(&s, NULL, 0), NET_EMALFORMED);
    expect_accepted(img, len, "the whole image");
    free(img);
}

Test(http_site, refuses_header_ranges_past_the_end)
{
    size_t len;
    uint8_t *img = small_image(&len);
    uint32_t count = get_le32(img + H_COUNT);
    uint32_t index_off = get_le32(img + H_INDEX_OFF);
    uint32_t strings_off = get_le32(img + H_STRINGS_OFF);
    uint32_t strings_len = get_le32(img + H_STRINGS_LEN);
    cr_assert_eq(index_off, SITE_HDR_LEN);

    refuse_patched(img, len, H_IMAGE_LEN, 8, len + 1, "image_len past the buffer");
    refuse_patched(img, len, H_IMAGE_LEN, 8, SITE_HDR_LEN - 1, "image_len under the header");
    refuse_patched(img, len, H_IMAGE_LEN, 8, 0, "image_len 0");
    refuse_patched(img, len, H_IMAGE_LEN, 8, UINT64_MAX, "image_len 2^64-1");
    /* A shorter image_len cuts off the bodies, which the entries still point at. */
    refuse_patched(img, len, H_IMAGE_LEN, 8, strings_off + strings_len, "image_len cuts bodies");

    refuse_patched(img, len, H_COUNT, 4, UINT32_MAX, "count 2^32-1");
    refuse_patched(img, len, H_COUNT, 4, (len - index_off) / SITE_ENTRY_LEN + 1,
                   "count one entry past the end");
    refuse_patched(img, len, H_INDEX_OFF, 4, UINT32_MAX, "index_off 2^32-1");
    refuse_patched(img, len, H_INDEX_OFF, 4, len - count * SITE_ENTRY_LEN + 1,
                   "index ends one byte past the end");
    refuse_patched(img, len, H_INDEX_OFF, 4, 0, "index over the header");
    refuse_patched(img, len, H_STRINGS_OFF, 4, UINT32_MAX, "strings_off 2^32-1");
    refuse_patched(img, len, H_STRINGS_OFF, 4, len - strings_len + 1,
                   "strings end one byte past the end");
    refuse_patched(img, len, H_STRINGS_OFF, 4, 8, "strings over the header");
    refuse_patched(img, len, H_STRINGS_LEN, 4, UINT32_MAX, "strings_len 2^32-1");
    refuse_patched(img, len, H_STRINGS_LEN, 4, len - strings_off + 1, "strings_len one too many");
    free(img);
}

Test(http_site, refuses_entry_ranges_past_the_end_and_overflows)
{
    size_t len;
    uint8_t *img = small_image(&len);
    uint32_t strings_len = get_le32(img + H_STRINGS_LEN);
    const uint64_t M = UINT64_MAX;
    for (uint32_t i = 0; i < 3; i++) {
        size_t e = (size_t)(entry_at(img, i) - img);
        static const size_t str_fields[] = {E_PATH_OFF, E_MIME_OFF, E_ETAG_OFF};
        for (int k = 0; k < 3; k++) {
            size_t off = e + str_fields[k], ln = off + 4;
            uint32_t cur_len = get_le32(img + ln);
            refuse_patched(img, len, off, 4, strings_len, "string starts at the end");
            refuse_patched(img, len, off, 4, strings_len - cur_len + 1, "string one byte over");
            refuse_patched(img, len, off, 4, UINT32_MAX, "string offset 2^32-1");
            refuse_patched(img, len, ln, 4, UINT32_MAX, "string length 2^32-1");
            refuse_patched(img, len, ln, 4, strings_len + 1, "string longer than the area");
        }
        refuse_patched(img, len, e + E_BODY_OFF, 8, M, "body_off 2^64-1");
        refuse_patched(img, len, e + E_BODY_OFF, 8, len + 1, "body_off past the end");
        refuse_patched(img, len, e + E_BODY_LEN, 8, M, "body_len 2^64-1");
        refuse_patched(img, len, e + E_BODY_LEN, 8, len + 1, "body_len past the end");
        refuse_patched(img, len, e + E_GZ_LEN, 8, M, "gz_len 2^64-1");
        refuse_patched(img, len, e + E_GZ_OFF, 8, M, "gz_off 2^64-1");
        refuse_patched(img, len, e + E_GZ_OFF, 8, len + 8, "gz_off past the end");

        /* off + len wraps to a small number: only an overflow-safe check sees it. */
        uint8_t *copy = malloc(len);
        memcpy(copy, img, len);
        put_le(copy + e + E_BODY_OFF, 8, 16);
        put_le(copy + e + E_BODY_LEN, 8, M - 15);
        expect_refused(copy, len, "body_off + body_len wraps to 0");
        memcpy(copy, img, len);
        put_le(copy + e + E_GZ_OFF, 8, 8);
        put_le(copy + e + E_GZ_LEN, 8, M - 7);
        expect_refused(copy, len, "gz_off + gz_len wraps to 0");
        memcpy(copy, img, len);
        put_le(copy + e + E_BODY_OFF, 8, len - 3);
        put_le(copy + e + E_BODY_LEN, 8, 4);
        expect_refused(copy, len, "body ends one byte past the end");
        /* Controls: the last byte and an empty body at the very end are fine. */
        put_le(copy + e + E_BODY_LEN, 8, 3);
        expect_accepted(copy, len, "body ends exactly at the end");
        put_le(copy + e + E_BODY_OFF, 8, len);
        put_le(copy + e + E_BODY_LEN, 8, 0);
        expect_accepted(copy, len, "empty body at the end");
        free(copy);
    }
    /* An entry without a variant must say so with both fields 0. */
    refuse_patched(img, len, (size_t)(entry_at(img, 0) - img) + E_GZ_OFF, 8, 8,
                   "gz_off without gz_len");
    free(img);
}

static void swap_entries(uint8_t *img, uint32_t i, uint32_t j)
{
    uint8_t tmp[SITE_ENTRY_LEN];
    memcpy(tmp, entry_at(img, i), SITE_ENTRY_LEN);
    memcpy(entry_at(img, i), entry_at(img, j), SITE_ENTRY_LEN);
    memcpy(entry_at(img, j), tmp, SITE_ENTRY_LEN);
}

Test(http_site, refuses_unsorted_or_duplicate_paths)
{
    size_t len;
    uint8_t *img = small_image(&len);
    uint8_t *copy = malloc(len);
    for (uint32_t i = 0; i < 2; i++) {
        memcpy(copy, img, len);
        swap_entries(copy, i, i + 1);
        expect_refused(copy, len, "two entries swapped");
    }
    memcpy(copy, img, len);
    swap_entries(copy, 0, 2);
    expect_refused(copy, len, "first and last swapped");
    for (uint32_t i = 0; i < 2; i++) {
        memcpy(copy, img, len);
        memcpy(entry_at(copy, i + 1), entry_at(copy, i), 8); /* path_off and path_len */
        expect_refused(copy, len, "duplicate path");
    }
    /* "/a.txt" then its own prefix "/a.tx": a prefix sorts first, so this is unsorted. */
    memcpy(copy, img, len);
    put_le(entry_at(copy, 1) + E_PATH_OFF, 4, get_le32(entry_at(copy, 0) + E_PATH_OFF));
    put_le(entry_at(copy, 1) + E_PATH_LEN, 4, 5);
    expect_refused(copy, len, "a prefix after the longer path");
    /* Control: "/a.tx" before "/a.txt" is in order. */
    memcpy(copy, img, len);
    put_le(entry_at(copy, 0) + E_PATH_LEN, 4, 5);
    expect_accepted(copy, len, "a prefix before the longer path");
    free(copy);
    free(img);
}

Test(http_site, refuses_bad_paths_etags_and_mime_types)
{
    size_t len;
    uint8_t *img = small_image(&len);
    uint32_t strings_off = get_le32(img + H_STRINGS_OFF);
    uint8_t *e0 = entry_at(img, 0);
    uint8_t *path = img + strings_off + get_le32(e0 + E_PATH_OFF);
    uint8_t *mime = img + strings_off + get_le32(e0 + E_MIME_OFF);
    uint8_t *etag = img + strings_off + get_le32(e0 + E_ETAG_OFF);
    uint32_t etag_len = get_le32(e0 + E_ETAG_LEN);
    struct {
        uint8_t *at;
        uint8_t byte;
        const char *what;
    } patches[] = {
        {path, '.', "path without a leading '/' (still sorted first)"},
        {path + 2, '\n', "newline in a path"},
        {path + 2, 0x7f, "DEL in a path"},
        {mime + 4, '\r', "CR in a MIME type"},
        {mime + 4, '\n', "LF in a MIME type"},
        {etag, 'x', "ETag without its opening quote"},
        {etag + etag_len - 1, 'x', "ETag without its closing quote"},
        {etag + 5, '"', "quote inside an ETag"},
        {etag + 5, ' ', "space inside an ETag"},
    };
    for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
        uint8_t saved = *patches[i].at;
        *patches[i].at = patches[i].byte;
        expect_refused(img, len, patches[i].what);
        *patches[i].at = saved;
    }
    size_t e = (size_t)(e0 - img);
    refuse_patched(img, len, e + E_PATH_LEN, 4, 0, "empty path");
    refuse_patched(img, len, e + E_MIME_LEN, 4, 0, "empty MIME type");
    refuse_patched(img, len, e + E_ETAG_LEN, 4, 1, "ETag of one quote");
    refuse_patched(img, len, e + E_ETAG_LEN, 4, 0, "empty ETag");
    expect_accepted(img, len, "the original");
    free(img);
}

Test(http_site, a_hand_built_image_without_files_opens_empty)
{
    uint8_t img[SITE_HDR_LEN] = "QZSITE01";
    put_le(img + H_INDEX_OFF, 4, SITE_HDR_LEN);
    put_le(img + H_STRINGS_OFF, 4, SITE_HDR_LEN);
    put_le(img + H_IMAGE_LEN, 8, SITE_HDR_LEN);
    struct site s;
    cr_assert_eq(site_open(&s, img, sizeof(img)), NET_OK);
    cr_assert_eq(s.count, 0);
    struct site_file f;
    cr_assert_not(site_lookup(&s, "/", 1, &f));
    cr_assert_not(site_get(&s, 0, &f));
    put_le(img + H_COUNT, 4, 1);
    expect_refused(img, sizeof(img), "one entry, no room for it");
}
