#include "dissect.h"

#include <stdio.h>
#include <string.h>

#include "netstack/arp_wire.h"
#include "netcfg.h"
#include "netstack/checksum.h"
#include "netstack/eth_wire.h"
#include "netstack/icmp_wire.h"
#include "netstack/ipv4_wire.h"
#include "netstack/net.h"

struct cursor {
    struct dissection *d;
    const uint8_t *frame;
};

static struct field *add(struct dissection *d, const char *name, enum field_kind kind)
{
    if (d->n == DISSECT_MAX_FIELDS)
        return &d->f[DISSECT_MAX_FIELDS - 1]; /* never reached by real frames; stay safe */
    struct field *f = &d->f[d->n++];
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->kind = kind;
    return f;
}

static void add_uint(struct dissection *d, const char *name, uint64_t v)
{
    add(d, name, F_UINT)->num = v;
}

static void add_hex(struct dissection *d, const char *name, uint64_t v, uint32_t width)
{
    struct field *f = add(d, name, F_HEX);
    f->num = v;
    f->width = width;
}

static void add_bytes(struct dissection *d, const char *name, enum field_kind kind,
                      const uint8_t *p, size_t len)
{
    struct field *f = add(d, name, kind);
    f->bytes = p;
    f->len = len;
}

static void add_ip(struct dissection *d, const char *name, const uint8_t *p)
{
    add(d, name, F_IP4)->num = net_get32(p);
}

static void add_csum(struct dissection *d, const char *name, uint16_t value, bool ok)
{
    struct field *f = add(d, name, F_CSUM);
    f->num = ok;
    f->aux = value;
}

static void add_rest(struct dissection *d, const char *name, const uint8_t *p, size_t len)
{
    if (len)
        add_bytes(d, name, F_BYTES, p, len);
}

static void arp(struct dissection *d, const uint8_t *p, size_t len)
{
    if (len < ARP_LEN) {
        add_rest(d, "arp.truncated", p, len);
        snprintf(d->summary, sizeof(d->summary), "ARP (truncated, %zu bytes)", len);
        return;
    }
    add_hex(d, "arp.hw.type", net_get16(p + ARP_OFF_HTYPE), 4);
    add_hex(d, "arp.proto.type", net_get16(p + ARP_OFF_PTYPE), 4);
    add_uint(d, "arp.hw.size", p[ARP_OFF_HLEN]);
    add_uint(d, "arp.proto.size", p[ARP_OFF_PLEN]);
    add_uint(d, "arp.opcode", net_get16(p + ARP_OFF_OPER));
    add_bytes(d, "arp.src.hw_mac", F_MAC, p + ARP_OFF_SHA, 6);
    add_ip(d, "arp.src.proto_ipv4", p + ARP_OFF_SPA);
    add_bytes(d, "arp.dst.hw_mac", F_MAC, p + ARP_OFF_THA, 6);
    add_ip(d, "arp.dst.proto_ipv4", p + ARP_OFF_TPA);
    add_rest(d, "eth.padding", p + ARP_LEN, len - ARP_LEN);
    char s[16], t[16];
    fmt_ip4(net_get32(p + ARP_OFF_SPA), s, sizeof(s));
    fmt_ip4(net_get32(p + ARP_OFF_TPA), t, sizeof(t));
    uint16_t op = net_get16(p + ARP_OFF_OPER);
    if (op == ARP_OP_REQUEST && !memcmp(p + ARP_OFF_SPA, p + ARP_OFF_TPA, 4))
        snprintf(d->summary, sizeof(d->summary), "ARP announcement for %s", s);
    else if (op == ARP_OP_REQUEST)
        snprintf(d->summary, sizeof(d->summary), "ARP who-has %s tell %s", t, s);
    else if (op == ARP_OP_REPLY)
        snprintf(d->summary, sizeof(d->summary), "ARP %s is-at %02x:%02x:%02x:%02x:%02x:%02x", s,
                 p[8], p[9], p[10], p[11], p[12], p[13]);
    else
        snprintf(d->summary, sizeof(d->summary), "ARP opcode %u", op);
}

