/*
 * virtq.h — the driver side of a split virtqueue (virtio 1.x section 2.7).
 *
 * Consumes buffers the caller owns and hands them to the device as descriptor chains;
 * emits the caller's cookies back as the device completes them, in whatever order it
 * completes them. Notifications both ways follow 2.7.7-2.7.10: without
 * VIRTQ_F_EVENT_IDX the two flag words (VIRTQ_USED_F_NO_NOTIFY, VIRTQ_AVAIL_F_NO_INTERRUPT),
 * with it the avail_event/used_event indices and virtq_need_event(). Nothing here touches
 * a device register: virtq_kick_prepare() says whether to notify, the transport does it.
 *
 * Memory, all the caller's: the three ring parts (descriptor table, available ring, used
 * ring; sizes and alignments below, or one block with virtq_legacy_layout()) and one
 * struct virtq_slot per descriptor for the driver's bookkeeping. The slots are private to
 * the driver: the free list, the chain links and each chain's cookie and writable length
 * live there, never in memory the device can write, so no device behaviour can corrupt
 * them. They are caller storage rather than a fixed array in struct virtq because the
 * queue size is the device's choice, up to 32768: a fixed maximum would cost 512 KiB per
 * queue. Ring memory is little-endian x86 memory shared with the device; the driver gives
 * the device physical addresses through ops->phys (identity on the host).
 *
 * Buffers: from virtq_add() until virtq_get_used() returns its cookie (or virtq_detach()
 * after a device reset), a buffer belongs to the device: do not touch or free it. A full
 * queue refuses with VIRTQ_ENOBUFS (back-pressure: complete something and retry); nothing
 * here waits, sleeps or allocates.
 *
 * A misbehaving device is detected, counted in struct virtq_stats and survived:
 *  - a used entry naming a descriptor >= size (stats.bad_id), or one that is not the head
 *    of a chain in flight, such as a second completion of the same chain (stats.stale_id):
 *    the entry is consumed and dropped; nothing is freed; get_used goes on to the next
 *    entry. The chain the device meant, if any, stays in flight until reset.
 *  - a used length above the chain's device-writable bytes (stats.bad_len): the chain is
 *    completed normally with the length clamped to its writable bytes, so the caller never
 *    reads past its buffers.
 *  - a used idx more than the published chains in flight ahead of the driver
 *    (stats.bad_idx): the entries past ours cannot be told from stale ones, which could
 *    name a chain the device still owns, so the queue stops: it is broken, get_used and
 *    pending report nothing, enable_interrupts says true (nothing will come: do not
 *    spin), add refuses with VIRTQ_EBROKEN and kick_prepare says no, until the device is
 *    reset and virtq_reset() is called.
 * In every case the free list holds exactly the descriptors that are not in flight.
 *
 * Concurrency: the device runs concurrently with the driver (that is what the fences in
 * virtq.c are for), but the verbs are not reentrant: one context at a time per queue,
 * e.g. with the queue's interrupt masked. Interrupt suppression is a hint: a device may
 * still interrupt once after virtq_disable_interrupts(), so spurious interrupts are
 * harmless by design. No time, no clock.
 */
#ifndef VIRTIO_VIRTQ_H
#define VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTQ_SIZE_MAX 32768u /* 2.7: queue sizes are powers of two up to 2^15 */
#define VIRTQ_NONE 0xffffu    /* no descriptor: never an index, as sizes stop at 2^15 */

/* Feature bit (2.7.7-2.7.10, 6): notification suppression by index instead of flags. */
#define VIRTQ_F_EVENT_IDX (1ull << 29)

#define VIRTQ_DESC_F_NEXT 1     /* the chain continues at desc.next */
#define VIRTQ_DESC_F_WRITE 2    /* device-writable (otherwise device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4 /* not used by this driver */

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* driver to device: no used-buffer notifications */
#define VIRTQ_USED_F_NO_NOTIFY 1     /* device to driver: no available-buffer notifications */

/* Ring part alignments (2.7 table "Virtqueue Part Alignment"). */
#define VIRTQ_DESC_ALIGN 16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN 4
#define VIRTQ_LEGACY_ALIGN 4096 /* virtio-mmio version 1's QueueAlign, PCI legacy's too */

/* 2.7.5 */
struct virtq_desc {
    uint64_t addr; /* physical */
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/* 2.7.6: flags, idx, ring[size], then used_event (only meaningful with EVENT_IDX). */
struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];
};

/* 2.7.8 */
struct virtq_used_elem {
    uint32_t id;  /* head of the completed chain (32 bits for padding reasons) */
    uint32_t len; /* bytes written into the chain's device-writable buffers */
};

/* 2.7.8: flags, idx, ring[size], then avail_event (only meaningful with EVENT_IDX). */
struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[];
};

