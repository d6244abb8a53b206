/*
 * quartz_bench.c — Quartz's host stack in memory, one core: row 3 of `make bench`,
 * measured exactly the way lwip_bench.c measures lwIP (bench_common.h holds what they share).
 *
 *   host_tcp_bulk    two nodes in one process, BENCH_BULK_BYTES from A to B over one TCP
 *                    connection (rings of --ring bytes, 1 MiB by default); Gbit/s of
 *                    payload delivered to B's application, which copies it out.
 *   host_rx_frames   node A alone, fed a pre-built mix through node_input, one of each per
 *                    round: ARP request for us, ICMP echo request (56 bytes), in-order TCP
 *                    data (64 bytes, read by the application, ACKed every second one), pure
 *                    ACK; each frame is first copied into a pool buffer (the "DMA"), and the
 *                    output device only counts. Frames/s. host_rx_<kind> rows run each kind
 *                    alone, host_rx_tcp_mss full-sized data segments.
 *   host_http_conns  lib/http's server with the site image on A, a client on B doing
 *                    connect, GET / (Connection: close), read the whole response, close,
 *                    --conc connections at a time, as many times as it can; connections/s.
 *                    Source ports go up one by one (as lwIP's and, per peer, Linux's do);
 *                    --random-ports lets TCP pick them (see the report on RFC 6191 reopen).
 *
 * The link (bench_common.h): reserve hands out the top of a LIFO pool of frame buffers,
 * commit queues it for the other node, and the loop feeds queued frames to node_input,
 * BENCH_BATCH each way per pass. `now` is the monotonic clock, read once per pass, and
 * every timer runs when it is due: nothing is skipped or faked, and idle_ns reports time
 * spent waiting for a timer (0 in a healthy run). Each row runs in a fresh process.
 *
 * Usage: quartz_bench [--rows bulk,rx,http] [--site IMG (site.img beside the program)]
 *                     [--ring BYTES] [--bytes N] [--conc N] [--random-ports]
 *                     [--rx-kinds arp,icmp,data,ack,mss,mix] [--trace N]
 */

#include "bench_common.h"
#include "http/server.h"
#include "http/site.h"
#include "netstack/node.h"

static const char STACK[] = "quartz";

struct qnode;
typedef void qapp_event(struct qnode *q, struct tcp_conn *c, enum tcp_event ev, void *user);

/* One node's transmit device: a link into a FIFO, or a counter. */
struct qdev {
    struct ml_pool *pool;
    struct ml_fifo *out;
    uint64_t counted;
    bool capturing;
    size_t capture_len;
    uint8_t capture[ML_FRAME_MAX];
    uint8_t sink[ML_FRAME_MAX] __attribute__((aligned(64)));
};

struct qnode {
    struct node *node;
    struct node_cfg cfg;
    struct node_ops ops;
    struct qdev dev;
    void *tcp_mem;
    qapp_event *app;
    void *app_ctx;
};

static uint64_t g_now;
static uint64_t g_trace; /* frames still to trace (--trace N) */

/* ---- Devices ------------------------------------------------------------------------ */

static uint8_t *link_reserve(void *ctx, size_t len)
{
    struct qdev *d = ctx;
    uint32_t i = ml_peek(d->pool);
    return len <= ML_FRAME_MAX && i != ML_NONE ? ml_data(d->pool, i) : NULL;
}

/* Both stacks checksum in software here: these devices offer no offloads. */
static void link_commit(void *ctx, uint8_t *frame, size_t len, const struct net_offload *off)
{
    (void)off;
    struct qdev *d = ctx;
    uint32_t i = ml_get(d->pool);
    if (frame != ml_data(d->pool, i))
        bench_die("commit of a buffer that was not reserved");
    ml_push(d->out, i, len);
}

static const struct net_dev_ops link_ops = {.reserve = link_reserve, .commit = link_commit};

static uint8_t *count_reserve(void *ctx, size_t len)
{
    struct qdev *d = ctx;
    return len <= ML_FRAME_MAX ? d->sink : NULL;
}

static void count_commit(void *ctx, uint8_t *frame, size_t len, const struct net_offload *off)
{
    (void)off;
    struct qdev *d = ctx;
    d->counted++;
    if (d->capturing) {
        memcpy(d->capture, frame, len);
        d->capture_len = len;
    }
}

