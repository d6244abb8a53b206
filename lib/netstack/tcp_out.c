/* tcp_out.c — deciding what to send, and building it: data, SYN, FIN, ACK, RST, probes. */
#include <string.h>

#include "tcp_internal.h"

uint32_t tcp_rcv_wnd(const struct tcp_conn *c)
{
    return c->rx_size - c->rx_len;
}

uint32_t tcp_ring_seq(const struct tcp_conn *c)
{
    /* Until our SYN is acknowledged it occupies snd_una, and data starts after it. */
    return c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
}

/* Receiver silly-window avoidance (RFC 9293 3.8.6.2.2): the right edge we advertise
 * moves only in steps of min(half the buffer, one MSS), and never moves left. */
static uint32_t window_edge(const struct tcp_conn *c)
{
    uint32_t old = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv : c->rcv_nxt;
    uint32_t cand = c->rcv_nxt + tcp_rcv_wnd(c);
    uint32_t step = c->rx_size / 2 < c->snd_mss ? c->rx_size / 2 : c->snd_mss;
    return (seq_gt(cand, old) && cand - old >= step) ? cand : old;
}

/* A pure window update is worth a segment only when the window the peer knows of has
 * fallen below half the ring and reading has opened it by a step (as Linux decides);
 * otherwise the next ACK carries the news. */
bool tcp_window_update_due(const struct tcp_conn *c)
{
    uint32_t old = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv : c->rcv_nxt;
    return old - c->rcv_nxt < c->rx_size / 2 && window_edge(c) != old;
}

uint16_t tcp_advertise(struct tcp_conn *c)
{
    uint8_t ws = (c->flags & CF_WS) ? c->rcv_ws : 0;
    uint32_t wnd = window_edge(c) - c->rcv_nxt;
    /* Round up so the edge never appears to move left; input trims to the ring. */
    uint32_t field = (wnd + (1u << ws) - 1) >> ws;
    uint16_t window = (uint16_t)(field > 65535 ? 65535 : field);
    uint32_t edge = c->rcv_nxt + ((uint32_t)window << ws);
    if (seq_gt(edge, c->rcv_adv))
        c->rcv_adv = edge;
    return window;
}

/* Slices a segment's payload may need: one per run of the send queue, and one more
 * where the ring wraps (its runs are in ring order, so it wraps once at most). */
#define PAYLOAD_SLICES (TCP_SPANS_MAX + 1)

/* Hand one segment to IP: header from `r`, then iov[1..n) (iov[0] is the header's). A
 * payload over `gso` bytes is a burst the device cuts into segments of `gso` (TSO). */
static int xmit(struct tcp *tcp, net_ip4 dst, const struct tcp_repr *r, struct net_iov *iov,
                size_t n, uint32_t gso, uint64_t now)
{
    uint8_t hdr[TCP_HDR_MAX];
    int hl = tcp_emit(r, hdr, sizeof(hdr));
    if (hl < 0)
        return hl;
    iov[0] = (struct net_iov){hdr, (size_t)hl};
    size_t payload = 0;
    for (size_t i = 1; i < n; i++)
        payload += iov[i].len;
    struct ipv4_tx tx = {.dst = dst, .proto = IPV4_PROTO_TCP};
    if (tcp->cfg.csum_offload) {
        net_put16(hdr + TCP_OFF_CSUM, tcp_pseudo_sum(tcp->cfg.addr, dst, (size_t)hl + payload));
        tx.csum_at = TCP_OFF_CSUM;
        if (gso && payload > gso) {
            tx.gso_size = (uint16_t)gso;
            tx.l4_hdr_len = (uint16_t)hl;
        }
    } else {
        net_put16(hdr + TCP_OFF_CSUM, tcp_checksum(tcp->cfg.addr, dst, iov, n));
    }
    int rc = tcp->ops->send(tcp->ctx, &tx, iov, n, now);
    if (rc < 0) {
        tcp->stats.tx_failed++;
        return rc;
    }
    tcp->stats.tx_segments++;
    tcp->stats.tx_bursts += tx.gso_size != 0;
    if (r->flags & TCP_RST)
        tcp->stats.tx_resets++;
    return NET_OK;
}

int tcp_xmit_bare(struct tcp *tcp, net_ip4 dst, const struct tcp_repr *r, uint64_t now)
{
    struct net_iov iov[1];
    return xmit(tcp, dst, r, iov, 1, 0, now);
}

