#include "netstack/arp.h"

#include <string.h>

#include "netstack/checksum.h"

#define DEFAULT_REACHABLE_NS (60 * NET_NS_PER_SEC)
#define DEFAULT_RETRY_NS (1 * NET_NS_PER_SEC)
#define DEFAULT_MAX_TRIES 3
#define DEFAULT_ANNOUNCE_COUNT 2
#define DEFAULT_ANNOUNCE_INTERVAL_NS (2 * NET_NS_PER_SEC)
/* A device that refused a queued packet frees buffers as transmissions complete, which
 * takes microseconds; retrying a millisecond later keeps the wait short without spinning. */
#define FLUSH_RETRY_NS NET_NS_PER_MS

static const struct net_mac mac_broadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
static const struct net_mac mac_zero = {{0}};

int arp_parse(const uint8_t *buf, size_t len, struct arp_repr *repr)
{
    if (len < ARP_LEN)
        return NET_EMALFORMED;
    if (net_get16(buf + ARP_OFF_HTYPE) != ARP_HTYPE_ETHERNET ||
        net_get16(buf + ARP_OFF_PTYPE) != ARP_PTYPE_IPV4 || buf[ARP_OFF_HLEN] != NET_MAC_LEN ||
        buf[ARP_OFF_PLEN] != 4)
        return NET_EINVAL;
    repr->op = net_get16(buf + ARP_OFF_OPER);
    memcpy(repr->sha.b, buf + ARP_OFF_SHA, NET_MAC_LEN);
    repr->spa = net_get32(buf + ARP_OFF_SPA);
    memcpy(repr->tha.b, buf + ARP_OFF_THA, NET_MAC_LEN);
    repr->tpa = net_get32(buf + ARP_OFF_TPA);
    return ARP_LEN;
}

int arp_emit(const struct arp_repr *repr, uint8_t *buf, size_t cap)
{
    if (cap < ARP_LEN)
        return NET_EMSGSIZE;
    net_put16(buf + ARP_OFF_HTYPE, ARP_HTYPE_ETHERNET);
    net_put16(buf + ARP_OFF_PTYPE, ARP_PTYPE_IPV4);
    buf[ARP_OFF_HLEN] = NET_MAC_LEN;
    buf[ARP_OFF_PLEN] = 4;
    net_put16(buf + ARP_OFF_OPER, repr->op);
    memcpy(buf + ARP_OFF_SHA, repr->sha.b, NET_MAC_LEN);
    net_put32(buf + ARP_OFF_SPA, repr->spa);
    memcpy(buf + ARP_OFF_THA, repr->tha.b, NET_MAC_LEN);
    net_put32(buf + ARP_OFF_TPA, repr->tpa);
    return ARP_LEN;
}

int arp_init(struct arp *arp, const struct arp_cfg *cfg, const struct arp_ops *ops, void *ctx)
{
    if (!cfg || !ops || !ops->reserve || !ops->send || !cfg->entries || cfg->n_entries == 0)
        return NET_EINVAL;
    if (cfg->n_pending && (!cfg->pending || !cfg->pending_mem || cfg->pending_slot == 0))
        return NET_EINVAL;
    memset(arp, 0, sizeof(*arp));
    arp->cfg = *cfg;
    if (!arp->cfg.reachable_ns)
        arp->cfg.reachable_ns = DEFAULT_REACHABLE_NS;
    if (!arp->cfg.refresh_ns || arp->cfg.refresh_ns >= arp->cfg.reachable_ns)
        arp->cfg.refresh_ns = arp->cfg.reachable_ns / 4 * 3;
    if (!arp->cfg.retry_ns)
        arp->cfg.retry_ns = DEFAULT_RETRY_NS;
    if (!arp->cfg.max_tries)
        arp->cfg.max_tries = DEFAULT_MAX_TRIES;
    if (!arp->cfg.announce_count)
        arp->cfg.announce_count = DEFAULT_ANNOUNCE_COUNT;
    if (!arp->cfg.announce_interval_ns)
        arp->cfg.announce_interval_ns = DEFAULT_ANNOUNCE_INTERVAL_NS;
    memset(cfg->entries, 0, cfg->n_entries * sizeof(*cfg->entries));
    if (cfg->n_pending)
        memset(cfg->pending, 0, cfg->n_pending * sizeof(*cfg->pending));
    arp->flush_at = UINT64_MAX;
    arp->entries_due = UINT64_MAX;
    arp->ops = ops;
    arp->ctx = ctx;
    return NET_OK;
}

