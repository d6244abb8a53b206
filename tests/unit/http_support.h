/*
 * http_support.h — the HTTP server on a testbed node, and HTTP clients talking to it over
 * the real TCP stack, for the test_http_server*.c suites. Not an API: everything is
 * static, each suite gets its own copy.
 *
 * The node is testbed_default_cfg() (10.0.0.2) with the server on port 80, its TCP events
 * forwarded to http_event and its timers run together with http_poll. The site is written
 * here, in memory, following site.h's layout (hs_site_image), or given ready-made (a
 * bundler image). Clients are tcp_support.h peers at 10.0.0.1 that behave like a plain
 * TCP: they acknowledge what arrives at once, answer probes, respect the node's window
 * when they send, and collect the response bytes; a stalled client advertises a zero
 * window and accepts nothing new.
 *
 *     struct hs *h = hs_start(NULL);                  server up at T0, default site
 *     struct client *c = hs_connect(h, PEER_PORT);    handshake at h's clock
 *     hs_send_str(h, c, "GET / HTTP/1.1\r\nHost: q\r\n\r\n");   send, let it all settle
 *     struct resp r = hs_response(c, false);          the next complete response
 *     expect_hdr(&r, "Content-Length", "49");
 *     hs_run(h, h->tb.now + 5 * SEC);                 time passes; clients keep reacting
 *     hs_stop(h);
 *
 * Time only moves through hs_advance / hs_run (tb_advance runs the node's and the server's
 * timers, each at its deadline); everything a client sends happens at h->tb.now. HS_DEBUG=1 in the
 * environment traces every segment both ways on stderr.
 */
#ifndef TESTS_UNIT_HTTP_SUPPORT_H
#define TESTS_UNIT_HTTP_SUPPORT_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/server.h"
#include "http/site.h"
#include "netstack/arp_wire.h"
#include "tcp_support.h"

/* ---- A site image, written by hand as site.h lays it out ---------------------------- */

struct hs_file {
    const char *path, *mime;
    const uint8_t *body;
    size_t len;
    const uint8_t *gz; /* NULL: no gzip variant */
    size_t gz_len;
};

static inline void hs_le32(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void hs_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline size_t hs_align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static inline int hs_file_cmp(const void *a, const void *b)
{
    const struct hs_file *x = a, *y = b;
    size_t lx = strlen(x->path), ly = strlen(y->path);
    int c = memcmp(x->path, y->path, lx < ly ? lx : ly);
    return c ? c : (lx < ly ? -1 : lx > ly);
}

/* The bundler's ETag form, a quoted 32 hex digits; here two FNV-1a hashes of the body. */
#define HS_ETAG_LEN 34
static inline void hs_etag(const uint8_t *p, size_t n, char out[HS_ETAG_LEN + 1])
{
    uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ p[i]) * 0x100000001b3ull;
        b = (b ^ p[i] ^ 0x5a) * 0x100000001b3ull;
    }
    snprintf(out, HS_ETAG_LEN + 1, "\"%016llx%016llx\"", (unsigned long long)a,
             (unsigned long long)b);
}