/* SACK blocks (RFC 2018 4): the range holding the latest arrival first, then the others
 * from the most recently updated down, so each block is repeated in several ACKs. */
static void add_sack(const struct tcp_conn *c, struct tcp_repr *r)
{
    size_t max = (c->flags & CF_TS) ? 3 : TCP_SACK_BLOCKS_MAX;
    uint32_t below = UINT32_MAX; /* stamps are unique: take them newest first */
    for (r->n_sack = 0; r->n_sack < max; r->n_sack++) {
        const struct tcp_ooo *best = NULL;
        for (uint8_t i = 0; i < c->n_ooo; i++)
            if (c->ooo[i].stamp < below && (!best || c->ooo[i].stamp > best->stamp))
                best = &c->ooo[i];
        if (!best)
            break;
        r->sack[r->n_sack] = (struct tcp_sack_block){best->left, best->right};
        below = best->stamp;
    }
}

/* Payload bytes that fit in one segment beside this moment's options: the MSS already
 * allows for timestamps; SACK blocks come out of the payload too (RFC 6691), so a
 * full-sized segment never needs fragmenting. */
static uint32_t seg_max(const struct tcp_conn *c)
{
    if (!(c->flags & CF_SACK) || !c->n_ooo)
        return c->snd_mss;
    uint32_t blocks = c->n_ooo < ((c->flags & CF_TS) ? 3u : 4u) ? c->n_ooo
                                                                 : ((c->flags & CF_TS) ? 3u : 4u);
    uint32_t opt = 4 + 8 * blocks; /* NOP NOP kind length, then the blocks */
    return c->snd_mss > opt + 64 ? c->snd_mss - opt : 64;
}

/* The most data one send may carry: one MSS, or with TSO as many whole MSS as the device
 * cuts from one burst (the windows have already bounded it). */
static uint32_t burst_max(const struct tcp *tcp, uint32_t mss)
{
    if (tcp->cfg.tso_max < TCP_HDR_MAX + 2 * mss)
        return mss;
    return (tcp->cfg.tso_max - TCP_HDR_MAX) / mss * mss;
}

/* A segment of this connection: header fields, options and window filled in here. */
static int send_seg(struct tcp *tcp, struct tcp_conn *c, uint32_t seq, uint8_t flags,
                    uint32_t off, uint32_t len, uint64_t now)
{
    struct tcp_repr r = {.src_port = c->local_port, .dst_port = c->remote_port, .seq = seq,
                         .flags = flags};
    if (flags & TCP_ACK)
        r.ack = c->rcv_nxt;
    bool syn_sent = c->state == TCP_SYN_SENT;
    if (flags & TCP_SYN) {
        r.has_mss = true;
        r.mss = tcp->cfg.mss;
        r.has_ws = syn_sent || (c->flags & CF_WS);
        r.ws = c->rcv_ws;
        r.sack_perm = syn_sent || (c->flags & CF_SACK);
        r.has_ts = syn_sent || (c->flags & CF_TS);
        /* RFC 7323 2.2: the window in a SYN is never scaled. */
        uint32_t w = tcp_rcv_wnd(c);
        r.window = (uint16_t)(w > 65535 ? 65535 : w);
        c->rcv_adv = c->rcv_nxt + r.window;
    } else if (!(flags & TCP_RST)) {
        r.window = tcp_advertise(c);
        r.has_ts = (c->flags & CF_TS) != 0;
        if ((c->flags & CF_SACK) && c->n_ooo)
            add_sack(c, &r);
    }
    if (r.has_ts) {
        r.ts_val = tcp_ts_now(c, now);
        r.ts_ecr = c->ts_recent;
    }
    struct net_iov iov[1 + PAYLOAD_SLICES];
    size_t n = 0;
    if (tcp_sendq_slices(c, off, len, iov + 1, PAYLOAD_SLICES, &n) != len)
        return NET_EINVAL; /* cannot happen: PAYLOAD_SLICES covers any stretch */
    int rc = xmit(tcp, c->remote_ip, &r, iov, 1 + n, seg_max(c), now);
    if (rc == NET_OK && (flags & TCP_ACK)) {
        c->last_ack_sent = c->rcv_nxt;
        c->flags &= (uint16_t)~CF_ACK_NOW;
        c->delack_at = 0;
        c->unacked_segs = 0;
    }
    return rc;
}