static const struct net_dev_ops count_ops = {.reserve = count_reserve, .commit = count_commit};

/* ---- Nodes --------------------------------------------------------------------------- */

static void q_event(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct qnode *q = ctx;
    if (q->app)
        q->app(q, c, ev, user);
}

static void qnode_init(struct qnode *q, bool is_a, uint32_t conns, uint32_t ring,
                       const struct net_dev_ops *dev)
{
    memset(q, 0, sizeof(*q));
    q->node = aligned_alloc(64, (sizeof(struct node) + 63) & ~(size_t)63);
    if (!q->node)
        bench_die("out of memory");
    q->cfg = (struct node_cfg){.addr = is_a ? BENCH_IP_A : BENCH_IP_B,
                               .prefix_len = 24,
                               .mtu = 1500,
                               .seed = is_a ? 0xa11ce : 0xb0b,
                               .tcp_conns = conns,
                               .tcp_rx_size = ring,
                               .tcp_tx_size = ring};
    memcpy(q->cfg.mac.b, is_a ? bench_mac_a : bench_mac_b, 6);
    q->cfg.tcp_mem_len = TCP_MEM(conns, ring, ring);
    q->tcp_mem = malloc(q->cfg.tcp_mem_len);
    if (!q->tcp_mem)
        bench_die("out of memory");
    memset(q->tcp_mem, 0, q->cfg.tcp_mem_len); /* fault the pages in now, not while timing */
    q->cfg.tcp_mem = q->tcp_mem;
    q->ops = (struct node_ops){.dev = dev, .dev_ctx = &q->dev, .tcp_event = q_event};
    int rc = node_init(q->node, &q->cfg, &q->ops, q, g_now);
    if (rc != NET_OK)
        bench_die("node_init: %d", rc);
}

static void qnode_free(struct qnode *q)
{
    free(q->node);
    free(q->tcp_mem);
}

static void poll_due(struct qnode *q)
{
    if (g_now >= node_next_deadline(q->node))
        node_poll(q->node, g_now);
}

/* ---- Two nodes on one link ------------------------------------------------------------ */

struct pair {
    struct qnode a, b;
    struct ml_pool pool;
    struct ml_fifo ab, ba;
    uint64_t idle_ns, passes;
    bool idle;
    uint64_t idle_since;
    void (*poll_hook)(void *ctx); /* the application's timers */
    void *hook_ctx;
};

static void pair_init(struct pair *p, uint32_t conns, uint32_t ring)
{
    memset(p, 0, sizeof(*p));
    ml_pool_init(&p->pool);
    g_now = bench_clock_ns();
    qnode_init(&p->a, true, conns, ring, &link_ops);
    qnode_init(&p->b, false, conns, ring, &link_ops);
    p->a.dev = (struct qdev){.pool = &p->pool, .out = &p->ab};
    p->b.dev = (struct qdev){.pool = &p->pool, .out = &p->ba};
    node_start(p->a.node, g_now);
    node_start(p->b.node, g_now);
}

static void pair_free(struct pair *p)
{
    qnode_free(&p->a);
    qnode_free(&p->b);
    free(p->pool.mem);
}

static void deliver(struct pair *p, struct ml_fifo *q, struct qnode *to)
{
    size_t len;
    uint32_t i = ml_pop(q, &len);
    if (g_trace) {
        g_trace--;
        bw_trace(q == &p->ab ? "A>B" : "B>A", g_now, ml_data(&p->pool, i), len);
    }
    node_input(to->node, ml_data(&p->pool, i), len, g_now);
    ml_put(&p->pool, i);
}

/* Read the clock, run what is due, move up to BENCH_BATCH frames each way. */
static unsigned pass(struct pair *p)
{
    g_now = bench_clock_ns();
    p->passes++;
    if (p->idle)
        p->idle_ns += g_now - p->idle_since;
    poll_due(&p->a);
    poll_due(&p->b);
    if (p->poll_hook)
        p->poll_hook(p->hook_ctx);
    unsigned moved = 0;
    for (unsigned k = 0; k < BENCH_BATCH; k++) {
        bool any = false;
        if (!ml_empty(&p->ab)) {
            deliver(p, &p->ab, &p->b);
            any = true;
        }
        if (!ml_empty(&p->ba)) {
            deliver(p, &p->ba, &p->a);
            any = true;
        }
        if (!any)
            break;
        moved++;
    }
    p->idle = moved == 0;
    p->idle_since = g_now;
    if (p->idle && p->idle_ns > 10 * NET_NS_PER_SEC)
        bench_die("stalled: 10 s in all spent waiting for timers");
    return moved;
}

