/*
 * response.h — writing an HTTP/1.1 response head into a fixed buffer (private to lib/http).
 *
 * A `struct head` appends text and numbers and remembers if anything did not fit; the
 * caller sizes the buffer for the longest head it can produce, so overflow is a bug that
 * shows as a 500 rather than a truncated header.
 */
#ifndef HTTP_RESPONSE_H
#define HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct head {
    char *buf;
    size_t cap, len;
    bool overflow;
};

void head_init(struct head *h, char *buf, size_t cap);
void head_str(struct head *h, const char *s);
/* A string literal: its length is known at compile time, so no strlen runs per response. */
#define head_lit(h, lit) head_mem((h), "" lit, sizeof(lit) - 1)
void head_mem(struct head *h, const char *s, size_t n);
void head_u64(struct head *h, uint64_t v);
/* "Tue, 24 Nov 2026 08:00:00 GMT" (RFC 9110 5.6.7 IMF-fixdate) for Unix time `t`. */
#define HEAD_DATE_LEN 29
void head_date(struct head *h, uint64_t t);
/* A path made safe for a Location header: bytes outside RFC 3986 pchar and '/'
 * percent-encoded. */
void head_path(struct head *h, const char *path, size_t n);

const char *http_reason(int status);

#endif
