/*
 * icmp.h — ICMP for IPv4 (RFC 792, RFC 1122 section 3.2.2).
 *
 * Input: ICMP messages from ipv4's deliver (borrowed during icmp_input; for a reassembled
 * datagram the payload lives in ipv4's reassembly slot). Echo requests are answered with
 * the same identifier, sequence and data, whatever their size — replies larger than the MTU
 * leave fragmented, as the request came. Echo requests to a broadcast address are ignored
 * (RFC 1122 3.2.2.6 allows it; it is what stops smurf amplification). Echo replies complete
 * pings started with icmp_ping(). Errors about our own packets (unreachable, time
 * exceeded, parameter problem) are checked, handed to ops->error for the transport, and
 * end a matching ping early.
 *
 * Output: icmp_send_error() builds Destination Unreachable / Time Exceeded quoting the
 * offending header and 8 bytes, never in answer to an ICMP error, a broadcast or multicast,
 * a link-layer broadcast or a non-initial fragment (RFC 1122 3.2.2), and rate-limited by a
 * token bucket (RFC 1812 4.3.2.8) so a flood of bad packets cannot turn us into a flood.
 * Echo replies are not rate-limited: a ping flood should be answered in full.
 *
 * Pings: icmp_ping() sends an echo request from a table of outstanding pings (caller
 * storage); the result — reply with its round-trip time, unreachable, corrupted data or
 * timeout after cfg.ping_timeout_ns — arrives at ops->ping_result. Time is nanoseconds.
 */
#ifndef NETSTACK_ICMP_H
#define NETSTACK_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/icmp_wire.h"
#include "netstack/ipv4.h"
#include "netstack/net.h"

struct icmp_repr {
    uint8_t type;
    uint8_t code;
    uint16_t ident; /* echo; for errors the first half of the "rest" word */
    uint16_t seq;   /* echo; for errors the second half (next-hop MTU for code 4) */
    const uint8_t *data;
    size_t data_len;
};

/* Codec: parse checks length and checksum; data points into `buf`. */
int icmp_parse(const uint8_t *buf, size_t len, struct icmp_repr *repr);
/* Writes the 8-byte header with a checksum covering it and repr->data. */
int icmp_emit(const struct icmp_repr *repr, uint8_t *buf, size_t cap);

#define ICMP_PING_MAX 4096 /* payload bytes icmp_ping will send */

enum icmp_ping_status {
    ICMP_PING_REPLY = 0,
    ICMP_PING_TIMEOUT,
    ICMP_PING_UNREACHABLE,
    ICMP_PING_CORRUPT, /* reply arrived but its data differs from what we sent */
};

struct icmp_ping_result {
    enum icmp_ping_status status;
    net_ip4 peer;
    uint16_t ident;
    uint16_t seq;
    uint16_t len; /* payload bytes */
    uint8_t ttl;  /* of the reply */
    uint64_t rtt_ns;
};

struct icmp_ping {
    bool used;
    net_ip4 dst;
    uint16_t seq;
    uint16_t len;
    uint64_t sent;
};

/* An ICMP error about one of our packets, for the transport that sent it. */
struct icmp_error {
    uint8_t type;
    uint8_t code;
    net_ip4 reporter;   /* who sent the error */
    uint16_t mtu;       /* next-hop MTU for "fragmentation needed", else 0 */
    struct ipv4_repr quoted; /* header of our packet as the reporter saw it */
    const uint8_t *quoted_data; /* the first bytes of our packet's payload */
    size_t quoted_len;
};

struct icmp_stats {
    uint64_t rx_packets;
    uint64_t rx_truncated;
    uint64_t rx_bad_checksum;
    uint64_t rx_echo_requests;
    uint64_t rx_broadcast_echo; /* ignored */
    uint64_t rx_echo_replies;
    uint64_t rx_unmatched_replies;
    uint64_t rx_errors;     /* well-formed errors about our packets */
    uint64_t rx_bad_errors; /* quote too short, malformed, or not about us */
    uint64_t rx_unsupported; /* redirects, timestamps, unknown types */
    uint64_t tx_echo_replies;
    uint64_t tx_echo_requests;
    uint64_t tx_errors;
    uint64_t tx_rate_limited;
    uint64_t tx_suppressed; /* RFC 1122: no error about an error, broadcast, fragment */
    uint64_t tx_failed;     /* ipv4 could not send */
    uint64_t ping_timeouts;
};

struct icmp_cfg {
    net_ip4 addr;  /* our address: quoted errors must be about packets we sent */
    uint64_t seed; /* echo identifier */
    struct icmp_ping *pings;
    size_t n_pings;
    uint64_t ping_timeout_ns;     /* 0: 2 s */
    uint32_t error_burst;         /* 0: 10 */
    uint64_t error_interval_ns;   /* one token per interval; 0: 10 ms */
};

struct icmp_ops {
    int (*send)(void *ctx, const struct ipv4_tx *tx, const struct net_iov *iov, size_t n,
                uint64_t now); /* ipv4_send */
    void (*ping_result)(void *ctx, const struct icmp_ping_result *r); /* optional */
    void (*error)(void *ctx, const struct icmp_error *e, uint64_t now); /* optional */
};

struct icmp {
    struct icmp_cfg cfg;
    const struct icmp_ops *ops;
    void *ctx;
    uint16_t ident;
    uint32_t tokens;
    uint64_t refilled;
    struct icmp_stats stats;
};

int icmp_init(struct icmp *icmp, const struct icmp_cfg *cfg, const struct icmp_ops *ops,
              void *ctx, uint64_t now);
void icmp_input(struct icmp *icmp, const struct ipv4_repr *ip, const uint8_t *payload,
                size_t len, uint64_t now);
/* Report `orig` (its raw header `hdr`, and `data` of its payload) to its sender. */
void icmp_send_error(struct icmp *icmp, uint8_t type, uint8_t code, const struct ipv4_repr *orig,
                     const uint8_t *hdr, const uint8_t *data, size_t data_len, uint64_t now);
/* Send an echo request of `len` payload bytes. NET_ENOBUFS when the ping table is full. */
int icmp_ping(struct icmp *icmp, net_ip4 dst, uint16_t seq, size_t len, uint64_t now);
void icmp_poll(struct icmp *icmp, uint64_t now);
uint64_t icmp_next_deadline(const struct icmp *icmp);

#endif
