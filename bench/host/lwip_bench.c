/*
 * lwip_bench.c — the same three rows as quartz_bench.c, on Debian's lwIP (liblwip-dev,
 * lwIP 2.1.3 as Debian builds it: NO_SYS=0 with the unix port, TCP_MSS 1460, a 64 KiB
 * window and send buffer, checksums in software, malloc for pbufs and PCBs).
 *
 * Driven with the raw API from one thread, with no tcpip thread: lwip_init(), two netifs
 * (A 10.0.0.2 and B 10.0.0.1) in the one lwIP instance, each PCB tied to its netif with
 * tcp_bind_netif so traffic between them takes the in-memory link rather than lwIP's
 * loopback. The link is bench_common.h's, as for Quartz: linkoutput copies the frame (a
 * pbuf chain) into a pool buffer and queues it; delivery wraps the buffer in a custom pbuf
 * (struct pbuf_custom in the buffer's headroom, freed back to the pool by lwIP) and calls
 * netif->input (ethernet_input), BENCH_BATCH frames each way per pass, with
 * sys_check_timeouts() once per pass.
 *
 *   host_tcp_bulk    BENCH_BULK_BYTES from A to B; the sender tcp_write()s (copying) as
 *                    the send buffer allows, the receiver copies each pbuf out, then
 *                    tcp_recved() and pbuf_free().
 *   host_rx_frames   netif A alone, fed the same frames as Quartz (bench_common.h), each
 *                    copied into a pool buffer first and handed over as a custom pbuf;
 *                    linkoutput only counts (it does not even copy the frame out).
 *   host_http_conns  a minimal raw-API HTTP/1.1 server on A answering GET / with the
 *                    same bytes as lib/http (index.html from the same site image, the
 *                    same head), and the same client on B.
 *
 * TIME_WAIT: Debian's lwIP allocates PCBs with malloc, so nothing ever evicts a TIME_WAIT
 * PCB early and a busy server would keep hundreds of thousands for 2 MSL (and scan them for
 * every SYN). lwIP with a PCB pool evicts its oldest TIME_WAIT PCB when the pool is empty
 * (tcp_kill_timewait); the server does that here when BENCH_HTTP_TABLE of them exist, as
 * Quartz reuses its oldest TIME_WAIT slot when its table (the same size) is full.
 *
 * Each row runs in a fresh process (lwIP is one global instance and nothing is torn down).
 *
 * Usage: lwip_bench [--rows bulk,rx,http] [--site IMG (site.img beside the program)]
 *                   [--bytes N] [--conc N] [--rx-kinds arp,icmp,data,ack,mss,mix] [--trace N]
 */

#include "bench_common.h"
#include "http/site.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

static const char STACK[] = "lwip";

_Static_assert(sizeof(struct pbuf_custom) <= ML_HEADROOM, "pbuf_custom must fit the headroom");

/* ---- The link ------------------------------------------------------------------------- */

struct lwdev {
    struct ml_fifo *out; /* NULL: count only */
    uint64_t counted;
    bool capturing;
    size_t capture_len;
    uint8_t capture[ML_FRAME_MAX];
    uint8_t mac[6];
};

static struct ml_pool g_pool;
static uint64_t g_now;
static uint64_t g_trace; /* frames still to trace (--trace N) */

static void slot_free(struct pbuf *p)
{
    ml_put(&g_pool, ml_index(&g_pool, (const uint8_t *)p));
}

/* Hand the frame in pool slot `i` to `nf` as lwIP's input (which then owns it). */
static void slot_input(struct netif *nf, uint32_t i, size_t len)
{
    if (g_trace) {
        g_trace--;
        bw_trace(nf->name[1] == 'b' ? "A>B" : "B>A", g_now, ml_data(&g_pool, i), len);
    }
    struct pbuf_custom *pc = (struct pbuf_custom *)ml_slot(&g_pool, i);
    pc->custom_free_function = slot_free;
    struct pbuf *p =
        pbuf_alloced_custom(PBUF_RAW, (u16_t)len, PBUF_POOL, pc, ml_data(&g_pool, i), ML_FRAME_MAX);
    if (!p)
        bench_die("pbuf_alloced_custom");
    if (nf->input(p, nf) != ERR_OK)
        pbuf_free(p);
}