static void icmp(struct dissection *d, const uint8_t *p, size_t len, char *sum, size_t sumlen)
{
    if (len < ICMP_HDR_LEN) {
        add_rest(d, "icmp.truncated", p, len);
        snprintf(sum, sumlen, "ICMP (truncated)");
        return;
    }
    uint8_t type = p[ICMP_OFF_TYPE];
    add_uint(d, "icmp.type", type);
    add_uint(d, "icmp.code", p[ICMP_OFF_CODE]);
    add_csum(d, "icmp.checksum", net_get16(p + ICMP_OFF_CSUM), csum_buf(p, len) == 0);
    if (type == ICMP_ECHO_REQUEST || type == ICMP_ECHO_REPLY) {
        add_hex(d, "icmp.ident", net_get16(p + ICMP_OFF_IDENT), 4);
        add_uint(d, "icmp.seq", net_get16(p + ICMP_OFF_SEQ));
        add_rest(d, "data.data", p + ICMP_HDR_LEN, len - ICMP_HDR_LEN);
        snprintf(sum, sumlen, "ICMP echo %s id=0x%04x seq=%u len=%zu",
                 type == ICMP_ECHO_REQUEST ? "request" : "reply", net_get16(p + ICMP_OFF_IDENT),
                 net_get16(p + ICMP_OFF_SEQ), len - ICMP_HDR_LEN);
        return;
    }
    add_hex(d, "icmp.rest", net_get32(p + ICMP_OFF_REST), 8);
    add_rest(d, "icmp.quoted", p + ICMP_HDR_LEN, len - ICMP_HDR_LEN);
    snprintf(sum, sumlen, "ICMP type %u code %u", type, p[ICMP_OFF_CODE]);
}

static uint32_t flow_base(struct dissect_ctx *ctx, uint32_t src, uint32_t dst, uint16_t sport,
                          uint16_t dport, uint32_t seq, bool learn)
{
    for (size_t i = 0; i < ctx->n_flows; i++) {
        struct dissect_flow *f = &ctx->flows[i];
        if (f->src == src && f->dst == dst && f->sport == sport && f->dport == dport)
            return f->isn;
    }
    if (!learn)
        return 0;
    if (ctx->n_flows < DISSECT_MAX_FLOWS)
        ctx->flows[ctx->n_flows++] = (struct dissect_flow){src, dst, sport, dport, seq};
    return seq;
}

/* The TCP/UDP pseudo-header sum of RFC 793 section 3.1. */
static bool l4_csum_ok(const uint8_t *ip, const uint8_t *p, size_t len, uint8_t proto)
{
    struct csum c;
    csum_init(&c);
    csum_add(&c, ip + IPV4_OFF_SRC, 8);
    csum_add16(&c, proto);
    csum_add16(&c, (uint16_t)len);
    csum_add(&c, p, len);
    return csum_finish(&c) == 0;
}

static void tcp(struct dissect_ctx *ctx, struct dissection *d, const uint8_t *ip, const uint8_t *p,
                size_t len, char *sum, size_t sumlen)
{
    if (len < 20 || (size_t)(p[12] >> 4) * 4 < 20 || (size_t)(p[12] >> 4) * 4 > len) {
        add_rest(d, "tcp.truncated", p, len);
        snprintf(sum, sumlen, "TCP (truncated)");
        return;
    }
    uint32_t src = net_get32(ip + IPV4_OFF_SRC), dst = net_get32(ip + IPV4_OFF_DST);
    uint16_t sport = net_get16(p), dport = net_get16(p + 2);
    uint32_t seq = net_get32(p + 4), ack = net_get32(p + 8);
    size_t hl = (size_t)(p[12] >> 4) * 4;
    uint16_t flags = net_get16(p + 12) & 0x0fff;
    uint32_t base = flow_base(ctx, src, dst, sport, dport, seq, true);
    uint32_t peer = flow_base(ctx, dst, src, dport, sport, 0, false);
    add_uint(d, "tcp.srcport", sport);
    add_uint(d, "tcp.dstport", dport);
    add_uint(d, "tcp.seq", seq - base);
    add_uint(d, "tcp.ack", (flags & 0x10) ? ack - peer : ack);
    add_uint(d, "tcp.hdr_len", hl);
    add_hex(d, "tcp.flags", flags, 3);
    add_uint(d, "tcp.window_size_value", net_get16(p + 14));
    add_csum(d, "tcp.checksum", net_get16(p + 16), l4_csum_ok(ip, p, len, IPV4_PROTO_TCP));
    add_uint(d, "tcp.urgent_pointer", net_get16(p + 18));
    add_rest(d, "tcp.options", p + 20, hl - 20);
    add_rest(d, "tcp.payload", p + hl, len - hl);
    snprintf(sum, sumlen, "TCP %u > %u flags=0x%03x seq=%u ack=%u len=%zu", sport, dport, flags,
             seq - base, (flags & 0x10) ? ack - peer : ack, len - hl);
}

