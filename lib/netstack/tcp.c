/* tcp.c — the connection table, demux, and the verbs applications call. */
#include <string.h>

#include "netstack/siphash.h"
#include "tcp_internal.h"

#define DEFAULT_RTO_INITIAL_NS (1 * NET_NS_PER_SEC)
#define DEFAULT_RTO_MIN_NS (200 * NET_NS_PER_MS)
#define DEFAULT_RTO_MAX_NS (60 * NET_NS_PER_SEC)
#define DEFAULT_MAX_RETRIES 15
#define DEFAULT_SYN_RETRIES 6
#define DEFAULT_DELACK_NS (40 * NET_NS_PER_MS)
#define DEFAULT_MSL_NS (30 * NET_NS_PER_SEC)
#define DEFAULT_FIN_WAIT_2_NS (60 * NET_NS_PER_SEC)
#define DEFAULT_KEEPALIVE_IDLE_NS (7200 * NET_NS_PER_SEC)
#define DEFAULT_KEEPALIVE_INTERVAL_NS (75 * NET_NS_PER_SEC)
#define DEFAULT_KEEPALIVE_PROBES 9
#define DEFAULT_CHALLENGE_ACK_LIMIT 100

/* RFC 6335 dynamic ports. */
#define EPHEMERAL_LO 49152u
#define EPHEMERAL_N (65536u - EPHEMERAL_LO)

