/*
 * site.h — the bundled static site: one read-only image, built on the host by
 * scripts/site-bundle.py and linked into the kernel in section .site (between the
 * linker's __site_start and __site_end); tests load the same image from a file.
 *
 * Image layout, every integer little-endian, every offset from the image's first byte:
 *
 *   header, 32 bytes
 *     0  magic "QZSITE01"
 *     8  u32 count         files in the index
 *    12  u32 index_off     count entries of 56 bytes, sorted by path (bytewise, shorter
 *                          first when one is a prefix of the other)
 *    16  u32 strings_off   paths, MIME types and ETags, not NUL-terminated
 *    20  u32 strings_len
 *    24  u64 image_len     the whole image; trailing bytes beyond it are ignored
 *   entry, 56 bytes
 *     0  u32 path_off, 4 u32 path_len    into strings: "/", then the path ("/a/b.css")
 *     8  u32 mime_off, 12 u32 mime_len   "text/html; charset=utf-8"
 *    16  u32 etag_off, 20 u32 etag_len   strong, quoted: "\"3f5c...\"" (content hash)
 *    24  u64 body_off, 32 u64 body_len   the file's bytes
 *    40  u64 gz_off,   48 u64 gz_len     its gzip encoding when smaller, else both 0
 *
 * site_open validates all of it once (magic, sizes, every range inside the image, paths
 * absolute, unique and sorted), so lookups afterwards trust the image. Lookups are a
 * binary search; nothing is copied: a site_file points into the image.
 */
#ifndef HTTP_SITE_H
#define HTTP_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SITE_MAGIC "QZSITE01"
#define SITE_HDR_LEN 32
#define SITE_ENTRY_LEN 56

struct site_file {
    const char *path;
    size_t path_len;
    const char *mime;
    size_t mime_len;
    const char *etag;
    size_t etag_len;
    const uint8_t *body;
    uint64_t len;
    const uint8_t *gz; /* NULL when there is no gzip variant */
    uint64_t gz_len;
};

struct site {
    const uint8_t *image;
    uint64_t len;
    uint32_t count;
    const uint8_t *index;
    const char *strings;
};

/* NET_OK, or NET_EMALFORMED for anything wrong with the image. */
int site_open(struct site *s, const void *image, size_t len);
/* Exact path lookup ("/index.html"). */
bool site_lookup(const struct site *s, const char *path, size_t len, struct site_file *out);
/* The i-th file in path order, for listing and tests. */
bool site_get(const struct site *s, uint32_t i, struct site_file *out);

#endif
