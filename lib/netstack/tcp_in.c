/* tcp_in.c — segment arrival, in the order of RFC 9293 3.10.7. */
#include <string.h>

#include "tcp_internal.h"

#define TCP_MIN_MSS 64 /* Linux refuses below 48; 64 keeps room for options */

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Initial window: ten segments, as RFC 6928 and Linux; HTTP replies mostly fit in it. */
uint32_t tcp_initial_window(const struct tcp_conn *c)
{
    return min_u32(10u * c->snd_mss, 10u * 1460u);
}

static void start_window(struct tcp_conn *c)
{
    c->cwnd = tcp_initial_window(c);
    c->recover = c->snd_una - 1; /* RFC 6582: recover starts at the ISS */
    c->retries = 0;
}

static void establish(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    tcp_set_state(tcp, c, TCP_ESTABLISHED, now);
    start_window(c);
    if (c->flags & CF_KEEPALIVE)
        tcp_arm(tcp, &c->keep_at, now + tcp->cfg.keepalive_idle_ns);
}

/* What the peer's SYN offers; `c` offered everything (active open) or answers in kind. */
static void take_syn_options(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg,
                             uint64_t now)
{
    uint16_t mss = seg->has_mss && seg->mss ? seg->mss : TCP_DEFAULT_MSS;
    if (mss < TCP_MIN_MSS)
        mss = TCP_MIN_MSS; /* a tiny MSS would make us send a flood of tiny segments */
    c->snd_mss = mss < tcp->cfg.mss ? mss : tcp->cfg.mss;
    if (seg->has_ws) {
        c->flags |= CF_WS;
        c->snd_ws = seg->ws;
    } else {
        c->snd_ws = c->rcv_ws = 0; /* RFC 7323 2.2: both sides or neither */
    }
    if (seg->sack_perm)
        c->flags |= CF_SACK;
    if (seg->has_ts) {
        c->flags |= CF_TS;
        c->ts_recent = seg->ts_val;
        c->ts_recent_at = now;
        c->snd_mss -= 12; /* every segment carries NOP NOP TS */
    }
}

static void rtt_from_ack(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg,
                         uint64_t now)
{
    if ((c->flags & CF_TS) && seg->has_ts && seg->ts_ecr) {
        /* RFC 7323 4.1: the echoed timestamp times every ACK, retransmission or not. */
        uint32_t ms = tcp_ts_now(c, now) - seg->ts_ecr;
        if (ms < 60000)
            tcp_rtt_sample(tcp, c, (uint64_t)ms * NET_NS_PER_MS);
    } else if (c->rtt_start && seq_ge(seg->ack, c->rtt_seq)) {
        tcp_rtt_sample(tcp, c, now - c->rtt_start);
        c->rtt_start = 0;
    }
}

/* ---- LISTEN --------------------------------------------------------------------- */

static void cookie_ack(struct tcp *tcp, struct tcp_listener *l, const struct ipv4_repr *ip,
                       const struct tcp_repr *seg, uint64_t now)
{
    uint16_t mss = tcp_cookie_check(tcp, tcp->cfg.addr, seg->dst_port, ip->src, seg->src_port,
                                    seg->seq - 1, seg->ack - 1, now);
    if (!mss) {
        tcp->stats.syn_cookies_bad++;
        tcp_reply_rst(tcp, ip, seg, now);
        return;
    }
    struct tcp_conn *c = tcp_conn_new(tcp, ip->src, seg->dst_port, seg->src_port, now);
    if (!c) {
        tcp_reply_rst(tcp, ip, seg, now); /* still full: refuse cleanly */
        return;
    }
    tcp->stats.syn_cookies_ok++;
    c->listener = (uint16_t)(l - tcp->cfg.listeners + 1);
    c->flags |= CF_PASSIVE | CF_DETACHED;
    c->iss = seg->ack - 1;
    c->snd_una = c->snd_nxt = c->snd_max = seg->ack;
    c->irs = seg->seq - 1;
    c->rcv_nxt = c->last_ack_sent = seg->seq;
    c->snd_mss = mss < tcp->cfg.mss ? mss : tcp->cfg.mss;
    c->snd_ws = c->rcv_ws = 0;
    c->flags &= (uint16_t)~CF_WS;
    if (seg->has_ts && seg->ts_ecr) {
        struct tcp_syn_opts o;
        tcp_cookie_ts_decode(seg->ts_ecr, &o);
        c->flags |= CF_TS | (o.sack ? CF_SACK : 0);
        c->ts_recent = seg->ts_val;
        c->ts_recent_at = now;
        c->snd_mss -= 12;
        if (o.ws_ok) {
            c->flags |= CF_WS;
            c->snd_ws = o.ws;
            c->rcv_ws = tcp_rcv_ws(tcp);
        }
    }
    c->rcv_adv = c->rcv_nxt + min_u32(c->rx_size, 65535); /* what the SYN-ACK offered */
    c->snd_wnd = (uint32_t)seg->window << c->snd_ws;
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    establish(tcp, c, now);
    c->flags &= (uint16_t)~CF_DETACHED;
    uint32_t gen = c->gen;
    tcp_notify(tcp, c, TCP_EV_ACCEPTED);
    if (tcp_alive(c, gen) && (seg->payload_len || (seg->flags & TCP_FIN)))
        tcp_input_conn(tcp, c, seg, now);
}

