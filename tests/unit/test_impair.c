/* The impairment queue: seeded decisions, their rates, timing and order, and the spec text. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impair.h"

#define MS 1000000ull
#define US 1000ull
#define T0 (5 * 1000000000ull) /* an arbitrary clock origin */
#define FRAME_MAX 1514

/* Frame k: its number in the first 4 bytes, then bytes that depend on k and position. */
static size_t make_frame(uint32_t k, uint8_t *f)
{
    size_t len = 60 + (k * 37u) % (FRAME_MAX - 60 + 1);
    f[0] = (uint8_t)(k >> 24);
    f[1] = (uint8_t)(k >> 16);
    f[2] = (uint8_t)(k >> 8);
    f[3] = (uint8_t)k;
    for (size_t i = 4; i < len; i++)
        f[i] = (uint8_t)(k * 131u + i * 7u);
    return len;
}

static uint32_t frame_number(const uint8_t *f)
{
    return (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
}

static struct impair_cfg parse(const char *spec)
{
    struct impair_cfg cfg;
    char err[256] = "";
    cr_assert_eq(impair_parse(spec, &cfg, err, sizeof(err)), 0, "%s: %s", spec, err);
    return cfg;
}

static void start(struct impair *imp, const char *spec)
{
    struct impair_cfg cfg = parse(spec);
    cr_assert_eq(impair_init(imp, &cfg), 0);
}

/* What came out, in order: frame number, length, release time, and a hash of the bytes. */
struct trace {
    size_t n;
    uint32_t num[4096];
    size_t len[4096];
    uint64_t at[4096];
    uint64_t hash;
};

static void drain(struct impair *imp, uint64_t now, struct trace *t)
{
    uint8_t buf[FRAME_MAX];
    size_t len;
    while (impair_pop(imp, now, buf, sizeof(buf), &len)) {
        if (t->n < 4096) {
            t->num[t->n] = frame_number(buf);
            t->len[t->n] = len;
            t->at[t->n] = now;
        }
        t->n++;
        for (size_t i = 0; i < len; i++)
            t->hash = (t->hash ^ buf[i]) * 0x100000001b3ull; /* FNV-1a */
    }
}

/* Push `count` frames `gap` ns apart, popping at each push and at every deadline after. */
static void run(struct impair *imp, uint32_t count, uint64_t gap, struct trace *t)
{
    uint8_t f[FRAME_MAX];
    memset(t, 0, sizeof(*t));
    t->hash = 0xcbf29ce484222325ull;
    uint64_t now = T0;
    for (uint32_t k = 0; k < count; k++, now += gap) {
        while (impair_next_deadline(imp) < now) {
            uint64_t d = impair_next_deadline(imp);
            drain(imp, d, t);
        }
        impair_push(imp, f, make_frame(k, f), now);
        drain(imp, now, t);
    }
    for (uint64_t d; (d = impair_next_deadline(imp)) != UINT64_MAX;)
        drain(imp, d, t);
}

static const char *mixed = "loss=5%,dup=3%,corrupt=2%,reorder=4%,delay=1ms,jitter=500us,seed=42";

Test(impair, same_seed_and_inputs_give_the_same_output)
{
    static struct trace a, b, c;
    struct impair imp;
    start(&imp, mixed);
    run(&imp, 3000, 100 * US, &a);
    impair_free(&imp);
    start(&imp, mixed);
    run(&imp, 3000, 100 * US, &b);
    impair_free(&imp);
    cr_assert_eq(a.n, b.n);
    cr_assert_eq(a.hash, b.hash);
    cr_assert_arr_eq(a.num, b.num, sizeof(a.num));
    cr_assert_arr_eq(a.at, b.at, sizeof(a.at));

    start(&imp, "loss=5%,dup=3%,corrupt=2%,reorder=4%,delay=1ms,jitter=500us,seed=43");
    run(&imp, 3000, 100 * US, &c);
    impair_free(&imp);
    cr_assert_neq(a.hash, c.hash, "another seed should give other luck");
}

Test(impair, which_frames_are_lost_does_not_depend_on_the_other_rates)
{
    static struct trace a, b;
    struct impair imp;
    start(&imp, "loss=10%,seed=9");
    run(&imp, 2000, 10 * US, &a);
    impair_free(&imp);
    start(&imp, "loss=10%,dup=20%,seed=9");
    run(&imp, 2000, 10 * US, &b);
    impair_free(&imp);
    /* Remove b's duplicates (adjacent, since there is no delay): the survivors match. */
    size_t j = 0;
    for (size_t i = 0; i < b.n; i++)
        if (j == 0 || b.num[i] != b.num[j - 1])
            b.num[j++] = b.num[i];
    cr_assert_eq(j, a.n);
    cr_assert_arr_eq(a.num, b.num, a.n * sizeof(a.num[0]));
}

Test(impair, rates_are_within_statistical_bounds_on_100k_frames)
{
    struct impair imp;
    start(&imp, "loss=5%,dup=1%,corrupt=0.5%,reorder=2%,seed=1234");
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len, out = 0;
    const uint32_t n = 100000;
    for (uint32_t k = 0; k < n; k++) {
        impair_push(&imp, f, make_frame(k, f), T0 + k * US);
        while (impair_pop(&imp, T0 + k * US, buf, sizeof(buf), &len))
            out++;
    }
    while (impair_pop(&imp, UINT64_MAX - 1, buf, sizeof(buf), &len))
        out++;
    const struct impair_stats *s = &imp.stats;
    /* Binomial: expected n*p, standard deviation sqrt(n*p*(1-p)); allow six. */
    double kept = n - (double)s->lost;
    struct {
        const char *what;
        double got, trials, p;
    } rates[] = {{"lost", (double)s->lost, n, 0.05},
                 {"duplicated", (double)s->duplicated, kept, 0.01},
                 {"corrupted", (double)s->corrupted, kept, 0.005},
                 {"reordered", (double)s->reordered, kept, 0.02}};
    for (size_t i = 0; i < 4; i++) {
        double mean = rates[i].trials * rates[i].p, var = mean * (1 - rates[i].p);
        double dev = rates[i].got - mean;
        cr_expect(dev * dev < 36 * var, "%s: %.0f, expected %.0f (variance %.0f)", rates[i].what,
                  rates[i].got, mean, var);
    }
    cr_assert_eq(s->in, n);
    cr_assert_eq(s->out, out);
    cr_assert_eq(s->out, n - s->lost + s->duplicated);
    cr_assert_eq(s->overflow, 0);
    impair_free(&imp);
}

Test(impair, a_clean_config_passes_everything_at_once_in_order_untouched)
{
    struct impair imp;
    start(&imp, "");
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len;
    for (uint32_t k = 0; k < 1000; k++) {
        size_t flen = make_frame(k, f);
        cr_assert_eq(impair_push(&imp, f, flen, T0 + k), 1);
        cr_assert_eq(impair_next_deadline(&imp), T0 + k);
        cr_assert(impair_pop(&imp, T0 + k, buf, sizeof(buf), &len));
        cr_assert_eq(len, flen);
        cr_assert_arr_eq(buf, f, flen);
        cr_assert_not(impair_pop(&imp, T0 + k, buf, sizeof(buf), &len));
    }
    /* Queued without popping, they still leave first in, first out. */
    for (uint32_t k = 0; k < 100; k++)
        impair_push(&imp, f, make_frame(k, f), T0 + 1000);
    for (uint32_t k = 0; k < 100; k++) {
        cr_assert(impair_pop(&imp, T0 + 1000, buf, sizeof(buf), &len));
        cr_assert_eq(frame_number(buf), k);
    }
    cr_assert_eq(imp.stats.in, 1100);
    cr_assert_eq(imp.stats.out, 1100);
    cr_assert_eq(imp.stats.lost + imp.stats.duplicated + imp.stats.corrupted + imp.stats.reordered +
                     imp.stats.overflow,
                 0);
    cr_assert_eq(impair_next_deadline(&imp), UINT64_MAX);
    impair_free(&imp);
}

static int bits_differing(const uint8_t *a, const uint8_t *b, size_t len, size_t *where)
{
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        if (a[i] != b[i])
            *where = i;
        bits += __builtin_popcount(a[i] ^ b[i]);
    }
    return bits;
}

