/*
 * The virtio-net driver against a device model: virtio-mmio registers (version 1 or 2)
 * whose queues are harness/vdev simulated devices attached to whatever rings the driver
 * programs, through the addresses it writes, exactly as QEMU would find them.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vdev.h"
#include "virtio/net.h"

#define QSIZE 16

/* Guest-physical view of the test's DMA block: ASan's heap sits above what legacy
 * virtio-mmio's 32-bit page frame number reaches, as a real guest's RAM never does. */
#define PHYS_BASE 0x10000000ull
static uint8_t *dma_base;

static void *map_phys(void *ctx, uint64_t phys)
{
    (void)ctx;
    return dma_base + (phys - PHYS_BASE);
}

struct dev {
    uint32_t version;
    uint64_t offered;
    uint32_t dev_sel, drv_sel, drv[2], status, sel, num[2], pfn[2], ready[2];
    uint64_t desc[2], avail[2], used[2];
    uint32_t int_status;
    uint8_t config[8];
    struct vdev q[2];
    bool attached[2];
    unsigned notifies[2];
};

static void attach(struct dev *d, unsigned i, uint64_t desc, uint64_t avail, uint64_t used)
{
    struct vdev_cfg c = {.size = d->num[i], .desc = desc, .avail = avail, .used = used,
                         .event_idx = (d->drv[0] & VIRTQ_F_EVENT_IDX) != 0, .map = map_phys};
    cr_assert_eq(vdev_attach(&d->q[i], &c), 0);
    d->attached[i] = true;
}

static uint32_t r32(void *ctx, uint32_t off)
{
    struct dev *d = ctx;
    switch (off) {
    case VIRTIO_MMIO_MAGIC: return VIRTIO_MMIO_MAGIC_VALUE;
    case VIRTIO_MMIO_VERSION: return d->version;
    case VIRTIO_MMIO_DEVICE_ID: return VIRTIO_ID_NET;
    case VIRTIO_MMIO_VENDOR_ID: return 0x554d4551;
    case VIRTIO_MMIO_DEVICE_FEATURES: return (uint32_t)(d->offered >> (32 * d->dev_sel));
    case VIRTIO_MMIO_STATUS: return d->status;
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return d->sel < 2 ? 256 : 0;
    case VIRTIO_MMIO_QUEUE_PFN: return d->pfn[d->sel];
    case VIRTIO_MMIO_QUEUE_READY: return d->ready[d->sel];
    case VIRTIO_MMIO_INTERRUPT_STATUS: return d->int_status;
    case VIRTIO_MMIO_CONFIG_GENERATION: return 0;
    default: cr_assert_fail("read of 0x%x", off); return 0;
    }
}

static void w32(void *ctx, uint32_t off, uint32_t v)
{
    struct dev *d = ctx;
    unsigned s = d->sel;
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: d->dev_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: d->drv_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES: d->drv[d->drv_sel & 1] = v; break;
    case VIRTIO_MMIO_GUEST_PAGE_SIZE: break;
    case VIRTIO_MMIO_QUEUE_SEL: d->sel = v; break;
    case VIRTIO_MMIO_QUEUE_NUM: d->num[s] = v; break;
    case VIRTIO_MMIO_QUEUE_ALIGN: cr_assert_eq(v, 4096); break;
    case VIRTIO_MMIO_QUEUE_PFN: {
        /* Legacy: the device derives the three parts from one page frame (2.7.2). */
        d->pfn[s] = v;
        uint64_t desc = (uint64_t)v << 12, avail = desc + 16ull * d->num[s];
        uint64_t used = (avail + 6 + 2ull * d->num[s] + 4095) & ~4095ull;
        attach(d, s, desc, avail, used);
        break;
    }
    case VIRTIO_MMIO_QUEUE_READY:
        d->ready[s] = v;
        attach(d, s, d->desc[s], d->avail[s], d->used[s]);
        break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: d->desc[s] = (d->desc[s] & ~0xffffffffull) | v; break;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: d->desc[s] = (d->desc[s] & 0xffffffffu) | (uint64_t)v << 32; break;
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW: d->avail[s] = (d->avail[s] & ~0xffffffffull) | v; break;
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: d->avail[s] = (d->avail[s] & 0xffffffffu) | (uint64_t)v << 32; break;
    case VIRTIO_MMIO_QUEUE_USED_LOW: d->used[s] = (d->used[s] & ~0xffffffffull) | v; break;
    case VIRTIO_MMIO_QUEUE_USED_HIGH: d->used[s] = (d->used[s] & 0xffffffffu) | (uint64_t)v << 32; break;
    case VIRTIO_MMIO_QUEUE_NOTIFY: cr_assert_lt(v, 2); d->notifies[v]++; break;
    case VIRTIO_MMIO_INTERRUPT_ACK: d->int_status &= ~v; break;
    case VIRTIO_MMIO_STATUS:
        if (v == 0) { /* reset: the device forgets its queues, as QEMU's does */
            memset(d->pfn, 0, sizeof(d->pfn));
            memset(d->ready, 0, sizeof(d->ready));
        }
        d->status = v;
        break;
    default: cr_assert_fail("write of 0x%x", off);
    }
}

