/*
 * Two whole stacks over an impaired link (harness/tcpsim.h): megabytes both ways at once,
 * every byte checked, every connection closed and its slot returned, for each row of a
 * table of link conditions and a few seeds each. Beyond correctness, each row bounds the
 * virtual time the transfer may take (a regression to pathological backoff fails) and
 * says what recovery it expects: none on a clean link, retransmissions where frames die,
 * checksum drops where bits flip. No row may need IP fragmentation.
 *
 * TCPSIM_TABLE=1 in the environment prints one line per run (tcpsim_format).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpsim.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define SEC 1000000000ull
#define MS 1000000ull
#define MSL_2 (60 * SEC) /* TIME_WAIT with the default tunables */

enum recovery {
    CLEAN, /* not one retransmission, nothing out of order, no reset, no damage seen */
    LOSSY, /* frames die: something must have been retransmitted */
    ANY,   /* no claim */
};

struct row {
    const char *name;
    const char *link;     /* impair_parse spec, both directions */
    uint64_t bytes;       /* each way, per connection */
    uint64_t max_done_ns; /* virtual time the transfer and close may take */
    enum recovery rtx;
    bool damage;       /* corrupted frames: the TCP checksum must have caught some */
    uint64_t rate_bps; /* 0: infinitely fast */
    uint32_t flows, ring, read_quantum;
    uint64_t read_interval_ns;
    uint16_t backlog;
    bool tso; /* A's link finishes checksums and cuts TSO bursts (harness/gso.c) */
};

/* The table. Bytes are per direction and connection; both directions run at once. */
#define ROW(n, spec, b, bound, r)                                                                  \
    .name = n, .link = spec, .bytes = b, .max_done_ns = bound, .rtx = r

static const struct row clean = {ROW("clean", "", 4 * MiB, 1 * SEC, CLEAN)};
static const struct row delay = {ROW("delay 10ms", "delay=10ms", 1 * MiB, 2 * SEC, CLEAN)};
/* 256 KiB rings hold two bandwidth-delay products (125 KB), so the link is the limit. */
static const struct row rate = {ROW("100Mb/s 5ms", "delay=5ms", 2 * MiB, 2 * SEC, CLEAN),
                                .rate_bps = 100000000, .ring = 256 * KiB};
static const struct row loss1 = {ROW("loss 1%", "loss=1%,delay=1ms", 1 * MiB, 5 * SEC, LOSSY)};
static const struct row loss5 = {ROW("loss 5%", "loss=5%,delay=1ms", 1 * MiB, 30 * SEC, LOSSY)};
static const struct row loss10 = {ROW("loss 10%", "loss=10%,delay=1ms", 1 * MiB, 120 * SEC, LOSSY)};
static const struct row reorder = {
    ROW("reorder 5%", "reorder=5%,delay=2ms", 1 * MiB, 5 * SEC, ANY)};
static const struct row dup = {ROW("dup 5%", "dup=5%,delay=2ms", 1 * MiB, 2 * SEC, ANY)};
static const struct row corrupt = {
    ROW("corrupt 2%", "corrupt=2%,delay=1ms", 1 * MiB, 20 * SEC, LOSSY), .damage = true};
static const struct row all = {ROW("everything",
                                   "loss=3%,reorder=3%,dup=3%,corrupt=1%,delay=5ms,jitter=2ms",
                                   1 * MiB, 40 * SEC, LOSSY),
                               .damage = true};
/* 4 KiB rings and readers taking 2 KiB every 5 ms (400 KB/s): windows fill and close,
 * tcp_send pushes back. 1 MiB cannot take less than 2.56 s. */
static const struct row small = {ROW("4K rings", "delay=1ms", 1 * MiB, 4 * SEC, CLEAN),
                                 .ring = 4096, .read_quantum = 2048, .read_interval_ns = 5 * MS};
static const struct row small_lossy = {
    ROW("4K rings 2%", "loss=2%,delay=1ms", 1 * MiB, 30 * SEC, LOSSY), .ring = 4096,
    .read_quantum = 2048, .read_interval_ns = 5 * MS};
/* 32 SYNs at once (half of them wait out ARP's 16-packet queue and the 1 s SYN timer)
 * against a backlog of 4: most handshakes end by SYN cookie. No loss: a cookie handshake
 * cannot survive losing the segment that completes it (as in Linux). */
