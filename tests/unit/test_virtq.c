/*
 * test_virtq.c — the split virtqueue, driver side, against harness/vdev's simulated device.
 *
 * The device only ever sees the rings through the physical addresses the driver was given
 * and the descriptors it wrote, so what these tests check is what a real device would
 * see. Every rig starts with its ring memory full of garbage (init must zero it) and ends
 * in rig_close, which checks that the device saw no malformed chain, the test misused no
 * device verb, and the driver's free list holds exactly the descriptors not in flight.
 * Section numbers are virtio 1.2's.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vdev.h"
#include "virtio/virtq.h"

/* ---- A rig: a queue in legacy layout, the device attached to it ------------------------ */

struct rig {
    struct virtq q;
    struct vdev dev;
    struct virtq_slot slots[VDEV_SIZE_MAX];
    struct virtq_layout lay;
    uint8_t *mem;
    uint32_t size;
    uint64_t phys_calls;
    uint64_t phys_offset; /* what phys adds and the device's map takes away */
};

static uint64_t phys(void *ctx, const void *p)
{
    struct rig *r = ctx;
    r->phys_calls++;
    return (uint64_t)(uintptr_t)p + r->phys_offset;
}

static void *map(void *ctx, uint64_t pa)
{
    struct rig *r = ctx;
    return (void *)(uintptr_t)(pa - r->phys_offset);
}

static const struct virtq_ops ops = {.phys = phys};

static void rig_open_at(struct rig *r, uint32_t size, bool event_idx, uint64_t phys_offset)
{
    memset(r, 0, sizeof(*r));
    r->size = size;
    r->phys_offset = phys_offset;
    cr_assert_eq(virtq_legacy_layout(size, VIRTQ_LEGACY_ALIGN, &r->lay), VIRTQ_OK);
    size_t bytes = (r->lay.total + 4095) & ~(size_t)4095;
    r->mem = aligned_alloc(4096, bytes);
    cr_assert_not_null(r->mem);
    memset(r->mem, 0xee, bytes); /* garbage: virtq_init must zero the rings */
    memset(r->slots, 0xee, sizeof(r->slots));
    struct virtq_cfg cfg = {
        .size = size,
        .desc = (struct virtq_desc *)(void *)(r->mem + r->lay.desc),
        .avail = (struct virtq_avail *)(void *)(r->mem + r->lay.avail),
        .used = (struct virtq_used *)(void *)(r->mem + r->lay.used),
        .slots = r->slots,
        .event_idx = event_idx,
    };
    cr_assert_eq(virtq_init(&r->q, &cfg, &ops, r), VIRTQ_OK);
    /* The device is told where the rings are the way a transport tells it: by address. */
    struct vdev_cfg dcfg = {
        .size = size,
        .desc = phys(r, cfg.desc),
        .avail = phys(r, cfg.avail),
        .used = phys(r, cfg.used),
        .event_idx = event_idx,
        .map = map,
        .map_ctx = r,
    };
    cr_assert_eq(vdev_attach(&r->dev, &dcfg), 0);
    r->phys_calls = 0;
}

static void rig_open(struct rig *r, uint32_t size, bool event_idx)
{
    rig_open_at(r, size, event_idx, 0);
}

/* The free list is exactly the descriptors that no chain in flight holds, each once, and
 * the chains in flight are well formed. */
static void check_free_list(const struct virtq *q)
{
    uint8_t seen[VIRTQ_SIZE_MAX] = {0};
    uint32_t nfree = 0;
    for (uint16_t i = q->free_head; i != VIRTQ_NONE; i = q->slots[i].next) {
        cr_assert_lt(i, q->size, "free list points outside the table: %u", i);
        cr_assert_eq(seen[i], 0, "descriptor %u twice on the free list", i);
        cr_assert_null(q->slots[i].cookie, "free descriptor %u has a cookie", i);
        seen[i] = 1;
        nfree++;
        cr_assert_leq(nfree, q->size);
    }
    cr_assert_eq(nfree, q->num_free, "free list has %u, num_free says %u", nfree, q->num_free);
    uint32_t chains = 0;
    for (uint32_t h = 0; h < q->size; h++) {
        if (!q->slots[h].cookie)
            continue;
        chains++;
        uint16_t i = (uint16_t)h;
        for (uint16_t k = 0; k < q->slots[h].count; k++) {
            cr_assert_lt(i, q->size);
            cr_assert_eq(seen[i], 0, "descriptor %u both free and in chain %u", i, h);
            seen[i] = 2;
            i = q->slots[i].next;
        }
    }
    cr_assert_eq(chains, q->inflight);
    for (uint32_t i = 0; i < q->size; i++)
        cr_assert_neq(seen[i], 0, "descriptor %u is neither free nor in flight", i);
}

static void rig_close(struct rig *r)
{
    cr_assert_eq(r->dev.driver_errors, 0, "the device saw a malformed chain");
    cr_assert_eq(r->dev.test_errors, 0, "the test completed a chain the device did not hold");
    check_free_list(&r->q);
    free(r->mem);
    r->mem = NULL;
}

/* ---- Conversation helpers --------------------------------------------------------------- */

#define COOKIE(n) ((void *)(uintptr_t)(0x1000 + (n)))

/* One device-writable buffer (a receive buffer). */
static int add_rx(struct rig *r, void *buf, uint32_t len, void *cookie)
{
    struct virtq_buf b = {buf, len};
    return virtq_add(&r->q, &b, 0, 1, cookie);
}

/* One device-readable buffer (a frame to send). */
static int add_tx(struct rig *r, const void *buf, uint32_t len, void *cookie)
{
    struct virtq_buf b = {buf, len};
    return virtq_add(&r->q, &b, 1, 0, cookie);
}

static struct vdev_chain pop(struct rig *r)
{
    struct vdev_chain c;
    cr_assert_eq(vdev_pop(&r->dev, &c), 1, "the device found no chain to pop");
    return c;
}

static void expect_nothing_to_pop(struct rig *r)
{
    struct vdev_chain c;
    cr_assert_eq(vdev_pop(&r->dev, &c), 0, "the device found a chain");
}

/* The device completes a chain it holds; returns whether it interrupted. */
static bool complete(struct rig *r, uint16_t head, uint32_t len)
{
    int rc = vdev_complete(&r->dev, head, len);
    cr_assert_geq(rc, 0, "the device does not hold chain %u", head);
    return rc == 1;
}

static void expect_used(struct rig *r, void *cookie, uint32_t len)
{
    uint32_t got = 0xdeadbeef;
    void *c = virtq_get_used(&r->q, &got);
    cr_assert_eq(c, cookie, "expected cookie %p, got %p", cookie, c);
    cr_assert_eq(got, len, "expected length %u, got %u", len, got);
}

static void expect_no_used(struct rig *r)
{
    uint32_t got = 0xdeadbeef;
    cr_assert_null(virtq_get_used(&r->q, &got));
    cr_assert_eq(got, 0xdeadbeef, "len written without a completion");
}

/* ---- Layout and init --------------------------------------------------------------------- */

Test(virtq, legacy_layout_puts_used_at_the_next_aligned_boundary)
{
    struct virtq_layout l;
    /* 256: table 256*16 = 4096; avail 6+2*256 = 518 ends at 4614; used at 8192, 6+8*256. */
    cr_assert_eq(virtq_legacy_layout(256, 4096, &l), VIRTQ_OK);
    cr_assert_eq(l.desc, 0);
    cr_assert_eq(l.avail, 4096);
    cr_assert_eq(l.used, 8192);
    cr_assert_eq(l.total, 8192 + 2054);
    cr_assert_eq(virtq_desc_bytes(256), 4096);
    cr_assert_eq(virtq_avail_bytes(256), 518);
    cr_assert_eq(virtq_used_bytes(256), 2054);
    /* 1024: table 16384, avail 2054 ends at 18438, used at 20480 for 8198. */
    cr_assert_eq(virtq_legacy_layout(1024, 4096, &l), VIRTQ_OK);
    cr_assert_eq(l.avail, 16384);
    cr_assert_eq(l.used, 20480);
    cr_assert_eq(l.total, 20480 + 8198);
    /* 8: table 128, avail 22 ends at 150; used at 4096 for 70. */
    cr_assert_eq(virtq_legacy_layout(8, 4096, &l), VIRTQ_OK);
    cr_assert_eq(l.avail, 128);
    cr_assert_eq(l.used, 4096);
    cr_assert_eq(l.total, 4166);
    /* A small align: 2 entries, table 32, avail 10 ends at 42, used at 44 for 22. */
    cr_assert_eq(virtq_legacy_layout(2, 4, &l), VIRTQ_OK);
    cr_assert_eq(l.avail, 32);
    cr_assert_eq(l.used, 44);
    cr_assert_eq(l.total, 66);
    /* 32768: table 512 KiB, avail 65542 ends at 589830, used at 593920 for 262150. */
    cr_assert_eq(virtq_legacy_layout(32768, 4096, &l), VIRTQ_OK);
    cr_assert_eq(l.avail, 524288);
    cr_assert_eq(l.used, 593920);
    cr_assert_eq(l.total, 593920 + 262150);
}

