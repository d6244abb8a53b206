/*
 * The virtio-mmio transport against a register model of QEMU's two layouts: version 1
 * (legacy, microvm's default) and version 2 (modern, force-legacy=false).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "virtio/mmio.h"

#define NET_MAC_F (1ull << 5)
#define NET_STATUS_F (1ull << 16)
#define HIGH_F (1ull << 35)

struct model {
    uint32_t magic, version, device_id;
    uint64_t offered;
    uint32_t dev_sel, drv_sel;
    uint32_t drv[2];
    uint32_t status;
    bool refuse_features; /* clears FEATURES_OK when the driver sets it */
    uint32_t page_size;
    uint32_t sel;
    uint32_t num_max[4], num[4], align[4], pfn[4], ready[4];
    uint64_t desc[4], avail[4], used[4];
    uint32_t notified, notify_count;
    uint32_t int_status, acked;
    uint8_t config[16];
    uint32_t gen;
    int gen_bumps; /* the config changes under the driver this many more times */
    uint32_t status_writes[8];
    int n_status_writes;
};

static void set_hi_lo(uint64_t *v, bool high, uint32_t x)
{
    *v = high ? (*v & 0xffffffffu) | (uint64_t)x << 32 : (*v & ~0xffffffffull) | x;
}

static uint32_t r32(void *ctx, uint32_t off)
{
    struct model *m = ctx;
    switch (off) {
    case VIRTIO_MMIO_MAGIC: return m->magic;
    case VIRTIO_MMIO_VERSION: return m->version;
    case VIRTIO_MMIO_DEVICE_ID: return m->device_id;
    case VIRTIO_MMIO_VENDOR_ID: return 0x554d4551; /* "QEMU" */
    case VIRTIO_MMIO_DEVICE_FEATURES: return (uint32_t)(m->offered >> (32 * m->dev_sel));
    case VIRTIO_MMIO_STATUS: return m->status;
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return m->sel < 4 ? m->num_max[m->sel] : 0;
    case VIRTIO_MMIO_QUEUE_PFN: return m->pfn[m->sel];
    case VIRTIO_MMIO_QUEUE_READY: return m->ready[m->sel];
    case VIRTIO_MMIO_INTERRUPT_STATUS: return m->int_status;
    case VIRTIO_MMIO_CONFIG_GENERATION: return m->gen;
    default: cr_assert_fail("read of register 0x%x", off); return 0;
    }
}

static void w32(void *ctx, uint32_t off, uint32_t v)
{
    struct model *m = ctx;
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->dev_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->drv_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES: m->drv[m->drv_sel & 1] = v; break;
    case VIRTIO_MMIO_GUEST_PAGE_SIZE: m->page_size = v; break;
    case VIRTIO_MMIO_QUEUE_SEL: m->sel = v; break;
    case VIRTIO_MMIO_QUEUE_NUM: m->num[m->sel] = v; break;
    case VIRTIO_MMIO_QUEUE_ALIGN: m->align[m->sel] = v; break;
    case VIRTIO_MMIO_QUEUE_PFN: m->pfn[m->sel] = v; break;
    case VIRTIO_MMIO_QUEUE_READY: m->ready[m->sel] = v; break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: set_hi_lo(&m->desc[m->sel], false, v); break;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_hi_lo(&m->desc[m->sel], true, v); break;
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW: set_hi_lo(&m->avail[m->sel], false, v); break;
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: set_hi_lo(&m->avail[m->sel], true, v); break;
    case VIRTIO_MMIO_QUEUE_USED_LOW: set_hi_lo(&m->used[m->sel], false, v); break;
    case VIRTIO_MMIO_QUEUE_USED_HIGH: set_hi_lo(&m->used[m->sel], true, v); break;
    case VIRTIO_MMIO_QUEUE_NOTIFY: m->notified = v; m->notify_count++; break;
    case VIRTIO_MMIO_INTERRUPT_ACK: m->acked |= v; m->int_status &= ~v; break;
    case VIRTIO_MMIO_STATUS:
        if (m->n_status_writes < 8)
            m->status_writes[m->n_status_writes++] = v;
        if (v == 0) { /* reset forgets everything */
            memset(m->ready, 0, sizeof(m->ready));
            memset(m->pfn, 0, sizeof(m->pfn));
        }
        if ((v & VIRTIO_STATUS_FEATURES_OK) && m->refuse_features)
            v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
        m->status = v;
        break;
    default: cr_assert_fail("write of register 0x%x", off);
    }
}

static uint8_t r8(void *ctx, uint32_t off)
{
    struct model *m = ctx;
    cr_assert(off >= VIRTIO_MMIO_CONFIG && off < VIRTIO_MMIO_CONFIG + sizeof(m->config));
    if (off == VIRTIO_MMIO_CONFIG && m->gen_bumps > 0) { /* changes as the driver reads */
        m->gen_bumps--;
        m->gen++;
        m->config[0]++;
    }
    return m->config[off - VIRTIO_MMIO_CONFIG];
}

