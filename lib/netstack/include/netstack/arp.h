/*
 * arp.h — IPv4-over-Ethernet address resolution (RFC 826) with a bounded cache.
 *
 * Consumes ARP payloads from eth (borrowed during arp_input). Answers requests for our
 * address, learns the sender of any request or reply aimed at us, and refreshes entries
 * it already holds (the RFC 826 merge rule); it never creates entries from traffic
 * aimed at others. arp_announce() starts RFC 5227 announcements (gratuitous ARP).
 *
 * arp_output() takes an IPv4 packet sitting in a reserved eth buffer and a next hop.
 * Resolved: the packet is framed and sent in place. Unresolved: it is copied into a small
 * bounded queue (storage from the caller) and a broadcast request goes out; requests are
 * retried every cfg.retry_ns up to cfg.max_tries, then the entry and its queued packets
 * are dropped and counted. A full queue drops its oldest packet. Either way the caller's
 * buffer is done with when arp_output returns. A next hop of NET_IP4_BROADCAST goes to
 * the broadcast MAC without resolution.
 *
 * Aging: an entry lives cfg.reachable_ns from the last reply that confirmed it. Used past
 * cfg.refresh_ns, it is re-confirmed with a unicast request while it keeps working, so a
 * busy peer never stalls on re-resolution; an entry nobody uses simply expires.
 * The cache has a fixed number of slots (caller storage); when full, the entry closest
 * to expiry is evicted. Time is nanoseconds.
 */
#ifndef NETSTACK_ARP_H
#define NETSTACK_ARP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/arp_wire.h"
#include "netstack/eth.h"
#include "netstack/net.h"

struct arp_repr {
    uint16_t op;
    struct net_mac sha;
    net_ip4 spa;
    struct net_mac tha;
    net_ip4 tpa;
};

/* Codec: parse validates hardware/protocol types and lengths; returns ARP_LEN or error. */
int arp_parse(const uint8_t *buf, size_t len, struct arp_repr *repr);
int arp_emit(const struct arp_repr *repr, uint8_t *buf, size_t cap);

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE };

struct arp_entry {
    net_ip4 ip;
    struct net_mac mac;
    uint8_t state;
    uint8_t tries;      /* requests sent for this resolution */
    uint64_t deadline;  /* INCOMPLETE: next retry; REACHABLE: expiry */
    uint64_t confirmed; /* REACHABLE: when a reply last confirmed it */
    uint64_t next_probe; /* REACHABLE: earliest next refresh request */
};

struct arp_pending {
    net_ip4 next_hop;
    uint16_t len; /* 0: slot free */
    uint64_t seq; /* queue order, for oldest-first eviction and flush */
};

struct arp_stats {
    uint64_t rx_packets;
    uint64_t rx_truncated;
    uint64_t rx_bad_format; /* hardware/protocol type or length we do not speak */
    uint64_t rx_bad_op;
    uint64_t rx_bad_sender; /* group/zero/our own MAC or non-unicast IP as sender */
    uint64_t rx_conflict;   /* someone else claims our address */
    uint64_t rx_not_for_us; /* requests for other hosts: normal, just counted */
    uint64_t learned;
    uint64_t updated;
    uint64_t evicted;
    uint64_t expired;
    uint64_t resolve_failed; /* retry limit reached */
    uint64_t queue_dropped;  /* queued packets lost to overflow or failed resolution */
    uint64_t tx_requests;
    uint64_t tx_replies;
    uint64_t tx_announcements;
    uint64_t tx_no_buffer;
};

struct arp_cfg {
    net_ip4 ip;
    struct net_mac mac;
    struct arp_entry *entries; /* cache storage */
    size_t n_entries;
    struct arp_pending *pending; /* queue bookkeeping */
    size_t n_pending;
    uint8_t *pending_mem; /* n_pending * pending_slot bytes */
    size_t pending_slot;  /* largest packet a slot holds (the MTU) */
    uint64_t reachable_ns; /* 0: 60 s */
    uint64_t refresh_ns;   /* 0: 3/4 of reachable_ns */
    uint64_t retry_ns;     /* 0: 1 s */
    uint8_t max_tries;     /* 0: 3 */
    uint8_t announce_count; /* RFC 5227 ANNOUNCE_NUM; 0: 2 */
    uint64_t announce_interval_ns; /* 0: 2 s (ANNOUNCE_INTERVAL) */
};

struct arp_ops {
    /* The link below: eth_reserve()/eth_send() semantics. */
    uint8_t *(*reserve)(void *ctx, size_t len);
    void (*send)(void *ctx, uint8_t *payload, size_t len, const struct net_mac *dst,
                 uint16_t type, const struct net_offload *off);
};

struct arp {
    struct arp_cfg cfg;
    const struct arp_ops *ops;
    void *ctx;
    uint64_t queue_seq;
    uint8_t announce_left;
    uint64_t announce_at;
    uint64_t flush_at; /* retry queued packets the device refused; UINT64_MAX: none */
    uint64_t entries_due; /* no entry's deadline is earlier (a lower bound) */
    struct arp_stats stats;
};

int arp_init(struct arp *arp, const struct arp_cfg *cfg, const struct arp_ops *ops, void *ctx);
void arp_input(struct arp *arp, const uint8_t *buf, size_t len, uint64_t now);
/* Send `pkt` (an IPv4 packet in a reserved eth buffer) to `next_hop`, with the device's
 * offload work `off` (NULL: none). NET_OK: sent; NET_EAGAIN: queued for resolution, its
 * checksum finished here as the queue keeps no offload request; NET_ENOBUFS: could not
 * be queued or sent (counted; a TSO packet is larger than a queue slot). */
int arp_output(struct arp *arp, net_ip4 next_hop, uint8_t *pkt, size_t len,
               const struct net_offload *off, uint64_t now);
/* Start announcing our address; the first goes out now, the rest from arp_poll. */
void arp_announce(struct arp *arp, uint64_t now);
/* Begin resolving `ip` without a packet to send (e.g. the gateway at boot). */
void arp_resolve(struct arp *arp, net_ip4 ip, uint64_t now);
/* Retries, expiry, announcements, and flushing queued packets the device refused. */
void arp_poll(struct arp *arp, uint64_t now);
/* When arp_poll next has work, never later; UINT64_MAX when none. It may be earlier when
 * an entry's deadline moved out (a reply arrived while a retry was due): that poll does
 * nothing and makes the answer exact again. */
uint64_t arp_next_deadline(const struct arp *arp);
/* A resolved entry's MAC, or false. */
bool arp_lookup(const struct arp *arp, net_ip4 ip, struct net_mac *mac);

#endif
