#include "tcpsim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netstack/eth_wire.h"
#include "netstack/ipv4_wire.h"
#include "pcap_io.h"
#include "testbed.h"

#define CHUNK 16384
#define SAME_TIME_LIMIT 100000 /* passes at one instant before we call time stuck */
#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

enum { A, B }; /* node index; also the direction a frame leaves: imp[A] carries A -> B */

struct sim;

/* One end of one connection: the application on that side. */
struct end {
    struct sim *sim;
    int side;
    uint32_t flow;
    struct tcp_conn *c; /* NULL before open and once closed */
    uint16_t port;      /* B's local port: how A's accept finds the flow */
    uint64_t tx_seed, tx_total, tx_off, tx_hash;
    uint64_t rx_seed, rx_total, rx_off, rx_hash;
    uint64_t read_credit; /* slow reader: bytes it may still read this tick */
    bool opened, shut, peer_closed, closed;
    bool busy, again; /* service() is not reentrant: events during it ask for another pass */
};

struct flow {
    struct end end[2];
    bool done;
};

struct sim {
    const struct tcpsim_cfg *cfg;
    struct tcpsim_result *res;
    uint64_t now;
    struct testbed tb[2];
    struct impair imp[2];
    uint64_t wire_free[2]; /* when each direction finishes serialising what it holds */
    struct pcap_writer *pcap_tx, *pcap_rx;
    uint64_t last_frame; /* when a node last sent an IPv4 frame */
    uint64_t next_tick;  /* slow reader's next read, UINT64_MAX when reading freely */
    struct flow *flows;
    uint32_t n_flows;
    bool failed;
    bool data_bad; /* a byte differed, or more arrived than was sent */
    uint8_t buf[CHUNK], expect[CHUNK];
    uint8_t frame[FAKE_LINK_FRAME_MAX];
};

/* splitmix64's finaliser: the data streams and derived seeds. */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Byte `off` of stream `seed` is byte off % 8 of mix(seed + off / 8): any window of the
 * stream can be produced without the bytes before it. */
static void stream_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
    uint64_t w = mix(seed + (off >> 3));
    for (size_t i = 0; i < n; i++, off++) {
        if (i && !(off & 7))
            w = mix(seed + (off >> 3));
        p[i] = (uint8_t)(w >> ((off & 7) * 8));
    }
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

static const char *side_name(int side)
{
    return side == A ? "A" : "B";
}

static void fail(struct sim *sim, const char *fmt, ...)
{
    sim->failed = true;
    if (sim->res->why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->res->why, sizeof(sim->res->why), fmt, ap);
    va_end(ap);
}

static struct tcp *tcp_of(struct end *e)
{
    return &e->sim->tb[e->side].node->tcp;
}

/* Both ends have closed: compare what each sent with what the other received. */
static void flow_check(struct sim *sim, struct flow *f)
{
    if (f->done || !f->end[A].closed || !f->end[B].closed)
        return;
    f->done = true;
    for (int s = A; s <= B; s++) {
        struct end *tx = &f->end[s], *rx = &f->end[!s];
        if (rx->rx_off != tx->tx_total || rx->rx_hash != tx->tx_hash)
            fail(sim, "flow %u %s->%s: received %llu of %llu bytes, hash %016llx, sent %016llx",
                 (unsigned)(f - sim->flows), side_name(s), side_name(!s),
                 (unsigned long long)rx->rx_off, (unsigned long long)tx->tx_total,
                 (unsigned long long)rx->rx_hash, (unsigned long long)tx->tx_hash);
    }
    sim->res->flows_done++;
    if (sim->res->flows_done == sim->n_flows)
        sim->res->done_ns = sim->now;
    if (sim->cfg->verbose)
        fprintf(stderr, "tcpsim: flow %u done at %.6f s\n", (unsigned)(f - sim->flows),
                (double)sim->now / 1e9);
}

