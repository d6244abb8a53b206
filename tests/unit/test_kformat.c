/*
 * test_kformat.c — the kernel's printf (kernel/kformat.c): every conversion against the
 * host's snprintf, a buffer that is too small, malformed and oversized formats, line ends
 * in the log and in a buffer, and literal text of every length before every kind of stop,
 * lines longer than the log takes at once included.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernel/kformat.h"

/* ksnprintf without its format attribute: the tests feed malformed formats and formats
 * from tables on purpose, which the compiler would refuse. */
static size_t fmt_buf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = kvsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- Sinks ------------------------------------------------------------------------ */

/* What the log's callback received: the pieces joined, and how many, and the largest. */
struct captured {
    char text[8192];
    size_t len, pieces, largest;
};

static void capture(void *ctx, const char *p, size_t n)
{
    struct captured *c = ctx;
    cr_assert(n > 0 && n <= KFMT_LINE, "a piece of %zu bytes", n);
    cr_assert(c->len + n < sizeof(c->text));
    memcpy(c->text + c->len, p, n);
    c->len += n;
    c->text[c->len] = 0;
    c->pieces++;
    if (n > c->largest)
        c->largest = n;
}

static void fmt_log(struct captured *c, const char *fmt, ...)
{
    memset(c, 0, sizeof(*c));
    struct kfmt f;
    kfmt_init_log(&f, capture, c);
    va_list ap;
    va_start(ap, fmt);
    kfmt_format(&f, fmt, ap);
    va_end(ap);
    kfmt_end(&f);
}

#define EXPECT_BUF(expected, ...)                                                              \
    do {                                                                                       \
        char b_[256];                                                                          \
        size_t n_ = fmt_buf(b_, sizeof(b_), __VA_ARGS__);                                      \
        cr_expect_str_eq(b_, expected);                                                        \
        cr_expect_eq(n_, strlen(expected));                                                    \
    } while (0)

/* ---- Conversions -------------------------------------------------------------------- */

Test(kformat, integers_match_the_host_printf_at_every_width_and_padding)
{
    static const int64_t values[] = {0, 1, -1, 9, 10, 99, 100, 12345, -12345, INT32_MAX,
                                     INT32_MIN, INT64_MAX, INT64_MIN, 0x7fffffffffff};
    static const char *const fmts32[] = {"%d", "%i", "%5d", "%05d", "%12d", "%012d"};
    static const char *const fmts64[] = {"%ld", "%lld", "%20ld", "%020ld"};
    static const char *const ufmts[] = {"%u", "%x", "%8x", "%08x", "%lu", "%lx", "%016lx",
                                        "%zu", "%llu"};
    char ours[128], theirs[128];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int64_t v = values[i];
        for (size_t j = 0; j < sizeof(fmts32) / sizeof(fmts32[0]); j++) {
            fmt_buf(ours, sizeof(ours), fmts32[j], (int)v);
            snprintf(theirs, sizeof(theirs), fmts32[j], (int)v);
            cr_expect_str_eq(ours, theirs, "%s of %lld", fmts32[j], (long long)v);
        }
        for (size_t j = 0; j < sizeof(fmts64) / sizeof(fmts64[0]); j++) {
            fmt_buf(ours, sizeof(ours), fmts64[j], (long)v);
            snprintf(theirs, sizeof(theirs), fmts64[j], (long)v);
            cr_expect_str_eq(ours, theirs, "%s of %lld", fmts64[j], (long long)v);
        }
        for (size_t j = 0; j < sizeof(ufmts) / sizeof(ufmts[0]); j++) {
            bool wide = strchr(ufmts[j], 'l') || strchr(ufmts[j], 'z');
            if (wide) {
                fmt_buf(ours, sizeof(ours), ufmts[j], (unsigned long)v);
                snprintf(theirs, sizeof(theirs), ufmts[j], (unsigned long)v);
            } else {
                fmt_buf(ours, sizeof(ours), ufmts[j], (unsigned)v);
                snprintf(theirs, sizeof(theirs), ufmts[j], (unsigned)v);
            }
            cr_expect_str_eq(ours, theirs, "%s of %lld", ufmts[j], (long long)v);
        }
    }
}

Test(kformat, strings_characters_pointers_and_percent)
{
    EXPECT_BUF("a=[quartz] b=[   ab] c=[x] d=[%]", "a=[%s] b=[%5s] c=[%c] d=[%%]", "quartz",
               "ab", 'x');
    EXPECT_BUF("(null)", "%s", (const char *)NULL);
    char ip[16];
    cr_expect_str_eq(kfmt_ip4(0x0a000201, ip, sizeof(ip)), "10.0.2.1");
    cr_expect_str_eq(kfmt_ip4(0xffffffff, ip, sizeof(ip)), "255.255.255.255");
    EXPECT_BUF("0x00000000deadbeef", "%p", (void *)0xdeadbeef);
    EXPECT_BUF("", "");
    EXPECT_BUF("no conversions", "no conversions");
}

Test(kformat, malformed_conversions_print_a_marker_and_never_run_past_the_end)
{
    EXPECT_BUF("a%?b", "a%qb");           /* unknown: marked, the rest goes on */
    EXPECT_BUF("x%?", "x%");              /* the format ends inside a conversion */
    EXPECT_BUF("x%?", "x%l");             /* ... after a modifier */
    EXPECT_BUF("x%?", "x%05");            /* ... after a width */
    EXPECT_BUF("%?5d", "%-5d", 7);        /* no '-' flag: marked, the rest is literal */
    EXPECT_BUF("%?%?", "%y%w");
}

