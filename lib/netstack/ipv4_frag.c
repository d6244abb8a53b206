#include "ipv4_frag.h"

#include <string.h>

#define DEFAULT_TIMEOUT_NS (30 * NET_NS_PER_SEC)
#define BLOCK 8

void ipv4_frag_init(struct ipv4 *ip)
{
    struct ipv4_cfg *c = &ip->cfg;
    size_t bitmap = (c->frag_slot_size + 63) / 64;
    if (!c->frag_timeout_ns)
        c->frag_timeout_ns = DEFAULT_TIMEOUT_NS;
    for (size_t i = 0; i < c->n_frag_slots; i++) {
        struct ipv4_frag_slot *s = &c->frag_slots[i];
        memset(s, 0, sizeof(*s));
        s->data = c->frag_mem + i * (c->frag_slot_size + bitmap);
        s->have = s->data + c->frag_slot_size;
    }
}

void ipv4_frag_release(struct ipv4_frag_slot *slot)
{
    slot->used = false;
}

void ipv4_frag_repr(const struct ipv4_frag_slot *s, struct ipv4_repr *r)
{
    memset(r, 0, sizeof(*r));
    r->hdr_len = s->hdr_len;
    r->tos = s->hdr[IPV4_OFF_TOS];
    r->total_len = (uint16_t)(s->hdr_len + s->total);
    r->id = s->id;
    r->ttl = s->hdr[IPV4_OFF_TTL];
    r->proto = s->proto;
    r->src = s->src;
    r->dst = s->dst;
}

static size_t bitmap_len(const struct ipv4 *ip)
{
    return (ip->cfg.frag_slot_size + 63) / 64;
}

static bool test_bit(const uint8_t *map, size_t i)
{
    return (map[i / 8] >> (i % 8)) & 1;
}

/* How many of blocks [first, last) are present. */
static size_t count_blocks(const uint8_t *map, size_t first, size_t last)
{
    size_t n = 0;
    for (size_t i = first; i < last; i++)
        n += test_bit(map, i);
    return n;
}

static void set_blocks(uint8_t *map, size_t first, size_t last)
{
    for (size_t i = first; i < last; i++)
        map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static struct ipv4_frag_slot *find_or_claim(struct ipv4 *ip, const struct ipv4_repr *r,
                                            uint64_t now)
{
    struct ipv4_frag_slot *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < ip->cfg.n_frag_slots; i++) {
        struct ipv4_frag_slot *s = &ip->cfg.frag_slots[i];
        if (!s->used) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (s->src == r->src && s->dst == r->dst && s->id == r->id && s->proto == r->proto)
            return s;
        if (!oldest || s->expires < oldest->expires)
            oldest = s;
    }
    struct ipv4_frag_slot *s = free_slot;
    if (!s) {
        /* Under a flood of junk first fragments, evicting the oldest still lets a real
         * datagram whose fragments arrive together complete. */
        ip->stats.frag_evicted++;
        s = oldest;
    }
    s->used = true;
    s->src = r->src;
    s->dst = r->dst;
    s->id = r->id;
    s->proto = r->proto;
    s->hdr_len = 0;
    s->total = 0;
    s->expires = now + ip->cfg.frag_timeout_ns;
    memset(s->have, 0, bitmap_len(ip));
    return s;
}

struct ipv4_frag_slot *ipv4_frag_input(struct ipv4 *ip, const struct ipv4_repr *r,
                                       const uint8_t *hdr, const uint8_t *payload, size_t len,
                                       uint64_t now)
{
    ip->stats.frag_rx++;
    size_t off = r->frag_off;
    size_t end = off + len;

    /* Every fragment but the last carries a whole number of blocks (RFC 791), and no
     * datagram may exceed 64 KiB however its pieces add up (the "ping of death"). */
    if ((r->mf && (len == 0 || len % BLOCK)) || end + r->hdr_len > IPV4_MAX_LEN) {
        ip->stats.frag_bad++;
        return NULL;
    }
    if (ip->cfg.n_frag_slots == 0) {
        ip->stats.frag_too_big++;
        return NULL;
    }
    struct ipv4_frag_slot *s = find_or_claim(ip, r, now);
    if (end > ip->cfg.frag_slot_size) {
        ip->stats.frag_too_big++;
        ipv4_frag_release(s);
        return NULL;
    }
    /* The last fragment fixes the length; a second opinion, or data past it, is a lie. */
    if ((!r->mf && s->total && s->total != end) || (s->total && end > s->total) ||
        (!r->mf && count_blocks(s->have, (end + BLOCK - 1) / BLOCK, bitmap_len(ip) * 8))) {
        ip->stats.frag_overlap++;
        ipv4_frag_release(s);
        return NULL;
    }
    size_t first = off / BLOCK, last = (end + BLOCK - 1) / BLOCK;
    size_t present = count_blocks(s->have, first, last);
    if (present == last - first && len) {
        if (memcmp(s->data + off, payload, len) == 0) {
            ip->stats.frag_dup++;
            return NULL;
        }
        ip->stats.frag_overlap++;
        ipv4_frag_release(s);
        return NULL;
    }
    if (present) {
        ip->stats.frag_overlap++;
        ipv4_frag_release(s);
        return NULL;
    }
    memcpy(s->data + off, payload, len);
    set_blocks(s->have, first, last);
    if (!r->mf)
        s->total = (uint32_t)end;
    if (off == 0) {
        memcpy(s->hdr, hdr, r->hdr_len);
        s->hdr_len = r->hdr_len;
        s->to_broadcast = r->to_broadcast;
        s->link_broadcast = r->link_broadcast;
    }
    if (s->total && s->hdr_len &&
        count_blocks(s->have, 0, (s->total + BLOCK - 1) / BLOCK) == (s->total + BLOCK - 1) / BLOCK) {
        ip->stats.frag_reassembled++;
        return s;
    }
    return NULL;
}

void ipv4_frag_poll(struct ipv4 *ip, uint64_t now)
{
    for (size_t i = 0; i < ip->cfg.n_frag_slots; i++) {
        struct ipv4_frag_slot *s = &ip->cfg.frag_slots[i];
        if (!s->used || now < s->expires)
            continue;
        ip->stats.frag_timeout++;
        /* RFC 792: only a host holding fragment zero may report, quoting its header. */
        if (s->hdr_len && ip->ops->frag_timeout) {
            struct ipv4_repr r;
            ipv4_frag_repr(s, &r);
            r.mf = true; /* what the sender saw: fragment zero, more to come */
            r.to_broadcast = s->to_broadcast;
            r.link_broadcast = s->link_broadcast;
            ip->ops->frag_timeout(ip->ctx, &r, s->hdr, s->data, 8, now);
        }
        ipv4_frag_release(s);
    }
}

uint64_t ipv4_frag_next_deadline(const struct ipv4 *ip)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < ip->cfg.n_frag_slots; i++) {
        const struct ipv4_frag_slot *s = &ip->cfg.frag_slots[i];
        if (s->used && s->expires < d)
            d = s->expires;
    }
    return d;
}
