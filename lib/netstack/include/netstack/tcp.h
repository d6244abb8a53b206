/*
 * tcp.h — TCP (RFC 9293) for a single-homed host, many connections at once.
 *
 * Input: segments from ipv4's deliver (borrowed during tcp_input). Each is checked
 * (length, checksum over the pseudo-header, option structure, addresses) and handed to
 * its connection by 4-tuple, else to a listener, else answered with a RST (3.10.7.1).
 * Output: segments leave through ops->send (ipv4_send) as header + slices of the send
 * buffer, never copied twice.
 *
 * Connections live in a table sized at init; every byte of memory (connection structs,
 * hash buckets, one receive and one send ring per connection) is caller storage of
 * TCP_MEM() bytes. Nothing is allocated later and nothing is lost: every connection
 * ends in CLOSED — by its close handshake, by TIME_WAIT, by a retry limit when the peer
 * vanishes, or by a RST — and its slot returns to the table. A connection the
 * application has closed waits out TIME_WAIT (2*MSL) in a small record instead of its
 * slot (struct tcp_tw): the slot and its rings are free again as soon as the last ACK
 * is out. A new SYN may reopen a TIME_WAIT as RFC 6191 allows, and when the records
 * run out the oldest ends early.
 *
 * What it implements, with the RFC that says why next to the code:
 *   the full state machine with simultaneous open and close, half-close, abort;
 *   RFC 5961 RST/SYN/ACK checks with rate-limited challenge ACKs;
 *   RFC 6528 initial sequence numbers (SipHash of the 4-tuple, key from cfg.seed);
 *   a per-listener bounded SYN queue, SYN cookies when it or the table is full;
 *   MSS, window scaling and timestamps with PAWS (RFC 7323), SACK-permitted and SACK
 *   blocks describing out-of-order data we hold (RFC 2018);
 *   RFC 6298 retransmission timer (Karn, backoff, retry limit), RFC 5681 slow start,
 *   congestion avoidance, fast retransmit, NewReno recovery (RFC 6582);
 *   a bounded out-of-order queue inside the receive ring; zero-window probing;
 *   delayed ACKs; Nagle (per connection, on by default); silly-window avoidance on both
 *   sides (RFC 9293 3.8.6.2); optional keep-alive.
 * Urgent data is not supported: the urgent pointer is ignored and the bytes are
 * delivered in line, as RFC 6093 recommends.
 *
 * Applications: tcp_listen / tcp_connect, then one event callback per connection
 * (accepted, connected, readable, writable, peer closed, closed). Data is read with
 * tcp_recv and written with tcp_send, which takes what fits in the send ring and says
 * how much (back-pressure: TCP_EV_WRITABLE follows once room frees). tcp_close hands
 * the connection back to TCP: unsent data is still delivered, then FIN, and no further
 * events arrive. TCP_EV_CLOSED is the last event of an attached connection; the pointer
 * is invalid after it returns. Events come only from tcp_input and tcp_poll, never from
 * a verb, so an application may call any verb from inside its event handler.
 *
 * Time is nanoseconds. tcp_poll runs every timer; tcp_next_deadline says when next.
 */
#ifndef NETSTACK_TCP_H
#define NETSTACK_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/icmp.h"
#include "netstack/ipv4.h"
#include "netstack/net.h"
#include "netstack/tcp_wire.h"

/* ---- Codec ---------------------------------------------------------------------- */

struct tcp_sack_block {
    uint32_t left, right; /* [left, right) */
};

struct tcp_repr {
    uint16_t src_port, dst_port;
    uint32_t seq, ack;
    uint8_t flags;   /* TCP_SYN | TCP_ACK ... */
    uint16_t window; /* as on the wire, unscaled */
    uint16_t urg;
    uint8_t hdr_len; /* bytes, options included (parse output; emit computes it) */
    /* Options: present when the flag is set. */
    bool has_mss, has_ws, sack_perm, has_ts;
    uint16_t mss;
    uint8_t ws;
    uint32_t ts_val, ts_ecr;
    uint8_t n_sack;
    struct tcp_sack_block sack[TCP_SACK_BLOCKS_MAX];
    const uint8_t *payload; /* parse: points into the segment */
    size_t payload_len;
};