Test(virtq, legacy_layout_rejects_bad_sizes_and_alignments)
{
    struct virtq_layout l;
    cr_assert_eq(virtq_legacy_layout(0, 4096, &l), VIRTQ_EINVAL);
    cr_assert_eq(virtq_legacy_layout(3, 4096, &l), VIRTQ_EINVAL);
    cr_assert_eq(virtq_legacy_layout(65536, 4096, &l), VIRTQ_EINVAL);
    cr_assert_eq(virtq_legacy_layout(256, 3000, &l), VIRTQ_EINVAL);
    cr_assert_eq(virtq_legacy_layout(256, 2, &l), VIRTQ_EINVAL); /* used needs 4 */
    cr_assert_eq(virtq_legacy_layout(256, 4096, NULL), VIRTQ_EINVAL);
}

Test(virtq, init_rejects_bad_sizes_misaligned_rings_and_missing_phys)
{
    static _Alignas(4096) uint8_t mem[3 * 4096];
    static struct virtq_slot slots[8];
    struct virtq q;
    struct virtq_cfg ok = {
        .size = 8,
        .desc = (struct virtq_desc *)(void *)mem,
        .avail = (struct virtq_avail *)(void *)(mem + 4096),
        .used = (struct virtq_used *)(void *)(mem + 8192),
        .slots = slots,
    };
    struct rig ctx = {0};
    cr_assert_eq(virtq_init(&q, &ok, &ops, &ctx), VIRTQ_OK);
    struct virtq_cfg c;
    uint32_t bad_sizes[] = {0, 3, 12, 65536, 1u << 20};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        c = ok;
        c.size = bad_sizes[i];
        cr_assert_eq(virtq_init(&q, &c, &ops, &ctx), VIRTQ_EINVAL, "size %u", bad_sizes[i]);
    }
    c = ok;
    c.desc = (struct virtq_desc *)(void *)(mem + 8); /* needs 16 */
    cr_assert_eq(virtq_init(&q, &c, &ops, &ctx), VIRTQ_EINVAL);
    c = ok;
    c.avail = (struct virtq_avail *)(void *)(mem + 4097); /* needs 2 */
    cr_assert_eq(virtq_init(&q, &c, &ops, &ctx), VIRTQ_EINVAL);
    c = ok;
    c.used = (struct virtq_used *)(void *)(mem + 8194); /* needs 4 */
    cr_assert_eq(virtq_init(&q, &c, &ops, &ctx), VIRTQ_EINVAL);
    c = ok;
    c.slots = NULL;
    cr_assert_eq(virtq_init(&q, &c, &ops, &ctx), VIRTQ_EINVAL);
    struct virtq_ops no_phys = {0};
    cr_assert_eq(virtq_init(&q, &ok, &no_phys, &ctx), VIRTQ_EINVAL);
    cr_assert_eq(virtq_init(&q, &ok, NULL, &ctx), VIRTQ_EINVAL);
}

Test(virtq, init_clears_what_each_side_reads_first_and_frees_every_descriptor_up_to_32768)
{
    struct virtq_layout l;
    cr_assert_eq(virtq_legacy_layout(VIRTQ_SIZE_MAX, 4096, &l), VIRTQ_OK);
    uint8_t *mem = aligned_alloc(4096, (l.total + 4095) & ~(size_t)4095);
    struct virtq_slot *slots = malloc(VIRTQ_SIZE_MAX * sizeof(*slots));
    cr_assert(mem && slots);
    memset(mem, 0xee, l.total);
    struct virtq_cfg cfg = {
        .size = VIRTQ_SIZE_MAX,
        .desc = (struct virtq_desc *)(void *)(mem + l.desc),
        .avail = (struct virtq_avail *)(void *)(mem + l.avail),
        .used = (struct virtq_used *)(void *)(mem + l.used),
        .slots = slots,
        .event_idx = true,
    };
    struct virtq q;
    struct rig ctx = {0};
    cr_assert_eq(virtq_init(&q, &cfg, &ops, &ctx), VIRTQ_OK);
    cr_assert_eq(virtq_num_free(&q), VIRTQ_SIZE_MAX);
    cr_assert_eq(virtq_inflight(&q), 0);
    check_free_list(&q);
    /* What the device reads before we write it (avail flags, idx and used_event) and what
     * we read before the device writes it (used flags, idx and avail_event) are zero; the
     * memory left as it was (0xee) is read by nobody until written. */
    cr_assert_eq(cfg.avail->flags, 0);
    cr_assert_eq(cfg.avail->idx, 0);
    cr_assert_eq(*virtq_used_event(cfg.avail, VIRTQ_SIZE_MAX), 0);
    cr_assert_eq(cfg.used->flags, 0);
    cr_assert_eq(cfg.used->idx, 0);
    cr_assert_eq(*virtq_avail_event(cfg.used, VIRTQ_SIZE_MAX), 0);
    cr_assert_eq(mem[l.desc], 0xee, "the descriptor table is not cleared: it need not be");
    /* Every descriptor is usable, the last one too, and is written whole when added. */
    static uint8_t buf[VIRTQ_SIZE_MAX];
    struct virtq_buf b = {buf, 1};
    for (uint32_t i = 0; i < VIRTQ_SIZE_MAX; i++)
        cr_assert_eq(virtq_add(&q, &b, 1, 0, COOKIE(i)), VIRTQ_OK);
    cr_assert_eq(virtq_add(&q, &b, 1, 0, COOKIE(0)), VIRTQ_ENOBUFS);
    for (uint32_t i = 0; i < VIRTQ_SIZE_MAX; i++) {
        const struct virtq_desc *d = &cfg.desc[i];
        cr_assert(d->len == 1 && d->flags == 0 && d->next == 0, "descriptor %u", i);
        cr_assert_eq(cfg.avail->ring[i], i);
    }
    check_free_list(&q);
    free(slots);
    free(mem);
}

/* ---- Adding and completing -------------------------------------------------------------- */

Test(virtq, add_then_complete_in_order_returns_each_cookie)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t buf[3][64];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(add_rx(&r, buf[i], sizeof(buf[i]), COOKIE(i)), VIRTQ_OK);
    cr_assert_eq(virtq_num_free(&r.q), 5);
    cr_assert_eq(virtq_inflight(&r.q), 3);
    expect_nothing_to_pop(&r); /* not published before the kick */
    cr_assert(virtq_kick_prepare(&r.q));
    uint16_t head[3];
    for (int i = 0; i < 3; i++) {
        struct vdev_chain c = pop(&r);
        cr_assert_eq(c.n, 1);
        cr_assert_eq(c.desc[0].addr, (uint64_t)(uintptr_t)buf[i], "ring order is add order");
        cr_assert_eq(c.desc[0].len, 64);
        cr_assert_eq(c.desc[0].flags, VIRTQ_DESC_F_WRITE);
        head[i] = c.head;
    }
    expect_nothing_to_pop(&r);
    expect_no_used(&r);
    for (int i = 0; i < 3; i++)
        complete(&r, head[i], 0);
    cr_assert_eq(virtq_pending(&r.q), 3);
    for (int i = 0; i < 3; i++)
        expect_used(&r, COOKIE(i), 0);
    expect_no_used(&r);
    cr_assert_eq(virtq_num_free(&r.q), 8);
    cr_assert_eq(virtq_inflight(&r.q), 0);
    cr_assert_eq(r.q.stats.added, 3);
    cr_assert_eq(r.q.stats.completed, 3);
    rig_close(&r);
}

