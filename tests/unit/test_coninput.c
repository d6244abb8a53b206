/*
 * test_coninput.c — bytes from the UART interrupt to the console task (kernel/coninput.c):
 * a full ring drops bytes but keeps room for the line end, and every byte after a gap is
 * marked so its line is discarded, not run short.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../kernel/coninput.h"
#include "../../kernel/conline.h"

#define RING 16

static void put_all(struct coninput *in, const char *s)
{
    for (; *s; s++)
        coninput_put(in, *s);
}

/* Feed everything queued to a console line; the events it ends with, in order. */
static size_t run(struct coninput *in, struct conline *l, enum conline_event *ev, char *last)
{
    char b[RING], echo[CONLINE_ECHO_MAX];
    bool lost[RING];
    size_t n, k = 0;
    while ((n = coninput_take(in, b, lost, sizeof(b))) != 0) {
        for (size_t i = 0; i < n; i++) {
            if (lost[i])
                conline_lost(l);
            enum conline_event e = conline_feed(l, b[i], echo);
            if (e != CONLINE_NONE) {
                ev[k++] = e;
                if (e == CONLINE_LINE)
                    strcpy(last, conline_text(l));
            }
        }
    }
    return k;
}

Test(coninput, bytes_that_fit_pass_unmarked)
{
    struct coninput in;
    char mem[RING], b[RING];
    bool lost[RING];
    coninput_init(&in, mem, sizeof(mem));
    put_all(&in, "stats\r");
    cr_assert_eq(coninput_take(&in, b, lost, sizeof(b)), 6);
    cr_assert(memcmp(b, "stats\r", 6) == 0);
    for (int i = 0; i < 6; i++)
        cr_assert_not(lost[i]);
    cr_assert_eq(in.dropped, 0);
}

Test(coninput, a_full_ring_keeps_its_last_byte_for_the_line_end)
{
    struct coninput in;
    char mem[RING], b[RING];
    bool lost[RING];
    coninput_init(&in, mem, sizeof(mem));
    for (int i = 0; i < 40; i++)
        coninput_put(&in, 'x');
    cr_assert_eq(logring_used(&in.ring), RING - 1, "one byte kept back");
    cr_assert_eq(in.dropped, 40 - (RING - 1));
    coninput_put(&in, '\r');
    cr_assert_eq(logring_used(&in.ring), RING);
    coninput_put(&in, '\n'); /* now nothing fits */
    cr_assert_eq(in.dropped, 40 - (RING - 1) + 1);
    cr_assert_eq(coninput_take(&in, b, lost, sizeof(b)), RING);
    cr_assert_eq(b[RING - 1], '\r', "the line end got in");
    cr_assert_eq(lost[RING - 1], true, "it follows the gap");
    cr_assert_not(lost[0], "bytes before the first gap are whole");
}

Test(coninput, a_line_that_lost_bytes_is_discarded_and_the_next_one_runs)
{
    struct coninput in;
    struct conline l;
    char mem[RING], last[CONLINE_MAX + 1] = "";
    enum conline_event ev[8];
    coninput_init(&in, mem, sizeof(mem));
    conline_init(&l);
    /* "stats" loses its middle: what is left, "sts"-something, must not run. */
    put_all(&in, "sta0123456789abcdefts\r");
    size_t k = run(&in, &l, ev, last);
    cr_assert_eq(k, 1);
    cr_assert_eq(ev[0], CONLINE_LOST);
    put_all(&in, "mem\r");
    k = run(&in, &l, ev, last);
    cr_assert_eq(k, 1);
    cr_assert_eq(ev[0], CONLINE_LINE);
    cr_assert_str_eq(last, "mem", "after the loss is taken, lines run again");
}

Test(coninput, a_lost_line_end_takes_both_lines_with_it)
{
    struct coninput in;
    struct conline l;
    char mem[RING], last[CONLINE_MAX + 1] = "";
    enum conline_event ev[8];
    coninput_init(&in, mem, sizeof(mem));
    conline_init(&l);
    put_all(&in, "mem\rhelp\rstatsstats\r"); /* fills the ring before the last \r... */
    put_all(&in, "\rmem\r");                  /* ...and these find it full */
    size_t k = run(&in, &l, ev, last);
    cr_assert_eq(k, 3);
    cr_assert_eq(ev[0], CONLINE_LINE);
    cr_assert_eq(ev[1], CONLINE_LINE);
    cr_assert_str_eq(last, "help", "the lines before the gap came in whole");
    cr_assert_eq(ev[2], CONLINE_LOST, "statss lost its tail");
    cr_assert_eq(in.dropped, 9);
    /* Whole lines were lost after it, and what follows a gap may be the rest of a line
     * whose start is gone: the next line is discarded too, then all is well. */
    put_all(&in, "me\r");
    cr_assert_eq(run(&in, &l, ev, last), 1);
    cr_assert_eq(ev[0], CONLINE_LOST);
    put_all(&in, "mem\r");
    cr_assert_eq(run(&in, &l, ev, last), 1);
    cr_assert_eq(ev[0], CONLINE_LINE);
    cr_assert_str_eq(last, "mem");
}