void tcp_input_listen(struct tcp *tcp, struct tcp_listener *l, const struct ipv4_repr *ip,
                      const struct tcp_repr *seg, uint64_t now)
{
    if (seg->flags & TCP_RST)
        return;
    if (seg->flags & TCP_ACK) {
        cookie_ack(tcp, l, ip, seg, now);
        return;
    }
    if (!(seg->flags & TCP_SYN))
        return; /* RFC 9293 3.10.7.2: anything else without ACK is dropped */
    struct tcp_conn *c = NULL;
    if (l->half_open >= l->backlog)
        tcp->stats.syn_queue_full++;
    else
        c = tcp_conn_new(tcp, ip->src, seg->dst_port, seg->src_port, now);
    if (!c) {
        /* A full queue or table must not lock the listener up: answer statelessly. */
        tcp_send_cookie_synack(tcp, ip, seg, now);
        return;
    }
    l->half_open++;
    c->listener = (uint16_t)(l - tcp->cfg.listeners + 1);
    c->flags |= CF_PASSIVE | CF_DETACHED; /* the application hears of it once established */
    c->irs = seg->seq;
    c->rcv_nxt = c->rcv_adv = c->last_ack_sent = seg->seq + 1;
    c->iss = tcp_isn(tcp, tcp->cfg.addr, seg->dst_port, ip->src, seg->src_port, now);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    take_syn_options(tcp, c, seg, now);
    c->snd_wnd = c->max_snd_wnd = seg->window; /* never scaled in a SYN */
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = c->iss;
    tcp_set_state(tcp, c, TCP_SYN_RECEIVED, now);
    tcp_output(tcp, c, now);
}

/* ---- SYN_SENT ------------------------------------------------------------------- */

static void rst_for_ack(struct tcp *tcp, const struct tcp_conn *c, const struct tcp_repr *seg,
                        uint64_t now)
{
    struct ipv4_repr ip = {.src = c->remote_ip, .dst = c->local_ip};
    tcp_reply_rst(tcp, &ip, seg, now);
}

static void input_syn_sent(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg,
                           uint64_t now)
{
    bool ack = (seg->flags & TCP_ACK) != 0;
    if (ack && (seq_le(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max))) {
        rst_for_ack(tcp, c, seg, now);
        return;
    }
    if (seg->flags & TCP_RST) {
        if (ack) { /* RFC 5961 3.2 leaves SYN_SENT as 9293 has it: an acceptable ACK */
            tcp->stats.rx_resets++;
            tcp_conn_free(tcp, c, TCP_REASON_REFUSED);
        }
        return;
    }
    if (!(seg->flags & TCP_SYN))
        return;
    c->irs = seg->seq;
    c->rcv_nxt = c->rcv_adv = c->last_ack_sent = seg->seq + 1;
    take_syn_options(tcp, c, seg, now);
    c->snd_wnd = c->max_snd_wnd = seg->window;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    if (!ack) {
        /* Simultaneous open (RFC 9293 figure 7): answer with SYN-ACK from the same ISS. */
        tcp_set_state(tcp, c, TCP_SYN_RECEIVED, now);
        c->snd_nxt = c->iss;
        c->rtx_at = 0;
        tcp_output(tcp, c, now);
        return;
    }
    if (!c->retries)
        rtt_from_ack(tcp, c, seg, now);
    else if (c->rto_ns < 3 * NET_NS_PER_SEC)
        c->rto_ns = 3 * NET_NS_PER_SEC; /* RFC 6298 5.7: the SYN was retransmitted */
    c->snd_una = seg->ack;
    c->rtx_at = 0;
    c->rtt_start = 0;
    establish(tcp, c, now);
    if (c->flags & CF_SHUT_WR)
        tcp_set_state(tcp, c, TCP_FIN_WAIT_1, now); /* shut down while connecting */
    c->flags |= CF_ACK_NOW;
    uint32_t gen = c->gen;
    tcp_notify(tcp, c, TCP_EV_CONNECTED);
    if (tcp_alive(c, gen))
        tcp_output(tcp, c, now);
}