static err_t link_output(struct netif *nf, struct pbuf *p)
{
    struct lwdev *d = nf->state;
    if (!d->out) {
        d->counted++;
        if (d->capturing)
            d->capture_len = pbuf_copy_partial(p, d->capture, sizeof(d->capture), 0);
        return ERR_OK;
    }
    if (p->tot_len > ML_FRAME_MAX)
        return ERR_IF;
    uint32_t i = ml_get(&g_pool);
    if (i == ML_NONE)
        return ERR_MEM;
    pbuf_copy_partial(p, ml_data(&g_pool, i), p->tot_len, 0);
    ml_push(d->out, i, p->tot_len);
    return ERR_OK;
}

static err_t lw_netif_init(struct netif *nf)
{
    struct lwdev *d = nf->state;
    nf->name[0] = 'q';
    nf->name[1] = d->mac[5] == bench_mac_a[5] ? 'a' : 'b';
    nf->output = etharp_output;
    nf->linkoutput = link_output;
    nf->mtu = 1500;
    nf->hwaddr_len = 6;
    memcpy(nf->hwaddr, d->mac, 6);
    nf->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

static void lw_netif_add(struct netif *nf, struct lwdev *d, bool is_a)
{
    memcpy(d->mac, is_a ? bench_mac_a : bench_mac_b, 6);
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 10, 0, 0, is_a ? 2 : 1);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    if (!netif_add(nf, &ip, &mask, &gw, d, lw_netif_init, ethernet_input))
        bench_die("netif_add");
    netif_set_up(nf);
    netif_set_link_up(nf);
}

struct pair {
    struct netif a, b;
    struct lwdev da, db;
    struct ml_fifo ab, ba;
    uint64_t idle_ns, passes, idle_since;
    bool idle;
    void (*poll_hook)(void *ctx);
    void *hook_ctx;
};

static void pair_init(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    p->da.out = &p->ab;
    p->db.out = &p->ba;
    lw_netif_add(&p->a, &p->da, true);
    lw_netif_add(&p->b, &p->db, false);
}

static unsigned pass(struct pair *p)
{
    g_now = bench_clock_ns();
    p->passes++;
    if (p->idle)
        p->idle_ns += g_now - p->idle_since;
    sys_check_timeouts();
    if (p->poll_hook)
        p->poll_hook(p->hook_ctx);
    unsigned moved = 0;
    size_t len;
    for (unsigned k = 0; k < BENCH_BATCH; k++) {
        bool any = false;
        if (!ml_empty(&p->ab)) {
            uint32_t i = ml_pop(&p->ab, &len);
            slot_input(&p->b, i, len);
            any = true;
        }
        if (!ml_empty(&p->ba)) {
            uint32_t i = ml_pop(&p->ba, &len);
            slot_input(&p->a, i, len);
            any = true;
        }
        if (!any)
            break;
        moved++;
    }
    p->idle = moved == 0;
    p->idle_since = g_now;
    if (p->idle && p->idle_ns > 10000000000ull)
        bench_die("stalled: 10 s in all spent waiting for timers");
    return moved;
}

static void ip_of(ip_addr_t *ip, bool is_a)
{
    IP_ADDR4(ip, 10, 0, 0, is_a ? 2 : 1);
}

/* ---- Row: TCP bulk A -> B ------------------------------------------------------------- */

struct bulk {
    struct tcp_pcb *src, *dst;
    uint64_t total, sent, rcvd, mismatches;
    uint8_t *pattern, *scratch;
};

static void bulk_pump(struct bulk *b)
{
    while (b->sent < b->total) {
        uint32_t room = tcp_sndbuf(b->src);
        if (!room || tcp_sndqueuelen(b->src) >= TCP_SND_QUEUELEN)
            break;
        uint64_t n = b->total - b->sent;
        if (n > room)
            n = room;
        if (n > 0xffff)
            n = 0xffff;
        /* The end of the stream: flush it rather than leave the tail to Nagle and the
         * peer's delayed ACK (up to 250 ms here), as quartz_bench does. */
        if (n == b->total - b->sent)
            tcp_nagle_disable(b->src);
        err_t e =
            tcp_write(b->src, b->pattern + b->sent % BENCH_CHUNK, (u16_t)n, TCP_WRITE_FLAG_COPY);
        if (e == ERR_MEM)
            break;
        if (e != ERR_OK)
            bench_die("tcp_write: %d", e);
        b->sent += n;
    }
    tcp_output(b->src);
}