static void arm_rtx(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (!c->rtx_at || (c->flags & CF_PERSIST)) {
        c->flags &= (uint16_t)~CF_PERSIST;
        tcp_arm(tcp, &c->rtx_at, now + c->rto_ns);
    }
}

/* SYN or SYN-ACK, first time or again. */
static void send_syn(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    uint8_t flags = TCP_SYN | (c->state == TCP_SYN_SENT ? 0 : TCP_ACK);
    if (c->snd_nxt == c->iss && c->rtt_seq != c->iss + 1 && !c->retries) {
        c->rtt_seq = c->iss + 1; /* time the handshake unless it is a retransmission */
        c->rtt_start = now;
    }
    send_seg(tcp, c, c->iss, flags, 0, 0, now);
    c->snd_nxt = c->iss + 1;
    c->snd_max = seq_max(c->snd_max, c->snd_nxt);
    arm_rtx(tcp, c, now);
}

/* Sender side of Nagle (RFC 896) and silly-window avoidance (RFC 9293 3.8.6.2.1): a
 * short segment goes out only when it is all we have and nothing is unacknowledged
 * (or Nagle is off), or when it is at least half the largest window the peer offered. */
static bool short_segment_ok(const struct tcp_conn *c, uint32_t len, uint32_t avail,
                             uint32_t flight)
{
    if (c->flags & CF_MORE)
        return false; /* corked: the rest of this write is on its way */
    if (len == avail && ((c->flags & CF_NODELAY) || flight == 0))
        return true;
    return c->max_snd_wnd && len >= c->max_snd_wnd / 2;
}

static bool fin_state(const struct tcp_conn *c)
{
    return c->state == TCP_FIN_WAIT_1 || c->state == TCP_CLOSING || c->state == TCP_LAST_ACK;
}

/* The device had no buffer for this connection's next segment. With nothing in flight
 * no ACK and no timer would come back to it (it used to wait out a persist timeout and
 * lose its window to the idle restart: a 200 ms stall in a 1 MiB download among ten), so
 * it queues behind the others the device turned away and sends as soon as tcp_poll runs
 * with room in the device, oldest first. */
static void wait_for_device(struct tcp *tcp, struct tcp_conn *c)
{
    tcp->stats.tx_blocked++;
    if (c->blocked)
        return;
    c->blocked = true;
    c->blocked_next = 0;
    uint32_t self = (uint32_t)(c - tcp->conns) + 1;
    if (tcp->blocked_tail)
        tcp->conns[tcp->blocked_tail - 1].blocked_next = self;
    else
        tcp->blocked_head = self;
    tcp->blocked_tail = self;
}

void tcp_unblock(struct tcp *tcp, struct tcp_conn *c)
{
    if (!c->blocked)
        return;
    uint32_t self = (uint32_t)(c - tcp->conns) + 1, prev = 0;
    for (uint32_t i = tcp->blocked_head; i != self; i = tcp->conns[i - 1].blocked_next)
        prev = i; /* the queue is as long as the device is short: a few connections */
    if (prev)
        tcp->conns[prev - 1].blocked_next = c->blocked_next;
    else
        tcp->blocked_head = c->blocked_next;
    if (tcp->blocked_tail == self)
        tcp->blocked_tail = prev;
    c->blocked = false;
}

/* `force`: the persist timer's override of silly-window avoidance (RFC 9293 3.8.6.2.1):
 * one short segment goes into whatever window there is. */