static const struct row cookies = {ROW("cookies", "delay=2ms", 64 * KiB, 5 * SEC, ANY), .flows = 32,
                                   .backlog = 4};
static const struct row many = {
    ROW("32 conns", "loss=2%,reorder=1%,dup=1%,delay=2ms,jitter=1ms", 64 * KiB, 20 * SEC, LOSSY),
    .flows = 32};

/* A sends through a device with checksum offload and TSO: bursts of up to 64 KiB, cut
 * into segments by the link, through the same losses as the rows above. */
static const struct row tso_clean = {ROW("TSO clean", "", 4 * MiB, 1 * SEC, CLEAN), .tso = true,
                                     .ring = 256 * KiB};
static const struct row tso_all = {ROW("TSO everything",
                                       "loss=3%,reorder=3%,dup=3%,corrupt=1%,delay=5ms,jitter=2ms",
                                       1 * MiB, 40 * SEC, LOSSY),
                                   .damage = true, .tso = true, .ring = 256 * KiB};

static const uint64_t seeds[] = {1, 2, 3, 4, 5, 6, 7, 8};

static struct tcpsim_cfg cfg_for(const struct row *row, uint64_t seed)
{
    struct tcpsim_cfg cfg = {.seed = seed,
                             .bytes_ab = row->bytes,
                             .bytes_ba = row->bytes,
                             .rate_bps = row->rate_bps,
                             .n_flows = row->flows,
                             .ring = row->ring,
                             .read_interval_ns = row->read_interval_ns,
                             .read_quantum = row->read_quantum,
                             .backlog = row->backlog};
    if (row->tso)
        cfg.caps_a = (struct net_dev_caps){.tx_csum = true, .tso_max = 65536};
    char err[128];
    cr_assert_eq(impair_parse(row->link, &cfg.link, err, sizeof(err)), 0, "%s", err);
    cfg.link.seed = seed * 1000 + 7;
    return cfg;
}

/* What every run must show, whatever the link. */
static void check_common(const struct row *row, uint64_t seed, const struct tcpsim_cfg *cfg,
                         const struct tcpsim_result *r)
{
    const char *name = row->name;
    unsigned long long s = (unsigned long long)seed;
    uint32_t flows = cfg->n_flows ? cfg->n_flows : 1;
    cr_assert(r->ok, "%s seed %llu: %s", name, s, r->why);
    cr_assert(r->data_ok && r->closed);
    cr_assert_eq(r->bytes_ab, cfg->bytes_ab * flows, "%s seed %llu", name, s);
    cr_assert_eq(r->bytes_ba, cfg->bytes_ba * flows, "%s seed %llu", name, s);
    cr_assert_eq(r->flows_done, flows);
    cr_assert_eq(r->in_use_a, 0);
    cr_assert_eq(r->in_use_b, 0);
    cr_assert_eq(r->tcp_a.opened, flows, "%s seed %llu: A opened %llu connections", name, s,
                 (unsigned long long)r->tcp_a.opened);
    cr_assert_eq(r->tcp_b.opened, flows);
    cr_assert_eq(r->tcp_a.timeouts + r->tcp_b.timeouts, 0, "%s seed %llu", name, s);
    cr_assert_eq(r->ip_fragments, 0, "%s seed %llu: %llu IP fragments (segments over the MTU)",
                 name, s, (unsigned long long)r->ip_fragments);
    cr_assert_leq(r->done_ns, row->max_done_ns, "%s seed %llu: transfer took %.3f s (bound %.3f s)",
                  name, s, (double)r->done_ns / 1e9, (double)row->max_done_ns / 1e9);
    /* After the last close only TIME_WAIT (and a few retransmitted FINs) remain. */
    cr_assert_leq(r->end_ns - r->done_ns, MSL_2 + 30 * SEC, "%s seed %llu: closing took %.3f s",
                  name, s, (double)(r->end_ns - r->done_ns) / 1e9);
}