static err_t bulk_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    bulk_pump(arg);
    return ERR_OK;
}

static err_t bulk_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    bulk_pump(arg);
    return ERR_OK;
}

static void bulk_err(void *arg, err_t err)
{
    bench_die("bulk: connection error %d", err);
}

static err_t bulk_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct bulk *b = arg;
    if (!p)
        bench_die("bulk: sender closed early");
    u16_t n = pbuf_copy_partial(p, b->scratch, p->tot_len, 0);
    if (b->rcvd < BENCH_VERIFY_BYTES && memcmp(b->scratch, b->pattern + b->rcvd % BENCH_CHUNK, n))
        b->mismatches++;
    b->rcvd += n;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t bulk_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct bulk *b = arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    b->dst = pcb;
    tcp_arg(pcb, b);
    tcp_recv(pcb, bulk_recv);
    tcp_err(pcb, bulk_err);
    return ERR_OK;
}

static void row_bulk(uint64_t total)
{
    struct pair *p = calloc(1, sizeof(*p));
    struct bulk *b = calloc(1, sizeof(*b));
    if (!p || !b)
        bench_die("out of memory");
    pair_init(p);
    b->total = total;
    b->pattern = malloc(2 * BENCH_CHUNK);
    b->scratch = malloc(BENCH_CHUNK);
    if (!b->pattern || !b->scratch)
        bench_die("out of memory");
    bench_pattern(b->pattern, 2 * BENCH_CHUNK);

    ip_addr_t ip_a, ip_b;
    ip_of(&ip_a, true);
    ip_of(&ip_b, false);
    struct tcp_pcb *l = tcp_new();
    tcp_bind_netif(l, &p->b);
    if (!l || tcp_bind(l, &ip_b, BENCH_BULK_PORT) != ERR_OK)
        bench_die("tcp_bind");
    l = tcp_listen_with_backlog(l, 4);
    if (!l)
        bench_die("tcp_listen");
    tcp_arg(l, b);
    tcp_accept(l, bulk_accept);

    uint64_t t0 = bench_clock_ns(), c0 = bench_cpu_ns();
    b->src = tcp_new();
    tcp_bind_netif(b->src, &p->a);
    tcp_arg(b->src, b);
    tcp_sent(b->src, bulk_sent);
    tcp_err(b->src, bulk_err);
    if (tcp_connect(b->src, &ip_b, BENCH_BULK_PORT, bulk_connected) != ERR_OK)
        bench_die("tcp_connect");
    while (b->rcvd < total)
        pass(p);
    uint64_t t1 = bench_clock_ns(), c1 = bench_cpu_ns();
    if (b->mismatches)
        bench_die("bulk: received bytes differ from those sent");
    double secs = (double)(t1 - t0) / 1e9;
    bench_row("host_tcp_bulk", STACK, (double)total * 8 / secs / 1e9, "Gbit/s", (double)(t1 - t0),
              (double)(c1 - c0),
              "\"bytes\":%llu,\"seconds\":%.4f,\"ring\":%u,\"frames_ab\":%llu,"
              "\"frames_ba\":%llu,\"payload_per_frame\":%.1f,\"idle_ns\":%llu",
              (unsigned long long)total, secs, (unsigned)TCP_WND, (unsigned long long)p->ab.frames,
              (unsigned long long)p->ba.frames, (double)total / (double)p->ab.frames,
              (unsigned long long)p->idle_ns);
}

/* ---- Row: receive path ------------------------------------------------------------------- */

struct rx {
    struct netif nf;
    struct lwdev d;
    struct tcp_pcb *c;
    uint64_t rcvd;
    uint8_t scratch[BENCH_CHUNK];
};

static err_t rx_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct rx *r = arg;
    if (!p)
        bench_die("rx: peer closed");
    r->rcvd += pbuf_copy_partial(p, r->scratch, p->tot_len, 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static void rx_err(void *arg, err_t err)
{
    bench_die("rx: connection error %d", err);
}

static err_t rx_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct rx *r = arg;
    r->c = pcb;
    tcp_arg(pcb, r);
    tcp_recv(pcb, rx_recv);
    tcp_err(pcb, rx_err);
    return ERR_OK;
}

