/*
 * tcp_support.h — conversation helpers shared by the test_tcp_*.c suites (connection
 * lifecycle, hostile segments, data path). Not an API: everything is static, each suite
 * gets its own copy.
 *
 * The remote side is a `struct peer` at 10.0.0.1 (fr_mac_peer) talking to a testbed
 * node at 10.0.0.2 (testbed_default_cfg()). Its segments are built with harness/frames.h,
 * never with the stack's emitter, and what the stack sends is read back with expect_seg,
 * which verifies the Ethernet, IPv4 and TCP headers (checksums by frames.h's naive sum)
 * before handing over the parsed header and a copy of the payload:
 *
 *     struct testbed tb;
 *     tcp_start(&tb, NULL);                          node up, peer's MAC learned
 *     struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
 *     struct tcp_conn *c = open_passive(&tb, &p, T0);  listen, SYN, SYN-ACK, ACK
 *     peer_send(&tb, &p, TCP_ACK | TCP_PSH, "hi", 2, T0 + 10 * MS);
 *     struct seg s = expect_flags(&tb, TCP_ACK);     (or expect_seg and check fields)
 *     peer_saw(&p, &s);                              the peer now acks what it saw
 *     expect_nothing(&tb);
 *
 * Every helper that sends takes the time at which it happens; the testbed runs the
 * timers due before it.
 */
#ifndef TESTS_UNIT_TCP_SUPPORT_H
#define TESTS_UNIT_TCP_SUPPORT_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "frames.h"
#include "netstack/eth_wire.h"
#include "netstack/ipv4_wire.h"
#include "netstack/node.h"
#include "netstack/tcp.h"
#include "support.h"
#include "testbed.h"

#define PEER_PORT 40000
#define OUR_PORT 80
#define PEER_ISN 0x10000000u
#define PEER_WINDOW 65535
#define PEER_MSS 1460
#define PEER_WS 7
#define PEER_TS 5000u /* the peer's first TSval */
#define OUR_MSS 1460  /* MTU 1500 - 40 */

#define TCP_OF(tb) (&(tb)->node->tcp)

/* Options the peer puts on its SYN (or SYN-ACK). */
#define PO_MSS 0x01
#define PO_WS 0x02
#define PO_SACK 0x04
#define PO_TS 0x08
#define PO_ALL (PO_MSS | PO_WS | PO_SACK | PO_TS)

struct peer {
    net_ip4 ip;        /* PEER */
    uint16_t port;     /* its port */
    uint16_t our_port; /* the node's port */
    uint32_t seq;      /* sequence number of its next segment */
    uint32_t ack;      /* what it acknowledges: the node's next sequence number */
    uint16_t window;   /* window field as sent (unscaled) */
    uint8_t syn_opts;  /* PO_* on its SYN */
    uint16_t mss;      /* MSS it announces */
    uint8_t ws;        /* its window-scale shift */
    bool ts;           /* timestamps negotiated: every non-SYN segment carries TS */
    uint32_t ts_val;   /* TSval of its next segment (advances by one per segment) */
    uint32_t ts_ecr;   /* the last TSval it saw from the node */
};

static inline struct peer peer_new(uint16_t port, uint16_t our_port, uint8_t syn_opts)
{
    return (struct peer){.ip = PEER,
                         .port = port,
                         .our_port = our_port,
                         .seq = PEER_ISN,
                         .window = PEER_WINDOW,
                         .syn_opts = syn_opts,
                         .mss = PEER_MSS,
                         .ws = PEER_WS,
                         .ts_val = PEER_TS};
}

/* Node up with the default configuration (tune: optional timer tunables), and the
 * peer's MAC learned so the node's segments leave at once. */
static inline void tcp_start_cfg(struct testbed *tb, struct node_cfg *cfg)
{
    cr_assert_eq(testbed_init(tb, cfg, T0), NET_OK, "testbed_init failed");
    learn_peer(tb, T0);
}

static inline void tcp_start(struct testbed *tb, const struct tcp_cfg *tune)
{
    struct node_cfg cfg = testbed_default_cfg();
    cfg.tcp_tune = tune;
    tcp_start_cfg(tb, &cfg);
}

/* ---- What the peer sends --------------------------------------------------------- */

