/*
 * test_checksum_portable.c — the checksum's portable word loop, which the x86-64 build
 * replaces with an add-with-carry chain: compiled here a second time under other names
 * and held to the same answers as the one the stack uses, at every length and alignment.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "netstack/checksum.h"

#define CSUM_PORTABLE
#define csum_init portable_csum_init
#define csum_add portable_csum_add
#define csum_add16 portable_csum_add16
#define csum_finish portable_csum_finish
#define csum_buf portable_csum_buf
#define csum_buf_seeded portable_csum_buf_seeded
#define csum_iov portable_csum_iov
#define csum_replace16 portable_csum_replace16
#define csum_offload_finish portable_csum_offload_finish
#define csum_add_words portable_csum_add_words
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes" /* the header named them otherwise */
#include "../../lib/netstack/checksum.c"
#pragma GCC diagnostic pop
#undef csum_init
#undef csum_add
#undef csum_add16
#undef csum_finish
#undef csum_buf
#undef csum_buf_seeded
#undef csum_iov
#undef csum_replace16
#undef csum_offload_finish
#undef csum_add_words

uint16_t portable_csum_buf(const void *data, size_t len);

Test(checksum_portable, agrees_with_the_stack_checksum_at_every_length_and_alignment)
{
    static uint8_t buf[1024 + 8];
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(x >> 24);
    }
    for (size_t align = 0; align < 8; align++)
        for (size_t len = 0; len <= 1024; len++)
            cr_assert_eq(portable_csum_buf(buf + align, len), csum_buf(buf + align, len),
                         "length %zu at offset %zu", len, align);
}

Test(checksum_portable, all_ones_carry_around_the_same_way)
{
    static uint8_t ones[65536];
    memset(ones, 0xff, sizeof(ones));
    cr_assert_eq(portable_csum_buf(ones, sizeof(ones)), csum_buf(ones, sizeof(ones)));
    cr_assert_eq(csum_buf(ones, sizeof(ones)), 0x0000);
}