/* The image of `files` (sorted here); the caller frees it. */
static inline uint8_t *hs_site_image(struct hs_file *files, size_t n, size_t *out_len)
{
    qsort(files, n, sizeof(*files), hs_file_cmp);
    size_t strings_len = 0;
    for (size_t i = 0; i < n; i++)
        strings_len += strlen(files[i].path) + strlen(files[i].mime) + HS_ETAG_LEN;
    size_t strings_off = SITE_HDR_LEN + SITE_ENTRY_LEN * n;
    size_t total = hs_align8(strings_off + strings_len);
    for (size_t i = 0; i < n; i++)
        total = hs_align8(hs_align8(total + files[i].len) + (files[i].gz ? files[i].gz_len : 0));
    uint8_t *img = calloc(1, total);
    cr_assert_not_null(img);
    memcpy(img, SITE_MAGIC, 8);
    hs_le32(img + 8, n);
    hs_le32(img + 12, SITE_HDR_LEN);
    hs_le32(img + 16, strings_off);
    hs_le32(img + 20, strings_len);
    hs_le64(img + 24, total);
    size_t so = 0, pos = hs_align8(strings_off + strings_len);
    for (size_t i = 0; i < n; i++) {
        const struct hs_file *f = &files[i];
        uint8_t *e = img + SITE_HDR_LEN + SITE_ENTRY_LEN * i;
        char etag[HS_ETAG_LEN + 1];
        hs_etag(f->body, f->len, etag);
        const char *str[3] = {f->path, f->mime, etag};
        for (int k = 0; k < 3; k++) {
            size_t l = strlen(str[k]);
            hs_le32(e + 8 * k, so);
            hs_le32(e + 8 * k + 4, l);
            memcpy(img + strings_off + so, str[k], l);
            so += l;
        }
        hs_le64(e + 24, pos);
        hs_le64(e + 32, f->len);
        if (f->len)
            memcpy(img + pos, f->body, f->len);
        pos = hs_align8(pos + f->len);
        if (f->gz) {
            hs_le64(e + 40, pos);
            hs_le64(e + 48, f->gz_len);
            memcpy(img + pos, f->gz, f->gz_len);
            pos = hs_align8(pos + f->gz_len);
        }
    }
    cr_assert_eq(pos, total);
    *out_len = total;
    return img;
}

/* The default site. The gzip variants are stand-ins: the server sends them as they are. */
#define HS_BIG_LEN (1024 * 1024)
#define HS_DATA_LEN 100
#define HS_CSS_LEN 400
static const char HS_INDEX[] = "<!doctype html><title>Quartz</title><p>home</p>\n";
static const char HS_INDEX_GZ[] = "\x1f\x8b gzip variant of /index.html";
static const char HS_CSS_GZ[] = "\x1f\x8b gzip variant of /style.css";
static const char HS_DOCS_INDEX[] = "<!doctype html><title>docs</title><p>docs</p>\n";
static const char HS_A_TXT[] = "alpha\n";
#define HS_TEXT_HTML "text/html; charset=utf-8"
#define HS_TEXT_CSS "text/css; charset=utf-8"
#define HS_TEXT_PLAIN "text/plain; charset=utf-8"
#define HS_OCTETS "application/octet-stream"

/* ---- The server on a node ----------------------------------------------------------- */

#define HS_MAX_CLIENTS 160

struct client {
    struct peer p;
    uint8_t node_ws;
    uint16_t node_mss;
    uint32_t snd_una, snd_wnd;      /* what the node acknowledged, and its window (scaled) */
    uint8_t *rx;                    /* every byte the node sent on this connection, in order */
    size_t rx_len, rx_cap, rx_used; /* rx_used: taken by hs_response */
    bool fin, rst, stalled, need_ack;
    uint64_t fin_at, rst_at, first_rx_at, last_rx_at;
    uint32_t probes; /* segments the client refused (stalled) or found out of date */
    uint32_t gaps;   /* segments that arrived ahead of a hole */
};

struct hs_cfg {
    uint32_t conns;             /* [8] TCP connections and http_conns */
    uint32_t ring;              /* [TB_TCP_RING] TCP ring bytes */
    uint64_t header_timeout_ns; /* [server default] */
    uint64_t idle_timeout_ns;   /* [server default] */
    uint64_t wall;              /* what wall_clock returns */
    bool no_clock;              /* no wall_clock op at all */
    uint8_t *image;             /* a ready image (taken over), else the default site */
    size_t image_len;
};

struct hs {
    struct testbed tb;
    struct http_server srv;
    struct http_conn *conns;
    struct http_ops ops;
    struct site site;
    uint8_t *image;
    uint64_t wall;
    uint8_t data[HS_DATA_LEN], css[HS_CSS_LEN];
    uint8_t *big;
    struct client clients[HS_MAX_CLIENTS];
    size_t n_clients;
};

