/*
 * The HTTP server through the real TCP stack, over time: the header, idle and send
 * timeouts (small tunables through struct http_cfg, and the documented defaults), a large
 * file streaming as the window allows without holding up another connection, clients that
 * reset, and many connections at once with nothing leaked.
 */
#include "http_support.h"

#define HEADER_TIMEOUT (2 * SEC)
#define IDLE_TIMEOUT (5 * SEC)

static const struct hs_cfg quick = {.header_timeout_ns = HEADER_TIMEOUT,
                                    .idle_timeout_ns = IDLE_TIMEOUT};

static void expect_between(uint64_t t, uint64_t lo, uint64_t hi, const char *what)
{
    cr_assert(t >= lo && t <= hi, "%s at T0+%llu ms, expected within [%llu, %llu] ms", what,
              (unsigned long long)((t - T0) / MS), (unsigned long long)((lo - T0) / MS),
              (unsigned long long)((hi - T0) / MS));
}

/* ---- Header timeout ------------------------------------------------------------------ */

static void expect_408_at(struct hs *h, struct client *c, uint64_t due)
{
    struct resp r = hs_response(c, false);
    expect_status(&r, 408);
    cr_assert(hdr_has_token(&r, "Connection", "close"), "%s", r.head);
    expect_between(c->first_rx_at, due, due + 10 * MS, "the 408");
    cr_assert(c->fin, "no FIN after the 408");
    cr_assert(!c->rst, "the 408 ended with RST");
    hs_close(h, c);
    cr_assert(!c->rst);
    expect_all_released(h);
}

Test(http_server, partial_head_and_silence_get_408_after_the_header_timeout)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    uint64_t t1 = h->tb.now + 100 * MS;
    hs_run(h, t1);
    hs_send_str(h, c, "GET /data.bin HTTP/1.1\r\nHost: q\r\n");
    hs_run(h, t1 + HEADER_TIMEOUT - 10 * MS);
    cr_assert_eq(c->rx_len, 0, "answered an incomplete head");
    cr_assert(!c->fin);
    hs_run(h, t1 + HEADER_TIMEOUT + 100 * MS);
    expect_408_at(h, c, t1 + HEADER_TIMEOUT);
    hs_stop(h);
}

Test(http_server, head_trickled_byte_by_byte_times_out_from_its_first_byte)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    static const char part[] = "GET /data.bin HTTP/1.1\r\nHost: q\r\nX-Slow: aaaaaaaaaaaaaaaa";
    uint64_t t1 = h->tb.now;
    for (size_t i = 0; i < sizeof(part) - 1 && !c->rx_len; i++) {
        hs_send(h, c, part + i, 1);
        hs_run(h, h->tb.now + 300 * MS);
    }
    expect_408_at(h, c, t1 + HEADER_TIMEOUT);
    hs_stop(h);
}

Test(http_server, zero_tunables_take_the_documented_default_timeouts)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    uint64_t t1 = h->tb.now;
    hs_send_str(h, c, "GET / HTTP/1.1\r\n");
    hs_run(h, t1 + 10 * SEC - 10 * MS);
    cr_assert_eq(c->rx_len, 0, "408 before the default header timeout (10 s)");
    hs_run(h, t1 + 10 * SEC + 10 * MS);
    struct resp r = hs_response(c, false);
    expect_status(&r, 408);

    struct client *d = hs_connect(h, PEER_PORT + 1);
    r = hs_get(h, d, "/data.bin", "");
    expect_status(&r, 200);
    uint64_t t2 = h->tb.now;
    hs_run(h, t2 + 30 * SEC - 10 * MS);
    cr_assert(!d->fin, "closed before the default idle timeout (30 s)");
    hs_run(h, t2 + 30 * SEC + 10 * MS);
    cr_assert(d->fin, "not closed after the default idle timeout (30 s)");
    hs_stop(h);
}

/* ---- Idle keep-alive ------------------------------------------------------------------- */

