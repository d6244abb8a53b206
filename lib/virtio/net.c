#include "virtio/net.h"

#include <stddef.h>
#include <string.h>

/* Both queues use the legacy layout at 4096 alignment: version 1 requires it and
 * version 2 accepts any properly aligned addresses, so one layout serves both. */
static size_t ring_bytes(uint16_t qsize)
{
    struct virtq_layout l;
    virtq_legacy_layout(qsize, VIRTQ_LEGACY_ALIGN, &l);
    return (l.total + 4095) & ~(size_t)4095;
}

size_t vnet_mem_bytes(uint16_t queue_size, uint16_t tso_bufs)
{
    return 2 * ring_bytes(queue_size) + 2 * (size_t)queue_size * VNET_BUF_SIZE +
           (size_t)tso_bufs * VNET_TSO_BUF_SIZE;
}

/* TX cookies name the small buffer (low 16 bits, + 1) and any TSO buffer (+ 1) above. */
static void *tx_cookie(int small, int tso)
{
    return (void *)(uintptr_t)((uint32_t)(small + 1) | (uint32_t)(tso + 1) << 16);
}

static uint64_t vq_phys(void *ctx, const void *p)
{
    struct vnet *n = ctx;
    return n->ops->phys(n->ctx, p);
}

static const struct virtq_ops vq_ops = {.phys = vq_phys};

static int queue_init(struct vnet *n, uint16_t index, struct virtq *q, struct virtq_slot *slots,
                      uint8_t *mem)
{
    struct virtq_layout l;
    virtq_legacy_layout(n->qsize, VIRTQ_LEGACY_ALIGN, &l);
    struct virtq_cfg c = {.size = n->qsize,
                          .desc = (struct virtq_desc *)(void *)(mem + l.desc),
                          .avail = (struct virtq_avail *)(void *)(mem + l.avail),
                          .used = (struct virtq_used *)(void *)(mem + l.used),
                          .slots = slots,
                          .event_idx = (n->t->features & VIRTQ_F_EVENT_IDX) != 0};
    if (virtq_init(q, &c, &vq_ops, n) != VIRTQ_OK)
        return VIRTIO_EQUEUE;
    struct virtio_queue_addr a = {.desc = vq_phys(n, c.desc), .avail = vq_phys(n, c.avail),
                                  .used = vq_phys(n, c.used), .size = n->qsize};
    return virtio_mmio_queue_setup(n->t, index, &a);
}

static void post_rx(struct vnet *n, uint16_t i)
{
    struct virtq_buf b = {n->rx_buf + (size_t)i * VNET_BUF_SIZE, VNET_BUF_SIZE};
    /* Cannot fail: exactly one descriptor per buffer, and this one just came back. */
    virtq_add(&n->rx, &b, 0, 1, (void *)(uintptr_t)(i + 1));
}

static void kick(struct vnet *n, struct virtq *q, uint16_t index)
{
    if (virtq_kick_prepare(q)) {
        virtio_mmio_notify(n->t, index);
        if (index == VNET_TXQ)
            n->stats.tx_kicks++;
    }
}

static void kick_if_stalled(struct vnet *n, struct virtq *q, uint16_t index)
{
    if (virtq_device_stalled(q))
        virtio_mmio_notify(n->t, index);
}

/* `initial`: the first reading at init is a state, not a change. */
static void read_link(struct vnet *n, bool initial)
{
    bool up = true; /* without F_STATUS the link is always up (5.1.4) */
    if (n->t->features & VIRTIO_NET_F_STATUS) {
        uint8_t s[2];
        virtio_mmio_config(n->t, VIRTIO_NET_CFG_STATUS, s, 2);
        up = (s[0] | s[1] << 8) & VIRTIO_NET_S_LINK_UP;
    }
    if (up != n->link_up && !initial)
        n->stats.link_changes++;
    n->link_up = up;
}