enum tcp_defect {
    TCP_DEFECT_NONE = 0,
    TCP_DEFECT_TRUNCATED, /* shorter than 20 bytes or than its data offset */
    TCP_DEFECT_DATA_OFF,  /* data offset below 5 */
    TCP_DEFECT_CHECKSUM,
    TCP_DEFECT_OPTIONS, /* an option runs past the header or has an impossible length */
    TCP_DEFECT_PORT,    /* port 0 */
};

/* Parse a segment carried between `src` and `dst` (for the pseudo-header checksum). */
int tcp_parse(const uint8_t *buf, size_t len, net_ip4 src, net_ip4 dst, struct tcp_repr *r,
              enum tcp_defect *why);
/* Header length emit will write for `r` (options padded to 4 bytes). */
size_t tcp_header_len(const struct tcp_repr *r);
/* Write the header and options; the checksum field is left 0 (see tcp_checksum). */
int tcp_emit(const struct tcp_repr *r, uint8_t *buf, size_t cap);
/* The checksum of a segment whose bytes are the concatenation of `iov`. */
uint16_t tcp_checksum(net_ip4 src, net_ip4 dst, const struct net_iov *iov, size_t n);
/* What a segment of `len` bytes carries in its checksum field when a device finishes the
 * sum (net_offload): the pseudo-header's sum, folded and not complemented. */
uint16_t tcp_pseudo_sum(net_ip4 src, net_ip4 dst, size_t len);

/* ---- Connections ---------------------------------------------------------------- */

enum tcp_state {
    TCP_CLOSED = 0,
    TCP_LISTEN,
    TCP_SYN_SENT,
    TCP_SYN_RECEIVED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_LAST_ACK,
    TCP_TIME_WAIT,
};

const char *tcp_state_name(enum tcp_state s);

enum tcp_event {
    TCP_EV_ACCEPTED,    /* a listener's connection is established; set its user pointer */
    TCP_EV_CONNECTED,   /* tcp_connect completed */
    TCP_EV_READABLE,    /* data (or the peer's FIN) waits for tcp_recv */
    TCP_EV_WRITABLE,    /* tcp_send refused bytes or filled the ring, and room has freed */
    TCP_EV_PEER_CLOSED, /* the peer sent FIN; bytes before it may still wait unread */
    TCP_EV_CLOSED,      /* last event: see tcp_conn_info.reason; the pointer dies after */
};

enum tcp_close_reason {
    TCP_REASON_NONE = 0,
    TCP_REASON_NORMAL,      /* both sides closed */
    TCP_REASON_RESET,       /* the peer reset the connection */
    TCP_REASON_REFUSED,     /* connect answered with RST */
    TCP_REASON_TIMEOUT,     /* retransmission or keep-alive retry limit */
    TCP_REASON_UNREACHABLE, /* ICMP said the peer cannot be reached (while connecting) */
};

/* One out-of-order range held in the receive ring. */
struct tcp_ooo {
    uint32_t left, right;
    uint32_t stamp; /* when a segment last landed in it: SACK reports the newest first */
};

#define TCP_OOO_MAX 8 /* ranges per connection; a segment that would need a ninth is dropped */

/* A connection's state. Fields are TCP's; applications use the functions below. */
/* A run of the send queue (see tcp_conn): `len` bytes at `ext`, or in the ring. */
struct tcp_span {
    const uint8_t *ext;
    uint32_t len;
};
#define TCP_SPANS_MAX 6

struct tcp_conn {
    enum tcp_state state;
    uint16_t flags; /* CF_* in tcp_internal.h */
    uint8_t close_reason;
    uint16_t listener; /* index + 1 of the listener that made it, 0 if active */
    net_ip4 local_ip, remote_ip;
    uint16_t local_port, remote_port;
    uint32_t hash_next; /* index + 1 of the next connection in its bucket, 0: none */
    uint32_t live_prev, live_next; /* index + 1 of the neighbours among the open, 0: none */
    uint32_t blocked_next; /* index + 1 of the next one waiting for the device, 0: none */
    bool blocked;          /* in the queue of connections waiting for the device */
    uint32_t gen;       /* bumped when the slot is freed: tells a callback its conn died */
    void *user;