static inline uint64_t hs_wall(void *ctx, uint64_t now)
{
    (void)now;
    return ((struct hs *)ctx)->wall;
}

static inline void hs_hook(struct testbed *tb, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct hs *h = tb->hook_ctx;
    http_event(&h->srv, c, ev, user, tb->now);
}

/* The server's timers run with the node's, inside tb_advance (so also inside tb_send). */
static inline void hs_app_poll(struct testbed *tb, uint64_t now)
{
    http_poll(&((struct hs *)tb->hook_ctx)->srv, now);
}

static inline uint64_t hs_app_deadline(struct testbed *tb)
{
    return http_next_deadline(&((struct hs *)tb->hook_ctx)->srv);
}

static inline uint8_t *hs_default_site(struct hs *h, size_t *len)
{
    for (size_t i = 0; i < HS_DATA_LEN; i++)
        h->data[i] = (uint8_t)(i * 7 + 3);
    static const char css[] = "body { margin: 0; color: #222; }\n";
    for (size_t i = 0; i < HS_CSS_LEN; i++)
        h->css[i] = (uint8_t)css[i % (sizeof(css) - 1)];
    h->big = malloc(HS_BIG_LEN);
    cr_assert_not_null(h->big);
    for (size_t i = 0; i < HS_BIG_LEN; i++)
        h->big[i] = (uint8_t)((i >> 8) ^ (i * 13));
    struct hs_file files[] = {
        {"/index.html", HS_TEXT_HTML, (const uint8_t *)HS_INDEX, sizeof(HS_INDEX) - 1,
         (const uint8_t *)HS_INDEX_GZ, sizeof(HS_INDEX_GZ) - 1},
        {"/style.css", HS_TEXT_CSS, h->css, HS_CSS_LEN, (const uint8_t *)HS_CSS_GZ,
         sizeof(HS_CSS_GZ) - 1},
        {"/data.bin", HS_OCTETS, h->data, HS_DATA_LEN, NULL, 0},
        {"/docs/index.html", HS_TEXT_HTML, (const uint8_t *)HS_DOCS_INDEX,
         sizeof(HS_DOCS_INDEX) - 1, NULL, 0},
        {"/docs/a.txt", HS_TEXT_PLAIN, (const uint8_t *)HS_A_TXT, sizeof(HS_A_TXT) - 1, NULL, 0},
        {"/my docs/index.html", HS_TEXT_HTML, (const uint8_t *)HS_DOCS_INDEX,
         sizeof(HS_DOCS_INDEX) - 1, NULL, 0},
        {"/big.bin", HS_OCTETS, h->big, HS_BIG_LEN, NULL, 0},
    };
    return hs_site_image(files, sizeof(files) / sizeof(files[0]), len);
}

static inline void hs_stop(struct hs *h);

/* The testbed of the running test, freed at exit when a failed assertion skipped hs_stop
 * (so a failure reports itself, not a leak too). */
static struct hs *hs_live;

static inline void hs_stop_at_exit(void)
{
    if (hs_live)
        hs_stop(hs_live);
}