static const struct virtio_mmio_ops ops = {.read32 = r32, .write32 = w32, .read8 = r8};

static struct model net_device(uint32_t version)
{
    struct model m = {.magic = VIRTIO_MMIO_MAGIC_VALUE, .version = version, .device_id = 1,
                      .offered = NET_MAC_F | NET_STATUS_F | HIGH_F |
                                 (version == 2 ? VIRTIO_F_VERSION_1 : 0),
                      .num_max = {256, 256, 64, 0},
                      .config = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0}};
    return m;
}

Test(virtio_mmio, probe_reads_version_and_ids)
{
    for (uint32_t v = 1; v <= 2; v++) {
        struct model m = net_device(v);
        struct virtio_mmio t;
        cr_assert_eq(virtio_mmio_probe(&t, &ops, &m), VIRTIO_OK);
        cr_assert_eq(t.version, v);
        cr_assert_eq(t.device_id, 1);
        cr_assert_eq(t.vendor_id, 0x554d4551);
        cr_assert_eq(m.n_status_writes, 0, "probing must not touch the device");
    }
}

Test(virtio_mmio, probe_refuses_what_is_not_a_usable_device)
{
    struct virtio_mmio t;
    struct model m = net_device(1);
    m.magic = 0;
    cr_assert_eq(virtio_mmio_probe(&t, &ops, &m), VIRTIO_ENODEV);
    m = net_device(1);
    m.version = 3;
    cr_assert_eq(virtio_mmio_probe(&t, &ops, &m), VIRTIO_EVERSION);
    m = net_device(2);
    m.device_id = 0; /* QEMU's empty transports */
    cr_assert_eq(virtio_mmio_probe(&t, &ops, &m), VIRTIO_ENODEV);
    cr_assert_eq(virtio_mmio_probe(&t, NULL, &m), VIRTIO_EINVAL);
}

