#include "netstack/siphash.h"

/*
 * SipHash-2-4 as in the paper (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): two compression rounds per 8-byte word, four finalization rounds. Message words
 * and the key are little-endian, as in the reference code, so the published test vectors
 * hold whatever the host's byte order.
 */

static uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

/* Bytes to a little-endian word; reads byte by byte so any alignment works. */
static uint64_t get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl(v[2], 32);
}

static void compress(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

uint64_t siphash24(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    /* "somepseudorandomlygeneratedbytes", the paper's initialisation constants. */
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575ull, key[1] ^ 0x646f72616e646f6dull,
                     key[0] ^ 0x6c7967656e657261ull, key[1] ^ 0x7465646279746573ull};
    size_t left = len;

    for (; left >= 8; left -= 8, p += 8)
        compress(v, get_le(p, 8));
    /* The last word holds the remaining bytes and, in its top byte, len mod 256. */
    compress(v, get_le(p, left) | (uint64_t)(len & 0xff) << 56);

    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
