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
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint32_t)((s & 0xffff) + (s >> 16));
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

/* A folded native-order sum as the big-endian one it stands for (RFC 1071 2(B)). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static uint32_t native_to_be(uint32_t folded)
{
    return ((folded >> 8) | (folded << 8)) & 0xffff;
}
#else
static uint32_t native_to_be(uint32_t folded)
{
    return folded;
}
#endif

/*
 * Bytes are summed as big-endian 16-bit words. A call that ends on an odd byte leaves
 * the next call starting on the low half of a word; `odd` carries that across calls so
 * a header and a payload split anywhere sum like one buffer (RFC 1071 section 2).
 *
 * The bulk goes 32 bytes a turn through sum_words (the checksum was two thirds of a bulk
 * transfer's CPU time when read two bytes at a time). Ones'-complement sums are
 * independent of byte order up to one final swap (RFC 1071 2(B)), so a little-endian
 * machine sums as it loads and swaps the result.
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
    uint64_t a = sum_words(p, len / 32);
    p += len & ~(size_t)31;
    len &= 31;
    for (; len >= 4; p += 4, len -= 4) {
        uint32_t w;
        load(&w, p, 4);
        a += w;
    }
    sum += native_to_be(fold(a));
    for (; len >= 2; p += 2, len -= 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (len) {
        sum += (uint32_t)p[0] << 8;
        c->odd = 1;
    }
    c->sum = fold(sum);
}

void csum_add16(struct csum *c, uint16_t v)
{
    /* On an even boundary a word adds as it is; after an odd byte its halves swap. */
    uint32_t w = c->odd ? (uint32_t)((v >> 8) | ((v & 0xff) << 8)) : v;
    c->sum = fold((uint64_t)c->sum + w);
}

void csum_add_words(struct csum *c, uint32_t sum)
{
    csum_add16(c, (uint16_t)fold(sum));
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

void csum_offload_finish(uint8_t *buf, size_t len, const struct net_offload *off)
{
    size_t at = (size_t)off->csum_start + off->csum_offset;
    if (!off->csum_offset || at + 2 > len)
        return;
    /* The field holds the pseudo-header sum, so the sum from csum_start covers it all. */
    net_put16(buf + at, csum_buf(buf + off->csum_start, len - off->csum_start));
}
