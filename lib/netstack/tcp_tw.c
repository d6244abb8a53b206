/*
 * tcp_tw.c — TIME_WAIT for connections the application has closed, in records apart from
 * the connection slots.
 *
 * TIME_WAIT (RFC 9293 3.10.7.4) has three jobs for 2*MSL: acknowledge the peer's FIN again
 * when our last ACK was lost, keep old duplicates of the connection out, and let a new
 * SYN reopen it (RFC 6191). None needs the rings, the timers or the congestion state, yet
 * a server that closes first used to hold a whole slot (about six pages with its rings)
 * per TIME_WAIT: ten thousand `Connection: close` requests touched every slot in the
 * table. Now the slot is freed as soon as the last ACK is out, and TIME_WAIT goes on in a
 * 48-byte record, answering exactly as the connection did.
 *
 * The records form a ring in the order their 2*MSL began, so the oldest is at the head:
 * expiry pops from there, a full ring ends the oldest early (time_wait_evicted), and a
 * record whose 2*MSL restarts moves to the tail. One that leaves from the middle (a RST,
 * a reopening SYN) is marked free and popped when it reaches the head.
 */
#include <string.h>

#include "tcp_internal.h"

#define TW_TS 0x01   /* timestamps in use: our ACKs carry them */
#define TW_PAWS 0x02 /* TS.Recent is fresh (RFC 7323 5.5): PAWS applies */

static uint32_t *chain_of(struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport)
{
    return &tcp->tw_buckets[tcp_tuple_hash(tcp, rip, lport, rport) & (tcp->n_buckets - 1)];
}

struct tcp_tw *tcp_tw_lookup(struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport)
{
    if (!tcp->tw_live)
        return NULL;
    for (uint32_t i = *chain_of(tcp, rip, lport, rport); i; i = tcp->tw[i - 1].hash_next) {
        struct tcp_tw *tw = &tcp->tw[i - 1];
        if (tw->remote_ip == rip && tw->local_port == lport && tw->remote_port == rport)
            return tw;
    }
    return NULL;
}

/* Pop free records off the head, so the head is a live record or the ring is empty. */
static void trim(struct tcp *tcp)
{
    while (tcp->tw_len && !tcp->tw[tcp->tw_head].expires) {
        tcp->tw_head = tcp->tw_head + 1 == tcp->tw_cap ? 0 : tcp->tw_head + 1;
        tcp->tw_len--;
    }
}

/* Out of its bucket and free; the ring keeps its place until it reaches the head (and
 * the head, if that is where it is, moves on past it and any free ones behind). Chains
 * are doubly linked: under load a full ring ends a record for every new one, and that
 * should not walk the chain (eight records long on average when the ring is full). */
static void release(struct tcp *tcp, struct tcp_tw *tw)
{
    if (tw->hash_prev)
        tcp->tw[tw->hash_prev - 1].hash_next = tw->hash_next;
    else
        *chain_of(tcp, tw->remote_ip, tw->local_port, tw->remote_port) = tw->hash_next;
    if (tw->hash_next)
        tcp->tw[tw->hash_next - 1].hash_prev = tw->hash_prev;
    tw->hash_next = tw->hash_prev = 0;
    tw->expires = 0;
    tcp->tw_live--;
    trim(tcp);
}

/* Take the ring's next record for `rec`, until `expires`. */
static struct tcp_tw *place(struct tcp *tcp, const struct tcp_tw *rec, uint64_t expires)
{
    if (tcp->tw_len == tcp->tw_cap) {
        tcp->stats.time_wait_evicted++;
        release(tcp, &tcp->tw[tcp->tw_head]);
    }
    uint32_t at = tcp->tw_head + tcp->tw_len;
    if (at >= tcp->tw_cap)
        at -= tcp->tw_cap;
    tcp->tw_len++;
    tcp->tw_live++;
    if (at >= tcp->tw_fresh)
        tcp->tw_fresh = at + 1;
    struct tcp_tw *tw = &tcp->tw[at];
    *tw = *rec;
    tw->expires = expires;
    uint32_t *chain = chain_of(tcp, tw->remote_ip, tw->local_port, tw->remote_port);
    tw->hash_next = *chain;
    tw->hash_prev = 0;
    if (*chain)
        tcp->tw[*chain - 1].hash_prev = at + 1;
    *chain = at + 1;
    tcp_arm(tcp, &tw->expires, expires);
    return tw;
}

