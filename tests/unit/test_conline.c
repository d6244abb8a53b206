/* A console input line on the host: Enter in its forms, echo, editing, and a line too long
 * for the buffer discarded rather than overflowed. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../kernel/conline.h"

/* Feed `s`; collect the echo; return the last event (and the line it ended, if any). */
static enum conline_event feed(struct conline *l, const char *s, char *echo, size_t cap)
{
    enum conline_event last = CONLINE_NONE;
    size_t used = 0;
    echo[0] = 0;
    for (; *s; s++) {
        char e[CONLINE_ECHO_MAX];
        enum conline_event ev = conline_feed(l, *s, e);
        if (ev != CONLINE_NONE)
            last = ev;
        size_t n = strlen(e);
        cr_assert_lt(n, CONLINE_ECHO_MAX);
        cr_assert_lt(used + n, cap);
        memcpy(echo + used, e, n + 1);
        used += n;
    }
    return last;
}

Test(conline, enter_ends_a_line_and_echoes_what_was_typed)
{
    struct conline l;
    char echo[256];
    conline_init(&l);
    cr_assert_eq(feed(&l, "mem", echo, sizeof(echo)), CONLINE_NONE);
    cr_assert_str_eq(echo, "mem");
    cr_assert_eq(feed(&l, "\r", echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_str_eq(echo, "\n");
    cr_assert_str_eq(conline_text(&l), "mem");
}

Test(conline, cr_lf_is_one_enter_and_lf_alone_is_one_too)
{
    struct conline l;
    char echo[256];
    conline_init(&l);
    cr_assert_eq(feed(&l, "help\r", echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_str_eq(conline_text(&l), "help");
    cr_assert_eq(feed(&l, "\n", echo, sizeof(echo)), CONLINE_NONE);
    cr_assert_str_eq(echo, "", "the LF of CR LF echoes nothing");
    cr_assert_eq(feed(&l, "stats\n", echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_str_eq(conline_text(&l), "stats");
    cr_assert_eq(feed(&l, "\n", echo, sizeof(echo)), CONLINE_NONE, "an empty line runs nothing");
    cr_assert_str_eq(echo, "\n");
}

Test(conline, blanks_around_a_command_are_trimmed_and_tabs_are_blanks)
{
    struct conline l;
    char echo[256];
    conline_init(&l);
    cr_assert_eq(feed(&l, "  \tmem \t\n", echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_str_eq(conline_text(&l), "mem");
    cr_assert_eq(feed(&l, "   \n", echo, sizeof(echo)), CONLINE_NONE);
}

Test(conline, backspace_and_delete_erase_and_say_so)
{
    struct conline l;
    char echo[256];
    conline_init(&l);
    cr_assert_eq(feed(&l, "meq\b", echo, sizeof(echo)), CONLINE_NONE);
    cr_assert_str_eq(echo, "meq\b \b");
    cr_assert_eq(feed(&l, "x\x7f" "m\n", echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_str_eq(conline_text(&l), "mem");
    cr_assert_eq(feed(&l, "\b\b\n", echo, sizeof(echo)), CONLINE_NONE);
    cr_assert_str_eq(echo, "\n", "nothing to erase: nothing echoed");
}

Test(conline, control_bytes_and_non_ascii_are_ignored)
{
    struct conline l;
    char echo[256];
    conline_init(&l);
    cr_assert_eq(feed(&l, "m\x01" "e\x1b\xc3\xa9m\n", echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_str_eq(conline_text(&l), "mem");
    cr_assert_str_eq(echo, "mem\n");
}

Test(conline, a_line_of_exactly_the_maximum_runs)
{
    struct conline l;
    char echo[256], in[CONLINE_MAX + 2];
    conline_init(&l);
    memset(in, 'a', CONLINE_MAX);
    in[CONLINE_MAX] = '\n';
    in[CONLINE_MAX + 1] = 0;
    cr_assert_eq(feed(&l, in, echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_eq(strlen(conline_text(&l)), CONLINE_MAX);
}

Test(conline, a_longer_line_is_discarded_whole_and_the_next_one_works)
{
    struct conline l;
    char echo[512], in[300];
    conline_init(&l);
    memset(in, 'x', 299);
    in[299] = 0;
    cr_assert_eq(feed(&l, in, echo, sizeof(echo)), CONLINE_NONE);
    cr_assert_eq(strlen(echo), CONLINE_MAX, "echo stops at the limit");
    cr_assert_eq(feed(&l, "\b\bmem", echo, sizeof(echo)), CONLINE_NONE);
    cr_assert_str_eq(echo, "", "past the limit nothing is taken, not even backspace");
    cr_assert_eq(feed(&l, "\r\n", echo, sizeof(echo)), CONLINE_TOO_LONG);
    cr_assert_eq(feed(&l, "mem\n", echo, sizeof(echo)), CONLINE_LINE);
    cr_assert_str_eq(conline_text(&l), "mem");
}

Test(conline, a_line_that_lost_bytes_is_reported_not_run)
{
    struct conline l;
    char echo[64];
    conline_init(&l);
    cr_assert_eq(feed(&l, "sta", echo, sizeof(echo)), CONLINE_NONE);
    conline_lost(&l);
    cr_assert_eq(feed(&l, "ts\r", echo, sizeof(echo)), CONLINE_LOST);
    cr_assert_eq(feed(&l, "mem\r", echo, sizeof(echo)), CONLINE_LINE, "the mark ends with its line");
    cr_assert_str_eq(conline_text(&l), "mem");
}