static uint8_t r8(void *ctx, uint32_t off)
{
    struct dev *d = ctx;
    cr_assert(off >= VIRTIO_MMIO_CONFIG && off < VIRTIO_MMIO_CONFIG + sizeof(d->config));
    return d->config[off - VIRTIO_MMIO_CONFIG];
}

static const struct virtio_mmio_ops regs = {.read32 = r32, .write32 = w32, .read8 = r8};

struct rig {
    struct dev dev;
    struct virtio_mmio t;
    struct vnet *n;
    void *mem;
    uint8_t got[VNET_BUF_SIZE];
    size_t got_len, got_count;
};

static uint64_t identity(void *ctx, const void *p)
{
    (void)ctx;
    return PHYS_BASE + (uint64_t)((const uint8_t *)p - dma_base);
}

static void on_rx(void *ctx, const uint8_t *frame, size_t len)
{
    struct rig *r = ctx;
    memcpy(r->got, frame, len);
    r->got_len = len;
    r->got_count++;
}

static const struct vnet_ops ops = {.phys = identity, .rx = on_rx};

/* A device offering `extra` features beyond the basics, driven with `tso_bufs`. */
static void up_with(struct rig *r, uint32_t version, uint64_t extra, uint16_t tso_bufs)
{
    memset(r, 0, sizeof(*r));
    r->dev = (struct dev){.version = version,
                          .offered = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTQ_F_EVENT_IDX |
                                     (version == 2 ? VIRTIO_F_VERSION_1 : 0) | extra,
                          .config = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, VIRTIO_NET_S_LINK_UP, 0}};
    cr_assert_eq(virtio_mmio_probe(&r->t, &regs, &r->dev), VIRTIO_OK);
    /* Both filled with junk: the driver must set up whatever it reads (the kernel hands it
     * memory it does not clear), and every test here runs on that. */
    r->n = malloc(sizeof(*r->n));
    cr_assert_not_null(r->n);
    memset(r->n, 0xee, sizeof(*r->n));
    size_t bytes = vnet_mem_bytes(QSIZE, tso_bufs);
    r->mem = aligned_alloc(4096, bytes);
    cr_assert_not_null(r->mem);
    memset(r->mem, 0xee, bytes);
    dma_base = r->mem;
    struct vnet_cfg cfg = {.mem = r->mem, .mem_len = bytes, .queue_size = QSIZE,
                           .tso_bufs = tso_bufs};
    int rc = vnet_init(r->n, &r->t, &cfg, &ops, r);
    cr_assert_eq(rc, VIRTIO_OK, "vnet_init: %d (status %x)", rc, r->dev.status);
}

static void up(struct rig *r, uint32_t version)
{
    up_with(r, version, 0, 0);
}

static void down(struct rig *r)
{
    free(r->mem);
    free(r->n);
}

static size_t hdr(uint32_t version)
{
    return version == 2 ? VNET_HDR_MODERN : VNET_HDR_LEGACY;
}

