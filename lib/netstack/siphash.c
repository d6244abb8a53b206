#include "netstack/siphash.h"

/*
 * SipHash-2-4 as in the paper (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): two compression rounds per 8-byte word, four finalization rounds. Message words
 * and the key are little-endian, as in the reference code, so the published test vectors
 * hold whatever the host's byte order.
 *
 * The state lives in four locals and a round is a macro, so it stays in registers: with
 * the state in an array and a round a function, a 12-byte hash (every connection takes
 * two, for its ISN and its timestamp offset) cost five times as many instructions.
 */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND()                                                                             \
    do {                                                                                       \
        v0 += v1;                                                                              \
        v1 = ROTL(v1, 13);                                                                     \
        v1 ^= v0;                                                                              \
        v0 = ROTL(v0, 32);                                                                     \
        v2 += v3;                                                                              \
        v3 = ROTL(v3, 16);                                                                     \
        v3 ^= v2;                                                                              \
        v0 += v3;                                                                              \
        v3 = ROTL(v3, 21);                                                                     \
        v3 ^= v0;                                                                              \
        v2 += v1;                                                                              \
        v1 = ROTL(v1, 17);                                                                     \
        v1 ^= v2;                                                                              \
        v2 = ROTL(v2, 32);                                                                     \
    } while (0)

/* Eight bytes as a little-endian word; any alignment (compilers make this one load). */
static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* The last 0 to 7 bytes as a little-endian word. */
static uint64_t get_le_tail(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t siphash24(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    /* "somepseudorandomlygeneratedbytes", the paper's initialisation constants. */
    uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
    size_t left = len;

    for (; left >= 8; left -= 8, p += 8) {
        uint64_t m = get_le64(p);
        v3 ^= m;
        SIPROUND();
        SIPROUND();
        v0 ^= m;
    }
    /* The last word holds the remaining bytes and, in its top byte, len mod 256. */
    uint64_t m = get_le_tail(p, left) | (uint64_t)(len & 0xff) << 56;
    v3 ^= m;
    SIPROUND();
    SIPROUND();
    v0 ^= m;

    v2 ^= 0xff;
    SIPROUND();
    SIPROUND();
    SIPROUND();
    SIPROUND();
    return v0 ^ v1 ^ v2 ^ v3;
}
