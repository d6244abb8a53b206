#include "virtio/mmio.h"

#include <string.h>

static uint32_t rd(struct virtio_mmio *t, uint32_t off)
{
    return t->ops->read32(t->ctx, off);
}

static void wr(struct virtio_mmio *t, uint32_t off, uint32_t v)
{
    t->ops->write32(t->ctx, off, v);
}

static void add_status(struct virtio_mmio *t, uint32_t bits)
{
    wr(t, VIRTIO_MMIO_STATUS, rd(t, VIRTIO_MMIO_STATUS) | bits);
}

int virtio_mmio_probe(struct virtio_mmio *t, const struct virtio_mmio_ops *ops, void *ctx)
{
    if (!t || !ops || !ops->read32 || !ops->write32 || !ops->read8)
        return VIRTIO_EINVAL;
    memset(t, 0, sizeof(*t));
    t->ops = ops;
    t->ctx = ctx;
    if (rd(t, VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE)
        return VIRTIO_ENODEV;
    t->version = rd(t, VIRTIO_MMIO_VERSION);
    if (t->version != 1 && t->version != 2)
        return VIRTIO_EVERSION;
    t->device_id = rd(t, VIRTIO_MMIO_DEVICE_ID);
    t->vendor_id = rd(t, VIRTIO_MMIO_VENDOR_ID);
    return t->device_id ? VIRTIO_OK : VIRTIO_ENODEV; /* id 0: an empty transport */
}

void virtio_mmio_reset(struct virtio_mmio *t)
{
    wr(t, VIRTIO_MMIO_STATUS, 0);
    /* The spec has the driver wait until a read returns 0; QEMU resets synchronously, but a
     * bounded wait costs nothing and covers devices that do not. */
    for (int i = 0; i < 1000 && rd(t, VIRTIO_MMIO_STATUS) != 0; i++)
        ;
}

static uint64_t device_features(struct virtio_mmio *t)
{
    wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t f = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
    if (t->version == 2) {
        wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        f |= (uint64_t)rd(t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
    }
    return f;
}

static void driver_features(struct virtio_mmio *t, uint64_t f)
{
    wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
    if (t->version == 2) {
        wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
    }
}

/* Virtio 1.x section 3.1.1: the driver initialisation sequence up to queue setup. */
int virtio_mmio_init(struct virtio_mmio *t, uint64_t wanted)
{
    virtio_mmio_reset(t);
    add_status(t, VIRTIO_STATUS_ACKNOWLEDGE);
    add_status(t, VIRTIO_STATUS_DRIVER);
    uint64_t offered = device_features(t);
    uint64_t accept = offered & wanted;
    if (t->version == 2) {
        /* A modern device without VERSION_1 is broken; legacy has no such bit. */
        if (!(offered & VIRTIO_F_VERSION_1))
            goto fail;
        accept |= VIRTIO_F_VERSION_1;
    } else {
        accept &= 0xffffffffu;
    }
    driver_features(t, accept);
    if (t->version == 2) {
        add_status(t, VIRTIO_STATUS_FEATURES_OK);
        if (!(rd(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
            goto fail; /* the device did not accept this subset */
    } else {
        wr(t, VIRTIO_MMIO_GUEST_PAGE_SIZE, VIRTIO_LEGACY_PAGE_SIZE);
    }
    t->features = accept;
    return VIRTIO_OK;
fail:
    add_status(t, VIRTIO_STATUS_FAILED);
    return VIRTIO_EFEATURES;
}

uint16_t virtio_mmio_queue_max(struct virtio_mmio *t, uint16_t index)
{
    wr(t, VIRTIO_MMIO_QUEUE_SEL, index);
    uint32_t max = rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX);
    return max > 32768 ? 32768 : (uint16_t)max;
}

static bool legacy_layout_ok(const struct virtio_queue_addr *q)
{
    uint64_t avail_end = q->avail + 6 + 2ull * q->size;
    uint64_t used = (avail_end + VIRTIO_LEGACY_QUEUE_ALIGN - 1) & ~(uint64_t)(VIRTIO_LEGACY_QUEUE_ALIGN - 1);
    return !(q->desc & (VIRTIO_LEGACY_PAGE_SIZE - 1)) && q->avail == q->desc + 16ull * q->size &&
           q->used == used && (q->desc >> 12) <= 0xffffffffu;
}

int virtio_mmio_queue_setup(struct virtio_mmio *t, uint16_t index, const struct virtio_queue_addr *q)
{
    if (!q || !q->size || (q->size & (q->size - 1)))
        return VIRTIO_EINVAL;
    uint16_t max = virtio_mmio_queue_max(t, index); /* also selects the queue */
    if (!max || q->size > max)
        return VIRTIO_EQUEUE;
    if (t->version == 1) {
        if (rd(t, VIRTIO_MMIO_QUEUE_PFN) || !legacy_layout_ok(q))
            return VIRTIO_EQUEUE;
        wr(t, VIRTIO_MMIO_QUEUE_NUM, q->size);
        wr(t, VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_LEGACY_QUEUE_ALIGN);
        wr(t, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(q->desc >> 12));
        return VIRTIO_OK;
    }
    /* Modern alignment rules (2.7): desc 16, avail 2, used 4. */
    if (rd(t, VIRTIO_MMIO_QUEUE_READY) || (q->desc & 15) || (q->avail & 1) || (q->used & 3))
        return VIRTIO_EQUEUE;
    wr(t, VIRTIO_MMIO_QUEUE_NUM, q->size);
    wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
    wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
    wr(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail);
    wr(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail >> 32));
    wr(t, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used);
    wr(t, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used >> 32));
    wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
    return VIRTIO_OK;
}

void virtio_mmio_ready(struct virtio_mmio *t)
{
    add_status(t, VIRTIO_STATUS_DRIVER_OK);
}

void virtio_mmio_notify(struct virtio_mmio *t, uint16_t index)
{
    wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, index);
}

uint32_t virtio_mmio_ack_interrupt(struct virtio_mmio *t)
{
    uint32_t cause = rd(t, VIRTIO_MMIO_INTERRUPT_STATUS);
    if (cause)
        wr(t, VIRTIO_MMIO_INTERRUPT_ACK, cause);
    return cause;
}

void virtio_mmio_config(struct virtio_mmio *t, uint32_t off, void *buf, size_t len)
{
    uint8_t *out = buf;
    if (t->version == 1) {
        for (size_t i = 0; i < len; i++)
            out[i] = t->ops->read8(t->ctx, VIRTIO_MMIO_CONFIG + off + (uint32_t)i);
        return;
    }
    /* Re-read until the generation is unchanged across the copy (4.2.2.2). Bounded: a
     * device that changes forever gets the last copy rather than a hung driver. */
    for (int tries = 0; tries < 100; tries++) {
        uint32_t gen = rd(t, VIRTIO_MMIO_CONFIG_GENERATION);
        for (size_t i = 0; i < len; i++)
            out[i] = t->ops->read8(t->ctx, VIRTIO_MMIO_CONFIG + off + (uint32_t)i);
        if (rd(t, VIRTIO_MMIO_CONFIG_GENERATION) == gen)
            return;
    }
}

bool virtio_mmio_needs_reset(struct virtio_mmio *t)
{
    return (rd(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}