Test(virtq, written_length_is_reported_with_the_data_the_device_wrote)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t a[128], b[128];
    cr_assert_eq(add_rx(&r, a, sizeof(a), COOKIE(1)), VIRTQ_OK);
    cr_assert_eq(add_rx(&r, b, sizeof(b), COOKIE(2)), VIRTQ_OK);
    virtq_kick_prepare(&r.q);
    struct vdev_chain ca = pop(&r), cb = pop(&r);
    cr_assert_eq(vdev_write(&r.dev, &ca, "hello, world", 12), 12);
    complete(&r, ca.head, 12);
    cr_assert_eq(vdev_write(&r.dev, &cb, "x", 1), 1);
    complete(&r, cb.head, 1);
    expect_used(&r, COOKIE(1), 12);
    cr_assert_eq(memcmp(a, "hello, world", 12), 0);
    expect_used(&r, COOKIE(2), 1);
    cr_assert_eq(b[0], 'x');
    rig_close(&r);
}

Test(virtq, out_of_order_completion_returns_the_right_cookies_and_recycles_descriptors)
{
    struct rig r;
    rig_open(&r, 4, false);
    static uint8_t buf[4][16];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(add_rx(&r, buf[i], 16, COOKIE(i)), VIRTQ_OK);
    virtq_kick_prepare(&r.q);
    uint16_t head[4];
    for (int i = 0; i < 4; i++)
        head[i] = pop(&r).head;
    /* The device finishes C, A, D, B before the driver looks. */
    int order[4] = {2, 0, 3, 1};
    for (int k = 0; k < 4; k++)
        complete(&r, head[order[k]], (uint32_t)(order[k] + 1));
    for (int k = 0; k < 4; k++) {
        expect_used(&r, COOKIE(order[k]), (uint32_t)(order[k] + 1));
        cr_assert_eq(virtq_num_free(&r.q), (uint32_t)k + 1);
        check_free_list(&r.q);
    }
    /* The freed descriptors come back in a different order: a 3-descriptor chain while
     * one single is still out, then a chain reusing what the single frees. */
    static uint8_t x[3][8];
    cr_assert_eq(add_tx(&r, buf[0], 16, COOKIE(10)), VIRTQ_OK);
    struct virtq_buf three[3] = {{x[0], 8}, {x[1], 8}, {x[2], 8}};
    cr_assert_eq(virtq_add(&r.q, three, 1, 2, COOKIE(11)), VIRTQ_OK);
    cr_assert_eq(virtq_num_free(&r.q), 0);
    virtq_kick_prepare(&r.q);
    struct vdev_chain single = pop(&r), chain = pop(&r); /* vdev checks they do not overlap */
    cr_assert_eq(chain.n, 3);
    complete(&r, chain.head, 16);
    expect_used(&r, COOKIE(11), 16);
    struct virtq_buf two[2] = {{x[0], 8}, {x[1], 8}};
    cr_assert_eq(virtq_add(&r.q, two, 2, 0, COOKIE(12)), VIRTQ_OK);
    virtq_kick_prepare(&r.q);
    struct vdev_chain again = pop(&r);
    cr_assert_eq(again.n, 2);
    for (int k = 0; k < 2; k++)
        cr_assert_neq(again.id[k], single.head, "a descriptor still in flight was reused");
    complete(&r, single.head, 0);
    complete(&r, again.head, 0);
    expect_used(&r, COOKIE(10), 0);
    expect_used(&r, COOKIE(12), 0);
    cr_assert_eq(virtq_num_free(&r.q), 4);
    rig_close(&r);
}

Test(virtq, full_ring_refuses_with_enobufs_and_recovers_after_completion)
{
    struct rig r;
    rig_open(&r, 4, false);
    static uint8_t buf[8][16];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(add_tx(&r, buf[i], 16, COOKIE(i)), VIRTQ_OK);
    /* One descriptor left: a 2-buffer chain does not fit now but may later. */
    struct virtq_buf two[2] = {{buf[3], 16}, {buf[4], 16}};
    cr_assert_eq(virtq_add(&r.q, two, 1, 1, COOKIE(9)), VIRTQ_ENOBUFS);
    cr_assert_eq(add_tx(&r, buf[3], 16, COOKIE(3)), VIRTQ_OK);
    cr_assert_eq(add_tx(&r, buf[4], 16, COOKIE(4)), VIRTQ_ENOBUFS);
    cr_assert_eq(r.q.stats.full, 2);
    cr_assert_eq(virtq_num_free(&r.q), 0);
    cr_assert_eq(virtq_inflight(&r.q), 4);
    /* The refused adds queued nothing. */
    virtq_kick_prepare(&r.q);
    cr_assert_eq(vdev_avail_pending(&r.dev), 4);
    uint16_t head[4];
    for (int i = 0; i < 4; i++)
        head[i] = pop(&r).head;
    complete(&r, head[1], 0);
    expect_used(&r, COOKIE(1), 0);
    cr_assert_eq(add_tx(&r, buf[4], 16, COOKIE(4)), VIRTQ_OK);
    cr_assert_eq(add_tx(&r, buf[5], 16, COOKIE(5)), VIRTQ_ENOBUFS);
    complete(&r, head[0], 0);
    complete(&r, head[3], 0);
    expect_used(&r, COOKIE(0), 0);
    expect_used(&r, COOKIE(3), 0);
    cr_assert_eq(virtq_add(&r.q, two, 1, 1, COOKIE(9)), VIRTQ_OK);
    virtq_kick_prepare(&r.q);
    struct vdev_chain c4 = pop(&r), c9 = pop(&r);
    cr_assert_eq(c4.desc[0].addr, (uint64_t)(uintptr_t)buf[4]);
    cr_assert_eq(c9.n, 2);
    complete(&r, head[2], 0);
    complete(&r, c9.head, 3);
    complete(&r, c4.head, 0);
    expect_used(&r, COOKIE(2), 0);
    expect_used(&r, COOKIE(9), 3);
    expect_used(&r, COOKIE(4), 0);
    cr_assert_eq(virtq_num_free(&r.q), 4);
    rig_close(&r);
}

Test(virtq, add_refuses_nonsense_without_queueing_anything)
{
    struct rig r;
    rig_open(&r, 4, false);
    static uint8_t buf[16];
    struct virtq_buf b[5] = {{buf, 1}, {buf, 1}, {buf, 1}, {buf, 1}, {buf, 1}};
    cr_assert_eq(virtq_add(&r.q, b, 1, 0, NULL), VIRTQ_EINVAL);      /* NULL is "nothing" */
    cr_assert_eq(virtq_add(&r.q, b, 0, 0, COOKIE(1)), VIRTQ_EINVAL); /* empty chain */
    cr_assert_eq(virtq_add(&r.q, NULL, 1, 0, COOKIE(1)), VIRTQ_EINVAL);
    /* Longer than the whole queue: EINVAL, not ENOBUFS, or the caller would wait forever. */
    cr_assert_eq(virtq_add(&r.q, b, 3, 2, COOKIE(1)), VIRTQ_EINVAL);
    cr_assert_eq(virtq_add(&r.q, b, SIZE_MAX, 2, COOKIE(1)), VIRTQ_EINVAL);
    /* 2.7.5: at most 2^32 bytes in a chain; exactly 2^32 is allowed. */
    struct virtq_buf big[2] = {{buf, 0xffffffffu}, {buf, 2}};
    cr_assert_eq(virtq_add(&r.q, big, 1, 1, COOKIE(1)), VIRTQ_EINVAL);
    big[1].len = 1;
    cr_assert_eq(virtq_add(&r.q, big, 1, 1, COOKIE(1)), VIRTQ_OK);
    cr_assert_eq(virtq_inflight(&r.q), 1);
    cr_assert_eq(virtq_num_free(&r.q), 2);
    cr_assert_eq(r.q.stats.full, 0);
    virtq_kick_prepare(&r.q);
    cr_assert_eq(vdev_avail_pending(&r.dev), 1);
    struct vdev_chain c = pop(&r);
    complete(&r, c.head, 1);
    expect_used(&r, COOKIE(1), 1);
    rig_close(&r);
}