Test(impair, corruption_flips_exactly_one_bit)
{
    struct impair imp;
    start(&imp, "corrupt=100%,seed=5");
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len, where = 0, lowest = SIZE_MAX, highest = 0;
    for (uint32_t k = 0; k < 2000; k++) {
        size_t flen = make_frame(k, f);
        impair_push(&imp, f, flen, T0);
        cr_assert(impair_pop(&imp, T0, buf, sizeof(buf), &len));
        cr_assert_eq(len, flen);
        cr_assert_eq(bits_differing(f, buf, len, &where), 1, "frame %u", k);
        lowest = where < lowest ? where : lowest;
        highest = where > highest ? where : highest;
    }
    cr_assert_eq(imp.stats.corrupted, 2000);
    cr_assert_lt(lowest, 4, "the whole frame can be hit");
    cr_assert_gt(highest, 1000);
    impair_free(&imp);
}

Test(impair, corrupt_offset_spares_the_ethernet_header)
{
    struct impair imp;
    start(&imp, "corrupt=100%,corrupt_offset=14,seed=6");
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len, where = 0;
    for (uint32_t k = 0; k < 2000; k++) {
        size_t flen = make_frame(k, f);
        impair_push(&imp, f, flen, T0);
        cr_assert(impair_pop(&imp, T0, buf, sizeof(buf), &len));
        cr_assert_eq(bits_differing(f, buf, len, &where), 1);
        cr_assert_geq(where, 14);
    }
    /* Nothing at or after the offset: left alone, and not counted as corrupted. */
    impair_push(&imp, f, 14, T0);
    cr_assert(impair_pop(&imp, T0, buf, sizeof(buf), &len));
    cr_assert_arr_eq(buf, f, 14);
    cr_assert_eq(imp.stats.corrupted, 2000);
    impair_free(&imp);
}

