/*
 * test_checksum.c — the Internet checksum (RFC 1071).
 *
 * Known values are worked by hand (and checked against RFC 1071's own example), so a
 * byte-order or carry bug cannot agree with itself. The split and scatter tests then hold
 * the incremental paths to the one-shot result at every boundary, odd and even.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "frames.h"
#include "netstack/checksum.h"

/* RFC 1071 section 3, "Numerical Examples": these bytes sum to ddf2 (after the end-around
 * carry), so the checksum is its complement, 220d. */
static const uint8_t rfc1071_bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

/* The IPv4 header Wikipedia works through: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8
 * 00c7 (UDP, 192.168.0.1 -> 192.168.0.199) with its checksum field b861 zeroed. */
static const uint8_t ipv4_hdr_zeroed[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
                                          0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
                                          0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

/* Bytes with no structure, so a mis-summed boundary shows up in the result. */
static void fill_noise(uint8_t *buf, size_t len)
{
    uint32_t x = 0x12345678;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

Test(checksum, matches_rfc1071_section3_example)
{
    cr_assert_eq(csum_buf(rfc1071_bytes, sizeof(rfc1071_bytes)), 0x220d);
}

Test(checksum, matches_a_known_ipv4_header_checksum)
{
    cr_assert_eq(csum_buf(ipv4_hdr_zeroed, sizeof(ipv4_hdr_zeroed)), 0xb861);
}

Test(checksum, of_nothing_is_all_ones)
{
    cr_assert_eq(csum_buf(NULL, 0), 0xffff);
    struct net_iov none[1] = {{NULL, 0}};
    cr_assert_eq(csum_iov(none, 0), 0xffff);
    cr_assert_eq(csum_iov(none, 1), 0xffff);
}

Test(checksum, pads_odd_length_with_a_zero_byte)
{
    /* A trailing byte is the high half of a word (RFC 1071 section 4.1: "if (count > 0)
     * sum += *(unsigned char *)addr" on a big-endian reading). */
    static const uint8_t one[] = {0x01};
    cr_assert_eq(csum_buf(one, 1), 0xfeff);
    /* 0001 + f203 + f4f5 + f600 = 2dcf9 -> dcfb -> complement 2304. */
    cr_assert_eq(csum_buf(rfc1071_bytes, 7), 0x2304);
}

Test(checksum, folds_the_end_around_carry)
{
    /* ffff + 0001 = 10000, which folds to 0001: a sum that dropped the carry gives ffff. */
    static const uint8_t carry[] = {0xff, 0xff, 0x00, 0x01};
    cr_assert_eq(csum_buf(carry, sizeof(carry)), 0xfffe);
}

Test(checksum, does_not_overflow_on_the_largest_datagram)
{
    static uint8_t ones[65536];
    memset(ones, 0xff, sizeof(ones));
    /* Every ffff word is ones'-complement zero, so only a trailing odd byte counts. */
    cr_assert_eq(csum_buf(ones, 65536), 0x0000);
    cr_assert_eq(csum_buf(ones, 65535), 0x00ff);
}

Test(checksum, split_anywhere_equals_one_shot)
{
    uint8_t buf[41];
    fill_noise(buf, sizeof(buf));
    uint16_t whole = csum_buf(buf, sizeof(buf));

    /* Three pieces cut at every pair of points: odd/even starts, empty pieces included. */
    for (size_t i = 0; i <= sizeof(buf); i++) {
        for (size_t j = i; j <= sizeof(buf); j++) {
            struct csum c;
            csum_init(&c);
            csum_add(&c, buf, i);
            csum_add(&c, buf + i, j - i);
            csum_add(&c, buf + j, sizeof(buf) - j);
            cr_assert_eq(csum_finish(&c), whole, "cut at %zu and %zu", i, j);
        }
    }
}

Test(checksum, byte_at_a_time_equals_one_shot)
{
    uint8_t buf[33];
    fill_noise(buf, sizeof(buf));
    struct csum c;
    csum_init(&c);
    for (size_t i = 0; i < sizeof(buf); i++)
        csum_add(&c, buf + i, 1);
    cr_assert_eq(csum_finish(&c), csum_buf(buf, sizeof(buf)));
}

Test(checksum, add16_is_the_same_as_two_bytes)
{
    /* What a pseudo-header needs: fields added as values, not as memory. */
    struct csum c;
    csum_init(&c);
    csum_add16(&c, 0x0001);
    csum_add16(&c, 0xf203);
    csum_add(&c, rfc1071_bytes + 4, 4);
    cr_assert_eq(csum_finish(&c), 0x220d);
}

Test(checksum, word_at_a_time_agrees_with_a_byte_by_byte_sum_at_every_length_and_alignment)
{
    /* The fast path loads 16 and 4 bytes at a time; fr_csum (harness) adds byte pairs. */
    static uint8_t buf[2048 + 8];
    fill_noise(buf, sizeof(buf));
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= 2048; len += len < 80 ? 1 : 37)
            cr_assert_eq(csum_buf(buf + off, len), fr_csum(buf + off, len),
                         "length %zu at offset %zu", len, off);
}

Test(checksum, add16_after_an_odd_byte_continues_the_byte_stream)
{
    static const uint8_t bytes[] = {0x12, 0xab, 0xcd, 0x34};
    struct csum c;
    csum_init(&c);
    csum_add(&c, bytes, 1);
    csum_add16(&c, 0xabcd);
    csum_add(&c, bytes + 3, 1);
    cr_assert_eq(csum_finish(&c), csum_buf(bytes, sizeof(bytes)));
}

Test(checksum, finish_leaves_the_sum_usable)
{
    struct csum c;
    csum_init(&c);
    csum_add(&c, rfc1071_bytes, 4);
    cr_assert_eq(csum_finish(&c), csum_buf(rfc1071_bytes, 4));
    csum_add(&c, rfc1071_bytes + 4, 4);
    cr_assert_eq(csum_finish(&c), 0x220d);
}

Test(checksum, iov_equals_flat_buffer)
{
    uint8_t buf[64];
    fill_noise(buf, sizeof(buf));
    /* Odd pieces and an empty one, the way a header plus a payload lands in memory. */
    const size_t cuts[] = {3, 0, 5, 1, 20, 7, 28};
    struct net_iov iov[7];
    size_t off = 0;
    for (size_t i = 0; i < 7; i++) {
        iov[i] = (struct net_iov){buf + off, cuts[i]};
        off += cuts[i];
    }
    cr_assert_eq(off, sizeof(buf));
    cr_assert_eq(csum_iov(iov, 7), csum_buf(buf, sizeof(buf)));
    cr_assert_eq(csum_iov(iov, 3), csum_buf(buf, 8));
}

Test(checksum, buffer_carrying_its_checksum_verifies_to_zero)
{
    uint8_t hdr[sizeof(ipv4_hdr_zeroed)];
    memcpy(hdr, ipv4_hdr_zeroed, sizeof(hdr));
    uint16_t sum = csum_buf(hdr, sizeof(hdr));
    hdr[10] = (uint8_t)(sum >> 8);
    hdr[11] = (uint8_t)sum;
    cr_assert_eq(csum_buf(hdr, sizeof(hdr)), 0);

    /* The same holds through the scatter path, for an odd total with the field inside. */
    uint8_t msg[37];
    fill_noise(msg, sizeof(msg));
    msg[2] = msg[3] = 0;
    sum = csum_buf(msg, sizeof(msg));
    msg[2] = (uint8_t)(sum >> 8);
    msg[3] = (uint8_t)sum;
    struct net_iov iov[2] = {{msg, 8}, {msg + 8, sizeof(msg) - 8}};
    cr_assert_eq(csum_iov(iov, 2), 0);

    /* ...and any damage shows. */
    msg[20] ^= 0x10;
    cr_assert_neq(csum_buf(msg, sizeof(msg)), 0);
}

Test(checksum, a_sum_of_words_adds_like_the_words_one_by_one)
{
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        struct csum a, b;
        csum_init(&a);
        csum_init(&b);
        if (round % 2) { /* after an odd byte too */
            csum_add(&a, "\x7f", 1);
            csum_add(&b, "\x7f", 1);
        }
        uint32_t sum = 0;
        for (int k = 0; k < 1 + round % 9; k++) {
            x = x * 1103515245u + 12345u;
            uint16_t w = (uint16_t)(x >> 8);
            sum += w;
            csum_add16(&a, w);
        }
        csum_add_words(&b, sum);
        cr_assert_eq(csum_finish(&b), csum_finish(&a), "round %d", round);
    }
}