Test(virtq, chain_of_readable_and_writable_buffers_reaches_the_device_with_flags_and_links)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t hdr[10] = "header-10", payload[100], status[1], data[50];
    memset(payload, 0x5a, sizeof(payload));
    struct virtq_buf bufs[4] = {{hdr, 10}, {payload, 100}, {status, 1}, {data, 50}};
    cr_assert_eq(virtq_add(&r.q, bufs, 2, 2, COOKIE(7)), VIRTQ_OK);
    cr_assert_eq(r.phys_calls, 4, "every descriptor address goes through phys");
    cr_assert_eq(virtq_num_free(&r.q), 4);
    virtq_kick_prepare(&r.q);
    struct vdev_chain c = pop(&r);
    cr_assert_eq(c.n, 4);
    cr_assert_eq(c.n_out, 2);
    cr_assert_eq(c.n_in, 2);
    cr_assert_eq(c.id[0], c.head);
    uint16_t flags[4] = {VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_NEXT,
                         VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(c.desc[k].addr, (uint64_t)(uintptr_t)bufs[k].ptr, "desc %d addr", k);
        cr_assert_eq(c.desc[k].len, bufs[k].len, "desc %d len", k);
        cr_assert_eq(c.desc[k].flags, flags[k], "desc %d flags %#x", k, c.desc[k].flags);
        if (k < 3)
            cr_assert_eq(c.desc[k].next, c.id[k + 1], "desc %d next", k);
    }
    uint8_t got[110];
    cr_assert_eq(vdev_read(&r.dev, &c, got, sizeof(got)), 110);
    cr_assert_eq(memcmp(got, hdr, 10), 0);
    cr_assert_eq(memcmp(got + 10, payload, 100), 0);
    /* The device writes the status byte and 20 bytes of data: 21 in all. */
    uint8_t out[21];
    memset(out, 0x77, sizeof(out));
    out[0] = 0;
    cr_assert_eq(vdev_write(&r.dev, &c, out, sizeof(out)), 21);
    complete(&r, c.head, 21);
    expect_used(&r, COOKIE(7), 21);
    cr_assert_eq(status[0], 0);
    cr_assert_eq(data[0], 0x77);
    cr_assert_eq(data[19], 0x77);
    cr_assert_eq(data[20], 0);
    cr_assert_eq(virtq_num_free(&r.q), 8);
    rig_close(&r);
}

Test(virtq, descriptor_and_ring_addresses_are_the_physical_ones_from_phys)
{
    /* phys maps to a different space than the pointers; the device only understands that
     * space, so every address it follows must have come from phys. */
    struct rig r;
    rig_open_at(&r, 8, true, 0x4000000000000000ull);
    static uint8_t tx[32] = "through phys", rx[32];
    cr_assert_eq(add_tx(&r, tx, sizeof(tx), COOKIE(1)), VIRTQ_OK);
    cr_assert_eq(add_rx(&r, rx, sizeof(rx), COOKIE(2)), VIRTQ_OK);
    virtq_kick_prepare(&r.q);
    struct vdev_chain a = pop(&r), b = pop(&r);
    cr_assert_eq(a.desc[0].addr, (uint64_t)(uintptr_t)tx + 0x4000000000000000ull);
    uint8_t got[32];
    cr_assert_eq(vdev_read(&r.dev, &a, got, sizeof(got)), 32);
    cr_assert_str_eq((char *)got, "through phys");
    cr_assert_eq(vdev_write(&r.dev, &b, "back", 5), 5);
    complete(&r, a.head, 0);
    complete(&r, b.head, 5);
    expect_used(&r, COOKIE(1), 0);
    expect_used(&r, COOKIE(2), 5);
    cr_assert_str_eq((char *)rx, "back");
    rig_close(&r);
}

Test(virtq, pending_counts_completions_not_yet_taken)
{
    struct rig r;
    rig_open(&r, 8, true);
    static uint8_t buf[3][8];
    for (int i = 0; i < 3; i++)
        add_rx(&r, buf[i], 8, COOKIE(i));
    virtq_kick_prepare(&r.q);
    uint16_t h0 = pop(&r).head, h1 = pop(&r).head;
    pop(&r);
    cr_assert_eq(virtq_pending(&r.q), 0);
    complete(&r, h1, 1);
    complete(&r, h0, 2);
    cr_assert_eq(virtq_pending(&r.q), 2);
    expect_used(&r, COOKIE(1), 1);
    cr_assert_eq(virtq_pending(&r.q), 1);
    cr_assert_eq(virtq_inflight(&r.q), 2);
    expect_used(&r, COOKIE(0), 2);
    cr_assert_eq(virtq_pending(&r.q), 0);
    cr_assert_eq(virtq_inflight(&r.q), 1);
    cr_assert_eq(virtq_num_free(&r.q), 7);
    rig_close(&r);
}

/* Random chains, completed in random order, on a small queue: the cookies, lengths and
 * the free list stay exact at every step. Seeded, so a failure replays. */
Test(virtq, random_out_of_order_chains_keep_cookies_lengths_and_free_list_exact)
{
    struct rig r;
    rig_open(&r, 16, true);
    struct token {
        uint8_t buf[4][8];
        bool in_flight;
        uint32_t wlen;
        uint32_t expect;
    } tok[16];
    memset(tok, 0, sizeof(tok));
    struct vdev_chain held[16];
    size_t nheld = 0;
    uint64_t seed = 0x5eed;
    uint64_t done = 0;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t rnd = (uint32_t)(seed >> 33);
        switch (rnd % 5) {
        case 0:
        case 1: { /* add a chain of 1..4 buffers */
            size_t t = 0;
            while (t < 16 && tok[t].in_flight)
                t++;
            if (t == 16)
                break;
            size_t n = 1 + (rnd >> 4) % 4, n_out = (rnd >> 8) % (n + 1);
            struct virtq_buf b[4];
            tok[t].wlen = 0;
            for (size_t k = 0; k < n; k++) {
                b[k] = (struct virtq_buf){tok[t].buf[k], 8};
                if (k >= n_out)
                    tok[t].wlen += 8;
            }
            int rc = virtq_add(&r.q, b, n_out, n - n_out, &tok[t]);
            if (rc == VIRTQ_ENOBUFS && n > virtq_num_free(&r.q))
                break;
            cr_assert_eq(rc, VIRTQ_OK, "step %d", step);
            tok[t].in_flight = true;
            break;
        }
        case 2: virtq_kick_prepare(&r.q); break;
        case 3: { /* the device pops everything published, completes one at random */
            struct vdev_chain c;
            while (vdev_pop(&r.dev, &c) == 1)
                held[nheld++] = c;
            if (nheld == 0)
                break;
            size_t k = (rnd >> 4) % nheld;
            struct token *t = NULL;
            for (size_t i = 0; i < 16; i++)
                if (held[k].desc[0].addr == (uint64_t)(uintptr_t)tok[i].buf[0])
                    t = &tok[i];
            cr_assert_not_null(t);
            t->expect = t->wlen ? (rnd >> 10) % (t->wlen + 1) : 0;
            complete(&r, held[k].head, t->expect);
            held[k] = held[--nheld];
            break;
        }
        case 4: { /* the driver takes what is done */
            uint32_t len;
            struct token *t;
            while ((t = virtq_get_used(&r.q, &len))) {
                cr_assert(t->in_flight, "cookie returned twice");
                cr_assert_eq(len, t->expect);
                t->in_flight = false;
                done++;
            }
            break;
        }
        }
        check_free_list(&r.q);
    }
    cr_assert_gt(done, 2000);
    cr_assert_eq(r.q.stats.completed, done);
    rig_close(&r);
}

/* ---- The 16-bit indices wrap ------------------------------------------------------------- */

