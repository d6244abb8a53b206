/*
 * test_http_target.c — request-targets (RFC 9112 3.2) as lib/http/request.c reduces them
 * to a path: the four forms, percent-decoding, dot-segment removal (RFC 3986 5.2.4), the
 * length limits; and If-None-Match against an entity-tag (RFC 9110 13.1.2).
 *
 * Every parse runs on an exact-size heap copy of the input, so ASan catches a read one
 * byte past the end.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* "<method> <target> HTTP/1.1" with a Host field, parsed from an exact-size copy. */
static int parse_target(const char *method, const char *target, struct http_request *r)
{
    const char *fmt = "%s %s HTTP/1.1\r\nHost: example.com\r\n\r\n";
    int n = snprintf(NULL, 0, fmt, method, target);
    char *b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    snprintf(b, (size_t)n + 1, fmt, method, target);
    char *e = malloc((size_t)n);
    memcpy(e, b, (size_t)n);
    int rc = http_parse_request(e, (size_t)n, r);
    free(e);
    free(b);
    cr_assert(rc == n || rc < 0, "%s: %d of %d", target, rc, n);
    return rc;
}

struct target_case {
    const char *target;
    const char *path; /* NULL: refused with `status` */
    int status;
};

static void run_cases(const char *method, const struct target_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct http_request r;
        int rc = parse_target(method, c[i].target, &r);
        if (!c[i].path) {
            cr_assert_eq(rc, c[i].status, "%s %s: %d", method, c[i].target, rc);
            continue;
        }
        cr_assert(rc > 0, "%s %s: %d", method, c[i].target, rc);
        cr_assert_str_eq(r.path, c[i].path, "%s %s", method, c[i].target);
        cr_assert_eq(r.path_len, strlen(c[i].path), "%s", c[i].target);
        cr_assert_eq(r.dir, c[i].path[strlen(c[i].path) - 1] == '/', "%s", c[i].target);
    }
}

Test(http_target, reduces_origin_form_to_its_path)
{
    static const struct target_case cases[] = {
        {"/", "/", 0},
        {"/index.html", "/index.html", 0},
        {"/a/b/c.txt", "/a/b/c.txt", 0},
        {"/docs/", "/docs/", 0},
        {"/search?q=x", "/search", 0},
        {"/?", "/", 0},
        {"/a?b?c", "/a", 0},
        {"/a?q=../../etc/passwd", "/a", 0},
        {"/a?q=%zz", "/a", 0}, /* the query is dropped unchecked */
        {"/~user/it's(ok)!$&*+,;=:@", "/~user/it's(ok)!$&*+,;=:@", 0},
        {"/a#frag", NULL, -400},
        {"/a?q#frag", NULL, -400},
        {"/a\x01", NULL, -400},
        {"/a\x7f", NULL, -400},
        {"/caf\xc3\xa9", NULL, -400}, /* raw bytes must be visible ASCII */
        {"a/b", NULL, -400},
        {"index.html", NULL, -400},
        {"", NULL, -400},
    };
    run_cases("GET", cases, ARRAY_LEN(cases));
}

Test(http_target, reduces_absolute_form_to_its_path)
{
    static const struct target_case cases[] = {
        {"http://example.com/a/b", "/a/b", 0},
        {"http://example.com", "/", 0},
        {"http://example.com/", "/", 0},
        {"http://example.com?q=1", "/", 0},
        {"http://example.com:8080/x?y", "/x", 0},
        {"https://example.com/s/", "/s/", 0},
        {"HTTP://EXAMPLE.COM/Up", "/Up", 0},
        {"HtTpS://h/x", "/x", 0},
        {"http://10.0.2.15:80/", "/", 0},
        {"http://[::1]:80/v6", "/v6", 0},
        {"http://h:/x", "/x", 0},
        {"http://h/a/../b", "/b", 0},
        {"http://h/%41", "/A", 0},
        {"http://", NULL, -400},
        {"http:///x", NULL, -400},
        {"http://:80/x", NULL, -400},
        {"http://user@h/x", NULL, -400},
        {"http://user:pw@h/x", NULL, -400},
        {"http://h:8o/x", NULL, -400},
        {"http://[::1/x", NULL, -400},
        {"http:/h/x", NULL, -400},
        {"http:h/x", NULL, -400},
        {"http:", NULL, -400},
        {"ftp://h/x", NULL, -400},
        {"httpx://h/x", NULL, -400},
        {"//h/x", "/h/x", 0}, /* origin-form with an empty first segment */
        {"http://h/..", NULL, -400},
        {"http://h/x#f", NULL, -400},
    };
    run_cases("GET", cases, ARRAY_LEN(cases));
}