/* A pseudo-header's sum of 16-bit words plus the segment, the way tcp_checksum adds them. */
static uint16_t seeded_by_parts(const uint8_t *buf, size_t len, uint32_t words)
{
    struct csum c;
    csum_init(&c);
    csum_add_words(&c, words);
    csum_add(&c, buf, len);
    return csum_finish(&c);
}

Test(checksum, seeded_one_shot_equals_words_then_bytes_at_every_length_and_alignment)
{
    static uint8_t buf[1600 + 8];
    fill_noise(buf, sizeof(buf));
    /* Seeds as a pseudo-header gives them, and extremes: none, all ones, near 2^32. */
    static const uint32_t seeds[] = {0, 1, 0xffff, 0x10000, 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6,
                                     0x3fffc, 0xfffffffe, 0xffffffff};
    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
        for (size_t off = 0; off < 8; off++)
            for (size_t len = 0; len <= 1600; len += len < 100 ? 1 : 53)
                cr_assert_eq(csum_buf_seeded(buf + off, len, seeds[s]),
                             seeded_by_parts(buf + off, len, seeds[s]),
                             "length %zu at offset %zu, seed %#x", len, off, seeds[s]);
}

Test(checksum, seeded_sum_of_a_valid_segment_is_zero)
{
    /* What tcp_parse asks: a segment carrying its checksum sums to zero with the seed. */
    uint8_t seg[61];
    fill_noise(seg, sizeof(seg));
    for (size_t len = 2; len <= sizeof(seg); len++) {
        uint32_t words = 0x0a000001 >> 16;
        net_put16(seg, 0);
        net_put16(seg, seeded_by_parts(seg, len, words));
        cr_assert_eq(csum_buf_seeded(seg, len, words), 0, "length %zu", len);
        seg[len - 1] ^= 0x10;
        cr_assert_neq(csum_buf_seeded(seg, len, words), 0, "damage missed at length %zu", len);
        seg[len - 1] ^= 0x10;
    }
}

