#include "coninput.h"

void coninput_init(struct coninput *in, char *buf, size_t size)
{
    logring_init(&in->ring, buf, size);
    in->lost = false;
    in->lost_from = in->lost_to = 0;
    in->dropped = 0;
}

void coninput_put(struct coninput *in, char b)
{
    size_t need = (b == '\r' || b == '\n') ? 1 : 2; /* one byte is kept for a line end */
    if (logring_room(&in->ring) >= need && logring_put(&in->ring, &b, 1))
        return;
    in->dropped++;
    /* The next byte queued takes position `head`: it is the first after this gap. */
    if (!in->lost)
        in->lost_from = in->ring.head;
    in->lost = true;
    in->lost_to = in->ring.head;
}

size_t coninput_take(struct coninput *in, char *out, bool *after_loss, size_t max)
{
    uint64_t first = in->ring.tail;
    size_t n = logring_peek(&in->ring, out, max);
    logring_consume(&in->ring, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t pos = first + i;
        after_loss[i] = in->lost && pos >= in->lost_from && pos <= in->lost_to;
    }
    /* Every byte up to the one after the latest gap is taken: nothing more to mark. */
    if (in->lost && in->lost_to < first + n)
        in->lost = false;
    return n;
}