Test(http_target, gives_asterisk_and_authority_forms_the_root_path)
{
    static const struct target_case options[] = {
        {"*", "/", 0},
        {"/x", "/x", 0},
        {"**", NULL, -400},
        {"*/x", NULL, -400},
    };
    run_cases("OPTIONS", options, ARRAY_LEN(options));
    static const struct target_case connect[] = {
        {"example.com:443", "/", 0},
        {"10.0.0.1:80", "/", 0},
        {"[::1]:443", "/", 0},
        {"example.com", NULL, -400},
        {"example.com:", NULL, -400},
        {"example.com:x", NULL, -400},
        {":443", NULL, -400},
        {"u@example.com:443", NULL, -400},
        {"/x", NULL, -400},
        {"http://example.com/", NULL, -400},
        {"*", NULL, -400},
    };
    run_cases("CONNECT", connect, ARRAY_LEN(connect));
    static const struct target_case get[] = {
        {"*", NULL, -400},
        {"example.com:443", NULL, -400},
    };
    run_cases("GET", get, ARRAY_LEN(get));
}

Test(http_target, percent_decodes_the_path)
{
    static const struct target_case cases[] = {
        {"/%41%42c", "/ABc", 0},
        {"/%7e%7E", "/~~", 0},
        {"/a%20b", "/a b", 0},
        {"/%25", "/%", 0},
        {"/%2541", "/%41", 0}, /* decoded once, never twice */
        {"/%c3%a9t%C3%A9", "/\xc3\xa9t\xc3\xa9", 0},
        {"/%ff", "/\xff", 0},
        {"/a%2Fb", "/a/b", 0},
        {"/a%3fb", "/a?b", 0},
        {"/a%23b", "/a#b", 0},
        {"/%", NULL, -400},
        {"/%4", NULL, -400},
        {"/a%", NULL, -400},
        {"/%4g", NULL, -400},
        {"/%g4", NULL, -400},
        {"/%%41", NULL, -400},
        {"/%-1", NULL, -400},
        {"/%+1", NULL, -400},
        {"/% 1", NULL, -400},
        {"/%00", NULL, -400},
        {"/a%00.html", NULL, -400},
        {"/%0d%0aSet-Cookie:x", NULL, -400},
        {"/%09", NULL, -400},
        {"/%1f", NULL, -400},
        {"/%7f", NULL, -400},
        {"/%7F", NULL, -400},
        {"/%20", "/ ", 0},
    };
    run_cases("GET", cases, ARRAY_LEN(cases));
}

