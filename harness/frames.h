/*
 * frames.h — build test frames into a caller's buffer (>= FAKE_LINK_FRAME_MAX bytes).
 * Headers are written field by field here, independently of the stack's emitters, so a
 * bug in an emitter cannot hide itself by building the test's input too. Each returns the
 * frame length. Fields not named take the usual values (TTL 64, no options, correct
 * checksums); tests damage the result afterwards to make bad input.
 */
#ifndef HARNESS_FRAMES_H
#define HARNESS_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/net.h"

struct fr_ip {
    net_ip4 src, dst;
    uint8_t proto;
    uint8_t ttl; /* 0: 64 */
    uint16_t id;
    bool df, mf;
    uint16_t frag_off; /* bytes, multiple of 8 */
    const uint8_t *options; /* raw option bytes, length a multiple of 4 */
    size_t options_len;
};

size_t fr_eth(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src, uint16_t type,
              const void *payload, size_t len);
size_t fr_arp(uint8_t *buf, const struct net_mac *eth_dst, uint16_t op,
              const struct net_mac *sha, net_ip4 spa, const struct net_mac *tha, net_ip4 tpa);
/* IPv4 packet (no Ethernet header) into buf; returns its length. */
size_t fr_ipv4_pkt(uint8_t *buf, const struct fr_ip *ip, const void *payload, size_t len);
size_t fr_ipv4(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src,
               const struct fr_ip *ip, const void *payload, size_t len);
/* ICMP message (no IP header) into buf; returns its length. */
size_t fr_icmp_msg(uint8_t *buf, uint8_t type, uint8_t code, uint16_t ident, uint16_t seq,
                   const void *data, size_t len);
size_t fr_echo(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src, net_ip4 ipsrc,
               net_ip4 ipdst, uint8_t type, uint16_t ident, uint16_t seq, const void *data,
               size_t len);

/* TCP. Fields are written as given (flags as on the wire, options raw); the checksum is
 * computed over the IPv4 pseudo-header with fr_csum. */
struct fr_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window;
    uint16_t urg;
    const uint8_t *options; /* raw option bytes, length a multiple of 4 */
    size_t options_len;
};

/* TCP segment (no IP header) into buf; returns its length. */
size_t fr_tcp_seg(uint8_t *buf, net_ip4 src, net_ip4 dst, const struct fr_tcp *t,
                  const void *payload, size_t len);
/* Ethernet + IPv4 (DF, no options) + TCP. */
size_t fr_tcp(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src, net_ip4 ipsrc,
              net_ip4 ipdst, const struct fr_tcp *t, const void *payload, size_t len);
/* Option words, each a multiple of 4 bytes, laid out as Linux writes them; return the
 * bytes written. */
size_t fr_tcp_opt_mss(uint8_t *p, uint16_t mss);              /* MSS */
size_t fr_tcp_opt_ws(uint8_t *p, uint8_t shift);              /* NOP WS */
size_t fr_tcp_opt_sack_perm(uint8_t *p);                      /* NOP NOP SACK_PERM */
size_t fr_tcp_opt_ts(uint8_t *p, uint32_t val, uint32_t ecr); /* NOP NOP TS */
/* NOP NOP SACK with `n` blocks; `edges` holds left, right for each. */
size_t fr_tcp_opt_sack(uint8_t *p, const uint32_t *edges, size_t n);

/* RFC 1071 done naively (byte by byte), independent of lib/netstack/checksum.c. */
uint16_t fr_csum(const uint8_t *p, size_t len);

/* Test peers. */
extern const struct net_mac fr_mac_peer;      /* 02:00:00:00:00:01, host 10.0.0.1 */
extern const struct net_mac fr_mac_other;     /* 02:00:00:00:00:02, host 10.0.0.3 */
extern const struct net_mac fr_mac_broadcast;
extern const struct net_mac fr_mac_zero;

#endif
