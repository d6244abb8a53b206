/*
 * ipv4.h — IPv4 for a single-homed host (RFC 791, RFC 1122 section 3.2.1).
 *
 * Input: a packet from eth (borrowed during ipv4_input). The header is validated in
 * full — version, IHL, total length against the frame (link padding trimmed), header
 * checksum, option TLV structure (options are skipped, not acted on), reserved flag,
 * TTL, source address — and packets for our address, the limited broadcast or our
 * subnet broadcast go to ops->deliver. A TTL of zero is dropped: RFC 1122 forbids a
 * host to send one, so it can only come from a broken or hostile sender. Every other
 * refusal is counted in struct ipv4_stats under its own reason.
 *
 * Fragments are reassembled, because peers do fragment (Linux `ping -s 3000`) and an
 * echo of that size is something users try. Reassembly is bounded three ways: a fixed
 * number of slots of fixed size (caller storage: IPV4_FRAG_MEM), a timeout
 * (cfg.frag_timeout_ns, 30 s default as in Linux), and an evict-oldest rule when every
 * slot is busy. Overlaps follow RFC 5722's rule, which Linux also applies to IPv4: a
 * fragment that overlaps received data with different bytes, or only partly, discards the
 * whole datagram; an exact retransmission is ignored. A datagram larger than a slot is
 * dropped whole. When a datagram whose first fragment arrived times out,
 * ops->frag_timeout lets ICMP send Time Exceeded (RFC 792, code 1).
 *
 * Output: ipv4_send() takes the payload as an iovec, chooses the next hop (on-link
 * peer, subnet or limited broadcast, else the gateway), copies the payload once into a
 * device buffer behind a 20-byte header, and hands it to ops->output (ARP). Payloads over
 * the MTU are fragmented unless DF is asked for. Identification is a per-stack
 * counter started at a seeded random value (RFC 6864 needs uniqueness only per
 * src/dst/protocol within a reassembly lifetime). Time is nanoseconds.
 */
#ifndef NETSTACK_IPV4_H
#define NETSTACK_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/ipv4_wire.h"
#include "netstack/net.h"

struct ipv4_repr {
    uint8_t hdr_len; /* bytes, options included */
    uint8_t tos;
    uint16_t total_len;
    uint16_t id;
    bool df;
    bool mf;
    uint16_t frag_off; /* bytes */
    uint8_t ttl;
    uint8_t proto;
    net_ip4 src;
    net_ip4 dst;
    /* Set by ipv4_input from addresses, not by the codec: ICMP must not answer these
     * with errors, nor echo a broadcast ping (RFC 1122 3.2.2, 3.2.2.6). */
    bool to_broadcast;   /* limited or subnet broadcast destination */
    bool link_broadcast; /* arrived in a link-layer broadcast frame */
};

/* Why ipv4_parse refused a header. */
enum ipv4_defect {
    IPV4_DEFECT_NONE = 0,
    IPV4_DEFECT_TRUNCATED,
    IPV4_DEFECT_VERSION,
    IPV4_DEFECT_IHL,
    IPV4_DEFECT_LENGTH,
    IPV4_DEFECT_CHECKSUM,
    IPV4_DEFECT_OPTIONS,
    IPV4_DEFECT_FLAGS,
    IPV4_DEFECT_TTL,
};

/* Codec. parse validates everything that depends only on the bytes; on success repr
 * describes the packet and repr.total_len <= len. `why` (may be NULL) gets the reason. */
int ipv4_parse(const uint8_t *buf, size_t len, struct ipv4_repr *repr, enum ipv4_defect *why);
/* Writes a 20-byte header (no options) with its checksum. */
int ipv4_emit(const struct ipv4_repr *repr, uint8_t *buf, size_t cap);

struct ipv4_stats {
    uint64_t rx_packets; /* delivered (after reassembly) */
    uint64_t rx_truncated;
    uint64_t rx_bad_version;
    uint64_t rx_bad_ihl;
    uint64_t rx_bad_length;
    uint64_t rx_bad_checksum;
    uint64_t rx_bad_options;
    uint64_t rx_bad_flags;
    uint64_t rx_bad_ttl;
    uint64_t rx_bad_src; /* broadcast, multicast, zero, loopback or our own address */
    uint64_t rx_not_for_us;
    uint64_t rx_unknown_proto; /* nothing above took it */
    uint64_t frag_rx;
    uint64_t frag_reassembled;
    uint64_t frag_bad;      /* MF with a length not a multiple of 8, or past 64 KiB */
    uint64_t frag_dup;      /* exact retransmission, ignored */
    uint64_t frag_overlap;  /* datagram discarded */
    uint64_t frag_too_big;  /* datagram larger than a slot */
    uint64_t frag_timeout;
    uint64_t frag_evicted;
    uint64_t tx_packets;
    uint64_t tx_fragments;
    uint64_t tx_no_route;
    uint64_t tx_too_big; /* DF set and over the MTU, or over 64 KiB */
    uint64_t tx_no_buffer;
};