/* Read everything waiting and check it against the stream the peer sends. */
static void drain(struct end *e)
{
    struct sim *sim = e->sim;
    bool slow = sim->cfg->read_interval_ns != 0;
    while (e->c) {
        size_t cap = sizeof(sim->buf);
        if (slow && cap > e->read_credit)
            cap = (size_t)e->read_credit;
        if (!cap)
            return;
        int n = tcp_recv(tcp_of(e), e->c, sim->buf, cap, sim->now);
        if (n < 0)
            fail(sim, "flow %u %s: tcp_recv returned %d", e->flow, side_name(e->side), n);
        if (n <= 0)
            return;
        if ((uint64_t)n > e->rx_total - e->rx_off) {
            sim->data_bad = true;
            fail(sim, "flow %u %s: %llu bytes received, only %llu sent", e->flow,
                 side_name(e->side), (unsigned long long)(e->rx_off + (uint64_t)n),
                 (unsigned long long)e->rx_total);
            return;
        }
        stream_fill(e->rx_seed, e->rx_off, sim->expect, (size_t)n);
        if (memcmp(sim->buf, sim->expect, (size_t)n)) {
            size_t i = 0;
            while (sim->buf[i] == sim->expect[i])
                i++;
            sim->data_bad = true;
            fail(sim, "flow %u %s: byte %llu is %02x, sent %02x", e->flow, side_name(e->side),
                 (unsigned long long)(e->rx_off + i), sim->buf[i], sim->expect[i]);
            return;
        }
        e->rx_hash = fnv(e->rx_hash, sim->buf, (size_t)n);
        e->rx_off += (uint64_t)n;
        if (slow)
            e->read_credit -= (uint64_t)n;
        if (e->side == A)
            sim->res->bytes_ba += (uint64_t)n;
        else
            sim->res->bytes_ab += (uint64_t)n;
    }
}

/* Send until the ring refuses; a refused tcp_send arms TCP_EV_WRITABLE. */
static void pump(struct end *e)
{
    struct sim *sim = e->sim;
    while (e->c && e->tx_off < e->tx_total) {
        struct tcp_conn_info info;
        tcp_conn_info(e->c, &info);
        /* Offer at least one byte when the ring is full: only a refusal arms WRITABLE. */
        uint64_t n = e->tx_total - e->tx_off;
        if (n > CHUNK)
            n = CHUNK;
        if (info.tx_free && n > info.tx_free)
            n = info.tx_free;
        else if (!info.tx_free)
            n = 1;
        stream_fill(e->tx_seed, e->tx_off, sim->buf, (size_t)n);
        int took = tcp_send(tcp_of(e), e->c, sim->buf, (size_t)n, sim->now);
        if (took < 0) {
            fail(sim, "flow %u %s: tcp_send returned %d", e->flow, side_name(e->side), took);
            return;
        }
        e->tx_hash = fnv(e->tx_hash, sim->buf, (size_t)took);
        e->tx_off += (uint64_t)took;
        if ((uint64_t)took < n)
            return;
    }
}

/* Everything the application does, in order; safe to call after any event. */
static void service(struct end *e)
{
    struct sim *sim = e->sim;
    if (e->busy) {
        e->again = true;
        return;
    }
    e->busy = true;
    do {
        e->again = false;
        drain(e);
        pump(e);
        if (!e->c || sim->failed)
            break;
        /* End of stream: the peer's FIN has arrived and every byte before it was read. */
        struct tcp_conn_info info;
        tcp_conn_info(e->c, &info);
        if (info.peer_closed)
            e->peer_closed = true;
        if (e->tx_off == e->tx_total && !e->shut) {
            int r = tcp_shutdown(tcp_of(e), e->c, sim->now);
            if (r != NET_OK)
                fail(sim, "flow %u %s: tcp_shutdown returned %d", e->flow, side_name(e->side), r);
            e->shut = true;
        }
        if (e->shut && e->peer_closed && !e->closed) {
            if (e->rx_off != e->rx_total)
                fail(sim, "flow %u %s: peer closed after %llu of %llu bytes", e->flow,
                     side_name(e->side), (unsigned long long)e->rx_off,
                     (unsigned long long)e->rx_total);
            int r = tcp_close(tcp_of(e), e->c, sim->now);
            if (r != NET_OK)
                fail(sim, "flow %u %s: tcp_close returned %d", e->flow, side_name(e->side), r);
            e->closed = true;
            e->c = NULL; /* detached: TCP finishes the close alone, no more events */
            flow_check(sim, &sim->flows[e->flow]);
        }
    } while (e->again);
    e->busy = false;
}

