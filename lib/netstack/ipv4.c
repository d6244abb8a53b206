#include "netstack/ipv4.h"

#include <string.h>

#include "ipv4_frag.h"
#include "netstack/checksum.h"

/* Options are skipped, but their TLV structure must hold together (RFC 1122 3.2.1.8:
 * a host must be able to parse every option, even ones it ignores). */
static bool options_valid(const uint8_t *opt, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (opt[i] == IPV4_OPT_END)
            return true;
        if (opt[i] == IPV4_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
            return false;
        i += opt[i + 1];
    }
    return true;
}

/* Which check a header fails, in the order they are made (options, say, are only
 * looked at in a header that has the right length and checksum). */
static enum ipv4_defect defect_of(const uint8_t *buf, size_t len)
{
    size_t hl, total;
    uint16_t frag;
    if (len < IPV4_HDR_LEN)
        return IPV4_DEFECT_TRUNCATED;
    if (buf[IPV4_OFF_VER_IHL] >> 4 != 4)
        return IPV4_DEFECT_VERSION;
    if ((hl = (size_t)(buf[IPV4_OFF_VER_IHL] & 0xf) * 4) < IPV4_HDR_LEN)
        return IPV4_DEFECT_IHL;
    if (hl > len)
        return IPV4_DEFECT_TRUNCATED;
    if ((total = net_get16(buf + IPV4_OFF_LEN)) < hl)
        return IPV4_DEFECT_LENGTH;
    if (total > len)
        return IPV4_DEFECT_TRUNCATED; /* the link delivered less than the header promises */
    if (csum_buf(buf, hl) != 0)
        return IPV4_DEFECT_CHECKSUM;
    if (!options_valid(buf + IPV4_HDR_LEN, hl - IPV4_HDR_LEN))
        return IPV4_DEFECT_OPTIONS;
    if ((frag = net_get16(buf + IPV4_OFF_FRAG)) & IPV4_FLAG_RF)
        return IPV4_DEFECT_FLAGS;
    if ((frag & IPV4_FLAG_DF) && (frag & (IPV4_FLAG_MF | IPV4_FRAG_MASK)))
        return IPV4_DEFECT_FLAGS; /* "don't fragment" on a fragment */
    if (buf[IPV4_OFF_TTL] == 0)
        return IPV4_DEFECT_TTL;
    return IPV4_DEFECT_NONE;
}

/*
 * Nearly every packet is a whole datagram with a 20-byte header: for one of those a
 * single test stands for all of defect_of's but the checksum's (a header that fails it
 * goes through them all, so the defect reported is the same either way).
 */
static bool plain(const uint8_t *buf, size_t len)
{
    return len >= IPV4_HDR_LEN && buf[IPV4_OFF_VER_IHL] == 0x45 &&
           net_get16(buf + IPV4_OFF_LEN) >= IPV4_HDR_LEN && net_get16(buf + IPV4_OFF_LEN) <= len &&
           (net_get16(buf + IPV4_OFF_FRAG) & ~IPV4_FLAG_DF) == 0 && buf[IPV4_OFF_TTL] != 0;
}

int ipv4_parse(const uint8_t *buf, size_t len, struct ipv4_repr *r, enum ipv4_defect *why)
{
    enum ipv4_defect d = !plain(buf, len)          ? defect_of(buf, len)
                         : csum_hdr20_ok(buf) ? IPV4_DEFECT_NONE
                                              : IPV4_DEFECT_CHECKSUM;
    if (why)
        *why = d;
    if (d != IPV4_DEFECT_NONE)
        return NET_EMALFORMED;

    uint16_t frag = net_get16(buf + IPV4_OFF_FRAG);
    r->hdr_len = (uint8_t)((buf[IPV4_OFF_VER_IHL] & 0xf) * 4);
    r->tos = buf[IPV4_OFF_TOS];
    r->total_len = net_get16(buf + IPV4_OFF_LEN);
    r->id = net_get16(buf + IPV4_OFF_ID);
    r->df = (frag & IPV4_FLAG_DF) != 0;
    r->mf = (frag & IPV4_FLAG_MF) != 0;
    r->frag_off = (uint16_t)((frag & IPV4_FRAG_MASK) * 8);
    r->ttl = buf[IPV4_OFF_TTL];
    r->proto = buf[IPV4_OFF_PROTO];
    r->src = net_get32(buf + IPV4_OFF_SRC);
    r->dst = net_get32(buf + IPV4_OFF_DST);
    /* Not known from the bytes alone; ipv4_input sets them. Never leave them undefined:
     * ICMP reads them to decide whether an error may be sent. */
    r->to_broadcast = false;
    r->link_broadcast = false;
    return NET_OK;
}