/* ---- Row: TCP bulk A -> B ------------------------------------------------------------ */

struct bulk {
    struct pair *p;
    struct tcp_conn *src, *dst;
    uint64_t total, sent, rcvd, mismatches;
    uint8_t *pattern, *scratch;
};

static void bulk_pump(struct bulk *b)
{
    while (b->src && b->sent < b->total) {
        size_t n = b->total - b->sent < BENCH_CHUNK ? (size_t)(b->total - b->sent) : BENCH_CHUNK;
        if (n == b->total - b->sent) /* the end of the stream: flush, as lwip_bench does */
            tcp_set_nodelay(b->src, true);
        int took =
            tcp_send(&b->p->a.node->tcp, b->src, b->pattern + b->sent % BENCH_CHUNK, n, g_now);
        if (took < 0)
            bench_die("tcp_send: %d", took);
        b->sent += (uint64_t)took;
        if ((size_t)took < n)
            return; /* WRITABLE follows */
    }
}

static void bulk_src_event(struct qnode *q, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct bulk *b = q->app_ctx;
    if (ev == TCP_EV_CONNECTED || ev == TCP_EV_WRITABLE)
        bulk_pump(b);
    else if (ev == TCP_EV_CLOSED)
        bench_die("bulk: sender's connection closed");
}

static void bulk_dst_event(struct qnode *q, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct bulk *b = q->app_ctx;
    if (ev == TCP_EV_ACCEPTED) {
        b->dst = c;
        tcp_set_user(c, b);
    }
    if (ev == TCP_EV_CLOSED)
        bench_die("bulk: receiver's connection closed");
    if (c != b->dst)
        return;
    int n;
    while ((n = tcp_recv(&q->node->tcp, c, b->scratch, BENCH_CHUNK, g_now)) > 0) {
        if (b->rcvd < BENCH_VERIFY_BYTES &&
            memcmp(b->scratch, b->pattern + b->rcvd % BENCH_CHUNK, (size_t)n))
            b->mismatches++;
        b->rcvd += (uint64_t)n;
    }
}

static void row_bulk(uint64_t total, uint32_t ring)
{
    struct pair *p = calloc(1, sizeof(*p));
    if (!p)
        bench_die("out of memory");
    pair_init(p, 2, ring);
    struct bulk b = {.p = p, .total = total};
    b.pattern = malloc(2 * BENCH_CHUNK);
    b.scratch = malloc(BENCH_CHUNK);
    if (!b.pattern || !b.scratch)
        bench_die("out of memory");
    bench_pattern(b.pattern, 2 * BENCH_CHUNK);
    p->a.app = bulk_src_event;
    p->a.app_ctx = &b;
    p->b.app = bulk_dst_event;
    p->b.app_ctx = &b;
    if (tcp_listen(&p->b.node->tcp, BENCH_BULK_PORT, 4, &b) != NET_OK)
        bench_die("tcp_listen");

    uint64_t t0 = bench_clock_ns(), c0 = bench_cpu_ns();
    g_now = t0;
    int err;
    b.src = tcp_connect(&p->a.node->tcp, BENCH_IP_B, BENCH_BULK_PORT, 0, &b, g_now, &err);
    if (!b.src)
        bench_die("tcp_connect: %d", err);
    while (b.rcvd < total)
        pass(p);
    uint64_t t1 = bench_clock_ns(), c1 = bench_cpu_ns();
    if (b.mismatches)
        bench_die("bulk: received bytes differ from those sent");
    double secs = (double)(t1 - t0) / 1e9;
    struct tcp_conn_info info;
    tcp_conn_info(b.src, &info);
    bench_row("host_tcp_bulk", STACK, (double)total * 8 / secs / 1e9, "Gbit/s", (double)(t1 - t0),
              (double)(c1 - c0),
              "\"bytes\":%llu,\"seconds\":%.4f,\"ring\":%u,\"frames_ab\":%llu,"
              "\"frames_ba\":%llu,\"payload_per_frame\":%.1f,\"retransmits\":%u,"
              "\"idle_ns\":%llu",
              (unsigned long long)total, secs, ring, (unsigned long long)p->ab.frames,
              (unsigned long long)p->ba.frames, (double)total / (double)p->ab.frames,
              info.retransmits, (unsigned long long)p->idle_ns);
    free(b.pattern);
    free(b.scratch);
    pair_free(p);
    free(p);
}

