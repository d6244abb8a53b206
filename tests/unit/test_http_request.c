/*
 * test_http_request.c — HTTP/1.1 request heads (lib/http/request.c): the request line,
 * header fields, framing and smuggling, the size limits, incremental and pipelined input,
 * and damage. Targets and entity-tags are in test_http_target.c.
 *
 * Every parse runs on an exact-size heap copy of the input, so ASan catches a read one
 * byte past what the server would have handed over.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RAW(s) s, sizeof(s) - 1 /* a literal that may hold NUL bytes */

static int parse_n(const char *s, size_t n, struct http_request *r)
{
    char *b = malloc(n ? n : 1);
    cr_assert_not_null(b);
    memcpy(b, s, n);
    int rc = http_parse_request(b, n, r);
    free(b);
    r->if_none_match = NULL; /* it pointed into b */
    return rc;
}

static int parse(const char *s, struct http_request *r)
{
    return parse_n(s, strlen(s), r);
}

/* "GET / HTTP/1.1" with Host and then `fields` (each ending in CRLF). */
static int parse_fields(const char *fields, struct http_request *r)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: example.com\r\n%s\r\n", fields);
    cr_assert(n > 0 && (size_t)n < sizeof(buf));
    int rc = parse_n(buf, (size_t)n, r);
    cr_assert(rc == n || rc < 0, "%s: %d of %d", fields, rc, n);
    return rc;
}

/* The statuses a parse may ever produce, apart from a head length. */
static bool is_known_status(int rc)
{
    return rc == 0 || rc == -400 || rc == -414 || rc == -431 || rc == -501 || rc == -505;
}

static const char curl_get[] = "GET /index.html HTTP/1.1\r\n"
                               "Host: 10.0.2.15\r\n"
                               "User-Agent: curl/8.5.0\r\n"
                               "Accept: */*\r\n"
                               "\r\n";

static const char firefox_get[] =
    "GET /css/site.css?v=3 HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: text/css,*/*;q=0.1\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Connection: keep-alive\r\n"
    "Referer: http://localhost:8080/\r\n"
    "If-None-Match: \"3f5c0a\"\r\n"
    "Sec-Fetch-Dest: style\r\n"
    "Priority: u=2\r\n"
    "\r\n";

static const char http10_get[] = "GET /docs/ HTTP/1.0\r\n\r\n";

static const char post_with_body[] = "POST /form HTTP/1.1\r\n"
                                     "Host: h\r\n"
                                     "Content-Type: text/plain\r\n"
                                     "Content-Length: 5\r\n"
                                     "\r\n";

/* ---- good requests ---- */

Test(http_request, parses_a_curl_get)
{
    struct http_request r;
    cr_assert_eq(parse(curl_get, &r), (int)strlen(curl_get));
    cr_assert_eq(r.method, HTTP_GET);
    cr_assert_eq(r.minor, 1);
    cr_assert_str_eq(r.path, "/index.html");
    cr_assert_eq(r.path_len, 11);
    cr_assert(!r.dir);
    cr_assert(r.has_host);
    cr_assert(r.keep_alive, "HTTP/1.1 persists by default");
    cr_assert(!r.accept_gzip);
    cr_assert(!r.range.present);
    cr_assert(!r.has_length && !r.chunked);
}

Test(http_request, parses_a_browser_get_and_points_into_the_buffer)
{
    struct http_request r;
    size_t n = strlen(firefox_get);
    cr_assert_eq(http_parse_request(firefox_get, n, &r), (int)n);
    cr_assert_str_eq(r.path, "/css/site.css", "the query is dropped");
    cr_assert(r.keep_alive);
    cr_assert(r.accept_gzip);
    cr_assert_eq(r.if_none_match, strstr(firefox_get, "\"3f5c0a\""));
    cr_assert_eq(r.if_none_match_len, 8);
}

Test(http_request, parses_http10_without_host_and_closes_by_default)
{
    struct http_request r;
    cr_assert_eq(parse(http10_get, &r), (int)strlen(http10_get));
    cr_assert_eq(r.minor, 0);
    cr_assert(!r.has_host);
    cr_assert(!r.keep_alive);
    cr_assert_str_eq(r.path, "/docs/");
    cr_assert(r.dir);
}

Test(http_request, returns_the_head_length_not_the_body)
{
    struct http_request r;
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%shello", post_with_body);
    cr_assert_eq(parse_n(buf, (size_t)n, &r), (int)strlen(post_with_body));
    cr_assert_eq(r.method, HTTP_POST);
    cr_assert(r.has_length);
    cr_assert_eq(r.content_length, 5);
}