/* Reassembly slot bookkeeping; the bytes live in cfg.frag_mem. */
struct ipv4_frag_slot {
    bool used;
    net_ip4 src, dst;
    uint16_t id;
    uint8_t proto;
    uint8_t hdr_len;       /* of the first fragment, once seen */
    bool to_broadcast, link_broadcast; /* of the first fragment */
    uint32_t total;        /* payload length once the last fragment is seen, else 0 */
    uint64_t expires;
    uint8_t hdr[IPV4_HDR_MAX]; /* first fragment's header, for delivery and ICMP */
    uint8_t *data;         /* frag_slot_size bytes */
    uint8_t *have;         /* one bit per 8-byte block */
};

/* Bytes of cfg.frag_mem for `n` slots of `size` payload bytes each. */
#define IPV4_FRAG_MEM(n, size) ((size_t)(n) * ((size_t)(size) + ((size_t)(size) + 63) / 64))

struct ipv4_cfg {
    net_ip4 addr;
    uint8_t prefix_len; /* 1..30; 32 would leave no on-link peers */
    net_ip4 gateway;    /* 0: on-link destinations only */
    uint16_t mtu;       /* of the link below */
    uint8_t ttl;        /* 0: IPV4_DEFAULT_TTL */
    uint64_t seed;
    struct ipv4_frag_slot *frag_slots; /* 0 slots: fragments are counted and dropped */
    size_t n_frag_slots;
    uint8_t *frag_mem; /* IPV4_FRAG_MEM(n_frag_slots, frag_slot_size) bytes */
    size_t frag_slot_size; /* largest reassembled payload, <= 65515 */
    uint64_t frag_timeout_ns; /* 0: 30 s */
};

struct ipv4_ops {
    /* Room for an IP packet of `len` bytes in a device buffer (eth_reserve). */
    uint8_t *(*reserve)(void *ctx, size_t len);
    /* Send the reserved packet towards `next_hop` (arp_output). */
    void (*output)(void *ctx, net_ip4 next_hop, uint8_t *pkt, size_t len,
                   const struct net_offload *off, uint64_t now);
    /* Upper-layer demux: `hdr` is the raw header (options included) for ICMP errors.
     * Return false when no protocol takes repr->proto (counted here). */
    bool (*deliver)(void *ctx, const struct ipv4_repr *repr, const uint8_t *hdr,
                    const uint8_t *payload, size_t len, uint64_t now);
    /* Optional: reassembly of a datagram whose first fragment we hold timed out; `hdr`
     * and up to 8 bytes of `data` are what an ICMP Time Exceeded quotes. */
    void (*frag_timeout)(void *ctx, const struct ipv4_repr *repr, const uint8_t *hdr,
                         const uint8_t *data, size_t data_len, uint64_t now);
};

struct ipv4 {
    struct ipv4_cfg cfg;
    const struct ipv4_ops *ops;
    void *ctx;
    net_ip4 netmask;
    net_ip4 subnet_broadcast; /* (addr & netmask) | ~netmask, checked for every packet */
    uint16_t next_id;
    struct ipv4_stats stats;
};

struct ipv4_tx {
    net_ip4 dst;
    uint8_t proto;
    uint8_t tos;
    uint8_t ttl; /* 0: cfg.ttl */
    bool df;
    /* Offloads the transport asks of the device (only those its caps offered):
     * csum_at != 0: the payload's checksum field at this offset holds the pseudo-header
     *   sum and the device finishes it (done here when the packet must be fragmented);
     * gso_size != 0: a payload over the MTU is one packet the device cuts into pieces
     *   of gso_size bytes behind copies of its first l4_hdr_len (transport header) bytes. */
    uint16_t csum_at;
    uint16_t gso_size, l4_hdr_len;
};

int ipv4_init(struct ipv4 *ip, const struct ipv4_cfg *cfg, const struct ipv4_ops *ops,
              void *ctx);
/* `link_broadcast`: the frame was sent to the link-layer broadcast address. */
void ipv4_input(struct ipv4 *ip, const uint8_t *pkt, size_t len, bool link_broadcast,
                uint64_t now);
/* Send a datagram whose payload is the concatenation of `iov`. NET_OK once handed to the
 * link (which may still queue it for ARP); NET_EUNREACH, NET_EMSGSIZE, NET_ENOBUFS. */
int ipv4_send(struct ipv4 *ip, const struct ipv4_tx *tx, const struct net_iov *iov, size_t n,
              uint64_t now);
/* Next hop for `dst`: the on-link address itself, NET_IP4_BROADCAST for broadcasts,
 * or the gateway. NET_EUNREACH when off-link with no gateway. */
int ipv4_route(const struct ipv4 *ip, net_ip4 dst, net_ip4 *next_hop);
/* True for the limited broadcast and our subnet's directed broadcast. */
bool ipv4_is_broadcast(const struct ipv4 *ip, net_ip4 a);
/* Largest payload ipv4_send can put in one unfragmented packet. */
size_t ipv4_max_payload(const struct ipv4 *ip);
void ipv4_poll(struct ipv4 *ip, uint64_t now);
uint64_t ipv4_next_deadline(const struct ipv4 *ip);

#endif
