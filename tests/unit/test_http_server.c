/*
 * The HTTP server through the real TCP stack: what a GET or HEAD of the site answers,
 * directories and redirects, 404 and 405, the parser's refusals (and how the connection
 * ends after them), keep-alive, HTTP/1.0 and pipelining. Conditional requests, ranges,
 * gzip and request bodies are in test_http_server_cond.c; timeouts, streaming and many
 * connections in test_http_server_flow.c.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include "http_support.h"

/* ---- GET and HEAD ---------------------------------------------------------------------- */

Test(http_server, get_of_a_file_sends_status_headers_and_the_exact_body)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    char etag[64];
    struct resp r = hs_get(h, c, "/data.bin", "");
    cr_assert(!strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17), "status line:\n%s", r.head);
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Type", HS_OCTETS);
    expect_hdr(&r, "Content-Length", "100");
    expect_hdr(&r, "ETag", hs_etag_of(h, "/data.bin", etag, sizeof(etag)));
    expect_hdr(&r, "Server", "Quartz-unikernel");
    cr_assert_not_null(hdr(&r, "Cache-Control"), "no Cache-Control:\n%s", r.head);
    expect_hdr(&r, "Accept-Ranges", "bytes");
    expect_no_hdr(&r, "Date"); /* the wall clock says 0: unknown */
    expect_no_hdr(&r, "Content-Encoding");
    expect_body(&r, h->data, HS_DATA_LEN);
    expect_no_more(c);
    cr_assert(!c->fin && !c->rst, "an HTTP/1.1 connection should stay open");
    hs_stop(h);
}

Test(http_server, content_type_comes_from_the_image)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/docs/a.txt", "");
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Type", HS_TEXT_PLAIN);
    expect_body(&r, HS_A_TXT, strlen(HS_A_TXT));
    r = hs_get(h, c, "/style.css", "");
    expect_hdr(&r, "Content-Type", HS_TEXT_CSS);
    expect_body(&r, h->css, HS_CSS_LEN);
    hs_stop(h);
}

Test(http_server, date_is_an_imf_fixdate_from_the_wall_clock)
{
    static const struct {
        uint64_t t;
        const char *date;
    } cases[] = {
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"}, /* RFC 9110 5.6.7's example */
        {951782399, "Mon, 28 Feb 2000 23:59:59 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {1709251199, "Thu, 29 Feb 2024 23:59:59 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"}, /* a clock stepped back */
        {253402300800, "Sat, 01 Jan 10000 00:00:00 GMT"}, /* wider than the cached form */
        {4102444799, "Thu, 31 Dec 2099 23:59:59 GMT"},
    };
    struct hs_cfg cfg = {.wall = cases[0].t};
    struct hs *h = hs_start(&cfg);
    struct client *c = hs_connect(h, PEER_PORT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        h->wall = cases[i].t;
        struct resp r = hs_get(h, c, i % 2 ? "/nothing" : "/data.bin", "");
        expect_hdr(&r, "Date", cases[i].date);
        r = hs_get(h, c, "/data.bin", ""); /* the same second again: the server's copy */
        expect_hdr(&r, "Date", cases[i].date);
    }
    /* RFC 9110 6.6.1: an origin server with a clock sends Date in every 2xx-4xx. */
    char etag[64], extra[128];
    snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n",
             hs_etag_of(h, "/data.bin", etag, sizeof(etag)));
    const struct resp more[] = {hs_get(h, c, "/data.bin", extra),
                                hs_get(h, c, "/docs", ""),
                                hs_get(h, c, "/data.bin", "Range: bytes=0-1\r\n"),
                                hs_get(h, c, "/data.bin", "Range: bytes=500-\r\n"),
                                hs_ask(h, c, "PUT /x HTTP/1.1\r\nHost: q\r\n\r\n"),
                                hs_ask(h, c, "GET /x HTTP/1.1\r\n\r\n")};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        expect_hdr(&more[i], "Date", cases[sizeof(cases) / sizeof(cases[0]) - 1].date);
    hs_stop(h);
}