int vnet_init(struct vnet *n, struct virtio_mmio *t, const struct vnet_cfg *cfg,
              const struct vnet_ops *ops, void *ctx)
{
    if (!n || !t || !cfg || !ops || !ops->phys || !ops->rx || t->device_id != VIRTIO_ID_NET ||
        !cfg->queue_size || (cfg->queue_size & (cfg->queue_size - 1)) ||
        cfg->queue_size > VNET_QUEUE_MAX || cfg->tso_bufs > VNET_TSO_BUFS_MAX ||
        ((uintptr_t)cfg->mem & 4095) || cfg->mem_len < vnet_mem_bytes(cfg->queue_size, cfg->tso_bufs))
        return VIRTIO_EINVAL;
    memset(n, 0, offsetof(struct vnet, rx_slots)); /* the tables need no clearing */
    n->t = t;
    n->ops = ops;
    n->ctx = ctx;
    n->cfg = *cfg;
    n->reserved = n->reserved_tso = -1;
    uint64_t want = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTQ_F_EVENT_IDX;
    if (cfg->tso_bufs)
        want |= VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4;
    int rc = virtio_mmio_init(t, want);
    if (rc < 0)
        return rc;
    if (!(t->features & VIRTIO_NET_F_MAC))
        goto fail; /* we have no source of a MAC but the device: never invent one */
    uint16_t max_rx = virtio_mmio_queue_max(t, VNET_RXQ), max_tx = virtio_mmio_queue_max(t, VNET_TXQ);
    n->qsize = cfg->queue_size;
    while (n->qsize > max_rx || n->qsize > max_tx)
        n->qsize >>= 1;
    if (!n->qsize)
        goto fail;
    n->hdr_len = (t->features & VIRTIO_F_VERSION_1) ? VNET_HDR_MODERN : VNET_HDR_LEGACY;
    uint8_t *mem = cfg->mem;
    size_t ring = ring_bytes(n->qsize);
    if (queue_init(n, VNET_RXQ, &n->rx, n->rx_slots, mem) < 0 ||
        queue_init(n, VNET_TXQ, &n->tx, n->tx_slots, mem + ring) < 0)
        goto fail;
    n->rx_buf = mem + 2 * ring;
    n->tx_buf = n->rx_buf + (size_t)n->qsize * VNET_BUF_SIZE;
    n->tso_buf = mem + 2 * ring + 2 * (size_t)cfg->queue_size * VNET_BUF_SIZE;
    n->n_tso = (t->features & VIRTIO_NET_F_HOST_TSO4) ? cfg->tso_bufs : 0;
    for (uint16_t i = 0; i < n->n_tso; i++)
        n->tso_free[n->n_tso_free++] = (uint8_t)i;
    virtio_mmio_config(t, VIRTIO_NET_CFG_MAC, n->mac.b, NET_MAC_LEN);
    /* Every RX buffer posted in one pass; buffer i's cookie is i + 1, as post_rx gives it
     * when the buffer comes back. Cannot fail: the queue is fresh and sized for them. */
    virtq_fill_in(&n->rx, n->rx_buf, VNET_BUF_SIZE, VNET_BUF_SIZE, n->qsize);
    for (uint16_t i = 0; i < n->qsize; i++)
        n->tx_free[n->n_tx_free++] = i;
    /* Completed sends are reaped lazily; the device says when it used one only while a
     * sender waits for a buffer (vnet_enable_tx_interrupts). */
    virtq_disable_interrupts(&n->tx);
    virtio_mmio_ready(t);
    read_link(n, true);
    kick(n, &n->rx, VNET_RXQ);
    return VIRTIO_OK;
fail:
    virtio_mmio_reset(t);
    return VIRTIO_EQUEUE;
}

struct net_dev_caps vnet_caps(const struct vnet *n)
{
    struct net_dev_caps c = {.tx_csum = (n->t->features & VIRTIO_NET_F_CSUM) != 0};
    if (c.tx_csum && n->n_tso)
        c.tso_max = VNET_TSO_BUF_SIZE - n->hdr_len;
    return c;
}

static void reclaim_tx(struct vnet *n)
{
    uint32_t len;
    void *cookie;
    while ((cookie = virtq_get_used(&n->tx, &len))) {
        uint32_t v = (uint32_t)(uintptr_t)cookie;
        n->tx_free[n->n_tx_free++] = (uint16_t)((v & 0xffff) - 1);
        if (v >> 16)
            n->tso_free[n->n_tso_free++] = (uint8_t)((v >> 16) - 1);
    }
}

/* A TSO burst's buffer, beside the small one whose descriptor carries it. */
static uint8_t *reserve_tso(struct vnet *n)
{
    if (n->reserved_tso < 0) {
        if (!n->n_tso_free)
            reclaim_tx(n);
        if (!n->n_tso_free) {
            n->stats.tx_full++;
            kick_if_stalled(n, &n->tx, VNET_TXQ);
            return NULL;
        }
        n->reserved_tso = n->tso_free[--n->n_tso_free];
    }
    return n->tso_buf + (size_t)n->reserved_tso * VNET_TSO_BUF_SIZE + n->hdr_len;
}