_Static_assert(sizeof(struct virtq_desc) == 16, "2.7.5 descriptor layout");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "2.7.8 used element layout");
_Static_assert(sizeof(struct virtq_avail) == 4 && sizeof(struct virtq_used) == 4, "ring heads");

static inline size_t virtq_desc_bytes(uint32_t size)
{
    return sizeof(struct virtq_desc) * size;
}

static inline size_t virtq_avail_bytes(uint32_t size)
{
    return 6 + 2 * (size_t)size; /* flags, idx, ring[size], used_event */
}

static inline size_t virtq_used_bytes(uint32_t size)
{
    return 6 + sizeof(struct virtq_used_elem) * size; /* flags, idx, ring[size], avail_event */
}

/* The driver's "interrupt me past here" index, right after the available ring. */
static inline uint16_t *virtq_used_event(struct virtq_avail *avail, uint32_t size)
{
    return &avail->ring[size];
}

/* The device's "notify me past here" index, right after the used ring. */
static inline uint16_t *virtq_avail_event(struct virtq_used *used, uint32_t size)
{
    return (uint16_t *)(void *)&used->ring[size];
}

/*
 * 2.7.10 (Linux's vring_need_event): moving an index from old_idx to new_idx crosses
 * event_idx, i.e. event_idx is in [old_idx, new_idx) modulo 2^16. Used both ways: the
 * driver with avail_event when it publishes avail idx, the device with used_event when
 * it publishes used idx.
 */
static inline bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/*
 * Legacy contiguous layout (2.7.2 legacy note; virtio-mmio version 1 and legacy PCI):
 * descriptor table at 0, available ring right after it, used ring at the next multiple
 * of `align`. `total` is the end of the used ring (avail_event included), as Linux's
 * vring_size() computes it; the spec's legacy formula also rounds that end up to
 * `align`, so round up yourself if the allocator hands out whole pages anyway.
 */
struct virtq_layout {
    size_t desc;
    size_t avail;
    size_t used;
    size_t total;
};

enum virtq_err {
    VIRTQ_OK = 0,
    VIRTQ_EINVAL = -1,  /* nonsense arguments, or a chain that could never fit the queue */
    VIRTQ_ENOBUFS = -2, /* not enough free descriptors now: back-pressure, retry later */
    VIRTQ_EBROKEN = -3, /* the device broke the ring protocol: reset device and queue */
};

/* A buffer of a chain. The driver never reads or writes through ptr, it only translates
 * it with ops->phys; const so that read-only data can be sent as is. */
struct virtq_buf {
    const void *ptr;
    uint32_t len;
};

/* One per descriptor, in caller storage; the driver's alone (see the contract above). */
struct virtq_slot {
    void *cookie;   /* head of a chain in flight: the caller's cookie; otherwise NULL */
    uint32_t wlen;  /* head: device-writable bytes of the chain (saturating) */
    uint16_t count; /* head: descriptors in the chain */
    uint16_t next;  /* next descriptor of its chain, or of the free list */
};

struct virtq_cfg {
    uint32_t size;             /* power of two, 1..VIRTQ_SIZE_MAX */
    struct virtq_desc *desc;   /* virtq_desc_bytes(size), VIRTQ_DESC_ALIGN-aligned */
    struct virtq_avail *avail; /* virtq_avail_bytes(size), VIRTQ_AVAIL_ALIGN-aligned */
    struct virtq_used *used;   /* virtq_used_bytes(size), VIRTQ_USED_ALIGN-aligned */
    struct virtq_slot *slots;  /* `size` of them */
    bool event_idx;            /* VIRTQ_F_EVENT_IDX was negotiated */
};

struct virtq_ops {
    /* The physical (bus) address of `p`, which is inside a buffer handed to virtq_add. */
    uint64_t (*phys)(void *ctx, const void *p);
};

struct virtq_stats {
    uint64_t added;      /* chains handed to the device */
    uint64_t completed;  /* chains returned by virtq_get_used */
    uint64_t notify;     /* virtq_kick_prepare said notify */
    uint64_t suppressed; /* virtq_kick_prepare published something and said do not */
    uint64_t stall_kicks; /* notifications for a device idle behind its avail_event */
    uint64_t full;       /* virtq_add refused with VIRTQ_ENOBUFS */
    uint64_t bad_id;     /* used entries naming a descriptor >= size (dropped) */
    uint64_t stale_id;   /* used entries naming no chain in flight, e.g. twice (dropped) */
    uint64_t bad_len;    /* used lengths above the chain's writable bytes (clamped) */
    uint64_t bad_idx;    /* used idx ahead of the chains in flight (queue broken) */
    uint64_t resets;     /* virtq_reset calls */
};

