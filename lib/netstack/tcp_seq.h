/* tcp_seq.h — sequence-number arithmetic modulo 2^32 (RFC 9293 3.4). */
#ifndef NETSTACK_TCP_SEQ_H
#define NETSTACK_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

static inline bool seq_ge(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

/* a <= x < b, modulo 2^32. */
static inline bool seq_in(uint32_t x, uint32_t a, uint32_t b)
{
    return x - a < b - a;
}

static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_gt(a, b) ? a : b;
}

static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}

#endif