static void output(struct tcp *tcp, struct tcp_conn *c, bool force, uint64_t now)
{
    if (c->state == TCP_CLOSED || (c->flags & CF_DYING))
        return;
    if (c->snd_una == c->iss) { /* our SYN is not acknowledged yet */
        if (c->snd_nxt == c->iss || (c->state == TCP_SYN_RECEIVED && (c->flags & CF_ACK_NOW)))
            send_syn(tcp, c, now);
        return;
    }
    /* Everything queued is sent and nothing is owed: the usual end of taking an ACK. */
    if (!(c->flags & (CF_ACK_NOW | CF_SHUT_WR)) && c->snd_nxt - tcp_ring_seq(c) == c->tx_len)
        return;
    bool sent = false;
    uint32_t avail = 0;
    for (;;) {
        uint32_t seq0 = tcp_ring_seq(c);
        uint32_t off = c->snd_nxt - seq0;
        if (off > c->tx_len)
            break; /* the FIN is out too */
        avail = c->tx_len - off;
        uint32_t flight = c->snd_nxt - c->snd_una;
        /* RFC 5681 4.1: after an idle RTO, the ACK clock is gone; restart from IW. */
        if (!flight && avail && c->last_tx && now - c->last_tx > c->rto_ns &&
            c->cwnd > tcp_initial_window(c))
            c->cwnd = tcp_initial_window(c);
        uint32_t wnd = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
        uint32_t usable = wnd > flight ? wnd - flight : 0;
        uint32_t len = avail < usable ? avail : usable;
        uint32_t mss = seg_max(c);
        uint32_t most = burst_max(tcp, mss);
        if (len > most)
            len = most;
        /* A burst's short last piece obeys the rules a short segment of its own would. */
        uint32_t tail = len > mss ? len % mss : 0;
        if (tail && !short_segment_ok(c, tail, avail - (len - tail), flight + len - tail))
            len -= tail;
        bool fin = (c->flags & CF_SHUT_WR) && fin_state(c) && len == avail;
        if (!len && !(fin && !avail))
            break;
        if (len && len < mss && !fin && !force && !short_segment_ok(c, len, avail, flight))
            break;
        force = false;
        uint8_t flags = TCP_ACK | (len && len == avail ? TCP_PSH : 0) | (fin ? TCP_FIN : 0);
        bool fresh = c->snd_nxt == c->snd_max;
        int rc = send_seg(tcp, c, c->snd_nxt, flags, off, len, now);
        if (rc < 0) {
            if (rc == NET_ENOBUFS)
                wait_for_device(tcp, c);
            break;
        }
        if (fresh && !(c->flags & CF_TS) && !c->rtt_start) {
            c->rtt_seq = c->snd_nxt + len; /* Karn: time only new data */
            c->rtt_start = now;
        }
        if (!fresh)
            c->retransmits++;
        c->snd_nxt += len + (fin ? 1 : 0);
        c->snd_max = seq_max(c->snd_max, c->snd_nxt);
        c->bytes_out += fresh ? len : 0;
        if (len)
            c->last_tx = now;
        if (fin)
            c->flags |= CF_FIN_SENT;
        arm_rtx(tcp, c, now);
        sent = true;
    }
    if (!sent && (c->flags & CF_ACK_NOW) &&
        send_seg(tcp, c, c->snd_max, TCP_ACK, 0, 0, now) == NET_ENOBUFS)
        wait_for_device(tcp, c);
    /* RFC 9293 3.8.6.1 and 3.8.6.2.1: data waits behind a window that is zero or too
     * small to use, and nothing in flight will bring an update: the persist timer
     * probes it, or overrides the small-segment rule when it expires. (Data the device
     * turned away waits for the device instead, not for a window.) */
    if (avail && c->snd_nxt == c->snd_una && !c->rtx_at && !c->blocked) {
        c->flags |= CF_PERSIST;
        tcp_arm(tcp, &c->rtx_at, now + c->rto_ns);
    }
}

void tcp_output(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    output(tcp, c, false, now);
}

void tcp_output_forced(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    output(tcp, c, true, now);
}

void tcp_resume_blocked(struct tcp *tcp, uint64_t now)
{
    /* Take the whole queue: whoever the device turns away again joins a new one, in the
     * same order, so one pass gives each waiting connection one try. */
    uint32_t i = tcp->blocked_head;
    tcp->blocked_head = tcp->blocked_tail = 0;
    while (i) {
        struct tcp_conn *c = &tcp->conns[i - 1];
        i = c->blocked_next;
        c->blocked = false;
        output(tcp, c, false, now);
        tcp_tw_settle(tcp, c, now); /* a TIME_WAIT's last ACK may just have gone out */
    }
}

bool tcp_tx_blocked(const struct tcp *tcp)
{
    return tcp->blocked_head != 0;
}

void tcp_send_ack(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (c->state == TCP_SYN_SENT || c->state == TCP_CLOSED)
        return;
    if (c->snd_una == c->iss && c->state == TCP_SYN_RECEIVED) {
        send_syn(tcp, c, now);
        return;
    }
    send_seg(tcp, c, c->snd_max, TCP_ACK, 0, 0, now);
}