/* SYN options as Linux lays them out: MSS, SACK-permitted, TS, WS. */
static inline size_t peer_syn_options(const struct peer *p, uint8_t *o)
{
    size_t n = 0;
    if (p->syn_opts & PO_MSS)
        n += fr_tcp_opt_mss(o + n, p->mss);
    if (p->syn_opts & PO_SACK)
        n += fr_tcp_opt_sack_perm(o + n);
    if (p->syn_opts & PO_TS)
        n += fr_tcp_opt_ts(o + n, p->ts_val, p->ts_ecr);
    if (p->syn_opts & PO_WS)
        n += fr_tcp_opt_ws(o + n, p->ws);
    return n;
}

/* Exactly this segment from the peer's address and port, whatever the peer's state;
 * nothing in `p` changes. */
static inline void peer_send_raw(struct testbed *tb, const struct peer *p, uint32_t seq,
                                 uint32_t ack, uint8_t flags, uint16_t window, const uint8_t *opts,
                                 size_t opts_len, const void *payload, size_t len, uint64_t at)
{
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    struct fr_tcp t = {.sport = p->port,
                       .dport = p->our_port,
                       .seq = seq,
                       .ack = ack,
                       .flags = flags,
                       .window = window,
                       .options = opts,
                       .options_len = opts_len};
    cr_assert_leq(ETH_HDR_LEN + IPV4_HDR_LEN + TCP_HDR_LEN + opts_len + len,
                  (size_t)FAKE_LINK_FRAME_MAX, "test segment too large");
    size_t n = fr_tcp(buf, &mac_us, &fr_mac_peer, p->ip, US, &t, payload, len);
    tb_send(tb, buf, n, at);
}

/* The TS option for the peer's next segment (12 bytes), its clock advanced. */
static inline size_t peer_ts_option(struct peer *p, uint8_t *o)
{
    return fr_tcp_opt_ts(o, p->ts_val++, p->ts_ecr);
}

/* Explicit seq/ack/window; options: the peer's SYN options on a SYN, else TS when
 * negotiated. The peer's clock advances; seq/ack do not. */
static inline void peer_send_seg(struct testbed *tb, struct peer *p, uint32_t seq, uint32_t ack,
                                 uint8_t flags, uint16_t window, const void *payload, size_t len,
                                 uint64_t at)
{
    uint8_t o[TCP_OPT_MAX];
    size_t n = 0;
    if (flags & TCP_SYN) {
        n = peer_syn_options(p, o);
        p->ts_val++;
    } else if (p->ts) {
        n = peer_ts_option(p, o);
    }
    peer_send_raw(tb, p, seq, ack, flags, window, o, n, payload, len, at);
}

/* The peer's next segment: its seq, its ack (when ACK is set), its window; seq advances
 * by the payload, SYN and FIN. */
static inline void peer_send(struct testbed *tb, struct peer *p, uint8_t flags, const void *payload,
                             size_t len, uint64_t at)
{
    peer_send_seg(tb, p, p->seq, (flags & TCP_ACK) ? p->ack : 0, flags, p->window, payload, len,
                  at);
    p->seq += (uint32_t)len + ((flags & TCP_SYN) ? 1u : 0u) + ((flags & TCP_FIN) ? 1u : 0u);
}

/* ---- What the node sends --------------------------------------------------------- */

struct seg {
    struct tcp_repr r; /* r.payload points into `data` */
    uint8_t data[FAKE_LINK_FRAME_MAX];
    size_t len;  /* payload bytes */
    uint64_t at; /* when it left */
    net_ip4 dst;
    struct net_mac eth_dst;
};

/* Sequence space the segment occupies: payload, SYN and FIN. */
static inline uint32_t seg_space(const struct seg *s)
{
    return (uint32_t)s->len + ((s->r.flags & TCP_SYN) ? 1u : 0u) +
           ((s->r.flags & TCP_FIN) ? 1u : 0u);
}

static inline const char *flag_str(uint8_t f, char *buf)
{
    static const char names[] = "FSRPAUEC";
    size_t n = 0;
    for (int i = 0; i < 8; i++)
        if (f & (1u << i))
            buf[n++] = names[i];
    if (!n)
        buf[n++] = '.';
    buf[n] = 0;
    return buf;
}

/* Parse a frame the node sent: Ethernet from mac_us, IPv4 from US (valid header
 * checksum, unfragmented), TCP with a valid checksum over the pseudo-header. */