/* Node up at T0 with the peer's MAC learned, the server listening on port 80. */
static inline struct hs *hs_start(const struct hs_cfg *cfg)
{
    static const struct hs_cfg defaults;
    if (!cfg)
        cfg = &defaults;
    struct hs *h = calloc(1, sizeof(*h));
    cr_assert_not_null(h);
    if (!hs_live)
        atexit(hs_stop_at_exit);
    hs_live = h;
    size_t len;
    h->image = cfg->image ? cfg->image : hs_default_site(h, &len);
    if (cfg->image)
        len = cfg->image_len;
    cr_assert_eq(site_open(&h->site, h->image, len), NET_OK, "site_open refused the image");

    struct node_cfg nc = testbed_default_cfg();
    if (cfg->conns)
        nc.tcp_conns = cfg->conns;
    if (cfg->ring)
        nc.tcp_rx_size = nc.tcp_tx_size = cfg->ring;
    tcp_start_cfg(&h->tb, &nc);
    h->tb.tcp_hook = hs_hook;
    h->tb.hook_ctx = h;

    h->wall = cfg->wall;
    h->ops.wall_clock = cfg->no_clock ? NULL : hs_wall;
    /* Poisoned, not zeroed: the kernel hands the server unzeroed pages, so nothing may
     * depend on a slot's contents before TCP gives it a connection. */
    h->conns = malloc(nc.tcp_conns * sizeof(*h->conns));
    if (h->conns)
        memset(h->conns, 0xa5, nc.tcp_conns * sizeof(*h->conns));
    cr_assert_not_null(h->conns);
    struct http_cfg hc = {.port = OUR_PORT,
                          .site = &h->site,
                          .conns = h->conns,
                          .n_conns = nc.tcp_conns,
                          .header_timeout_ns = cfg->header_timeout_ns,
                          .idle_timeout_ns = cfg->idle_timeout_ns};
    cr_assert_eq(http_init(&h->srv, TCP_OF(&h->tb), &hc, &h->ops, h), NET_OK);
    h->tb.app_poll = hs_app_poll;
    h->tb.app_deadline = hs_app_deadline;
    return h;
}

static inline void hs_stop(struct hs *h)
{
    hs_live = NULL;
    for (size_t i = 0; i < h->n_clients; i++)
        free(h->clients[i].rx);
    testbed_free(&h->tb);
    free(h->conns);
    free(h->image);
    free(h->big);
    free(h);
}

static inline struct site_file hs_file(const struct hs *h, const char *path)
{
    struct site_file f;
    cr_assert(site_lookup(&h->site, path, strlen(path), &f), "no %s in the site", path);
    return f;
}

/* The file's ETag as a C string. */
static inline const char *hs_etag_of(const struct hs *h, const char *path, char *buf, size_t cap)
{
    struct site_file f = hs_file(h, path);
    cr_assert_lt(f.etag_len, cap);
    memcpy(buf, f.etag, f.etag_len);
    buf[f.etag_len] = 0;
    return buf;
}

/* ---- Time ----------------------------------------------------------------------------- */

static inline uint64_t hs_next_deadline(const struct hs *h)
{
    uint64_t dn = node_next_deadline(h->tb.node), dh = http_next_deadline(&h->srv);
    return dn < dh ? dn : dh;
}

/* Run the node's and the server's timers due up to `to`, each at its deadline; then the
 * clock reads `to`. Clients do not react in between (see hs_run). */
static inline void hs_advance(struct hs *h, uint64_t to)
{
    tb_advance(&h->tb, to);
}

/* ---- What the node sends, as the clients see it ---------------------------------------- */

static inline struct client *hs_client_of(struct hs *h, uint16_t port)
{
    for (size_t i = 0; i < h->n_clients; i++)
        if (h->clients[i].p.port == port)
            return &h->clients[i];
    return NULL;
}

static inline void hs_take_bytes(struct client *c, const uint8_t *p, size_t n, uint64_t at)
{
    if (c->rx_len + n > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + n)
            cap *= 2;
        c->rx = realloc(c->rx, cap);
        cr_assert_not_null(c->rx);
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, p, n);
    if (!c->rx_len)
        c->first_rx_at = at;
    c->rx_len += n;
    c->last_rx_at = at;
}