Test(http_server, no_date_without_a_wall_clock)
{
    struct hs_cfg cfg = {.no_clock = true};
    struct hs *h = hs_start(&cfg);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/data.bin", "");
    expect_status(&r, 200);
    expect_no_hdr(&r, "Date");
    r = hs_get(h, c, "/missing", "");
    expect_status(&r, 404);
    expect_no_hdr(&r, "Date");
    hs_stop(h);
}

/* Every field of a HEAD response but the body is what GET would send (RFC 9110 9.3.2). */
static void expect_same_fields(const struct resp *get, const struct resp *head)
{
    cr_assert_eq(get->status, head->status, "GET %d, HEAD %d", get->status, head->status);
    cr_assert_eq(get->n_fields, head->n_fields, "GET:\n%s\nHEAD:\n%s", get->head, head->head);
    for (size_t i = 0; i < get->n_fields; i++) {
        const char *v = hdr(head, get->field[i].name);
        cr_assert_not_null(v, "HEAD lacks %s:\n%s", get->field[i].name, head->head);
        cr_assert_str_eq(v, get->field[i].value, "%s differs: GET \"%s\", HEAD \"%s\"",
                         get->field[i].name, get->field[i].value, v);
    }
}

Test(http_server, head_sends_the_get_headers_without_a_body)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *paths[] = {"/data.bin", "/style.css", "/", "/docs", "/missing"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: q\r\n\r\n", paths[i]);
        struct resp get = hs_ask(h, c, req);
        snprintf(req, sizeof(req), "HEAD %s HTTP/1.1\r\nHost: q\r\n\r\n", paths[i]);
        struct resp head = hs_ask(h, c, req);
        expect_same_fields(&get, &head);
        expect_no_more(c); /* not one body byte after the HEAD response */
    }
    cr_assert(!c->fin && !c->rst);
    hs_stop(h);
}

Test(http_server, root_and_directories_serve_their_index_html)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    char etag[64];
    struct resp r = hs_get(h, c, "/", "");
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Type", HS_TEXT_HTML);
    expect_hdr(&r, "ETag", hs_etag_of(h, "/index.html", etag, sizeof(etag)));
    expect_body(&r, HS_INDEX, strlen(HS_INDEX));
    r = hs_get(h, c, "/docs/", "");
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Type", HS_TEXT_HTML);
    expect_body(&r, HS_DOCS_INDEX, strlen(HS_DOCS_INDEX));
    r = hs_get(h, c, "/index.html", "");
    expect_body(&r, HS_INDEX, strlen(HS_INDEX));
    hs_stop(h);
}

Test(http_server, directory_without_its_slash_is_redirected_with_301)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/docs", "");
    expect_status(&r, 301);
    expect_hdr(&r, "Location", "/docs/");
    cr_assert_not_null(hdr(&r, "Content-Length"), "301 without Content-Length:\n%s", r.head);
    cr_assert(!c->fin, "a redirect is no reason to close");
    r = hs_get(h, c, "/docs?x=1", "");
    expect_status(&r, 301);
    cr_assert(!strncmp(hdr(&r, "Location"), "/docs/", 6), "Location %s", hdr(&r, "Location"));
    r = hs_get(h, c, "/data.bin", ""); /* the connection still works */
    expect_body(&r, h->data, HS_DATA_LEN);
    hs_stop(h);
}

/* RFC 9110 10.2.2: Location is a URI reference, where a space must be percent-encoded. */
Test(http_server, redirect_location_is_percent_encoded)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/my%20docs", "");
    expect_status(&r, 301);
    expect_hdr(&r, "Location", "/my%20docs/");
    r = hs_get(h, c, hdr(&r, "Location"), "");
    expect_status(&r, 200);
    expect_body(&r, HS_DOCS_INDEX, strlen(HS_DOCS_INDEX));
    hs_stop(h);
}

Test(http_server, targets_are_decoded_and_normalized_before_lookup)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *same[] = {"/d%61ta.bin", "/docs/../data.bin", "/./data.bin", "/data.bin?v=2",
                          "http://quartz/data.bin"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        struct resp r = hs_get(h, c, same[i], "");
        cr_assert_eq(r.status, 200, "%s: %d", same[i], r.status);
        expect_body(&r, h->data, HS_DATA_LEN);
    }
    hs_stop(h);
}

