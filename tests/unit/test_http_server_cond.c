/*
 * The HTTP server through the real TCP stack: conditional requests (If-None-Match),
 * byte ranges, the gzip variant and request bodies.
 */
#include "http_support.h"

/* ---- If-None-Match (RFC 9110 13.1.2) ------------------------------------------------------ */

static void expect_not_modified(const struct resp *r, const char *etag)
{
    expect_status(r, 304);
    cr_assert_eq(r->body_len, 0);
    expect_hdr(r, "ETag", etag); /* RFC 9110 15.4.5: the fields a 200 would carry */
}

Test(http_server, if_none_match_with_the_etag_gets_304_without_a_body)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    char etag[64], extra[256];
    hs_etag_of(h, "/data.bin", etag, sizeof(etag));
    snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n", etag);
    struct resp r = hs_get(h, c, "/data.bin", extra);
    expect_not_modified(&r, etag);
    expect_no_more(c);                 /* no body bytes follow a 304 */
    r = hs_get(h, c, "/data.bin", ""); /* and the connection goes on */
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert(!c->fin);
    hs_stop(h);
}

Test(http_server, if_none_match_uses_weak_comparison_lists_and_star)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    char etag[64], extra[256];
    hs_etag_of(h, "/data.bin", etag, sizeof(etag));
    const char *forms[] = {"W/%s", "\"other\", %s", "W/\"x\",%s , \"y\"", "*"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char value[128];
        snprintf(value, sizeof(value), forms[i], etag);
        snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n", value);
        struct resp r = hs_get(h, c, "/data.bin", extra);
        cr_assert_eq(r.status, 304, "If-None-Match: %s gave %d", value, r.status);
        expect_no_more(c);
    }
    hs_stop(h);
}

Test(http_server, if_none_match_with_another_tag_gets_the_file)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    char etag[64];
    struct resp r = hs_get(h, c, "/data.bin", "If-None-Match: \"0123456789abcdef\"\r\n");
    expect_status(&r, 200);
    expect_hdr(&r, "ETag", hs_etag_of(h, "/data.bin", etag, sizeof(etag)));
    expect_body(&r, h->data, HS_DATA_LEN);
    /* Another file's tag is another tag. */
    char extra[256];
    snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n",
             hs_etag_of(h, "/index.html", etag, sizeof(etag)));
    r = hs_get(h, c, "/data.bin", extra);
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    hs_stop(h);
}

Test(http_server, not_modified_keeps_vary_and_works_for_head)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    char etag[64], req[256];
    hs_etag_of(h, "/style.css", etag, sizeof(etag));
    snprintf(req, sizeof(req), "HEAD /style.css HTTP/1.1\r\nHost: q\r\nIf-None-Match: %s\r\n\r\n",
             etag);
    struct resp r = hs_ask(h, c, req);
    expect_not_modified(&r, etag);
    /* RFC 9110 15.4.5: a 304 carries the Vary a 200 would have sent. */
    cr_assert(hdr_has_token(&r, "Vary", "Accept-Encoding"), "%s", r.head);
    expect_no_more(c);
    hs_stop(h);
}

/* ---- Range (RFC 9110 14) ---------------------------------------------------------------- */

static struct resp get_range(struct hs *h, struct client *c, const char *path, const char *range)
{
    char extra[256];
    snprintf(extra, sizeof(extra), "Range: %s\r\n", range);
    return hs_get(h, c, path, extra);
}

static void expect_partial(struct hs *h, struct client *c, const char *range, uint64_t first,
                           uint64_t last)
{
    struct resp r = get_range(h, c, "/data.bin", range);
    cr_assert_eq(r.status, 206, "Range: %s gave %d:\n%s", range, r.status, r.head);
    char want[64];
    snprintf(want, sizeof(want), "bytes %llu-%llu/%d", (unsigned long long)first,
             (unsigned long long)last, HS_DATA_LEN);
    expect_hdr(&r, "Content-Range", want);
    snprintf(want, sizeof(want), "%llu", (unsigned long long)(last - first + 1));
    expect_hdr(&r, "Content-Length", want);
    expect_hdr(&r, "Content-Type", HS_OCTETS);
    cr_assert_not_null(hdr(&r, "ETag"), "206 without ETag");
    expect_body(&r, h->data + first, last - first + 1);
    expect_no_more(c);
}

Test(http_server, single_byte_ranges_get_206_with_exactly_those_bytes)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    expect_partial(h, c, "bytes=0-9", 0, 9);
    expect_partial(h, c, "bytes=0-0", 0, 0);
    expect_partial(h, c, "bytes=-5", 95, 99);
    expect_partial(h, c, "bytes=5-", 5, 99);
    expect_partial(h, c, "bytes=99-", 99, 99);
    expect_partial(h, c, "bytes=90-1000", 90, 99); /* clamped to the end */
    expect_partial(h, c, "bytes=-1000", 0, 99);    /* a suffix longer than the file */
    expect_partial(h, c, "bytes=10-19", 10, 19);
    cr_assert(!c->fin);
    hs_stop(h);
}