Test(kformat, an_oversized_width_is_capped)
{
    char b[256], want[KFMT_WIDTH_MAX + 1];
    memset(want, ' ', KFMT_WIDTH_MAX - 1);
    strcpy(want + KFMT_WIDTH_MAX - 1, "7");
    cr_expect_eq(fmt_buf(b, sizeof(b), "%99999999999999999999d", 7), KFMT_WIDTH_MAX);
    cr_expect_str_eq(b, want);
    struct captured c;
    fmt_log(&c, "%1000000s|", "x"); /* in the log too: one capped field, not a flood */
    cr_expect_eq(c.len, KFMT_WIDTH_MAX + 1);
}

/* ---- A buffer that is too small -------------------------------------------------------- */

Test(kformat, a_small_buffer_keeps_what_fits_and_counts_it_all)
{
    char b[8];
    memset(b, 'z', sizeof(b));
    cr_expect_eq(fmt_buf(b, sizeof(b), "hello %s", "world"), 11);
    cr_expect_str_eq(b, "hello w");
    cr_expect_eq(fmt_buf(b, 1, "abc"), 3);
    cr_expect_eq(b[0], 0);
    memset(b, 'z', sizeof(b));
    cr_expect_eq(fmt_buf(b, 0, "%d", 12345), 5); /* len 0: nothing written at all */
    cr_expect_eq(b[0], 'z');
    cr_expect_eq(fmt_buf(b, 6, "%05d%s", 42, "tail"), 9);
    cr_expect_str_eq(b, "00042");
}

/* ---- Line ends ----------------------------------------------------------------------- */

Test(kformat, line_ends_are_cr_lf_in_the_log_and_lf_in_a_buffer_wherever_they_come_from)
{
    EXPECT_BUF("a\nb\n\nc[x\ny]\n", "a\nb\n\nc[%s]%c", "x\ny", '\n');
    struct captured c;
    fmt_log(&c, "a\nb\n\nc[%s]%c", "x\ny", '\n');
    cr_expect_str_eq(c.text, "a\r\nb\r\n\r\nc[x\r\ny]\r\n");
    struct kfmt f;
    memset(&c, 0, sizeof(c));
    kfmt_init_log(&f, capture, &c);
    kfmt_put(&f, "net", 3);
    kfmt_put(&f, ": ", 2);
    kfmt_newline(&f);
    kfmt_end(&f);
    cr_expect_str_eq(c.text, "net: \r\n");
    cr_expect_eq(c.pieces, 1, "a short line goes out whole");
}

/* ---- Literal text ---------------------------------------------------------------------- */

/* The log's text for `fmt` is the buffer's with each "\n" as "\r\n". */
static void expect_log_equals_buffer(const char *fmt)
{
    char b[4096], want[8192];
    fmt_buf(b, sizeof(b), fmt, 42);
    size_t k = 0;
    for (const char *p = b; *p; p++) {
        if (*p == '\n')
            want[k++] = '\r';
        want[k++] = *p;
    }
    want[k] = 0;
    struct captured c;
    fmt_log(&c, fmt, 42);
    cr_assert_str_eq(c.text, want, "format %s", fmt);
}

Test(kformat, literal_text_of_every_length_and_place_before_every_stop)
{
    static const char *const stops[] = {"", "%d", "\n", "%d tail", "\nmore", "%%"};
    char *mem = malloc(128);
    for (size_t off = 0; off < 16; off++) {
        for (size_t len = 0; len <= 40; len++) {
            for (size_t s = 0; s < sizeof(stops) / sizeof(stops[0]); s++) {
                char *fmt = mem + off;
                for (size_t i = 0; i < len; i++)
                    fmt[i] = (char)('A' + (i * 7 + off) % 26);
                strcpy(fmt + len, stops[s]);
                expect_log_equals_buffer(fmt);
            }
        }
    }
    free(mem);
}

Test(kformat, bytes_near_the_stops_are_text_not_stops)
{
    /* Neighbours of NUL, '%' and '\n' in value are ordinary text. */
    expect_log_equals_buffer("\x01\x24\x26\x09\x0b\xff\x7f\x80|\x01\x24%d\x26\x09\x0b\xff");
    expect_log_equals_buffer("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff%d");
}

Test(kformat, a_line_longer_than_the_log_takes_goes_in_pieces_in_order)
{
    size_t n = 3 * KFMT_LINE + 77;
    char *fmt = malloc(n + 8);
    for (size_t i = 0; i < n; i++)
        fmt[i] = (char)('a' + i % 26);
    strcpy(fmt + n, "%d\n");
    struct captured c;
    fmt_log(&c, fmt, 7);
    cr_expect_eq(c.len, n + 3);
    cr_expect(memcmp(c.text, fmt, n) == 0);
    cr_expect_str_eq(c.text + n, "7\r\n");
    cr_expect_eq(c.pieces, 4, "%zu pieces", c.pieces);
    cr_expect_eq(c.largest, KFMT_LINE);
    /* The same through an argument and through padding. */
    fmt[n] = 0;
    fmt_log(&c, "<%s>", fmt);
    cr_expect_eq(c.len, n + 2);
    cr_expect_eq(c.text[0], '<');
    cr_expect(memcmp(c.text + 1, fmt, n) == 0);
    free(fmt);
}