Test(http_server, idle_keep_alive_connection_is_closed_after_the_idle_timeout)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    struct resp r = hs_get(h, c, "/data.bin", "");
    expect_status(&r, 200);
    uint64_t t1 = h->tb.now;
    hs_run(h, t1 + IDLE_TIMEOUT - 10 * MS);
    cr_assert(!c->fin, "closed before the idle timeout");
    hs_run(h, t1 + IDLE_TIMEOUT + 100 * MS);
    cr_assert(c->fin, "not closed after the idle timeout");
    expect_between(c->fin_at, t1 + IDLE_TIMEOUT, t1 + IDLE_TIMEOUT + 10 * MS, "the FIN");
    cr_assert(!c->rst, "an idle connection should end with FIN, not RST");
    expect_no_more(c);
    hs_close(h, c);
    expect_all_released(h);
    hs_stop(h);
}

Test(http_server, each_request_restarts_the_idle_timer)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    uint64_t last = 0;
    for (int i = 0; i < 4; i++) {
        struct resp r = hs_get(h, c, "/data.bin", "");
        expect_status(&r, 200);
        last = h->tb.now;
        hs_run(h, last + IDLE_TIMEOUT * 4 / 5);
        cr_assert(!c->fin, "closed %d ms after request %d", (int)(IDLE_TIMEOUT * 4 / 5 / MS), i);
    }
    hs_run(h, last + IDLE_TIMEOUT + 100 * MS);
    cr_assert(c->fin, "not closed after the idle timeout");
    hs_stop(h);
}

Test(http_server, connection_that_never_asks_is_closed_after_the_idle_timeout)
{
    struct hs *h = hs_start(&quick);
    uint64_t t1 = h->tb.now;
    struct client *c = hs_connect(h, PEER_PORT);
    hs_run(h, t1 + IDLE_TIMEOUT + 100 * MS);
    cr_assert(c->fin, "a silent connection is held open");
    cr_assert(!c->rst);
    cr_assert_eq(c->rx_len, 0, "a response nobody asked for");
    hs_close(h, c);
    expect_all_released(h);
    hs_stop(h);
}

/* ---- A client that stops reading -------------------------------------------------------- */

Test(http_server, client_that_stops_reading_is_aborted_after_the_idle_timeout)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_write(h, c, "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n", 34);
    for (int i = 0; i < 5; i++)
        hs_step(h);
    hs_stall(h, c);
    uint64_t t_stall = h->tb.now;
    size_t got = c->rx_len;
    cr_assert(got > 0 && got < HS_BIG_LEN, "%zu bytes before the stall", got);

    hs_run(h, t_stall + IDLE_TIMEOUT - 50 * MS);
    cr_assert(!c->rst, "aborted before the idle timeout");
    cr_assert_gt(c->probes, 0, "no zero-window probe in %d ms", (int)(IDLE_TIMEOUT / MS));
    cr_assert_eq(http_conns_in_use(&h->srv), 1);
    cr_assert_eq(c->rx_len, got, "data past a zero window");

    hs_run(h, t_stall + IDLE_TIMEOUT + 100 * MS);
    cr_assert(c->rst, "a client that stopped reading is held forever");
    expect_between(c->rst_at, t_stall + IDLE_TIMEOUT, t_stall + IDLE_TIMEOUT + 10 * MS, "the RST");
    cr_assert_eq(http_conns_in_use(&h->srv), 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0, "the aborted TCP connection lingers");
    hs_stop(h);
}

/* The whole response fits in TCP's send ring, so the server is done writing at once; the
 * client never reads it (zero window, probes answered). It must still be let go: a
 * connection closed with unsendable data would otherwise probe forever, and a few such
 * clients would fill the table. */
Test(http_server, client_that_never_reads_a_small_response_is_let_go)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_stall(h, c);
    hs_send_str(h, c, "GET /style.css HTTP/1.1\r\nHost: q\r\n\r\n");
    cr_assert_eq(c->rx_len, 0, "data past a zero window");
    hs_run(h, h->tb.now + IDLE_TIMEOUT + HTTP_LINGER_NS + SEC);
    cr_assert_eq(http_conns_in_use(&h->srv), 0, "http_conn held");
    hs_run(h, h->tb.now + 10 * 60 * SEC);
    cr_assert_gt(c->probes, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0,
                 "10 minutes on, the TCP connection of a client that reads nothing is alive "
                 "(%s, %u bytes unsent, rst %d)",
                 tcp_state_name(h->tb.node->tcp.conns[0].state),
                 conn_info(&h->tb.node->tcp.conns[0]).unsent, c->rst);
    hs_stop(h);
}