/* The fields of a 20-byte header that vary, as they go on the wire. */
struct hdr_fields {
    uint8_t tos, ttl, proto;
    uint16_t total_len, id, frag;
    net_ip4 src, dst;
};

/* Writes a 20-byte header. Its checksum is summed from the field values rather than
 * read back from the buffer: every packet sent comes through here. */
static inline void put_header(uint8_t *buf, const struct hdr_fields *f)
{
    uint32_t sum = (0x45u << 8 | f->tos) + f->total_len + f->id + f->frag +
                   ((uint32_t)f->ttl << 8 | f->proto) + (f->src >> 16) + (f->src & 0xffff) +
                   (f->dst >> 16) + (f->dst & 0xffff);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    buf[IPV4_OFF_VER_IHL] = 0x45;
    buf[IPV4_OFF_TOS] = f->tos;
    net_put16(buf + IPV4_OFF_LEN, f->total_len);
    net_put16(buf + IPV4_OFF_ID, f->id);
    net_put16(buf + IPV4_OFF_FRAG, f->frag);
    buf[IPV4_OFF_TTL] = f->ttl;
    buf[IPV4_OFF_PROTO] = f->proto;
    net_put16(buf + IPV4_OFF_CSUM, (uint16_t)~sum);
    net_put32(buf + IPV4_OFF_SRC, f->src);
    net_put32(buf + IPV4_OFF_DST, f->dst);
}

int ipv4_emit(const struct ipv4_repr *r, uint8_t *buf, size_t cap)
{
    if (cap < IPV4_HDR_LEN)
        return NET_EMSGSIZE;
    uint16_t frag = (uint16_t)((r->frag_off / 8) & IPV4_FRAG_MASK);
    if (r->df)
        frag |= IPV4_FLAG_DF;
    if (r->mf)
        frag |= IPV4_FLAG_MF;
    struct hdr_fields f = {.tos = r->tos, .ttl = r->ttl, .proto = r->proto,
                           .total_len = r->total_len, .id = r->id, .frag = frag,
                           .src = r->src, .dst = r->dst};
    put_header(buf, &f);
    return IPV4_HDR_LEN;
}

int ipv4_init(struct ipv4 *ip, const struct ipv4_cfg *cfg, const struct ipv4_ops *ops, void *ctx)
{
    if (!cfg || !ops || !ops->reserve || !ops->output || !ops->deliver)
        return NET_EINVAL;
    if (cfg->prefix_len < 1 || cfg->prefix_len > 30 || cfg->addr == 0 ||
        cfg->mtu < 576 || (cfg->n_frag_slots && (!cfg->frag_slots || !cfg->frag_mem ||
                                                 cfg->frag_slot_size < 8 ||
                                                 cfg->frag_slot_size > IPV4_MAX_LEN - IPV4_HDR_LEN)))
        return NET_EINVAL;
    memset(ip, 0, sizeof(*ip));
    ip->cfg = *cfg;
    if (!ip->cfg.ttl)
        ip->cfg.ttl = IPV4_DEFAULT_TTL;
    ip->ops = ops;
    ip->ctx = ctx;
    ip->netmask = ~(net_ip4)0 << (32 - cfg->prefix_len);
    ip->subnet_broadcast = (cfg->addr & ip->netmask) | ~ip->netmask;
    struct net_rng rng = {cfg->seed ^ 0x1b873593u};
    ip->next_id = (uint16_t)net_rng_next(&rng);
    ipv4_frag_init(ip);
    return NET_OK;
}

bool ipv4_is_broadcast(const struct ipv4 *ip, net_ip4 a)
{
    return a == NET_IP4_BROADCAST || a == ip->subnet_broadcast;
}

static bool bad_source(const struct ipv4 *ip, net_ip4 src)
{
    return src == 0 || ipv4_is_broadcast(ip, src) || net_ip4_is_multicast(src) ||
           (src >> 24) == 127 || src == ip->cfg.addr;
}