Test(http_server, missing_file_gets_404_with_a_small_html_page)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *missing[] = {"/nothing", "/docs/nothing.txt", "/data.bin/", "/nodir/"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        struct resp r = hs_get(h, c, missing[i], "");
        cr_assert_eq(r.status, 404, "%s: %d", missing[i], r.status);
        cr_assert(!strncmp(hdr(&r, "Content-Type"), "text/html", 9), "%s", r.head);
        cr_assert(r.body_len > 0 && r.body_len < 512, "404 page of %zu bytes", r.body_len);
        cr_assert_not_null(memmem(r.body, r.body_len, "404", 3), "page without its status");
    }
    cr_assert(!c->fin, "a 404 is no reason to close");
    struct resp r = hs_get(h, c, "/data.bin", "");
    expect_body(&r, h->data, HS_DATA_LEN);
    hs_stop(h);
}

Test(http_server, other_methods_get_405_with_allow_and_their_body_is_skipped)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char req[256];
        /* The body looks like a request: answering it would betray a body not skipped. */
        const char *body = "GET /nothing HTTP/1.1\r\nHost: q\r\n\r\n";
        snprintf(req, sizeof(req),
                 "%s /data.bin HTTP/1.1\r\nHost: q\r\nContent-Length: %zu\r\n\r\n%s", methods[i],
                 strlen(body), body);
        struct resp r = hs_ask(h, c, req);
        cr_assert_eq(r.status, 405, "%s: %d", methods[i], r.status);
        cr_assert(hdr_has_token(&r, "Allow", "GET") && hdr_has_token(&r, "Allow", "HEAD"),
                  "%s: Allow should list GET and HEAD:\n%s", methods[i], r.head);
        cr_assert(!hdr_has_token(&r, "Allow", methods[i]), "Allow lists %s", methods[i]);
        expect_no_more(c);
        cr_assert(!c->fin, "%s: the connection should stay open", methods[i]);
        r = hs_get(h, c, "/data.bin", "");
        expect_status(&r, 200);
        expect_body(&r, h->data, HS_DATA_LEN);
        expect_no_more(c);
    }
    hs_stop(h);
}

/* ---- The parser's refusals ------------------------------------------------------------- */

/* `bad` (followed in the same bytes by a valid request) is refused with `status`, the
 * connection says close and ends with FIN after the response; bytes the client sends
 * after the FIN are drained, not reset; the client's FIN ends it. */
static void expect_refusal(const char *bad, size_t len, int status)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    static const char next[] = "GET /data.bin HTTP/1.1\r\nHost: q\r\n\r\n";
    char *buf = malloc(len + sizeof(next));
    cr_assert_not_null(buf);
    memcpy(buf, bad, len);
    memcpy(buf + len, next, sizeof(next) - 1);
    hs_send(h, c, buf, len + sizeof(next) - 1);
    free(buf);

    struct resp r = hs_response(c, false);
    expect_status(&r, status);
    cr_assert(hdr_has_token(&r, "Connection", "close"), "no Connection: close:\n%s", r.head);
    cr_assert(r.body_len > 0, "a refusal without a page");
    expect_no_more(c); /* nothing after the refused request was answered */
    cr_assert(c->fin, "no FIN after the %d", status);
    cr_assert(!c->rst, "the %d ended with RST, not FIN", status);

    hs_send_str(h, c, next); /* a client that did not notice */
    hs_run(h, h->tb.now + 100 * MS);
    cr_assert(!c->rst, "bytes after the server's FIN were answered with RST");
    expect_no_more(c);
    hs_close(h, c);
    cr_assert(!c->rst, "RST after the client's FIN");
    expect_all_released(h);
    hs_stop(h);
}

static void expect_refusal_str(const char *bad, int status)
{
    expect_refusal(bad, strlen(bad), status);
}

Test(http_server, unknown_method_gets_501_then_fin)
{
    expect_refusal_str("BREW /pot HTTP/1.1\r\nHost: q\r\n\r\n", 501);
}