static void run_past_the_wrap(bool event_idx)
{
    struct rig r;
    rig_open(&r, 4, event_idx);
    static uint8_t a[8], b[2][8];
    const uint32_t cycles = 70000; /* two chains each: the indices wrap twice */
    for (uint32_t i = 0; i < cycles; i++) {
        cr_assert_eq(add_rx(&r, a, 8, COOKIE(1)), VIRTQ_OK);
        struct virtq_buf two[2] = {{b[0], 8}, {b[1], 8}};
        cr_assert_eq(virtq_add(&r.q, two, 1, 1, COOKIE(2)), VIRTQ_OK);
        cr_assert(virtq_kick_prepare(&r.q), "cycle %u: no notify", i);
        struct vdev_chain ca = pop(&r), cb = pop(&r);
        expect_nothing_to_pop(&r);
        /* The device caught up: notify me at the next chain (what real devices do). */
        vdev_set_avail_event(&r.dev, r.dev.last_avail);
        cr_assert_eq(ca.desc[0].addr, (uint64_t)(uintptr_t)a);
        cr_assert_eq(cb.n, 2);
        bool irq_b = complete(&r, cb.head, 5);
        bool irq_a = complete(&r, ca.head, 3);
        cr_assert(irq_b, "cycle %u: no interrupt for the first completion", i);
        /* With EVENT_IDX the second completion crosses nothing: the driver has not
         * consumed the first. Without it, every completion interrupts. */
        cr_assert_eq(irq_a, !event_idx, "cycle %u", i);
        expect_used(&r, COOKIE(2), 5);
        expect_used(&r, COOKIE(1), 3);
        expect_no_used(&r);
    }
    uint16_t idx = (uint16_t)(2 * cycles);
    cr_assert_eq(r.q.avail->idx, idx);
    cr_assert_eq(r.q.used->idx, idx);
    cr_assert_eq(r.q.last_used, idx);
    cr_assert_eq(r.q.stats.added, 2 * cycles);
    cr_assert_eq(r.q.stats.completed, 2 * cycles);
    cr_assert_eq(r.q.stats.notify, cycles);
    cr_assert_eq(r.dev.interrupts, event_idx ? cycles : 2 * cycles);
    cr_assert_eq(virtq_num_free(&r.q), 4);
    rig_close(&r);
}

Test(virtq, index_wrap_past_65536_with_event_idx_stays_correct)
{
    run_past_the_wrap(true);
}

Test(virtq, index_wrap_past_65536_without_event_idx_stays_correct)
{
    run_past_the_wrap(false);
}

/* ---- Notification suppression: driver to device ------------------------------------------ */

Test(virtq, event_idx_only_the_kick_crossing_avail_event_notifies)
{
    struct rig r;
    rig_open(&r, 16, true);
    static uint8_t buf[8];
    vdev_set_avail_event(&r.dev, 4);  /* notify me once entry 4 is available */
    vdev_set_no_notify(&r.dev, true); /* ignored with EVENT_IDX (2.7.10) */
    bool expect[7] = {false, false, false, false, true, false, false};
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(add_tx(&r, buf, 8, COOKIE(i)), VIRTQ_OK);
        cr_assert_eq(virtq_kick_prepare(&r.q), expect[i], "kick publishing idx %d", i + 1);
    }
    cr_assert_eq(r.q.stats.notify, 1);
    cr_assert_eq(r.q.stats.suppressed, 6);
    cr_assert_eq(vdev_avail_pending(&r.dev), 7, "suppressed kicks still publish");
    for (int i = 0; i < 7; i++)
        complete(&r, pop(&r).head, 0);
    while (virtq_get_used(&r.q, NULL))
        ;
    rig_close(&r);
}

Test(virtq, event_idx_batch_of_adds_then_one_kick_notifies_once)
{
    struct rig r;
    rig_open(&r, 16, true);
    static uint8_t buf[8];
    vdev_set_avail_event(&r.dev, 0); /* idle at 0: notify at the first chain */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(add_tx(&r, buf, 8, COOKIE(i)), VIRTQ_OK);
    cr_assert_eq(vdev_avail_pending(&r.dev), 0, "adds publish nothing by themselves");
    cr_assert(virtq_kick_prepare(&r.q));
    cr_assert_eq(vdev_avail_pending(&r.dev), 5);
    cr_assert_not(virtq_kick_prepare(&r.q), "nothing new: no notify");
    /* The device has not caught up (avail_event still 0): more chains need no notify. */
    cr_assert_eq(add_tx(&r, buf, 8, COOKIE(5)), VIRTQ_OK);
    cr_assert_not(virtq_kick_prepare(&r.q));
    uint16_t head[6];
    for (int i = 0; i < 6; i++)
        head[i] = pop(&r).head;
    vdev_set_avail_event(&r.dev, r.dev.last_avail); /* caught up at 6 */
    cr_assert_eq(add_tx(&r, buf, 8, COOKIE(6)), VIRTQ_OK);
    cr_assert_eq(add_tx(&r, buf, 8, COOKIE(7)), VIRTQ_OK);
    cr_assert(virtq_kick_prepare(&r.q));
    cr_assert_eq(r.q.stats.notify, 2);
    cr_assert_eq(r.q.stats.suppressed, 1);
    for (int i = 0; i < 6; i++)
        complete(&r, head[i], 0);
    complete(&r, pop(&r).head, 0);
    complete(&r, pop(&r).head, 0);
    for (int i = 0; i < 8; i++)
        expect_used(&r, COOKIE(i), 0);
    rig_close(&r);
}

Test(virtq, legacy_no_notify_flag_suppresses_kicks)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t buf[8];
    vdev_set_avail_event(&r.dev, 100); /* ignored without EVENT_IDX */
    cr_assert_not(virtq_kick_prepare(&r.q), "nothing added: no notify");
    add_tx(&r, buf, 8, COOKIE(0));
    cr_assert(virtq_kick_prepare(&r.q));
    vdev_set_no_notify(&r.dev, true);
    add_tx(&r, buf, 8, COOKIE(1));
    add_tx(&r, buf, 8, COOKIE(2));
    cr_assert_not(virtq_kick_prepare(&r.q));
    cr_assert_eq(vdev_avail_pending(&r.dev), 3, "published all the same");
    vdev_set_no_notify(&r.dev, false);
    add_tx(&r, buf, 8, COOKIE(3));
    cr_assert(virtq_kick_prepare(&r.q));
    cr_assert_eq(r.q.stats.notify, 2);
    cr_assert_eq(r.q.stats.suppressed, 1);
    for (int i = 0; i < 4; i++)
        complete(&r, pop(&r).head, 0);
    for (int i = 0; i < 4; i++)
        expect_used(&r, COOKIE(i), 0);
    rig_close(&r);
}

/* The lost kick QEMU 7.2's TX queue showed under load: the device pops and finishes
 * chain 1, writes avail_event = 1 and re-reads idx before our store of idx 2 reaches it,
 * while we read its avail_event from before (0). Neither side moves by the book: it is
 * idle, and no later idx crosses its avail_event of 1. */
static void race_a_kick_past_the_device(struct rig *r)
{
    static uint8_t buf[8];
    vdev_set_avail_event(&r->dev, 0);
    cr_assert_eq(add_tx(r, buf, 8, COOKIE(0)), VIRTQ_OK);
    cr_assert(virtq_kick_prepare(&r->q), "idx 1 crosses avail_event 0");
    complete(r, pop(r).head, 0);
    cr_assert_eq(add_tx(r, buf, 8, COOKIE(1)), VIRTQ_OK);
    cr_assert_not(virtq_kick_prepare(&r->q), "the stale avail_event says no: the race");
    vdev_set_avail_event(&r->dev, 1); /* the device's store lands after our read */
    cr_assert_eq(r->q.stats.stall_kicks, 0);
}

Test(virtq, event_idx_a_device_idle_behind_its_avail_event_is_notified_at_the_next_kick)
{
    struct rig r;
    rig_open(&r, 16, true);
    static uint8_t buf[8];
    race_a_kick_past_the_device(&r);
    cr_assert_eq(add_tx(&r, buf, 8, COOKIE(2)), VIRTQ_OK);
    /* By the book (2.7.10) idx 3 does not cross avail_event 1; but used idx is at 1 too. */
    cr_assert_not(virtq_need_event(1, 3, 2));
    cr_assert(virtq_kick_prepare(&r.q), "the idle device must hear of chains 2 and 3");
    cr_assert_eq(r.q.stats.stall_kicks, 1);
    complete(&r, pop(&r).head, 0);
    complete(&r, pop(&r).head, 0);
    for (int i = 0; i < 3; i++)
        expect_used(&r, COOKIE(i), 0);
    rig_close(&r);
}

Test(virtq, event_idx_device_stalled_sees_chains_waiting_behind_an_idle_device)
{
    struct rig r;
    rig_open(&r, 16, true);
    race_a_kick_past_the_device(&r);
    /* Nothing more to send (a full TX ring, or a quiet server): only this finds it. */
    cr_assert(virtq_device_stalled(&r.q));
    cr_assert_eq(r.q.stats.stall_kicks, 1);
    cr_assert_not(virtq_device_stalled(&r.q), "told once at this avail_event is enough");
    complete(&r, pop(&r).head, 0); /* the notified device catches up */
    vdev_set_avail_event(&r.dev, 2);
    cr_assert_not(virtq_device_stalled(&r.q), "all published chains completed");
    expect_used(&r, COOKIE(0), 0);
    expect_used(&r, COOKIE(1), 0);
    cr_assert_not(virtq_device_stalled(&r.q), "nothing outstanding");
    rig_close(&r);
}