Test(virtio_mmio, legacy_init_negotiates_32_bits_and_sets_the_page_size)
{
    struct model m = net_device(1);
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    cr_assert_eq(virtio_mmio_init(&t, NET_MAC_F | HIGH_F | (1ull << 7)), VIRTIO_OK);
    cr_assert_eq(t.features, NET_MAC_F, "only offered, wanted, low-word features");
    cr_assert_eq(m.drv[0], (uint32_t)NET_MAC_F);
    cr_assert_eq(m.page_size, 4096);
    /* reset, then ACKNOWLEDGE, then DRIVER: the spec's order */
    cr_assert_eq(m.status_writes[0], 0);
    cr_assert_eq(m.status_writes[1], VIRTIO_STATUS_ACKNOWLEDGE);
    cr_assert_eq(m.status_writes[2], VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    cr_assert_eq(m.n_status_writes, 3, "legacy has no FEATURES_OK step");
}

Test(virtio_mmio, modern_init_accepts_version_1_and_confirms_features_ok)
{
    struct model m = net_device(2);
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    cr_assert_eq(virtio_mmio_init(&t, NET_MAC_F | HIGH_F), VIRTIO_OK);
    cr_assert_eq(t.features, NET_MAC_F | HIGH_F | VIRTIO_F_VERSION_1);
    cr_assert_eq(m.drv[0], (uint32_t)NET_MAC_F);
    cr_assert_eq(m.drv[1], (uint32_t)((HIGH_F | VIRTIO_F_VERSION_1) >> 32));
    cr_assert(m.status & VIRTIO_STATUS_FEATURES_OK);
}

Test(virtio_mmio, modern_init_fails_when_the_device_refuses_the_features)
{
    struct model m = net_device(2);
    m.refuse_features = true;
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    cr_assert_eq(virtio_mmio_init(&t, NET_MAC_F), VIRTIO_EFEATURES);
    cr_assert(m.status & VIRTIO_STATUS_FAILED);
}

Test(virtio_mmio, modern_init_fails_without_version_1)
{
    struct model m = net_device(2);
    m.offered &= ~VIRTIO_F_VERSION_1;
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    cr_assert_eq(virtio_mmio_init(&t, NET_MAC_F), VIRTIO_EFEATURES);
    cr_assert(m.status & VIRTIO_STATUS_FAILED);
}

Test(virtio_mmio, legacy_queue_is_one_page_frame_with_4096_alignment)
{
    struct model m = net_device(1);
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    virtio_mmio_init(&t, NET_MAC_F);
    /* 256 entries: desc 4096 bytes, avail 6 + 512 right after, used at the next 4 KiB. */
    struct virtio_queue_addr q = {.desc = 0x10000, .avail = 0x11000, .used = 0x12000,
                                  .size = 256};
    cr_assert_eq(virtio_mmio_queue_setup(&t, 0, &q), VIRTIO_OK);
    cr_assert_eq(m.num[0], 256);
    cr_assert_eq(m.align[0], 4096);
    cr_assert_eq(m.pfn[0], 0x10);
    cr_assert_eq(virtio_mmio_queue_setup(&t, 0, &q), VIRTIO_EQUEUE, "queue already set up");
}

Test(virtio_mmio, legacy_queue_refuses_a_layout_the_device_would_misread)
{
    struct model m = net_device(1);
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    virtio_mmio_init(&t, 0);
    struct virtio_queue_addr bad[] = {
        {.desc = 0x10010, .avail = 0x11010, .used = 0x12000, .size = 256}, /* desc unaligned */
        {.desc = 0x10000, .avail = 0x11008, .used = 0x12000, .size = 256}, /* avail not next */
        {.desc = 0x10000, .avail = 0x11000, .used = 0x11800, .size = 256}, /* used unaligned */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(virtio_mmio_queue_setup(&t, 1, &bad[i]), VIRTIO_EQUEUE, "layout %zu", i);
    cr_assert_eq(m.pfn[1], 0, "nothing written for a refused layout");
}

Test(virtio_mmio, modern_queue_takes_three_64_bit_addresses_then_ready)
{
    struct model m = net_device(2);
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    virtio_mmio_init(&t, NET_MAC_F);
    struct virtio_queue_addr q = {.desc = 0x123456000ull, .avail = 0x123457000ull,
                                  .used = 0x200000004ull, .size = 128};
    cr_assert_eq(virtio_mmio_queue_setup(&t, 1, &q), VIRTIO_OK);
    cr_assert_eq(m.desc[1], q.desc);
    cr_assert_eq(m.avail[1], q.avail);
    cr_assert_eq(m.used[1], q.used);
    cr_assert_eq(m.num[1], 128);
    cr_assert_eq(m.ready[1], 1);
    cr_assert_eq(virtio_mmio_queue_setup(&t, 1, &q), VIRTIO_EQUEUE, "already ready");
}

Test(virtio_mmio, queue_setup_refuses_missing_oversize_and_odd_sizes)
{
    struct model m = net_device(2);
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    virtio_mmio_init(&t, 0);
    struct virtio_queue_addr q = {.desc = 0x10000, .avail = 0x11000, .used = 0x12000,
                                  .size = 64};
    cr_assert_eq(virtio_mmio_queue_setup(&t, 3, &q), VIRTIO_EQUEUE, "queue 3 does not exist");
    q.size = 128;
    cr_assert_eq(virtio_mmio_queue_setup(&t, 2, &q), VIRTIO_EQUEUE, "queue 2 holds 64");
    q.size = 96;
    cr_assert_eq(virtio_mmio_queue_setup(&t, 0, &q), VIRTIO_EINVAL, "not a power of two");
    q = (struct virtio_queue_addr){.desc = 0x10008, .avail = 0x11000, .used = 0x12000,
                                   .size = 64};
    cr_assert_eq(virtio_mmio_queue_setup(&t, 0, &q), VIRTIO_EQUEUE, "desc must be 16-aligned");
    cr_assert_eq(virtio_mmio_queue_max(&t, 0), 256);
    cr_assert_eq(virtio_mmio_queue_max(&t, 3), 0);
}

Test(virtio_mmio, ready_notify_and_interrupt_acknowledge)
{
    struct model m = net_device(2);
    struct virtio_mmio t;
    virtio_mmio_probe(&t, &ops, &m);
    virtio_mmio_init(&t, NET_MAC_F);
    virtio_mmio_ready(&t);
    cr_assert_eq(m.status, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                               VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    virtio_mmio_notify(&t, 1);
    cr_assert_eq(m.notified, 1);
    cr_assert_eq(m.notify_count, 1);
    cr_assert_eq(virtio_mmio_ack_interrupt(&t), 0);
    cr_assert_eq(m.acked, 0, "nothing to acknowledge, nothing written");
    m.int_status = VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE;
    cr_assert_eq(virtio_mmio_ack_interrupt(&t), VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE);
    cr_assert_eq(m.acked, VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE);
    cr_assert_eq(m.int_status, 0);
    cr_assert(!virtio_mmio_needs_reset(&t));
    m.status |= VIRTIO_STATUS_NEEDS_RESET;
    cr_assert(virtio_mmio_needs_reset(&t));
    virtio_mmio_reset(&t);
    cr_assert_eq(m.status, 0);
}

Test(virtio_mmio, config_reads_the_mac_and_retries_a_torn_read)
{
    struct model m = net_device(1);
    struct virtio_mmio t;
    uint8_t mac[6];
    virtio_mmio_probe(&t, &ops, &m);
    virtio_mmio_config(&t, 0, mac, 6);
    cr_assert_eq(memcmp(mac, "\x52\x54\x00\x12\x34\x56", 6), 0);

    m = net_device(2);
    m.gen_bumps = 2; /* the device changes the field twice while we read it */
    virtio_mmio_probe(&t, &ops, &m);
    virtio_mmio_config(&t, 0, mac, 6);
    cr_assert_eq(mac[0], 0x54, "the copy must be the one read after the last change");
    cr_assert_eq(m.gen, 2);
}