/* ---- Row: receive path ------------------------------------------------------------------ */

struct rx {
    struct qnode q;
    struct tcp_conn *c;
    uint64_t rcvd;
    uint8_t *slot; /* the "DMA" buffer each frame is copied into before input */
    struct ml_pool pool;
    uint8_t scratch[BENCH_CHUNK];
};

static void rx_event(struct qnode *q, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct rx *r = q->app_ctx;
    if (ev == TCP_EV_ACCEPTED)
        r->c = c;
    if (ev == TCP_EV_CLOSED)
        bench_die("rx: connection closed");
    int n;
    while ((n = tcp_recv(&q->node->tcp, c, r->scratch, sizeof(r->scratch), g_now)) > 0)
        r->rcvd += (uint64_t)n;
}

static void rx_feed(struct rx *r, const uint8_t *frame, size_t len)
{
    memcpy(r->slot, frame, len);
    node_input(r->q.node, r->slot, len, g_now);
}

/* Feed frames of `kinds` (a bit mask) round-robin for `seconds`; returns frames fed. */
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
        poll_due(&r->q);
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
    ml_pool_init(&r->pool);
    r->slot = ml_data(&r->pool, ml_get(&r->pool));
    g_now = bench_clock_ns();
    qnode_init(&r->q, true, 4, 65536, &count_ops);
    r->q.app = rx_event;
    r->q.app_ctx = r;
    if (tcp_listen(&r->q.node->tcp, BENCH_HTTP_PORT, 4, r) != NET_OK)
        bench_die("tcp_listen");

    /* The peer introduces itself (ARP), then opens a connection: SYN, SYN-ACK, ACK. */
    uint8_t f[ML_FRAME_MAX];
    const uint16_t sport = 40000;
    const uint32_t isn = 1000;
    rx_feed(r, f, bw_arp_request(f, bench_mac_b, BENCH_IP_B, BENCH_IP_A));
    r->q.dev.capturing = true;
    rx_feed(r, f,
            bw_tcp(f, bench_mac_a, bench_mac_b, BENCH_IP_B, BENCH_IP_A, sport, BENCH_HTTP_PORT, isn,
                   0, BW_TCP_SYN, 65535, 0));
    r->q.dev.capturing = false;
    uint32_t their;
    if (!bw_parse_synack(r->q.dev.capture, r->q.dev.capture_len, &their))
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
        uint64_t out0 = r->q.dev.counted;
        uint64_t n = rx_run(r, m, 1u << k, BENCH_RX_KIND_SECONDS, &ns, &cpu);
        bench_row(bw_kind_row[k], STACK, (double)n / ((double)ns / 1e9) / 1e6, "Mframes/s",
                  (double)ns, (double)cpu,
                  "\"frames\":%llu,\"ns_per_frame\":%.1f,\"tx_frames\":%llu", (unsigned long long)n,
                  (double)ns / (double)n, (unsigned long long)(r->q.dev.counted - out0));
    }
    if (!(g_rx_rows & (1u << BW_KINDS)))
        return;
    uint64_t out0 = r->q.dev.counted, rcvd0 = r->rcvd, seq0 = m->seq;
    uint64_t n = rx_run(r, m, BW_MIX, BENCH_RX_SECONDS, &ns, &cpu);
    if (r->rcvd - rcvd0 != (uint64_t)(uint32_t)(m->seq - seq0))
        bench_die("rx: application read %llu bytes, peer sent %u",
                  (unsigned long long)(r->rcvd - rcvd0), (uint32_t)(m->seq - seq0));
    bench_row("host_rx_frames", STACK, (double)n / ((double)ns / 1e9) / 1e6, "Mframes/s",
              (double)ns, (double)cpu,
              "\"frames\":%llu,\"ns_per_frame\":%.1f,\"tx_frames\":%llu,\"mix\":"
              "\"arp,icmp%u,tcp%u,ack\"",
              (unsigned long long)n, (double)ns / (double)n,
              (unsigned long long)(r->q.dev.counted - out0), BENCH_ICMP_DATA_LEN,
              BENCH_RX_DATA_LEN);
    free(m);
    qnode_free(&r->q);
    free(r->pool.mem);
    free(r);
}

