/*
 * request.h — HTTP/1.1 request heads (RFC 9112 sections 2-7, RFC 9110), parsed from a
 * buffer that holds the start of a connection's input.
 *
 * http_parse_request looks for a complete head (request line and header fields up to the
 * empty line). It returns the head's length in bytes once complete, 0 while more bytes
 * are needed, or a negative HTTP status for a request that must be refused:
 *   -400  malformed request line, header field, target, Host (missing on 1.1, repeated or
 *         invalid), a bare CR, obs-fold, whitespace before a colon, a percent-escape that is
 *         not two hex digits, a decoded NUL or control byte, dot-segments that climb above
 *         the root, conflicting or invalid Content-Length, Content-Length together with
 *         Transfer-Encoding (request smuggling)
 *   -414  the target is longer than HTTP_TARGET_MAX
 *   -431  the head is longer than HTTP_HEAD_MAX (also while still incomplete)
 *   -501  an unknown method, or a transfer coding before chunked that we do not know
 *         ("gzip, chunked"); a coding list not ending in chunked is -400 (RFC 9112 6.3)
 *   -505  an HTTP major version other than 1
 * Lines may end in CRLF or a bare LF (RFC 9112 2.2). Known methods other than GET and
 * HEAD parse fine: refusing them (405 with Allow) is the server's decision.
 *
 * The request's path is percent-decoded and normalized (RFC 3986 5.2.4) into req->path;
 * the query is dropped; absolute-form targets ("http://host/x") are reduced to their path.
 * Header values the server needs later (If-None-Match) point into `buf`, valid as long as
 * the caller keeps those bytes.
 */
#ifndef HTTP_REQUEST_H
#define HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 8192   /* request line + header fields */
#define HTTP_TARGET_MAX 2048 /* request-target as sent */
#define HTTP_PATH_MAX 1024   /* decoded path */

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_CONNECT,
    HTTP_OPTIONS,
    HTTP_TRACE,
    HTTP_PATCH,
};

/* A single byte range (RFC 9110 14.1.2); several ranges or a malformed one set
 * `ignored` (the whole representation is served, which RFC 9110 14.2 allows). */
struct http_range {
    bool present; /* a Range header with unit "bytes" was sent */
    bool ignored;
    bool suffix;  /* "bytes=-N": the last `last` bytes */
    bool open;    /* "bytes=N-": from `first` to the end */
    uint64_t first, last;
};

struct http_request {
    enum http_method method;
    uint8_t minor;         /* HTTP/1.minor; 0 or 1 (higher minors are treated as 1) */
    char path[HTTP_PATH_MAX + 1]; /* decoded, normalized, NUL-terminated, starts with '/' */
    size_t path_len;
    bool dir;              /* the path ends in '/' */
    bool has_host;
    bool keep_alive;       /* from the version and Connection (close / keep-alive) */
    bool accept_gzip;      /* Accept-Encoding lists gzip with q > 0 */
    const char *if_none_match; /* raw field value, NULL if absent */
    size_t if_none_match_len;
    struct http_range range;
    bool has_length;
    uint64_t content_length;
    bool chunked;          /* Transfer-Encoding: chunked (the body's length is unknown) */
};

int http_parse_request(const char *buf, size_t len, struct http_request *req);
/* The index of the first `c` in buf[0, n), or n: the parser's own scan, eight bytes a
 * turn, for a server looking for line ends in what has just arrived. */
size_t http_find(const char *buf, size_t n, char c);
const char *http_method_name(enum http_method m);
/* Does the If-None-Match value `v` match the strong tag `etag` (weak comparison, RFC
 * 9110 13.1.2; "*" matches anything)? `etag` is quoted, as in struct site_file. */
bool http_etag_match(const char *v, size_t vlen, const char *etag, size_t etag_len);

#endif