Test(http_server, unsatisfiable_range_gets_416_with_the_length)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *ranges[] = {"bytes=100-", "bytes=100-200", "bytes=5000-5001", "bytes=-0"};
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        struct resp r = get_range(h, c, "/data.bin", ranges[i]);
        cr_assert_eq(r.status, 416, "Range: %s gave %d", ranges[i], r.status);
        expect_hdr(&r, "Content-Range", "bytes */100");
        expect_no_more(c);
        cr_assert(!c->fin, "a 416 is no reason to close");
    }
    struct resp r = hs_get(h, c, "/data.bin", "");
    expect_body(&r, h->data, HS_DATA_LEN);
    hs_stop(h);
}

Test(http_server, several_ranges_or_other_units_get_the_whole_file)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *ranges[] = {"bytes=0-1,5-6", "bytes=0-9, 20-29", "items=0-9", "bytes=abc"};
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        struct resp r = get_range(h, c, "/data.bin", ranges[i]);
        cr_assert_eq(r.status, 200, "Range: %s gave %d", ranges[i], r.status);
        expect_no_hdr(&r, "Content-Range");
        expect_body(&r, h->data, HS_DATA_LEN);
    }
    hs_stop(h);
}

Test(http_server, range_of_a_large_file_streams_just_that_slice)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = get_range(h, c, "/big.bin", "bytes=300000-599999");
    expect_status(&r, 206);
    expect_hdr(&r, "Content-Range", "bytes 300000-599999/1048576");
    expect_body(&r, h->big + 300000, 300000);
    expect_no_more(c);
    hs_stop(h);
}

Test(http_server, head_with_a_range_describes_the_206)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_ask(h, c, "HEAD /data.bin HTTP/1.1\r\nHost: q\r\nRange: bytes=0-9\r\n\r\n");
    expect_status(&r, 206);
    expect_hdr(&r, "Content-Range", "bytes 0-9/100");
    expect_hdr(&r, "Content-Length", "10");
    expect_no_more(c);
    hs_stop(h);
}

/* ---- gzip (RFC 9110 8.4, 12.5.3) ----------------------------------------------------------- */

Test(http_server, accepted_gzip_sends_the_variant_with_vary)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *accept[] = {"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*"};
    for (size_t i = 0; i < sizeof(accept) / sizeof(accept[0]); i++) {
        char extra[128];
        snprintf(extra, sizeof(extra), "Accept-Encoding: %s\r\n", accept[i]);
        struct resp r = hs_get(h, c, "/style.css", extra);
        cr_assert_eq(r.status, 200, "Accept-Encoding: %s: %d", accept[i], r.status);
        expect_hdr(&r, "Content-Encoding", "gzip");
        cr_assert(hdr_has_token(&r, "Vary", "Accept-Encoding"), "no Vary:\n%s", r.head);
        expect_hdr(&r, "Content-Type", HS_TEXT_CSS);
        expect_body(&r, HS_CSS_GZ, strlen(HS_CSS_GZ));
    }
    hs_stop(h);
}

Test(http_server, without_gzip_the_identity_is_sent_with_vary)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *extras[] = {"", "Accept-Encoding: br\r\n", "Accept-Encoding: gzip;q=0\r\n",
                            "Accept-Encoding: identity\r\n"};
    for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
        struct resp r = hs_get(h, c, "/style.css", extras[i]);
        expect_status(&r, 200);
        expect_no_hdr(&r, "Content-Encoding");
        cr_assert(hdr_has_token(&r, "Vary", "Accept-Encoding"), "no Vary:\n%s", r.head);
        expect_body(&r, h->css, HS_CSS_LEN);
    }
    /* A file without a variant is the same whatever the client accepts. */
    struct resp r = hs_get(h, c, "/data.bin", "Accept-Encoding: gzip\r\n");
    expect_no_hdr(&r, "Content-Encoding");
    expect_body(&r, h->data, HS_DATA_LEN);
    hs_stop(h);
}

Test(http_server, range_with_gzip_accepted_is_a_range_of_the_identity)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/style.css", "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n");
    expect_status(&r, 206);
    expect_no_hdr(&r, "Content-Encoding");
    char want[64];
    snprintf(want, sizeof(want), "bytes 0-9/%d", HS_CSS_LEN);
    expect_hdr(&r, "Content-Range", want);
    expect_body(&r, h->css, 10);
    hs_stop(h);
}

Test(http_server, head_with_gzip_gives_the_variant_length)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_ask(h, c, "HEAD / HTTP/1.1\r\nHost: q\r\nAccept-Encoding: gzip\r\n\r\n");
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Encoding", "gzip");
    char want[16];
    snprintf(want, sizeof(want), "%zu", strlen(HS_INDEX_GZ));
    expect_hdr(&r, "Content-Length", want);
    expect_no_more(c);
    hs_stop(h);
}

/* RFC 9110 8.8.1 and 8.8.3: a strong entity tag identifies one representation's bytes; the
 * gzip variant is another representation (other content), so it needs another tag (as
 * Apache's "-gzip" suffix does), and a conditional request with it still works. */