static void count_defect(struct ipv4_stats *st, enum ipv4_defect d)
{
    switch (d) {
    case IPV4_DEFECT_TRUNCATED: st->rx_truncated++; break;
    case IPV4_DEFECT_VERSION: st->rx_bad_version++; break;
    case IPV4_DEFECT_IHL: st->rx_bad_ihl++; break;
    case IPV4_DEFECT_LENGTH: st->rx_bad_length++; break;
    case IPV4_DEFECT_CHECKSUM: st->rx_bad_checksum++; break;
    case IPV4_DEFECT_OPTIONS: st->rx_bad_options++; break;
    case IPV4_DEFECT_FLAGS: st->rx_bad_flags++; break;
    case IPV4_DEFECT_TTL: st->rx_bad_ttl++; break;
    case IPV4_DEFECT_NONE: break;
    }
}

static void deliver(struct ipv4 *ip, const struct ipv4_repr *r, const uint8_t *hdr,
                    const uint8_t *payload, size_t len, uint64_t now)
{
    if (ip->ops->deliver(ip->ctx, r, hdr, payload, len, now))
        ip->stats.rx_packets++;
    else
        ip->stats.rx_unknown_proto++;
}

void ipv4_input(struct ipv4 *ip, const uint8_t *pkt, size_t len, bool link_broadcast,
                uint64_t now)
{
    struct ipv4_repr r;
    enum ipv4_defect why;

    if (ipv4_parse(pkt, len, &r, &why) < 0) {
        count_defect(&ip->stats, why);
        return;
    }
    if (bad_source(ip, r.src)) {
        ip->stats.rx_bad_src++;
        return;
    }
    r.to_broadcast = ipv4_is_broadcast(ip, r.dst);
    r.link_broadcast = link_broadcast;
    if (r.dst != ip->cfg.addr && !r.to_broadcast) {
        ip->stats.rx_not_for_us++;
        return;
    }
    /* Bytes past total_len are link padding (short frames are padded to 60). */
    const uint8_t *payload = pkt + r.hdr_len;
    size_t payload_len = (size_t)r.total_len - r.hdr_len;
    if (!r.mf && r.frag_off == 0) {
        deliver(ip, &r, pkt, payload, payload_len, now);
        return;
    }
    struct ipv4_frag_slot *s = ipv4_frag_input(ip, &r, pkt, payload, payload_len, now);
    if (!s)
        return;
    struct ipv4_repr whole;
    ipv4_frag_repr(s, &whole);
    whole.to_broadcast = s->to_broadcast;
    whole.link_broadcast = s->link_broadcast;
    deliver(ip, &whole, s->hdr, s->data, s->total, now);
    ipv4_frag_release(s);
}

int ipv4_route(const struct ipv4 *ip, net_ip4 dst, net_ip4 *next_hop)
{
    if (ipv4_is_broadcast(ip, dst)) {
        *next_hop = NET_IP4_BROADCAST;
        return NET_OK;
    }
    if (dst == 0 || dst == ip->cfg.addr || net_ip4_is_multicast(dst) || (dst >> 24) == 127)
        return NET_EUNREACH; /* no loopback, no multicast */
    if ((dst & ip->netmask) == (ip->cfg.addr & ip->netmask)) {
        *next_hop = dst;
        return NET_OK;
    }
    if (!ip->cfg.gateway)
        return NET_EUNREACH;
    *next_hop = ip->cfg.gateway;
    return NET_OK;
}

size_t ipv4_max_payload(const struct ipv4 *ip)
{
    return (size_t)ip->cfg.mtu - IPV4_HDR_LEN;
}

/* Copy bytes [off, off + len) of the concatenated iovec into `dst`. */
static void iov_copy(uint8_t *dst, const struct net_iov *iov, size_t n, size_t off, size_t len)
{
    for (size_t i = 0; i < n && len; i++) {
        if (off >= iov[i].len) {
            off -= iov[i].len;
            continue;
        }
        size_t take = iov[i].len - off;
        if (take > len)
            take = len;
        memcpy(dst, (const uint8_t *)iov[i].base + off, take);
        dst += take;
        len -= take;
        off = 0;
    }
}

/*
 * One packet that fits the MTU: what nearly every send is (TCP segments and bursts
 * handed to TSO aside, fragmentation is for big pings). The same steps as the general
 * loop below with its bookkeeping for pieces left out.
 */