Test(vnet, init_negotiates_reads_the_mac_and_posts_every_rx_buffer)
{
    for (uint32_t v = 1; v <= 2; v++) {
        struct rig r;
        up(&r, v);
        cr_assert(r.dev.status & VIRTIO_STATUS_DRIVER_OK);
        cr_assert_eq(r.dev.drv[0], (uint32_t)(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTQ_F_EVENT_IDX));
        cr_assert(r.dev.attached[VNET_RXQ] && r.dev.attached[VNET_TXQ]);
        cr_assert_eq(memcmp(r.n->mac.b, "\x52\x54\x00\xab\xcd\xef", 6), 0);
        cr_assert(r.n->link_up);
        cr_assert_eq(r.n->hdr_len, hdr(v));
        cr_assert_eq(vdev_avail_pending(&r.dev.q[VNET_RXQ]), QSIZE, "every RX buffer posted");
        cr_assert_eq(r.dev.notifies[VNET_RXQ], 1);
        down(&r);
    }
}

Test(vnet, received_frames_reach_the_stack_without_the_header_and_buffers_return)
{
    for (uint32_t v = 1; v <= 2; v++) {
        struct rig r;
        up(&r, v);
        for (int k = 0; k < 3 * QSIZE; k++) { /* several laps of the ring */
            struct vdev_chain c;
            cr_assert_eq(vdev_pop(&r.dev.q[VNET_RXQ], &c), 1);
            cr_assert_eq(c.n_in, 1);
            uint8_t pkt[VNET_HDR_MODERN + 60] = {0};
            memset(pkt + hdr(v), 0x40 + k % 32, 60);
            vdev_write(&r.dev.q[VNET_RXQ], &c, pkt, hdr(v) + 60);
            cr_assert_geq(vdev_complete(&r.dev.q[VNET_RXQ], c.head, (uint32_t)(hdr(v) + 60)), 0);
            cr_assert_eq(vnet_poll(r.n, 64), 1);
            cr_assert_eq(r.got_len, 60);
            cr_assert_eq(r.got[59], 0x40 + k % 32);
            cr_assert_eq(vdev_avail_pending(&r.dev.q[VNET_RXQ]), QSIZE, "buffer re-posted");
        }
        cr_assert_eq(r.n->stats.rx_frames, 3 * QSIZE);
        cr_assert_eq(r.dev.q[VNET_RXQ].driver_errors, 0);
        down(&r);
    }
}

Test(vnet, a_runt_completion_is_counted_and_its_buffer_reposted)
{
    struct rig r;
    up(&r, 1);
    struct vdev_chain c;
    vdev_pop(&r.dev.q[VNET_RXQ], &c);
    vdev_complete(&r.dev.q[VNET_RXQ], c.head, 5);
    cr_assert_eq(vnet_poll(r.n, 64), 1);
    cr_assert_eq(r.got_count, 0);
    cr_assert_eq(r.n->stats.rx_runts, 1);
    cr_assert_eq(vdev_avail_pending(&r.dev.q[VNET_RXQ]), QSIZE);
    down(&r);
}

Test(vnet, many_frames_in_flight_then_back_pressure_then_lazy_reclaim)
{
    for (uint32_t v = 1; v <= 2; v++) {
        struct rig r;
        up(&r, v);
        for (int k = 0; k < QSIZE; k++) {
            uint8_t *f = vnet_dev_ops.reserve(r.n, 100);
            cr_assert_not_null(f, "frame %d: the ring has room", k);
            memset(f, k, 100);
            vnet_dev_ops.commit(r.n, f, 100, NULL);
        }
        /* All sixteen are with the device at once; none was waited for. */
        cr_assert_eq(vdev_avail_pending(&r.dev.q[VNET_TXQ]), QSIZE);
        cr_assert_null(vnet_dev_ops.reserve(r.n, 100), "full ring is back-pressure");
        cr_assert_eq(r.n->stats.tx_full, 1);

        struct vdev_chain c;
        for (int k = 0; k < QSIZE; k++) {
            cr_assert_eq(vdev_pop(&r.dev.q[VNET_TXQ], &c), 1);
            uint8_t buf[VNET_BUF_SIZE];
            size_t n = vdev_read(&r.dev.q[VNET_TXQ], &c, buf, sizeof(buf));
            cr_assert_eq(n, hdr(v) + 100);
            for (size_t i = 0; i < hdr(v); i++)
                cr_assert_eq(buf[i], 0, "header byte %zu", i);
            cr_assert_eq(buf[hdr(v)], k, "frames leave in order");
            if (k == 3) /* complete one, out of order: it is the one reclaimed */
                vdev_complete(&r.dev.q[VNET_TXQ], c.head, 0);
        }
        cr_assert_not_null(vnet_dev_ops.reserve(r.n, 100), "reclaimed once the device was done");
        cr_assert_eq(r.dev.q[VNET_TXQ].driver_errors, 0);
        down(&r);
    }
}