/* ---- Synchronized states -------------------------------------------------------- */

/* RFC 9293 3.10.7.4, first check: does any part of the segment fall in our window? */
static bool acceptable(const struct tcp_conn *c, const struct tcp_repr *seg, uint32_t wnd)
{
    uint32_t len = (uint32_t)seg->payload_len + ((seg->flags & TCP_SYN) ? 1 : 0) +
                   ((seg->flags & TCP_FIN) ? 1 : 0);
    if (seg->seq == c->rcv_nxt)
        return true; /* also with a zero window: its ACK and RST still count (3.8.6.1) */
    if (!wnd)
        return false;
    if (!len)
        return seq_in(seg->seq, c->rcv_nxt, c->rcv_nxt + wnd);
    return seq_in(seg->seq, c->rcv_nxt, c->rcv_nxt + wnd) ||
           seq_in(seg->seq + len - 1, c->rcv_nxt, c->rcv_nxt + wnd);
}

/* Copy the bytes of [seq, seq+len) that no earlier segment supplied: the first copy of
 * each byte wins, so a retransmission carrying different bytes changes nothing. */
static void copy_gaps(struct tcp *tcp, struct tcp_conn *c, uint32_t seq, const uint8_t *data,
                      uint32_t len)
{
    uint32_t end = seq + len, pos = seq;
    for (uint8_t i = 0; i <= c->n_ooo && seq_lt(pos, end); i++) {
        uint32_t gap_end = end;
        uint32_t next = pos;
        if (i < c->n_ooo) {
            const struct tcp_ooo *r = &c->ooo[i];
            if (seq_le(r->right, pos))
                continue;
            gap_end = seq_min(r->left, end);
            next = r->right;
        }
        for (uint32_t s = pos; seq_lt(s, gap_end);) {
            uint32_t at = (c->rx_head + c->rx_len + (s - c->rcv_nxt)) % c->rx_size;
            uint32_t n = min_u32(gap_end - s, c->rx_size - at);
            memcpy(c->rx + at, data + (s - seq), n);
            s += n;
        }
        if (i < c->n_ooo) {
            uint32_t dup_end = seq_min(next, end);
            uint32_t dup_start = seq_max(pos, c->ooo[i].left);
            if (seq_lt(dup_start, dup_end))
                tcp->stats.rx_dup_bytes += dup_end - dup_start;
        }
        pos = seq_max(pos, next);
    }
}

static void ooo_remove(struct tcp_conn *c, uint8_t i)
{
    memmove(&c->ooo[i], &c->ooo[i + 1], (size_t)(c->n_ooo - i - 1) * sizeof(c->ooo[0]));
    c->n_ooo--;
}

/* Record [left, right) as held, merging neighbours; false when it would need a ninth. */
static bool ooo_add(struct tcp_conn *c, uint32_t left, uint32_t right)
{
    uint8_t first = 0, merged = 0;
    while (first < c->n_ooo && seq_lt(c->ooo[first].right, left))
        first++;
    while (first + merged < c->n_ooo && seq_le(c->ooo[first + merged].left, right))
        merged++;
    if (!merged && c->n_ooo == TCP_OOO_MAX)
        return false;
    if (merged) {
        left = seq_min(left, c->ooo[first].left);
        right = seq_max(right, c->ooo[first + merged - 1].right);
        for (uint8_t k = 1; k < merged; k++)
            ooo_remove(c, (uint8_t)(first + 1));
    } else {
        memmove(&c->ooo[first + 1], &c->ooo[first], (size_t)(c->n_ooo - first) * sizeof(c->ooo[0]));
        c->n_ooo++;
    }
    c->ooo[first] = (struct tcp_ooo){left, right, ++c->ooo_stamp};
    return true;
}

/* Would [left, right) fit in the range table (merging counts as fitting)? */
static bool ooo_fits(const struct tcp_conn *c, uint32_t left, uint32_t right)
{
    if (c->n_ooo < TCP_OOO_MAX)
        return true;
    for (uint8_t i = 0; i < c->n_ooo; i++)
        if (seq_le(c->ooo[i].left, right) && seq_le(left, c->ooo[i].right))
            return true;
    return false;
}