static int send_whole(struct ipv4 *ip, const struct ipv4_tx *tx, const struct net_iov *iov,
                      size_t n, size_t total, net_ip4 next_hop, uint64_t now)
{
    uint8_t *pkt = ip->ops->reserve(ip->ctx, IPV4_HDR_LEN + total);
    if (!pkt) {
        ip->stats.tx_no_buffer++;
        return NET_ENOBUFS;
    }
    struct hdr_fields f = {.tos = tx->tos, .ttl = tx->ttl ? tx->ttl : ip->cfg.ttl,
                           .proto = tx->proto, .total_len = (uint16_t)(IPV4_HDR_LEN + total),
                           .id = ip->next_id++, .frag = tx->df ? IPV4_FLAG_DF : 0,
                           .src = ip->cfg.addr, .dst = tx->dst};
    put_header(pkt, &f);
    uint8_t *p = pkt + IPV4_HDR_LEN;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, iov[i].base, iov[i].len);
        p += iov[i].len;
    }
    struct net_offload o = {.csum_start = IPV4_HDR_LEN, .csum_offset = tx->csum_at};
    ip->ops->output(ip->ctx, next_hop, pkt, IPV4_HDR_LEN + total, tx->csum_at ? &o : NULL, now);
    ip->stats.tx_packets++;
    return NET_OK;
}

int ipv4_send(struct ipv4 *ip, const struct ipv4_tx *tx, const struct net_iov *iov, size_t n,
              uint64_t now)
{
    net_ip4 next_hop;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += iov[i].len;

    if (ipv4_route(ip, tx->dst, &next_hop) < 0) {
        ip->stats.tx_no_route++;
        return NET_EUNREACH;
    }
    size_t max = ipv4_max_payload(ip);
    if (total <= max)
        return send_whole(ip, tx, iov, n, total, next_hop, now);
    bool gso = tx->gso_size && total > max;
    if (total > IPV4_MAX_LEN - IPV4_HDR_LEN || (tx->df && total > max && !gso)) {
        ip->stats.tx_too_big++;
        return NET_EMSGSIZE;
    }
    struct ipv4_repr r = {.tos = tx->tos, .id = ip->next_id, .df = tx->df,
                          .ttl = tx->ttl ? tx->ttl : ip->cfg.ttl, .proto = tx->proto,
                          .src = ip->cfg.addr, .dst = tx->dst};
    /* The device gives each segment of a GSO packet the next id, as Linux does. */
    ip->next_id = (uint16_t)(ip->next_id + (gso ? (total - tx->l4_hdr_len + tx->gso_size - 1) /
                                                      tx->gso_size : 1));
    struct net_offload o = {.csum_start = IPV4_HDR_LEN, .csum_offset = tx->csum_at,
                            .hdr_len = gso ? (uint16_t)(IPV4_HDR_LEN + tx->l4_hdr_len) : 0,
                            .gso_size = gso ? tx->gso_size : 0};
    const struct net_offload *offload = tx->csum_at && (gso || total <= max) ? &o : NULL;
    /* Fragments other than the last carry a multiple of 8 bytes (RFC 791). */
    size_t chunk = total > max && !gso ? max & ~(size_t)7 : total;
    size_t off = 0;
    do {
        size_t len = total - off < chunk ? total - off : chunk;
        uint8_t *pkt = ip->ops->reserve(ip->ctx, IPV4_HDR_LEN + len);
        if (!pkt) {
            ip->stats.tx_no_buffer++;
            return NET_ENOBUFS;
        }
        r.total_len = (uint16_t)(IPV4_HDR_LEN + len);
        r.frag_off = (uint16_t)off;
        r.mf = off + len < total;
        ipv4_emit(&r, pkt, IPV4_HDR_LEN);
        iov_copy(pkt + IPV4_HDR_LEN, iov, n, off, len);
        /* No device sums across fragments: the first one carries the whole sum. */
        if (tx->csum_at && !offload && off == 0)
            net_put16(pkt + IPV4_HDR_LEN + tx->csum_at, csum_iov(iov, n));
        ip->ops->output(ip->ctx, next_hop, pkt, IPV4_HDR_LEN + len, offload, now);
        if (total > max && !gso)
            ip->stats.tx_fragments++;
        off += len;
    } while (off < total);
    ip->stats.tx_packets++;
    return NET_OK;
}

void ipv4_poll(struct ipv4 *ip, uint64_t now)
{
    ipv4_frag_poll(ip, now);
}

uint64_t ipv4_next_deadline(const struct ipv4 *ip)
{
    return ipv4_frag_next_deadline(ip);
}
