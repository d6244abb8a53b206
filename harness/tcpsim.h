/*
 * tcpsim.h — two whole Quartz stacks joined by an impaired link, moving verified data
 * both ways over TCP, on one virtual clock.
 *
 * Node A (10.0.0.2) listens on TCPSIM_PORT; node B (10.0.0.1) opens n_flows connections
 * to it at time 0. On every connection both sides send at once — B sends bytes_ba, A
 * sends bytes_ab — each a seeded pseudo-random stream, pushed through tcp_send until it
 * refuses (TCP_EV_WRITABLE resumes), then half-closed with tcp_shutdown. Each side reads
 * everything and checks every byte against the stream it expects plus a running FNV-1a
 * hash against the sender's; once its own FIN is queued and it has read up to the peer's
 * (tcp_conn_info.peer_closed), it calls tcp_close. The run ends when every flow is done and both
 * connection tables are empty (TIME_WAIT included). It fails — never hangs — when TCP gives up on a
 * connection, on a step or virtual time limit, and when no IPv4 frame crosses the link for
 * idle_limit_ns while flows are unfinished (a deadlock: both sides wait for each other).
 *
 * The link: frames each node commits to its fake link are taken at the time they were
 * sent, serialised at rate_bps (0: instantly), pushed into that direction's struct impair
 * (loss, corruption, duplication, reordering, delay, jitter; harness/impair.h), and handed
 * to the other node (node_input) when the impair queue releases them. The clock jumps to
 * the earliest of both nodes' deadlines, both queues' release times and the slow reader's
 * next read, so seconds of timers cost nothing. Same cfg, same result, byte for byte and
 * nanosecond for nanosecond; pcap_tx / pcap_rx write what was sent and what arrived.
 *
 * Host code: allocates everything it needs inside tcpsim_run and frees it before
 * returning. Time is nanoseconds.
 */
#ifndef HARNESS_TCPSIM_H
#define HARNESS_TCPSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "impair.h"
#include "netstack/tcp.h"

#define TCPSIM_PORT 5001
#define TCPSIM_RING 65536                        /* default rx and tx ring per connection */
#define TCPSIM_TIME_LIMIT (3600 * 1000000000ull) /* default virtual time limit */
#define TCPSIM_STEP_LIMIT 200000000ull           /* default frames + clock jumps */
#define TCPSIM_IDLE_LIMIT (300 * 1000000000ull)  /* default silence that means deadlock */

struct tcpsim_cfg {
    /* The stacks' seeds and the data streams derive from it. */
    uint64_t seed;
    /* The A -> B direction, and B -> A too unless link_ba is set. Each queue's seed mixes
     * its cfg's seed with `seed` and the direction, so the two never draw alike. */
    struct impair_cfg link;
    const struct impair_cfg *link_ba;
    uint64_t rate_bps; /* serialisation rate of each direction; 0: infinitely fast */

    uint32_t n_flows;           /* [1] connections at once */
    uint64_t bytes_ab;          /* per connection, A (the listener) to B */
    uint64_t bytes_ba;          /* per connection, B (the connector) to A */
    uint32_t ring;              /* [TCPSIM_RING] rx and tx ring bytes per connection */
    uint32_t conns;             /* [n_flows] TCP table size of each node */
    uint16_t backlog;           /* [n_flows] listener's half-open limit (beyond it: SYN cookies) */
    const struct tcp_cfg *tune; /* optional timer and retry tunables for both stacks */
    /* Offloads A's link offers (checksum, TSO): the link finishes A's frames as a host
     * would (harness/gso.c), so B and the impairments see ordinary segments. */
    struct net_dev_caps caps_a;
    /* A slow reader: when read_interval_ns is set, each end reads at most read_quantum
     * bytes every read_interval_ns instead of all it can at each event, so receive
     * windows fill and close (zero windows, persist probes, window updates). */
    uint64_t read_interval_ns;
    uint32_t read_quantum;

    uint64_t time_limit_ns; /* [TCPSIM_TIME_LIMIT] virtual */
    uint64_t idle_limit_ns; /* [TCPSIM_IDLE_LIMIT] virtual */
    uint64_t step_limit;    /* [TCPSIM_STEP_LIMIT] */
    bool verbose;           /* log every flow's end, and a failure's state, to stderr */
    const char *pcap_tx;    /* optional: every frame either node sent, when it sent it */
    const char *pcap_rx;    /* optional: every frame delivered, when it was delivered */
};

struct tcpsim_result {
    bool ok;       /* data_ok && closed && no limit hit */
    bool data_ok;  /* every byte of every stream arrived, in order, and hashes agree */
    bool closed;   /* every flow closed normally and both tables ended empty */
    char why[256]; /* the first failure, "" when ok */

    uint64_t bytes_ab, bytes_ba; /* verified bytes delivered, over all flows */
    uint32_t flows_done;         /* flows whose both ends finished and verified */
    uint64_t done_ns;            /* virtual time when the last flow finished */
    uint64_t end_ns;             /* virtual time when both tables were empty */
    uint64_t steps;

    uint64_t frames_ab, frames_ba; /* frames each node sent (before impairment) */
    uint64_t ip_fragments;         /* of those, IPv4 fragments: TCP should never need one */
    uint64_t bursts_a;             /* TSO bursts A's link cut into those frames */
    uint64_t zero_windows;         /* of those, TCP segments advertising a zero window */
    uint64_t writable;             /* TCP_EV_WRITABLE events: tcp_send pushed back */
    struct impair_stats imp_ab, imp_ba;
    struct tcp_stats tcp_a, tcp_b;
    uint32_t in_use_a, in_use_b; /* tcp_conns_in_use at the end */
};

/* Run one simulation to its end. Returns res->ok. */
bool tcpsim_run(const struct tcpsim_cfg *cfg, struct tcpsim_result *res);
/* One line for a log or a test table: times, bytes, frames, impairments, recoveries. */
void tcpsim_format(const struct tcpsim_result *res, char *buf, size_t len);

#endif