/* The frame is copied into a pool buffer (the "DMA"), as quartz_bench does. */
static void rx_feed(struct rx *r, const uint8_t *frame, size_t len)
{
    uint32_t i = ml_get(&g_pool);
    if (i == ML_NONE)
        bench_die("rx: pool empty (lwIP kept %u buffers)", ML_SLOTS);
    memcpy(ml_data(&g_pool, i), frame, len);
    slot_input(&r->nf, i, len);
}

static uint64_t rx_run(struct rx *r, struct bw_mix *m, unsigned kinds, double seconds, uint64_t *ns,
                       uint64_t *cpu)
{
    uint64_t c0 = bench_cpu_ns();
    uint64_t t0 = bench_clock_ns(), frames = 0, limit = (uint64_t)(seconds * 1e9);
    g_now = t0;
    for (;;) {
        for (unsigned round = 0; round < BENCH_BATCH; round++)
            for (unsigned k = 0; k < BW_KINDS; k++)
                if (kinds & (1u << k)) {
                    size_t len = bw_mix_next(m, (enum bw_kind)k);
                    rx_feed(r, m->frame[k], len);
                    frames++;
                }
        g_now = bench_clock_ns();
        sys_check_timeouts();
        if (g_now - t0 >= limit)
            break;
    }
    *ns = g_now - t0;
    *cpu = bench_cpu_ns() - c0;
    return frames;
}

static unsigned g_rx_rows = BW_ALL_ROWS; /* --rx-kinds */

static void row_rx(void)
{
    struct rx *r = calloc(1, sizeof(*r));
    if (!r)
        bench_die("out of memory");
    lw_netif_add(&r->nf, &r->d, true);
    ip_addr_t ip_a;
    ip_of(&ip_a, true);
    struct tcp_pcb *l = tcp_new();
    tcp_bind_netif(l, &r->nf);
    if (!l || tcp_bind(l, &ip_a, BENCH_HTTP_PORT) != ERR_OK)
        bench_die("tcp_bind");
    l = tcp_listen_with_backlog(l, 4);
    if (!l)
        bench_die("tcp_listen");
    tcp_arg(l, r);
    tcp_accept(l, rx_accept);

    uint8_t f[ML_FRAME_MAX];
    const uint16_t sport = 40000;
    const uint32_t isn = 1000;
    rx_feed(r, f, bw_arp_request(f, bench_mac_b, BENCH_IP_B, BENCH_IP_A));
    r->d.capturing = true;
    rx_feed(r, f,
            bw_tcp(f, bench_mac_a, bench_mac_b, BENCH_IP_B, BENCH_IP_A, sport, BENCH_HTTP_PORT, isn,
                   0, BW_TCP_SYN, 65535, 0));
    r->d.capturing = false;
    uint32_t their;
    if (!bw_parse_synack(r->d.capture, r->d.capture_len, &their))
        bench_die("rx: no SYN-ACK");
    rx_feed(r, f,
            bw_tcp(f, bench_mac_a, bench_mac_b, BENCH_IP_B, BENCH_IP_A, sport, BENCH_HTTP_PORT,
                   isn + 1, their + 1, BW_TCP_ACK, 65535, 0));
    if (!r->c)
        bench_die("rx: connection not accepted");

    struct bw_mix *m = malloc(sizeof(*m));
    if (!m)
        bench_die("out of memory");
    bw_mix_build(m, sport, BENCH_HTTP_PORT, isn + 1, their + 1);
    uint64_t ns, cpu;
    for (unsigned k = 0; k < BW_KINDS; k++) {
        if (!(g_rx_rows & (1u << k)))
            continue;
        uint64_t out0 = r->d.counted;
        uint64_t n = rx_run(r, m, 1u << k, BENCH_RX_KIND_SECONDS, &ns, &cpu);
        bench_row(bw_kind_row[k], STACK, (double)n / ((double)ns / 1e9) / 1e6, "Mframes/s",
                  (double)ns, (double)cpu,
                  "\"frames\":%llu,\"ns_per_frame\":%.1f,\"tx_frames\":%llu", (unsigned long long)n,
                  (double)ns / (double)n, (unsigned long long)(r->d.counted - out0));
    }
    if (!(g_rx_rows & (1u << BW_KINDS)))
        return;
    uint64_t out0 = r->d.counted, rcvd0 = r->rcvd, seq0 = m->seq;
    uint64_t n = rx_run(r, m, BW_MIX, BENCH_RX_SECONDS, &ns, &cpu);
    if (r->rcvd - rcvd0 != (uint64_t)(uint32_t)(m->seq - seq0))
        bench_die("rx: application read %llu bytes, peer sent %u",
                  (unsigned long long)(r->rcvd - rcvd0), (uint32_t)(m->seq - seq0));
    bench_row("host_rx_frames", STACK, (double)n / ((double)ns / 1e9) / 1e6, "Mframes/s",
              (double)ns, (double)cpu,
              "\"frames\":%llu,\"ns_per_frame\":%.1f,\"tx_frames\":%llu,\"mix\":"
              "\"arp,icmp%u,tcp%u,ack\"",
              (unsigned long long)n, (double)ns / (double)n,
              (unsigned long long)(r->d.counted - out0), BENCH_ICMP_DATA_LEN, BENCH_RX_DATA_LEN);
}

