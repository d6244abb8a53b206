#include "netstack/checksum.h"

void csum_init(struct csum *c)
{
    c->sum = 0;
    c->odd = 0;
}

/*
 * Bytes are summed as big-endian 16-bit words. A call that ends on an odd byte leaves
 * the next call starting on the low half of a word; `odd` carries that across calls so
 * a header and a payload split anywhere sum like one buffer (RFC 1071 section 2).
 */
void csum_add(struct csum *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t sum = c->sum;

    if (len && c->odd) {
        sum += *p++;
        len--;
        c->odd = 0;
    }
    while (len >= 2) {
        sum += (uint32_t)(p[0] << 8 | p[1]);
        p += 2;
        len -= 2;
    }
    if (len) {
        sum += (uint32_t)p[0] << 8;
        c->odd = 1;
    }
    while (sum >> 32)
        sum = (sum & 0xffffffffu) + (sum >> 32);
    /* Fold to keep headroom for the next call's additions. */
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    c->sum = (uint32_t)sum;
}

void csum_add16(struct csum *c, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    csum_add(c, b, 2);
}

uint16_t csum_finish(const struct csum *c)
{
    uint32_t sum = c->sum;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t csum_buf(const void *data, size_t len)
{
    struct csum c;
    csum_init(&c);
    csum_add(&c, data, len);
    return csum_finish(&c);
}

uint16_t csum_iov(const struct net_iov *iov, size_t n)
{
    struct csum c;
    csum_init(&c);
    for (size_t i = 0; i < n; i++)
        csum_add(&c, iov[i].base, iov[i].len);
    return csum_finish(&c);
}