    /* Send sequence space (RFC 9293 3.3.1). snd_una is the first byte in tx ring. */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
    uint32_t snd_wnd;     /* scaled */
    uint32_t max_snd_wnd; /* largest window the peer offered: sender SWS, RFC 5961 ACK test */
    uint16_t snd_mss;     /* payload bytes per segment, options excluded */
    uint8_t snd_ws, rcv_ws;
    /* Receive sequence space. */
    uint32_t irs, rcv_nxt;
    uint32_t rcv_adv; /* right edge we advertised: never moves left (RFC 9293 3.8.6.2.2) */
    uint32_t last_ack_sent; /* RFC 7323 4.3: which TSval becomes TS.recent */

    /* The send queue holds [snd_una, snd_una + tx_len): bytes copied into the tx ring
     * (ring_len of them from tx_head) and, with tcp_send_static, bytes left where the
     * application keeps them; then spans[] list the queue's runs in order (a run with
     * no `ext` is ring bytes), and no spans means it is all ring. rx holds rx_len
     * readable bytes from rx_head, then out-of-order ranges at their offset from rcv_nxt. */
    uint8_t *tx, *rx;
    uint32_t tx_size, rx_size;
    uint32_t tx_head, tx_len, ring_len;
    struct tcp_span spans[TCP_SPANS_MAX];
    uint8_t n_spans;
    uint32_t rx_head, rx_len;
    struct tcp_ooo ooo[TCP_OOO_MAX];
    uint8_t n_ooo;
    uint32_t ooo_stamp; /* counts out-of-order arrivals */
    uint8_t fin_seen; /* peer's FIN received (rcv_nxt counts it) */

    /* Timestamps (RFC 7323). */
    uint32_t ts_offset; /* random per connection */
    uint32_t ts_recent;
    uint64_t ts_recent_at;

    /* RTT and retransmission (RFC 6298). */
    uint64_t srtt_ns, rttvar_ns, rto_ns;
    uint32_t rtt_seq; /* timing this sequence number when no timestamps */
    uint64_t rtt_start;
    uint8_t retries;       /* consecutive expiries of the current timer */
    uint8_t keepalive_probes;
    uint8_t persist_backoff; /* zero-window probes sent since the window closed */
    /* Congestion control (RFC 5681, RFC 6582). */
    uint32_t cwnd, ssthresh, recover, bytes_acked;
    uint8_t dupacks;
    uint8_t unacked_segs; /* full-sized segments received since our last ACK */

    /* Timers: absolute deadlines, 0 = not running. */
    uint64_t rtx_at;     /* retransmission, or persist when the window is zero */
    uint64_t delack_at;
    uint64_t keep_at;    /* keep-alive, or FIN_WAIT_2 / TIME_WAIT / SYN_RECEIVED expiry */
    uint64_t last_rx;    /* last segment from the peer, for keep-alive */
    uint64_t last_tx;    /* last data sent, for the restart window after idle */
    uint64_t acked_at;   /* when an ACK last took bytes off the send queue */
    uint64_t state_since;

    /* Counters, for tcp_conn_info and tests. */
    uint64_t bytes_in, bytes_out;
    uint32_t retransmits;
};

struct tcp_conn_info {
    enum tcp_state state;
    enum tcp_close_reason reason;
    net_ip4 remote_ip;
    uint16_t local_port, remote_port;
    uint32_t snd_mss, cwnd, ssthresh, snd_wnd, rcv_wnd;
    uint64_t srtt_ns, rto_ns;
    uint32_t unread;  /* bytes tcp_recv would return */
    uint32_t unsent;  /* bytes in the send ring not yet sent */
    uint32_t in_flight;
    uint32_t tx_free; /* bytes tcp_send would take now */
    uint64_t acked_at; /* when the peer last acknowledged queued bytes (0: never) */
    bool peer_closed;
    bool sack, timestamps, window_scaling;
    uint64_t bytes_in, bytes_out;
    uint32_t retransmits;
};

/* ---- The TCP instance ----------------------------------------------------------- */

struct tcp_listener {
    uint16_t port; /* 0: slot free */
    uint16_t backlog;
    uint16_t half_open; /* SYN_RECEIVED connections it owns */
    void *user;
};