/* Place in-window data in the ring; returns how far rcv_nxt advanced. */
static uint32_t place_data(struct tcp *tcp, struct tcp_conn *c, uint32_t seq,
                           const uint8_t *data, uint32_t len)
{
    if (seq != c->rcv_nxt) {
        if (!ooo_fits(c, seq, seq + len)) {
            tcp->stats.rx_ooo_dropped++;
            return 0;
        }
        copy_gaps(tcp, c, seq, data, len); /* against the ranges held before this one */
        ooo_add(c, seq, seq + len);
        tcp->stats.rx_ooo++;
        return 0;
    }
    copy_gaps(tcp, c, seq, data, len);
    uint32_t start = c->rcv_nxt;
    c->rcv_nxt += len;
    while (c->n_ooo && seq_le(c->ooo[0].left, c->rcv_nxt)) {
        c->rcv_nxt = seq_max(c->rcv_nxt, c->ooo[0].right);
        ooo_remove(c, 0);
    }
    uint32_t advanced = c->rcv_nxt - start;
    c->rx_len += advanced;
    c->bytes_in += advanced;
    return advanced;
}

static void enter_time_wait(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    tcp_set_state(tcp, c, TCP_TIME_WAIT, now);
    c->rtx_at = 0;
    c->delack_at = 0;
    c->flags &= (uint16_t)~CF_PERSIST;
    tcp_arm(tcp, &c->keep_at, now + 2 * tcp->cfg.msl_ns);
}

/* Take the peer's FIN (its sequence number is rcv_nxt). */
static void take_fin(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    c->rcv_nxt++;
    c->fin_seen = 1;
    c->flags |= CF_ACK_NOW;
    switch (c->state) {
    case TCP_ESTABLISHED:
        tcp_set_state(tcp, c, TCP_CLOSE_WAIT, now);
        break;
    case TCP_FIN_WAIT_1: /* our FIN not yet acknowledged: simultaneous close */
        tcp_set_state(tcp, c, TCP_CLOSING, now);
        break;
    case TCP_FIN_WAIT_2:
        enter_time_wait(tcp, c, now);
        break;
    default:
        break;
    }
}

/* RFC 5681 3.2 and RFC 6582: the third duplicate ACK starts fast retransmit and
 * NewReno recovery; later ones inflate the window by a segment each. */
static void dup_ack(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    c->dupacks++;
    if (c->flags & CF_RECOVERY) {
        c->cwnd += c->snd_mss;
        return;
    }
    /* RFC 6582 3.2 step 2: not again for losses in the window already recovered. */
    if (c->dupacks != 3 || !seq_gt(c->snd_una, c->recover))
        return;
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = flight / 2 > 2u * c->snd_mss ? flight / 2 : 2u * c->snd_mss;
    c->recover = c->snd_max;
    c->flags |= CF_RECOVERY;
    tcp->stats.fast_retransmits++;
    tcp_retransmit_first(tcp, c, now);
    c->cwnd = c->ssthresh + 3u * c->snd_mss;
}

/* An ACK that moves snd_una: free ring space, time, grow or deflate the window. */
static bool new_ack(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg, uint64_t now)
{
    uint32_t acked = seg->ack - c->snd_una;
    rtt_from_ack(tcp, c, seg, now);
    if (c->snd_una == c->iss)
        acked--; /* our SYN: it opens the connection, not the congestion window */
    uint32_t bytes = acked;
    uint32_t data = min_u32(acked, c->tx_len);
    tcp_sendq_consume(c, data);
    if (data)
        c->acked_at = now;
    bool fin_acked = (c->flags & CF_FIN_SENT) && acked > data;
    c->snd_una = seg->ack;
    if (seq_lt(c->snd_nxt, c->snd_una))
        c->snd_nxt = c->snd_una;
    c->retries = 0;
    if (c->flags & CF_RECOVERY) {
        if (seq_ge(seg->ack, c->recover)) { /* full ACK: leave recovery (RFC 6582 3.2 step 3) */
            uint32_t flight = c->snd_max - c->snd_una;
            c->cwnd = min_u32(c->ssthresh, (flight > c->snd_mss ? flight : c->snd_mss) + c->snd_mss);
            c->flags &= (uint16_t)~CF_RECOVERY;
            c->dupacks = 0;
        } else { /* partial ACK: the next hole is lost too */
            tcp_retransmit_first(tcp, c, now);
            c->cwnd = c->cwnd > bytes ? c->cwnd - bytes : 0;
            if (bytes >= c->snd_mss)
                c->cwnd += c->snd_mss;
            if (c->cwnd < c->snd_mss)
                c->cwnd = c->snd_mss;
        }
    } else {
        c->dupacks = 0;
        if (c->cwnd < c->ssthresh) {
            c->cwnd += min_u32(bytes, c->snd_mss); /* slow start, RFC 5681 3.1 (ABC, L=1) */
        } else {
            c->bytes_acked += bytes; /* congestion avoidance: one MSS per window */
            if (c->bytes_acked >= c->cwnd) {
                c->bytes_acked -= c->cwnd;
                c->cwnd += c->snd_mss;
            }
        }
    }
    c->flags &= (uint16_t)~CF_PERSIST;
    tcp_rearm_rtx(tcp, c, now);
    return fin_acked;
}

