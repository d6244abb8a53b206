/*
 * tcp_internal.h — what the tcp*.c files share and nothing outside them sees.
 *
 * tcp.c        the table, demux and the application verbs
 * tcp_in.c     segment arrival: the state machine of RFC 9293 3.10.7
 * tcp_out.c    what to send and when: data, FIN, ACKs, RSTs, probes
 * tcp_timer.c  tcp_poll: retransmission, persist, delayed ACK, keep-alive, TIME_WAIT
 * tcp_tw.c     TIME_WAIT of closed connections, in records apart from the slots
 * tcp_isn.c    RFC 6528 initial sequence numbers and SYN cookies
 * tcp_codec.c  tcp_parse / tcp_emit / tcp_checksum
 * tcp_sendq.c  the send queue: ring bytes and runs the application keeps in place
 */
#ifndef NETSTACK_TCP_INTERNAL_H
#define NETSTACK_TCP_INTERNAL_H

#include "netstack/tcp.h"
#include "tcp_seq.h"

/* struct tcp_conn.flags */
#define CF_SACK 0x0001        /* the peer sent SACK-permitted: we may send SACK blocks */
#define CF_TS 0x0002          /* both sides sent timestamps */
#define CF_WS 0x0004          /* both sides sent window scale */
#define CF_NODELAY 0x0008     /* Nagle off */
#define CF_KEEPALIVE 0x0010
#define CF_DETACHED 0x0020    /* the application closed: no more events */
#define CF_SHUT_WR 0x0040     /* FIN goes after the queued data */
#define CF_FIN_SENT 0x0080    /* our FIN is in snd_max */
#define CF_ACK_NOW 0x0100
#define CF_WANT_WRITE 0x0200  /* tcp_send came up short: say TCP_EV_WRITABLE later */
#define CF_RECOVERY 0x0400    /* NewReno fast recovery until snd_una passes `recover` */
#define CF_PERSIST 0x0800     /* rtx_at is the persist timer */
#define CF_EOF_SAID 0x1000    /* TCP_EV_PEER_CLOSED delivered */
#define CF_DYING 0x2000       /* being freed: verbs are no-ops */
#define CF_PASSIVE 0x4000     /* made by a listener (SYN_RECEIVED returns there on RST) */
#define CF_MORE 0x8000        /* tcp_send_more: the application has more to write at once */

#define PAWS_IDLE_NS (24ull * 24 * 3600 * NET_NS_PER_SEC) /* RFC 7323 5.5 */

/* Keyed with the secret, so a peer cannot predict which tuples share a bucket; a
 * multiply-xorshift mix rather than SipHash, because it runs for every segment. Callers
 * mask it to their power-of-two bucket count. */