struct virtq {
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    struct virtq_used *used;
    struct virtq_slot *slots;
    const struct virtq_ops *ops;
    void *ctx;
    uint32_t size;
    bool event_idx;

    uint16_t free_head; /* first free descriptor, VIRTQ_NONE when none */
    uint32_t num_free;
    uint32_t inflight;        /* chains added and not yet returned */
    uint16_t avail_idx;       /* next available ring entry to fill */
    uint16_t avail_published; /* avail->idx as last written by kick_prepare */
    uint16_t notified_event;  /* EVENT_IDX: the avail_event we read when we last notified */
    uint16_t last_used;       /* next used ring entry to consume */
    uint16_t avail_flags;     /* what we last wrote to avail->flags */
    bool interrupts;          /* the driver wants used-buffer notifications */
    bool broken;
    struct virtq_stats stats; /* kept across virtq_reset */
};

/* Offsets of the legacy contiguous layout for `size` and `align` (a power of two).
 * VIRTQ_EINVAL for a bad size or align. */
int virtq_legacy_layout(uint32_t size, size_t align, struct virtq_layout *out);
/* Take over the rings and slots in cfg: zeroes the ring memory, all descriptors free,
 * interrupts enabled, stats zero. VIRTQ_EINVAL for a bad size, a NULL or misaligned
 * part, or no ops->phys. */
int virtq_init(struct virtq *q, const struct virtq_cfg *cfg, const struct virtq_ops *ops,
               void *ctx);
/* Queue a chain: bufs[0..n_out) device-readable, then bufs[n_out..n_out+n_in)
 * device-writable, completed later as `cookie` (not NULL). Visible to the device only
 * after virtq_kick_prepare. VIRTQ_ENOBUFS when fewer than n_out+n_in descriptors are
 * free; VIRTQ_EINVAL for an empty chain, a NULL cookie, more buffers than the queue has
 * descriptors or more than 2^32 bytes (2.7.5); VIRTQ_EBROKEN when broken. Nothing is
 * queued on error. */
int virtq_add(struct virtq *q, const struct virtq_buf *bufs, size_t n_out, size_t n_in,
              void *cookie);
/* A fresh queue (just initialised or reset) filled in one pass with `count` buffers the
 * device writes, each `len` bytes, `stride` bytes apart from `base` in one physically
 * contiguous block; buffer k's cookie is (void *)(k + 1). Exactly what `count` calls of
 * virtq_add would leave, at a few instructions a buffer: under an emulating hypervisor
 * every instruction counts, and a NIC posts its whole receive ring before it can listen.
 * VIRTQ_EINVAL for a queue that is not fresh. Publish with virtq_kick_prepare. */
int virtq_fill_in(struct virtq *q, void *base, uint32_t stride, uint32_t len, uint16_t count);
/* Publish the chains added since the last call; true when the device must be notified
 * (EVENT_IDX: the new idx crossed avail_event; otherwise used.flags lacks NO_NOTIFY).
 * False when nothing new was added. */
bool virtq_kick_prepare(struct virtq *q);
/* EVENT_IDX only: true when the device looks idle (its used idx equals its avail_event)
 * while chains we published wait past that point: notify it, whatever suppression says.
 * Devices can miss a notification by racing our idx store (see virtq.c); call this where
 * a driver would otherwise wait on the device, e.g. with its TX ring full or before
 * sleeping. */
bool virtq_device_stalled(struct virtq *q);
/* The next completed chain: its cookie, with the bytes the device wrote in *len (may be
 * NULL). Its descriptors are free again. NULL when nothing is pending. */
void *virtq_get_used(struct virtq *q, uint32_t *len);
/* Ask the device not to interrupt for used buffers (a hint, see above). */
void virtq_disable_interrupts(struct virtq *q);
/* Ask for an interrupt at the next completion. False when completions are already
 * pending: the device may not interrupt for them, so poll again instead of sleeping. */
bool virtq_enable_interrupts(struct virtq *q);
/* Free descriptors. */
uint32_t virtq_num_free(const struct virtq *q);
/* Chains added and not returned yet (published or not). */
uint32_t virtq_inflight(const struct virtq *q);
/* Used entries waiting for virtq_get_used (malformed ones included, which it drops).
 * Detects a runaway used idx like virtq_get_used does. */
uint32_t virtq_pending(struct virtq *q);
bool virtq_is_broken(const struct virtq *q);
/* After a device reset only: the cookie of one chain still in flight, its descriptors
 * freed; NULL when none. Call until NULL to reclaim buffers, then virtq_reset. */
void *virtq_detach(struct virtq *q);
/* After a device reset: back to the state virtq_init left (chains still in flight are
 * forgotten; detach them first to get their cookies). Stats are kept, resets counted. */
void virtq_reset(struct virtq *q);

#endif