Test(checksum, replace16_equals_summing_again)
{
    /* RFC 1624 eqn. 3: one word changed, the checksum updated, against a full sum. */
    uint8_t buf[75];
    fill_noise(buf, sizeof(buf));
    for (size_t len = 2; len <= sizeof(buf); len++) {
        for (size_t at = 0; at + 2 <= len; at += 2) {
            for (unsigned k = 0; k < 8; k++) {
                uint16_t old = net_get16(buf + at), now = (uint16_t)(k * 0x2493u + old * 3u);
                if (k == 0)
                    now = 0; /* the echo reply's case: 0x0800 -> 0x0000 */
                uint16_t before = csum_buf(buf, len);
                net_put16(buf + at, now);
                uint16_t after = csum_replace16(before, old, now), full = csum_buf(buf, len);
                /* The same number, though ones' complement has two zeros: bytes that are
                 * all zero sum to +0 (field ffff), which an update cannot tell from -0. */
                cr_assert(after == full || (after == 0 && full == 0xffff),
                          "length %zu, word at %zu, %#x -> %#x: %#x, not %#x", len, at, old, now,
                          after, full);
                net_put16(buf + at, old);
            }
        }
    }
}

Test(checksum, hdr20_ok_agrees_with_csum_buf_on_valid_and_damaged_headers)
{
    uint8_t h[20 + 8];
    for (size_t off = 0; off < 8; off++) {
        for (unsigned k = 0; k < 64; k++) {
            uint8_t *p = h + off;
            fill_noise(h, sizeof(h));
            p[0] = (uint8_t)(0x45 + k); /* any bytes: the sum does not care what they mean */
            net_put16(p + 10, 0);
            net_put16(p + 10, csum_buf(p, 20));
            cr_assert(csum_hdr20_ok(p), "valid header %u at offset %zu refused", k, off);
            for (size_t bit = 0; bit < 160; bit += 7) {
                p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                cr_assert_eq(csum_hdr20_ok(p), csum_buf(p, 20) == 0, "bit %zu", bit);
                p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
        }
    }
    /* The checksum field's two zeros, ffff and 0000, both verify when the rest sums to
     * ffff or to 0000... except that twenty zero bytes are no header at all. */
    memset(h, 0, sizeof(h));
    cr_assert(!csum_hdr20_ok(h));
    net_put16(h + 10, 0xffff);
    cr_assert(csum_hdr20_ok(h));
}