static void check_row(const struct row *row, uint64_t seed, const struct tcpsim_result *r)
{
    unsigned long long s = (unsigned long long)seed;
    uint64_t rtx = r->tcp_a.retransmits + r->tcp_b.retransmits + r->tcp_a.fast_retransmits +
                   r->tcp_b.fast_retransmits;
    if (row->rtx == CLEAN) {
        cr_assert_eq(rtx, 0, "%s seed %llu: %llu retransmissions on a clean link", row->name, s,
                     (unsigned long long)rtx);
        cr_assert_eq(r->tcp_a.rx_ooo + r->tcp_b.rx_ooo, 0, "%s seed %llu: out of order", row->name,
                     s);
        cr_assert_eq(r->tcp_a.rx_dup_bytes + r->tcp_b.rx_dup_bytes, 0);
        cr_assert_eq(r->tcp_a.rx_resets + r->tcp_b.rx_resets, 0);
    } else if (row->rtx == LOSSY) {
        cr_assert_gt(rtx, 0, "%s seed %llu: frames died, nothing retransmitted", row->name, s);
    }
    uint64_t bad = r->tcp_a.rx_bad_checksum + r->tcp_b.rx_bad_checksum;
    if (row->damage)
        cr_assert_gt(bad, 0, "%s seed %llu: no damaged segment was caught", row->name, s);
    else
        cr_assert_eq(bad, 0, "%s seed %llu", row->name, s);
}

static void print(const char *name, uint64_t seed, const struct tcpsim_result *r)
{
    if (!getenv("TCPSIM_TABLE"))
        return;
    char line[512];
    tcpsim_format(r, line, sizeof(line));
    fprintf(stderr, "%-12s seed %llu: %s\n", name, (unsigned long long)seed, line);
}

/* Every seed of a row, each checked by the table and then by `extra` if given. */
static void run_row(const struct row *row, void (*extra)(const struct tcpsim_result *))
{
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        struct tcpsim_cfg cfg = cfg_for(row, seeds[i]);
        struct tcpsim_result r;
        tcpsim_run(&cfg, &r);
        print(row->name, seeds[i], &r);
        check_common(row, seeds[i], &cfg, &r);
        check_row(row, seeds[i], &r);
        if (extra)
            extra(&r);
    }
}

Test(tcp_sim, clean_link_moves_4_mib_each_way_without_a_retransmission, .timeout = 60)
{
    run_row(&clean, NULL);
}

Test(tcp_sim, delay_of_10_ms_costs_no_retransmission, .timeout = 60)
{
    run_row(&delay, NULL);
}

/* 2 MiB plus headers each way at 100 Mbit/s is 0.18 s of wire time, 10 ms a round trip:
 * the handshake and slow start add a few round trips, not double it. */
static void near_line_rate(const struct tcpsim_result *r)
{
    cr_assert_lt(r->done_ns, 350 * MS, "took %.3f s", (double)r->done_ns / 1e9);
}

Test(tcp_sim, fills_a_100_mbit_link_without_loss, .timeout = 60)
{
    run_row(&rate, near_line_rate);
}

Test(tcp_sim, survives_1_percent_loss, .timeout = 60)
{
    run_row(&loss1, NULL);
}

Test(tcp_sim, survives_5_percent_loss, .timeout = 60)
{
    run_row(&loss5, NULL);
}

Test(tcp_sim, survives_10_percent_loss, .timeout = 60)
{
    run_row(&loss10, NULL);
}

static void saw_reordering(const struct tcpsim_result *r)
{
    cr_assert_gt(r->tcp_a.rx_ooo + r->tcp_b.rx_ooo, 0, "nothing arrived out of order");
}

Test(tcp_sim, survives_5_percent_reordering, .timeout = 60)
{
    run_row(&reorder, saw_reordering);
}

/* A duplicate of a segment already taken lies wholly before rcv_nxt: unacceptable. */
static void saw_duplicates(const struct tcpsim_result *r)
{
    cr_assert_gt(r->tcp_a.rx_unacceptable + r->tcp_b.rx_unacceptable, 0, "no duplicate seen");
}

Test(tcp_sim, survives_5_percent_duplication, .timeout = 60)
{
    run_row(&dup, saw_duplicates);
}

Test(tcp_sim, drops_corrupted_frames_by_checksum_and_delivers_exactly, .timeout = 60)
{
    run_row(&corrupt, NULL);
}

Test(tcp_sim, survives_loss_reordering_duplication_and_corruption_at_once, .timeout = 60)
{
    run_row(&all, NULL);
}

static void flow_controlled(const struct tcpsim_result *r)
{
    cr_assert_gt(r->writable, 0, "tcp_send never pushed back");
    cr_assert_gt(r->zero_windows, 0, "no window ever closed");
    cr_assert_geq(r->done_ns, 2560 * MS, "faster than the readers read: %.3f s",
                  (double)r->done_ns / 1e9);
}