/* gzip then chunked: the length is known, the coding is not (RFC 9112 6.1). */
Test(http_server, unknown_transfer_coding_gets_501_then_fin)
{
    expect_refusal_str("POST /x HTTP/1.1\r\nHost: q\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                       501);
}

/* chunked not last: the body's end cannot be found (RFC 9112 6.3 rule 4). */
Test(http_server, transfer_coding_not_ending_in_chunked_gets_400_then_fin)
{
    expect_refusal_str("POST /x HTTP/1.1\r\nHost: q\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
}

Test(http_server, missing_host_gets_400_then_fin)
{
    expect_refusal_str("GET /data.bin HTTP/1.1\r\n\r\n", 400);
}

Test(http_server, smuggling_attempt_gets_400_then_fin)
{
    expect_refusal_str("POST /x HTTP/1.1\r\nHost: q\r\nContent-Length: 5\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n",
                       400);
}

Test(http_server, long_target_gets_414_then_fin)
{
    size_t n = HTTP_TARGET_MAX + 100;
    char *req = malloc(n + 64);
    cr_assert_not_null(req);
    strcpy(req, "GET /");
    memset(req + 5, 'a', n);
    strcpy(req + 5 + n, " HTTP/1.1\r\nHost: q\r\n\r\n");
    expect_refusal_str(req, 414);
    free(req);
}

Test(http_server, oversized_head_gets_431_then_fin)
{
    size_t cap = HTTP_HEAD_MAX + 4096;
    char *req = malloc(cap);
    cr_assert_not_null(req);
    size_t n = (size_t)sprintf(req, "GET /data.bin HTTP/1.1\r\nHost: q\r\n");
    for (int i = 0; n < HTTP_HEAD_MAX + 1000; i++)
        n += (size_t)sprintf(req + n, "X-Filler-%04d: %080d\r\n", i, i);
    n += (size_t)sprintf(req + n, "\r\n");
    expect_refusal(req, n, 431);
    free(req);
}

Test(http_server, http_2_gets_505_then_fin)
{
    expect_refusal_str("GET /data.bin HTTP/2.0\r\nHost: q\r\n\r\n", 505);
}

Test(http_server, lingering_connection_is_let_go_when_the_client_never_closes)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_ask(h, c, "BREW /pot HTTP/1.1\r\nHost: q\r\n\r\n");
    expect_status(&r, 501);
    cr_assert(c->fin);
    cr_assert_eq(http_conns_in_use(&h->srv), 1, "the connection should linger");
    hs_run(h, h->tb.now + HTTP_LINGER_NS + 10 * MS);
    cr_assert_eq(http_conns_in_use(&h->srv), 0, "still lingering after HTTP_LINGER_NS");
    cr_assert(!c->rst, "nothing was unread: letting go should not reset");
    hs_run(h, h->tb.now + 120 * SEC); /* FIN_WAIT_2 runs out */
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0);
    hs_stop(h);
}

/* ---- Keep-alive, close, HTTP/1.0 -------------------------------------------------------- */

Test(http_server, keep_alive_serves_several_requests_on_one_connection)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    for (int i = 0; i < 4; i++) {
        struct resp r = hs_get(h, c, i % 2 ? "/" : "/data.bin", "");
        expect_status(&r, 200);
        expect_no_hdr(&r, "Connection"); /* HTTP/1.1 persists without saying so */
        cr_assert(!c->fin && !c->rst, "request %d closed the connection", i);
    }
    cr_assert_eq(http_conns_in_use(&h->srv), 1);
    hs_stop(h);
}

Test(http_server, connection_close_gets_fin_after_the_whole_response)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/data.bin", "Connection: close\r\n");
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert(hdr_has_token(&r, "Connection", "close"), "%s", r.head);
    cr_assert(c->fin, "no FIN after Connection: close");
    cr_assert(!c->rst);
    expect_no_more(c);
    hs_close(h, c);
    expect_all_released(h);
    hs_stop(h);
}

Test(http_server, http_1_0_closes_by_default)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_ask(h, c, "GET /data.bin HTTP/1.0\r\n\r\n");
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert(!hdr_has_token(&r, "Connection", "keep-alive"), "%s", r.head);
    cr_assert(c->fin, "an HTTP/1.0 connection without keep-alive should close");
    cr_assert(!c->rst);
    hs_close(h, c);
    expect_all_released(h);
    hs_stop(h);
}

