/*
 * vdev.h — a simulated virtio device, the other end of a split virtqueue, for host tests.
 *
 * It finds the rings the way a device does, through the physical addresses the driver
 * programmed (translated by cfg.map; identity when NULL, matching a driver whose phys is
 * the identity), and never looks at struct virtq. The test plays the device's role step
 * by step:
 *   vdev_pop        take the next published chain, in ring order, with its descriptors
 *                   exactly as the table holds them (addr/len/flags/next);
 *   vdev_read/write gather the readable buffers, scatter into the writable ones;
 *   vdev_complete   put a popped chain on the used ring (any order) and publish it;
 *   vdev_push + vdev_publish   the same in a batch, one publish for several entries.
 * Notification suppression both ways: vdev_publish returns (and counts in `interrupts`)
 * whether the device would interrupt per 2.7.7 (used_event crossing with EVENT_IDX,
 * otherwise avail.flags without NO_INTERRUPT); vdev_set_avail_event and
 * vdev_set_no_notify write what the driver's kick_prepare reads.
 *
 * It checks the driver as it goes: a chain with an index out of range, a loop, a readable
 * descriptor after a writable one, an INDIRECT flag or a descriptor already held by
 * another chain makes vdev_pop fail and is counted in `driver_errors`; completing a head
 * the device does not hold is refused and counted in `test_errors`. Misbehaviour on
 * request: vdev_push_raw (any id, any len, no checks: bad ids, duplicates, huge lengths)
 * and vdev_bump_used_idx (publish entries never written). vdev_reset is a device reset.
 */
#ifndef HARNESS_VDEV_H
#define HARNESS_VDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtq.h"

#define VDEV_SIZE_MAX 1024 /* queue sizes the simulation supports */
#define VDEV_CHAIN_MAX 64  /* descriptors per chain it can pop */

struct vdev_cfg {
    uint32_t size;
    uint64_t desc, avail, used; /* physical addresses, as a transport would receive them */
    bool event_idx;
    void *(*map)(void *ctx, uint64_t phys); /* NULL: identity */
    void *map_ctx;
};

struct vdev_chain {
    uint16_t head;
    uint16_t n;                             /* descriptors */
    uint16_t n_out;                         /* device-readable ones, first */
    uint16_t n_in;                          /* device-writable ones, after */
    uint16_t id[VDEV_CHAIN_MAX];            /* descriptor indices, in chain order */
    struct virtq_desc desc[VDEV_CHAIN_MAX]; /* copies of the table entries */
};

struct vdev {
    struct vdev_cfg cfg;
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    struct virtq_used *used;
    uint16_t last_avail;           /* next available entry to pop */
    uint16_t used_idx;             /* published */
    uint16_t used_next;            /* pushed (published or not) */
    uint16_t owner[VDEV_SIZE_MAX]; /* head + 1 of the chain holding each descriptor, 0 free */
    uint16_t count[VDEV_SIZE_MAX]; /* per held head: descriptors in its chain */
    uint16_t link[VDEV_SIZE_MAX];  /* chain links as popped */
    uint64_t popped, completed, publishes;
    uint64_t interrupts;    /* publishes after which the device would interrupt */
    uint64_t driver_errors; /* malformed chains seen by vdev_pop */
    uint64_t test_errors;   /* vdev_push of a head the device does not hold */
};

/* 0, or -1 for a size the simulation does not support. */
int vdev_attach(struct vdev *d, const struct vdev_cfg *cfg);
/* Device reset: forgets every chain and index; the rings are the driver's to re-init. */
void vdev_reset(struct vdev *d);
/* Chains the driver has published and the device has not popped. */
uint16_t vdev_avail_pending(const struct vdev *d);
/* 1 and *c filled: a chain popped; 0: nothing published; -1: the driver wrote a malformed
 * chain (counted in driver_errors; the entry is consumed). */
int vdev_pop(struct vdev *d, struct vdev_chain *c);
/* Copy the chain's readable buffers into out (up to cap); returns the bytes copied. */
size_t vdev_read(struct vdev *d, const struct vdev_chain *c, void *out, size_t cap);
/* Copy data into the chain's writable buffers in order; returns the bytes written. */
size_t vdev_write(struct vdev *d, const struct vdev_chain *c, const void *data, size_t len);
/* Put a held chain on the used ring without publishing it; -1 if the device does not
 * hold `head` (counted in test_errors), 0 otherwise. */
int vdev_push(struct vdev *d, uint16_t head, uint32_t len);
/* Publish everything pushed; true when the device would interrupt the driver now. */
bool vdev_publish(struct vdev *d);
/* vdev_push then vdev_publish: 1 interrupted, 0 not, -1 head not held. */
int vdev_complete(struct vdev *d, uint16_t head, uint32_t len);
/* Misbehave: a used entry with any id and len, unchecked and releasing nothing. */
void vdev_push_raw(struct vdev *d, uint32_t id, uint32_t len);
/* Misbehave: move used idx by delta without writing entries (published at once). */
void vdev_bump_used_idx(struct vdev *d, uint16_t delta);
/* EVENT_IDX: "notify me when avail idx passes idx". */
void vdev_set_avail_event(struct vdev *d, uint16_t idx);
/* Without EVENT_IDX: set or clear VIRTQ_USED_F_NO_NOTIFY. */
void vdev_set_no_notify(struct vdev *d, bool on);
/* What the driver asks of the device right now (read from the rings). */
uint16_t vdev_used_event(const struct vdev *d);
bool vdev_no_interrupt(const struct vdev *d);
/* Whether the device holds `head` as a popped, uncompleted chain. */
bool vdev_holds(const struct vdev *d, uint16_t head);

#endif