/* RFC 9293 3.10.7.4: a FIN in TIME_WAIT restarts the 2*MSL timeout, which moves the
 * record behind every other, keeping the ring in expiry order. */
static struct tcp_tw *restart(struct tcp *tcp, struct tcp_tw *tw, uint64_t now)
{
    struct tcp_tw rec = *tw;
    release(tcp, tw);
    return place(tcp, &rec, now + 2 * tcp->cfg.msl_ns);
}

void tcp_tw_settle(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (c->state != TCP_TIME_WAIT || (c->flags & (CF_DETACHED | CF_ACK_NOW | CF_DYING)) !=
                                         CF_DETACHED || c->blocked)
        return; /* still held, or an ACK still owed: the slot keeps TIME_WAIT for now */
    struct tcp_tw rec = {
        .remote_ip = c->remote_ip,
        .local_port = c->local_port,
        .remote_port = c->remote_port,
        .snd_nxt = c->snd_max,
        .rcv_nxt = c->rcv_nxt,
        .ack_floor = c->snd_una - c->max_snd_wnd,
        .ts_recent = c->ts_recent,
        .window = tcp_advertise(c), /* what its next ACK would say: nothing is read now */
        .flags = (uint8_t)(((c->flags & CF_TS) ? TW_TS : 0) |
                           (now - c->ts_recent_at < PAWS_IDLE_NS ? TW_PAWS : 0)),
    };
    rec.rcv_wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    /* Its own 2*MSL deadline, restarts included: never earlier than the ring's last one
     * unless it waited for the device, and then it ends a little late, never early. */
    uint64_t expires = c->keep_at ? c->keep_at : now + 2 * tcp->cfg.msl_ns;
    tcp_conn_free(tcp, c, TCP_REASON_NORMAL);
    place(tcp, &rec, expires);
}

/* The connection's ACK, as send_seg would have built it. A device with no room loses it,
 * as it would a connection's bare ACK: the peer's FIN comes again. */
static void send_ack(struct tcp *tcp, const struct tcp_tw *tw, uint64_t now)
{
    struct tcp_repr r = {.src_port = tw->local_port, .dst_port = tw->remote_port,
                         .seq = tw->snd_nxt, .ack = tw->rcv_nxt, .flags = TCP_ACK,
                         .window = tw->window};
    if (tw->flags & TW_TS) {
        r.has_ts = true;
        r.ts_val = (uint32_t)(now / NET_NS_PER_MS) +
                   tcp_ts_offset(tcp, tw->remote_ip, tw->local_port, tw->remote_port);
        r.ts_ecr = tw->ts_recent;
    }
    tcp_xmit_bare(tcp, tw->remote_ip, &r, now);
}

static void send_challenge_ack(struct tcp *tcp, const struct tcp_tw *tw, uint64_t now)
{
    if (tcp_challenge_ok(tcp, now))
        send_ack(tcp, tw, now);
}

/* RFC 9293 3.10.7.4, first check, with the window this TIME_WAIT last announced. */
static bool acceptable(const struct tcp_tw *tw, const struct tcp_repr *seg)
{
    uint32_t len = (uint32_t)seg->payload_len + ((seg->flags & TCP_SYN) ? 1 : 0) +
                   ((seg->flags & TCP_FIN) ? 1 : 0);
    if (seg->seq == tw->rcv_nxt)
        return true;
    if (!tw->rcv_wnd)
        return false;
    uint32_t end = tw->rcv_nxt + tw->rcv_wnd;
    return seq_in(seg->seq, tw->rcv_nxt, end) ||
           (len && seq_in(seg->seq + len - 1, tw->rcv_nxt, end));
}

/* Whether a FIN survives trimming the segment to the window: a new one, not a copy of
 * the FIN already taken (that one is older than rcv_nxt). */