static inline void parse_seg(const struct fake_frame *f, struct seg *s)
{
    memset(s, 0, sizeof(*s));
    cr_assert_geq(f->len, (size_t)ETH_HDR_LEN, "runt frame");
    uint16_t type = net_get16(f->data + ETH_OFF_TYPE);
    cr_assert_eq(type, ETH_TYPE_IPV4, "expected a TCP segment, the node sent EtherType 0x%04x",
                 type);
    cr_assert(memcmp(f->data + ETH_OFF_SRC, mac_us.b, NET_MAC_LEN) == 0, "wrong MAC source");
    memcpy(s->eth_dst.b, f->data + ETH_OFF_DST, NET_MAC_LEN);
    const uint8_t *ip = f->data + ETH_HDR_LEN;
    cr_assert_eq(ip[IPV4_OFF_VER_IHL], 0x45, "IPv4 header with options or bad version");
    cr_assert_eq(fr_csum(ip, IPV4_HDR_LEN), 0, "bad IPv4 header checksum");
    cr_assert_eq(ip[IPV4_OFF_PROTO], IPV4_PROTO_TCP, "expected TCP, the node sent IP proto %u",
                 ip[IPV4_OFF_PROTO]);
    cr_assert_eq(net_get16(ip + IPV4_OFF_FRAG) & (IPV4_FLAG_MF | IPV4_FRAG_MASK), 0,
                 "TCP segment fragmented");
    cr_assert_eq(net_get32(ip + IPV4_OFF_SRC), US, "IPv4 source is not ours");
    size_t total = net_get16(ip + IPV4_OFF_LEN);
    cr_assert_geq(total, (size_t)(IPV4_HDR_LEN + TCP_HDR_LEN), "IPv4 too short for TCP");
    cr_assert_leq(ETH_HDR_LEN + total, f->len, "IPv4 length past the frame");
    s->dst = net_get32(ip + IPV4_OFF_DST);
    const uint8_t *tcp = ip + IPV4_HDR_LEN;
    size_t tlen = total - IPV4_HDR_LEN;
    /* Independent checksum: pseudo-header + segment, summed naively. */
    uint8_t ps[12 + FAKE_LINK_FRAME_MAX];
    net_put32(ps, US);
    net_put32(ps + 4, s->dst);
    ps[8] = 0;
    ps[9] = IPV4_PROTO_TCP;
    net_put16(ps + 10, (uint16_t)tlen);
    memcpy(ps + 12, tcp, tlen);
    cr_assert_eq(fr_csum(ps, 12 + tlen), 0, "bad TCP checksum");
    enum tcp_defect why = TCP_DEFECT_NONE;
    cr_assert_eq(tcp_parse(tcp, tlen, US, s->dst, &s->r, &why), NET_OK,
                 "node sent a TCP segment it cannot parse itself (defect %d)", why);
    s->len = s->r.payload_len;
    memcpy(s->data, s->r.payload, s->len);
    s->r.payload = s->data;
    s->at = f->ts;
}

/* The next segment the node sent (fails the test if there is none, or it isn't TCP). */
static inline struct seg expect_seg(struct testbed *tb)
{
    struct seg s;
    const struct fake_frame *f = tb_next(tb);
    cr_assert_not_null(f, "expected a TCP segment at t=T0+%llu ms, the node sent nothing",
                       (unsigned long long)((tb->now - T0) / MS));
    parse_seg(f, &s);
    return s;
}

/* The next segment, with exactly these flags. */
static inline struct seg expect_flags(struct testbed *tb, uint8_t flags)
{
    struct seg s = expect_seg(tb);
    char a[9], b[9];
    cr_assert_eq(s.r.flags, flags, "expected flags [%s], got [%s] (seq %u ack %u len %zu)",
                 flag_str(flags, a), flag_str(s.r.flags, b), s.r.seq, s.r.ack, s.len);
    return s;
}

/* The node sent nothing more (a TCP segment is described in the failure). */
static inline void expect_nothing(struct testbed *tb)
{
    const struct fake_frame *f = tb_next(tb);
    if (!f)
        return;
    if (net_get16(f->data + ETH_OFF_TYPE) == ETH_TYPE_IPV4 &&
        f->data[ETH_HDR_LEN + IPV4_OFF_PROTO] == IPV4_PROTO_TCP) {
        struct seg s;
        char b[9];
        parse_seg(f, &s);
        cr_assert_fail("expected nothing, the node sent [%s] seq %u ack %u win %u len %zu",
                       flag_str(s.r.flags, b), s.r.seq, s.r.ack, s.r.window, s.len);
    }
    cr_assert_fail("expected nothing, the node sent a frame of EtherType 0x%04x",
                   net_get16(f->data + ETH_OFF_TYPE));
}

/* The peer takes in what the node sent: it now acknowledges past it and echoes its
 * timestamp. */