Test(impair, duplicates_are_identical_copies)
{
    struct impair imp;
    start(&imp, "dup=100%,corrupt=50%,seed=3");
    uint8_t f[FRAME_MAX], a[FRAME_MAX], b[FRAME_MAX];
    size_t alen, blen;
    for (uint32_t k = 0; k < 500; k++) {
        cr_assert_eq(impair_push(&imp, f, make_frame(k, f), T0 + k), 2);
        cr_assert(impair_pop(&imp, T0 + k, a, sizeof(a), &alen));
        cr_assert(impair_pop(&imp, T0 + k, b, sizeof(b), &blen));
        cr_assert_eq(alen, blen);
        cr_assert_arr_eq(a, b, alen, "a corrupted frame is duplicated as it is");
        cr_assert_eq(frame_number(a), k);
    }
    cr_assert_eq(imp.stats.duplicated, 500);
    cr_assert_eq(imp.stats.out, 1000);
    impair_free(&imp);
}

Test(impair, duplicates_are_delayed_too)
{
    struct impair imp;
    start(&imp, "dup=100%,delay=3ms");
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len;
    impair_push(&imp, f, make_frame(0, f), T0);
    cr_assert_eq(impair_queued(&imp), 2);
    cr_assert_not(impair_pop(&imp, T0 + 3 * MS - 1, buf, sizeof(buf), &len));
    cr_assert(impair_pop(&imp, T0 + 3 * MS, buf, sizeof(buf), &len));
    cr_assert(impair_pop(&imp, T0 + 3 * MS, buf, sizeof(buf), &len));
    impair_free(&imp);
}

Test(impair, reordering_lets_later_frames_overtake)
{
    static struct trace t;
    struct impair imp;
    start(&imp, "reorder=10%,reorder_delay=1ms,seed=11");
    run(&imp, 2000, 100 * US, &t);
    cr_assert_eq(t.n, 2000, "reordering loses nothing");
    size_t inversions = 0;
    static bool seen[2000];
    for (size_t i = 0; i < t.n; i++) {
        cr_assert_not(seen[t.num[i]]);
        seen[t.num[i]] = true;
        if (i && t.num[i] < t.num[i - 1])
            inversions++;
    }
    cr_assert_gt(imp.stats.reordered, 150);
    cr_assert_lt(imp.stats.reordered, 250);
    /* Each held frame is overtaken by the ~10 pushed in its extra millisecond. */
    cr_assert_geq(inversions, imp.stats.reordered * 8 / 10, "%zu inversions, %llu reordered",
                  inversions, (unsigned long long)imp.stats.reordered);
    impair_free(&imp);
}

Test(impair, reorder_delay_defaults_to_twice_the_delay)
{
    struct impair imp;
    start(&imp, "reorder=100%,delay=2ms,jitter=1ms");
    cr_assert_eq(imp.cfg.reorder_delay_ns, 6 * MS);
    impair_free(&imp);
    start(&imp, "reorder=100%");
    cr_assert_eq(imp.cfg.reorder_delay_ns, IMPAIR_DEFAULT_REORDER_NS);
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len;
    impair_push(&imp, f, make_frame(0, f), T0);
    cr_assert_eq(impair_next_deadline(&imp), T0 + 1 * MS);
    cr_assert_not(impair_pop(&imp, T0, buf, sizeof(buf), &len));
    impair_free(&imp);
}

