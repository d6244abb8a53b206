/*
 * virtq.c — split virtqueue, driver side. See virtq.h for the contract.
 *
 * Section numbers are virtio 1.2's: 2.7.5 descriptors, 2.7.6 available ring, 2.7.7 used
 * buffer notification suppression, 2.7.8 used ring, 2.7.10 available buffer notification
 * suppression, 2.7.13 supplying buffers, 2.7.14 receiving used buffers.
 */
#include "virtio/virtq.h"

#include <string.h>

/* Ring words are little-endian (2.4 for modern devices; legacy ones use guest order, which
 * on x86 is the same), and this file stores them in host order. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtq.c assumes a little-endian CPU");

/*
 * Every word the device may read or write while we run goes through these: one access,
 * never split, merged or repeated by the compiler (READ_ONCE/WRITE_ONCE). A value the
 * device controls is read once into a local and checked there, so it cannot change
 * between the check and the use. Ordering comes from the explicit fences below.
 */
static uint16_t load16(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint32_t load32(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void store16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static bool is_pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

static bool aligned(const void *p, uintptr_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

int virtq_legacy_layout(uint32_t size, size_t align, struct virtq_layout *out)
{
    if (!out || !is_pow2(size) || size > VIRTQ_SIZE_MAX || !is_pow2(align) ||
        align < VIRTQ_USED_ALIGN)
        return VIRTQ_EINVAL;
    out->desc = 0;
    out->avail = virtq_desc_bytes(size); /* a multiple of 16: avail needs only 2 */
    out->used = (out->avail + virtq_avail_bytes(size) + align - 1) & ~(align - 1);
    out->total = out->used + virtq_used_bytes(size);
    return VIRTQ_OK;
}

/* The state virtq_init leaves and virtq_reset restores: avail and used idx 0, no flags,
 * used_event 0 (== last_used: interrupt at the first completion), avail_event 0. Only
 * the words either side reads before the other writes are cleared: a descriptor or an
 * avail entry is read by the device only once published behind avail idx, a used entry by
 * us only once the device has moved used idx past it. The rest of the rings may hold
 * anything (clearing 6.6 KiB per queue was a tenth of the NIC's bring-up under PVM, which
 * emulates every iteration of rep stos). */
static void restart(struct virtq *q)
{
    q->avail->flags = q->avail->idx = 0;
    *virtq_used_event(q->avail, q->size) = 0;
    q->used->flags = q->used->idx = 0;
    *virtq_avail_event(q->used, q->size) = 0;
    for (uint32_t i = 0; i < q->size; i++) {
        q->slots[i] = (struct virtq_slot){
            .cookie = NULL,
            .next = (uint16_t)(i + 1 < q->size ? i + 1 : VIRTQ_NONE),
        };
    }
    q->free_head = 0;
    q->num_free = q->size;
    q->inflight = 0;
    q->avail_idx = 0;
    q->avail_published = 0;
    q->notified_event = VIRTQ_NONE; /* told nothing yet (the device starts at 0) */
    q->last_used = 0;
    q->avail_flags = 0;
    q->interrupts = true;
    q->broken = false;
}

int virtq_init(struct virtq *q, const struct virtq_cfg *cfg, const struct virtq_ops *ops, void *ctx)
{
    if (!q || !cfg || !ops || !ops->phys)
        return VIRTQ_EINVAL;
    if (!is_pow2(cfg->size) || cfg->size > VIRTQ_SIZE_MAX)
        return VIRTQ_EINVAL;
    if (!cfg->desc || !cfg->avail || !cfg->used || !cfg->slots)
        return VIRTQ_EINVAL;
    if (!aligned(cfg->desc, VIRTQ_DESC_ALIGN) || !aligned(cfg->avail, VIRTQ_AVAIL_ALIGN) ||
        !aligned(cfg->used, VIRTQ_USED_ALIGN))
        return VIRTQ_EINVAL;
    memset(q, 0, sizeof(*q));
    q->desc = cfg->desc;
    q->avail = cfg->avail;
    q->used = cfg->used;
    q->slots = cfg->slots;
    q->ops = ops;
    q->ctx = ctx;
    q->size = cfg->size;
    q->event_idx = cfg->event_idx;
    restart(q);
    return VIRTQ_OK;
}

int virtq_add(struct virtq *q, const struct virtq_buf *bufs, size_t n_out, size_t n_in,
              void *cookie)
{
    if (!q || !bufs || !cookie || n_out > q->size || n_in > q->size || n_out + n_in == 0 ||
        n_out + n_in > q->size)
        return VIRTQ_EINVAL; /* never fits: ENOBUFS would have the caller wait forever */
    size_t total = n_out + n_in;
    uint64_t bytes = 0, wbytes = 0;
    for (size_t k = 0; k < total; k++) {
        bytes += bufs[k].len;
        if (k >= n_out)
            wbytes += bufs[k].len;
    }
    if (bytes > (1ull << 32)) /* 2.7.5: a chain is at most 2^32 bytes */
        return VIRTQ_EINVAL;
    if (q->broken)
        return VIRTQ_EBROKEN;
    if (total > q->num_free) {
        q->stats.full++;
        return VIRTQ_ENOBUFS;
    }

    /* The chain is the first `total` entries of the free list, already linked through
     * slots[].next; the descriptors get the same links (2.7.5: readable ones first). */
    uint16_t head = q->free_head;
    uint16_t i = head;
    for (size_t k = 0; k < total; k++) {
        struct virtq_desc *d = &q->desc[i];
        bool more = k + 1 < total;
        d->addr = q->ops->phys(q->ctx, bufs[k].ptr);
        d->len = bufs[k].len;
        d->flags =
            (uint16_t)((k >= n_out ? VIRTQ_DESC_F_WRITE : 0) | (more ? VIRTQ_DESC_F_NEXT : 0));
        d->next = more ? q->slots[i].next : 0;
        i = q->slots[i].next;
    }
    q->free_head = i;
    q->num_free -= (uint32_t)total;

    struct virtq_slot *s = &q->slots[head];
    s->cookie = cookie;
    s->count = (uint16_t)total;
    s->wlen = wbytes > UINT32_MAX ? UINT32_MAX : (uint32_t)wbytes;

    /* 2.7.13.2: a plain store is enough, the device cannot look at this entry before
     * kick_prepare publishes an idx past it (its fence orders the two). The entry being
     * overwritten was read by the device already: a free descriptor means a chain at or
     * after that entry completed, and devices consume the ring in order. */
    q->avail->ring[q->avail_idx & (q->size - 1)] = head;
    q->avail_idx++;
    q->inflight++;
    q->stats.added++;
    return VIRTQ_OK;
}

int virtq_fill_in(struct virtq *q, void *base, uint32_t stride, uint32_t len, uint16_t count)
{
    if (!q || !base || !len || !count || count > q->size || len > stride)
        return VIRTQ_EINVAL;
    if (q->broken)
        return VIRTQ_EBROKEN;
    if (q->num_free != q->size || q->free_head != 0 || q->avail_idx != 0)
        return VIRTQ_EINVAL; /* not fresh from init or reset: use virtq_add */
    /* The free list of a fresh queue runs 0, 1, 2, ...: buffer k takes descriptor k and
     * avail entry k, and the list goes on from `count`. */
    uint64_t phys = q->ops->phys(q->ctx, base);
    for (uint16_t k = 0; k < count; k++) {
        q->desc[k] = (struct virtq_desc){.addr = phys + (uint64_t)k * stride, .len = len,
                                         .flags = VIRTQ_DESC_F_WRITE};
        q->slots[k].cookie = (void *)(uintptr_t)(k + 1u);
        q->slots[k].count = 1;
        q->slots[k].wlen = len;
        q->avail->ring[k] = k;
    }
    q->free_head = count < q->size ? count : VIRTQ_NONE;
    q->num_free -= count;
    q->avail_idx = count;
    q->inflight = count;
    q->stats.added += count;
    return VIRTQ_OK;
}

/*
 * A device whose used idx has reached its own avail_event, while our published idx is
 * past it, has finished everything it asked to hear about and is idle with chains
 * waiting: it owes itself a notification that the event index arithmetic says we need
 * not send. Real devices get here. QEMU 7.2's virtqueue_split_pop stores avail_event and
 * then re-reads avail->idx with no full barrier between, so when our idx store races its
 * last pop both sides read the other's old value: it goes idle, we skip the kick, and
 * no later kick crosses the stale avail_event (a virtio-net TX queue froze with 256
 * frames posted, under wrk load). The spec lets a driver notify whenever it likes. Once
 * per avail_event value: a device told at this avail_event has not run since (QEMU
 * leaves avail_event alone while a notified queue waits for its bottom half), and
 * telling it again only costs an exit.
 */
static bool device_idle_behind(const struct virtq *q, uint16_t event)
{
    return event != q->avail_published && event != q->notified_event &&
           load16(&q->used->idx) == event;
}

bool virtq_kick_prepare(struct virtq *q)
{
    uint16_t old_idx = q->avail_published;
    uint16_t new_idx = q->avail_idx;
    if (q->broken || old_idx == new_idx)
        return false;

    /* 2.7.13.3: the descriptors and ring entries written by virtq_add must be visible to
     * the device before the idx that hands them over. Release: no earlier store may pass
     * the idx store. (At most `size` chains are unpublished, so the 16-bit idx cannot
     * lap itself between two calls.) */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    store16(&q->avail->idx, new_idx);
    q->avail_published = new_idx;

    /* 2.7.13.4: the idx store must be visible before we read the device's suppression
     * state. Store-then-load is the one order x86 does not keep: without a full fence we
     * could read a stale avail_event/NO_NOTIFY while the device reads the old idx and
     * goes idle, and neither side would move again (a lost notification). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    bool notify;
    if (q->event_idx) { /* 2.7.10: notify only when the idx crossed avail_event */
        uint16_t event = load16(virtq_avail_event(q->used, q->size));
        notify = virtq_need_event(event, new_idx, old_idx);
        if (!notify && device_idle_behind(q, event)) {
            notify = true;
            q->stats.stall_kicks++;
        }
        if (notify)
            q->notified_event = event;
    } else {
        notify = !(load16(&q->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
    }
    if (notify)
        q->stats.notify++;
    else
        q->stats.suppressed++;
    return notify;
}

bool virtq_device_stalled(struct virtq *q)
{
    if (!q->event_idx || q->broken || q->avail_published == q->last_used)
        return false; /* nothing published is outstanding */
    /* No fence: kick_prepare put a full one between our idx store and any load here. */
    uint16_t event = load16(virtq_avail_event(q->used, q->size));
    if (!device_idle_behind(q, event))
        return false;
    q->notified_event = event;
    q->stats.stall_kicks++;
    return true;
}

/* Chains published and not yet returned: the most completions the device may owe us. */
static uint32_t published_inflight(const struct virtq *q)
{
    uint16_t unpublished = (uint16_t)(q->avail_idx - q->avail_published);
    return q->inflight > unpublished ? q->inflight - unpublished : 0;
}

/* How many used entries are ready, after checking the device's idx against what it can
 * possibly owe us (see "broken" in virtq.h). */
static uint16_t used_window(struct virtq *q)
{
    if (q->broken)
        return 0;
    uint16_t n = (uint16_t)(load16(&q->used->idx) - q->last_used);
    if (n > published_inflight(q)) {
        q->broken = true;
        q->stats.bad_idx++;
        return 0;
    }
    /* 2.7.14: the entries below idx must not be read before idx itself, or we could read
     * an entry the device had not yet written when it published. Acquire: later loads
     * stay after the idx load. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return n;
}

/* Return a chain's descriptors to the head of the free list. The links walked are the
 * driver's private copies, so whatever the device did to the table, this is exact. */
static void free_chain(struct virtq *q, uint16_t head)
{
    struct virtq_slot *s = &q->slots[head];
    uint16_t tail = head;
    for (uint16_t k = 1; k < s->count; k++)
        tail = q->slots[tail].next;
    q->slots[tail].next = q->free_head;
    q->free_head = head;
    q->num_free += s->count;
    q->inflight--;
    s->cookie = NULL;
    s->count = 0;
    s->wlen = 0;
}

/* With EVENT_IDX, used_event follows last_used as entries are consumed (2.7.7). */
static void track_used_event(struct virtq *q)
{
    uint16_t *ev = virtq_used_event(q->avail, q->size);
    if (q->interrupts) {
        /* Interrupt at the first completion we have not consumed. Without the update a
         * driver polling with interrupts on would leave used_event behind and the device
         * would not interrupt again until its idx came round 2^16 later. Full fence: the
         * store must be visible before our next load of used->idx, or the device could
         * publish, read the old used_event and stay quiet while we read the old idx and
         * sleep. */
        store16(ev, q->last_used);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    } else {
        /* Keep used_event one behind: the device is never 2^16 entries ahead of us, so it
         * never crosses it however long a poller runs (a fixed value would be crossed once
         * every 2^16 completions). No fence: seeing this late costs at most one spurious
         * interrupt. */
        store16(ev, (uint16_t)(q->last_used - 1));
    }
}

void *virtq_get_used(struct virtq *q, uint32_t *len)
{
    void *cookie = NULL;
    uint32_t written = 0;
    /* The window is read once: a device that keeps publishing bad entries cannot hold us
     * here, and each entry consumed is one the idx check allowed. */
    uint16_t n = used_window(q);
    if (n == 0)
        return NULL;
    while (n-- > 0 && !cookie) {
        struct virtq_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
        uint32_t id = load32(&e->id);
        uint32_t l = load32(&e->len);
        q->last_used++;
        if (id >= q->size) {
            q->stats.bad_id++;
            continue;
        }
        struct virtq_slot *s = &q->slots[id];
        if (!s->cookie) { /* not a head, a free descriptor or completed already */
            q->stats.stale_id++;
            continue;
        }
        if (l > s->wlen) { /* 2.7.8: len counts bytes written into writable buffers */
            q->stats.bad_len++;
            l = s->wlen;
        }
        cookie = s->cookie;
        written = l;
        free_chain(q, (uint16_t)id);
        q->stats.completed++;
    }
    if (q->event_idx)
        track_used_event(q);
    if (cookie && len)
        *len = written;
    return cookie;
}

void virtq_disable_interrupts(struct virtq *q)
{
    /* A hint (2.7.7): no fence, a device that has not seen it yet interrupts once more. */
    q->interrupts = false;
    if (q->event_idx) {
        store16(virtq_used_event(q->avail, q->size), (uint16_t)(q->last_used - 1));
    } else {
        q->avail_flags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
        store16(&q->avail->flags, q->avail_flags);
    }
}

bool virtq_enable_interrupts(struct virtq *q)
{
    q->interrupts = true;
    if (q->event_idx) {
        /* 2.7.7: interrupt when the used idx passes what we have consumed. */
        store16(virtq_used_event(q->avail, q->size), q->last_used);
    } else {
        q->avail_flags &= (uint16_t)~VIRTQ_AVAIL_F_NO_INTERRUPT;
        store16(&q->avail->flags, q->avail_flags);
    }
    /* Store then load again: either the device sees our request before it publishes its
     * next entry (and interrupts), or we see that entry here (and poll). Without a full
     * fence both could read the other's old value and the completion would sit unseen. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return used_window(q) == 0; /* broken: nothing will ever be pending, sleep */
}

uint32_t virtq_num_free(const struct virtq *q)
{
    return q->num_free;
}

uint32_t virtq_inflight(const struct virtq *q)
{
    return q->inflight;
}

uint32_t virtq_pending(struct virtq *q)
{
    return used_window(q);
}

bool virtq_is_broken(const struct virtq *q)
{
    return q->broken;
}

void *virtq_detach(struct virtq *q)
{
    for (uint32_t i = 0; i < q->size; i++) {
        void *cookie = q->slots[i].cookie;
        if (cookie) {
            free_chain(q, (uint16_t)i);
            return cookie;
        }
    }
    return NULL;
}

void virtq_reset(struct virtq *q)
{
    restart(q);
    q->stats.resets++;
}