Test(http_target, removes_dot_segments_and_collapses_slashes)
{
    static const struct target_case cases[] = {
        {"/.", "/", 0},
        {"/./", "/", 0},
        {"/a/.", "/a/", 0},
        {"/a/./b", "/a/b", 0},
        {"/a/b/..", "/a/", 0},
        {"/a/b/../", "/a/", 0},
        {"/a/b/../c", "/a/c", 0},
        {"/a/b/../../c", "/c", 0},
        {"/a/..", "/", 0},
        {"/a/../", "/", 0},
        {"/a/./../b/./c/.", "/b/c/", 0},
        {"/a/%2e%2e/b", "/b", 0},
        {"/a/%2E./b", "/b", 0},
        {"/a/.%2e/b", "/b", 0},
        {"/a/%2e/b", "/a/b", 0},
        {"/a%2f..%2fb", "/b", 0},
        {"/...", "/...", 0},
        {"/a/.../b", "/a/.../b", 0},
        {"/.a/..b/b..", "/.a/..b/b..", 0},
        {"/.hidden", "/.hidden", 0},
        {"//", "/", 0},
        {"//a//b//", "/a/b/", 0},
        {"/a//../b", "/b", 0},
        {"/a/.//", "/a/", 0},
        {"/..", NULL, -400},
        {"/../", NULL, -400},
        {"/../a", NULL, -400},
        {"/a/../..", NULL, -400},
        {"/a/../../b", NULL, -400},
        {"/./..", NULL, -400},
        {"//..", NULL, -400},
        {"/%2e%2e", NULL, -400},
        {"/%2e%2e/etc/passwd", NULL, -400},
        {"/a/%2e%2e%2f%2e%2e%2fetc", NULL, -400},
        {"/..?q", NULL, -400},
    };
    run_cases("GET", cases, ARRAY_LEN(cases));
}

/* `n` bytes of target: "/" then 'a's, or a short path and a query of 'q's. */
static char *long_target(size_t n, bool query)
{
    char *t = malloc(n + 1);
    memset(t, query ? 'q' : 'a', n);
    t[0] = '/';
    if (query)
        memcpy(t, "/x?", 3);
    t[n] = '\0';
    return t;
}

Test(http_target, enforces_the_target_and_path_limits)
{
    struct http_request r;
    char *t = long_target(HTTP_TARGET_MAX, true);
    cr_assert(parse_target("GET", t, &r) > 0, "target at HTTP_TARGET_MAX");
    cr_assert_str_eq(r.path, "/x");
    free(t);
    t = long_target(HTTP_TARGET_MAX + 1, true);
    cr_assert_eq(parse_target("GET", t, &r), -414, "one byte over");
    free(t);
    t = long_target(HTTP_TARGET_MAX + 1, true);
    t[HTTP_TARGET_MAX] = '#';
    cr_assert_eq(parse_target("GET", t, &r), -414, "length is judged before content");
    free(t);

    t = long_target(HTTP_PATH_MAX, false);
    cr_assert(parse_target("GET", t, &r) > 0, "path at HTTP_PATH_MAX");
    cr_assert_eq(r.path_len, HTTP_PATH_MAX);
    cr_assert_eq(r.path[HTTP_PATH_MAX], '\0');
    free(t);
    t = long_target(HTTP_PATH_MAX + 1, false);
    cr_assert_eq(parse_target("GET", t, &r), -414, "path one byte over");
    free(t);

    /* "/" and 1023 "%41": 3070 bytes of target, too long before decoding */
    char *e = malloc(1 + 3 * (HTTP_PATH_MAX - 1) + 1);
    e[0] = '/';
    for (size_t i = 0; i < HTTP_PATH_MAX - 1; i++)
        memcpy(e + 1 + 3 * i, "%41", 3);
    e[1 + 3 * (HTTP_PATH_MAX - 1)] = '\0';
    cr_assert_eq(parse_target("GET", e, &r), -414);
    /* 341 "%41" and 682 'b' decode to exactly HTTP_PATH_MAX bytes from 1706 of target */
    size_t k = 1;
    for (size_t i = 0; i < 341; i++, k += 3)
        memcpy(e + k, "%41", 3);
    memset(e + k, 'b', HTTP_PATH_MAX - 1 - 341);
    e[k + HTTP_PATH_MAX - 1 - 341] = '\0';
    cr_assert(parse_target("GET", e, &r) > 0);
    cr_assert_eq(r.path_len, HTTP_PATH_MAX);
    e[k + HTTP_PATH_MAX - 1 - 341] = 'b';
    e[k + HTTP_PATH_MAX - 341] = '\0';
    cr_assert_eq(parse_target("GET", e, &r), -414, "decoded path one byte over");
    free(e);
}