struct tcp_stats {
    uint64_t rx_segments;
    uint64_t rx_predicted;     /* of them, taken by header prediction (tcp_in.c) */
    uint64_t rx_truncated;
    uint64_t rx_bad_checksum;
    uint64_t rx_bad_options;
    uint64_t rx_bad_port;
    uint64_t rx_bad_addr;      /* broadcast or multicast destination: never answered */
    uint64_t rx_no_conn;       /* closed port: answered with RST */
    uint64_t rx_unacceptable;  /* outside the receive window: answered with ACK */
    uint64_t rx_bad_ack;       /* acknowledges data never sent, or too old (RFC 5961 5) */
    uint64_t rx_paws;          /* old timestamp (RFC 7323 5) */
    uint64_t rx_ooo;           /* segments kept out of order */
    uint64_t rx_ooo_dropped;   /* no free range to keep them */
    uint64_t rx_dup_bytes;     /* retransmitted bytes we already had */
    uint64_t rx_after_close;   /* data after the application closed: RST */
    uint64_t rx_resets;        /* accepted RSTs */
    uint64_t rx_bad_resets;    /* out-of-window RSTs ignored */
    uint64_t challenge_acks;   /* RFC 5961 */
    uint64_t challenge_acks_limited;
    uint64_t syn_queue_full;   /* SYNs answered with a cookie instead */
    uint64_t syn_cookies_sent;
    uint64_t syn_cookies_ok;
    uint64_t syn_cookies_bad;
    uint64_t table_full;       /* connections refused: no free slot */
    uint64_t time_wait_evicted; /* TIME_WAIT records ended early: all were in use */
    uint64_t time_wait_reopened; /* SYN accepted in TIME_WAIT (RFC 6191) */
    uint64_t tx_segments;
    uint64_t tx_bursts; /* of them, TSO bursts the device cut into segments */
    uint64_t tx_resets;
    uint64_t tx_failed;        /* ipv4 could not send: the timer will retry */
    uint64_t tx_blocked;       /* of them, data or ACKs that waited for the device instead */
    uint64_t retransmits;      /* timeouts */
    uint64_t fast_retransmits;
    uint64_t zero_window_probes;
    uint64_t keepalive_probes;
    uint64_t timeouts;         /* connections aborted by a retry limit */
    uint64_t opened, closed;
};

/* A connection in TIME_WAIT that the application has closed: what RFC 9293 3.10.7.4
 * needs to answer its peer for 2*MSL (re-acknowledge a retransmitted FIN, keep old
 * duplicates out, let a new SYN reopen it), kept apart from the slot (tcp_tw.c). */
struct tcp_tw {
    uint64_t expires; /* end of 2*MSL; 0: the record is free */
    net_ip4 remote_ip;
    uint16_t local_port, remote_port;
    uint32_t snd_nxt, rcv_nxt;
    uint32_t ack_floor; /* RFC 5961 5.2: an ACK below this is refused */
    uint32_t rcv_wnd;   /* bytes past rcv_nxt we said we would take */
    uint32_t ts_recent;
    uint32_t hash_next; /* index + 1 of the next record in its bucket, 0: none */
    uint32_t hash_prev; /* index + 1 of the previous one, 0: it is the bucket's first */
    uint16_t window;    /* the window field of our ACKs */
    uint8_t flags;      /* TW_* in tcp_tw.c */
};

/* TIME_WAIT records per connection slot: a server closing first can finish this many
 * connections per slot each 2*MSL before the oldest TIME_WAIT ends early. */
#define TCP_TW_PER_CONN 8

/* Bytes of caller storage for `n` connections with rings of the given sizes. */
#define TCP_MEM(n, rx_size, tx_size)                                                           \
    ((size_t)(n) * (sizeof(struct tcp_conn) + sizeof(uint32_t) + (size_t)(rx_size) +           \
                    (size_t)(tx_size) + TCP_TW_PER_CONN * sizeof(struct tcp_tw) +              \
                    sizeof(uint32_t)) +                                                        \
     64)