/* RFC 9293 3.10.7.4: the window update, unless this segment is older than the one that
 * last set it. */
static void update_window(struct tcp_conn *c, const struct tcp_repr *seg, uint32_t wnd)
{
    if (seq_lt(c->snd_wl1, seg->seq) || (c->snd_wl1 == seg->seq && seq_le(c->snd_wl2, seg->ack))) {
        c->snd_wnd = wnd;
        if (wnd)
            c->persist_backoff = 0;
        c->snd_wl1 = seg->seq;
        c->snd_wl2 = seg->ack;
        if (wnd > c->max_snd_wnd)
            c->max_snd_wnd = wnd;
    }
}

/* RFC 9293 3.10.7.4, fifth check. Returns false when the segment must be dropped. */
static bool process_ack(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg,
                        bool *fin_acked, uint64_t now)
{
    if (c->snd_una == c->iss) { /* SYN_RECEIVED: the handshake's last ACK */
        if (!seq_gt(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max)) {
            rst_for_ack(tcp, c, seg, now);
            return false;
        }
        if (c->retries && c->rto_ns < 3 * NET_NS_PER_SEC)
            c->rto_ns = 3 * NET_NS_PER_SEC; /* RFC 6298 5.7: the SYN-ACK was retransmitted */
        if (c->state == TCP_SYN_RECEIVED)
            establish(tcp, c, now);
        else
            start_window(c); /* closed while the handshake finished: FIN_WAIT_1 */
        c->snd_wnd = (uint32_t)seg->window << c->snd_ws;
        c->max_snd_wnd = c->snd_wnd;
        c->snd_wl1 = seg->seq;
        c->snd_wl2 = seg->ack;
    }
    /* RFC 5961 5.2: an ACK for data never sent, or older than the peer's window could
     * explain, is refused (a blind injection would need to guess inside both). */
    uint32_t floor = c->snd_una - c->max_snd_wnd;
    if (seq_gt(seg->ack, c->snd_max)) {
        tcp->stats.rx_bad_ack++;
        tcp_send_ack(tcp, c, now);
        return false;
    }
    if (seq_lt(seg->ack, floor)) {
        tcp->stats.rx_bad_ack++;
        tcp_send_challenge_ack(tcp, c, now);
        return false;
    }
    uint32_t wnd = (uint32_t)seg->window << c->snd_ws;
    if (seq_gt(seg->ack, c->snd_una))
        *fin_acked = new_ack(tcp, c, seg, now);
    else if (seg->ack == c->snd_una && !seg->payload_len &&
             !(seg->flags & (TCP_SYN | TCP_FIN)) && wnd == c->snd_wnd && c->snd_max != c->snd_una)
        dup_ack(tcp, c, now);
    update_window(c, seg, wnd);
    return true;
}

static void after_fin_acked(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    switch (c->state) {
    case TCP_FIN_WAIT_1:
        tcp_set_state(tcp, c, TCP_FIN_WAIT_2, now);
        c->rtx_at = 0;
        /* A closed connection must not wait forever for a peer that never closes. */
        if (c->flags & CF_DETACHED)
            tcp_arm(tcp, &c->keep_at, now + tcp->cfg.fin_wait_2_ns);
        break;
    case TCP_CLOSING:
        enter_time_wait(tcp, c, now);
        break;
    case TCP_LAST_ACK:
        /* Both sides are done, but an application still holding unread bytes keeps the
         * connection until it has read them and closed: CLOSED now would lose them. */
        if (c->rx_len && !(c->flags & CF_DETACHED)) {
            c->rtx_at = 0;
            break;
        }
        tcp_conn_free(tcp, c, TCP_REASON_NORMAL);
        break;
    default:
        break;
    }
}