Test(http_server, http_1_0_keep_alive_is_honoured_and_announced)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    for (int i = 0; i < 2; i++) {
        struct resp r = hs_ask(h, c, "GET /data.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        expect_status(&r, 200);
        expect_body(&r, h->data, HS_DATA_LEN);
        cr_assert(hdr_has_token(&r, "Connection", "keep-alive"), "%s", r.head);
        cr_assert(!c->fin, "request %d: keep-alive should keep the connection", i);
    }
    struct resp r = hs_ask(h, c, "GET /data.bin HTTP/1.0\r\n\r\n");
    expect_status(&r, 200);
    cr_assert(c->fin, "the last request, without keep-alive, should close");
    hs_stop(h);
}

Test(http_server, client_closing_an_idle_connection_is_followed)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/data.bin", "");
    expect_status(&r, 200);
    hs_close(h, c);
    cr_assert(c->fin, "the server should close its side too");
    cr_assert(!c->rst);
    cr_assert_eq(http_conns_in_use(&h->srv), 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0, "LAST_ACK should end with our ACK");
    hs_stop(h);
}

Test(http_server, request_then_half_close_still_gets_the_response)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_write(h, c, "GET /data.bin HTTP/1.1\r\nHost: q\r\n\r\n", 35);
    hs_close(h, c);
    struct resp r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert(c->fin && !c->rst);
    cr_assert_eq(http_conns_in_use(&h->srv), 0);
    hs_stop(h);
}

/* ---- Pipelining ------------------------------------------------------------------------- */

Test(http_server, three_pipelined_requests_are_answered_in_order)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_send_str(h, c,
                "GET /data.bin HTTP/1.1\r\nHost: q\r\n\r\n"
                "HEAD /style.css HTTP/1.1\r\nHost: q\r\n\r\n"
                "GET /docs/a.txt HTTP/1.1\r\nHost: q\r\n\r\n");
    struct resp r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    r = hs_response(c, true);
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Type", HS_TEXT_CSS);
    r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, HS_A_TXT, strlen(HS_A_TXT));
    expect_no_more(c);
    cr_assert(!c->fin);
    hs_stop(h);
}

Test(http_server, pipelined_request_after_a_large_response_waits_its_turn)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_send_str(h, c,
                "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n"
                "GET /data.bin HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n");
    struct resp r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, h->big, HS_BIG_LEN);
    r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    expect_no_more(c);
    cr_assert(c->fin && !c->rst);
    hs_stop(h);
}

Test(http_server, refusal_after_pipelined_requests_comes_after_their_responses)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_send_str(h, c,
                "GET /data.bin HTTP/1.1\r\nHost: q\r\n\r\n"
                "GET /docs/a.txt HTTP/1.1\r\nHost: q\r\n\r\n"
                "BREW /pot HTTP/1.1\r\nHost: q\r\n\r\n"
                "GET /data.bin HTTP/1.1\r\nHost: q\r\n\r\n");
    struct resp r = hs_response(c, false);
    expect_body(&r, h->data, HS_DATA_LEN);
    r = hs_response(c, false);
    expect_body(&r, HS_A_TXT, strlen(HS_A_TXT));
    r = hs_response(c, false);
    expect_status(&r, 501);
    cr_assert(hdr_has_token(&r, "Connection", "close"), "%s", r.head);
    expect_no_more(c);
    cr_assert(c->fin && !c->rst);
    hs_stop(h);
}

Test(http_server, requests_after_connection_close_are_not_answered_nor_reset)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_send_str(h, c,
                "GET /data.bin HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n"
                "GET /docs/a.txt HTTP/1.1\r\nHost: q\r\n\r\n");
    struct resp r = hs_response(c, false);
    expect_body(&r, h->data, HS_DATA_LEN);
    expect_no_more(c);
    cr_assert(c->fin, "no FIN after Connection: close");
    cr_assert(!c->rst, "the unread request caused a RST");
    hs_close(h, c);
    cr_assert(!c->rst);
    cr_assert_eq(http_conns_in_use(&h->srv), 0);
    hs_stop(h);
}