static const char *const state_names[] = {
    [TCP_CLOSED] = "CLOSED",           [TCP_LISTEN] = "LISTEN",
    [TCP_SYN_SENT] = "SYN_SENT",       [TCP_SYN_RECEIVED] = "SYN_RECEIVED",
    [TCP_ESTABLISHED] = "ESTABLISHED", [TCP_FIN_WAIT_1] = "FIN_WAIT_1",
    [TCP_FIN_WAIT_2] = "FIN_WAIT_2",   [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
    [TCP_CLOSING] = "CLOSING",         [TCP_LAST_ACK] = "LAST_ACK",
    [TCP_TIME_WAIT] = "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
    return (unsigned)s <= TCP_TIME_WAIT ? state_names[s] : "?";
}

#define SET_DEFAULT(field, value)                                                              \
    do {                                                                                       \
        if (!(field))                                                                          \
            (field) = (value);                                                                 \
    } while (0)

int tcp_init(struct tcp *tcp, const struct tcp_cfg *cfg, const struct tcp_ops *ops, void *ctx,
             uint64_t now)
{
    if (!cfg || !ops || !ops->send || !cfg->mem || !cfg->n_conns || cfg->mss < 64 ||
        cfg->rx_size < 2u * cfg->mss || cfg->tx_size < 2u * cfg->mss ||
        cfg->rx_size > (1u << 30) || cfg->tx_size > (1u << 30) ||
        cfg->mem_len < TCP_MEM(cfg->n_conns, cfg->rx_size, cfg->tx_size) ||
        (cfg->n_listeners && !cfg->listeners))
        return NET_EINVAL;
    memset(tcp, 0, sizeof(*tcp));
    tcp->cfg = *cfg;
    struct tcp_cfg *c = &tcp->cfg;
    SET_DEFAULT(c->rto_initial_ns, DEFAULT_RTO_INITIAL_NS);
    SET_DEFAULT(c->rto_min_ns, DEFAULT_RTO_MIN_NS);
    SET_DEFAULT(c->rto_max_ns, DEFAULT_RTO_MAX_NS);
    SET_DEFAULT(c->max_retries, DEFAULT_MAX_RETRIES);
    SET_DEFAULT(c->syn_retries, DEFAULT_SYN_RETRIES);
    SET_DEFAULT(c->delack_ns, DEFAULT_DELACK_NS);
    SET_DEFAULT(c->msl_ns, DEFAULT_MSL_NS);
    SET_DEFAULT(c->fin_wait_2_ns, DEFAULT_FIN_WAIT_2_NS);
    SET_DEFAULT(c->keepalive_idle_ns, DEFAULT_KEEPALIVE_IDLE_NS);
    SET_DEFAULT(c->keepalive_interval_ns, DEFAULT_KEEPALIVE_INTERVAL_NS);
    SET_DEFAULT(c->keepalive_probes, DEFAULT_KEEPALIVE_PROBES);
    SET_DEFAULT(c->challenge_ack_limit, DEFAULT_CHALLENGE_ACK_LIMIT);
    tcp->ops = ops;
    tcp->ctx = ctx;

    /* Carve the caller's memory: connections, TIME_WAIT records, both kinds of buckets,
     * then the rings. */
    uintptr_t p = ((uintptr_t)cfg->mem + 15) & ~(uintptr_t)15;
    tcp->conns = (struct tcp_conn *)p;
    p += (uintptr_t)cfg->n_conns * sizeof(struct tcp_conn);
    tcp->tw = (struct tcp_tw *)p;
    tcp->tw_cap = cfg->n_conns * TCP_TW_PER_CONN;
    p += (uintptr_t)tcp->tw_cap * sizeof(struct tcp_tw);
    tcp->n_buckets = 1;
    while (tcp->n_buckets * 2 <= cfg->n_conns)
        tcp->n_buckets *= 2;
    tcp->buckets = (uint32_t *)p;
    p += (uintptr_t)cfg->n_conns * sizeof(uint32_t);
    memset(tcp->buckets, 0, tcp->n_buckets * sizeof(uint32_t));
    /* As many buckets as the connections have: a full ring averages eight records a chain,
     * but only segments that match no connection (SYNs, strays) look there, and zeroing
     * more at boot costs more under an emulating hypervisor. */
    tcp->tw_buckets = (uint32_t *)p;
    p += (uintptr_t)cfg->n_conns * sizeof(uint32_t);
    memset(tcp->tw_buckets, 0, tcp->n_buckets * sizeof(uint32_t));
    tcp->rings = (uint8_t *)p; /* the slots themselves wait until first used (n_fresh) */
    if (cfg->n_listeners)
        memset(cfg->listeners, 0, cfg->n_listeners * sizeof(*cfg->listeners));

    tcp->rng.state = cfg->seed ^ 0x7c9a3b5dull;
    tcp->secret[0] = net_rng_next(&tcp->rng);
    tcp->secret[1] = net_rng_next(&tcp->rng);
    tcp->ts_secret = net_rng_next(&tcp->rng);
    tcp->challenge_tokens = c->challenge_ack_limit;
    tcp->challenge_refilled = now;
    tcp->next_deadline = UINT64_MAX;
    return NET_OK;
}

/* ---- Table ---------------------------------------------------------------------- */

static uint32_t bucket_of(const struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport)
{
    return tcp_tuple_hash(tcp, rip, lport, rport) & (tcp->n_buckets - 1);
}

static uint32_t index_of(const struct tcp *tcp, const struct tcp_conn *c)
{
    return (uint32_t)(c - tcp->conns);
}

/* The open connections are linked, so that the timer walk visits them and not the whole
 * table: under a hypervisor that emulates each instruction (this machine's PVM) a walk of
 * 4000 mostly idle slots per due timer was a tenth of a request's time. */
static void live_link(struct tcp *tcp, struct tcp_conn *c)
{
    uint32_t me = index_of(tcp, c) + 1;
    c->live_prev = 0;
    c->live_next = tcp->live_head;
    if (tcp->live_head)
        tcp->conns[tcp->live_head - 1].live_prev = me;
    tcp->live_head = me;
}

static void live_unlink(struct tcp *tcp, struct tcp_conn *c)
{
    if (tcp->walk_next == index_of(tcp, c) + 1)
        tcp->walk_next = c->live_next; /* freed under tcp_poll's feet: it skips to the next */
    if (c->live_prev)
        tcp->conns[c->live_prev - 1].live_next = c->live_next;
    else
        tcp->live_head = c->live_next;
    if (c->live_next)
        tcp->conns[c->live_next - 1].live_prev = c->live_prev;
    c->live_prev = c->live_next = 0;
}

static bool is_tuple(const struct tcp_conn *c, net_ip4 rip, uint16_t lport, uint16_t rport)
{
    return c->state != TCP_CLOSED && c->remote_ip == rip && c->local_port == lport &&
           c->remote_port == rport;
}

struct tcp_conn *tcp_lookup(struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport)
{
    /* Segments come in trains: the last connection found is the likeliest next. */
    struct tcp_conn *last = &tcp->conns[tcp->last_hit];
    if (is_tuple(last, rip, lport, rport))
        return last;
    uint32_t i = tcp->buckets[bucket_of(tcp, rip, lport, rport)];
    while (i) {
        struct tcp_conn *c = &tcp->conns[i - 1];
        if (is_tuple(c, rip, lport, rport)) {
            tcp->last_hit = i - 1;
            return c;
        }
        i = c->hash_next;
    }
    return NULL;
}

static void hash_remove(struct tcp *tcp, struct tcp_conn *c)
{
    uint32_t *link = &tcp->buckets[bucket_of(tcp, c->remote_ip, c->local_port, c->remote_port)];
    uint32_t me = index_of(tcp, c) + 1;
    while (*link) {
        if (*link == me) {
            *link = c->hash_next;
            c->hash_next = 0;
            return;
        }
        link = &tcp->conns[*link - 1].hash_next;
    }
}

/* A closed slot: the last one freed, else one never used (set up now). TIME_WAIT holds
 * no slot once the application has closed (tcp_tw.c), so there is none to take back. */
static struct tcp_conn *free_slot(struct tcp *tcp)
{
    if (tcp->free_head) {
        struct tcp_conn *c = &tcp->conns[tcp->free_head - 1];
        tcp->free_head = c->hash_next;
        return c;
    }
    if (tcp->n_fresh < tcp->cfg.n_conns) {
        uint32_t i = tcp->n_fresh++;
        struct tcp_conn *c = &tcp->conns[i];
        memset(c, 0, sizeof(*c));
        c->rx = tcp->rings + (size_t)i * (tcp->cfg.rx_size + tcp->cfg.tx_size);
        c->tx = c->rx + tcp->cfg.rx_size;
        return c;
    }
    return NULL;
}

/* RFC 7323 5.4 recommends a random timestamp offset per connection; derived from the
 * tuple so a stateless SYN-ACK (cookie) and the connection it becomes agree on it. */
uint32_t tcp_ts_offset(const struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport)
{
    uint32_t key[3] = {rip, lport, rport};
    uint64_t k[2] = {tcp->ts_secret, tcp->secret[0]};
    return (uint32_t)siphash24(k, key, sizeof(key));
}

/* Our window scale: the smallest shift that lets 16 bits cover the receive ring. */
uint8_t tcp_rcv_ws(const struct tcp *tcp)
{
    uint8_t ws = 0;
    while (ws < TCP_WS_MAX && (tcp->cfg.rx_size >> ws) > 65535)
        ws++;
    return ws;
}

uint32_t tcp_ts_now(const struct tcp_conn *c, uint64_t now)
{
    return (uint32_t)(now / NET_NS_PER_MS) + c->ts_offset;
}

struct tcp_conn *tcp_conn_new(struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport,
                              uint64_t now)
{
    struct tcp_conn *c = free_slot(tcp);
    if (!c) {
        tcp->stats.table_full++;
        return NULL;
    }
    uint8_t *rx = c->rx, *tx = c->tx;
    uint32_t gen = c->gen;
    memset(c, 0, sizeof(*c));
    c->rx = rx;
    c->tx = tx;
    c->gen = gen;
    c->rx_size = tcp->cfg.rx_size;
    c->tx_size = tcp->cfg.tx_size;
    c->local_ip = tcp->cfg.addr;
    c->remote_ip = rip;
    c->local_port = lport;
    c->remote_port = rport;
    c->snd_mss = TCP_DEFAULT_MSS;
    c->rto_ns = tcp->cfg.rto_initial_ns;
    c->ssthresh = UINT32_MAX;
    c->state_since = now;
    c->last_rx = now;
    c->ts_offset = tcp_ts_offset(tcp, rip, lport, rport);
    c->rcv_ws = tcp_rcv_ws(tcp);
    c->state = TCP_SYN_SENT; /* any non-CLOSED state marks the slot used; callers set it */
    uint32_t *bucket = &tcp->buckets[bucket_of(tcp, rip, lport, rport)];
    c->hash_next = *bucket;
    *bucket = index_of(tcp, c) + 1;
    live_link(tcp, c);
    tcp->n_used++;
    tcp->stats.opened++;
    return c;
}

void tcp_set_state(struct tcp *tcp, struct tcp_conn *c, enum tcp_state s, uint64_t now)
{
    if (c->state == TCP_SYN_RECEIVED && s != TCP_SYN_RECEIVED && c->listener) {
        struct tcp_listener *l = &tcp->cfg.listeners[c->listener - 1];
        if (l->half_open)
            l->half_open--;
    }
    c->state = s;
    c->state_since = now;
}

void tcp_conn_free(struct tcp *tcp, struct tcp_conn *c, enum tcp_close_reason why)
{
    if (c->state == TCP_CLOSED || (c->flags & CF_DYING))
        return;
    c->flags |= CF_DYING;
    c->close_reason = (uint8_t)why;
    if (!(c->flags & CF_DETACHED) && tcp->ops->event)
        tcp->ops->event(tcp->ctx, c, TCP_EV_CLOSED, c->user);
    tcp_set_state(tcp, c, TCP_CLOSED, c->state_since);
    hash_remove(tcp, c);
    live_unlink(tcp, c);
    tcp_unblock(tcp, c);
    c->gen++;
    c->flags = 0;
    c->user = NULL;
    c->hash_next = tcp->free_head; /* out of the hash: its link serves the free stack */
    tcp->free_head = index_of(tcp, c) + 1;
    tcp->n_used--;
    tcp->stats.closed++;
}

bool tcp_alive(const struct tcp_conn *c, uint32_t gen)
{
    return c->gen == gen && c->state != TCP_CLOSED;
}

void tcp_notify(struct tcp *tcp, struct tcp_conn *c, enum tcp_event ev)
{
    if (c->flags & (CF_DETACHED | CF_DYING) || !tcp->ops->event)
        return;
    void *user = c->user;
    if (ev == TCP_EV_ACCEPTED && c->listener)
        user = tcp->cfg.listeners[c->listener - 1].user;
    tcp->ops->event(tcp->ctx, c, ev, user);
}

void tcp_arm(struct tcp *tcp, uint64_t *timer, uint64_t at)
{
    *timer = at;
    if (at && at < tcp->next_deadline)
        tcp->next_deadline = at;
}

uint32_t tcp_conns_in_use(const struct tcp *tcp)
{
    return tcp->n_used;
}

uint32_t tcp_slots_never_used(const struct tcp *tcp)
{
    return tcp->cfg.n_conns - tcp->n_fresh;
}

size_t tcp_untouched_bytes(const struct tcp *tcp)
{
    size_t slot = sizeof(struct tcp_conn) + tcp->cfg.rx_size + tcp->cfg.tx_size;
    return (size_t)tcp_slots_never_used(tcp) * slot +
           (size_t)(tcp->tw_cap - tcp->tw_fresh) * sizeof(struct tcp_tw);
}

/* ---- Demux ---------------------------------------------------------------------- */

static struct tcp_listener *listener_for(const struct tcp *tcp, uint16_t port)
{
    for (size_t i = 0; i < tcp->cfg.n_listeners; i++)
        if (tcp->cfg.listeners[i].port == port)
            return &tcp->cfg.listeners[i];
    return NULL;
}

bool tcp_listening(const struct tcp *tcp, uint16_t port)
{
    return listener_for(tcp, port) != NULL;
}

/* RFC 6191 2: a SYN may reopen a TIME_WAIT connection when it is certainly new — its
 * timestamp is newer than any the old incarnation sent, or equal (timestamps tick in
 * milliseconds; a quick client reconnects within one) with a sequence number beyond the
 * old one's; without timestamps, the sequence number alone decides. */
bool tcp_syn_is_new(bool ts, uint32_t ts_recent, uint32_t rcv_nxt, const struct tcp_repr *seg)
{
    if (ts && seg->has_ts)
        return seq_gt(seg->ts_val, ts_recent) ||
               (seg->ts_val == ts_recent && seq_gt(seg->seq, rcv_nxt));
    return seq_gt(seg->seq, rcv_nxt);
}

void tcp_input(struct tcp *tcp, const struct ipv4_repr *ip, const uint8_t *buf, size_t len,
               uint64_t now)
{
    struct tcp_repr seg;
    enum tcp_defect why;
    tcp->stats.rx_segments++;
    if (tcp_parse(buf, len, ip->src, ip->dst, &seg, &why) < 0) {
        switch (why) {
        case TCP_DEFECT_CHECKSUM: tcp->stats.rx_bad_checksum++; break;
        case TCP_DEFECT_OPTIONS: tcp->stats.rx_bad_options++; break;
        case TCP_DEFECT_PORT: tcp->stats.rx_bad_port++; break;
        default: tcp->stats.rx_truncated++; break;
        }
        return;
    }
    /* RFC 1122 4.2.3.10: segments to broadcast or multicast addresses are dropped. */
    if (ip->to_broadcast || ip->link_broadcast || net_ip4_is_multicast(ip->dst) ||
        ip->dst != tcp->cfg.addr) {
        tcp->stats.rx_bad_addr++;
        return;
    }
    struct tcp_conn *c = tcp_lookup(tcp, ip->src, seg.dst_port, seg.src_port);
    if (c && c->state == TCP_TIME_WAIT && (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
        listener_for(tcp, seg.dst_port) &&
        tcp_syn_is_new(c->flags & CF_TS, c->ts_recent, c->rcv_nxt, &seg)) {
        tcp->stats.time_wait_reopened++;
        tcp_conn_free(tcp, c, TCP_REASON_NORMAL);
        c = NULL;
    }
    if (c) {
        tcp_input_conn(tcp, c, &seg, now);
        return;
    }
    struct tcp_tw *tw = tcp_tw_lookup(tcp, ip->src, seg.dst_port, seg.src_port);
    if (tw && tcp_tw_input(tcp, tw, &seg, now))
        return;
    struct tcp_listener *l = listener_for(tcp, seg.dst_port);
    if (l) {
        tcp_input_listen(tcp, l, ip, &seg, now);
        return;
    }
    tcp->stats.rx_no_conn++;
    tcp_reply_rst(tcp, ip, &seg, now);
}

/* ---- Application verbs -------------------------------------------------------------- */

int tcp_listen(struct tcp *tcp, uint16_t port, uint16_t backlog, void *user)
{
    if (!port || listener_for(tcp, port))
        return NET_EINVAL;
    struct tcp_listener *l = listener_for(tcp, 0);
    if (!l)
        return NET_ENOBUFS;
    *l = (struct tcp_listener){.port = port, .backlog = backlog ? backlog : 1, .user = user};
    return NET_OK;
}

int tcp_unlisten(struct tcp *tcp, uint16_t port, uint64_t now)
{
    struct tcp_listener *l = port ? listener_for(tcp, port) : NULL;
    if (!l)
        return NET_EINVAL;
    uint16_t idx = (uint16_t)(l - tcp->cfg.listeners + 1);
    for (uint32_t i = 0; i < tcp->n_fresh; i++) {
        struct tcp_conn *c = &tcp->conns[i];
        if (c->state != TCP_CLOSED && c->listener == idx) {
            if (c->state == TCP_SYN_RECEIVED)
                tcp_abort(tcp, c, now);
            else
                c->listener = 0;
        }
    }
    memset(l, 0, sizeof(*l));
    return NET_OK;
}

struct tcp_conn *tcp_connect(struct tcp *tcp, net_ip4 dst, uint16_t dst_port, uint16_t src_port,
                             void *user, uint64_t now, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!dst || !dst_port || dst == NET_IP4_BROADCAST || net_ip4_is_multicast(dst)) {
        *err = NET_EINVAL;
        return NULL;
    }
    if (!src_port) {
        /* A random start, then the next free port (RFC 6056 algorithm 1's spirit). */
        uint32_t start = (uint32_t)net_rng_next(&tcp->rng) % EPHEMERAL_N;
        for (uint32_t k = 0; k < EPHEMERAL_N; k++) {
            uint16_t p = (uint16_t)(EPHEMERAL_LO + (start + k) % EPHEMERAL_N);
            if (!listener_for(tcp, p) && !tcp_lookup(tcp, dst, p, dst_port) &&
                !tcp_tw_lookup(tcp, dst, p, dst_port)) {
                src_port = p;
                break;
            }
        }
    } else if (tcp_lookup(tcp, dst, src_port, dst_port) ||
               tcp_tw_lookup(tcp, dst, src_port, dst_port)) {
        src_port = 0;
    }
    if (!src_port) {
        *err = NET_EINVAL;
        return NULL;
    }
    struct tcp_conn *c = tcp_conn_new(tcp, dst, src_port, dst_port, now);
    if (!c) {
        *err = NET_ENOBUFS;
        return NULL;
    }
    c->user = user;
    c->iss = tcp_isn(tcp, tcp->cfg.addr, src_port, dst, dst_port, now);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->snd_mss = tcp->cfg.mss; /* until the SYN-ACK says otherwise */
    tcp_set_state(tcp, c, TCP_SYN_SENT, now);
    tcp_output(tcp, c, now);
    *err = NET_OK;
    return c;
}

static bool can_send(const struct tcp_conn *c)
{
    if (c->flags & (CF_SHUT_WR | CF_DYING))
        return false;
    return c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED ||
           c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
}

static int enqueue(struct tcp_conn *c, const void *data, size_t len);

int tcp_send(struct tcp *tcp, struct tcp_conn *c, const void *data, size_t len, uint64_t now)
{
    int n = enqueue(c, data, len);
    if (n >= 0) {
        c->flags &= (uint16_t)~CF_MORE;
        tcp_output(tcp, c, now);
    }
    return n;
}

int tcp_send_more(struct tcp *tcp, struct tcp_conn *c, const void *data, size_t len,
                  uint64_t now)
{
    int n = enqueue(c, data, len);
    if (n >= 0) {
        c->flags |= CF_MORE;
        tcp_output(tcp, c, now);
    }
    return n;
}

static int enqueue(struct tcp_conn *c, const void *data, size_t len)
{
    if (!can_send(c))
        return NET_EINVAL;
    uint32_t n = tcp_sendq_copy(c, data, len);
    if (n < len || !tcp_sendq_room(c))
        c->flags |= CF_WANT_WRITE; /* the writer may now wait for room: tell it when */
    return (int)n;
}

int tcp_send_static(struct tcp *tcp, struct tcp_conn *c, const void *data, size_t len,
                    bool more, uint64_t now)
{
    if (!can_send(c))
        return NET_EINVAL;
    if (!tcp_sendq_static(c, data, len)) {
        c->flags |= CF_WANT_WRITE;
        return 0;
    }
    if (more)
        c->flags |= CF_MORE;
    else
        c->flags &= (uint16_t)~CF_MORE;
    tcp_output(tcp, c, now);
    return (int)len;
}

int tcp_recv(struct tcp *tcp, struct tcp_conn *c, void *buf, size_t cap, uint64_t now)
{
    if (c->state == TCP_CLOSED || (c->flags & CF_DYING))
        return NET_EINVAL;
    uint32_t n = cap < c->rx_len ? (uint32_t)cap : c->rx_len;
    if (!n)
        return 0; /* how a reader learns it has everything: keep it cheap */
    uint32_t first = n < c->rx_size - c->rx_head ? n : c->rx_size - c->rx_head;
    memcpy(buf, c->rx + c->rx_head, first);
    if (n > first)
        memcpy((uint8_t *)buf + first, c->rx, n - first);
    c->rx_head += n;
    if (c->rx_head >= c->rx_size)
        c->rx_head -= c->rx_size; /* n <= rx_size: one wrap at most, and no division */
    c->rx_len -= n;
    /* RFC 9293 3.8.6.2.2: announce the opened window once it has grown by
     * min(half the buffer, one MSS) beyond what the peer last heard. */
    if (tcp_window_update_due(c) &&
        (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
         c->state == TCP_FIN_WAIT_2)) {
        c->flags |= CF_ACK_NOW;
        tcp_output(tcp, c, now);
    }
    return (int)n; /* never an event from here: the caller may be inside one */
}

static void queue_fin(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    c->flags |= CF_SHUT_WR;
    c->flags &= (uint16_t)~CF_MORE; /* the FIN ends the write: no tail waits any longer */
    switch (c->state) {
    case TCP_SYN_SENT:
        /* Nothing is owed to the peer yet: a closed connection just goes; a shut one
         * sends its FIN once established (input_syn_sent). */
        if (c->flags & CF_DETACHED)
            tcp_conn_free(tcp, c, TCP_REASON_NORMAL);
        return;
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
        tcp_set_state(tcp, c, TCP_FIN_WAIT_1, now);
        break;
    case TCP_CLOSE_WAIT:
        tcp_set_state(tcp, c, TCP_LAST_ACK, now);
        break;
    default:
        return;
    }
    tcp_output(tcp, c, now);
}

int tcp_shutdown(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (c->state == TCP_CLOSED || (c->flags & CF_DYING))
        return NET_EINVAL;
    if (!(c->flags & CF_SHUT_WR))
        queue_fin(tcp, c, now);
    return NET_OK;
}

/* LAST_ACK with our FIN acknowledged: only unread data kept it (tcp_in.c). */
static bool finished(const struct tcp_conn *c)
{
    return c->state == TCP_LAST_ACK && (c->flags & CF_FIN_SENT) && c->snd_una == c->snd_max;
}

int tcp_close(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (c->state == TCP_CLOSED || (c->flags & CF_DYING))
        return NET_EINVAL;
    if (finished(c)) {
        c->flags |= CF_DETACHED;
        tcp_conn_free(tcp, c, TCP_REASON_NORMAL);
        return NET_OK;
    }
    /* RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread data resets, so the peer
     * learns its data was not consumed. */
    if (c->rx_len) {
        tcp_abort(tcp, c, now);
        return NET_OK;
    }
    c->flags |= CF_DETACHED;
    c->user = NULL;
    if (!(c->flags & CF_SHUT_WR))
        queue_fin(tcp, c, now);
    else if (c->state == TCP_FIN_WAIT_2)
        tcp_arm(tcp, &c->keep_at, now + tcp->cfg.fin_wait_2_ns);
    tcp_tw_settle(tcp, c, now); /* closed in TIME_WAIT: the slot is no longer needed */
    return NET_OK;
}

void tcp_abort(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (c->state == TCP_CLOSED || (c->flags & CF_DYING))
        return;
    if (c->state != TCP_SYN_SENT && c->state != TCP_TIME_WAIT && !finished(c))
        tcp_send_rst(tcp, c, now);
    c->flags |= CF_DETACHED;
    tcp_conn_free(tcp, c, TCP_REASON_NONE);
}

void tcp_set_user(struct tcp_conn *c, void *user)
{
    c->user = user;
}

void tcp_set_nodelay(struct tcp_conn *c, bool on)
{
    if (on)
        c->flags |= CF_NODELAY;
    else
        c->flags &= (uint16_t)~CF_NODELAY;
}

void tcp_set_keepalive(struct tcp *tcp, struct tcp_conn *c, bool on, uint64_t now)
{
    if (!on) {
        c->flags &= (uint16_t)~CF_KEEPALIVE;
        if (c->state == TCP_ESTABLISHED)
            c->keep_at = 0;
        return;
    }
    c->flags |= CF_KEEPALIVE;
    c->keepalive_probes = 0;
    if (c->state == TCP_ESTABLISHED)
        tcp_arm(tcp, &c->keep_at, c->last_rx + tcp->cfg.keepalive_idle_ns);
}

bool tcp_peer_closed(const struct tcp_conn *c)
{
    return c->fin_seen && !c->rx_len;
}

void tcp_conn_info(const struct tcp_conn *c, struct tcp_conn_info *info)
{
    memset(info, 0, sizeof(*info));
    info->state = c->state;
    info->reason = (enum tcp_close_reason)c->close_reason;
    info->remote_ip = c->remote_ip;
    info->local_port = c->local_port;
    info->remote_port = c->remote_port;
    info->snd_mss = c->snd_mss;
    info->cwnd = c->cwnd;
    info->ssthresh = c->ssthresh;
    info->snd_wnd = c->snd_wnd;
    info->rcv_wnd = tcp_rcv_wnd(c);
    info->srtt_ns = c->srtt_ns;
    info->rto_ns = c->rto_ns;
    info->unread = c->rx_len;
    uint32_t sent = c->snd_nxt - tcp_ring_seq(c);
    if (sent > c->tx_len)
        sent = c->tx_len; /* the FIN or SYN is in flight too */
    info->unsent = c->tx_len - sent;
    info->in_flight = c->snd_nxt - c->snd_una;
    info->tx_free = (c->flags & CF_SHUT_WR) ? 0 : tcp_sendq_room(c);
    info->acked_at = c->acked_at;
    info->peer_closed = tcp_peer_closed(c);
    info->sack = (c->flags & CF_SACK) != 0;
    info->timestamps = (c->flags & CF_TS) != 0;
    info->window_scaling = (c->flags & CF_WS) != 0;
    info->bytes_in = c->bytes_in;
    info->bytes_out = c->bytes_out;
    info->retransmits = c->retransmits;
}
