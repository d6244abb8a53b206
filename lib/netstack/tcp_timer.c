/* tcp_timer.c — every TCP timer, run from tcp_poll. */
#include "tcp_internal.h"

#define RTT_FLOOR_NS 1000ull /* a sample of 0 would read as "no estimate yet" */
#define CLOCK_GRANULARITY_NS NET_NS_PER_MS /* G of RFC 6298: timestamps tick in ms */

/* RFC 6298 2.2 and 2.3. */
void tcp_rtt_sample(struct tcp *tcp, struct tcp_conn *c, uint64_t rtt)
{
    if (rtt < RTT_FLOOR_NS)
        rtt = RTT_FLOOR_NS;
    if (!c->srtt_ns) {
        c->srtt_ns = rtt;
        c->rttvar_ns = rtt / 2;
    } else {
        uint64_t delta = c->srtt_ns > rtt ? c->srtt_ns - rtt : rtt - c->srtt_ns;
        c->rttvar_ns = (3 * c->rttvar_ns + delta) / 4;
        c->srtt_ns = (7 * c->srtt_ns + rtt) / 8;
    }
    uint64_t var = 4 * c->rttvar_ns;
    uint64_t rto = c->srtt_ns + (var > CLOCK_GRANULARITY_NS ? var : CLOCK_GRANULARITY_NS);
    if (rto < tcp->cfg.rto_min_ns)
        rto = tcp->cfg.rto_min_ns;
    if (rto > tcp->cfg.rto_max_ns)
        rto = tcp->cfg.rto_max_ns;
    c->rto_ns = rto;
}

/* RFC 6298 5.2 and 5.3: stop the timer when everything is acknowledged, else restart it
 * for the oldest outstanding byte. */
void tcp_rearm_rtx(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    if (c->snd_una == c->snd_max)
        c->rtx_at = 0;
    else
        tcp_arm(tcp, &c->rtx_at, now + c->rto_ns);
}

static uint64_t backoff(const struct tcp *tcp, uint64_t rto)
{
    return rto * 2 < tcp->cfg.rto_max_ns ? rto * 2 : tcp->cfg.rto_max_ns;
}

/* RFC 6298 5.4-5.7 and RFC 5681 3.1: resend from the oldest unacknowledged byte with a
 * one-segment window and a doubled timeout; give up after the retry limit. */
static void retransmit_timeout(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    bool handshake = c->snd_una == c->iss;
    if (++c->retries > (handshake ? tcp->cfg.syn_retries : tcp->cfg.max_retries)) {
        tcp->stats.timeouts++;
        tcp_conn_free(tcp, c, TCP_REASON_TIMEOUT);
        return;
    }
    tcp->stats.retransmits++;
    if (!handshake) {
        uint32_t flight = c->snd_max - c->snd_una;
        c->ssthresh = flight / 2 > 2u * c->snd_mss ? flight / 2 : 2u * c->snd_mss;
        c->cwnd = c->snd_mss;
        c->bytes_acked = 0;
        c->dupacks = 0;
        c->recover = c->snd_max; /* RFC 6582 4: no fast retransmit for these losses */
        c->flags &= (uint16_t)~CF_RECOVERY;
    }
    c->rto_ns = backoff(tcp, c->rto_ns);
    c->rtt_start = 0; /* Karn: nothing sent before now can be timed */
    c->snd_nxt = c->snd_una;
    tcp_output(tcp, c, now);
    if (!c->rtx_at && c->snd_una != c->snd_max && c->state != TCP_CLOSED)
        tcp_arm(tcp, &c->rtx_at, now + c->rto_ns); /* the device refused: try again later */
}

/* RFC 9293 3.8.6.1: probe a zero window with backoff. The probe is answered while the
 * peer lives; the retry limit counts only unanswered probes. */
#define ORPHAN_PROBES 8 /* Linux's tcp_orphan_retries default */

