#include "logring.h"

#include <string.h>

void logring_init(struct logring *r, char *buf, size_t size)
{
    r->buf = buf;
    r->size = size;
    r->head = r->tail = 0;
}

size_t logring_used(const struct logring *r)
{
    return (size_t)(r->head - r->tail);
}

size_t logring_room(const struct logring *r)
{
    return r->size - logring_used(r);
}

bool logring_put(struct logring *r, const char *p, size_t n)
{
    if (n > logring_room(r))
        return false;
    size_t at = (size_t)(r->head % r->size);
    size_t first = n < r->size - at ? n : r->size - at; /* up to the end, then the wrap */
    memcpy(r->buf + at, p, first);
    memcpy(r->buf, p + first, n - first);
    r->head += n; /* last: an interrupted put leaves nothing half-visible */
    return true;
}

size_t logring_peek(const struct logring *r, char *out, size_t max)
{
    size_t n = logring_used(r);
    if (n > max)
        n = max;
    size_t at = (size_t)(r->tail % r->size);
    size_t first = n < r->size - at ? n : r->size - at;
    memcpy(out, r->buf + at, first);
    memcpy(out + first, r->buf, n - first);
    return n;
}

void logring_consume(struct logring *r, size_t n)
{
    size_t used = logring_used(r);
    r->tail += n < used ? n : used;
}