/* ---- Row: HTTP connections ----------------------------------------------------------------- */

#define HTTP_CLIENTS_MAX 64
#define SRV_STATES 256
#define SRV_IN_MAX 8192

struct srv_conn {
    struct srv_conn *next_free;
    uint32_t in_len;
    char in[SRV_IN_MAX];
};

struct hclient {
    struct tcp_pcb *pcb;
    uint64_t got;
    bool want;
};

struct hbench {
    struct pair *p;
    ip_addr_t ip_a;
    char head[768];
    size_t head_len;
    const uint8_t *body;
    size_t body_len;
    struct srv_conn states[SRV_STATES];
    struct srv_conn *free_states;
    struct hclient cl[HTTP_CLIENTS_MAX];
    unsigned n_clients;
    uint64_t done, errors, bad, refused, expect, evicted, srv_aborts;
    bool stopping;
    uint8_t buf[16384];
};

static struct hbench *g_h;

/* The head lib/http sends for this file (server.c: common_headers and start_reply). */
static size_t http_head(char *out, size_t cap, const struct site_file *f)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 200 OK\r\nServer: Quartz-unikernel\r\nContent-Type: %.*s\r\n"
                     "ETag: %.*s\r\nCache-Control: no-cache\r\nAccept-Ranges: bytes\r\n%s"
                     "Content-Length: %llu\r\nConnection: close\r\n\r\n",
                     (int)f->mime_len, f->mime, (int)f->etag_len, f->etag,
                     f->gz ? "Vary: Accept-Encoding\r\n" : "", (unsigned long long)f->len);
    if (n < 0 || (size_t)n >= cap)
        bench_die("http head too long");
    return (size_t)n;
}

static void srv_release(struct hbench *h, struct srv_conn *s)
{
    s->next_free = h->free_states;
    h->free_states = s;
}

static void srv_close(struct hbench *h, struct tcp_pcb *pcb, struct srv_conn *s)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
    if (s)
        srv_release(h, s);
    if (tcp_close(pcb) != ERR_OK)
        bench_die("http server: tcp_close failed");
}

static err_t srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct hbench *h = g_h;
    struct srv_conn *s = arg;
    if (!p) { /* the client closed before asking */
        srv_close(h, pcb, s);
        return ERR_OK;
    }
    u16_t take = p->tot_len;
    if (s->in_len + take > SRV_IN_MAX)
        take = (u16_t)(SRV_IN_MAX - s->in_len);
    pbuf_copy_partial(p, s->in + s->in_len, take, 0);
    uint32_t from = s->in_len >= 3 ? s->in_len - 3 : 0;
    s->in_len += take;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    /* A complete head? (The request is the benchmark's own: GET / ... close.) */
    bool complete = false;
    for (uint32_t i = from; i + 4 <= s->in_len; i++)
        if (!memcmp(s->in + i, "\r\n\r\n", 4)) {
            complete = true;
            break;
        }
    if (!complete)
        return ERR_OK;
    if (memcmp(s->in, "GET / ", 6))
        bench_die("http server: unexpected request");
    if (tcp_write(pcb, h->head, (u16_t)h->head_len, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE) !=
            ERR_OK ||
        tcp_write(pcb, h->body, (u16_t)h->body_len, TCP_WRITE_FLAG_COPY) != ERR_OK)
        bench_die("http server: response did not fit the send buffer");
    /* FIN after the response (Connection: close); both leave when tcp_input ends. */
    srv_close(h, pcb, s);
    return ERR_OK;
}