static bool fin_in_window(const struct tcp_tw *tw, const struct tcp_repr *seg)
{
    if (!(seg->flags & TCP_FIN))
        return false;
    uint32_t fin_seq = seg->seq + (uint32_t)seg->payload_len;
    return seq_ge(fin_seq, tw->rcv_nxt) && fin_seq - tw->rcv_nxt <= tw->rcv_wnd;
}

bool tcp_tw_input(struct tcp *tcp, struct tcp_tw *tw, const struct tcp_repr *seg,
                  uint64_t now)
{
    bool rst = (seg->flags & TCP_RST) != 0;
    if ((seg->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
        tcp_listening(tcp, seg->dst_port) &&
        tcp_syn_is_new(tw->flags & TW_TS, tw->ts_recent, tw->rcv_nxt, seg)) {
        tcp->stats.time_wait_reopened++;
        release(tcp, tw);
        return false;
    }
    /* RFC 7323 5.3 (PAWS): an old timestamp means an old duplicate. */
    if ((tw->flags & (TW_TS | TW_PAWS)) == (TW_TS | TW_PAWS) && seg->has_ts && !rst &&
        seq_lt(seg->ts_val, tw->ts_recent)) {
        tcp->stats.rx_paws++;
        send_ack(tcp, tw, now);
        return true;
    }
    if (!acceptable(tw, seg)) {
        tcp->stats.rx_unacceptable++;
        if (rst)
            return true;
        if (seg->flags & TCP_FIN) /* the peer's FIN again: our last ACK was lost */
            tw = restart(tcp, tw, now);
        send_ack(tcp, tw, now);
        return true;
    }
    /* RFC 5961 3.2 and 4.2, as for any synchronized connection. */
    if (rst) {
        if (seg->seq != tw->rcv_nxt) {
            tcp->stats.rx_bad_resets++;
            send_challenge_ack(tcp, tw, now);
            return true;
        }
        tcp->stats.rx_resets++;
        release(tcp, tw);
        return true;
    }
    if (seg->flags & TCP_SYN) {
        send_challenge_ack(tcp, tw, now);
        return true;
    }
    if (!(seg->flags & TCP_ACK))
        return true;
    /* RFC 7323 4.3: our last ACK was at rcv_nxt. */
    if ((tw->flags & TW_TS) && seg->has_ts && seq_le(seg->seq, tw->rcv_nxt) &&
        (seq_ge(seg->ts_val, tw->ts_recent) || !(tw->flags & TW_PAWS))) {
        tw->ts_recent = seg->ts_val;
        tw->flags |= TW_PAWS;
    }
    /* RFC 5961 5.2: an ACK of data never sent, or older than the peer's window explains. */
    if (seq_gt(seg->ack, tw->snd_nxt)) {
        tcp->stats.rx_bad_ack++;
        send_ack(tcp, tw, now);
        return true;
    }
    if (seq_lt(seg->ack, tw->ack_floor)) {
        tcp->stats.rx_bad_ack++;
        send_challenge_ack(tcp, tw, now);
        return true;
    }
    if (!seg->payload_len && !(seg->flags & TCP_FIN))
        return true; /* a bare ACK: nothing to say */
    /* Data or a FIN: old bytes say our ACK was lost, new ones cannot be taken any more.
     * Either way the peer hears where we stand; a new FIN restarts 2*MSL. */
    if (seq_lt(seg->seq, tw->rcv_nxt)) {
        uint32_t old = tw->rcv_nxt - seg->seq;
        tcp->stats.rx_dup_bytes += old < seg->payload_len ? old : seg->payload_len;
    }
    if (fin_in_window(tw, seg))
        tw = restart(tcp, tw, now);
    send_ack(tcp, tw, now);
    return true;
}

uint64_t tcp_tw_expire(struct tcp *tcp, uint64_t now)
{
    while (tcp->tw_len && tcp->tw[tcp->tw_head].expires <= now) {
        release(tcp, &tcp->tw[tcp->tw_head]);
    }
    return tcp->tw_len ? tcp->tw[tcp->tw_head].expires : UINT64_MAX;
}

uint32_t tcp_time_wait_count(const struct tcp *tcp)
{
    return tcp->tw_live;
}