Test(virtq, event_idx_a_busy_device_is_not_stalled)
{
    struct rig r;
    rig_open(&r, 16, true);
    static uint8_t buf[8];
    vdev_set_avail_event(&r.dev, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(add_tx(&r, buf, 8, COOKIE(i)), VIRTQ_OK);
    cr_assert(virtq_kick_prepare(&r.q));
    uint16_t h0 = pop(&r).head;
    vdev_set_avail_event(&r.dev, 1); /* popped chain 0, still sending it: used idx 0 */
    cr_assert_not(virtq_device_stalled(&r.q), "used idx behind avail_event: still working");
    cr_assert_eq(add_tx(&r, buf, 8, COOKIE(3)), VIRTQ_OK);
    cr_assert_not(virtq_kick_prepare(&r.q), "no notification for a device at work");
    cr_assert_eq(r.q.stats.stall_kicks, 0);
    complete(&r, h0, 0);
    for (int i = 1; i < 4; i++)
        complete(&r, pop(&r).head, 0);
    vdev_set_avail_event(&r.dev, 4);
    for (int i = 0; i < 4; i++)
        expect_used(&r, COOKIE(i), 0);
    cr_assert_not(virtq_device_stalled(&r.q));
    rig_close(&r);
}

Test(virtq, without_event_idx_device_stalled_never_guesses)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t buf[8];
    add_tx(&r, buf, 8, COOKIE(0));
    cr_assert(virtq_kick_prepare(&r.q));
    cr_assert_not(virtq_device_stalled(&r.q), "no avail_event to reason from");
    complete(&r, pop(&r).head, 0);
    expect_used(&r, COOKIE(0), 0);
    rig_close(&r);
}

/* ---- Notification suppression: device to driver ------------------------------------------ */

Test(virtq, event_idx_device_interrupts_only_when_crossing_used_event)
{
    struct rig r;
    rig_open(&r, 8, true);
    static uint8_t buf[8];
    for (int i = 0; i < 8; i++)
        add_rx(&r, buf, 8, COOKIE(i));
    virtq_kick_prepare(&r.q);
    uint16_t h[8];
    for (int i = 0; i < 8; i++)
        h[i] = pop(&r).head;
    cr_assert_eq(vdev_used_event(&r.dev), 0, "enabled at init: interrupt at entry 0");
    cr_assert(complete(&r, h[0], 0), "first completion crosses used_event");
    cr_assert_not(complete(&r, h[1], 0), "the driver has not caught up: no second one");
    expect_used(&r, COOKIE(0), 0);
    expect_used(&r, COOKIE(1), 0);
    cr_assert_eq(vdev_used_event(&r.dev), 2);
    cr_assert(complete(&r, h[2], 0));
    expect_used(&r, COOKIE(2), 0);
    /* A batch published at once crossing used_event: one interrupt for three entries. */
    for (int i = 3; i < 6; i++)
        cr_assert_eq(vdev_push(&r.dev, h[i], 0), 0);
    cr_assert(vdev_publish(&r.dev));
    cr_assert_eq(r.dev.interrupts, 3);
    for (int i = 3; i < 6; i++)
        expect_used(&r, COOKIE(i), 0);
    /* Disabled: used_event trails last_used and nothing crosses it. */
    virtq_disable_interrupts(&r.q);
    cr_assert_eq(vdev_used_event(&r.dev), (uint16_t)(r.q.last_used - 1));
    cr_assert_not(vdev_no_interrupt(&r.dev), "EVENT_IDX does not use the flag");
    cr_assert_not(complete(&r, h[6], 0));
    expect_used(&r, COOKIE(6), 0);
    cr_assert_not(complete(&r, h[7], 0));
    expect_used(&r, COOKIE(7), 0);
    cr_assert_eq(r.dev.interrupts, 3);
    rig_close(&r);
}

Test(virtq, event_idx_polling_with_interrupts_on_keeps_asking_for_the_next_one)
{
    /* An interrupt-driven driver takes each completion as it comes: every completion
     * after the driver caught up must interrupt again. */
    struct rig r;
    rig_open(&r, 4, true);
    static uint8_t buf[8];
    for (int i = 0; i < 10; i++) {
        add_rx(&r, buf, 8, COOKIE(i));
        virtq_kick_prepare(&r.q);
        cr_assert(complete(&r, pop(&r).head, 1), "completion %d did not interrupt", i);
        expect_used(&r, COOKIE(i), 1);
        cr_assert_eq(vdev_used_event(&r.dev), r.q.last_used);
    }
    cr_assert_eq(r.dev.interrupts, 10);
    rig_close(&r);
}

Test(virtq, event_idx_disabled_interrupts_stay_off_while_polling_past_the_wrap)
{
    /* A NAPI-style poller with interrupts off for more than 2^16 completions: a fixed
     * used_event would be crossed once the used idx comes round to it. */
    struct rig r;
    rig_open(&r, 2, true);
    static uint8_t buf[8];
    virtq_disable_interrupts(&r.q);
    for (uint32_t i = 0; i < 70000; i++) {
        add_rx(&r, buf, 8, COOKIE(1));
        virtq_kick_prepare(&r.q);
        cr_assert_not(complete(&r, pop(&r).head, 0), "completion %u interrupted", i);
        expect_used(&r, COOKIE(1), 0);
    }
    cr_assert_eq(r.dev.interrupts, 0);
    cr_assert(virtq_enable_interrupts(&r.q));
    add_rx(&r, buf, 8, COOKIE(2));
    virtq_kick_prepare(&r.q);
    cr_assert(complete(&r, pop(&r).head, 0));
    expect_used(&r, COOKIE(2), 0);
    rig_close(&r);
}

Test(virtq, legacy_disable_sets_no_interrupt_and_enable_clears_it)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t buf[8];
    for (int i = 0; i < 3; i++)
        add_rx(&r, buf, 8, COOKIE(i));
    virtq_kick_prepare(&r.q);
    uint16_t h[3];
    for (int i = 0; i < 3; i++)
        h[i] = pop(&r).head;
    cr_assert_not(vdev_no_interrupt(&r.dev));
    cr_assert(complete(&r, h[0], 0));
    expect_used(&r, COOKIE(0), 0);
    virtq_disable_interrupts(&r.q);
    cr_assert(vdev_no_interrupt(&r.dev));
    cr_assert_not(complete(&r, h[1], 0));
    cr_assert(virtq_enable_interrupts(&r.q) == false, "a completion is pending");
    cr_assert_not(vdev_no_interrupt(&r.dev));
    expect_used(&r, COOKIE(1), 0);
    cr_assert(virtq_enable_interrupts(&r.q));
    cr_assert(complete(&r, h[2], 0));
    expect_used(&r, COOKIE(2), 0);
    cr_assert_eq(r.dev.interrupts, 2);
    rig_close(&r);
}

/* The NAPI race: the device completes after the poller's last get_used but before it
 * re-enables; it saw interrupts off, so it will not interrupt: enable must say so. */
static void enable_race(bool event_idx)
{
    struct rig r;
    rig_open(&r, 8, event_idx);
    static uint8_t buf[8];
    for (int i = 0; i < 3; i++)
        add_rx(&r, buf, 8, COOKIE(i));
    virtq_kick_prepare(&r.q);
    uint16_t h[3];
    for (int i = 0; i < 3; i++)
        h[i] = pop(&r).head;
    virtq_disable_interrupts(&r.q);
    expect_no_used(&r);
    cr_assert_not(complete(&r, h[0], 4), "interrupts are off");
    cr_assert_not(virtq_enable_interrupts(&r.q), "a completion raced in: poll again");
    expect_used(&r, COOKIE(0), 4);
    cr_assert(virtq_enable_interrupts(&r.q), "nothing pending: safe to sleep");
    cr_assert(complete(&r, h[1], 0), "enabled: the next completion interrupts");
    /* Enabled with the completion still pending: false again. */
    cr_assert_not(virtq_enable_interrupts(&r.q));
    expect_used(&r, COOKIE(1), 0);
    cr_assert(virtq_enable_interrupts(&r.q));
    cr_assert(complete(&r, h[2], 0));
    expect_used(&r, COOKIE(2), 0);
    cr_assert_eq(r.dev.interrupts, 2);
    rig_close(&r);
}