Test(vnet, a_reservation_is_the_same_buffer_until_committed)
{
    struct rig r;
    up(&r, 2);
    uint8_t *a = vnet_dev_ops.reserve(r.n, 60);
    uint8_t *b = vnet_dev_ops.reserve(r.n, 1514);
    cr_assert_eq(a, b);
    cr_assert_null(vnet_dev_ops.reserve(r.n, VNET_BUF_SIZE), "larger than a buffer");
    vnet_dev_ops.commit(r.n, a + 1, 60, NULL); /* not the reservation: ignored */
    cr_assert_eq(r.n->stats.tx_frames, 0);
    vnet_dev_ops.commit(r.n, a, 60, NULL);
    cr_assert_eq(r.n->stats.tx_frames, 1);
    cr_assert_neq(vnet_dev_ops.reserve(r.n, 60), a, "a committed buffer is not handed out again");
    down(&r);
}

Test(vnet, event_idx_lets_a_busy_device_skip_notifications)
{
    struct rig r;
    up(&r, 2);
    /* The device says it will look at the ring by itself until entry 12. */
    vdev_set_avail_event(&r.dev.q[VNET_TXQ], 12);
    for (int k = 0; k < 8; k++) {
        uint8_t *f = vnet_dev_ops.reserve(r.n, 60);
        vnet_dev_ops.commit(r.n, f, 60, NULL);
    }
    cr_assert_eq(r.dev.notifies[VNET_TXQ], 0, "no exit to the host while it is busy");
    cr_assert_eq(r.n->stats.tx_frames, 8);
    down(&r);
}


/* QEMU 7.2's lost TX kick (see virtq.c): the device finished frame 1 and went idle at
 * avail_event 1 while our kicks read its avail_event from before (0). `frames` more are
 * posted after it, none notified. */
static void lose_a_tx_kick(struct rig *r, int frames)
{
    struct vdev *q = &r->dev.q[VNET_TXQ];
    uint8_t *f = vnet_dev_ops.reserve(r->n, 60);
    vnet_dev_ops.commit(r->n, f, 60, NULL);
    cr_assert_eq(r->dev.notifies[VNET_TXQ], 1);
    struct vdev_chain c;
    cr_assert_eq(vdev_pop(q, &c), 1);
    vdev_complete(q, c.head, 0);
    vnet_poll(r->n, 64); /* reclaims frame 1 */
    for (int k = 0; k < frames; k++) {
        f = vnet_dev_ops.reserve(r->n, 60);
        cr_assert_not_null(f);
        vnet_dev_ops.commit(r->n, f, 60, NULL);
    }
    cr_assert_eq(r->dev.notifies[VNET_TXQ], 1, "the race: no kick for the frames after");
    vdev_set_avail_event(q, 1); /* the device's store of avail_event lands late */
}

Test(vnet, a_tx_queue_that_missed_its_kick_is_told_before_the_driver_sleeps)
{
    struct rig r;
    up(&r, 1);
    lose_a_tx_kick(&r, 1);
    vnet_enable_rx_interrupts(r.n);
    cr_assert_eq(r.dev.notifies[VNET_TXQ], 2, "the idle device is found and told");
    vnet_enable_rx_interrupts(r.n);
    cr_assert_eq(r.dev.notifies[VNET_TXQ], 2, "once: it has been told");
    cr_assert_eq(vdev_avail_pending(&r.dev.q[VNET_TXQ]), 1, "the frame is there to send");
    down(&r);
}

Test(vnet, a_full_tx_ring_behind_an_idle_device_tells_it)
{
    struct rig r;
    up(&r, 2);
    lose_a_tx_kick(&r, QSIZE);
    cr_assert_null(vnet_dev_ops.reserve(r.n, 60), "full");
    cr_assert_eq(r.dev.notifies[VNET_TXQ], 2, "back-pressure that can never end is a kick");
    cr_assert_eq(r.n->tx.stats.stall_kicks, 1);
    down(&r);
}

static void send_frames(struct rig *r, int n)
{
    for (int k = 0; k < n; k++) {
        uint8_t *f = vnet_dev_ops.reserve(r->n, 60);
        cr_assert_not_null(f);
        vnet_dev_ops.commit(r->n, f, 60, NULL);
    }
}