static inline void hs_segment(struct client *c, const struct seg *s)
{
    const struct tcp_repr *r = &s->r;
    char fb[9];
    if (getenv("HS_DEBUG"))
        fprintf(stderr, "hs: to %u [%s] seq %u ack %u win %u len %zu (client ack %u)\n", c->p.port,
                flag_str(r->flags, fb), r->seq, r->ack, r->window, s->len, c->p.ack);
    if (r->flags & TCP_RST) {
        if (!c->rst)
            c->rst_at = s->at;
        c->rst = true;
        return;
    }
    if (r->has_ts)
        c->p.ts_ecr = r->ts_val;
    if ((r->flags & TCP_ACK) && (int32_t)(r->ack - c->snd_una) >= 0) {
        c->snd_una = r->ack;
        c->snd_wnd = (uint32_t)r->window << c->node_ws;
    }
    int32_t off = (int32_t)(c->p.ack - r->seq);
    if (s->len) {
        if (off < 0) {
            c->gaps++;
        } else if ((size_t)off < s->len) {
            if (c->stalled) {
                c->probes++;
            } else {
                hs_take_bytes(c, s->data + off, s->len - (size_t)off, s->at);
                c->p.ack += (uint32_t)(s->len - (size_t)off);
            }
        }
        c->need_ack = true;
    } else if (off > 0 && !(r->flags & TCP_FIN)) {
        c->probes++; /* a zero-window or keep-alive probe: answer it */
        c->need_ack = true;
    }
    if (r->flags & TCP_FIN) {
        if (!c->fin && r->seq + (uint32_t)s->len == c->p.ack) {
            c->fin = true;
            c->fin_at = s->at;
            c->p.ack++;
        }
        c->need_ack = true;
    }
}

/* Take every frame the node has sent; ARP requests for the peer are answered. */
static inline void hs_drain(struct hs *h)
{
    const struct fake_frame *f;
    while ((f = tb_next(&h->tb))) {
        uint16_t type = net_get16(f->data + ETH_OFF_TYPE);
        if (type == ETH_TYPE_ARP) {
            const uint8_t *a = f->data + ETH_HDR_LEN;
            if (net_get16(a + ARP_OFF_OPER) == ARP_OP_REQUEST &&
                net_get32(a + ARP_OFF_TPA) == PEER) {
                uint8_t buf[FAKE_LINK_FRAME_MAX];
                size_t n = fr_arp(buf, &mac_us, ARP_OP_REPLY, &fr_mac_peer, PEER, &mac_us, US);
                tb_send(&h->tb, buf, n, h->tb.now);
            }
            continue;
        }
        struct seg *s = malloc(sizeof(*s));
        cr_assert_not_null(s);
        parse_seg(f, s);
        struct client *c = hs_client_of(h, s->r.dst_port);
        cr_assert_not_null(c, "a segment to port %u, which no client uses", s->r.dst_port);
        hs_segment(c, s);
        free(s);
    }
}

/* Each client that saw something acknowledges it (a stalled one with a zero window). */
static inline size_t hs_send_acks(struct hs *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_clients; i++) {
        struct client *c = &h->clients[i];
        if (!c->need_ack || c->rst)
            continue;
        c->need_ack = false;
        peer_send(&h->tb, &c->p, TCP_ACK, NULL, 0, h->tb.now);
        n++;
    }
    return n;
}

/* Clients react to everything until the node has nothing more to say (no time passes). */
static inline void hs_flush(struct hs *h)
{
    for (unsigned i = 0;; i++) {
        cr_assert_lt(i, 1000000u, "the conversation never settles");
        hs_drain(h);
        if (!hs_send_acks(h))
            return;
    }
}

/* One round trip: take what the node sent, acknowledge it, then 1 ms passes. */
static inline void hs_step(struct hs *h)
{
    hs_drain(h);
    hs_send_acks(h);
    hs_advance(h, h->tb.now + MS);
}

/* Let time pass until `to`, the clients reacting at once to each thing the node sends. */
static inline void hs_run(struct hs *h, uint64_t to)
{
    hs_flush(h);
    for (unsigned i = 0;; i++) {
        cr_assert_lt(i, 10000000u, "timers keep firing");
        uint64_t d = hs_next_deadline(h);
        if (d > to)
            break;
        hs_advance(h, d);
        hs_flush(h);
    }
    hs_advance(h, to);
    hs_flush(h);
}