Test(http_request, maps_every_known_method_and_names_it)
{
    static const struct {
        const char *line;
        enum http_method m;
        const char *name;
    } cases[] = {
        {"GET / HTTP/1.1", HTTP_GET, "GET"},
        {"HEAD / HTTP/1.1", HTTP_HEAD, "HEAD"},
        {"POST / HTTP/1.1", HTTP_POST, "POST"},
        {"PUT /x HTTP/1.1", HTTP_PUT, "PUT"},
        {"DELETE /x HTTP/1.1", HTTP_DELETE, "DELETE"},
        {"CONNECT example.com:443 HTTP/1.1", HTTP_CONNECT, "CONNECT"},
        {"OPTIONS * HTTP/1.1", HTTP_OPTIONS, "OPTIONS"},
        {"OPTIONS /x HTTP/1.1", HTTP_OPTIONS, "OPTIONS"},
        {"TRACE / HTTP/1.1", HTTP_TRACE, "TRACE"},
        {"PATCH /x HTTP/1.1", HTTP_PATCH, "PATCH"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[128];
        struct http_request r;
        int n = snprintf(buf, sizeof(buf), "%s\r\nHost: h\r\n\r\n", cases[i].line);
        cr_assert_eq(parse_n(buf, (size_t)n, &r), n, "%s", cases[i].line);
        cr_assert_eq(r.method, cases[i].m, "%s", cases[i].line);
        cr_assert_str_eq(http_method_name(r.method), cases[i].name);
    }
    cr_assert_null(http_method_name((enum http_method)99));
}

Test(http_request, refuses_unknown_methods_with_501_and_broken_ones_with_400)
{
    static const struct {
        const char *line;
        int want;
    } cases[] = {
        {"get / HTTP/1.1", -501}, /* methods are case-sensitive (RFC 9110 9.1) */
        {"Get / HTTP/1.1", -501},
        {"PROPFIND / HTTP/1.1", -501},
        {"BREW / HTTP/1.1", -501},
        {"G(T / HTTP/1.1", -400},
        {"G:T / HTTP/1.1", -400},
        {" GET / HTTP/1.1", -400},
        {"\tGET / HTTP/1.1", -400},
        {"GET\t/ HTTP/1.1", -400},
        {"GET", -400},
        {"GET /", -400},
        {"GET / ", -400},
        {"GET  / HTTP/1.1", -400},
        {"GET /  HTTP/1.1", -400},
        {"GET / HTTP/1.1 ", -400},
        {"GET /a b HTTP/1.1", -400},
        {"GET / HTTP/1.1 extra", -400},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[128];
        struct http_request r;
        int n = snprintf(buf, sizeof(buf), "%s\r\nHost: h\r\n\r\n", cases[i].line);
        cr_assert_eq(parse_n(buf, (size_t)n, &r), cases[i].want, "%s", cases[i].line);
    }
}

Test(http_request, checks_the_version)
{
    static const struct {
        const char *version;
        int want; /* 1 = accepted */
        int minor;
    } cases[] = {
        {"HTTP/1.1", 1, 1},     {"HTTP/1.0", 1, 0},    {"HTTP/1.2", 1, 1},    {"HTTP/1.9", 1, 1},
        {"HTTP/2.0", -505, 0},  {"HTTP/0.9", -505, 0}, {"HTTP/3.0", -505, 0}, {"HTTP/9.9", -505, 0},
        {"http/1.1", -400, 0},  {"Http/1.1", -400, 0}, {"HTTP/1", -400, 0},   {"HTTP/1.", -400, 0},
        {"HTTP/1.10", -400, 0}, {"HTTP/11", -400, 0},  {"HTTP/1,1", -400, 0}, {"HTTP/a.1", -400, 0},
        {"HTTPS/1.1", -400, 0}, {"HTTP/1.x", -400, 0}, {"HTTP 1.1", -400, 0}, {"", -400, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[128];
        struct http_request r;
        int n = snprintf(buf, sizeof(buf), "GET / %s\r\nHost: h\r\n\r\n", cases[i].version);
        int rc = parse_n(buf, (size_t)n, &r);
        if (cases[i].want == 1) {
            cr_assert_eq(rc, n, "%s", cases[i].version);
            cr_assert_eq(r.minor, cases[i].minor, "%s", cases[i].version);
        } else {
            cr_assert_eq(rc, cases[i].want, "%s", cases[i].version);
        }
    }
}

Test(http_request, skips_empty_lines_before_the_request_line_and_counts_them)
{
    static const char *const heads[] = {"\r\n", "\r\n\r\n", "\n", "\n\r\n\n"};
    for (size_t i = 0; i < ARRAY_LEN(heads); i++) {
        char buf[256];
        struct http_request r;
        int n = snprintf(buf, sizeof(buf), "%s%s", heads[i], curl_get);
        cr_assert_eq(parse_n(buf, (size_t)n, &r), n, "case %zu", i);
        cr_assert_str_eq(r.path, "/index.html");
    }
    struct http_request r;
    cr_assert_eq(parse("\r\n\r", &r), 0, "a CR at the end may yet be a CRLF");
    cr_assert_eq(parse("\r\n", &r), 0);
    cr_assert_eq(parse("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", &r), -400);
    cr_assert_eq(parse("\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", &r), -400);
}

Test(http_request, accepts_bare_lf_line_endings)
{
    struct http_request r;
    const char *s = "GET /a HTTP/1.1\nHost: h\nConnection: close\n\n";
    cr_assert_eq(parse(s, &r), (int)strlen(s));
    cr_assert(!r.keep_alive);
    s = "GET /a HTTP/1.1\r\nHost: h\n\r\n";
    cr_assert_eq(parse(s, &r), (int)strlen(s), "mixed endings");
}

Test(http_request, refuses_a_bare_cr_anywhere)
{
    static const struct {
        const char *raw;
        size_t len;
    } cases[] = {
        {RAW("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n")},
        {RAW("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n")},
        {RAW("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n")},
        {RAW("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n")},
        {RAW("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n")},
        {RAW("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n\r\n")},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct http_request r;
        cr_assert_eq(parse_n(cases[i].raw, cases[i].len, &r), -400, "case %zu", i);
    }
}

Test(http_request, refuses_malformed_header_fields)
{
    static const struct {
        const char *raw;
        size_t len;
    } cases[] = {
        {RAW("X-A: 1\r\n folded\r\n")},                         /* obs-fold (RFC 9112 5.2) */
        {RAW("X-A: 1\r\n\tfolded\r\n")}, {RAW("Host : h\r\n")}, /* whitespace before the colon (5.1)
                                                                 */
        {RAW("X-A\t: 1\r\n")},           {RAW("no colon here\r\n")}, {RAW("NoColon\r\n")},
        {RAW(": empty name\r\n")},       {RAW("X(A): 1\r\n")},       {RAW("X-A: nul\0byte\r\n")},
        {RAW("X-A: bell\a\r\n")},        {RAW("X-A: del\x7f\r\n")},  {RAW("X-A: esc\x1b[0m\r\n")},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[256];
        struct http_request r;
        size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
        memcpy(buf + n, cases[i].raw, cases[i].len);
        memcpy(buf + n + cases[i].len, "\r\n", 2);
        cr_assert_eq(parse_n(buf, n + cases[i].len + 2, &r), -400, "case %zu", i);
    }
    struct http_request r;
    cr_assert_eq(parse("GET / HTTP/1.1\r\n Host: h\r\n\r\n", &r), -400,
                 "whitespace between the request line and the first field (RFC 9112 2.2)");
}

Test(http_request, trims_values_and_ignores_case_in_names)
{
    struct http_request r;
    const char *s = "GET / HTTP/1.1\r\nhOsT:example.com\r\nCONNECTION: \t CLOSE \t\r\n"
                    "X-Empty:\r\nX-Tabs:\ta\tb\t\r\nX-Latin: caf\xc3\xa9\r\n\r\n";
    cr_assert_eq(parse(s, &r), (int)strlen(s));
    cr_assert(r.has_host);
    cr_assert(!r.keep_alive);

    s = "GET / HTTP/1.1\r\nHost: h\r\nif-none-match:   \"a\" , W/\"b\"  \r\n\r\n";
    cr_assert_eq(http_parse_request(s, strlen(s), &r), (int)strlen(s));
    cr_assert_eq(r.if_none_match_len, strlen("\"a\" , W/\"b\""));
    cr_assert(memcmp(r.if_none_match, "\"a\" , W/\"b\"", r.if_none_match_len) == 0);
}

Test(http_request, keeps_the_first_if_none_match)
{
    struct http_request r;
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"one\"\r\n"
                    "If-None-Match: \"two\"\r\n\r\n";
    cr_assert_eq(http_parse_request(s, strlen(s), &r), (int)strlen(s));
    cr_assert_eq(r.if_none_match, strstr(s, "\"one\""));
    cr_assert_eq(r.if_none_match_len, 5);
    cr_assert(parse_fields("", &r) > 0);
    cr_assert_null(r.if_none_match);
}

Test(http_request, requires_one_valid_host_on_http11)
{
    static const struct {
        const char *fields;
        int ok;
    } cases[] = {
        {"Host: example.com\r\n", 1},
        {"Host: example.com:8080\r\n", 1},
        {"Host: 127.0.0.1\r\n", 1},
        {"Host: [::1]:80\r\n", 1},
        {"Host: [2001:db8::7]\r\n", 1},
        {"Host: ex%41mple.com\r\n", 1},
        {"Host: h:\r\n", 1}, /* port = *DIGIT (RFC 3986 3.2.3) */
        {"", 0},
        {"Host:\r\n", 0},
        {"Host:   \r\n", 0},
        {"Host: a\r\nHost: a\r\n", 0},
        {"Host: a\r\nHost: b\r\n", 0},
        {"Host: a b\r\n", 0},
        {"Host: user@h\r\n", 0},
        {"Host: h/x\r\n", 0},
        {"Host: h:80a\r\n", 0},
        {"Host: :80\r\n", 0},
        {"Host: [::1\r\n", 0},
        {"Host: []\r\n", 0},
        {"Host: [::1]x\r\n", 0},
        {"Host: h%4\r\n", 0},
        {"Host: h,h\r\n", 1}, /* sub-delims are reg-name characters */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[256];
        struct http_request r;
        int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n%s\r\n", cases[i].fields);
        int rc = parse_n(buf, (size_t)n, &r);
        cr_assert_eq(rc, cases[i].ok ? n : -400, "%s", cases[i].fields);
        if (cases[i].ok)
            cr_assert(r.has_host);
    }
    struct http_request r;
    cr_assert_eq(parse("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", &r), -400,
                 "repeated Host is refused on 1.0 too");
}

Test(http_request, derives_keep_alive_from_version_and_connection)
{
    static const struct {
        const char *version, *connection;
        bool keep_alive;
    } cases[] = {
        {"1.1", NULL, true},
        {"1.0", NULL, false},
        {"1.1", "close", false},
        {"1.1", "Close", false},
        {"1.1", "keep-alive", true},
        {"1.0", "keep-alive", true},
        {"1.0", "Keep-Alive", true},
        {"1.0", "close", false},
        {"1.1", "Upgrade, close", false},
        {"1.1", "keep-alive ,close", false},
        {"1.0", "TE, keep-alive", true},
        {"1.1", "closed", true},
        {"1.0", "keep-alive-ish", false},
        {"1.1", "", true},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[256], conn[64] = "";
        struct http_request r;
        if (cases[i].connection)
            snprintf(conn, sizeof(conn), "Connection: %s\r\n", cases[i].connection);
        int n = snprintf(buf, sizeof(buf), "GET / HTTP/%s\r\nHost: h\r\n%s\r\n", cases[i].version,
                         conn);
        cr_assert_eq(parse_n(buf, (size_t)n, &r), n, "case %zu", i);
        cr_assert_eq(r.keep_alive, cases[i].keep_alive, "case %zu", i);
    }
    struct http_request r;
    cr_assert(parse_fields("Connection: keep-alive\r\nConnection: close\r\n", &r) > 0);
    cr_assert(!r.keep_alive, "fields combine");
}

Test(http_request, reads_accept_encoding_weights)
{
    static const struct {
        const char *value;
        bool gzip;
    } cases[] = {
        {"gzip", true},
        {"GZIP", true},
        {"x-gzip", true},
        {"gzip, deflate, br", true},
        {"deflate, gzip;q=0.5", true},
        {"gzip;q=1", true},
        {"gzip;q=1.000", true},
        {"gzip;q=0.001", true},
        {"gzip ; q=0.8", true},
        {"gzip;Q=0.8", true},
        {"gzip;level=9;q=0.3", true},
        {"*", true},
        {"*;q=0.1", true},
        {"*;q=0, gzip", true},
        {"br, *", true},
        {"gzip;q=0", false},
        {"gzip;q=0.0", false},
        {"gzip;q=0.000", false},
        {"gzip;q=0, *", false},
        {"*;q=0", false},
        {"*;q=0.0", false},
        {"identity", false},
        {"deflate, br", false},
        {"", false},
        {"gzip;q=2", false},
        {"gzip;q=0.0001", false},
        {"gzip;q=1.5", false},
        {"gzip;q=", false},
        {"gzipper", false},
        {"gzip, gzip;q=0", false},
        {"gzip;q=0, gzip", false}, /* a refusal sticks */
        {",, gzip ,", true},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char f[128];
        struct http_request r;
        snprintf(f, sizeof(f), "Accept-Encoding: %s\r\n", cases[i].value);
        cr_assert(parse_fields(f, &r) > 0, "%s", cases[i].value);
        cr_assert_eq(r.accept_gzip, cases[i].gzip, "%s", cases[i].value);
    }
    struct http_request r;
    cr_assert(parse_fields("Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n", &r) > 0);
    cr_assert(r.accept_gzip, "fields combine");
}

Test(http_request, reads_a_single_byte_range)
{
    static const struct {
        const char *value;
        struct http_range want;
    } cases[] = {
        {"bytes=0-499", {.present = true, .first = 0, .last = 499}},
        {"bytes=500-999", {.present = true, .first = 500, .last = 999}},
        {"bytes=7-7", {.present = true, .first = 7, .last = 7}},
        {"Bytes=9500-", {.present = true, .open = true, .first = 9500}},
        {"bytes=-500", {.present = true, .suffix = true, .last = 500}},
        {"bytes=-0", {.present = true, .suffix = true, .last = 0}},
        {"bytes=0-18446744073709551615", {.present = true, .last = UINT64_MAX}},
        {"bytes=0-1,5-6", {.present = true, .ignored = true}},
        {"bytes=0-1, 5-6", {.present = true, .ignored = true}},
        {"bytes=0-1,", {.present = true, .ignored = true}},
        {"bytes=5-1", {.present = true, .ignored = true}},
        {"bytes=-", {.present = true, .ignored = true}},
        {"bytes=", {.present = true, .ignored = true}},
        {"bytes=abc", {.present = true, .ignored = true}},
        {"bytes=1", {.present = true, .ignored = true}},
        {"bytes=1-2-3", {.present = true, .ignored = true}},
        {"bytes= 0-1", {.present = true, .ignored = true}},
        {"bytes=0 -1", {.present = true, .ignored = true}},
        {"bytes=+1-2", {.present = true, .ignored = true}},
        {"bytes=0-18446744073709551616", {.present = true, .ignored = true}},
        {"bytes=--5", {.present = true, .ignored = true}},
        {"items=0-5", {.present = false}},
        {"bytes =0-5", {.present = false}},
        {"bytes", {.present = false}},
        {"", {.present = false}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char f[128];
        struct http_request r;
        const struct http_range *w = &cases[i].want;
        snprintf(f, sizeof(f), "Range: %s\r\n", cases[i].value);
        cr_assert(parse_fields(f, &r) > 0, "%s", cases[i].value);
        cr_assert_eq(r.range.present, w->present, "%s", cases[i].value);
        cr_assert_eq(r.range.ignored, w->ignored, "%s", cases[i].value);
        cr_assert_eq(r.range.suffix, w->suffix, "%s", cases[i].value);
        cr_assert_eq(r.range.open, w->open, "%s", cases[i].value);
        cr_assert_eq(r.range.first, w->first, "%s", cases[i].value);
        cr_assert_eq(r.range.last, w->last, "%s", cases[i].value);
    }
    struct http_request r;
    cr_assert(parse_fields("Range: bytes=0-1\r\nRange: bytes=2-3\r\n", &r) > 0);
    cr_assert(r.range.present && r.range.ignored, "two Range fields are a list of ranges");
}

Test(http_request, reads_content_length)
{
    static const struct {
        const char *fields;
        int ok;
        uint64_t len;
    } cases[] = {
        {"Content-Length: 0\r\n", 1, 0},
        {"Content-Length: 5\r\n", 1, 5},
        {"content-length:  42 \r\n", 1, 42},
        {"Content-Length: 007\r\n", 1, 7},
        {"Content-Length: 5, 5\r\n", 1, 5}, /* RFC 9110 8.6 */
        {"Content-Length: 5,5,5\r\n", 1, 5},
        {"Content-Length: 5\r\nContent-Length: 5\r\n", 1, 5},
        {"Content-Length: 18446744073709551615\r\n", 1, UINT64_MAX},
        {"Content-Length: 5, 6\r\n", 0, 0},
        {"Content-Length: 5\r\nContent-Length: 6\r\n", 0, 0},
        {"Content-Length: 5,\r\n", 0, 0},
        {"Content-Length: ,5\r\n", 0, 0},
        {"Content-Length:\r\n", 0, 0},
        {"Content-Length: -1\r\n", 0, 0},
        {"Content-Length: +5\r\n", 0, 0},
        {"Content-Length: 5 5\r\n", 0, 0},
        {"Content-Length: 0x10\r\n", 0, 0},
        {"Content-Length: 1e3\r\n", 0, 0},
        {"Content-Length: 18446744073709551616\r\n", 0, 0},
        {"Content-Length: 99999999999999999999999\r\n", 0, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct http_request r;
        int rc = parse_fields(cases[i].fields, &r);
        if (!cases[i].ok) {
            cr_assert_eq(rc, -400, "%s", cases[i].fields);
            continue;
        }
        cr_assert(rc > 0, "%s", cases[i].fields);
        cr_assert(r.has_length, "%s", cases[i].fields);
        cr_assert_eq(r.content_length, cases[i].len, "%s", cases[i].fields);
    }
}

/* Request smuggling (RFC 9112 6.1-6.3, 11.2): every way to make two parsers disagree on
 * where the body ends is refused; codings we cannot decode are 501. */
Test(http_request, refuses_ambiguous_framing)
{
    static const struct {
        const char *fields;
        int want; /* 1 = chunked */
    } cases[] = {
        {"Transfer-Encoding: chunked\r\n", 1},
        {"Transfer-Encoding: Chunked\r\n", 1},
        {"Transfer-Encoding:  chunked \r\n", 1},
        {"Transfer-Encoding: chunked,\r\n", 1},
        {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", -400},
        {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", -400},
        {"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", -400},
        {"Transfer-Encoding: chunked, gzip\r\n", -400}, /* chunked not last */
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", -400},
        {"Transfer-Encoding: chunked, chunked\r\n", -400},
        {"Transfer-Encoding: gzip\r\n", -400},
        {"Transfer-Encoding: identity\r\n", -400},
        {"Transfer-Encoding: xchunked\r\n", -400},
        {"Transfer-Encoding: chunked;x=1\r\n", -400},
        {"Transfer-Encoding:\r\n", -400},
        {"Transfer-Encoding: ,\r\n", -400},
        {"Transfer-Encoding: \"chunked\"\r\n", -400},
        {"Transfer-Encoding: gzip, chunked\r\n", -501},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", -501},
        {"Transfer-Encoding: deflate ; x=1, chunked\r\n", -501},
        {"Transfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n", -400},
        {"Content-Length: 5\r\nContent-Length: 6\r\n", -400},
        {"Content-Length: 5, 6\r\n", -400},
        {"Transfer-Encoding : chunked\r\n", -400},
        {"Transfer-Encoding: chunked\r\n\tgzip\r\n", -400},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct http_request r;
        int rc = parse_fields(cases[i].fields, &r);
        if (cases[i].want != 1) {
            cr_assert_eq(rc, cases[i].want, "%s", cases[i].fields);
            continue;
        }
        cr_assert(rc > 0, "%s", cases[i].fields);
        cr_assert(r.chunked && !r.has_length, "%s", cases[i].fields);
    }
    struct http_request r;
    cr_assert_eq(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &r), -400,
                 "HTTP/1.0 has no transfer codings");
}

/* ---- incremental and pipelined input ---- */

Test(http_request, needs_more_bytes_for_every_prefix_of_a_head)
{
    static const char *const heads[] = {curl_get,
                                        firefox_get,
                                        http10_get,
                                        post_with_body,
                                        "\r\n\r\nGET / HTTP/1.1\nHost: h\n\n",
                                        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"};
    for (size_t i = 0; i < ARRAY_LEN(heads); i++) {
        size_t n = strlen(heads[i]);
        struct http_request r;
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(parse_n(heads[i], k, &r), 0, "head %zu, %zu of %zu bytes", i, k, n);
        cr_assert_eq(parse_n(heads[i], n, &r), (int)n, "head %zu", i);
    }
}

Test(http_request, returns_exactly_the_first_of_pipelined_requests)
{
    char buf[1024];
    struct http_request r;
    int n1 = snprintf(buf, sizeof(buf), "%s", curl_get);
    int n = n1 + snprintf(buf + n1, sizeof(buf) - (size_t)n1, "%s", firefox_get);
    for (int k = n1; k <= n; k++)
        cr_assert_eq(parse_n(buf, (size_t)k, &r), n1, "with %d bytes of the second", k - n1);
    cr_assert_str_eq(r.path, "/index.html");
    cr_assert_eq(parse_n(buf + n1, (size_t)(n - n1), &r), n - n1);
    cr_assert_str_eq(r.path, "/css/site.css");

    n = snprintf(buf, sizeof(buf), "%s%s", http10_get, "GARBAGE\0\r\n");
    cr_assert_eq(parse_n(buf, (size_t)n, &r), (int)strlen(http10_get),
                 "what follows the head is not the head's business");
}

Test(http_request, refuses_a_bad_line_before_the_head_ends)
{
    struct http_request r;
    cr_assert_eq(parse("GET / HTTP/2.0\r\n", &r), -505);
    cr_assert_eq(parse("BREW / HTTP/1.1\r\n", &r), -501);
    cr_assert_eq(parse("GET /%zz HTTP/1.1\r\n", &r), -400);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost : h\r\n", &r), -400);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: h\r\n folded\r\nX", &r), -400);
    cr_assert_eq(parse("G@T /", &r), -400, "a broken method is refused once its SP is there");
    cr_assert_eq(parse("G@T", &r), 0);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n", &r), 0,
                 "Host and framing are judged at the end");
}

/* ---- limits ---- */

/* A GET whose head is exactly `total` bytes, padded by one X-Pad field; the buffer holds
 * `have` bytes of it. */
static int parse_sized(size_t total, size_t have, struct http_request *r)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    size_t fixed = strlen(pre) + 4; /* the pad's CRLF and the empty line */
    cr_assert(total > fixed && have <= total);
    char *b = malloc(total);
    cr_assert_not_null(b);
    memcpy(b, pre, strlen(pre));
    memset(b + strlen(pre), 'p', total - fixed);
    memcpy(b + total - 4, "\r\n\r\n", 4);
    char *e = malloc(have ? have : 1); /* exact size for ASan */
    memcpy(e, b, have);
    int rc = http_parse_request(e, have, r);
    free(e);
    free(b);
    return rc;
}

Test(http_request, enforces_the_head_limit)
{
    struct http_request r;
    cr_assert_eq(parse_sized(HTTP_HEAD_MAX - 1, HTTP_HEAD_MAX - 1, &r), HTTP_HEAD_MAX - 1);
    cr_assert_eq(parse_sized(HTTP_HEAD_MAX, HTTP_HEAD_MAX, &r), HTTP_HEAD_MAX);
    cr_assert_eq(parse_sized(HTTP_HEAD_MAX + 1, HTTP_HEAD_MAX + 1, &r), -431);
    cr_assert_eq(parse_sized(HTTP_HEAD_MAX + 1, HTTP_HEAD_MAX, &r), -431,
                 "HTTP_HEAD_MAX bytes without an end can only grow into too large");
    cr_assert_eq(parse_sized(HTTP_HEAD_MAX + 1, HTTP_HEAD_MAX - 1, &r), 0);
    cr_assert_eq(parse_sized(2 * HTTP_HEAD_MAX, 2 * HTTP_HEAD_MAX, &r), -431);
    cr_assert_eq(parse_sized(HTTP_HEAD_MAX, HTTP_HEAD_MAX - 1, &r), 0, "one byte short");
}

Test(http_request, counts_leading_empty_lines_against_the_limit)
{
    char *b = malloc(HTTP_HEAD_MAX + 64);
    struct http_request r;
    for (size_t i = 0; i < HTTP_HEAD_MAX; i += 2)
        memcpy(b + i, "\r\n", 2);
    cr_assert_eq(http_parse_request(b, HTTP_HEAD_MAX, &r), -431);
    cr_assert_eq(http_parse_request(b, HTTP_HEAD_MAX - 1, &r), 0);
    memcpy(b + HTTP_HEAD_MAX, "GET / HTTP/1.0\r\n\r\n", 18);
    cr_assert_eq(http_parse_request(b, HTTP_HEAD_MAX + 18, &r), -431);
    free(b);
    cr_assert_eq(parse_n("", 0, &r), 0);
}

Test(http_request, refuses_a_long_target_before_the_line_ends)
{
    char *b = malloc(HTTP_TARGET_MAX + 64);
    struct http_request r;
    memcpy(b, "GET /", 5);
    memset(b + 5, 'a', HTTP_TARGET_MAX);
    cr_assert_eq(parse_n(b, 4 + HTTP_TARGET_MAX, &r), 0, "target at the limit so far");
    cr_assert_eq(parse_n(b, 5 + HTTP_TARGET_MAX, &r), -414, "one byte over");
    free(b);
}

/* ---- damage ---- */

static void check_outcome(const char *buf, size_t n, int rc, const struct http_request *r)
{
    cr_assert(rc > 0 || is_known_status(rc), "rc %d", rc);
    if (rc <= 0)
        return;
    cr_assert((size_t)rc <= n);
    cr_assert(buf[rc - 1] == '\n');
    cr_assert_eq(r->path[0], '/');
    cr_assert_eq(strlen(r->path), r->path_len);
    cr_assert(r->path_len <= HTTP_PATH_MAX);
    cr_assert_eq(r->dir, r->path[r->path_len - 1] == '/');
    cr_assert_null(strstr(r->path, "//"));
    cr_assert_null(strstr(r->path, "/../"));
    cr_assert_null(strstr(r->path, "/./"));
    cr_assert(r->minor <= 1);
    cr_assert_not_null(http_method_name(r->method));
    cr_assert(!(r->chunked && r->has_length));
}

/* Each byte of a few good heads set to each of a handful of troublesome values; the head
 * whole and cut right after the damage. Nothing may crash or read past the end (ASan),
 * and every answer must be one the server knows how to send. */
Test(http_request, survives_every_single_byte_of_damage)
{
    static const char *const heads[] = {
        curl_get,
        firefox_get,
        post_with_body,
        "\r\nGET http://h:80/a/%2e%2E/b/./c//d?x#y HTTP/1.0\r\nRange: bytes=1-2\r\n"
        "Transfer-Encoding: gzip, chunked\r\n\r\n",
        "OPTIONS * HTTP/1.1\nHost: [::1]\nAccept-Encoding: gzip;q=0.5, *;q=0\n\n",
    };
    static const unsigned char values[] = {0x00, 0x01, '\t', '\n', '\r', ' ',  '"', '#', '%',
                                           ',',  '-',  '.',  '/',  '0',  '9',  ':', ';', '=',
                                           '?',  '@',  'A',  'z',  0x7f, 0x80, 0xff};
    for (size_t h = 0; h < ARRAY_LEN(heads); h++) {
        size_t n = strlen(heads[h]);
        for (size_t i = 0; i < n; i++) {
            for (size_t v = 0; v < sizeof(values); v++) {
                char *b = malloc(n);
                memcpy(b, heads[h], n);
                b[i] = (char)values[v];
                struct http_request r;
                int rc = http_parse_request(b, n, &r);
                check_outcome(b, n, rc, &r);
                rc = http_parse_request(b, i + 1, &r);
                check_outcome(b, i + 1, rc, &r);
                free(b);
            }
        }
    }
}

Test(http_request, survives_random_bytes)
{
    uint64_t s = 0x9e3779b97f4a7c15ull; /* pinned seed */
    static const char alphabet[] = "GETHPOS /%.:?#\r\n\t,;=\"*-0123456789abcdefHTTP/1.1host";
    for (int round = 0; round < 20000; round++) {
        char buf[96];
        size_t n = (size_t)(round % (int)sizeof(buf));
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t pick = (size_t)(s >> 33);
            buf[i] = pick % 8 ? alphabet[pick % (sizeof(alphabet) - 1)] : (char)(pick >> 8);
        }
        struct http_request r;
        char *b = malloc(n ? n : 1);
        memcpy(b, buf, n);
        int rc = http_parse_request(b, n, &r);
        check_outcome(b, n, rc, &r);
        free(b);
    }
}

/* RFC 9110 5.5: a control byte other than HTAB anywhere in a field value is refused, and
 * nothing else is: each byte value at each position of a value long enough that the
 * eight-at-a-time check (request.c's has_ctl) sees it in every lane of a word. */
Test(http_request, refuses_control_bytes_in_field_values_and_only_those)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Long: ";
    static const char post[] = "\r\n\r\n";
    char value[41];
    for (unsigned b = 0; b < 256; b++) {
        if (b == '\r' || b == '\n')
            continue; /* line ends, which refuses_a_bare_cr_anywhere covers */
        bool ctl = (b < 0x20 && b != '\t') || b == 0x7f;
        for (size_t at = 0; at < sizeof(value) - 1; at++) {
            memset(value, 'v', sizeof(value) - 1);
            value[sizeof(value) - 1] = 0;
            value[at] = (char)b;
            char head[128];
            size_t n = 0;
            memcpy(head + n, pre, sizeof(pre) - 1);
            n += sizeof(pre) - 1;
            memcpy(head + n, value, sizeof(value) - 1);
            n += sizeof(value) - 1;
            memcpy(head + n, post, sizeof(post) - 1);
            n += sizeof(post) - 1;
            struct http_request r;
            int rc = http_parse_request(head, n, &r);
            if (ctl)
                cr_assert_eq(rc, -400, "byte %#x at %zu accepted", b, at);
            else
                cr_assert_eq(rc, (int)n, "byte %#x at %zu refused (%d)", b, at, rc);
        }
    }
}