/* More requests than the head buffer, the receive ring and the send ring hold: both
 * directions fill up, and every answer still comes, in order. */
Test(http_server, six_hundred_pipelined_requests_are_answered_in_order)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    enum { N = 600 };
    static const char *paths[] = {"/data.bin", "/docs/a.txt", "/nothing", "/docs"};
    char *buf = malloc(N * 64);
    cr_assert_not_null(buf);
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)sprintf(buf + n, "%s %s HTTP/1.1\r\nHost: q\r\n\r\n",
                             i % 5 == 4 ? "HEAD" : "GET", paths[i % 4]);
    cr_assert_gt(n, (size_t)HTTP_HEAD_MAX + TB_TCP_RING);
    hs_send(h, c, buf, n);
    free(buf);
    static const int status[] = {200, 200, 404, 301};
    for (int i = 0; i < N; i++) {
        struct resp r = hs_response(c, i % 5 == 4);
        cr_assert_eq(r.status, status[i % 4], "response %d: %d", i, r.status);
        if (i % 4 == 0 && i % 5 != 4)
            expect_body(&r, h->data, HS_DATA_LEN);
    }
    expect_no_more(c);
    cr_assert(!c->fin && !c->rst);
    hs_stop(h);
}

Test(http_server, request_split_across_segments_is_assembled)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    const char *parts[] = {"GE", "T /data", ".bin HTTP/1.1\r", "\nHost: q\r\n", "\r", "\n"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        cr_assert_eq(c->rx_len, 0, "answered before the head was complete");
        hs_send_str(h, c, parts[i]);
        hs_run(h, h->tb.now + 50 * MS);
    }
    struct resp r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    hs_stop(h);
}

/* ---- A site from the real bundler ---------------------------------------------------------- */

static void put_file(const char *dir, const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s", path);
    fputs(text, f);
    fclose(f);
}

Test(http_server, serves_an_image_built_by_site_bundle)
{
    char dir[] = "/tmp/qz-http-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[64], img[64], cmd[256];
    snprintf(sub, sizeof(sub), "%s/tree/blog", dir);
    snprintf(cmd, sizeof(cmd), "%s/tree", dir);
    cr_assert_eq(mkdir(cmd, 0755), 0);
    cr_assert_eq(mkdir(sub, 0755), 0);
    char css[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat(css, "p { color: #333; }\n");
    put_file(cmd, "index.html", "<!doctype html><p>bundled</p>\n");
    put_file(cmd, "site.css", css);
    put_file(sub, "index.html", "<p>blog</p>\n");
    snprintf(img, sizeof(img), "%s/site.img", dir);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 scripts/site-bundle.py --quiet '%s/tree' '%s'",
             dir, img);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the bundler failed");
    FILE *f = fopen(img, "rb");
    cr_assert_not_null(f);
    struct hs_cfg cfg = {0};
    cfg.image = malloc(1 << 16);
    cfg.image_len = fread(cfg.image, 1, 1 << 16, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);

    struct hs *h = hs_start(&cfg);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/", "");
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Type", "text/html; charset=utf-8");
    expect_body(&r, "<!doctype html><p>bundled</p>\n", 30);
    r = hs_get(h, c, "/blog", "");
    expect_status(&r, 301);
    expect_hdr(&r, "Location", "/blog/");
    r = hs_get(h, c, "/blog/", "");
    expect_body(&r, "<p>blog</p>\n", 12);
    struct site_file sf = hs_file(h, "/site.css");
    cr_assert_not_null(sf.gz, "the bundler made no gzip variant of a compressible file");
    r = hs_get(h, c, "/site.css", "Accept-Encoding: gzip\r\n");
    expect_hdr(&r, "Content-Encoding", "gzip");
    expect_body(&r, sf.gz, sf.gz_len);
    cr_assert(r.body[0] == 0x1f && r.body[1] == 0x8b);
    r = hs_get(h, c, "/site.css", "");
    expect_body(&r, css, strlen(css));
    hs_stop(h);
}