static struct end *accept_end(struct sim *sim, struct tcp_conn *c)
{
    struct tcp_conn_info info;
    tcp_conn_info(c, &info);
    for (uint32_t i = 0; i < sim->n_flows; i++) {
        struct end *e = &sim->flows[i].end[A];
        if (!e->opened && sim->flows[i].end[B].port == info.remote_port)
            return e;
    }
    return NULL;
}

static const char *reason_name(enum tcp_close_reason r)
{
    switch (r) {
    case TCP_REASON_NONE: return "none";
    case TCP_REASON_NORMAL: return "normal";
    case TCP_REASON_RESET: return "reset";
    case TCP_REASON_REFUSED: return "refused";
    case TCP_REASON_TIMEOUT: return "timeout";
    case TCP_REASON_UNREACHABLE: return "unreachable";
    }
    return "?";
}

static void on_event(struct testbed *tb, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct sim *sim = tb->hook_ctx;
    struct end *e = user;
    switch (ev) {
    case TCP_EV_ACCEPTED:
        e = accept_end(sim, c);
        if (!e) {
            fail(sim, "A accepted a connection no flow opened");
            tcp_abort(&tb->node->tcp, c, tb->now);
            return;
        }
        e->c = c;
        e->opened = true;
        tcp_set_user(c, e);
        break;
    case TCP_EV_WRITABLE: sim->res->writable++; break;
    case TCP_EV_CONNECTED:
    case TCP_EV_READABLE: break;
    case TCP_EV_PEER_CLOSED: /* a hint: bytes before the FIN may still wait; see service() */ break;
    case TCP_EV_CLOSED: {
        /* We always close first (tcp_close detaches), so CLOSED means TCP gave up. */
        if (!e)
            return; /* a half-open connection the application never saw */
        struct tcp_conn_info info;
        tcp_conn_info(c, &info);
        fail(sim, "flow %u %s: connection closed by TCP (%s) in %s, sent %llu/%llu got %llu/%llu",
             e->flow, side_name(e->side), reason_name(info.reason), tcp_state_name(info.state),
             (unsigned long long)e->tx_off, (unsigned long long)e->tx_total,
             (unsigned long long)e->rx_off, (unsigned long long)e->rx_total);
        e->c = NULL;
        return;
    }
    }
    if (e)
        service(e);
}

/* What the link sees of a frame: is it an IPv4 fragment, a TCP zero-window advertisement? */
static void inspect(struct tcpsim_result *res, const uint8_t *f, size_t len)
{
    if (len < ETH_HDR_LEN + IPV4_HDR_LEN || net_get16(f + ETH_OFF_TYPE) != ETH_TYPE_IPV4)
        return;
    const uint8_t *ip = f + ETH_HDR_LEN;
    if (net_get16(ip + IPV4_OFF_FRAG) & (IPV4_FLAG_MF | IPV4_FRAG_MASK)) {
        res->ip_fragments++;
        return;
    }
    size_t ihl = (size_t)(ip[IPV4_OFF_VER_IHL] & 0x0f) * 4;
    const uint8_t *tcp = ip + ihl;
    if (ip[IPV4_OFF_PROTO] == IPV4_PROTO_TCP && len >= ETH_HDR_LEN + ihl + TCP_HDR_LEN &&
        !(tcp[TCP_OFF_FLAGS] & TCP_RST) && !net_get16(tcp + TCP_OFF_WINDOW))
        res->zero_windows++;
}