Test(http_server, gzip_variant_has_its_own_entity_tag)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp plain = hs_get(h, c, "/style.css", "");
    struct resp gz = hs_get(h, c, "/style.css", "Accept-Encoding: gzip\r\n");
    expect_hdr(&gz, "Content-Encoding", "gzip");
    const char *t_plain = hdr(&plain, "ETag"), *t_gz = hdr(&gz, "ETag");
    cr_assert(t_plain && t_gz);
    char extra[256];
    snprintf(extra, sizeof(extra), "Accept-Encoding: gzip\r\nIf-None-Match: %s\r\n", t_gz);
    struct resp r = hs_get(h, c, "/style.css", extra);
    expect_status(&r, 304);
    cr_assert_str_neq(t_plain, t_gz,
                      "identity and gzip bodies share the strong ETag %s (RFC 9110 8.8.1)", t_gz);
    hs_stop(h);
}

/* ---- Request bodies ---------------------------------------------------------------------- */

Test(http_server, small_body_is_skipped_and_the_next_request_served)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    /* GET with a body, in the head's segment */
    struct resp r =
        hs_ask(h, c, "GET /data.bin HTTP/1.1\r\nHost: q\r\nContent-Length: 5\r\n\r\nGET /");
    expect_status(&r, 200);
    r = hs_get(h, c, "/docs/a.txt", "");
    expect_status(&r, 200);
    expect_body(&r, HS_A_TXT, strlen(HS_A_TXT));
    /* a POST whose body trickles in after its head */
    hs_send_str(h, c, "POST /form HTTP/1.1\r\nHost: q\r\nContent-Length: 30\r\n\r\n");
    r = hs_response(c, false);
    expect_status(&r, 405);
    const char *body = "GET /nothing HTTP/1.1\r\n\r\nxyz12";
    cr_assert_eq(strlen(body), 30);
    for (int i = 0; i < 3; i++) {
        hs_send(h, c, body + 10 * i, 10);
        hs_run(h, h->tb.now + 100 * MS);
    }
    expect_no_more(c);
    r = hs_get(h, c, "/data.bin", "");
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert(!c->fin && !c->rst);
    hs_stop(h);
}

static char *request_with_body(const char *method, size_t body_len, size_t *len)
{
    char *buf = malloc(body_len + 256);
    cr_assert_not_null(buf);
    size_t n = (size_t)sprintf(buf, "%s /upload HTTP/1.1\r\nHost: q\r\nContent-Length: %zu\r\n\r\n",
                               method, body_len);
    for (size_t i = 0; i < body_len; i++)
        buf[n + i] = (char)('a' + i % 26);
    *len = n + body_len;
    return buf;
}

Test(http_server, body_of_http_body_max_is_skipped_and_the_connection_kept)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    size_t n;
    char *req = request_with_body("POST", HTTP_BODY_MAX, &n);
    hs_send(h, c, req, n);
    free(req);
    struct resp r = hs_response(c, false);
    expect_status(&r, 405);
    cr_assert(!hdr_has_token(&r, "Connection", "close"), "%s", r.head);
    r = hs_get(h, c, "/data.bin", "");
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert(!c->fin && !c->rst);
    hs_stop(h);
}

Test(http_server, body_over_http_body_max_is_answered_then_closed)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    size_t n;
    char *req = request_with_body("POST", HTTP_BODY_MAX + 1, &n);
    hs_send(h, c, req, n); /* the client sends it all anyway: the server drains */
    free(req);
    struct resp r = hs_response(c, false);
    cr_assert(r.status >= 400 && r.status < 500, "status %d", r.status);
    cr_assert(hdr_has_token(&r, "Connection", "close"), "%s", r.head);
    expect_no_more(c);
    cr_assert(c->fin, "no FIN after refusing to read the body");
    cr_assert(!c->rst, "the unread body caused a RST");
    hs_close(h, c);
    cr_assert(!c->rst);
    cr_assert_eq(http_conns_in_use(&h->srv), 0);
    hs_stop(h);
}

Test(http_server, chunked_body_is_answered_then_closed)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_ask(h, c,
                           "POST /upload HTTP/1.1\r\nHost: q\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n");
    expect_status(&r, 405);
    cr_assert(hdr_has_token(&r, "Connection", "close"), "%s", r.head);
    cr_assert(c->fin && !c->rst);
    hs_send_str(h, c, "0\r\n\r\nGET / HTTP/1.1\r\nHost: q\r\n\r\n"); /* the rest of the body */
    hs_run(h, h->tb.now + 100 * MS);
    cr_assert(!c->rst, "RST for the rest of a chunked body");
    expect_no_more(c);
    hs_close(h, c);
    cr_assert(!c->rst);
    cr_assert_eq(http_conns_in_use(&h->srv), 0);
    hs_stop(h);
}

Test(http_server, chunked_get_is_answered_then_closed)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_ask(h, c,
                           "GET /data.bin HTTP/1.1\r\nHost: q\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "0\r\n\r\n");
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert(hdr_has_token(&r, "Connection", "close"), "%s", r.head);
    cr_assert(c->fin && !c->rst);
    hs_stop(h);
}