static inline void peer_saw(struct peer *p, const struct seg *s)
{
    uint32_t end = s->r.seq + seg_space(s);
    if ((int32_t)(end - p->ack) > 0 || (s->r.flags & TCP_SYN))
        p->ack = end;
    if (s->r.has_ts)
        p->ts_ecr = s->r.ts_val;
}

/* Our FIN: FIN|ACK at our next sequence number, acknowledging all the peer sent. */
static inline struct seg expect_our_fin(struct testbed *tb, struct peer *p)
{
    struct seg f = expect_flags(tb, TCP_FIN | TCP_ACK);
    cr_assert_eq(f.r.seq, p->ack, "FIN at seq %u, expected %u", f.r.seq, p->ack);
    cr_assert_eq(f.r.ack, p->seq, "FIN acknowledges %u, expected %u", f.r.ack, p->seq);
    cr_assert_eq(f.len, 0);
    peer_saw(p, &f);
    return f;
}

/* A pure ACK from us: seq, ack exactly. */
static inline struct seg expect_pure_ack(struct testbed *tb, uint32_t seq, uint32_t ack)
{
    struct seg a = expect_flags(tb, TCP_ACK);
    cr_assert_eq(a.r.seq, seq, "ACK at seq %u, expected %u", a.r.seq, seq);
    cr_assert_eq(a.r.ack, ack, "ACK acknowledges %u, expected %u", a.r.ack, ack);
    cr_assert_eq(a.len, 0);
    return a;
}


/* ---- Events and state ------------------------------------------------------------ */

/* The last event of kind `ev` (for any connection when `c` is NULL), or NULL. */
static inline const struct tb_tcp_event *last_event(const struct testbed *tb,
                                                    const struct tcp_conn *c, enum tcp_event ev)
{
    for (size_t i = tb->n_tcp_events; i-- > 0;)
        if (tb->tcp_events[i].ev == ev && (!c || tb->tcp_events[i].conn == c))
            return &tb->tcp_events[i];
    return NULL;
}

static inline size_t count_events(const struct testbed *tb, const struct tcp_conn *c,
                                  enum tcp_event ev)
{
    size_t n = 0;
    for (size_t i = 0; i < tb->n_tcp_events; i++)
        if (tb->tcp_events[i].ev == ev && (!c || tb->tcp_events[i].conn == c))
            n++;
    return n;
}

static inline struct tcp_conn_info conn_info(const struct tcp_conn *c)
{
    struct tcp_conn_info i;
    tcp_conn_info(c, &i);
    return i;
}

static inline void expect_state(const struct tcp_conn *c, enum tcp_state want)
{
    enum tcp_state got = conn_info(c).state;
    cr_assert_eq(got, want, "expected %s, connection is in %s", tcp_state_name(want),
                 tcp_state_name(got));
}

/* Everything readable on `c` (up to cap bytes) into buf; returns how many. */
static inline size_t recv_all(struct testbed *tb, struct tcp_conn *c, void *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        int n = tcp_recv(TCP_OF(tb), c, (uint8_t *)buf + got, cap - got, tb->now);
        cr_assert_geq(n, 0, "tcp_recv failed: %d", n);
        if (n == 0 || got + (size_t)n == cap)
            return got + (size_t)n;
        got += (size_t)n;
    }
}

/* Drop every frame the node has sent so far; returns how many there were. */
static inline size_t skip_frames(struct testbed *tb)
{
    size_t n = fake_link_pending(&tb->link);
    fake_link_clear(&tb->link);
    return n;
}

/* TCP_EV_CLOSED as the application saw it: the reason is read inside the callback,
 * while the connection pointer is still valid. */
#define CLOSE_LOG_MAX 32
struct close_log {
    size_t n;
    struct {
        struct tcp_conn *conn;
        enum tcp_close_reason reason;
        uint64_t at;
    } e[CLOSE_LOG_MAX];
};

static inline void close_log_hook(struct testbed *tb, struct tcp_conn *c, enum tcp_event ev,
                                  void *user)
{
    struct close_log *log = tb->hook_ctx;
    if (ev != TCP_EV_CLOSED || log->n >= CLOSE_LOG_MAX)
        return;
    log->e[log->n].conn = c;
    log->e[log->n].reason = conn_info(c).reason;
    log->e[log->n].at = tb->now;
    log->n++;
}