static bool receives_data(const struct tcp_conn *c)
{
    return c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
           c->state == TCP_FIN_WAIT_2;
}

/* ---- Header prediction ------------------------------------------------------------ */

/* The next in-order bytes, with no holes behind them: straight into the ring. */
static void append_data(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
    uint32_t at = (c->rx_head + c->rx_len) % c->rx_size;
    uint32_t first = min_u32(len, c->rx_size - at);
    memcpy(c->rx + at, data, first);
    memcpy(c->rx, data + first, len - first);
    c->rcv_nxt += len;
    c->rx_len += len;
    c->bytes_in += len;
}

/*
 * Header prediction (Van Jacobson's, as BSD's tcp_input and Linux's tcp_rcv_established
 * have it; RFC 7323 appendix A): in ESTABLISHED nearly every segment is the next in-order
 * one carrying data, or a pure ACK that acknowledges new data or finds nothing in
 * flight, with no flag but ACK and PSH, a timestamp no older than TS.Recent, no holes in
 * the ring and the data fitting the window. Such a segment passes every check of the
 * full path below, so only the changes that path would make are made here, in its order
 * (test_tcp_predict.c holds the two to the same result). Anything else is false, and
 * the full path takes the segment.
 */
static bool predicted(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg,
                      uint64_t now)
{
    uint32_t len = (uint32_t)seg->payload_len;
    if (c->state != TCP_ESTABLISHED || tcp->cfg.no_prediction ||
        (seg->flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK)) != TCP_ACK ||
        seg->seq != c->rcv_nxt || c->n_ooo || seq_lt(seg->ack, c->snd_una) ||
        seq_gt(seg->ack, c->snd_max))
        return false;
    bool ts = (c->flags & CF_TS) && seg->has_ts;
    if ((c->flags & CF_TS) && (!seg->has_ts || seq_lt(seg->ts_val, c->ts_recent)))
        return false;
    if (len) {
        uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
        if (len > min_u32(wnd, tcp_rcv_wnd(c)) || (c->flags & CF_DETACHED))
            return false;
    } else if (seg->ack == c->snd_una && c->snd_max != c->snd_una) {
        return false; /* perhaps a duplicate ACK: fast retransmit is the full path's */
    }

    tcp->stats.rx_predicted++;
    c->last_rx = now;
    c->keepalive_probes = 0;
    if ((c->flags & (CF_PERSIST | CF_DETACHED)) == CF_PERSIST)
        c->retries = 0;
    if (ts && seq_le(seg->seq, c->last_ack_sent)) {
        c->ts_recent = seg->ts_val;
        c->ts_recent_at = now;
    }
    uint32_t wnd = (uint32_t)seg->window << c->snd_ws;
    if (seq_gt(seg->ack, c->snd_una))
        new_ack(tcp, c, seg, now); /* no FIN of ours in ESTABLISHED: it acknowledges none */
    update_window(c, seg, wnd);
    uint32_t gen = c->gen;
    if (len) {
        append_data(c, seg->payload, len);
        if (!(c->flags & CF_ACK_NOW)) { /* RFC 5681 4.2, as below */
            if (++c->unacked_segs >= 2 || len >= 2u * c->snd_mss)
                c->flags |= CF_ACK_NOW;
            else if (!c->delack_at)
                tcp_arm(tcp, &c->delack_at, now + tcp->cfg.delack_ns);
        }
        tcp_notify(tcp, c, TCP_EV_READABLE);
        if (!tcp_alive(c, gen))
            return true;
    }
    if ((c->flags & CF_WANT_WRITE) && tcp_sendq_room(c)) {
        c->flags &= (uint16_t)~CF_WANT_WRITE;
        tcp_notify(tcp, c, TCP_EV_WRITABLE);
        if (!tcp_alive(c, gen))
            return true;
    }
    tcp_output(tcp, c, now);
    return true;
}