Test(impair, delay_is_respected)
{
    struct impair imp;
    start(&imp, "delay=2ms");
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len;
    impair_push(&imp, f, make_frame(1, f), T0);
    impair_push(&imp, f, make_frame(2, f), T0 + 500 * US);
    cr_assert_eq(impair_next_deadline(&imp), T0 + 2 * MS);
    cr_assert_not(impair_pop(&imp, T0 + 2 * MS - 1, buf, sizeof(buf), &len));
    cr_assert(impair_pop(&imp, T0 + 2 * MS, buf, sizeof(buf), &len));
    cr_assert_eq(frame_number(buf), 1);
    cr_assert_eq(impair_next_deadline(&imp), T0 + 2500 * US);
    cr_assert_not(impair_pop(&imp, T0 + 2 * MS, buf, sizeof(buf), &len));
    cr_assert(impair_pop(&imp, T0 + 10 * MS, buf, sizeof(buf), &len));
    cr_assert_eq(frame_number(buf), 2);
    cr_assert_eq(impair_next_deadline(&imp), UINT64_MAX);
    impair_free(&imp);
}

Test(impair, jitter_stays_within_bounds_and_never_reorders)
{
    static struct trace t;
    struct impair imp;
    start(&imp, "delay=2ms,jitter=1ms,seed=8");
    run(&imp, 3000, 1 * MS, &t);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < t.n; i++) {
        cr_assert_eq(t.num[i], i, "jitter alone keeps the order");
        uint64_t held = t.at[i] - (T0 + i * MS);
        lo = held < lo ? held : lo;
        hi = held > hi ? held : hi;
    }
    /* Held at least delay - jitter; at most delay + jitter, unless a frame ahead held it. */
    cr_assert_geq(lo, 1 * MS);
    cr_assert_leq(lo, 1100 * US, "the whole jitter range is used");
    cr_assert_leq(hi, 3 * MS);
    cr_assert_geq(hi, 2900 * US);
    impair_free(&imp);
}

Test(impair, jitter_larger_than_the_delay_never_releases_before_the_push)
{
    struct impair imp;
    start(&imp, "jitter=5ms,seed=2");
    uint8_t f[FRAME_MAX];
    for (uint32_t k = 0; k < 200; k++) {
        impair_push(&imp, f, make_frame(k, f), T0 + k * 10 * MS);
        cr_assert_geq(impair_next_deadline(&imp), T0 + k * 10 * MS);
        uint8_t buf[FRAME_MAX];
        size_t len;
        while (impair_pop(&imp, T0 + k * 10 * MS + 5 * MS, buf, sizeof(buf), &len))
            ;
    }
    impair_free(&imp);
}

Test(impair, overflow_is_counted_and_dropped)
{
    struct impair imp;
    start(&imp, "delay=1ms,limit=10");
    uint8_t f[FRAME_MAX], buf[FRAME_MAX];
    size_t len;
    for (uint32_t k = 0; k < 15; k++)
        cr_assert_eq(impair_push(&imp, f, make_frame(k, f), T0), k < 10 ? 1 : 0);
    cr_assert_eq(imp.stats.overflow, 5);
    cr_assert_eq(impair_queued(&imp), 10);
    for (uint32_t k = 0; k < 10; k++) {
        cr_assert(impair_pop(&imp, T0 + MS, buf, sizeof(buf), &len));
        cr_assert_eq(frame_number(buf), k);
    }
    cr_assert_not(impair_pop(&imp, T0 + MS, buf, sizeof(buf), &len));
    impair_free(&imp);
}

Test(impair, the_default_limit_is_4096_and_free_releases_what_is_queued)
{
    struct impair imp;
    start(&imp, "delay=1s");
    uint8_t f[FRAME_MAX];
    for (uint32_t k = 0; k < 5000; k++)
        impair_push(&imp, f, make_frame(k, f), T0);
    cr_assert_eq(impair_queued(&imp), IMPAIR_DEFAULT_LIMIT);
    cr_assert_eq(imp.stats.overflow, 5000 - IMPAIR_DEFAULT_LIMIT);
    impair_free(&imp); /* ASan's leak check fails the test if a copy is left behind */
    cr_assert_eq(impair_queued(&imp), 0);
}

Test(impair, a_frame_longer_than_the_buffer_is_truncated)
{
    struct impair imp;
    start(&imp, "");
    uint8_t f[FRAME_MAX], buf[100];
    size_t len;
    cr_assert_gt(make_frame(30, f), sizeof(buf));
    impair_push(&imp, f, make_frame(30, f), T0);
    cr_assert(impair_pop(&imp, T0, buf, sizeof(buf), &len));
    cr_assert_eq(len, sizeof(buf));
    cr_assert_arr_eq(buf, f, sizeof(buf));
    impair_free(&imp);
}