static void srv_err(void *arg, err_t err)
{
    if (arg)
        srv_release(g_h, arg);
    g_h->srv_aborts++;
}

/* lwIP's tcp_kill_timewait, for a server with BENCH_HTTP_TABLE PCBs: see the top. */
static void cap_time_wait(struct hbench *h)
{
    unsigned n = 0;
    struct tcp_pcb *oldest = NULL;
    u32_t age = 0;
    for (struct tcp_pcb *pcb = tcp_tw_pcbs; pcb; pcb = pcb->next) {
        n++;
        if ((u32_t)(tcp_ticks - pcb->tmr) >= age) {
            age = tcp_ticks - pcb->tmr;
            oldest = pcb;
        }
    }
    if (n >= BENCH_HTTP_TABLE && oldest) {
        tcp_abort(oldest);
        h->evicted++;
    }
}

static err_t srv_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct hbench *h = arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    cap_time_wait(h);
    struct srv_conn *s = h->free_states;
    if (!s) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    h->free_states = s->next_free;
    s->in_len = 0;
    tcp_arg(pcb, s);
    tcp_recv(pcb, srv_recv);
    tcp_err(pcb, srv_err);
    tcp_nagle_disable(pcb); /* as lib/http does */
    return ERR_OK;
}

static void client_start(struct hbench *h, struct hclient *cl);

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct hbench *h = g_h;
    struct hclient *cl = arg;
    if (p) {
        u16_t n = pbuf_copy_partial(p, h->buf, sizeof(h->buf), 0);
        if (!cl->got && (n < 17 || memcmp(h->buf, "HTTP/1.1 200 OK\r\n", 17)))
            h->bad++;
        cl->got += p->tot_len;
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    /* FIN: every byte before it has been delivered. */
    if (!h->expect)
        h->expect = cl->got;
    if (cl->got != h->expect)
        h->bad++;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
    if (tcp_close(pcb) != ERR_OK)
        bench_die("http client: tcp_close failed");
    h->done++;
    client_start(h, cl);
    return ERR_OK;
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    if (tcp_write(pcb, bench_http_request, sizeof(bench_http_request) - 1, TCP_WRITE_FLAG_COPY) !=
        ERR_OK)
        bench_die("http client: request did not fit");
    tcp_output(pcb);
    return ERR_OK;
}

static void client_err(void *arg, err_t err)
{
    struct hclient *cl = arg;
    g_h->errors++;
    cl->pcb = NULL;
    client_start(g_h, cl);
}

static void client_start(struct hbench *h, struct hclient *cl)
{
    cl->pcb = NULL;
    cl->got = 0;
    cl->want = false;
    if (h->stopping)
        return;
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb) {
        cl->want = true;
        h->refused++;
        return;
    }
    tcp_bind_netif(pcb, &h->p->b);
    tcp_arg(pcb, cl);
    tcp_recv(pcb, client_recv);
    tcp_err(pcb, client_err);
    if (tcp_connect(pcb, &h->ip_a, BENCH_HTTP_PORT, client_connected) != ERR_OK) {
        tcp_abort(pcb);
        cl->want = true;
        h->refused++;
        return;
    }
    cl->pcb = pcb;
}

static void http_hook(void *ctx)
{
    struct hbench *h = ctx;
    for (unsigned i = 0; i < h->n_clients; i++)
        if (h->cl[i].want)
            client_start(h, &h->cl[i]);
}