struct tcp_cfg {
    net_ip4 addr;
    uint64_t seed; /* keys ISNs and SYN cookies, ephemeral ports, timestamp offsets */
    uint16_t mss;  /* largest segment payload our link carries (MTU - 40) */
    void *mem;     /* TCP_MEM(n_conns, rx_size, tx_size) bytes */
    size_t mem_len;
    uint32_t n_conns;
    uint32_t rx_size, tx_size; /* per connection ring bytes, >= 2 * mss */
    struct tcp_listener *listeners;
    size_t n_listeners;
    /* The device's offloads (node_init fills these from its net_dev_caps): it finishes
     * checksums; it cuts segments of up to tso_max bytes (header and payload, 0: no
     * TSO) into MSS-sized ones, so a burst of new data goes down as one. */
    bool csum_offload;
    uint32_t tso_max;
    /* Tunables; 0 takes the default in brackets. */
    uint64_t rto_initial_ns; /* [1 s] RFC 6298 2.1 */
    uint64_t rto_min_ns;     /* [200 ms] as Linux; RFC 6298 suggests 1 s */
    uint64_t rto_max_ns;     /* [60 s] */
    uint8_t max_retries;     /* [15] data retransmissions before giving up */
    uint8_t syn_retries;     /* [6] SYN or SYN-ACK retransmissions */
    uint64_t delack_ns;      /* [40 ms] */
    uint64_t msl_ns;         /* [30 s] TIME_WAIT lasts 2 * MSL */
    uint64_t fin_wait_2_ns;  /* [60 s] for connections the application has closed */
    uint64_t keepalive_idle_ns;     /* [2 h] once keep-alive is on */
    uint64_t keepalive_interval_ns; /* [75 s] */
    uint8_t keepalive_probes;       /* [9] */
    uint32_t challenge_ack_limit;   /* [100] per second, RFC 5961 7 */
    /* Header prediction off: every segment takes the full input path. For tests, which
     * hold the fast path to the same result (test_tcp_predict.c). */
    bool no_prediction;
};

struct tcp_ops {
    /* ipv4_send with proto TCP. */
    int (*send)(void *ctx, const struct ipv4_tx *tx, const struct net_iov *iov, size_t n,
                uint64_t now);
    /* Every application event; `user` is the listener's user pointer for ACCEPTED,
     * the connection's otherwise. */
    void (*event)(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user);
};

struct tcp {
    struct tcp_cfg cfg;
    const struct tcp_ops *ops;
    void *ctx;
    struct tcp_conn *conns;
    uint32_t *buckets; /* index + 1 of the first connection, 0: empty */
    uint32_t n_buckets; /* power of two */
    uint32_t n_used;
    uint32_t live_head; /* index + 1 of an open connection: all of them are linked from it */
    /* TIME_WAIT records (tcp_tw.c): a ring of tw_cap in the order their 2*MSL began, the
     * oldest at tw_head; tw_len of them from there are taken (the free ones among them
     * wait to reach the head), tw_live hold a TIME_WAIT. Records [0, tw_fresh) have been
     * written. Found by tuple through buckets of their own, as many as the connections'. */
    struct tcp_tw *tw;
    uint32_t *tw_buckets;
    uint32_t tw_cap, tw_head, tw_len, tw_live, tw_fresh;
    uint32_t walk_next; /* index + 1 of the next one tcp_poll visits, 0 outside tcp_poll */
    /* Connections the device turned away (no transmit buffer), oldest first (index + 1,
     * linked through blocked_next): tcp_poll lets them send again, in that order. */
    uint32_t blocked_head, blocked_tail;
    /* Slots [0, n_fresh) have held a connection; the rest are untouched memory, set up when
     * first needed, so tcp_init costs nothing per slot. Closed slots are stacked from
     * free_head (index + 1, linked through hash_next). */
    uint32_t n_fresh;
    uint32_t free_head;
    uint8_t *rings; /* slot i's rx ring, then its tx ring, at i * (rx_size + tx_size) */
    uint32_t last_hit; /* index of the connection tcp_lookup found last */
    uint64_t secret[2]; /* SipHash key for ISNs and cookies */
    uint64_t ts_secret; /* per-connection timestamp offsets */
    struct net_rng rng;
    uint64_t next_deadline; /* a lower bound: poll rescans when it is due */
    uint32_t challenge_tokens;
    uint64_t challenge_refilled;
    struct tcp_stats stats;
};

int tcp_init(struct tcp *tcp, const struct tcp_cfg *cfg, const struct tcp_ops *ops, void *ctx,
             uint64_t now);
/* A segment from ipv4 (`ip` describes its header). */
void tcp_input(struct tcp *tcp, const struct ipv4_repr *ip, const uint8_t *seg, size_t len,
               uint64_t now);
/* Timers, and first the connections waiting for the device: a device that had no room
 * for a segment must make its owner poll once it has room again (tcp_tx_blocked says
 * whether anyone waits). */
void tcp_poll(struct tcp *tcp, uint64_t now);
uint64_t tcp_next_deadline(const struct tcp *tcp);
bool tcp_tx_blocked(const struct tcp *tcp);