static bool send_arp(struct arp *arp, uint16_t op, const struct net_mac *eth_dst,
                     const struct net_mac *tha, net_ip4 tpa)
{
    struct arp_repr r = {.op = op, .sha = arp->cfg.mac, .spa = arp->cfg.ip, .tha = *tha,
                         .tpa = tpa};
    uint8_t *buf = arp->ops->reserve(arp->ctx, ARP_LEN);
    if (!buf) {
        arp->stats.tx_no_buffer++;
        return false;
    }
    arp_emit(&r, buf, ARP_LEN);
    arp->ops->send(arp->ctx, buf, ARP_LEN, eth_dst, ETH_TYPE_ARP, NULL);
    return true;
}

static struct arp_entry *find(const struct arp *arp, net_ip4 ip)
{
    for (size_t i = 0; i < arp->cfg.n_entries; i++)
        if (arp->cfg.entries[i].state != ARP_FREE && arp->cfg.entries[i].ip == ip)
            return &arp->cfg.entries[i];
    return NULL;
}

static uint8_t *slot_data(const struct arp *arp, size_t i)
{
    return arp->cfg.pending_mem + i * arp->cfg.pending_slot;
}

static void drop_queued(struct arp *arp, net_ip4 next_hop)
{
    for (size_t i = 0; i < arp->cfg.n_pending; i++) {
        struct arp_pending *p = &arp->cfg.pending[i];
        if (p->len && p->next_hop == next_hop) {
            p->len = 0;
            arp->stats.queue_dropped++;
        }
    }
}

static void release(struct arp *arp, struct arp_entry *e)
{
    /* A reachable entry can hold packets too: ones the device refused when it resolved.
     * Nothing sends them once the entry is gone, so they are dropped and counted here
     * rather than left holding slots, to surface much later on a new resolution. */
    drop_queued(arp, e->ip);
    e->state = ARP_FREE;
}

/* A slot for `ip`: a free one, else the reachable entry nearest expiry, else the oldest
 * resolution in progress. The cache never refuses, so a scan of new peers cannot wedge it. */
static struct arp_entry *claim(struct arp *arp, net_ip4 ip)
{
    struct arp_entry *victim = NULL;
    for (size_t i = 0; i < arp->cfg.n_entries; i++) {
        struct arp_entry *e = &arp->cfg.entries[i];
        if (e->state == ARP_FREE) {
            victim = e;
            break;
        }
        if (!victim || (e->state == ARP_REACHABLE && victim->state != ARP_REACHABLE) ||
            (e->state == victim->state && e->deadline < victim->deadline))
            victim = e;
    }
    if (victim->state != ARP_FREE) {
        arp->stats.evicted++;
        release(arp, victim);
    }
    memset(victim, 0, sizeof(*victim));
    victim->ip = ip;
    return victim;
}

static void flush_queued(struct arp *arp, const struct arp_entry *e, uint64_t now)
{
    for (;;) {
        struct arp_pending *oldest = NULL;
        size_t slot = 0;
        for (size_t i = 0; i < arp->cfg.n_pending; i++) {
            struct arp_pending *p = &arp->cfg.pending[i];
            if (p->len && p->next_hop == e->ip && (!oldest || p->seq < oldest->seq)) {
                oldest = p;
                slot = i;
            }
        }
        if (!oldest)
            return;
        uint8_t *buf = arp->ops->reserve(arp->ctx, oldest->len);
        if (!buf) {
            arp->stats.tx_no_buffer++; /* stays queued; arp_poll tries again soon */
            if (arp->flush_at > now + FLUSH_RETRY_NS)
                arp->flush_at = now + FLUSH_RETRY_NS;
            return;
        }
        memcpy(buf, slot_data(arp, slot), oldest->len);
        arp->ops->send(arp->ctx, buf, oldest->len, &e->mac, ETH_TYPE_IPV4, NULL);
        oldest->len = 0;
    }
}


/* entries_due is a lower bound on every entry's deadline, so that neither arp_poll nor
 * arp_next_deadline walks the table on each call (the stack asks for its next deadline
 * every time round the loop; the walk was a visible share of the receive path). */
static void set_deadline(struct arp *arp, struct arp_entry *e, uint64_t when)
{
    e->deadline = when;
    if (when < arp->entries_due)
        arp->entries_due = when;
}
static void confirm(struct arp *arp, struct arp_entry *e, const struct net_mac *mac, uint64_t now)
{
    bool was_incomplete = e->state == ARP_INCOMPLETE;
    e->mac = *mac;
    e->state = ARP_REACHABLE;
    e->tries = 0;
    e->confirmed = now;
    e->next_probe = now;
    set_deadline(arp, e, now + arp->cfg.reachable_ns);
    if (was_incomplete)
        flush_queued(arp, e, now);
}