/* The same after a refusal: the server lingers, then lets go of a connection whose
 * response (and FIN) cannot leave. */
Test(http_server, refused_client_that_never_reads_is_let_go)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_stall(h, c);
    hs_send_str(h, c, "BREW /pot HTTP/1.1\r\nHost: q\r\n\r\n");
    cr_assert_eq(c->rx_len, 0, "data past a zero window");
    hs_run(h, h->tb.now + HTTP_LINGER_NS + SEC);
    cr_assert_eq(http_conns_in_use(&h->srv), 0, "http_conn held");
    hs_run(h, h->tb.now + 10 * 60 * SEC);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0,
                 "10 minutes on, the TCP connection of a refused client that reads nothing is "
                 "alive (%s, %u bytes unsent, rst %d)",
                 tcp_state_name(h->tb.node->tcp.conns[0].state),
                 conn_info(&h->tb.node->tcp.conns[0]).unsent, c->rst);
    hs_stop(h);
}

Test(http_server, slow_reader_that_keeps_progressing_is_not_aborted)
{
    struct hs *h = hs_start(&quick);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_write(h, c, "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n", 34);
    hs_step(h);
    uint64_t t1 = h->tb.now;
    /* Every 3 s (under the 5 s timeout) it reads one window's worth, for 15 s. */
    for (int i = 0; i < 5; i++) {
        hs_stall(h, c);
        size_t before = c->rx_len;
        hs_run(h, h->tb.now + 3 * SEC);
        cr_assert(!c->rst, "aborted after %llu ms though reading every 3 s",
                  (unsigned long long)((h->tb.now - t1) / MS));
        hs_unstall(h, c);
        hs_step(h);
        cr_assert_gt(c->rx_len, before, "round %d: the window update brought nothing", i);
    }
    hs_flush(h);
    cr_assert(!c->rst);
    struct resp r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, h->big, HS_BIG_LEN);
    hs_stop(h);
}

/* ---- Streaming, interleaving, resets ------------------------------------------------------ */

Test(http_server, large_file_streams_while_a_small_request_is_answered_promptly)
{
    struct hs *h = hs_start(NULL);
    struct client *a = hs_connect(h, PEER_PORT);
    struct client *b = hs_connect(h, PEER_PORT + 1);
    hs_write(h, a, "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n", 34);
    for (int i = 0; i < 5; i++)
        hs_step(h);
    size_t a_before = a->rx_len;
    cr_assert_gt(a_before, 0, "the large response has not started");
    hs_write(h, b, "GET /data.bin HTTP/1.1\r\nHost: q\r\n\r\n", 35);
    hs_step(h);
    struct resp r = hs_response(b, false);
    expect_status(&r, 200);
    expect_body(&r, h->data, HS_DATA_LEN);
    cr_assert_lt(a->rx_len, (size_t)HS_BIG_LEN / 4,
                 "the small response waited for %zu bytes of the large one", a->rx_len);
    /* ... and the large one still goes on, each round as the window allows */
    size_t prev = a->rx_len;
    for (int i = 0; i < 5; i++) {
        hs_step(h);
        cr_assert_gt(a->rx_len, prev, "round %d: the large response stalled", i);
        cr_assert_leq(a->rx_len - prev, (size_t)PEER_WINDOW + 1024, "more than its window at once");
        prev = a->rx_len;
    }
    hs_flush(h);
    r = hs_response(a, false);
    expect_status(&r, 200);
    expect_hdr(&r, "Content-Length", "1048576");
    expect_body(&r, h->big, HS_BIG_LEN);
    expect_no_more(a);
    cr_assert(!a->rst && !b->rst && !a->fin && !b->fin);
    hs_stop(h);
}

Test(http_server, two_large_responses_interleave)
{
    struct hs *h = hs_start(NULL);
    struct client *a = hs_connect(h, PEER_PORT);
    struct client *b = hs_connect(h, PEER_PORT + 1);
    hs_write(h, a, "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n", 34);
    hs_write(h, b, "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n", 34);
    for (int i = 0; i < 20; i++)
        hs_step(h);
    cr_assert(a->rx_len > 0 && b->rx_len > 0, "one large response waits for the other");
    hs_flush(h);
    struct resp r = hs_response(a, false);
    expect_body(&r, h->big, HS_BIG_LEN);
    r = hs_response(b, false);
    expect_body(&r, h->big, HS_BIG_LEN);
    hs_stop(h);
}

