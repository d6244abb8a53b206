#include "frames.h"

#include <string.h>

const struct net_mac fr_mac_peer = {{0x02, 0, 0, 0, 0, 0x01}};
const struct net_mac fr_mac_other = {{0x02, 0, 0, 0, 0, 0x02}};
const struct net_mac fr_mac_broadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const struct net_mac fr_mac_zero = {{0}};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* A deliberately naive RFC 1071 sum, separate from lib/netstack/checksum.c. */
uint16_t fr_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t fr_eth(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src, uint16_t type,
              const void *payload, size_t len)
{
    memcpy(buf, dst->b, 6);
    memcpy(buf + 6, src->b, 6);
    put16(buf + 12, type);
    if (len)
        memmove(buf + 14, payload, len);
    return 14 + len;
}

size_t fr_arp(uint8_t *buf, const struct net_mac *eth_dst, uint16_t op,
              const struct net_mac *sha, net_ip4 spa, const struct net_mac *tha, net_ip4 tpa)
{
    uint8_t a[28];
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, sha->b, 6);
    put32(a + 14, spa);
    memcpy(a + 18, tha->b, 6);
    put32(a + 24, tpa);
    return fr_eth(buf, eth_dst, sha, 0x0806, a, sizeof(a));
}

size_t fr_ipv4_pkt(uint8_t *buf, const struct fr_ip *ip, const void *payload, size_t len)
{
    size_t hl = 20 + ip->options_len;
    buf[0] = (uint8_t)(0x40 | (hl / 4));
    buf[1] = 0;
    put16(buf + 2, (uint16_t)(hl + len));
    put16(buf + 4, ip->id);
    put16(buf + 6, (uint16_t)((ip->df ? 0x4000 : 0) | (ip->mf ? 0x2000 : 0) | (ip->frag_off / 8)));
    buf[8] = ip->ttl ? ip->ttl : 64;
    buf[9] = ip->proto;
    put16(buf + 10, 0);
    put32(buf + 12, ip->src);
    put32(buf + 16, ip->dst);
    if (ip->options_len)
        memcpy(buf + 20, ip->options, ip->options_len);
    put16(buf + 10, fr_csum(buf, hl));
    if (len)
        memmove(buf + hl, payload, len);
    return hl + len;
}

size_t fr_ipv4(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src,
               const struct fr_ip *ip, const void *payload, size_t len)
{
    size_t n = fr_ipv4_pkt(buf + 14, ip, payload, len);
    memcpy(buf, dst->b, 6);
    memcpy(buf + 6, src->b, 6);
    put16(buf + 12, 0x0800);
    return 14 + n;
}

size_t fr_icmp_msg(uint8_t *buf, uint8_t type, uint8_t code, uint16_t ident, uint16_t seq,
                   const void *data, size_t len)
{
    buf[0] = type;
    buf[1] = code;
    put16(buf + 2, 0);
    put16(buf + 4, ident);
    put16(buf + 6, seq);
    if (len)
        memmove(buf + 8, data, len);
    put16(buf + 2, fr_csum(buf, 8 + len));
    return 8 + len;
}

size_t fr_echo(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src, net_ip4 ipsrc,
               net_ip4 ipdst, uint8_t type, uint16_t ident, uint16_t seq, const void *data,
               size_t len)
{
    uint8_t msg[2048];
    size_t n = fr_icmp_msg(msg, type, 0, ident, seq, data, len);
    struct fr_ip ip = {.src = ipsrc, .dst = ipdst, .proto = 1, .id = seq};
    return fr_ipv4(buf, dst, src, &ip, msg, n);
}

/* The TCP checksum by the naive sum: pseudo-header and segment summed apart (the
 * pseudo-header is 12 bytes, so the segment starts on a word) and added with the
 * end-around carry. */
static uint16_t tcp_csum(net_ip4 src, net_ip4 dst, const uint8_t *seg, size_t len)
{
    uint8_t ph[12];
    put32(ph, src);
    put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = 6;
    put16(ph + 10, (uint16_t)len);
    uint32_t sum = (uint32_t)(uint16_t)~fr_csum(ph, sizeof(ph)) + (uint16_t)~fr_csum(seg, len);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t fr_tcp_seg(uint8_t *buf, net_ip4 src, net_ip4 dst, const struct fr_tcp *t,
                  const void *payload, size_t len)
{
    size_t hl = 20 + t->options_len;
    put16(buf, t->sport);
    put16(buf + 2, t->dport);
    put32(buf + 4, t->seq);
    put32(buf + 8, t->ack);
    buf[12] = (uint8_t)((hl / 4) << 4);
    buf[13] = t->flags;
    put16(buf + 14, t->window);
    put16(buf + 16, 0);
    put16(buf + 18, t->urg);
    if (t->options_len)
        memcpy(buf + 20, t->options, t->options_len);
    if (len)
        memmove(buf + hl, payload, len);
    put16(buf + 16, tcp_csum(src, dst, buf, hl + len));
    return hl + len;
}

size_t fr_tcp(uint8_t *buf, const struct net_mac *dst, const struct net_mac *src, net_ip4 ipsrc,
              net_ip4 ipdst, const struct fr_tcp *t, const void *payload, size_t len)
{
    /* Built where it will end up: fr_ipv4 moves the payload onto itself. */
    uint8_t *seg = buf + 14 + 20;
    size_t n = fr_tcp_seg(seg, ipsrc, ipdst, t, payload, len);
    struct fr_ip ip = {.src = ipsrc, .dst = ipdst, .proto = 6, .df = true};
    return fr_ipv4(buf, dst, src, &ip, seg, n);
}

size_t fr_tcp_opt_mss(uint8_t *p, uint16_t mss)
{
    p[0] = 2;
    p[1] = 4;
    put16(p + 2, mss);
    return 4;
}

size_t fr_tcp_opt_ws(uint8_t *p, uint8_t shift)
{
    p[0] = 1;
    p[1] = 3;
    p[2] = 3;
    p[3] = shift;
    return 4;
}

size_t fr_tcp_opt_sack_perm(uint8_t *p)
{
    p[0] = 1;
    p[1] = 1;
    p[2] = 4;
    p[3] = 2;
    return 4;
}

size_t fr_tcp_opt_ts(uint8_t *p, uint32_t val, uint32_t ecr)
{
    p[0] = 1;
    p[1] = 1;
    p[2] = 8;
    p[3] = 10;
    put32(p + 4, val);
    put32(p + 8, ecr);
    return 12;
}

size_t fr_tcp_opt_sack(uint8_t *p, const uint32_t *edges, size_t n)
{
    p[0] = 1;
    p[1] = 1;
    p[2] = 5;
    p[3] = (uint8_t)(2 + 8 * n);
    for (size_t i = 0; i < 2 * n; i++)
        put32(p + 4 + 4 * i, edges[i]);
    return 4 + 8 * n;
}