static bool unicast_ip(net_ip4 a)
{
    return a != 0 && a != NET_IP4_BROADCAST && !net_ip4_is_multicast(a);
}

void arp_input(struct arp *arp, const uint8_t *buf, size_t len, uint64_t now)
{
    struct arp_repr r;
    int rc = arp_parse(buf, len, &r);
    if (rc == NET_EMALFORMED) {
        arp->stats.rx_truncated++;
        return;
    }
    if (rc < 0) {
        arp->stats.rx_bad_format++;
        return;
    }
    if (r.op != ARP_OP_REQUEST && r.op != ARP_OP_REPLY) {
        arp->stats.rx_bad_op++;
        return;
    }
    /* Our own MAC as sender is a spoof or a loop, whatever the Ethernet source said. */
    if (net_mac_is_group(&r.sha) || net_mac_is_zero(&r.sha) || net_mac_eq(&r.sha, &arp->cfg.mac) ||
        (r.spa != 0 && !unicast_ip(r.spa))) {
        arp->stats.rx_bad_sender++;
        return;
    }
    arp->stats.rx_packets++;
    bool for_us = arp->cfg.ip != 0 && r.tpa == arp->cfg.ip;

    /* RFC 5227 probe (sender 0.0.0.0): never learn, but answer if it asks for our address
     * so the prober sees the address is taken. */
    if (r.spa == 0) {
        if (for_us && r.op == ARP_OP_REQUEST && send_arp(arp, ARP_OP_REPLY, &r.sha, &r.sha, 0))
            arp->stats.tx_replies++;
        return;
    }
    if (r.spa == arp->cfg.ip) {
        arp->stats.rx_conflict++;
        return;
    }

    /* RFC 826 merge: refresh what we know about the sender, then add it only if the
     * packet was aimed at us, so traffic between other hosts cannot fill the cache. */
    struct arp_entry *e = find(arp, r.spa);
    if (e) {
        if (e->state == ARP_REACHABLE && !net_mac_eq(&e->mac, &r.sha))
            arp->stats.updated++;
        confirm(arp, e, &r.sha, now);
    } else if (for_us) {
        e = claim(arp, r.spa);
        arp->stats.learned++;
        confirm(arp, e, &r.sha, now);
    }

    if (!for_us) {
        if (r.op == ARP_OP_REQUEST)
            arp->stats.rx_not_for_us++;
        return;
    }
    if (r.op == ARP_OP_REQUEST && send_arp(arp, ARP_OP_REPLY, &r.sha, &r.sha, r.spa))
        arp->stats.tx_replies++;
}

static void request(struct arp *arp, struct arp_entry *e, uint64_t now)
{
    e->tries++;
    set_deadline(arp, e, now + arp->cfg.retry_ns);
    if (send_arp(arp, ARP_OP_REQUEST, &mac_broadcast, &mac_zero, e->ip))
        arp->stats.tx_requests++;
}

static struct arp_entry *start_resolution(struct arp *arp, net_ip4 ip, uint64_t now)
{
    struct arp_entry *e = claim(arp, ip);
    e->state = ARP_INCOMPLETE;
    request(arp, e, now);
    return e;
}

void arp_resolve(struct arp *arp, net_ip4 ip, uint64_t now)
{
    if (unicast_ip(ip) && ip != arp->cfg.ip && !find(arp, ip))
        start_resolution(arp, ip, now);
}

static int enqueue(struct arp *arp, net_ip4 next_hop, const uint8_t *pkt, size_t len)
{
    struct arp_pending *slot = NULL;
    size_t idx = 0;
    if (arp->cfg.n_pending == 0 || len > arp->cfg.pending_slot) {
        arp->stats.queue_dropped++;
        return NET_ENOBUFS;
    }
    for (size_t i = 0; i < arp->cfg.n_pending; i++) {
        struct arp_pending *p = &arp->cfg.pending[i];
        if (!p->len) {
            slot = p;
            idx = i;
            break;
        }
        if (!slot || p->seq < slot->seq) {
            slot = p;
            idx = i;
        }
    }
    if (slot->len)
        arp->stats.queue_dropped++; /* oldest makes room: fresher packets matter more */
    memcpy(slot_data(arp, idx), pkt, len);
    slot->len = (uint16_t)len;
    slot->next_hop = next_hop;
    slot->seq = arp->queue_seq++;
    return NET_EAGAIN;
}