/* Returns whether the device would interrupt after finishing its oldest frame. */
static int finish_one(struct rig *r)
{
    struct vdev_chain c;
    cr_assert_eq(vdev_pop(&r->dev.q[VNET_TXQ], &c), 1);
    return vdev_complete(&r->dev.q[VNET_TXQ], c.head, 0);
}

Test(vnet, sent_frames_interrupt_only_while_a_sender_waits_for_a_buffer)
{
    for (uint32_t v = 1; v <= 2; v++) {
        struct rig r;
        up(&r, v);
        send_frames(&r, 4);
        cr_assert_eq(finish_one(&r), 0, "a finished send costs no interrupt");
        /* A sender waits: buffers already came back, so the driver polls, not sleeps. */
        cr_assert_not(vnet_enable_tx_interrupts(r.n));
        vnet_poll(r.n, 64);
        cr_assert(vnet_enable_tx_interrupts(r.n), "nothing pending: it may sleep");
        cr_assert_eq(finish_one(&r), 1, "the next buffer back wakes the waiting sender");
        vnet_disable_tx_interrupts(r.n);
        vnet_poll(r.n, 64);
        cr_assert_eq(finish_one(&r), 0, "quiet again once nobody waits");
        down(&r);
    }
}

Test(vnet, link_status_follows_config_interrupts)
{
    struct rig r;
    up(&r, 1);
    r.dev.config[6] = 0;
    r.dev.int_status = VIRTIO_INT_CONFIG_CHANGE;
    cr_assert_eq(vnet_irq(r.n), VIRTIO_INT_CONFIG_CHANGE);
    cr_assert(!r.n->link_up);
    cr_assert_eq(r.n->stats.link_changes, 1);
    cr_assert_eq(r.dev.int_status, 0, "acknowledged");
    down(&r);
}

Test(vnet, init_refuses_bad_memory_and_a_device_without_a_mac)
{
    struct rig r;
    memset(&r, 0, sizeof(r));
    r.dev = (struct dev){.version = 1, .offered = VIRTIO_NET_F_STATUS};
    virtio_mmio_probe(&r.t, &regs, &r.dev);
    struct vnet *n = calloc(1, sizeof(*n));
    size_t bytes = vnet_mem_bytes(QSIZE, 0);
    uint8_t *mem = aligned_alloc(4096, bytes + 4096);
    dma_base = mem;
    struct vnet_cfg cfg = {.mem = mem + 8, .mem_len = bytes, .queue_size = QSIZE};
    cr_assert_eq(vnet_init(n, &r.t, &cfg, &ops, &r), VIRTIO_EINVAL, "misaligned memory");
    cfg = (struct vnet_cfg){.mem = mem, .mem_len = bytes - 1, .queue_size = QSIZE};
    cr_assert_eq(vnet_init(n, &r.t, &cfg, &ops, &r), VIRTIO_EINVAL, "too little memory");
    cfg = (struct vnet_cfg){.mem = mem, .mem_len = bytes, .queue_size = 12};
    cr_assert_eq(vnet_init(n, &r.t, &cfg, &ops, &r), VIRTIO_EINVAL, "not a power of two");
    cfg.queue_size = QSIZE;
    cr_assert_eq(vnet_init(n, &r.t, &cfg, &ops, &r), VIRTIO_EQUEUE, "no MAC offered");
    cr_assert_eq(r.dev.status, 0, "the device is left reset");
    free(mem);
    free(n);
}