/* Frames node `from` committed go onto the wire towards the other node. */
static bool carry(struct sim *sim, int from)
{
    const struct fake_frame *f;
    bool moved = false;
    while ((f = tb_next(&sim->tb[from]))) {
        uint64_t at = f->ts;
        if (sim->pcap_tx)
            pcap_writer_put(sim->pcap_tx, f->ts, f->data, f->len);
        if (sim->cfg->rate_bps) {
            /* A FIFO ahead of the impairments: a frame leaves once the ones before it
             * have been clocked out. Pushing at the departure time keeps the impair
             * queue's clock monotonic because departures are. */
            if (sim->wire_free[from] > at)
                at = sim->wire_free[from];
            at += (f->len * 8 * 1000000000ull + sim->cfg->rate_bps - 1) / sim->cfg->rate_bps;
            sim->wire_free[from] = at;
        }
        impair_push(&sim->imp[from], f->data, f->len, at);
        inspect(sim->res, f->data, f->len);
        if (f->len >= ETH_HDR_LEN && net_get16(f->data + ETH_OFF_TYPE) == ETH_TYPE_IPV4)
            sim->last_frame = f->ts; /* ARP refreshes are not progress */
        if (from == A)
            sim->res->frames_ab++;
        else
            sim->res->frames_ba++;
        moved = true;
    }
    fake_link_clear(&sim->tb[from].link); /* every frame taken: reuse the log's memory */
    return moved;
}