int arp_output(struct arp *arp, net_ip4 next_hop, uint8_t *pkt, size_t len,
               const struct net_offload *off, uint64_t now)
{
    if (next_hop == NET_IP4_BROADCAST) {
        arp->ops->send(arp->ctx, pkt, len, &mac_broadcast, ETH_TYPE_IPV4, off);
        return NET_OK;
    }
    struct arp_entry *e = find(arp, next_hop);
    if (e && e->state == ARP_REACHABLE && now >= e->deadline) {
        arp->stats.expired++; /* expired between polls: never use a stale mapping */
        release(arp, e);
        e = NULL;
    }
    if (e && e->state == ARP_REACHABLE) {
        arp->ops->send(arp->ctx, pkt, len, &e->mac, ETH_TYPE_IPV4, off);
        /* Refresh a busy entry before it expires, at most once per retry interval. */
        if (now - e->confirmed >= arp->cfg.refresh_ns && now >= e->next_probe) {
            e->next_probe = now + arp->cfg.retry_ns;
            if (send_arp(arp, ARP_OP_REQUEST, &e->mac, &mac_zero, e->ip))
                arp->stats.tx_requests++;
        }
        return NET_OK;
    }
    /* Only another unicast host can be resolved. A packet queued for anything else
     * (0.0.0.0, a multicast group) would sit in a slot with no request ever sent for it
     * until an overflow evicted it; for our own address we would ARP for ourselves. */
    if (!e && (!unicast_ip(next_hop) || next_hop == arp->cfg.ip)) {
        arp->stats.queue_dropped++;
        return NET_ENOBUFS;
    }
    if (off && len <= arp->cfg.pending_slot)
        csum_offload_finish(pkt, len, off); /* the queued copy leaves complete */
    /* Copy first: the request below reuses the device reservation `pkt` lives in. */
    int rc = enqueue(arp, next_hop, pkt, len);
    if (!e && unicast_ip(next_hop))
        start_resolution(arp, next_hop, now);
    return rc;
}

void arp_announce(struct arp *arp, uint64_t now)
{
    if (arp->cfg.ip == 0)
        return;
    arp->announce_left = arp->cfg.announce_count;
    arp->announce_at = now;
    arp_poll(arp, now);
}

void arp_poll(struct arp *arp, uint64_t now)
{
    /* Queued packets of resolved entries are waiting only when the device refused them;
     * retry those when their deadline is due, not on every poll. */
    bool retry = now >= arp->flush_at;
    if (retry)
        arp->flush_at = UINT64_MAX; /* the loop below retries, and re-arms if still refused */
    if (arp->announce_left && now >= arp->announce_at) {
        /* Announcement: a request with sender and target both our address (RFC 5227 2.3). */
        if (send_arp(arp, ARP_OP_REQUEST, &mac_broadcast, &mac_zero, arp->cfg.ip)) {
            arp->stats.tx_announcements++;
            arp->announce_left--;
        }
        arp->announce_at = now + arp->cfg.announce_interval_ns;
    }
    if (!retry && now < arp->entries_due)
        return;
    arp->entries_due = UINT64_MAX; /* recomputed below, lowered by set_deadline meanwhile */
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < arp->cfg.n_entries; i++) {
        struct arp_entry *e = &arp->cfg.entries[i];
        if (e->state == ARP_FREE)
            continue;
        if (now < e->deadline) {
            if (retry && e->state == ARP_REACHABLE)
                flush_queued(arp, e, now);
        } else if (e->state == ARP_REACHABLE) {
            arp->stats.expired++;
            release(arp, e);
        } else if (e->tries >= arp->cfg.max_tries) {
            arp->stats.resolve_failed++;
            release(arp, e);
        } else {
            request(arp, e, now);
        }
        if (e->state != ARP_FREE && e->deadline < next)
            next = e->deadline;
    }
    if (next < arp->entries_due)
        arp->entries_due = next;
}

uint64_t arp_next_deadline(const struct arp *arp)
{
    uint64_t d = arp->announce_left ? arp->announce_at : UINT64_MAX;
    if (arp->flush_at < d)
        d = arp->flush_at;
    return arp->entries_due < d ? arp->entries_due : d;
}

bool arp_lookup(const struct arp *arp, net_ip4 ip, struct net_mac *mac)
{
    const struct arp_entry *e = find(arp, ip);
    if (!e || e->state != ARP_REACHABLE)
        return false;
    *mac = e->mac;
    return true;
}
