/*
 * checksum.h — the Internet checksum (RFC 1071) over flat buffers and scatter lists.
 *
 * Sums are accumulated in 32 bits of ones'-complement partial sums and folded at the
 * end, so a header and a payload held in different places can be summed without
 * copying them together. Results are host-order 16-bit values ready for net_put16().
 */
#ifndef NETSTACK_CHECKSUM_H
#define NETSTACK_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/net.h"

/* Add `len` bytes to a running sum. `odd` tracks byte parity across calls. */
struct csum {
    uint32_t sum;
    int odd;
};

void csum_init(struct csum *c);
void csum_add(struct csum *c, const void *data, size_t len);
void csum_add16(struct csum *c, uint16_t v);
/* Add a sum of 16-bit words (up to 65536 of them) computed by the caller, folded once. */
void csum_add_words(struct csum *c, uint32_t sum);
/* The folded, complemented checksum to store in a header. */
uint16_t csum_finish(const struct csum *c);

/* One-shot over a buffer; 0 means a buffer that already carries its checksum is valid. */
uint16_t csum_buf(const void *data, size_t len);
/* The same with `words`, a sum of host-order 16-bit words (a pseudo-header's, up to
 * 65536 of them), added in: one call, one fold, for a segment checked on arrival. */
uint16_t csum_buf_seeded(const void *data, size_t len, uint32_t words);
uint16_t csum_iov(const struct net_iov *iov, size_t n);
/* A checksum field `csum` updated for one 16-bit word of what it covers changing from
 * `old` to `new_` (RFC 1624 eqn. 3), without summing the rest again. The same value a
 * full sum gives, except 0000 where that gives ffff (bytes all zero): both verify. */
uint16_t csum_replace16(uint16_t csum, uint16_t old, uint16_t new_);

/* True when the 20 bytes at `p`, an IPv4 header without options, carry a valid checksum
 * (csum_buf would return 0): their ten words sum to ffff. Inline, as three loads and a
 * fold, because every packet received is checked with it. */
static inline bool csum_hdr20_ok(const uint8_t *p)
{
    uint64_t a, b, s;
    uint32_t c;
    __builtin_memcpy(&a, p, 8);
    __builtin_memcpy(&b, p + 8, 8);
    __builtin_memcpy(&c, p + 16, 4);
    s = a + b;
    s += s < b; /* end-around carries: 2^64 is 1 modulo ffff */
    s += c;
    s += s < c;
    uint32_t lo = (uint32_t)s, hi = (uint32_t)(s >> 32);
    lo += hi;
    lo += lo < hi;
    uint32_t x = (lo & 0xffff) + (lo >> 16);
    return (x & 0xffff) + (x >> 16) == 0xffff; /* ffff either way round: byte order aside */
}

/* Do in software what `off` asked of a device (its checksum; never segmentation): for a
 * link that cannot, or a frame that waits in a queue and leaves without its request. */
void csum_offload_finish(uint8_t *buf, size_t len, const struct net_offload *off);

#endif