Test(virtq, enable_interrupts_returns_false_when_completions_raced_in_with_event_idx)
{
    enable_race(true);
}

Test(virtq, enable_interrupts_returns_false_when_completions_raced_in_without_event_idx)
{
    enable_race(false);
}

/* ---- Reset -------------------------------------------------------------------------------- */

Test(virtq, reset_after_device_reset_returns_every_descriptor_and_cookie)
{
    struct rig r;
    rig_open(&r, 8, true);
    static uint8_t buf[8];
    struct virtq_buf two[2] = {{buf, 8}, {buf, 8}};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(virtq_add(&r.q, two, 1, 1, COOKIE(i)), VIRTQ_OK);
    virtq_kick_prepare(&r.q);
    add_rx(&r, buf, 8, COOKIE(3)); /* added, never published */
    uint16_t h0 = pop(&r).head;
    pop(&r); /* held by the device at reset */
    complete(&r, h0, 0);
    expect_used(&r, COOKIE(0), 0);
    complete(&r, pop(&r).head, 0); /* completed, never taken */
    virtq_disable_interrupts(&r.q);
    cr_assert_eq(virtq_num_free(&r.q), 3);

    vdev_reset(&r.dev);
    bool got[4] = {false};
    void *c;
    while ((c = virtq_detach(&r.q))) {
        uintptr_t k = (uintptr_t)c - 0x1000;
        cr_assert(k >= 1 && k <= 3, "detached %p", c);
        cr_assert_not(got[k], "detached %p twice", c);
        got[k] = true;
        check_free_list(&r.q);
    }
    cr_assert(got[1] && got[2] && got[3]);
    virtq_reset(&r.q);
    cr_assert_eq(virtq_num_free(&r.q), 8);
    cr_assert_eq(virtq_inflight(&r.q), 0);
    cr_assert_eq(virtq_pending(&r.q), 0);
    cr_assert_eq(r.q.avail->idx, 0);
    cr_assert_eq(r.q.used->idx, 0);
    cr_assert_eq(*virtq_used_event(r.q.avail, 8), 0, "interrupts enabled again");
    cr_assert_eq(r.q.stats.resets, 1);
    cr_assert_eq(r.q.stats.added, 4, "stats survive a reset");
    check_free_list(&r.q);

    /* As good as new: the whole queue, from index 0, with an interrupt at the first. */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(add_rx(&r, buf, 8, COOKIE(10 + i)), VIRTQ_OK);
    cr_assert(virtq_kick_prepare(&r.q));
    cr_assert_eq(r.dev.used_idx, 0);
    for (int i = 0; i < 8; i++) {
        bool irq = complete(&r, pop(&r).head, (uint32_t)i);
        cr_assert_eq(irq, i == 0);
    }
    for (int i = 0; i < 8; i++)
        expect_used(&r, COOKIE(10 + i), (uint32_t)i);
    cr_assert_null(virtq_detach(&r.q));
    rig_close(&r);
}

/* ---- A misbehaving device ----------------------------------------------------------------- */

Test(virtq, used_id_out_of_range_is_dropped_and_counted)
{
    struct rig r;
    rig_open(&r, 4, true);
    static uint8_t buf[8];
    add_rx(&r, buf, 8, COOKIE(0));
    add_rx(&r, buf, 8, COOKIE(1));
    virtq_kick_prepare(&r.q);
    uint16_t h0 = pop(&r).head, h1 = pop(&r).head;
    vdev_push_raw(&r.dev, 4, 0); /* one past the table */
    cr_assert_eq(vdev_push(&r.dev, h0, 3), 0);
    vdev_publish(&r.dev);
    expect_used(&r, COOKIE(0), 3); /* the bad entry skipped */
    cr_assert_eq(r.q.stats.bad_id, 1);
    cr_assert_eq(virtq_inflight(&r.q), 1);
    check_free_list(&r.q);
    /* A bad entry alone: consumed, nothing returned. */
    vdev_push_raw(&r.dev, 0xffffffffu, 0);
    vdev_publish(&r.dev);
    expect_no_used(&r);
    cr_assert_eq(r.q.stats.bad_id, 2);
    cr_assert_eq(virtq_pending(&r.q), 0);
    cr_assert_not(virtq_is_broken(&r.q));
    complete(&r, h1, 0);
    expect_used(&r, COOKIE(1), 0);
    cr_assert_eq(virtq_num_free(&r.q), 4);
    rig_close(&r);
}

Test(virtq, duplicate_or_made_up_completion_is_dropped_and_counted)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t buf[8];
    add_rx(&r, buf, 8, COOKIE(0));
    add_rx(&r, buf, 8, COOKIE(1));
    struct virtq_buf two[2] = {{buf, 8}, {buf, 8}};
    virtq_add(&r.q, two, 0, 2, COOKIE(2));
    virtq_kick_prepare(&r.q);
    uint16_t h0 = pop(&r).head, h1 = pop(&r).head;
    struct vdev_chain c2 = pop(&r);
    complete(&r, h0, 1);
    expect_used(&r, COOKIE(0), 1);
    /* A, again: the driver must not free A's descriptors a second time. */
    vdev_push_raw(&r.dev, h0, 1);
    vdev_publish(&r.dev);
    expect_no_used(&r);
    cr_assert_eq(r.q.stats.stale_id, 1);
    check_free_list(&r.q);
    /* The second descriptor of a chain is not a head. */
    vdev_push_raw(&r.dev, c2.id[1], 8);
    vdev_publish(&r.dev);
    expect_no_used(&r);
    cr_assert_eq(r.q.stats.stale_id, 2);
    cr_assert_eq(virtq_inflight(&r.q), 2);
    check_free_list(&r.q);
    /* The real completions still work and free exactly their own descriptors. */
    complete(&r, c2.head, 16);
    complete(&r, h1, 2);
    expect_used(&r, COOKIE(2), 16);
    expect_used(&r, COOKIE(1), 2);
    cr_assert_eq(virtq_num_free(&r.q), 8);
    cr_assert_eq(r.q.stats.completed, 3);
    rig_close(&r);
}

Test(virtq, used_length_beyond_the_writable_buffers_is_clamped_and_counted)
{
    struct rig r;
    rig_open(&r, 8, false);
    static uint8_t hdr[10], rx[64], tx[32];
    struct virtq_buf bufs[2] = {{hdr, 10}, {rx, 64}};
    virtq_add(&r.q, bufs, 1, 1, COOKIE(0)); /* 64 writable bytes */
    add_tx(&r, tx, 32, COOKIE(1));          /* none */
    add_rx(&r, rx, 64, COOKIE(2));
    virtq_kick_prepare(&r.q);
    uint16_t h0 = pop(&r).head, h1 = pop(&r).head, h2 = pop(&r).head;
    complete(&r, h0, 100000);
    complete(&r, h1, 5);
    complete(&r, h2, 64); /* exactly the buffer: fine */
    expect_used(&r, COOKIE(0), 64);
    expect_used(&r, COOKIE(1), 0);
    expect_used(&r, COOKIE(2), 64);
    cr_assert_eq(r.q.stats.bad_len, 2);
    cr_assert_eq(virtq_num_free(&r.q), 8);
    rig_close(&r);
}

Test(virtq, used_idx_running_ahead_of_the_chains_in_flight_breaks_the_queue_until_reset)
{
    struct rig r;
    rig_open(&r, 4, true);
    static uint8_t buf[8];
    add_rx(&r, buf, 8, COOKIE(0));
    add_rx(&r, buf, 8, COOKIE(1));
    virtq_kick_prepare(&r.q);
    add_rx(&r, buf, 8, COOKIE(2)); /* not published: the device cannot owe it */
    uint16_t h0 = pop(&r).head;
    pop(&r);
    complete(&r, h0, 0);
    vdev_bump_used_idx(&r.dev, 2); /* 3 entries claimed, 2 chains published */
    expect_no_used(&r);
    cr_assert(virtq_is_broken(&r.q));
    cr_assert_eq(r.q.stats.bad_idx, 1);
    expect_no_used(&r);
    cr_assert_eq(virtq_pending(&r.q), 0);
    cr_assert_eq(r.q.stats.bad_idx, 1, "counted once");
    cr_assert(virtq_enable_interrupts(&r.q), "nothing will come: do not spin");
    cr_assert_eq(add_rx(&r, buf, 8, COOKIE(3)), VIRTQ_EBROKEN);
    cr_assert_not(virtq_kick_prepare(&r.q));
    cr_assert_eq(virtq_inflight(&r.q), 3);
    check_free_list(&r.q);

    vdev_reset(&r.dev);
    int n = 0;
    while (virtq_detach(&r.q))
        n++;
    cr_assert_eq(n, 3);
    virtq_reset(&r.q);
    cr_assert_not(virtq_is_broken(&r.q));
    cr_assert_eq(add_rx(&r, buf, 8, COOKIE(4)), VIRTQ_OK);
    cr_assert(virtq_kick_prepare(&r.q));
    complete(&r, pop(&r).head, 0);
    expect_used(&r, COOKIE(4), 0);
    rig_close(&r);
}