void tcp_input_conn(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg,
                    uint64_t now)
{
    if (predicted(tcp, c, seg, now))
        return;
    if (c->state == TCP_SYN_SENT) {
        input_syn_sent(tcp, c, seg, now);
        return;
    }
    struct tcp_repr synack;
    if (c->state == TCP_SYN_RECEIVED && !(c->flags & CF_PASSIVE) &&
        (seg->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) &&
        seg->seq + 1 == c->rcv_nxt && seg->ack == c->iss + 1) {
        /* Simultaneous open (RFC 9293 figure 7, line 6): the peer's SYN-ACK repeats its
         * SYN, which we hold already; what is new is its ACK of ours (as Linux). */
        synack = *seg;
        synack.flags &= (uint8_t)~TCP_SYN;
        synack.seq++;
        seg = &synack;
    }
    uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    bool rst = (seg->flags & TCP_RST) != 0;

    /* RFC 7323 5.3 (PAWS): an old timestamp means an old duplicate. */
    if ((c->flags & CF_TS) && seg->has_ts && !rst && seq_lt(seg->ts_val, c->ts_recent) &&
        now - c->ts_recent_at < PAWS_IDLE_NS) {
        tcp->stats.rx_paws++;
        tcp_send_ack(tcp, c, now);
        return;
    }
    if (!acceptable(c, seg, wnd)) {
        tcp->stats.rx_unacceptable++;
        if (rst)
            return;
        /* In TIME_WAIT this is the peer's FIN again: our last ACK was lost (3.10.7.4). */
        if (c->state == TCP_TIME_WAIT && (seg->flags & TCP_FIN))
            tcp_arm(tcp, &c->keep_at, now + 2 * tcp->cfg.msl_ns);
        tcp_send_ack(tcp, c, now);
        return;
    }
    /* RFC 5961 3.2: only a RST exactly at rcv_nxt resets; one merely in the window
     * might be forged, so it gets a challenge ACK that a real peer answers with an
     * exact RST. */
    if (rst) {
        if (seg->seq != c->rcv_nxt) {
            tcp->stats.rx_bad_resets++;
            tcp_send_challenge_ack(tcp, c, now);
            return;
        }
        tcp->stats.rx_resets++;
        tcp_conn_free(tcp, c, TCP_REASON_RESET);
        return;
    }
    /* RFC 5961 4.2: any SYN in a synchronized state gets a challenge ACK. */
    if (seg->flags & TCP_SYN) {
        tcp_send_challenge_ack(tcp, c, now);
        return;
    }
    if (!(seg->flags & TCP_ACK))
        return;
    c->last_rx = now;
    c->keepalive_probes = 0;
    if ((c->flags & (CF_PERSIST | CF_DETACHED)) == CF_PERSIST)
        c->retries = 0; /* the peer answers our probes: it is alive, and someone waits */
    /* RFC 7323 4.3: remember the newest timestamp of a segment at or before our ACK.
     * After 24 idle days TS.Recent is invalid (5.5): PAWS let this segment in whatever
     * its TSval, and R3 must take it, or TS.Recent would stay stale for good. */
    if ((c->flags & CF_TS) && seg->has_ts &&
        (seq_ge(seg->ts_val, c->ts_recent) || now - c->ts_recent_at >= PAWS_IDLE_NS) &&
        seq_le(seg->seq, c->last_ack_sent)) {
        c->ts_recent = seg->ts_val;
        c->ts_recent_at = now;
    }

    bool was_handshake = c->snd_una == c->iss;
    bool fin_acked = false;
    if (!process_ack(tcp, c, seg, &fin_acked, now))
        return;
    uint32_t gen = c->gen;
    if (was_handshake) {
        if (c->flags & CF_PASSIVE)
            c->flags &= (uint16_t)~CF_DETACHED; /* now the application may hear of it */
        tcp_notify(tcp, c, (c->flags & CF_PASSIVE) ? TCP_EV_ACCEPTED : TCP_EV_CONNECTED);
        if (!tcp_alive(c, gen))
            return;
    }
    if (fin_acked) {
        after_fin_acked(tcp, c, now);
        if (!tcp_alive(c, gen))
            return;
    }

    /* Trim to the window (3.10.7.4): bytes before rcv_nxt we already have, bytes past
     * the window or the ring we cannot take (the FIN goes with them). */
    const uint8_t *data = seg->payload;
    uint32_t len = (uint32_t)seg->payload_len, seq = seg->seq;
    bool fin = (seg->flags & TCP_FIN) != 0;
    if (seq_lt(seq, c->rcv_nxt)) {
        uint32_t skip = c->rcv_nxt - seq;
        if (skip > len) { /* the FIN too is old */
            skip = len;
            fin = false;
        }
        tcp->stats.rx_dup_bytes += skip;
        c->flags |= CF_ACK_NOW; /* a duplicate: the peer missed our ACK (RFC 5681 4.2) */
        data += skip;
        len -= skip;
        seq = c->rcv_nxt;
    }
    uint32_t off = seq - c->rcv_nxt;
    uint32_t room = min_u32(wnd, tcp_rcv_wnd(c));
    room = room > off ? room - off : 0;
    if (len > room) {
        len = room;
        fin = false;
        c->flags |= CF_ACK_NOW; /* tell the peer where the window really ends */
    }

    uint32_t delivered = 0;
    if (len || fin) {
        if (c->state == TCP_TIME_WAIT) {
            /* The peer retransmitted its FIN: our last ACK was lost. Restart 2*MSL. */
            if (fin)
                tcp_arm(tcp, &c->keep_at, now + 2 * tcp->cfg.msl_ns);
            c->flags |= CF_ACK_NOW;
        } else if (!receives_data(c)) {
            c->flags |= CF_ACK_NOW; /* data after the peer's FIN: acknowledge, ignore */
        } else if (len && (c->flags & CF_DETACHED)) {
            /* Nobody will read it: tell the peer (RFC 9293 3.10.7.4, as Linux). */
            tcp->stats.rx_after_close++;
            tcp_send_rst(tcp, c, now);
            tcp_conn_free(tcp, c, TCP_REASON_RESET);
            return;
        } else {
            bool had_holes = c->n_ooo != 0;
            if (len)
                delivered = place_data(tcp, c, seq, data, len);
            if (fin && c->rcv_nxt == seq + len)
                take_fin(tcp, c, now);
            else if (fin || seq != c->rcv_nxt - delivered || had_holes || c->n_ooo)
                c->flags |= CF_ACK_NOW; /* out of order, or filling a hole: ACK at once */
            if (delivered && !(c->flags & CF_ACK_NOW)) {
                /* RFC 5681 4.2: ACK at least every second full-sized segment, and
                 * within the delayed-ACK time otherwise. */
                if (++c->unacked_segs >= 2 || delivered >= 2u * c->snd_mss)
                    c->flags |= CF_ACK_NOW;
                else if (!c->delack_at)
                    tcp_arm(tcp, &c->delack_at, now + tcp->cfg.delack_ns);
            }
        }
    }

    /* The application hears first: whatever it sends in answer carries our ACK, which
     * saves a segment per request. */
    if (delivered) {
        tcp_notify(tcp, c, TCP_EV_READABLE);
        if (!tcp_alive(c, gen))
            return;
    }
    if (c->fin_seen && !(c->flags & CF_EOF_SAID)) {
        c->flags |= CF_EOF_SAID;
        tcp_notify(tcp, c, TCP_EV_PEER_CLOSED);
        if (!tcp_alive(c, gen))
            return;
    }
    if ((c->flags & CF_WANT_WRITE) && tcp_sendq_room(c) &&
        (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)) {
        c->flags &= (uint16_t)~CF_WANT_WRITE;
        tcp_notify(tcp, c, TCP_EV_WRITABLE);
        if (!tcp_alive(c, gen))
            return;
    }
    tcp_output(tcp, c, now);
    tcp_tw_settle(tcp, c, now); /* a closed connection's TIME_WAIT needs no slot */
}

void tcp_icmp_error(struct tcp *tcp, const struct icmp_error *e, uint64_t now)
{
    if (e->quoted.proto != IPV4_PROTO_TCP || e->quoted.src != tcp->cfg.addr ||
        e->quoted_len < 8)
        return;
    uint16_t sport = net_get16(e->quoted_data + TCP_OFF_SRC);
    uint16_t dport = net_get16(e->quoted_data + TCP_OFF_DST);
    uint32_t seq = net_get32(e->quoted_data + TCP_OFF_SEQ);
    struct tcp_conn *c = tcp_lookup(tcp, e->quoted.dst, sport, dport);
    /* RFC 5927 4.1: believe only errors quoting a sequence number in flight. */
    if (!c || !seq_in(seq, c->snd_una, c->snd_max + 1))
        return;
    /* RFC 1122 4.2.3.9: these are hard errors only while connecting; afterwards a
     * route may come back, and the retransmission timer decides. */
    if (c->state == TCP_SYN_SENT && e->type == ICMP_DEST_UNREACH &&
        (e->code == ICMP_UNREACH_PROTO || e->code == ICMP_UNREACH_PORT))
        tcp_conn_free(tcp, c, TCP_REASON_UNREACHABLE);
    (void)now;
}