/* ---- Row: HTTP connections ---------------------------------------------------------------- */

#define HTTP_CLIENTS_MAX 64

struct hclient {
    struct tcp_conn *c;
    uint64_t got;
    bool want; /* waiting to connect: the table was full */
};

struct hbench {
    struct pair *p;
    struct http_server srv;
    struct site site;
    struct http_conn *hconns;
    struct hclient cl[HTTP_CLIENTS_MAX];
    unsigned n_clients;
    uint64_t done, errors, bad, refused, expect;
    bool stopping;
    bool random_ports; /* --random-ports: let TCP pick each source port */
    uint16_t next_port;
    uint8_t buf[16384];
};

static void client_start(struct hbench *h, struct hclient *cl)
{
    cl->c = NULL;
    cl->got = 0;
    cl->want = false;
    if (h->stopping)
        return;
    int err = NET_OK;
    for (int tries = 0; tries < 16 && !cl->c; tries++) {
        uint16_t port = 0;
        if (!h->random_ports) { /* sequential, as lwIP's tcp_new_port (and Linux per peer) */
            port = h->next_port;
            h->next_port = port == 65535 ? 49152 : (uint16_t)(port + 1);
        }
        cl->c = tcp_connect(&h->p->b.node->tcp, BENCH_IP_A, BENCH_HTTP_PORT, port, cl, g_now, &err);
        if (err != NET_EINVAL)
            break; /* NET_EINVAL: that port's previous connection is still closing */
    }
    if (!cl->c) {
        cl->want = true;
        h->refused++;
    }
}

static void client_drain(struct hbench *h, struct hclient *cl)
{
    int n;
    while ((n = tcp_recv(&h->p->b.node->tcp, cl->c, h->buf, sizeof(h->buf), g_now)) > 0) {
        if (!cl->got && memcmp(h->buf, "HTTP/1.1 200 OK\r\n", 17))
            h->bad++;
        cl->got += (uint64_t)n;
    }
}

static void client_event(struct qnode *q, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct hbench *h = q->app_ctx;
    struct hclient *cl = user;
    if (!cl || cl->c != c)
        return;
    switch (ev) {
    case TCP_EV_CONNECTED:
        if (tcp_send(&q->node->tcp, c, bench_http_request, sizeof(bench_http_request) - 1, g_now) !=
            (int)sizeof(bench_http_request) - 1)
            bench_die("http client: request did not fit");
        break;
    case TCP_EV_READABLE: client_drain(h, cl); break;
    case TCP_EV_PEER_CLOSED:
        client_drain(h, cl); /* every byte before the FIN is in the ring by now */
        if (!h->expect)
            h->expect = cl->got;
        if (cl->got != h->expect)
            h->bad++;
        tcp_close(&q->node->tcp, c, g_now);
        h->done++;
        client_start(h, cl);
        break;
    case TCP_EV_CLOSED:
        h->errors++;
        client_start(h, cl);
        break;
    default: break;
    }
}

static void server_event(struct qnode *q, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct hbench *h = q->app_ctx;
    http_event(&h->srv, c, ev, user, g_now);
}

static void http_hook(void *ctx)
{
    struct hbench *h = ctx;
    if (g_now >= http_next_deadline(&h->srv))
        http_poll(&h->srv, g_now);
    for (unsigned i = 0; i < h->n_clients; i++)
        if (h->cl[i].want)
            client_start(h, &h->cl[i]);
}

static bool g_random_ports;