Test(tcp_sim, small_rings_and_slow_readers_close_windows_without_losing_a_byte, .timeout = 60)
{
    run_row(&small, flow_controlled);
}

Test(tcp_sim, small_rings_and_slow_readers_survive_loss, .timeout = 60)
{
    run_row(&small_lossy, NULL);
}

Test(tcp_sim, thirty_two_connections_at_once_over_a_lossy_link, .timeout = 60)
{
    run_row(&many, NULL);
}

static void served_by_cookies(const struct tcpsim_result *r)
{
    cr_assert_gt(r->tcp_a.syn_cookies_ok, 0, "no handshake ended by cookie");
    cr_assert_eq(r->tcp_a.syn_cookies_bad, 0);
    cr_assert_eq(r->tcp_a.rx_ooo + r->tcp_b.rx_ooo, 0);
}

Test(tcp_sim, a_burst_beyond_the_backlog_is_served_by_syn_cookies, .timeout = 60)
{
    run_row(&cookies, served_by_cookies);
}

/* The harness itself: deterministic, and loud when a run cannot finish. */
Test(tcp_sim, the_same_seed_replays_the_same_run, .timeout = 60)
{
    struct tcpsim_cfg cfg = cfg_for(&all, 5);
    cfg.bytes_ab = cfg.bytes_ba = 256 * KiB;
    struct tcpsim_result a, b;
    tcpsim_run(&cfg, &a);
    tcpsim_run(&cfg, &b);
    cr_assert_eq(a.ok, b.ok);
    cr_assert_eq(a.done_ns, b.done_ns);
    cr_assert_eq(a.end_ns, b.end_ns);
    cr_assert_eq(a.frames_ab, b.frames_ab);
    cr_assert_eq(a.frames_ba, b.frames_ba);
    cr_assert_eq(memcmp(&a.imp_ab, &b.imp_ab, sizeof(a.imp_ab)), 0);
    cr_assert_eq(memcmp(&a.tcp_a, &b.tcp_a, sizeof(a.tcp_a)), 0);
    cr_assert_eq(memcmp(&a.tcp_b, &b.tcp_b, sizeof(a.tcp_b)), 0);
    cfg.seed = 6;
    tcpsim_run(&cfg, &b);
    cr_assert_neq(a.frames_ab + a.frames_ba, b.frames_ab + b.frames_ba, "the seed changed nothing");
}

Test(tcp_sim, a_dead_link_fails_the_run_instead_of_hanging, .timeout = 60)
{
    struct tcpsim_cfg cfg = {.seed = 1, .bytes_ab = KiB, .bytes_ba = KiB};
    cfg.link.loss_ppm = IMPAIR_PPM;
    struct tcpsim_result r;
    cr_assert_not(tcpsim_run(&cfg, &r));
    cr_assert_not(r.ok);
    cr_assert_not_null(strstr(r.why, "timeout"), "%s", r.why);
    cr_assert_eq(r.bytes_ab + r.bytes_ba, 0);
    cr_assert_eq(r.in_use_a + r.in_use_b, 0);
}

Test(tcp_sim, the_virtual_time_limit_stops_a_run, .timeout = 60)
{
    struct tcpsim_cfg cfg = cfg_for(&loss10, 1);
    cfg.time_limit_ns = 100 * MS;
    struct tcpsim_result r;
    cr_assert_not(tcpsim_run(&cfg, &r));
    cr_assert_not_null(strstr(r.why, "virtual time limit"), "%s", r.why);
    cr_assert_leq(r.end_ns, 100 * MS);
}

static void cut_bursts(const struct tcpsim_result *r)
{
    cr_assert_gt(r->bursts_a, 0, "A's link cut no burst");
    cr_assert_eq(r->bursts_a, r->tcp_a.tx_bursts, "bursts sent and bursts cut disagree");
    cr_assert_eq(r->tcp_b.tx_bursts, 0, "B's link offers no TSO");
}

Test(tcp_sim, tso_bursts_move_4_mib_each_way_without_a_retransmission, .timeout = 60)
{
    run_row(&tso_clean, cut_bursts);
}

Test(tcp_sim, tso_bursts_survive_loss_reordering_duplication_and_corruption, .timeout = 60)
{
    run_row(&tso_all, cut_bursts);
}
