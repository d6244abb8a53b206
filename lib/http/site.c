/*
 * The bundled site image: validated once by site_open, then trusted by the lookups.
 * The image may sit at any alignment (a test's malloc'd buffer, a byte-shifted copy),
 * so every integer is assembled from bytes.
 */
#include "http/site.h"

#include <string.h>

#include "netstack/net.h"

/* Header fields. */
#define H_MAGIC 0
#define H_COUNT 8
#define H_INDEX_OFF 12
#define H_STRINGS_OFF 16
#define H_STRINGS_LEN 20
#define H_IMAGE_LEN 24

/* Entry fields. */
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

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* [off, off + len) inside [0, limit), without computing off + len (it may wrap). */
static bool in_range(uint64_t off, uint64_t len, uint64_t limit)
{
    return len <= limit && off <= limit - len;
}

static const uint8_t *entry(const struct site *s, uint32_t i)
{
    return s->index + (size_t)i * SITE_ENTRY_LEN;
}

/* Bytewise, a proper prefix first: the order the bundler sorts in. */
static int path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* MIME types and ETags are copied into response headers verbatim: no CR, LF or other
 * controls (RFC 9110 5.5). */
static bool header_safe(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* entity-tag = DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text (RFC 9110 8.8.3). */
static bool etag_valid(const char *p, size_t len)
{
    if (len < 2 || p[0] != '"' || p[len - 1] != '"')
        return false;
    for (size_t i = 1; i + 1 < len; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c < 0x21 || c == '"' || c == 0x7f)
            return false;
    }
    return true;
}

/* A path that a normalized request target could name: absolute and free of controls
 * (the request parser refuses decoded control bytes, so such an entry is unreachable). */
static bool path_valid(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static bool entry_valid(const struct site *s, const uint8_t *e, uint32_t strings_len)
{
    uint32_t path_off = le32(e + E_PATH_OFF), path_len = le32(e + E_PATH_LEN);
    uint32_t mime_off = le32(e + E_MIME_OFF), mime_len = le32(e + E_MIME_LEN);
    uint32_t etag_off = le32(e + E_ETAG_OFF), etag_len = le32(e + E_ETAG_LEN);
    uint64_t body_off = le64(e + E_BODY_OFF), body_len = le64(e + E_BODY_LEN);
    uint64_t gz_off = le64(e + E_GZ_OFF), gz_len = le64(e + E_GZ_LEN);

    if (!in_range(path_off, path_len, strings_len) || !in_range(mime_off, mime_len, strings_len) ||
        !in_range(etag_off, etag_len, strings_len))
        return false;
    if (!in_range(body_off, body_len, s->len) || !in_range(gz_off, gz_len, s->len))
        return false;
    if (gz_len == 0 && gz_off != 0)
        return false;
    return path_valid(s->strings + path_off, path_len) && mime_len > 0 &&
           header_safe(s->strings + mime_off, mime_len) &&
           etag_valid(s->strings + etag_off, etag_len);
}

static void fill(const struct site *s, const uint8_t *e, struct site_file *out)
{
    uint64_t gz_len = le64(e + E_GZ_LEN);
    out->path = s->strings + le32(e + E_PATH_OFF);
    out->path_len = le32(e + E_PATH_LEN);
    out->mime = s->strings + le32(e + E_MIME_OFF);
    out->mime_len = le32(e + E_MIME_LEN);
    out->etag = s->strings + le32(e + E_ETAG_OFF);
    out->etag_len = le32(e + E_ETAG_LEN);
    out->body = s->image + le64(e + E_BODY_OFF);
    out->len = le64(e + E_BODY_LEN);
    out->gz = gz_len ? s->image + le64(e + E_GZ_OFF) : NULL;
    out->gz_len = gz_len;
}

int site_open(struct site *s, const void *image, size_t len)
{
    const uint8_t *p = image;
    memset(s, 0, sizeof(*s));
    if (!p || len < SITE_HDR_LEN || memcmp(p + H_MAGIC, SITE_MAGIC, 8) != 0)
        return NET_EMALFORMED;

    uint32_t count = le32(p + H_COUNT);
    uint32_t index_off = le32(p + H_INDEX_OFF);
    uint32_t strings_off = le32(p + H_STRINGS_OFF);
    uint32_t strings_len = le32(p + H_STRINGS_LEN);
    uint64_t image_len = le64(p + H_IMAGE_LEN);
    if (image_len < SITE_HDR_LEN || image_len > len)
        return NET_EMALFORMED;
    /* The index and the strings follow the header; count * 56 < 2^38 cannot wrap. */
    if (index_off < SITE_HDR_LEN ||
        !in_range(index_off, (uint64_t)count * SITE_ENTRY_LEN, image_len))
        return NET_EMALFORMED;
    if (strings_off < SITE_HDR_LEN || !in_range(strings_off, strings_len, image_len))
        return NET_EMALFORMED;

    struct site t = {
        .image = p,
        .len = image_len,
        .count = count,
        .index = p + index_off,
        .strings = (const char *)(p + strings_off),
    };
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = entry(&t, i);
        if (!entry_valid(&t, e, strings_len))
            return NET_EMALFORMED;
        if (i > 0) {
            /* Strictly increasing: sorted for the binary search, and so unique. */
            const uint8_t *prev = entry(&t, i - 1);
            if (path_cmp(t.strings + le32(prev + E_PATH_OFF), le32(prev + E_PATH_LEN),
                         t.strings + le32(e + E_PATH_OFF), le32(e + E_PATH_LEN)) >= 0)
                return NET_EMALFORMED;
        }
    }
    *s = t;
    return NET_OK;
}

bool site_lookup(const struct site *s, const char *path, size_t len, struct site_file *out)
{
    uint32_t lo = 0, hi = s->count;
    if (!path || len == 0)
        return false;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *e = entry(s, mid);
        int c = path_cmp(path, len, s->strings + le32(e + E_PATH_OFF), le32(e + E_PATH_LEN));
        if (c == 0) {
            fill(s, e, out);
            return true;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

bool site_get(const struct site *s, uint32_t i, struct site_file *out)
{
    if (i >= s->count)
        return false;
    fill(s, entry(s, i), out);
    return true;
}
