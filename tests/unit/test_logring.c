/* The console's byte ring on the host: order across the wrap, all-or-nothing puts, and
 * peeking without consuming. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../kernel/logring.h"

Test(logring, bytes_come_out_in_the_order_they_went_in)
{
    char mem[16], out[16];
    struct logring r;
    logring_init(&r, mem, sizeof(mem));
    cr_assert(logring_put(&r, "boot: a\n", 8));
    cr_assert(logring_put(&r, "b\n", 2));
    cr_assert_eq(logring_used(&r), 10);
    cr_assert_eq(logring_room(&r), 6);
    size_t n = logring_peek(&r, out, sizeof(out));
    cr_assert_eq(n, 10);
    cr_assert(memcmp(out, "boot: a\nb\n", 10) == 0);
}

Test(logring, peek_leaves_the_bytes_until_consumed)
{
    char mem[8], out[8];
    struct logring r;
    logring_init(&r, mem, sizeof(mem));
    cr_assert(logring_put(&r, "abcdef", 6));
    cr_assert_eq(logring_peek(&r, out, 4), 4);
    cr_assert_eq(logring_peek(&r, out, 4), 4, "a peek consumes nothing");
    cr_assert(memcmp(out, "abcd", 4) == 0);
    logring_consume(&r, 4);
    cr_assert_eq(logring_peek(&r, out, sizeof(out)), 2);
    cr_assert(memcmp(out, "ef", 2) == 0);
    logring_consume(&r, 100); /* more than is queued: just empties it */
    cr_assert_eq(logring_used(&r), 0);
    cr_assert_eq(logring_peek(&r, out, sizeof(out)), 0);
}

Test(logring, a_run_that_does_not_fit_is_refused_whole)
{
    char mem[8], out[8];
    struct logring r;
    logring_init(&r, mem, sizeof(mem));
    cr_assert(logring_put(&r, "12345", 5));
    cr_assert(!logring_put(&r, "6789", 4), "4 bytes into 3 free");
    cr_assert_eq(logring_used(&r), 5, "nothing of the refused run went in");
    cr_assert(logring_put(&r, "678", 3), "exactly full is fine");
    cr_assert_eq(logring_room(&r), 0);
    cr_assert_eq(logring_peek(&r, out, sizeof(out)), 8);
    cr_assert(memcmp(out, "12345678", 8) == 0);
}

Test(logring, order_survives_many_wraps)
{
    char mem[7], out[7];
    struct logring r;
    logring_init(&r, mem, sizeof(mem));
    unsigned next_in = 0, next_out = 0;
    for (int round = 0; round < 200; round++) {
        char run[5];
        size_t len = 1 + round % 5;
        for (size_t i = 0; i < len; i++)
            run[i] = (char)('a' + (next_in + i) % 26);
        if (logring_put(&r, run, len))
            next_in += len;
        size_t n = logring_peek(&r, out, 1 + round % 3);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(out[i], (char)('a' + (next_out + i) % 26), "round %d", round);
        logring_consume(&r, n);
        next_out += n;
    }
    cr_assert_eq(logring_used(&r), next_in - next_out);
}
