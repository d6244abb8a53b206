#include "netstack/checksum.h"

#include <string.h>

void csum_init(struct csum *c)
{
    c->sum = 0;
    c->odd = 0;
}

/* An unaligned load. The kernel builds with -fno-builtin, where a plain memcpy is a call
 * per word: it was most of the checksum's time under an emulating hypervisor. */
#define load(dst, src, n) __builtin_memcpy(dst, src, n)

/* Fold a 64-bit ones'-complement accumulator to 16 bits, carries wrapped around. */
static uint32_t fold(uint64_t s)
{
    uint32_t lo = (uint32_t)s, hi = (uint32_t)(s >> 32);
    lo += hi;
    lo += lo < hi; /* the end-around carry of the 32-bit add */
    uint32_t x = (lo & 0xffff) + (lo >> 16);
    return (x & 0xffff) + (x >> 16);
}

/*
 * sum_words: `blocks` runs of 32 bytes as native-order words into a ones'-complement sum.
 * 2^64 and 2^32 are 1 modulo 2^16 - 1, so carries out of the top are added back in
 * (end-around carry) and the result folds to the same 16 bits whatever the word width.
 * On x86-64 an add-with-carry chain takes 8 bytes an instruction: a hypervisor that
 * emulates the guest instruction by instruction (this machine's PVM) charges per
 * instruction, and the checksum was the largest part of a request there. Elsewhere,
 * 32-bit words into two 64-bit accumulators. The test suite builds both
 * (test_checksum_portable.c defines CSUM_PORTABLE).
 */
#if defined(__x86_64__) && !defined(CSUM_PORTABLE)
static uint64_t sum_words(const uint8_t *p, size_t blocks)
{
    uint64_t sum = 0;
    if (!blocks)
        return 0;
    /* dec and lea leave the carry flag alone, so the chain runs across turns. */
    __asm__("clc\n"
            "1: adcq 0(%[p]), %[sum]\n"
            "   adcq 8(%[p]), %[sum]\n"
            "   adcq 16(%[p]), %[sum]\n"
            "   adcq 24(%[p]), %[sum]\n"
            "   lea 32(%[p]), %[p]\n"
            "   dec %[n]\n"
            "   jnz 1b\n"
            "   adcq $0, %[sum]\n"
            : [sum] "+r"(sum), [p] "+r"(p), [n] "+r"(blocks)
            : "m"(*(const uint8_t(*)[])p)
            : "cc");
    return (sum & 0xffffffffu) + (sum >> 32);
}
#else
static uint64_t sum_words(const uint8_t *p, size_t blocks)
{
    uint64_t a = 0, b = 0; /* each gains < 2^34 per turn */
    for (; blocks; blocks--, p += 32) {
        uint32_t w[8];
        load(w, p, 32);
        a += (uint64_t)w[0] + w[1] + w[2] + w[3];
        b += (uint64_t)w[4] + w[5] + w[6] + w[7];
    }
    return (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32);
}
#endif

/* a + w with the carry out of bit 63 added back in (end-around, as in sum_words). */
static uint64_t add64(uint64_t a, uint64_t w)
{
    a += w;
    return a + (a < w);
}

/* The 16-bit word a lone trailing byte starts, in native order: its high half on the
 * wire (RFC 1071 4.1 pads with a zero byte). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LAST_BYTE(b) ((uint32_t)(b))
#else
#define LAST_BYTE(b) ((uint32_t)(b) << 8)
#endif

/*
 * `len` bytes as native-order 16-bit words, unfolded. Bulk goes 32 bytes a turn through
 * sum_words (the checksum was two thirds of a bulk transfer's CPU time when read two
 * bytes at a time), the rest in at most one step of each size. Most calls are headers of
 * 20 to 60 bytes, so there is no loop for the tail and one fold at the end.
 */
static uint64_t sum_native(const uint8_t *p, size_t len)
{
    uint64_t a = sum_words(p, len / 32);
    p += len & ~(size_t)31;
    if (len & 16) {
        uint64_t w[2];
        load(w, p, 16);
        a = add64(add64(a, w[0]), w[1]);
        p += 16;
    }
    if (len & 8) {
        uint64_t w;
        load(&w, p, 8);
        a = add64(a, w);
        p += 8;
    }
    len &= 7;
    if (len >= 4) {
        uint32_t w;
        load(&w, p, 4);
        a = add64(a, w);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        load(&w, p, 2);
        a = add64(a, w);
        p += 2;
        len -= 2;
    }
    if (len)
        a = add64(a, LAST_BYTE(*p));
    return a;
}

/*
 * A folded native-order sum as the big-endian one it stands for. Ones'-complement sums
 * are independent of byte order up to one final swap (RFC 1071 2(B)); bytes that start
 * on the odd half of a word pair up the other way round, which is the same swap again,
 * so at an odd position a little-endian machine adds its native sum as it is.
 */
static uint32_t swap16(uint32_t folded)
{
    return ((folded >> 8) | (folded << 8)) & 0xffff;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define AS_BE(folded, odd) ((odd) ? (folded) : swap16(folded))
#else
#define AS_BE(folded, odd) ((odd) ? swap16(folded) : (folded))
#endif

/*
 * Bytes are summed as big-endian 16-bit words. A call that ends on an odd byte leaves
 * the next call starting on the low half of a word; `odd` carries that across calls so
 * a header and a payload split anywhere sum like one buffer (RFC 1071 section 2). The
 * running sum stays below 2^17: one partial fold per call, the rest in csum_finish.
 */
void csum_add(struct csum *c, const void *data, size_t len)
{
    uint32_t s = c->sum + AS_BE(fold(sum_native(data, len)), c->odd);
    c->sum = (s & 0xffff) + (s >> 16);
    c->odd ^= (int)(len & 1);
}

void csum_add16(struct csum *c, uint16_t v)
{
    /* On an even boundary a word adds as it is; after an odd byte its halves swap. */
    uint32_t s = c->sum + (c->odd ? swap16(v) : v);
    c->sum = (s & 0xffff) + (s >> 16);
}

void csum_add_words(struct csum *c, uint32_t sum)
{
    csum_add16(c, (uint16_t)fold(sum));
}

uint16_t csum_finish(const struct csum *c)
{
    return (uint16_t)~fold(c->sum);
}

uint16_t csum_buf(const void *data, size_t len)
{
    return (uint16_t)~AS_BE(fold(sum_native(data, len)), 0);
}

uint16_t csum_buf_seeded(const void *data, size_t len, uint32_t words)
{
    uint32_t s = AS_BE(fold(sum_native(data, len)), 0) + fold(words);
    return (uint16_t)~((s & 0xffff) + (s >> 16));
}

uint16_t csum_replace16(uint16_t csum, uint16_t old, uint16_t new_)
{
    uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~old + new_;
    return (uint16_t)~fold(s);
}

uint16_t csum_iov(const struct net_iov *iov, size_t n)
{
    struct csum c;
    csum_init(&c);
    for (size_t i = 0; i < n; i++)
        csum_add(&c, iov[i].base, iov[i].len);
    return csum_finish(&c);
}

void csum_offload_finish(uint8_t *buf, size_t len, const struct net_offload *off)
{
    size_t at = (size_t)off->csum_start + off->csum_offset;
    if (!off->csum_offset || at + 2 > len)
        return;
    /* The field holds the pseudo-header sum, so the sum from csum_start covers it all. */
    net_put16(buf + at, csum_buf(buf + off->csum_start, len - off->csum_start));
}
