/*
 * mmio.h — the virtio-mmio transport (virtio 1.x section 4.2), both register layouts.
 *
 * QEMU's microvm offers the legacy layout (version 1) by default and the modern one
 * (version 2) with `-global virtio-mmio.force-legacy=false`; the driver picks by the
 * Version register. Differences handled here: feature words (32 bits legacy, 64 modern
 * with VIRTIO_F_VERSION_1 required and FEATURES_OK confirmed), queue addresses (legacy: one
 * page frame number for a contiguous ring laid out with `align`; modern: three 64-bit
 * addresses and QueueReady), and config-space reads (modern: retried until the
 * ConfigGeneration register holds still, so a multi-byte field is never torn).
 *
 * Register access is injected (struct virtio_mmio_ops), so the transport is pure C and
 * tested against a register model on the host; the kernel passes MMIO accessors.
 */
#ifndef VIRTIO_MMIO_H
#define VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_MMIO_MAGIC 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_GUEST_PAGE_SIZE 0x028 /* legacy */
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_ALIGN 0x03c /* legacy */
#define VIRTIO_MMIO_QUEUE_PFN 0x040   /* legacy */
#define VIRTIO_MMIO_QUEUE_READY 0x044 /* modern */
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW 0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc /* modern */
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976u /* "virt" */

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_INT_USED_BUFFER 1
#define VIRTIO_INT_CONFIG_CHANGE 2

#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_LEGACY_PAGE_SIZE 4096u
#define VIRTIO_LEGACY_QUEUE_ALIGN 4096u

enum virtio_mmio_err {
    VIRTIO_OK = 0,
    VIRTIO_ENODEV = -1,    /* no virtio device here (bad magic, id 0) */
    VIRTIO_EVERSION = -2,  /* a Version we do not speak */
    VIRTIO_EFEATURES = -3, /* the device refused the features we accepted */
    VIRTIO_EQUEUE = -4,    /* queue missing, too small, busy, or a misaligned ring */
    VIRTIO_EINVAL = -5,
};

struct virtio_mmio_ops {
    uint32_t (*read32)(void *ctx, uint32_t off);
    void (*write32)(void *ctx, uint32_t off, uint32_t v);
    uint8_t (*read8)(void *ctx, uint32_t off); /* config space is byte-addressable */
};

struct virtio_mmio {
    const struct virtio_mmio_ops *ops;
    void *ctx;
    uint32_t version; /* 1 legacy, 2 modern */
    uint32_t device_id;
    uint32_t vendor_id;
    uint64_t features; /* negotiated */
};

/* Where a queue's three parts live, as physical addresses. Legacy needs them in one
 * contiguous block with the VIRTIO_LEGACY_QUEUE_ALIGN layout: desc at the start, avail
 * right after, used at the next aligned boundary (checked). */
struct virtio_queue_addr {
    uint64_t desc, avail, used;
    uint16_t size;
};

/* Check the magic, version and device id; nothing is written. */
int virtio_mmio_probe(struct virtio_mmio *t, const struct virtio_mmio_ops *ops, void *ctx);
/* Reset, acknowledge, and negotiate: accept `wanted` & offered (plus VERSION_1 on modern,
 * which it requires). On success t->features holds the result and the device is waiting
 * for its queues; on failure the device is marked FAILED. */
int virtio_mmio_init(struct virtio_mmio *t, uint64_t wanted);
/* Largest size queue `index` supports (0: no such queue). */
uint16_t virtio_mmio_queue_max(struct virtio_mmio *t, uint16_t index);
int virtio_mmio_queue_setup(struct virtio_mmio *t, uint16_t index,
                            const struct virtio_queue_addr *q);
/* Tell the device the driver is ready (DRIVER_OK). */
void virtio_mmio_ready(struct virtio_mmio *t);
void virtio_mmio_notify(struct virtio_mmio *t, uint16_t index);
/* Read and acknowledge the interrupt cause (VIRTIO_INT_* bits). */
uint32_t virtio_mmio_ack_interrupt(struct virtio_mmio *t);
/* Copy `len` bytes of device config space from `off`, consistently. */
void virtio_mmio_config(struct virtio_mmio *t, uint32_t off, void *buf, size_t len);
bool virtio_mmio_needs_reset(struct virtio_mmio *t);
/* Reset the device (status 0): it forgets queues and features. */
void virtio_mmio_reset(struct virtio_mmio *t);

#endif