/* ---- What the clients do ------------------------------------------------------------ */

/* Handshake from `port` at the current time: the client is connected, nothing pending. */
static inline struct client *hs_connect(struct hs *h, uint16_t port)
{
    hs_flush(h);
    cr_assert_lt(h->n_clients, (size_t)HS_MAX_CLIENTS);
    cr_assert_null(hs_client_of(h, port), "port %u already used", port);
    struct client *c = &h->clients[h->n_clients++];
    memset(c, 0, sizeof(*c));
    c->p = peer_new(port, OUR_PORT, PO_ALL);
    peer_send(&h->tb, &c->p, TCP_SYN, NULL, 0, h->tb.now);
    struct seg s = expect_flags(&h->tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(s.r.dst_port, port);
    cr_assert_eq(s.r.ack, c->p.seq);
    c->node_ws = s.r.has_ws ? s.r.ws : 0;
    c->node_mss = s.r.has_mss ? s.r.mss : 536;
    c->p.ts = s.r.has_ts;
    peer_saw(&c->p, &s);
    c->snd_una = s.r.ack;
    c->snd_wnd = s.r.window; /* never scaled on a SYN */
    peer_send(&h->tb, &c->p, TCP_ACK, NULL, 0, h->tb.now);
    hs_flush(h);
    cr_assert(!c->rst, "the node reset a new connection");
    return c;
}

/* Send bytes in segments the node's MSS and window allow; the clients keep reacting
 * when the window is closed. Nothing else settles: call hs_flush (hs_send does). */
static inline void hs_write(struct hs *h, struct client *c, const void *data, size_t len)
{
    const uint8_t *d = data;
    unsigned waits = 0;
    while (len) {
        uint32_t in_flight = c->p.seq - c->snd_una;
        size_t room = c->snd_wnd > in_flight ? c->snd_wnd - in_flight : 0;
        size_t mss = c->node_mss - (c->p.ts ? 12u : 0u); /* the TS option takes its room */
        size_t n = len < mss ? len : mss;
        if (n > room)
            n = room;
        if (!n) {
            cr_assert(!c->rst, "reset while the client was sending");
            cr_assert_lt(++waits, 100000u, "the node's window stays closed");
            hs_flush(h);
            if (c->snd_wnd <= c->p.seq - c->snd_una) {
                hs_run(h, h->tb.now + 10 * MS);
                if (waits % 20 == 0) /* a zero-window probe: the answer carries the window */
                    peer_send_seg(&h->tb, &c->p, c->p.seq - 1, c->p.ack, TCP_ACK, c->p.window, NULL,
                                  0, h->tb.now);
            }
            continue;
        }
        if (getenv("HS_DEBUG"))
            fprintf(stderr, "hs: from %u seq %u len %zu\n", c->p.port, c->p.seq, n);
        peer_send(&h->tb, &c->p, TCP_ACK | (n == len ? TCP_PSH : 0), d, n, h->tb.now);
        d += n;
        len -= n;
    }
}

static inline void hs_send(struct hs *h, struct client *c, const void *data, size_t len)
{
    hs_write(h, c, data, len);
    hs_flush(h);
}

static inline void hs_send_str(struct hs *h, struct client *c, const char *s)
{
    hs_send(h, c, s, strlen(s));
}

/* The client closes its side (FIN), then everything settles. */
static inline void hs_close(struct hs *h, struct client *c)
{
    peer_send(&h->tb, &c->p, TCP_FIN | TCP_ACK, NULL, 0, h->tb.now);
    hs_flush(h);
}

/* The client resets the connection. */
static inline void hs_reset(struct hs *h, struct client *c)
{
    peer_send(&h->tb, &c->p, TCP_RST | TCP_ACK, NULL, 0, h->tb.now);
    c->rst = true;
    hs_flush(h);
}

/* The client stops reading: it takes what is on the wire, then advertises a zero window. */
static inline void hs_stall(struct hs *h, struct client *c)
{
    hs_drain(h);
    c->stalled = true;
    c->p.window = 0;
    c->need_ack = true;
    hs_flush(h);
}

/* The client reads again: a window update, and nothing settles yet (hs_flush, hs_step). */
static inline void hs_unstall(struct hs *h, struct client *c)
{
    c->stalled = false;
    c->p.window = PEER_WINDOW;
    c->need_ack = false;
    peer_send(&h->tb, &c->p, TCP_ACK, NULL, 0, h->tb.now);
}

/* The server and the clients are done: no http_conn left, and TCP's table empties once
 * every TIME_WAIT (2 * the default 30 s MSL) has run out. */
static inline void expect_all_released(struct hs *h)
{
    cr_assert_eq(http_conns_in_use(&h->srv), 0, "http_conns still in use");
    hs_run(h, h->tb.now + 2 * 30 * SEC + SEC);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&h->tb)), 0, "TCP connections left after TIME_WAIT");
}

