#include "vdev.h"

#include <string.h>

/* The device side runs in the same thread on the host, but it accesses and orders the
 * shared words the way a real device must, so the simulation reads like one. */
static uint16_t load16(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void store16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void *map(const struct vdev *d, uint64_t phys)
{
    if (d->cfg.map)
        return d->cfg.map(d->cfg.map_ctx, phys);
    return (void *)(uintptr_t)phys;
}

int vdev_attach(struct vdev *d, const struct vdev_cfg *cfg)
{
    memset(d, 0, sizeof(*d));
    if (cfg->size == 0 || cfg->size > VDEV_SIZE_MAX || (cfg->size & (cfg->size - 1)))
        return -1;
    d->cfg = *cfg;
    d->desc = map(d, cfg->desc);
    d->avail = map(d, cfg->avail);
    d->used = map(d, cfg->used);
    return 0;
}

void vdev_reset(struct vdev *d)
{
    struct vdev_cfg cfg = d->cfg;
    vdev_attach(d, &cfg);
}

uint16_t vdev_avail_pending(const struct vdev *d)
{
    return (uint16_t)(load16(&d->avail->idx) - d->last_avail);
}

static void release(struct vdev *d, uint16_t head)
{
    uint16_t i = head;
    for (uint16_t k = 0; k < d->count[head]; k++) {
        d->owner[i] = 0;
        i = d->link[i];
    }
    d->count[head] = 0;
}

int vdev_pop(struct vdev *d, struct vdev_chain *c)
{
    uint32_t size = d->cfg.size;
    uint16_t idx = load16(&d->avail->idx);
    if (idx == d->last_avail)
        return 0;
    /* Acquire: the ring entry and descriptors are read only after the idx covering them. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint16_t head = load16(&d->avail->ring[d->last_avail & (size - 1)]);
    d->last_avail++;

    memset(c, 0, sizeof(*c));
    c->head = head;
    uint16_t i = head;
    bool writable = false;
    for (;;) {
        if (i >= size || c->n >= VDEV_CHAIN_MAX || c->n >= size || d->owner[i])
            goto bad; /* out of range, a loop, or a descriptor shared with a held chain */
        for (uint16_t k = 0; k < c->n; k++)
            if (c->id[k] == i)
                goto bad;
        struct virtq_desc v = d->desc[i];
        if (v.flags & VIRTQ_DESC_F_INDIRECT)
            goto bad;
        if (v.flags & VIRTQ_DESC_F_WRITE) {
            writable = true;
            c->n_in++;
        } else if (writable) {
            goto bad; /* 2.7.5: readable descriptors come first */
        } else {
            c->n_out++;
        }
        c->id[c->n] = i;
        c->desc[c->n] = v;
        c->n++;
        if (!(v.flags & VIRTQ_DESC_F_NEXT))
            break;
        i = v.next;
    }
    for (uint16_t k = 0; k < c->n; k++) {
        d->owner[c->id[k]] = (uint16_t)(head + 1);
        d->link[c->id[k]] = k + 1 < c->n ? c->id[k + 1] : 0;
    }
    d->count[head] = c->n;
    d->popped++;
    return 1;
bad:
    d->driver_errors++;
    return -1;
}

size_t vdev_read(struct vdev *d, const struct vdev_chain *c, void *out, size_t cap)
{
    size_t done = 0;
    for (uint16_t k = 0; k < c->n_out && done < cap; k++) {
        size_t n = c->desc[k].len;
        if (n > cap - done)
            n = cap - done;
        memcpy((uint8_t *)out + done, map(d, c->desc[k].addr), n);
        done += n;
    }
    return done;
}

size_t vdev_write(struct vdev *d, const struct vdev_chain *c, const void *data, size_t len)
{
    size_t done = 0;
    for (uint16_t k = c->n_out; k < c->n && done < len; k++) {
        size_t n = c->desc[k].len;
        if (n > len - done)
            n = len - done;
        memcpy(map(d, c->desc[k].addr), (const uint8_t *)data + done, n);
        done += n;
    }
    return done;
}

bool vdev_holds(const struct vdev *d, uint16_t head)
{
    return head < d->cfg.size && d->owner[head] == head + 1 && d->count[head] > 0;
}

void vdev_push_raw(struct vdev *d, uint32_t id, uint32_t len)
{
    struct virtq_used_elem *e = &d->used->ring[d->used_next & (d->cfg.size - 1)];
    __atomic_store_n(&e->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
    d->used_next++;
}

int vdev_push(struct vdev *d, uint16_t head, uint32_t len)
{
    if (!vdev_holds(d, head)) {
        d->test_errors++;
        return -1;
    }
    release(d, head);
    vdev_push_raw(d, head, len);
    d->completed++;
    return 0;
}

bool vdev_publish(struct vdev *d)
{
    uint16_t old_idx = d->used_idx;
    uint16_t new_idx = d->used_next;
    if (old_idx == new_idx)
        return false;
    /* 2.7.8: entries before idx (release). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    store16(&d->used->idx, new_idx);
    d->used_idx = new_idx;
    d->publishes++;
    /* The idx store before the read of the driver's suppression state, the mirror of the
     * driver's kick_prepare. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    bool irq;
    if (d->cfg.event_idx) /* 2.7.7: only when crossing used_event; flags ignored */
        irq = virtq_need_event(vdev_used_event(d), new_idx, old_idx);
    else
        irq = !vdev_no_interrupt(d);
    if (irq)
        d->interrupts++;
    return irq;
}

int vdev_complete(struct vdev *d, uint16_t head, uint32_t len)
{
    if (vdev_push(d, head, len) < 0)
        return -1;
    return vdev_publish(d) ? 1 : 0;
}

void vdev_bump_used_idx(struct vdev *d, uint16_t delta)
{
    d->used_next = (uint16_t)(d->used_next + delta);
    vdev_publish(d);
}

void vdev_set_avail_event(struct vdev *d, uint16_t idx)
{
    store16(virtq_avail_event(d->used, d->cfg.size), idx);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vdev_set_no_notify(struct vdev *d, bool on)
{
    uint16_t f = load16(&d->used->flags);
    store16(&d->used->flags,
            on ? (uint16_t)(f | VIRTQ_USED_F_NO_NOTIFY) : (uint16_t)(f & ~VIRTQ_USED_F_NO_NOTIFY));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint16_t vdev_used_event(const struct vdev *d)
{
    return load16(virtq_used_event(d->avail, d->cfg.size));
}

bool vdev_no_interrupt(const struct vdev *d)
{
    return (load16(&d->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT) != 0;
}