static void row_http(const char *site_path, unsigned conc)
{
    struct hbench *h = calloc(1, sizeof(*h));
    struct pair *p = calloc(1, sizeof(*p));
    if (!h || !p)
        bench_die("out of memory");
    g_h = h;
    h->p = p;
    h->n_clients = conc;
    pair_init(p);
    ip_of(&h->ip_a, true);
    size_t len;
    struct site site;
    struct site_file file;
    void *image = bench_load_file(site_path, &len);
    if (!image || site_open(&site, image, len) != 0)
        bench_die("%s: not a site image (%s)", site_path, image ? "bad" : strerror(errno));
    if (!site_lookup(&site, "/index.html", 11, &file))
        bench_die("%s: no /index.html", site_path);
    h->head_len = http_head(h->head, sizeof(h->head), &file);
    h->body = file.body;
    h->body_len = file.len;
    for (unsigned i = 0; i < SRV_STATES; i++)
        srv_release(h, &h->states[i]);

    struct tcp_pcb *l = tcp_new();
    tcp_bind_netif(l, &p->a);
    if (!l || tcp_bind(l, &h->ip_a, BENCH_HTTP_PORT) != ERR_OK)
        bench_die("tcp_bind");
    l = tcp_listen_with_backlog(l, 128);
    if (!l)
        bench_die("tcp_listen");
    tcp_arg(l, h);
    tcp_accept(l, srv_accept);
    p->poll_hook = http_hook;
    p->hook_ctx = h;

    g_now = bench_clock_ns();
    for (unsigned i = 0; i < conc; i++)
        client_start(h, &h->cl[i]);
    while (h->done < BENCH_HTTP_WARMUP)
        pass(p);
    uint64_t t0 = bench_clock_ns(), c0 = bench_cpu_ns(), d0 = h->done;
    uint64_t f0 = p->ab.frames + p->ba.frames;
    uint64_t idle0 = p->idle_ns, limit = (uint64_t)(BENCH_HTTP_SECONDS * 1e9);
    g_now = t0;
    while (g_now - t0 < limit)
        pass(p);
    uint64_t t1 = bench_clock_ns(), c1 = bench_cpu_ns(), d1 = h->done;
    uint64_t f1 = p->ab.frames + p->ba.frames;
    h->stopping = true;
    if (h->bad || h->errors || h->srv_aborts)
        bench_die("http: %llu bad responses, %llu client errors, %llu server aborts",
                  (unsigned long long)h->bad, (unsigned long long)h->errors,
                  (unsigned long long)h->srv_aborts);
    double secs = (double)(t1 - t0) / 1e9;
    bench_row("host_http_conns", STACK, (double)(d1 - d0) / secs / 1e3, "kconn/s",
              (double)(t1 - t0), (double)(c1 - c0),
              "\"connections\":%llu,\"seconds\":%.4f,\"concurrency\":%u,\"resp_bytes\":%llu,"
              "\"frames_per_conn\":%.2f,\"table_full\":%llu,\"time_wait_evicted\":%llu,"
              "\"idle_ns\":%llu",
              (unsigned long long)(d1 - d0), secs, conc, (unsigned long long)h->expect,
              (double)(f1 - f0) / (double)(d1 - d0), (unsigned long long)h->refused,
              (unsigned long long)h->evicted, (unsigned long long)(p->idle_ns - idle0));
}

struct row_args {
    uint64_t bytes;
    const char *site;
    unsigned conc;
};

/* In the row's own process (bench_run_rows): lwIP starts from nothing each time. */
static void run_row(int row, void *ctx)
{
    const struct row_args *a = ctx;
    srand(1);
    lwip_init();
    ml_pool_init(&g_pool);
    if (row == 0)
        row_bulk(a->bytes);
    else if (row == 1)
        row_rx();
    else
        row_http(a->site, a->conc);
}

/* ---- main ----------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *rows = "bulk,rx,http";
    const char *site = bench_site_beside(argv[0]);
    uint64_t bytes = BENCH_BULK_BYTES;
    unsigned conc = BENCH_HTTP_CONCURRENCY;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--rows") && v)
            rows = v;
        else if (!strcmp(a, "--site") && v)
            site = v;
        else if (!strcmp(a, "--bytes") && v)
            bytes = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--rx-kinds") && v) {
            if (!bw_parse_kinds(v, &g_rx_rows))
                bench_die("--rx-kinds: a list of arp, icmp, data, ack, mss, mix");
        } else if (!strcmp(a, "--trace") && v)
            g_trace = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--conc") && v)
            conc = (unsigned)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--ring") && v)
            ; /* Quartz's option; lwIP's window is fixed at build time (TCP_WND) */
        else
            bench_die("usage: %s [--rows bulk,rx,http] [--site IMG] [--bytes N] [--conc N] "
                      "[--rx-kinds arp,icmp,data,ack,mss,mix] [--trace N]",
                      argv[0]);
        i++;
    }
    if (!conc || conc > HTTP_CLIENTS_MAX)
        bench_die("--conc: 1..%d", HTTP_CLIENTS_MAX);
    struct row_args args = {bytes, site, conc};
    return bench_run_rows(rows, run_row, &args);
}