/* ---- Responses ---------------------------------------------------------------------- */

#define RESP_HEAD_MAX 4096
#define RESP_FIELDS_MAX 40

struct resp {
    int status;
    char head[RESP_HEAD_MAX + 1]; /* as received, NUL-terminated */
    size_t head_len;
    size_t n_fields;
    struct {
        char name[64];
        char value[256];
    } field[RESP_FIELDS_MAX];
    const uint8_t *body; /* into the client's rx buffer */
    size_t body_len;
};

static inline const char *hdr(const struct resp *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (!strcasecmp(r->field[i].name, name))
            return r->field[i].value;
    return NULL;
}

static inline size_t hdr_count(const struct resp *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_fields; i++)
        n += !strcasecmp(r->field[i].name, name);
    return n;
}

/* Parse one response at the start of buf: its length, or 0 while incomplete. The head
 * must be well formed (status line, CRLF line ends, name: value fields). */
static inline size_t resp_parse(const uint8_t *buf, size_t len, bool head_req, struct resp *r)
{
    const uint8_t *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    memset(r, 0, sizeof(*r));
    r->head_len = (size_t)(end - buf) + 4;
    cr_assert_leq(r->head_len, (size_t)RESP_HEAD_MAX, "response head of %zu bytes", r->head_len);
    memcpy(r->head, buf, r->head_len);
    const char *h = r->head;
    cr_assert(!strncmp(h, "HTTP/1.1 ", 9), "not an HTTP/1.1 status line: %.40s", h);
    cr_assert(h[9] >= '1' && h[9] <= '5' && h[10] >= '0' && h[10] <= '9' && h[11] >= '0' &&
                  h[11] <= '9' && h[12] == ' ',
              "bad status code: %.40s", h);
    r->status = atoi(h + 9);
    const char *line = strstr(h, "\r\n") + 2;
    for (const char *p = h; p < h + r->head_len; p++) {
        cr_assert(*p != '\n' || (p > h && p[-1] == '\r'), "bare LF in the head:\n%s", h);
        cr_assert(*p != '\r' || p[1] == '\n', "bare CR in the head:\n%s", h);
    }
    while (strncmp(line, "\r\n", 2)) {
        const char *eol = strstr(line, "\r\n");
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        cr_assert_not_null(colon, "field without a colon in:\n%s", h);
        cr_assert_lt(r->n_fields, (size_t)RESP_FIELDS_MAX);
        size_t nl = (size_t)(colon - line);
        cr_assert(nl > 0 && nl < 64 && !memchr(line, ' ', nl), "bad field name in:\n%s", h);
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        cr_assert_lt((size_t)(ve - v), (size_t)256);
        memcpy(r->field[r->n_fields].name, line, nl);
        memcpy(r->field[r->n_fields].value, v, (size_t)(ve - v));
        r->n_fields++;
        line = eol + 2;
    }
    cr_assert_leq(hdr_count(r, "Content-Length"), 1, "Content-Length twice in:\n%s", h);
    bool no_body = head_req || r->status == 304 || r->status == 204 || r->status < 200;
    if (!no_body) {
        const char *cl = hdr(r, "Content-Length");
        cr_assert_not_null(cl, "a %d without Content-Length:\n%s", r->status, h);
        char *e;
        unsigned long long n = strtoull(cl, &e, 10);
        cr_assert(*cl && !*e, "bad Content-Length in:\n%s", h);
        r->body_len = (size_t)n;
    }
    if (len - r->head_len < r->body_len)
        return 0;
    r->body = buf + r->head_len;
    return r->head_len + r->body_len;
}