/* Listen on `port` with at most `backlog` half-open connections (further SYNs get
 * cookies). Returns NET_OK, NET_EINVAL (port 0 or in use), NET_ENOBUFS (no slot). */
int tcp_listen(struct tcp *tcp, uint16_t port, uint16_t backlog, void *user);
/* Stop listening; established connections stay. Half-open ones are reset. */
int tcp_unlisten(struct tcp *tcp, uint16_t port, uint64_t now);
/* Active open to dst:port from `src_port` (0: an ephemeral port). NULL with *err set
 * (NET_ENOBUFS: table full; NET_EINVAL: tuple in use) on failure. */
struct tcp_conn *tcp_connect(struct tcp *tcp, net_ip4 dst, uint16_t dst_port, uint16_t src_port,
                             void *user, uint64_t now, int *err);

/* Queue up to `len` bytes; returns how many were taken (0 when the ring is full), or
 * NET_EINVAL after shutdown/close or in a state that cannot send. */
int tcp_send(struct tcp *tcp, struct tcp_conn *c, const void *data, size_t len, uint64_t now);
/* The same, saying more follows at once (a cork, like MSG_MORE): full segments go, a
 * short tail waits for the next tcp_send, so a response head shares a segment with its
 * body and a body written in pieces leaves no small segments between them. End with
 * tcp_send (or tcp_shutdown/tcp_close): the cork holds the tail until then. */
int tcp_send_more(struct tcp *tcp, struct tcp_conn *c, const void *data, size_t len,
                  uint64_t now);
/* Queue `len` bytes without copying them: they must stay where they are, unchanged, as
 * long as the TCP instance lives (a file in a read-only image). The ring does not bound
 * them, so a large file is in flight as fast as the windows allow. Takes all or nothing:
 * `len`, or 0 when the queue already holds TCP_SPANS_MAX runs (TCP_EV_WRITABLE follows
 * when one is acknowledged); NET_EINVAL as tcp_send. `more`: corked, as tcp_send_more. */
int tcp_send_static(struct tcp *tcp, struct tcp_conn *c, const void *data, size_t len,
                    bool more, uint64_t now);
/* Copy out up to `cap` received bytes; returns how many (0: none yet, or EOF — see
 * tcp_conn_info.peer_closed). Reading opens the window. */
int tcp_recv(struct tcp *tcp, struct tcp_conn *c, void *buf, size_t cap, uint64_t now);
/* Half-close: FIN after the queued data; reading continues. */
int tcp_shutdown(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
/* Done with the connection: FIN after the queued data, no more events. Data arriving
 * afterwards is answered with RST (RFC 9293 3.10.4, as Linux). */
int tcp_close(struct tcp *tcp, struct tcp_conn *c, uint64_t now);
/* Send RST and free the slot at once; no event. */
void tcp_abort(struct tcp *tcp, struct tcp_conn *c, uint64_t now);

void tcp_set_user(struct tcp_conn *c, void *user);
void tcp_set_nodelay(struct tcp_conn *c, bool on);
void tcp_set_keepalive(struct tcp *tcp, struct tcp_conn *c, bool on, uint64_t now);
void tcp_conn_info(const struct tcp_conn *c, struct tcp_conn_info *info);
/* tcp_conn_info's peer_closed alone: the peer sent FIN and every byte before it has been
 * read. For a server asking after each read, without filling in the rest. */
bool tcp_peer_closed(const struct tcp_conn *c);
/* Connections holding a slot: every state but CLOSED, TIME_WAIT included while the
 * application holds the connection (once closed, a TIME_WAIT is a record instead). */
uint32_t tcp_conns_in_use(const struct tcp *tcp);
/* TIME_WAIT records in use. */
uint32_t tcp_time_wait_count(const struct tcp *tcp);
/* Bytes of the TCP_MEM storage never written so far: slots (with their rings) and records
 * no connection has needed yet. A guest counting its pages in use can tell them apart. */
size_t tcp_untouched_bytes(const struct tcp *tcp);
/* Slots that have never held a connection (state kept per slot beside TCP's, such as
 * HTTP's, is untouched there too). */
uint32_t tcp_slots_never_used(const struct tcp *tcp);

/* An ICMP error quoting one of our segments (from icmp's ops->error). */
void tcp_icmp_error(struct tcp *tcp, const struct icmp_error *e, uint64_t now);

#endif