static inline uint32_t tcp_tuple_hash(const struct tcp *tcp, net_ip4 rip, uint16_t lport,
                                      uint16_t rport)
{
    uint64_t h = ((uint64_t)rip << 32 | (uint32_t)lport << 16 | rport) ^ tcp->secret[1];
    h *= 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* SYN cookies: what a stateless SYN-ACK must remember of the SYN. */
struct tcp_syn_opts {
    uint16_t mss;
    bool sack;
    bool ws_ok;
    uint8_t ws; /* the peer's shift, when ws_ok */
};

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 microsecond clock. */
uint32_t tcp_isn(const struct tcp *tcp, net_ip4 lip, uint16_t lport, net_ip4 rip,
                 uint16_t rport, uint64_t now);
/* The ISN of a stateless SYN-ACK answering a SYN with sequence `peer_isn` and MSS `mss`:
 * a keyed hash of the 4-tuple, the peer's ISN and a 64-second time slot, with the MSS
 * rounded down to one of 8 table values in the low 3 bits. */
uint32_t tcp_cookie_isn(const struct tcp *tcp, net_ip4 lip, uint16_t lport, net_ip4 rip,
                        uint16_t rport, uint32_t peer_isn, uint16_t mss, uint64_t now);
/* Check the cookie `isn` (an ACK's ack - 1) against the current and previous time slot;
 * the MSS it remembers, or 0 when it is not ours. */
uint16_t tcp_cookie_check(const struct tcp *tcp, net_ip4 lip, uint16_t lport, net_ip4 rip,
                          uint16_t rport, uint32_t peer_isn, uint32_t isn, uint64_t now);
/* When the SYN carried timestamps, window scale and SACK-permitted ride in the low 5
 * bits of our TSval (the peer echoes it in the ACK), as Linux does: encode, decode. */
uint32_t tcp_cookie_tsval(uint32_t tsval, const struct tcp_syn_opts *o);
void tcp_cookie_ts_decode(uint32_t tsecr, struct tcp_syn_opts *o);

/* tcp.c */
void tcp_notify(struct tcp *tcp, struct tcp_conn *c, enum tcp_event ev); /* may free c */
bool tcp_alive(const struct tcp_conn *c, uint32_t gen);
struct tcp_conn *tcp_lookup(struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport);
struct tcp_conn *tcp_conn_new(struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport,
                              uint64_t now);
/* End a connection: TCP_EV_CLOSED to an attached application, then the slot is free. */
void tcp_conn_free(struct tcp *tcp, struct tcp_conn *c, enum tcp_close_reason why);
void tcp_set_state(struct tcp *tcp, struct tcp_conn *c, enum tcp_state s, uint64_t now);
/* Leave, or let send in order, the queue of connections waiting for the device. */
void tcp_unblock(struct tcp *tcp, struct tcp_conn *c);
void tcp_resume_blocked(struct tcp *tcp, uint64_t now);
void tcp_arm(struct tcp *tcp, uint64_t *timer, uint64_t at);
uint32_t tcp_ts_now(const struct tcp_conn *c, uint64_t now);
uint32_t tcp_ts_offset(const struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport);
uint8_t tcp_rcv_ws(const struct tcp *tcp);
bool tcp_listening(const struct tcp *tcp, uint16_t port);
/* RFC 6191 2: whether a SYN certainly starts a new incarnation of a connection in
 * TIME_WAIT that last received `ts_recent` (when `ts`) and has taken up to `rcv_nxt`. */
bool tcp_syn_is_new(bool ts, uint32_t ts_recent, uint32_t rcv_nxt, const struct tcp_repr *seg);

/* tcp_out.c */
void tcp_output(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
void tcp_output_forced(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
void tcp_send_ack(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
void tcp_send_challenge_ack(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
void tcp_send_rst(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
void tcp_retransmit_first(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
void tcp_send_probe(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
bool tcp_window_update_due(const struct tcp_conn *c);
/* The window field for a segment sent now, moving rcv_adv to the edge it announces. */
uint16_t tcp_advertise(struct tcp_conn *c);
/* A segment with no payload, built from `r` alone (no connection). */
int tcp_xmit_bare(struct tcp *tcp, net_ip4 dst, const struct tcp_repr *r, uint64_t now);
/* RFC 5961 7: whether one more challenge ACK fits this second's allowance (counted). */
bool tcp_challenge_ok(struct tcp *tcp, uint64_t now);
/* Answer a segment that has no connection (RFC 9293 3.10.7.1). */
void tcp_reply_rst(struct tcp *tcp, const struct ipv4_repr *ip, const struct tcp_repr *seg,
                   uint64_t now);
/* A stateless SYN-ACK whose ISN is a cookie. */
void tcp_send_cookie_synack(struct tcp *tcp, const struct ipv4_repr *ip,
                            const struct tcp_repr *syn, uint64_t now);
uint32_t tcp_rcv_wnd(const struct tcp_conn *c);
uint32_t tcp_ring_seq(const struct tcp_conn *c); /* sequence number of tx ring byte 0 */

/* tcp_in.c */
uint32_t tcp_initial_window(const struct tcp_conn *c);
void tcp_input_conn(struct tcp *tcp, struct tcp_conn *c, const struct tcp_repr *seg,
                    uint64_t now);
void tcp_input_listen(struct tcp *tcp, struct tcp_listener *l, const struct ipv4_repr *ip,
                      const struct tcp_repr *seg, uint64_t now);

/* tcp_tw.c */
/* A connection in TIME_WAIT whose application has closed and whose last ACK is out goes
 * on as a record, and its slot is freed; any other connection is left as it is. */
void tcp_tw_settle(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
struct tcp_tw *tcp_tw_lookup(struct tcp *tcp, net_ip4 rip, uint16_t lport, uint16_t rport);
/* A segment for a record's tuple (RFC 9293 3.10.7.4 in TIME_WAIT). False when the record
 * has let it go instead: a SYN that reopens the connection, for the listener. */
bool tcp_tw_input(struct tcp *tcp, struct tcp_tw *tw, const struct tcp_repr *seg,
                  uint64_t now);
/* End the records whose 2*MSL is over; returns when the next one ends (UINT64_MAX: none). */
uint64_t tcp_tw_expire(struct tcp *tcp, uint64_t now);

/* tcp_timer.c */
void tcp_rtt_sample(struct tcp *tcp, struct tcp_conn *c, uint64_t rtt_ns);
void tcp_rearm_rtx(struct tcp *tcp, struct tcp_conn *c, uint64_t now);

/* The send queue (tcp_sendq.c). */
uint32_t tcp_sendq_room(const struct tcp_conn *c); /* bytes tcp_sendq_copy would take */
uint32_t tcp_sendq_copy(struct tcp_conn *c, const void *data, size_t len);
bool tcp_sendq_static(struct tcp_conn *c, const void *data, size_t len);
/* Drop `n` acknowledged bytes from the front. */
void tcp_sendq_consume(struct tcp_conn *c, uint32_t n);
/* Bytes [off, off + len) of the queue as at most `max` slices (*n of them); returns how
 * many bytes they cover, which is less than `len` only when `max` ran out. */
uint32_t tcp_sendq_slices(const struct tcp_conn *c, uint32_t off, uint32_t len,
                          struct net_iov *iov, size_t max, size_t *n);

#endif