Test(impair, init_rejects_a_rate_over_a_million_ppm)
{
    struct impair imp;
    struct impair_cfg cfg = {.loss_ppm = IMPAIR_PPM + 1};
    cr_assert_eq(impair_init(&imp, &cfg), -1);
    cfg.loss_ppm = IMPAIR_PPM;
    cr_assert_eq(impair_init(&imp, &cfg), 0);
    impair_free(&imp);
}

Test(impair, parser_accepts_the_documented_syntax)
{
    struct impair_cfg c =
        parse("loss=5%,dup=1%,corrupt=0.5%,reorder=2%,delay=2ms,jitter=1ms,seed=7");
    cr_assert_eq(c.loss_ppm, 50000);
    cr_assert_eq(c.dup_ppm, 10000);
    cr_assert_eq(c.corrupt_ppm, 5000);
    cr_assert_eq(c.reorder_ppm, 20000);
    cr_assert_eq(c.delay_ns, 2 * MS);
    cr_assert_eq(c.jitter_ns, 1 * MS);
    cr_assert_eq(c.seed, 7);
    cr_assert_eq(c.reorder_delay_ns, 0);
    cr_assert_eq(c.limit, 0);

    c = parse(" loss = 100% , duplicate=250ppm,corrupt=0.0001%,reorder=3,"
              "reorder_delay=1.5s,delay=0,jitter=250us,seed=0xdeadBEEF,limit=64,"
              "corrupt_offset=14,");
    cr_assert_eq(c.loss_ppm, IMPAIR_PPM);
    cr_assert_eq(c.dup_ppm, 250);
    cr_assert_eq(c.corrupt_ppm, 1);
    cr_assert_eq(c.reorder_ppm, 30000);
    cr_assert_eq(c.reorder_delay_ns, 1500 * MS);
    cr_assert_eq(c.delay_ns, 0);
    cr_assert_eq(c.jitter_ns, 250 * US);
    cr_assert_eq(c.seed, 0xdeadbeef);
    cr_assert_eq(c.limit, 64);
    cr_assert_eq(c.corrupt_offset, 14);

    c = parse("delay=7ns,jitter=.5ms");
    cr_assert_eq(c.delay_ns, 7);
    cr_assert_eq(c.jitter_ns, 500 * US);
    c = parse("");
    cr_assert(impair_is_clean(&c));
}

Test(impair, parser_and_formatter_round_trip)
{
    const char *specs[] = {"loss=5%,dup=1%,corrupt=0.5%,reorder=2%,delay=2ms,jitter=1ms,seed=7",
                           "loss=0.0001%,delay=1500us,reorder_delay=3ns,limit=9,corrupt_offset=14",
                           ""};
    for (size_t i = 0; i < 3; i++) {
        char text[256];
        struct impair_cfg a = parse(specs[i]);
        impair_format(&a, text, sizeof(text));
        cr_assert_str_eq(text, specs[i]);
        struct impair_cfg b = parse(text);
        cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
    }
}

Test(impair, parser_rejects_bad_strings_and_says_why)
{
    const struct {
        const char *spec, *complaint;
    } bad[] = {
        {"lose=5%", "unknown key 'lose'"},
        {"loss=5%,bogus=1", "unknown key 'bogus'"},
        {"loss=five", "not a percentage"},
        {"loss=", "not a percentage"},
        {"loss=-1%", "not a percentage"},
        {"loss=5%%", "unknown unit"},
        {"loss=100.5%", "over 100%"},
        {"dup=101%", "over 100%"},
        {"corrupt=2000000ppm", "over 100%"},
        {"reorder=0.00001%", "not a percentage"},
        {"delay=5", "needs a unit"},
        {"delay=5m", "unknown unit"},
        {"jitter=ms", "not a time"},
        {"delay=1.2.3ms", "not a time"},
        {"delay=99999999999999999999s", "too large"},
        {"seed=-1", "not an unsigned integer"},
        {"seed=12abc", "not an unsigned integer"},
        {"limit=0x", "not an unsigned integer"},
        {"loss", "not key=value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct impair_cfg c = {.seed = 99};
        char err[256] = "";
        cr_expect_eq(impair_parse(bad[i].spec, &c, err, sizeof(err)), -1, "%s accepted",
                     bad[i].spec);
        cr_expect(strstr(err, bad[i].complaint), "%s: '%s' lacks '%s'", bad[i].spec, err,
                  bad[i].complaint);
        cr_expect_eq(c.seed, 99, "%s: a failed parse leaves the cfg alone", bad[i].spec);
    }
}