static void udp(struct dissection *d, const uint8_t *ip, const uint8_t *p, size_t len, char *sum,
                size_t sumlen)
{
    if (len < 8) {
        add_rest(d, "udp.truncated", p, len);
        snprintf(sum, sumlen, "UDP (truncated)");
        return;
    }
    add_uint(d, "udp.srcport", net_get16(p));
    add_uint(d, "udp.dstport", net_get16(p + 2));
    add_uint(d, "udp.length", net_get16(p + 4));
    uint16_t c = net_get16(p + 6);
    add_csum(d, "udp.checksum", c, c == 0 || l4_csum_ok(ip, p, len, IPV4_PROTO_UDP));
    add_rest(d, "data.data", p + 8, len - 8);
    snprintf(sum, sumlen, "UDP %u > %u len=%zu", net_get16(p), net_get16(p + 2), len - 8);
}

static void ipv4(struct dissect_ctx *ctx, struct dissection *d, const uint8_t *p, size_t len)
{
    size_t hl = (size_t)(p[0] & 0xf) * 4;
    if (len < IPV4_HDR_LEN || (p[0] >> 4) != 4 || hl < IPV4_HDR_LEN || hl > len) {
        add_rest(d, "ip.malformed", p, len);
        snprintf(d->summary, sizeof(d->summary), "IPv4 (malformed, %zu bytes)", len);
        return;
    }
    uint16_t total = net_get16(p + IPV4_OFF_LEN);
    uint16_t frag = net_get16(p + IPV4_OFF_FRAG);
    add_uint(d, "ip.version", p[0] >> 4);
    add_uint(d, "ip.hdr_len", hl);
    add_hex(d, "ip.dsfield", p[IPV4_OFF_TOS], 2);
    add_uint(d, "ip.len", total);
    add_hex(d, "ip.id", net_get16(p + IPV4_OFF_ID), 4);
    add_uint(d, "ip.flags.rb", (frag >> 15) & 1);
    add_uint(d, "ip.flags.df", (frag >> 14) & 1);
    add_uint(d, "ip.flags.mf", (frag >> 13) & 1);
    add_uint(d, "ip.frag_offset", (size_t)(frag & IPV4_FRAG_MASK) * 8);
    add_uint(d, "ip.ttl", p[IPV4_OFF_TTL]);
    add_uint(d, "ip.proto", p[IPV4_OFF_PROTO]);
    add_csum(d, "ip.checksum", net_get16(p + IPV4_OFF_CSUM), csum_buf(p, hl) == 0);
    add_ip(d, "ip.src", p + IPV4_OFF_SRC);
    add_ip(d, "ip.dst", p + IPV4_OFF_DST);
    add_rest(d, "ip.options", p + IPV4_HDR_LEN, hl - IPV4_HDR_LEN);

    size_t end = total < hl ? hl : (total > len ? len : total);
    const uint8_t *payload = p + hl;
    size_t plen = end - hl;
    char s[16], t[16], inner[100] = "";
    fmt_ip4(net_get32(p + IPV4_OFF_SRC), s, sizeof(s));
    fmt_ip4(net_get32(p + IPV4_OFF_DST), t, sizeof(t));
    if (frag & (IPV4_FLAG_MF | IPV4_FRAG_MASK)) {
        add_rest(d, "ip.fragment", payload, plen);
        snprintf(inner, sizeof(inner), "fragment id=0x%04x off=%u%s len=%zu",
                 net_get16(p + IPV4_OFF_ID), (frag & IPV4_FRAG_MASK) * 8,
                 (frag & IPV4_FLAG_MF) ? " MF" : "", plen);
    } else if (p[IPV4_OFF_PROTO] == IPV4_PROTO_ICMP) {
        icmp(d, payload, plen, inner, sizeof(inner));
    } else if (p[IPV4_OFF_PROTO] == IPV4_PROTO_TCP) {
        tcp(ctx, d, p, payload, plen, inner, sizeof(inner));
    } else if (p[IPV4_OFF_PROTO] == IPV4_PROTO_UDP) {
        udp(d, p, payload, plen, inner, sizeof(inner));
    } else {
        add_rest(d, "data.data", payload, plen);
        snprintf(inner, sizeof(inner), "protocol %u len=%zu", p[IPV4_OFF_PROTO], plen);
    }
    add_rest(d, "eth.padding", p + end, len - end);
    snprintf(d->summary, sizeof(d->summary), "IPv4 %s > %s %s", s, t, inner);
}