static void persist_timeout(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    /* A closed connection whose peer keeps its window shut would otherwise be probed
     * forever, answered every time: nobody waits for it, so give it a bound (as Linux
     * does for orphans) — counted whether or not the probes are answered. */
    uint8_t limit = (c->flags & CF_DETACHED) && ORPHAN_PROBES < tcp->cfg.max_retries
                        ? ORPHAN_PROBES
                        : tcp->cfg.max_retries;
    if (++c->retries > limit) {
        tcp->stats.timeouts++;
        tcp_conn_free(tcp, c, TCP_REASON_TIMEOUT);
        return;
    }
    if (c->snd_wnd) { /* a window too small for the sender's rule: use it anyway */
        tcp_output_forced(tcp, c, now);
        if (c->snd_nxt != c->snd_una)
            return; /* data in flight: the retransmission timer has it now */
    } else {
        tcp->stats.zero_window_probes++;
        tcp_send_probe(tcp, c, now);
    }
    if (c->persist_backoff < 16)
        c->persist_backoff++;
    uint64_t wait = c->rto_ns << c->persist_backoff;
    if (wait > tcp->cfg.rto_max_ns || (wait >> c->persist_backoff) != c->rto_ns)
        wait = tcp->cfg.rto_max_ns;
    c->flags |= CF_PERSIST;
    tcp_arm(tcp, &c->rtx_at, now + wait);
}

/* keep_at serves three states: keep-alive when established, and the end of waiting in
 * TIME_WAIT and in an abandoned FIN_WAIT_2. */
static void keep_timeout(struct tcp *tcp, struct tcp_conn *c, uint64_t now)
{
    switch (c->state) {
    case TCP_TIME_WAIT:
    case TCP_FIN_WAIT_2:
        tcp_conn_free(tcp, c, TCP_REASON_NORMAL);
        return;
    case TCP_ESTABLISHED:
        break;
    default:
        return;
    }
    if (!(c->flags & CF_KEEPALIVE))
        return;
    if (now - c->last_rx < tcp->cfg.keepalive_idle_ns && !c->keepalive_probes) {
        tcp_arm(tcp, &c->keep_at, c->last_rx + tcp->cfg.keepalive_idle_ns);
        return;
    }
    if (c->keepalive_probes >= tcp->cfg.keepalive_probes) {
        tcp->stats.timeouts++;
        tcp_conn_free(tcp, c, TCP_REASON_TIMEOUT);
        return;
    }
    c->keepalive_probes++;
    tcp->stats.keepalive_probes++;
    tcp_send_probe(tcp, c, now);
    tcp_arm(tcp, &c->keep_at, now + tcp->cfg.keepalive_interval_ns);
}

static bool due(uint64_t t, uint64_t now)
{
    return t && t <= now;
}

static uint64_t earliest(const struct tcp_conn *c)
{
    uint64_t t = UINT64_MAX;
    if (c->rtx_at && c->rtx_at < t)
        t = c->rtx_at;
    if (c->delack_at && c->delack_at < t)
        t = c->delack_at;
    if (c->keep_at && c->keep_at < t)
        t = c->keep_at;
    return t;
}

void tcp_poll(struct tcp *tcp, uint64_t now)
{
    if (tcp->blocked_head)
        tcp_resume_blocked(tcp, now);
    if (now < tcp->next_deadline)
        return;
    /* Timers armed while we walk (by a callback opening a connection) lower this. */
    tcp->next_deadline = UINT64_MAX;
    uint64_t next = tcp->tw_len ? tcp_tw_expire(tcp, now) : UINT64_MAX;
    /* Connections opened by a callback join at the head, behind us, and lower
     * next_deadline themselves; one freed ahead of us moves walk_next on (live_unlink). */
    for (uint32_t i = tcp->live_head; i; i = tcp->walk_next) {
        struct tcp_conn *c = &tcp->conns[i - 1];
        tcp->walk_next = c->live_next;
        uint32_t gen = c->gen;
        if (due(c->rtx_at, now)) {
            c->rtx_at = 0;
            if (c->flags & CF_PERSIST) {
                c->flags &= (uint16_t)~CF_PERSIST;
                persist_timeout(tcp, c, now);
            } else {
                retransmit_timeout(tcp, c, now);
            }
        }
        if (tcp_alive(c, gen) && due(c->delack_at, now)) {
            c->delack_at = 0;
            tcp_send_ack(tcp, c, now);
        }
        if (tcp_alive(c, gen) && due(c->keep_at, now)) {
            c->keep_at = 0;
            keep_timeout(tcp, c, now);
        }
        if (tcp_alive(c, gen)) {
            uint64_t t = earliest(c);
            if (t < next)
                next = t;
        }
    }
    tcp->walk_next = 0;
    if (next < tcp->next_deadline)
        tcp->next_deadline = next;
}

uint64_t tcp_next_deadline(const struct tcp *tcp)
{
    return tcp->next_deadline;
}