Test(virtq, used_idx_within_bounds_is_trusted_only_up_to_published_chains)
{
    /* Exactly as many entries as chains published is fine, even if some are bogus. */
    struct rig r;
    rig_open(&r, 4, false);
    static uint8_t buf[8];
    add_rx(&r, buf, 8, COOKIE(0));
    add_rx(&r, buf, 8, COOKIE(1));
    virtq_kick_prepare(&r.q);
    uint16_t h0 = pop(&r).head, h1 = pop(&r).head;
    vdev_push_raw(&r.dev, 77, 0);
    cr_assert_eq(vdev_push(&r.dev, h1, 0), 0);
    vdev_publish(&r.dev);
    cr_assert_eq(virtq_pending(&r.q), 2);
    expect_used(&r, COOKIE(1), 0);
    cr_assert_not(virtq_is_broken(&r.q));
    complete(&r, h0, 0);
    expect_used(&r, COOKIE(0), 0);
    cr_assert_eq(r.q.stats.bad_id, 1);
    rig_close(&r);
}

Test(virtq, device_scribbling_on_the_descriptor_table_cannot_corrupt_the_free_list)
{
    /* The free list and chain links are the driver's private copies: a device that
     * rewrites next/flags of chains it holds changes nothing the driver relies on. */
    struct rig r;
    rig_open(&r, 8, true);
    static uint8_t buf[8];
    struct virtq_buf three[3] = {{buf, 8}, {buf, 8}, {buf, 8}};
    virtq_add(&r.q, three, 1, 2, COOKIE(0));
    virtq_add(&r.q, three, 0, 3, COOKIE(1));
    virtq_kick_prepare(&r.q);
    struct vdev_chain a = pop(&r), b = pop(&r);
    for (int k = 0; k < 3; k++) {
        r.dev.desc[a.id[k]].next = (uint16_t)b.id[0];
        r.dev.desc[b.id[k]].next = 0xffff;
        r.dev.desc[b.id[k]].flags = VIRTQ_DESC_F_NEXT;
    }
    complete(&r, b.head, 24);
    expect_used(&r, COOKIE(1), 24);
    check_free_list(&r.q);
    complete(&r, a.head, 16);
    expect_used(&r, COOKIE(0), 16);
    cr_assert_eq(virtq_num_free(&r.q), 8);
    /* And the descriptors are rewritten whole when reused. */
    for (int i = 0; i < 2; i++)
        virtq_add(&r.q, three, 2, 1, COOKIE(2 + i));
    virtq_kick_prepare(&r.q);
    struct vdev_chain c = pop(&r), d = pop(&r);
    cr_assert_eq(c.n, 3);
    cr_assert_eq(d.n, 3);
    complete(&r, c.head, 0);
    complete(&r, d.head, 0);
    expect_used(&r, COOKIE(2), 0);
    expect_used(&r, COOKIE(3), 0);
    rig_close(&r);
}

/* ---- Filling a fresh queue in one pass ------------------------------------------------- */

#define FILL_STRIDE 96
#define FILL_LEN 80

/* The same queue state, driver and device side, whether filled in one pass or added. */
Test(virtq, fill_in_leaves_what_as_many_adds_would)
{
    static uint8_t block[16 * FILL_STRIDE];
    for (uint16_t count = 1; count <= 16; count += 5) {
        struct rig a, b;
        rig_open_at(&a, 16, true, 0x100000);
        rig_open_at(&b, 16, true, 0x100000);
        cr_assert_eq(virtq_fill_in(&a.q, block, FILL_STRIDE, FILL_LEN, count), VIRTQ_OK);
        cr_assert_eq(a.phys_calls, 1, "one translation for the whole block");
        for (uint16_t k = 0; k < count; k++)
            cr_assert_eq(add_rx(&b, block + k * FILL_STRIDE, FILL_LEN,
                                (void *)(uintptr_t)(k + 1u)), VIRTQ_OK);
        cr_assert_eq(memcmp(a.q.desc, b.q.desc, virtq_desc_bytes(16)), 0);
        cr_assert_eq(memcmp(a.slots, b.slots, 16 * sizeof(a.slots[0])), 0);
        cr_assert_eq(a.q.free_head, b.q.free_head);
        cr_assert_eq(a.q.num_free, b.q.num_free);
        cr_assert_eq(a.q.inflight, count);
        cr_assert_eq(a.q.avail_idx, b.q.avail_idx);
        cr_assert_eq(a.q.stats.added, b.q.stats.added);
        cr_assert(virtq_kick_prepare(&a.q));
        cr_assert(virtq_kick_prepare(&b.q));
        cr_assert_eq(memcmp(a.q.avail, b.q.avail, virtq_avail_bytes(16)), 0);
        rig_close(&a);
        rig_close(&b);
    }
}

Test(virtq, a_filled_queue_completes_each_buffer_with_its_cookie_and_adds_after)
{
    static uint8_t block[8 * FILL_STRIDE], extra[64];
    struct rig r;
    rig_open(&r, 16, false);
    cr_assert_eq(virtq_fill_in(&r.q, block, FILL_STRIDE, FILL_LEN, 8), VIRTQ_OK);
    cr_assert(virtq_kick_prepare(&r.q));
    uint16_t head[8];
    for (int k = 0; k < 8; k++) {
        struct vdev_chain c = pop(&r);
        cr_assert_eq(c.desc[0].addr, (uint64_t)(uintptr_t)(block + k * FILL_STRIDE));
        cr_assert_eq(c.desc[0].len, FILL_LEN);
        cr_assert_eq(c.desc[0].flags, VIRTQ_DESC_F_WRITE);
        head[k] = c.head;
    }
    /* The free descriptors left are still there for ordinary adds. */
    cr_assert_eq(add_rx(&r, extra, sizeof(extra), COOKIE(99)), VIRTQ_OK);
    for (int k = 7; k >= 0; k--) /* out of order */
        complete(&r, head[k], (uint32_t)k);
    for (int k = 7; k >= 0; k--)
        expect_used(&r, (void *)(uintptr_t)(k + 1u), (uint32_t)k);
    cr_assert_eq(virtq_inflight(&r.q), 1);
    rig_close(&r);
}

Test(virtq, fill_in_refuses_a_queue_in_use_and_nonsense)
{
    static uint8_t block[4 * FILL_STRIDE], one[64];
    struct rig r;
    rig_open(&r, 8, false);
    cr_assert_eq(virtq_fill_in(&r.q, block, FILL_STRIDE, FILL_LEN, 9), VIRTQ_EINVAL,
                 "more than the queue holds");
    cr_assert_eq(virtq_fill_in(&r.q, block, FILL_STRIDE, FILL_STRIDE + 1, 4), VIRTQ_EINVAL,
                 "buffers that overlap");
    cr_assert_eq(virtq_fill_in(&r.q, block, FILL_STRIDE, FILL_LEN, 0), VIRTQ_EINVAL);
    cr_assert_eq(virtq_fill_in(&r.q, NULL, FILL_STRIDE, FILL_LEN, 4), VIRTQ_EINVAL);
    cr_assert_eq(add_rx(&r, one, sizeof(one), COOKIE(1)), VIRTQ_OK);
    cr_assert_eq(virtq_fill_in(&r.q, block, FILL_STRIDE, FILL_LEN, 4), VIRTQ_EINVAL,
                 "not fresh: one chain is in flight");
    cr_assert_eq(virtq_inflight(&r.q), 1, "and nothing was queued by the refusals");
    cr_assert_eq(r.q.stats.added, 1);
    rig_close(&r);
}