void dissect(struct dissect_ctx *ctx, const uint8_t *frame, size_t len, struct dissection *d)
{
    d->n = 0;
    d->summary[0] = 0;
    if (len < ETH_HDR_LEN) {
        add_rest(d, "eth.truncated", frame, len);
        snprintf(d->summary, sizeof(d->summary), "runt frame, %zu bytes", len);
        return;
    }
    add_bytes(d, "eth.dst", F_MAC, frame + ETH_OFF_DST, 6);
    add_bytes(d, "eth.src", F_MAC, frame + ETH_OFF_SRC, 6);
    uint16_t type = net_get16(frame + ETH_OFF_TYPE);
    add_hex(d, "eth.type", type, 4);
    const uint8_t *p = frame + ETH_HDR_LEN;
    size_t plen = len - ETH_HDR_LEN;
    if (type == ETH_TYPE_ARP) {
        arp(d, p, plen);
    } else if (type == ETH_TYPE_IPV4) {
        ipv4(ctx, d, p, plen);
    } else {
        add_rest(d, "data.data", p, plen);
        snprintf(d->summary, sizeof(d->summary), "EtherType 0x%04x, %zu bytes", type, plen);
    }
}

bool field_equal(const struct field *a, const struct field *b)
{
    if (strcmp(a->name, b->name) != 0 || a->kind != b->kind)
        return false;
    switch (a->kind) {
    case F_MAC:
    case F_BYTES:
        return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
    default:
        return a->num == b->num;
    }
}

const char *field_layer(const struct field *f)
{
    static const struct {
        const char *prefix, *layer;
    } map[] = {{"eth.", "Ethernet"}, {"arp.", "ARP"}, {"ip.", "IPv4"}, {"icmp.", "ICMP"},
               {"tcp.", "TCP"},      {"udp.", "UDP"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strncmp(f->name, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].layer;
    return "Data";
}

const char *field_format(const struct field *f, char *buf, size_t len)
{
    switch (f->kind) {
    case F_UINT:
        snprintf(buf, len, "%llu", (unsigned long long)f->num);
        break;
    case F_HEX:
        snprintf(buf, len, "0x%0*llx", (int)f->width, (unsigned long long)f->num);
        break;
    case F_IP4:
        fmt_ip4((net_ip4)f->num, buf, len);
        break;
    case F_CSUM:
        snprintf(buf, len, "%s (0x%04x)", f->num ? "correct" : "incorrect", f->aux);
        break;
    case F_MAC:
        snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", f->bytes[0], f->bytes[1],
                 f->bytes[2], f->bytes[3], f->bytes[4], f->bytes[5]);
        break;
    case F_BYTES: {
        size_t o = (size_t)snprintf(buf, len, "%zu bytes:", f->len);
        for (size_t i = 0; i < f->len && i < 24 && o + 4 < len; i++)
            o += (size_t)snprintf(buf + o, len - o, " %02x", f->bytes[i]);
        if (f->len > 24 && o + 5 < len)
            snprintf(buf + o, len - o, " ...");
        break;
    }
    }
    return buf;
}