Test(vnet, a_device_that_needs_a_reset_is_brought_back_up)
{
    for (uint32_t v = 1; v <= 2; v++) {
        struct rig r;
        up(&r, v);
        /* Frames in flight both ways when the device breaks. */
        for (int k = 0; k < 5; k++) {
            uint8_t *f = vnet_dev_ops.reserve(r.n, 60);
            vnet_dev_ops.commit(r.n, f, 60, NULL);
        }
        struct vdev_chain c;
        cr_assert_eq(vdev_pop(&r.dev.q[VNET_RXQ], &c), 1);
        r.dev.status |= VIRTIO_STATUS_NEEDS_RESET;
        r.dev.int_status = VIRTIO_INT_CONFIG_CHANGE;
        r.dev.attached[VNET_RXQ] = r.dev.attached[VNET_TXQ] = false;
        vnet_irq(r.n);
        cr_assert_eq(r.n->stats.resets, 1);
        cr_assert(r.dev.status & VIRTIO_STATUS_DRIVER_OK, "brought up again");
        cr_assert(!(r.dev.status & VIRTIO_STATUS_NEEDS_RESET));
        cr_assert(r.dev.attached[VNET_RXQ] && r.dev.attached[VNET_TXQ], "queues set up again");
        cr_assert_eq(vdev_avail_pending(&r.dev.q[VNET_RXQ]), QSIZE, "every RX buffer reposted");
        cr_assert_eq(r.n->stats.tx_frames, 5, "counters survive the reset");
        /* And it works: all QSIZE TX buffers are free again, and a frame comes in. */
        for (int k = 0; k < QSIZE; k++) {
            uint8_t *f = vnet_dev_ops.reserve(r.n, 60);
            cr_assert_not_null(f, "TX buffer %d after the reset", k);
            vnet_dev_ops.commit(r.n, f, 60, NULL);
        }
        cr_assert_eq(vdev_pop(&r.dev.q[VNET_RXQ], &c), 1);
        uint8_t pkt[VNET_HDR_MODERN + 60] = {0};
        vdev_write(&r.dev.q[VNET_RXQ], &c, pkt, hdr(v) + 60);
        vdev_complete(&r.dev.q[VNET_RXQ], c.head, (uint32_t)(hdr(v) + 60));
        cr_assert_eq(vnet_poll(r.n, 64), 1);
        cr_assert_eq(r.got_len, 60);
        down(&r);
    }
}

/* ---- Offloads: checksum and TSO (5.1.6.2) ----------------------------------------------- */

#define OFFLOADS (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4)

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

Test(vnet, offloads_are_negotiated_only_when_offered_and_given_tso_buffers)
{
    struct rig r;
    up_with(&r, 2, OFFLOADS, 2);
    cr_assert_eq(r.dev.drv[0] & OFFLOADS, OFFLOADS);
    struct net_dev_caps c = vnet_caps(r.n);
    cr_assert(c.tx_csum);
    cr_assert_eq(c.tso_max, VNET_TSO_BUF_SIZE - VNET_HDR_MODERN);
    down(&r);

    up_with(&r, 2, OFFLOADS, 0); /* no memory for bursts: ask for nothing */
    cr_assert_eq(r.dev.drv[0] & OFFLOADS, 0);
    c = vnet_caps(r.n);
    cr_assert(!c.tx_csum && !c.tso_max);
    cr_assert_null(vnet_dev_ops.reserve(r.n, 4000), "no buffer holds a burst");
    down(&r);

    up_with(&r, 1, 0, 2); /* user networking: QEMU offers neither */
    cr_assert_eq(r.dev.drv[0] & OFFLOADS, 0);
    c = vnet_caps(r.n);
    cr_assert(!c.tx_csum && !c.tso_max);
    down(&r);
}