/* Install close_log_hook (replaces any tcp_hook). */
static inline void log_closes(struct testbed *tb, struct close_log *log)
{
    memset(log, 0, sizeof(*log));
    tb->tcp_hook = close_log_hook;
    tb->hook_ctx = log;
}

/* ---- Opening moves --------------------------------------------------------------- */

/* Check a SYN or SYN-ACK answers `p`'s SYN options in kind (active: offers all). */
static inline void check_syn_options(const struct seg *s, const struct peer *p, bool offer_all)
{
    uint8_t o = offer_all ? PO_ALL : p->syn_opts;
    cr_assert(s->r.has_mss, "SYN without MSS");
    cr_assert_eq(s->r.mss, OUR_MSS, "our MSS should be MTU - 40");
    cr_assert_eq(s->r.has_ws, (o & PO_WS) != 0, "window scale %s",
                 s->r.has_ws ? "sent" : "missing");
    cr_assert_eq(s->r.sack_perm, (o & PO_SACK) != 0, "SACK-permitted %s",
                 s->r.sack_perm ? "sent" : "missing");
    cr_assert_eq(s->r.has_ts, (o & PO_TS) != 0, "timestamps %s", s->r.has_ts ? "sent" : "missing");
    cr_assert_eq(s->len, 0, "SYN with data");
}

/* listen on p->our_port (backlog 8, if not yet listening), SYN at `at`, SYN-ACK, ACK:
 * the ESTABLISHED connection from TCP_EV_ACCEPTED. The peer's seq/ack end in sync. */
static inline struct tcp_conn *open_passive(struct testbed *tb, struct peer *p, uint64_t at)
{
    int rc = tcp_listen(TCP_OF(tb), p->our_port, 8, NULL);
    cr_assert(rc == NET_OK || rc == NET_EINVAL, "tcp_listen failed: %d", rc);
    size_t events = tb->n_tcp_events;
    peer_send(tb, p, TCP_SYN, NULL, 0, at);
    struct seg s = expect_flags(tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(s.r.ack, p->seq, "SYN-ACK acknowledges %u, the SYN was %u", s.r.ack, p->seq - 1);
    cr_assert_eq(s.r.src_port, p->our_port);
    cr_assert_eq(s.r.dst_port, p->port);
    check_syn_options(&s, p, false);
    p->ts = (p->syn_opts & PO_TS) && s.r.has_ts;
    peer_saw(p, &s);
    cr_assert_eq(tb->n_tcp_events, events, "an event before the handshake completed");
    peer_send(tb, p, TCP_ACK, NULL, 0, at);
    const struct tb_tcp_event *e = last_event(tb, NULL, TCP_EV_ACCEPTED);
    cr_assert(e && (size_t)(e - tb->tcp_events) >= events, "no TCP_EV_ACCEPTED after the ACK");
    expect_state(e->conn, TCP_ESTABLISHED);
    expect_nothing(tb);
    return e->conn;
}

/* tcp_connect from p->our_port at `at`, the peer answers SYN-ACK with its options, the
 * node ACKs: the connection, after TCP_EV_CONNECTED. */
static inline struct tcp_conn *open_active(struct testbed *tb, struct peer *p, uint64_t at)
{
    int err = 1;
    tb_advance(tb, at);
    struct tcp_conn *c = tcp_connect(TCP_OF(tb), p->ip, p->port, p->our_port, NULL, at, &err);
    cr_assert_not_null(c, "tcp_connect failed: %d", err);
    cr_assert_eq(err, NET_OK);
    struct seg s = expect_flags(tb, TCP_SYN);
    cr_assert_eq(s.r.src_port, p->our_port);
    cr_assert_eq(s.r.dst_port, p->port);
    check_syn_options(&s, p, true);
    peer_saw(p, &s);
    p->ts = (p->syn_opts & PO_TS) != 0;
    peer_send(tb, p, TCP_SYN | TCP_ACK, NULL, 0, at);
    struct seg a = expect_flags(tb, TCP_ACK);
    cr_assert_eq(a.r.seq, p->ack, "ACK of the handshake at seq %u, expected %u", a.r.seq, p->ack);
    cr_assert_eq(a.r.ack, p->seq, "handshake ACK acknowledges %u, expected %u", a.r.ack, p->seq);
    peer_saw(p, &a);
    const struct tb_tcp_event *e = last_event(tb, c, TCP_EV_CONNECTED);
    cr_assert_not_null(e, "no TCP_EV_CONNECTED");
    expect_state(c, TCP_ESTABLISHED);
    expect_nothing(tb);
    return c;
}

#endif
