#include "fake_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t frame_max(const struct fake_link *l)
{
    return l->caps.tso_max > FAKE_LINK_FRAME_MAX ? l->caps.tso_max : FAKE_LINK_FRAME_MAX;
}

static uint8_t *reserve(void *ctx, size_t len)
{
    struct fake_link *l = ctx;
    if (l->full || len > frame_max(l))
        return NULL;
    return l->slot;
}

static void log_frame(void *ctx, const uint8_t *frame, size_t len)
{
    struct fake_link *l = ctx;
    if (len > FAKE_LINK_FRAME_MAX) {
        fprintf(stderr, "fake_link: a %zu-byte frame is over the link's MTU\n", len);
        abort();
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->frames = realloc(l->frames, l->cap * sizeof(*l->frames));
        if (!l->frames)
            abort();
    }
    struct fake_frame *f = &l->frames[l->n++];
    f->ts = l->clock ? *l->clock : 0;
    f->len = len;
    memcpy(f->data, frame, len);
}

static void commit(void *ctx, uint8_t *frame, size_t len, const struct net_offload *off)
{
    struct fake_link *l = ctx;
    if (frame != l->slot || len > frame_max(l)) {
        fprintf(stderr, "fake_link: commit of a buffer that was not reserved\n");
        abort(); /* a programmer error in the stack: fail the test loudly */
    }
    if (!off) {
        log_frame(l, frame, len);
    } else if ((off->csum_offset && !l->caps.tx_csum) || (off->gso_size && !l->caps.tso_max) ||
               gso_finish(frame, len, off, log_frame, l) < 0) {
        fprintf(stderr, "fake_link: an offload the link did not offer or cannot do\n");
        abort();
    } else {
        l->bursts += off->gso_size != 0;
    }
    /* Poison the slot so a layer that keeps using a committed buffer shows up in diffs. */
    memset(l->slot, 0xa5, len);
}

const struct net_dev_ops fake_link_ops = {.reserve = reserve, .commit = commit};

void fake_link_init(struct fake_link *l, const uint64_t *clock)
{
    memset(l, 0, sizeof(*l));
    l->clock = clock;
}

void fake_link_free(struct fake_link *l)
{
    free(l->frames);
    memset(l, 0, sizeof(*l));
}

const struct fake_frame *fake_link_next(struct fake_link *l)
{
    return l->taken < l->n ? &l->frames[l->taken++] : NULL;
}

size_t fake_link_pending(const struct fake_link *l)
{
    return l->n - l->taken;
}

void fake_link_clear(struct fake_link *l)
{
    l->n = 0;
    l->taken = 0;
}