static uint8_t *tx_reserve(void *ctx, size_t len)
{
    struct vnet *n = ctx;
    bool big = len + n->hdr_len > VNET_BUF_SIZE;
    if (len + n->hdr_len > (big && n->n_tso ? VNET_TSO_BUF_SIZE : VNET_BUF_SIZE))
        return NULL;
    if (!big && n->reserved_tso >= 0) { /* a burst reserved and not sent: give it back */
        n->tso_free[n->n_tso_free++] = (uint8_t)n->reserved_tso;
        n->reserved_tso = -1;
    }
    if (n->reserved < 0) {
        if (!n->n_tx_free)
            reclaim_tx(n); /* lazily: only when the free list runs dry */
        if (!n->n_tx_free) {
            n->stats.tx_full++;
            kick_if_stalled(n, &n->tx, VNET_TXQ); /* the ring drains only if it moves */
            return NULL;
        }
        n->reserved = n->tx_free[--n->n_tx_free];
    }
    if (big)
        return reserve_tso(n);
    return n->tx_buf + (size_t)n->reserved * VNET_BUF_SIZE + n->hdr_len;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* The virtio-net header (5.1.6): flags, gso_type, hdr_len, gso_size, csum_start,
 * csum_offset, then num_buffers in 1.0 (0 on send). False: an offload not negotiated. */
static bool write_hdr(const struct vnet *n, uint8_t *h, const struct net_offload *off)
{
    memset(h, 0, n->hdr_len);
    if (!off)
        return true;
    bool csum = off->csum_offset != 0, gso = off->gso_size != 0;
    if ((csum && !(n->t->features & VIRTIO_NET_F_CSUM)) || (gso && (!n->n_tso || !csum)))
        return false;
    h[0] = csum ? VNET_HDR_F_NEEDS_CSUM : 0;
    h[1] = gso ? VNET_HDR_GSO_TCPV4 : 0;
    put_le16(h + 2, off->hdr_len);
    put_le16(h + 4, off->gso_size);
    put_le16(h + 6, off->csum_start);
    put_le16(h + 8, off->csum_offset);
    return true;
}

static void tx_commit(void *ctx, uint8_t *frame, size_t len, const struct net_offload *off)
{
    struct vnet *n = ctx;
    if (n->reserved < 0)
        return; /* nothing reserved: a programmer error, and nothing is sent */
    int tso = n->reserved_tso;
    uint8_t *buf = tso >= 0 ? n->tso_buf + (size_t)tso * VNET_TSO_BUF_SIZE
                            : n->tx_buf + (size_t)n->reserved * VNET_BUF_SIZE;
    if (frame != buf + n->hdr_len ||
        len + n->hdr_len > (tso >= 0 ? VNET_TSO_BUF_SIZE : VNET_BUF_SIZE))
        return; /* not the reservation: likewise */
    if (!write_hdr(n, buf, off)) {
        n->stats.tx_bad_offload++;
        return; /* the reservation stays for the next frame */
    }
    struct virtq_buf b = {buf, (uint32_t)(n->hdr_len + len)};
    int i = n->reserved;
    n->reserved = n->reserved_tso = -1;
    /* Cannot be full: each small TX buffer owns one descriptor and this one was free. */
    virtq_add(&n->tx, &b, 1, 0, tx_cookie(i, tso));
    n->stats.tx_frames++;
    n->stats.tx_offloaded += off && off->csum_offset;
    n->stats.tx_bursts += off && off->gso_size;
    kick(n, &n->tx, VNET_TXQ);
}

const struct net_dev_ops vnet_dev_ops = {.reserve = tx_reserve, .commit = tx_commit};

size_t vnet_poll(struct vnet *n, size_t budget)
{
    size_t done = 0;
    uint32_t len;
    void *cookie;
    while (done < budget && (cookie = virtq_get_used(&n->rx, &len))) {
        uint16_t i = (uint16_t)((uintptr_t)cookie - 1);
        const uint8_t *buf = n->rx_buf + (size_t)i * VNET_BUF_SIZE;
        if (len < (uint32_t)n->hdr_len + 14u) {
            n->stats.rx_runts++;
        } else {
            n->stats.rx_frames++;
            n->ops->rx(n->ctx, buf + n->hdr_len, len - n->hdr_len);
        }
        post_rx(n, i);
        done++;
    }
    if (done)
        kick(n, &n->rx, VNET_RXQ);
    reclaim_tx(n);
    return done;
}

int vnet_reset(struct vnet *n)
{
    struct vnet_stats stats = n->stats;
    struct vnet_cfg cfg = n->cfg;
    bool link = n->link_up;
    /* vnet_init resets the device first, so nothing is in flight when the rings are
     * rebuilt; then every RX buffer is posted again and every TX buffer is free. */
    int rc = vnet_init(n, n->t, &cfg, n->ops, n->ctx);
    n->stats = stats;
    n->stats.resets++;
    if (rc == VIRTIO_OK && link != n->link_up)
        n->stats.link_changes++;
    return rc;
}

uint32_t vnet_irq(struct vnet *n)
{
    uint32_t cause = virtio_mmio_ack_interrupt(n->t);
    n->stats.irqs++;
    if (cause & VIRTIO_INT_CONFIG_CHANGE) {
        if (virtio_mmio_needs_reset(n->t)) {
            vnet_reset(n);
            return cause;
        }
        read_link(n, false);
    }
    return cause;
}

void vnet_disable_rx_interrupts(struct vnet *n)
{
    virtq_disable_interrupts(&n->rx);
}

bool vnet_enable_rx_interrupts(struct vnet *n)
{
    /* The driver is about to sleep: no frame of ours may wait on a device that missed
     * its notification until something else wakes us. */
    kick_if_stalled(n, &n->tx, VNET_TXQ);
    return virtq_enable_interrupts(&n->rx);
}

bool vnet_enable_tx_interrupts(struct vnet *n)
{
    kick_if_stalled(n, &n->tx, VNET_TXQ);
    return virtq_enable_interrupts(&n->tx);
}

void vnet_disable_tx_interrupts(struct vnet *n)
{
    virtq_disable_interrupts(&n->tx);
}