Test(http_server, client_reset_mid_response_frees_the_connection)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_write(h, c, "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n", 34);
    for (int i = 0; i < 5; i++)
        hs_step(h);
    cr_assert_eq(http_conns_in_use(&h->srv), 1);
    hs_drain(h);
    hs_reset(h, c);
    cr_assert_eq(http_conns_in_use(&h->srv), 0, "http_conn kept after the client's RST");
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0);
    /* The server goes on serving. */
    struct client *d = hs_connect(h, PEER_PORT + 1);
    struct resp r = hs_get(h, d, "/data.bin", "");
    expect_body(&r, h->data, HS_DATA_LEN);
    hs_stop(h);
}

Test(http_server, large_response_to_a_half_closed_client_arrives_whole)
{
    struct hs *h = hs_start(NULL);
    struct client *c = hs_connect(h, PEER_PORT);
    hs_write(h, c, "GET /big.bin HTTP/1.1\r\nHost: q\r\n\r\n", 34);
    hs_close(h, c);
    struct resp r = hs_response(c, false);
    expect_status(&r, 200);
    expect_body(&r, h->big, HS_BIG_LEN);
    cr_assert(c->fin && !c->rst);
    cr_assert_eq(http_conns_in_use(&h->srv), 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0);
    hs_stop(h);
}

/* ---- Many connections ------------------------------------------------------------------- */

Test(http_server, fifty_concurrent_connections_each_get_their_response_and_nothing_leaks)
{
    struct hs_cfg cfg = {.conns = 64};
    struct hs *h = hs_start(&cfg);
    enum { N = 50 };
    struct client *cl[N];
    const char *paths[] = {"/data.bin", "/style.css", "/", "/docs/a.txt"};
    for (int i = 0; i < N; i++)
        cl[i] = hs_connect(h, (uint16_t)(41000 + i));
    cr_assert_eq(http_conns_in_use(&h->srv), N);
    for (int i = 0; i < N; i++) {
        char req[128];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: q\r\n%s\r\n", paths[i % 4],
                 i % 2 ? "" : "Connection: close\r\n");
        hs_write(h, cl[i], req, strlen(req));
    }
    hs_flush(h);
    for (int i = 0; i < N; i++) {
        struct resp r = hs_response(cl[i], false);
        cr_assert_eq(r.status, 200, "connection %d: %d", i, r.status);
        switch (i % 4) {
        case 0: expect_body(&r, h->data, HS_DATA_LEN); break;
        case 1: expect_body(&r, h->css, HS_CSS_LEN); break;
        case 2: expect_body(&r, HS_INDEX, strlen(HS_INDEX)); break;
        default: expect_body(&r, HS_A_TXT, strlen(HS_A_TXT)); break;
        }
        expect_no_more(cl[i]);
        cr_assert_eq(cl[i]->fin, i % 2 == 0, "connection %d: FIN %d", i, cl[i]->fin);
        cr_assert(!cl[i]->rst, "connection %d reset", i);
    }
    for (int i = 0; i < N; i++)
        hs_close(h, cl[i]);
    for (int i = 0; i < N; i++)
        cr_assert(cl[i]->fin && !cl[i]->rst, "connection %d did not close cleanly", i);
    cr_assert_eq(h->srv.stats.accepted, N);
    cr_assert_eq(h->srv.stats.requests, N);
    expect_all_released(h);
    hs_stop(h);
}

Test(http_server, a_hundred_and_fifty_connections_in_turn_reuse_the_slots)
{
    struct hs_cfg cfg = {.conns = 64};
    struct hs *h = hs_start(&cfg);
    for (int round = 0; round < 3; round++) {
        struct client *cl[50];
        for (int i = 0; i < 50; i++)
            cl[i] = hs_connect(h, (uint16_t)(20000 + round * 100 + i));
        for (int i = 0; i < 50; i++) {
            struct resp r = hs_get(h, cl[i], "/data.bin", "");
            expect_body(&r, h->data, HS_DATA_LEN);
            hs_close(h, cl[i]);
        }
        cr_assert_eq(http_conns_in_use(&h->srv), 0, "round %d", round);
        cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0, "round %d", round);
    }
    hs_stop(h);
}