/* RFC 5961 7: challenge ACKs are rate-limited, so they cannot be used as an amplifier. */
bool tcp_challenge_ok(struct tcp *tcp, uint64_t now)
{
    if (now - tcp->challenge_refilled >= NET_NS_PER_SEC) {
        tcp->challenge_tokens = tcp->cfg.challenge_ack_limit;
        tcp->challenge_refilled = now;
    }
    if (!tcp->challenge_tokens) {
        tcp->stats.challenge_acks_limited++;
        return false;
    }
    tcp->challenge_tokens--;
    tcp->stats.challenge_acks++;
    return true;
}

void tcp_send_challenge_ack(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (tcp_challenge_ok(tcp, now))
        tcp_send_ack(tcp, c, now);
}

void tcp_send_rst(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    send_seg(tcp, c, c->snd_max, TCP_RST | TCP_ACK, 0, 0, now);
}

/* Fast retransmit: the first unacknowledged segment again, snd_nxt unchanged. */
void tcp_retransmit_first(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (c->snd_una == c->iss) {
        send_syn(tcp, c, now);
        return;
    }
    uint32_t mss = seg_max(c);
    uint32_t len = c->tx_len < mss ? c->tx_len : mss;
    uint32_t sent = c->snd_max - c->snd_una;
    if (len > sent)
        len = sent;
    bool fin = (c->flags & CF_FIN_SENT) && len == c->tx_len && sent > len;
    if (!len && !fin)
        return;
    uint8_t flags = TCP_ACK | (fin ? TCP_FIN : 0) | (len == c->tx_len ? TCP_PSH : 0);
    if (send_seg(tcp, c, c->snd_una, flags, 0, len, now) == NET_OK)
        c->retransmits++;
}

/* Zero-window and keep-alive probe: an already-acknowledged sequence number, which any
 * live peer must answer with an ACK carrying its current window (RFC 9293 3.8.4). */
void tcp_send_probe(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    send_seg(tcp, c, c->snd_una - 1, TCP_ACK, 0, 0, now);
}

void tcp_reply_rst(struct tcp *tcp, const struct ipv4_repr *ip, const struct tcp_repr *seg,
                   uint64_t now)
{
    if (seg->flags & TCP_RST)
        return; /* never answer a RST */
    struct tcp_repr r = {.src_port = seg->dst_port, .dst_port = seg->src_port};
    if (seg->flags & TCP_ACK) {
        r.seq = seg->ack;
        r.flags = TCP_RST;
    } else {
        r.ack = seg->seq + (uint32_t)seg->payload_len + ((seg->flags & TCP_SYN) ? 1 : 0) +
                ((seg->flags & TCP_FIN) ? 1 : 0);
        r.flags = TCP_RST | TCP_ACK;
    }
    tcp_xmit_bare(tcp, ip->src, &r, now);
}

void tcp_send_cookie_synack(struct tcp *tcp, const struct ipv4_repr *ip,
                            const struct tcp_repr *syn, uint64_t now)
{
    uint16_t mss = syn->has_mss && syn->mss ? syn->mss : TCP_DEFAULT_MSS;
    struct tcp_repr r = {.src_port = syn->dst_port, .dst_port = syn->src_port,
                         .seq = tcp_cookie_isn(tcp, tcp->cfg.addr, syn->dst_port, ip->src,
                                               syn->src_port, syn->seq, mss, now),
                         .ack = syn->seq + 1, .flags = TCP_SYN | TCP_ACK,
                         .has_mss = true, .mss = tcp->cfg.mss};
    uint32_t w = tcp->cfg.rx_size;
    r.window = (uint16_t)(w > 65535 ? 65535 : w);
    /* Without timestamps the ACK cannot tell us the peer's window scale or SACK
     * permission, so neither is offered (as Linux does). */
    if (syn->has_ts) {
        struct tcp_syn_opts o = {.sack = syn->sack_perm, .ws_ok = syn->has_ws, .ws = syn->ws};
        r.has_ts = true;
        uint32_t clock = (uint32_t)(now / NET_NS_PER_MS) +
                         tcp_ts_offset(tcp, ip->src, syn->dst_port, syn->src_port);
        r.ts_val = tcp_cookie_tsval(clock, &o);
        r.ts_ecr = syn->ts_val;
        r.sack_perm = syn->sack_perm;
        r.has_ws = syn->has_ws;
        r.ws = tcp_rcv_ws(tcp);
    }
    tcp->stats.syn_cookies_sent++;
    tcp_xmit_bare(tcp, ip->src, &r, now);
}