Test(vnet, a_tso_burst_goes_in_a_large_buffer_described_by_its_header)
{
    static uint8_t buf[VNET_TSO_BUF_SIZE];
    for (uint32_t v = 1; v <= 2; v++) {
        struct rig r;
        up_with(&r, v, OFFLOADS, 2);
        size_t len = 40000;
        uint8_t *f = vnet_dev_ops.reserve(r.n, len);
        cr_assert_not_null(f);
        for (size_t i = 0; i < len; i++)
            f[i] = (uint8_t)(i * 7);
        struct net_offload off = {.csum_start = 34, .csum_offset = 16, .hdr_len = 66,
                                  .gso_size = 1448};
        vnet_dev_ops.commit(r.n, f, len, &off);
        uint8_t *g = vnet_dev_ops.reserve(r.n, 54); /* checksum only, in a small buffer */
        cr_assert_not_null(g);
        memset(g, 0x33, 54);
        struct net_offload csum = {.csum_start = 34, .csum_offset = 16};
        vnet_dev_ops.commit(r.n, g, 54, &csum);

        struct vdev_chain c;
        cr_assert_eq(vdev_pop(&r.dev.q[VNET_TXQ], &c), 1);
        cr_assert_eq(vdev_read(&r.dev.q[VNET_TXQ], &c, buf, sizeof(buf)), hdr(v) + len);
        cr_assert_eq(buf[0], VNET_HDR_F_NEEDS_CSUM);
        cr_assert_eq(buf[1], VNET_HDR_GSO_TCPV4);
        cr_assert_eq(le16(buf + 2), 66, "hdr_len");
        cr_assert_eq(le16(buf + 4), 1448, "gso_size");
        cr_assert_eq(le16(buf + 6), 34, "csum_start");
        cr_assert_eq(le16(buf + 8), 16, "csum_offset");
        if (v == 2)
            cr_assert_eq(le16(buf + 10), 0, "num_buffers");
        for (size_t i = 0; i < len; i++)
            cr_assert_eq(buf[hdr(v) + i], (uint8_t)(i * 7), "byte %zu", i);

        cr_assert_eq(vdev_pop(&r.dev.q[VNET_TXQ], &c), 1);
        cr_assert_eq(vdev_read(&r.dev.q[VNET_TXQ], &c, buf, sizeof(buf)), hdr(v) + 54);
        cr_assert_eq(buf[0], VNET_HDR_F_NEEDS_CSUM);
        cr_assert_eq(buf[1], 0, "no segmentation");
        cr_assert_eq(le16(buf + 6), 34);
        cr_assert_eq(le16(buf + 8), 16);
        cr_assert_eq(buf[hdr(v)], 0x33);
        cr_assert_eq(r.n->stats.tx_offloaded, 2);
        cr_assert_eq(r.n->stats.tx_bursts, 1);
        cr_assert_eq(r.dev.q[VNET_TXQ].driver_errors, 0);
        down(&r);
    }
}

Test(vnet, tso_buffers_run_out_and_come_back_when_the_device_is_done)
{
    struct rig r;
    up_with(&r, 2, OFFLOADS, 2);
    struct net_offload off = {.csum_start = 34, .csum_offset = 16, .hdr_len = 66,
                              .gso_size = 1448};
    uint8_t *seen[2];
    for (int k = 0; k < 2; k++) {
        seen[k] = vnet_dev_ops.reserve(r.n, 9000);
        cr_assert_not_null(seen[k]);
        vnet_dev_ops.commit(r.n, seen[k], 9000, &off);
    }
    cr_assert_neq(seen[0], seen[1]);
    cr_assert_null(vnet_dev_ops.reserve(r.n, 9000), "both bursts are with the device");
    cr_assert_eq(r.n->stats.tx_full, 1);
    uint8_t *small = vnet_dev_ops.reserve(r.n, 60);
    cr_assert_not_null(small, "small frames still go");
    vnet_dev_ops.commit(r.n, small, 60, NULL);

    struct vdev_chain c;
    cr_assert_eq(vdev_pop(&r.dev.q[VNET_TXQ], &c), 1);
    vdev_complete(&r.dev.q[VNET_TXQ], c.head, 0); /* the first burst is done */
    uint8_t *again = vnet_dev_ops.reserve(r.n, 9000);
    cr_assert_eq(again, seen[0], "its buffer returned");
    /* Asked for a small frame instead, the driver gives the burst buffer back. */
    uint8_t *s2 = vnet_dev_ops.reserve(r.n, 60);
    vnet_dev_ops.commit(r.n, s2, 60, NULL);
    cr_assert_eq(vnet_dev_ops.reserve(r.n, 9000), seen[0]);
    cr_assert_eq(r.dev.q[VNET_TXQ].driver_errors, 0);
    down(&r);
}

Test(vnet, an_offload_the_device_did_not_offer_is_refused_and_counted)
{
    struct rig r;
    up(&r, 2);
    uint8_t *f = vnet_dev_ops.reserve(r.n, 60);
    struct net_offload csum = {.csum_start = 34, .csum_offset = 16};
    vnet_dev_ops.commit(r.n, f, 60, &csum);
    cr_assert_eq(r.n->stats.tx_bad_offload, 1);
    cr_assert_eq(r.n->stats.tx_frames, 0, "nothing the device would send wrong");
    cr_assert_eq(vnet_dev_ops.reserve(r.n, 60), f, "the reservation stays");
    vnet_dev_ops.commit(r.n, f, 60, NULL);
    cr_assert_eq(r.n->stats.tx_frames, 1);
    down(&r);
}