/* The client's next complete response (fails when it has not all arrived). */
static inline struct resp hs_response(struct client *c, bool head_req)
{
    struct resp r;
    cr_assert_gt(c->rx_len, c->rx_used, "no response (port %u, %zu bytes so far)", c->p.port,
                 c->rx_len);
    size_t n = resp_parse(c->rx + c->rx_used, c->rx_len - c->rx_used, head_req, &r);
    cr_assert_gt(n, 0, "incomplete response (%zu bytes, fin %d, rst %d):\n%.300s",
                 c->rx_len - c->rx_used, c->fin, c->rst, (const char *)c->rx + c->rx_used);
    c->rx_used += n;
    return r;
}

/* Nothing beyond the responses taken so far. */
static inline void expect_no_more(const struct client *c)
{
    cr_assert_eq(c->rx_len, c->rx_used, "%zu unexpected bytes after the last response:\n%.200s",
                 c->rx_len - c->rx_used, (const char *)c->rx + c->rx_used);
}

static inline void expect_hdr(const struct resp *r, const char *name, const char *want)
{
    const char *v = hdr(r, name);
    cr_assert_not_null(v, "no %s in:\n%s", name, r->head);
    cr_assert_str_eq(v, want, "%s: \"%s\", want \"%s\" in:\n%s", name, v, want, r->head);
    cr_assert_eq(hdr_count(r, name), 1, "%s sent twice in:\n%s", name, r->head);
}

static inline void expect_no_hdr(const struct resp *r, const char *name)
{
    cr_assert_null(hdr(r, name), "%s should not be sent:\n%s", name, r->head);
}

/* The value's comma-separated list holds `token` (case-insensitive). */
static inline bool hdr_has_token(const struct resp *r, const char *name, const char *token)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        if (strcasecmp(r->field[i].name, name))
            continue;
        const char *p = r->field[i].value;
        size_t tl = strlen(token);
        while (*p) {
            while (*p == ' ' || *p == ',' || *p == '\t')
                p++;
            size_t n = strcspn(p, ", \t");
            if (n == tl && !strncasecmp(p, token, n))
                return true;
            p += n;
        }
    }
    return false;
}

static inline void expect_status(const struct resp *r, int status)
{
    cr_assert_eq(r->status, status, "status %d, want %d:\n%s", r->status, status, r->head);
}

static inline void expect_body(const struct resp *r, const void *want, size_t len)
{
    cr_assert_eq(r->body_len, len, "body of %zu bytes, want %zu:\n%s", r->body_len, len, r->head);
    if (len)
        cr_assert_eq(memcmp(r->body, want, len), 0, "body differs:\n%s", r->head);
}

/* One request on `c`, everything settles, and its response. */
static inline struct resp hs_ask(struct hs *h, struct client *c, const char *request)
{
    hs_send_str(h, c, request);
    return hs_response(c, !strncmp(request, "HEAD ", 5));
}

/* GET `path` with extra header lines ("Name: v\r\n...", or ""). */
static inline struct resp hs_get(struct hs *h, struct client *c, const char *path,
                                 const char *extra)
{
    char req[2048];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: quartz\r\n%s\r\n", path, extra);
    cr_assert(n > 0 && (size_t)n < sizeof(req));
    return hs_ask(h, c, req);
}

#endif