Test(http_target, normalizes_a_long_path_that_fits_once_decoded)
{
    struct http_request r;
    char *t = long_target(HTTP_PATH_MAX, false);
    memcpy(t + HTTP_PATH_MAX - 3, "/..", 3);
    cr_assert(parse_target("GET", t, &r) > 0);
    cr_assert_eq(r.path_len, 1, "the one long segment climbed back out");
    cr_assert_str_eq(r.path, "/");
    free(t);
}

/* ---- If-None-Match ---- */

Test(http_target, matches_entity_tags_weakly)
{
    static const struct {
        const char *value;
        bool match;
    } cases[] = {
        {"\"abc\"", true},
        {"W/\"abc\"", true}, /* weak comparison ignores W/ (RFC 9110 8.8.3.2) */
        {"*", true},
        {"  *  ", true},
        {"\"x\", \"abc\"", true},
        {"\"x\",W/\"abc\"", true},
        {"\"x\" ,\t\"abc\" , \"y\"", true},
        {", ,\"abc\",,", true}, /* empty list elements (RFC 9110 5.6.1) */
        {" \"abc\" ", true},
        {"\"abd\"", false},
        {"\"ABC\"", false},
        {"\"abc", false},
        {"abc", false},
        {"\"abc\"x", false},
        {"\"abc\" \"abc\"", false},
        {"w/\"abc\"", false}, /* "W/" is case-sensitive */
        {"W/ \"abc\"", false},
        {"W\"abc\"", false},
        {"\"ab\"c\"", false},
        {"\"a bc\"", false},
        {"\"x\", abc", false},
        {"\"abc\", bogus", false}, /* a malformed list matches nothing */
        {"\"abc\", *", false},
        {"*, \"abc\"", false},
        {"**", false},
        {"", false},
        {",", false},
        {"\"\"", false},
        {"W/", false},
    };
    static const char etag[] = "\"abc\"";
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = strlen(cases[i].value);
        char *v = malloc(n ? n : 1);
        memcpy(v, cases[i].value, n);
        cr_assert_eq(http_etag_match(v, n, etag, strlen(etag)), cases[i].match, "%s",
                     cases[i].value);
        free(v);
    }
}

Test(http_target, matches_tags_with_unusual_characters)
{
    cr_assert(http_etag_match("\"\"", 2, "\"\"", 2), "an empty opaque tag is a tag");
    cr_assert(http_etag_match("\"a\x80z\"", 5, "\"a\x80z\"", 5), "obs-text");
    cr_assert(http_etag_match("\"3f5c\"", 6, "W/\"3f5c\"", 8), "a weak tag of ours");
    cr_assert(!http_etag_match("\"a\x7fz\"", 5, "\"a\x7fz\"", 5), "DEL is no etagc");
    cr_assert(!http_etag_match("\"a\0z\"", 5, "\"a\0z\"", 5), "nor is NUL");
    cr_assert(!http_etag_match(NULL, 0, "\"a\"", 3));
    cr_assert(!http_etag_match("\"abc\"", 3, "\"abc\"", 5), "vlen bounds the value");
}

Test(http_target, survives_damaged_if_none_match_lists)
{
    static const char good[] = "W/\"a\", \"bc\",\t\"def\"";
    static const char values[] = {0, '\t', ' ', '"', ',', '/', 'W', '*', 'a', '\x7f', '\x80'};
    size_t n = strlen(good);
    for (size_t i = 0; i < n; i++) {
        for (size_t v = 0; v < sizeof(values); v++) {
            for (size_t cut = i + 1; cut <= n; cut += n - i - 1 ? n - i - 1 : 1) {
                char *b = malloc(cut);
                memcpy(b, good, cut);
                b[i] = values[v];
                (void)http_etag_match(b, cut, "\"bc\"", 4);
                free(b);
            }
        }
    }
}