static void row_http(const char *site_path, unsigned conc)
{
    struct hbench *h = calloc(1, sizeof(*h));
    struct pair *p = calloc(1, sizeof(*p));
    if (!h || !p)
        bench_die("out of memory");
    h->p = p;
    h->n_clients = conc;
    h->random_ports = g_random_ports;
    h->next_port = 49152;
    pair_init(p, BENCH_HTTP_TABLE, 16384);
    size_t len;
    void *image = bench_load_file(site_path, &len);
    if (!image || site_open(&h->site, image, len) != NET_OK)
        bench_die("%s: not a site image (%s)", site_path, image ? "bad" : strerror(errno));
    h->hconns = calloc(BENCH_HTTP_TABLE, sizeof(*h->hconns));
    if (!h->hconns)
        bench_die("out of memory");
    static const struct http_ops hops = {.wall_clock = NULL}; /* no Date: as lwip_bench */
    struct http_cfg hc = {
        .port = BENCH_HTTP_PORT, .site = &h->site, .conns = h->hconns, .n_conns = BENCH_HTTP_TABLE};
    if (http_init(&h->srv, &p->a.node->tcp, &hc, &hops, NULL) != NET_OK)
        bench_die("http_init");
    p->a.app = server_event;
    p->a.app_ctx = h;
    p->b.app = client_event;
    p->b.app_ctx = h;
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
    if (h->bad || h->errors)
        bench_die("http: %llu bad responses, %llu connection errors", (unsigned long long)h->bad,
                  (unsigned long long)h->errors);
    double secs = (double)(t1 - t0) / 1e9;
    bench_row("host_http_conns", STACK, (double)(d1 - d0) / secs / 1e3, "kconn/s",
              (double)(t1 - t0), (double)(c1 - c0),
              "\"connections\":%llu,\"seconds\":%.4f,\"concurrency\":%u,\"resp_bytes\":%llu,"
              "\"frames_per_conn\":%.2f,\"table_full\":%llu,\"time_wait_evicted\":%llu,"
              "\"idle_ns\":%llu",
              (unsigned long long)(d1 - d0), secs, conc, (unsigned long long)h->expect,
              (double)(f1 - f0) / (double)(d1 - d0), (unsigned long long)h->refused,
              (unsigned long long)p->a.node->tcp.stats.time_wait_evicted,
              (unsigned long long)(p->idle_ns - idle0));
    free(h->hconns);
    free(image);
    pair_free(p);
    free(p);
    free(h);
}

struct row_args {
    uint64_t bytes;
    uint32_t ring;
    const char *site;
    unsigned conc;
};

static void run_row(int row, void *ctx)
{
    const struct row_args *a = ctx;
    if (row == 0)
        row_bulk(a->bytes, a->ring);
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
    uint32_t ring = 1u << 20;
    unsigned conc = BENCH_HTTP_CONCURRENCY;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--rows") && v)
            rows = v;
        else if (!strcmp(a, "--site") && v)
            site = v;
        else if (!strcmp(a, "--bytes") && v)
            bytes = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--ring") && v)
            ring = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--random-ports")) {
            g_random_ports = true;
            continue;
        } else if (!strcmp(a, "--rx-kinds") && v) {
            if (!bw_parse_kinds(v, &g_rx_rows))
                bench_die("--rx-kinds: a list of arp, icmp, data, ack, mss, mix");
        } else if (!strcmp(a, "--trace") && v)
            g_trace = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--conc") && v)
            conc = (unsigned)strtoul(v, NULL, 0);
        else
            bench_die("usage: %s [--rows bulk,rx,http] [--site IMG] [--bytes N] [--ring N] "
                      "[--conc N] [--random-ports] [--rx-kinds arp,icmp,data,ack,mss,mix] "
                      "[--trace N]",
                      argv[0]);
        i++;
    }
    /* The link's pool must hold a whole window in flight, or frames are dropped. */
    if (ring < 2 * BENCH_MSS || ring > (4u << 20))
        bench_die("--ring: %u to %u bytes", 2 * BENCH_MSS, 4u << 20);
    if (!conc || conc > HTTP_CLIENTS_MAX)
        bench_die("--conc: 1..%d", HTTP_CLIENTS_MAX);
    struct row_args args = {bytes, ring, site, conc};
    return bench_run_rows(rows, run_row, &args);
}