/* Frames the wire releases now arrive at the other node. */
static bool deliver(struct sim *sim, int from)
{
    size_t len;
    bool moved = false;
    while (impair_pop(&sim->imp[from], sim->now, sim->frame, sizeof(sim->frame), &len)) {
        if (sim->pcap_rx)
            pcap_writer_put(sim->pcap_rx, sim->now, sim->frame, len);
        tb_send(&sim->tb[!from], sim->frame, len, sim->now);
        sim->res->steps++;
        moved = true;
    }
    return moved;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static bool finished(struct sim *sim)
{
    return sim->res->flows_done == sim->n_flows && !tcp_conns_in_use(&sim->tb[A].node->tcp) &&
           !tcp_conns_in_use(&sim->tb[B].node->tcp) && !impair_queued(&sim->imp[A]) &&
           !impair_queued(&sim->imp[B]);
}

/* Why a run stopped early: the first unfinished flow into `why`, every one to stderr when
 * verbose. */
static void dump(struct sim *sim, const char *what)
{
    bool verbose = sim->cfg->verbose;
    if (verbose)
        fprintf(stderr, "tcpsim: %s at %.6f s; %u of %u flows done, %u/%u conns in use\n", what,
                (double)sim->now / 1e9, sim->res->flows_done, sim->n_flows,
                tcp_conns_in_use(&sim->tb[A].node->tcp), tcp_conns_in_use(&sim->tb[B].node->tcp));
    bool first = true;
    for (uint32_t i = 0; i < sim->n_flows; i++) {
        if (sim->flows[i].done)
            continue;
        char line[256];
        int len = snprintf(line, sizeof(line), "flow %u:", i);
        for (int s = A; s <= B; s++) {
            struct end *e = &sim->flows[i].end[s];
            struct tcp_conn_info info = {0};
            if (e->c)
                tcp_conn_info(e->c, &info);
            len += snprintf(line + len, sizeof(line) - (size_t)len,
                            " %s[%s sent %llu/%llu got %llu/%llu%s%s%s rto %llu ms]", side_name(s),
                            e->c ? tcp_state_name(info.state) : "-", (unsigned long long)e->tx_off,
                            (unsigned long long)e->tx_total, (unsigned long long)e->rx_off,
                            (unsigned long long)e->rx_total, e->shut ? " shut" : "",
                            e->peer_closed ? " eof" : "", e->closed ? " closed" : "",
                            (unsigned long long)(info.rto_ns / 1000000));
            if (len >= (int)sizeof(line))
                break;
        }
        if (verbose)
            fprintf(stderr, "  %s\n", line);
        if (first)
            fail(sim, "%s at %.3f s: %s", what, (double)sim->now / 1e9, line);
        first = false;
    }
    if (first)
        fail(sim, "%s at %.3f s with every flow done", what, (double)sim->now / 1e9);
}

/* The slow reader's clock: every end gets its quantum and reads. */
static void tick(struct sim *sim)
{
    if (sim->now < sim->next_tick)
        return;
    uint64_t interval = sim->cfg->read_interval_ns;
    sim->next_tick += (sim->now - sim->next_tick) / interval * interval + interval;
    for (uint32_t i = 0; i < sim->n_flows; i++)
        for (int s = A; s <= B; s++) {
            struct end *e = &sim->flows[i].end[s];
            if (!e->c)
                continue;
            e->read_credit = sim->cfg->read_quantum ? sim->cfg->read_quantum : 1;
            service(e);
        }
    if (sim->res->flows_done == sim->n_flows)
        sim->next_tick = UINT64_MAX;
}

static void run(struct sim *sim)
{
    const struct tcpsim_cfg *cfg = sim->cfg;
    uint64_t limit = cfg->time_limit_ns ? cfg->time_limit_ns : TCPSIM_TIME_LIMIT;
    uint64_t steps = cfg->step_limit ? cfg->step_limit : TCPSIM_STEP_LIMIT;
    uint64_t idle = cfg->idle_limit_ns ? cfg->idle_limit_ns : TCPSIM_IDLE_LIMIT;
    unsigned same_time = 0;
    for (;;) {
        tb_advance(&sim->tb[A], sim->now);
        tb_advance(&sim->tb[B], sim->now);
        tick(sim);
        /* Within one instant, keep moving frames until neither side has more to say. */
        bool moved;
        do {
            moved = carry(sim, A);
            moved |= carry(sim, B);
            moved |= deliver(sim, A);
            moved |= deliver(sim, B);
            if (sim->res->steps > steps) {
                dump(sim, "step limit");
                return;
            }
        } while (moved && !sim->failed);
        if (sim->failed || finished(sim))
            return;

        uint64_t next =
            min64(min64(node_next_deadline(sim->tb[A].node), node_next_deadline(sim->tb[B].node)),
                  min64(impair_next_deadline(&sim->imp[A]), impair_next_deadline(&sim->imp[B])));
        next = min64(next, sim->next_tick);
        if (next == UINT64_MAX) {
            dump(sim, "stalled (no timer, nothing in flight)");
            return;
        }
        if (sim->res->flows_done < sim->n_flows && next - sim->last_frame > idle) {
            sim->now = sim->last_frame + idle;
            dump(sim, "deadlock (no frame on the link)");
            return;
        }
        if (next > limit) {
            sim->now = limit;
            dump(sim, "virtual time limit");
            return;
        }
        if (next > sim->now) {
            sim->now = next;
            same_time = 0;
        } else if (++same_time > SAME_TIME_LIMIT) {
            dump(sim, "time stuck");
            return;
        }
        sim->res->steps++;
    }
}

static void setup_flows(struct sim *sim)
{
    const struct tcpsim_cfg *cfg = sim->cfg;
    for (uint32_t i = 0; i < sim->n_flows; i++) {
        uint64_t ab = mix(cfg->seed ^ mix(2 * (uint64_t)i)); /* the A -> B stream */
        uint64_t ba = mix(cfg->seed ^ mix(2 * (uint64_t)i + 1));
        for (int s = A; s <= B; s++) {
            struct end *e = &sim->flows[i].end[s];
            e->sim = sim;
            e->side = s;
            e->flow = i;
            e->tx_seed = s == A ? ab : ba;
            e->rx_seed = s == A ? ba : ab;
            e->tx_total = s == A ? cfg->bytes_ab : cfg->bytes_ba;
            e->rx_total = s == A ? cfg->bytes_ba : cfg->bytes_ab;
            e->tx_hash = e->rx_hash = FNV_BASIS;
        }
    }
}

static int setup_node(struct sim *sim, int side)
{
    const struct tcpsim_cfg *cfg = sim->cfg;
    struct node_cfg nc = testbed_default_cfg();
    if (side == B) {
        nc.addr = NET_IP4(10, 0, 0, 1);
        nc.gateway = 0;
        nc.mac.b[5] = 0x57;
    }
    nc.seed = mix(cfg->seed ^ (side == A ? 0xa11ceull : 0xb0bull));
    nc.tcp_conns = cfg->conns ? cfg->conns : sim->n_flows;
    nc.tcp_rx_size = nc.tcp_tx_size = cfg->ring ? cfg->ring : TCPSIM_RING;
    nc.tcp_tune = cfg->tune;
    if (side == A)
        nc.dev_caps = cfg->caps_a;
    int r = testbed_init(&sim->tb[side], &nc, 0);
    if (r != NET_OK) {
        fail(sim, "node %s: node_init returned %d", side_name(side), r);
        return r;
    }
    sim->tb[side].tcp_hook = on_event;
    sim->tb[side].hook_ctx = sim;
    node_start(sim->tb[side].node, 0);

    struct impair_cfg ic = side == A || !cfg->link_ba ? cfg->link : *cfg->link_ba;
    ic.seed = mix(ic.seed ^ mix(cfg->seed + (uint64_t)side));
    if (impair_init(&sim->imp[side], &ic)) {
        fail(sim, "link %s: bad impairment cfg", side == A ? "A->B" : "B->A");
        return NET_EINVAL;
    }
    return NET_OK;
}

static void open_flows(struct sim *sim)
{
    const struct tcpsim_cfg *cfg = sim->cfg;
    struct tcp *ta = &sim->tb[A].node->tcp, *tb = &sim->tb[B].node->tcp;
    int r = tcp_listen(ta, TCPSIM_PORT, cfg->backlog ? cfg->backlog : (uint16_t)sim->n_flows, NULL);
    if (r != NET_OK) {
        fail(sim, "tcp_listen returned %d", r);
        return;
    }
    for (uint32_t i = 0; i < sim->n_flows && !sim->failed; i++) {
        struct end *e = &sim->flows[i].end[B];
        int err;
        e->c = tcp_connect(tb, sim->tb[A].cfg.addr, TCPSIM_PORT, 0, e, sim->now, &err);
        if (!e->c) {
            fail(sim, "flow %u: tcp_connect failed (%d)", i, err);
            return;
        }
        struct tcp_conn_info info;
        tcp_conn_info(e->c, &info);
        e->port = info.local_port;
        e->opened = true;
    }
}

bool tcpsim_run(const struct tcpsim_cfg *cfg, struct tcpsim_result *res)
{
    memset(res, 0, sizeof(*res));
    struct sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        abort();
    sim->cfg = cfg;
    sim->res = res;
    sim->n_flows = cfg->n_flows ? cfg->n_flows : 1;
    sim->next_tick = cfg->read_interval_ns ? cfg->read_interval_ns : UINT64_MAX;
    sim->flows = calloc(sim->n_flows, sizeof(*sim->flows));
    if (!sim->flows)
        abort();
    setup_flows(sim);
    char err[128];
    if (cfg->pcap_tx && !(sim->pcap_tx = pcap_writer_open(cfg->pcap_tx, err, sizeof(err))))
        fail(sim, "%s", err);
    if (cfg->pcap_rx && !(sim->pcap_rx = pcap_writer_open(cfg->pcap_rx, err, sizeof(err))))
        fail(sim, "%s", err);
    int ra = sim->failed ? NET_EINVAL : setup_node(sim, A);
    int rb = ra == NET_OK ? setup_node(sim, B) : ra;
    if (rb == NET_OK) {
        open_flows(sim);
        if (!sim->failed)
            run(sim);
    }

    res->end_ns = sim->now;
    res->data_ok = !sim->data_bad;
    for (uint32_t i = 0; i < sim->n_flows; i++)
        for (int s = A; s <= B; s++) {
            const struct end *tx = &sim->flows[i].end[s], *rx = &sim->flows[i].end[!s];
            if (rx->rx_off != tx->tx_total || rx->rx_hash != tx->tx_hash)
                res->data_ok = false;
        }
    res->bursts_a = sim->tb[A].link.bursts; /* before testbed_free clears the link */
    for (int s = A; s <= B; s++) {
        if (sim->tb[s].node) {
            struct tcp_stats *st = s == A ? &res->tcp_a : &res->tcp_b;
            *st = sim->tb[s].node->tcp.stats;
            *(s == A ? &res->in_use_a : &res->in_use_b) = tcp_conns_in_use(&sim->tb[s].node->tcp);
        }
        *(s == A ? &res->imp_ab : &res->imp_ba) = sim->imp[s].stats;
        impair_free(&sim->imp[s]);
        testbed_free(&sim->tb[s]);
    }
    res->closed = res->flows_done == sim->n_flows && !res->in_use_a && !res->in_use_b;
    res->ok = !sim->failed && res->data_ok && res->closed;
    if (!res->ok && !res->why[0])
        snprintf(res->why, sizeof(res->why), "connections left in use: A %u, B %u", res->in_use_a,
                 res->in_use_b);
    if (sim->pcap_tx)
        pcap_writer_close(sim->pcap_tx);
    if (sim->pcap_rx)
        pcap_writer_close(sim->pcap_rx);
    free(sim->flows);
    free(sim);
    return res->ok;
}

void tcpsim_format(const struct tcpsim_result *r, char *buf, size_t len)
{
    snprintf(buf, len,
             "%s done %.3f s end %.3f s | %llu/%llu B | frames %llu/%llu | lost %llu/%llu "
             "dup %llu/%llu corrupt %llu/%llu reord %llu/%llu | rto %llu/%llu fast %llu/%llu "
             "ooo %llu/%llu badsum %llu/%llu zwp %llu/%llu frag %llu zwin %llu wr %llu",
             r->ok ? "ok" : "FAIL", (double)r->done_ns / 1e9, (double)r->end_ns / 1e9,
             (unsigned long long)r->bytes_ab, (unsigned long long)r->bytes_ba,
             (unsigned long long)r->frames_ab, (unsigned long long)r->frames_ba,
             (unsigned long long)r->imp_ab.lost, (unsigned long long)r->imp_ba.lost,
             (unsigned long long)r->imp_ab.duplicated, (unsigned long long)r->imp_ba.duplicated,
             (unsigned long long)r->imp_ab.corrupted, (unsigned long long)r->imp_ba.corrupted,
             (unsigned long long)r->imp_ab.reordered, (unsigned long long)r->imp_ba.reordered,
             (unsigned long long)r->tcp_a.retransmits, (unsigned long long)r->tcp_b.retransmits,
             (unsigned long long)r->tcp_a.fast_retransmits,
             (unsigned long long)r->tcp_b.fast_retransmits, (unsigned long long)r->tcp_a.rx_ooo,
             (unsigned long long)r->tcp_b.rx_ooo, (unsigned long long)r->tcp_a.rx_bad_checksum,
             (unsigned long long)r->tcp_b.rx_bad_checksum,
             (unsigned long long)r->tcp_a.zero_window_probes,
             (unsigned long long)r->tcp_b.zero_window_probes, (unsigned long long)r->ip_fragments,
             (unsigned long long)r->zero_windows, (unsigned long long)r->writable);
}
