/*
 * tcp_sendq.c — the send queue: bytes copied into the connection's ring, and runs of
 * bytes the application keeps in place (tcp_send_static), in the order they were
 * queued. Output reads any stretch of it as a few slices; ACKs consume it from the front.
 */
#include <string.h>

#include "tcp_internal.h"

/* The queue holds at most this much, so sequence arithmetic never sees half the space. */
#define QUEUE_MAX (1u << 30)

/* Record `len` more bytes at the back (before tx_len counts them): the last run grows
 * when it is of the same kind and place, or a new one starts. */
static bool push_span(struct tcp_conn *c, const uint8_t *ext, uint32_t len)
{
    if (!c->n_spans) {
        if (!ext)
            return true; /* all ring: no list needed */
        if (c->tx_len) /* what is queued so far is ring bytes: the first run */
            c->spans[c->n_spans++] = (struct tcp_span){NULL, c->tx_len};
    }
    struct tcp_span *last = c->n_spans ? &c->spans[c->n_spans - 1] : NULL;
    if (last && (ext ? last->ext && last->ext + last->len == ext : !last->ext)) {
        last->len += len;
        return true;
    }
    if (c->n_spans == TCP_SPANS_MAX)
        return false;
    c->spans[c->n_spans++] = (struct tcp_span){ext, len};
    return true;
}

uint32_t tcp_sendq_room(const struct tcp_conn *c)
{
    if (c->n_spans == TCP_SPANS_MAX && c->spans[TCP_SPANS_MAX - 1].ext)
        return 0; /* ring bytes would need a run of their own */
    uint32_t room = c->tx_size - c->ring_len;
    uint32_t left = QUEUE_MAX - c->tx_len;
    return room < left ? room : left;
}

uint32_t tcp_sendq_copy(struct tcp_conn *c, const void *data, size_t len)
{
    uint32_t room = tcp_sendq_room(c);
    uint32_t n = len < room ? (uint32_t)len : room;
    if (!n)
        return 0;
    uint32_t at = (c->tx_head + c->ring_len) % c->tx_size;
    uint32_t first = n < c->tx_size - at ? n : c->tx_size - at;
    memcpy(c->tx + at, data, first);
    memcpy(c->tx, (const uint8_t *)data + first, n - first);
    push_span(c, NULL, n); /* cannot fail: room said the last run is ring or one is free */
    c->ring_len += n;
    c->tx_len += n;
    return n;
}

bool tcp_sendq_static(struct tcp_conn *c, const void *data, size_t len)
{
    if (!len)
        return true; /* nothing to queue: no run spent on it */
    if (len > QUEUE_MAX - c->tx_len || !push_span(c, data, (uint32_t)len))
        return false;
    c->tx_len += (uint32_t)len;
    return true;
}

void tcp_sendq_consume(struct tcp_conn *c, uint32_t n)
{
    c->tx_len -= n;
    if (!c->n_spans) {
        c->tx_head = (c->tx_head + n) % c->tx_size;
        c->ring_len -= n;
        return;
    }
    uint8_t gone = 0;
    while (n) {
        struct tcp_span *s = &c->spans[gone];
        uint32_t take = n < s->len ? n : s->len;
        if (s->ext) {
            s->ext += take;
        } else {
            c->tx_head = (c->tx_head + take) % c->tx_size;
            c->ring_len -= take;
        }
        s->len -= take;
        n -= take;
        gone += s->len == 0;
    }
    c->n_spans = (uint8_t)(c->n_spans - gone);
    memmove(c->spans, c->spans + gone, c->n_spans * sizeof(c->spans[0]));
    if (c->n_spans == 1 && !c->spans[0].ext)
        c->n_spans = 0; /* back to all ring */
}

/* Ring bytes [at, at + len) of the ring's contents: one slice, or two where the ring
 * wraps and `max` allows. Returns the bytes covered. */
static uint32_t ring_slices(const struct tcp_conn *c, uint32_t at, uint32_t len,
                            struct net_iov *iov, size_t max, size_t *n)
{
    uint32_t pos = (c->tx_head + at) % c->tx_size;
    uint32_t first = len < c->tx_size - pos ? len : c->tx_size - pos;
    iov[(*n)++] = (struct net_iov){c->tx + pos, first};
    if (first == len || *n == max)
        return first;
    iov[(*n)++] = (struct net_iov){c->tx, len - first};
    return len;
}

uint32_t tcp_sendq_slices(const struct tcp_conn *c, uint32_t off, uint32_t len,
                          struct net_iov *iov, size_t max, size_t *n)
{
    *n = 0;
    if (!len || !max)
        return 0;
    if (!c->n_spans)
        return ring_slices(c, off, len, iov, max, n);
    uint32_t ring_at = 0, got = 0;
    for (uint8_t i = 0; i < c->n_spans && got < len && *n < max; i++) {
        const struct tcp_span *s = &c->spans[i];
        if (off >= s->len) { /* before the stretch */
            off -= s->len;
            ring_at += s->ext ? 0 : s->len;
            continue;
        }
        uint32_t take = s->len - off < len - got ? s->len - off : len - got;
        if (s->ext) {
            iov[(*n)++] = (struct net_iov){s->ext + off, take};
        } else {
            uint32_t covered = ring_slices(c, ring_at + off, take, iov, max, n);
            if (covered < take)
                return got + covered; /* out of slices mid-run */
            ring_at += s->len;
        }
        got += take;
        off = 0;
    }
    return got;
}
