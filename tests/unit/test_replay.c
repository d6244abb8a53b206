/*
 * The replay tool is what `make check` and `git bisect run` trust, so it is tested like a
 * layer: it must catch any change to what the stack sent, say where, and refuse to guess
 * when it cannot run.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dissect.h"
#include "replay.h"

/* Small but covers ARP, IPv4 and ICMP: the stack resolves Linux and pings it twice. */
#define FIXTURE "pcaps/arp/quartz-resolves-linux.pcap"

static const struct replay_opts quiet = {0};

static void load(const char *pcap, struct capture *cap, struct netcfg *cfg)
{
    char err[512], conf[512];
    netcfg_defaults(cfg);
    cr_assert_eq(netcfg_load(replay_sidecar_path(pcap, conf, sizeof(conf)), cfg, err,
                             sizeof(err)), 0, "%s", err);
    cr_assert_eq(capture_load(pcap, cap, err, sizeof(err)), 0, "%s", err);
}

static bool from_stack(const struct cap_frame *f, const struct netcfg *cfg)
{
    return f->len >= 12 && memcmp(f->data + 6, cfg->node.mac.b, 6) == 0;
}

/* Replay into a string so tests can read the report. */
static int replay_to_string(const struct capture *cap, const struct netcfg *cfg, char **report)
{
    size_t len;
    FILE *out = open_memstream(report, &len);
    int rc = replay_capture("test", cap, cfg, &quiet, out);
    fclose(out);
    return rc;
}

Test(replay, recorded_fixture_matches)
{
    struct capture cap;
    struct netcfg cfg;
    char *report;
    load(FIXTURE, &cap, &cfg);
    cr_assert_eq(replay_to_string(&cap, &cfg, &report), REPLAY_MATCH, "%s", report);
    free(report);
    capture_free(&cap);
}

Test(replay, catches_every_one_bit_change_in_every_expected_frame)
{
    struct capture cap;
    struct netcfg cfg;
    load(FIXTURE, &cap, &cfg);
    FILE *devnull = fopen("/dev/null", "w");
    size_t flips = 0;
    for (size_t i = 0; i < cap.n; i++) {
        struct cap_frame *f = &cap.frames[i];
        if (!from_stack(f, &cfg))
            continue;
        for (size_t bit = 0; bit < f->len * 8; bit++) {
            /* Flipping the bit that makes our source MAC a different one turns the frame
             * into input: that is a missing frame, which must be caught too. */
            f->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            int rc = replay_capture("flip", &cap, &cfg, &quiet, devnull);
            f->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            cr_assert_eq(rc, REPLAY_DIFFER, "frame %zu bit %zu went unnoticed", i + 1, bit);
            flips++;
        }
    }
    fclose(devnull);
    cr_assert_gt(flips, 1000, "the fixture should have exercised many bits, got %zu", flips);
    capture_free(&cap);
}

Test(replay, names_frame_layer_and_field_of_a_difference)
{
    struct capture cap;
    struct netcfg cfg;
    char *report;
    load(FIXTURE, &cap, &cfg);
    /* The first echo request the stack sent: bump its ICMP sequence number. */
    size_t frame = 0;
    for (size_t i = 0; i < cap.n && !frame; i++)
        if (from_stack(&cap.frames[i], &cfg) && cap.frames[i].len > 42 &&
            cap.frames[i].data[12] == 0x08 && cap.frames[i].data[13] == 0x00)
            frame = i + 1;
    cr_assert(frame, "no echo request from the stack in the fixture");
    cap.frames[frame - 1].data[14 + 20 + 7] ^= 1; /* icmp.seq, low byte */
    cr_assert_eq(replay_to_string(&cap, &cfg, &report), REPLAY_DIFFER);
    char want[64];
    snprintf(want, sizeof(want), "capture frame %zu", frame);
    cr_assert(strstr(report, want), "report lacks '%s':\n%s", want, report);
    cr_assert(strstr(report, "layer:    ICMP"), "%s", report);
    cr_assert(strstr(report, "field:    icmp.seq"), "%s", report);
    free(report);
    capture_free(&cap);
}

Test(replay, reports_a_frame_the_stack_did_not_send)
{
    struct capture cap;
    struct netcfg cfg;
    char *report;
    load(FIXTURE, &cap, &cfg);
    /* Drop Linux's ARP reply: the stack can then never send its echo requests. */
    size_t j = 0;
    for (size_t i = 0; i < cap.n; i++) {
        const struct cap_frame *f = &cap.frames[i];
        bool arp_reply = !from_stack(f, &cfg) && f->len >= 22 && f->data[12] == 0x08 &&
                         f->data[13] == 0x06 && f->data[21] == 2;
        if (arp_reply)
            free(f->data);
        else
            cap.frames[j++] = *f;
    }
    cr_assert_lt(j, cap.n, "fixture has no ARP reply from Linux");
    cap.n = j;
    cr_assert_eq(replay_to_string(&cap, &cfg, &report), REPLAY_DIFFER);
    cr_assert(strstr(report, "the stack sent nothing"), "%s", report);
    free(report);
    capture_free(&cap);
}

Test(replay, reports_an_extra_frame_the_stack_sent)
{
    struct capture cap;
    struct netcfg cfg;
    char *report;
    load(FIXTURE, &cap, &cfg);
    /* Forget the last frame the stack sent: the replayed stack still sends it. */
    size_t last = cap.n;
    while (last > 0 && !from_stack(&cap.frames[last - 1], &cfg))
        last--;
    cr_assert(last > 0);
    free(cap.frames[last - 1].data);
    memmove(&cap.frames[last - 1], &cap.frames[last], (cap.n - last) * sizeof(cap.frames[0]));
    cap.n--;
    cr_assert_eq(replay_to_string(&cap, &cfg, &report), REPLAY_DIFFER);
    cr_assert(strstr(report, "extra frame"), "%s", report);
    free(report);
    capture_free(&cap);
}

Test(replay, cannot_run_without_capture_or_with_a_bad_sidecar)
{
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_eq(replay_file("pcaps/no/such.pcap", &quiet, devnull), REPLAY_CANNOT_RUN);

    char dir[] = "/tmp/qz-replay-XXXXXX", pcap[128], conf[128];
    cr_assert(mkdtemp(dir));
    snprintf(pcap, sizeof(pcap), "%s/x.pcap", dir);
    snprintf(conf, sizeof(conf), "%s/x.conf", dir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cp " FIXTURE " %s", pcap);
    cr_assert_eq(system(cmd), 0);
    FILE *f = fopen(conf, "w");
    fputs("ip=10.0.0.2/24\ncolour=blue\n", f); /* a typo must not silently change a test */
    fclose(f);
    cr_assert_eq(replay_file(pcap, &quiet, devnull), REPLAY_CANNOT_RUN);
    f = fopen(conf, "w");
    fputs("ip=10.0.0.2/33\n", f);
    fclose(f);
    cr_assert_eq(replay_file(pcap, &quiet, devnull), REPLAY_CANNOT_RUN);
    f = fopen(conf, "w");
    fputs("ip=10.0.0.0/32\nmtu=100\n", f); /* parses, but the stack refuses it */
    fclose(f);
    cr_assert_eq(replay_file(pcap, &quiet, devnull), REPLAY_CANNOT_RUN);
    snprintf(cmd, sizeof(cmd), "rm -r %s", dir);
    cr_assert_eq(system(cmd), 0);
    fclose(devnull);
}

Test(replay, writes_what_the_stack_sent_to_a_pcap)
{
    struct capture cap, out;
    struct netcfg cfg;
    char err[256], path[] = "/tmp/qz-actual-XXXXXX";
    load(FIXTURE, &cap, &cfg);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    struct replay_opts o = {.write_path = path};
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_eq(replay_capture("w", &cap, &cfg, &o, devnull), REPLAY_MATCH);
    fclose(devnull);
    cr_assert_eq(capture_load(path, &out, err, sizeof(err)), 0, "%s", err);
    /* The written conversation is the capture again: same frames, same order. */
    cr_assert_eq(out.n, cap.n);
    for (size_t i = 0; i < cap.n; i++) {
        cr_assert_eq(out.frames[i].len, cap.frames[i].len, "frame %zu", i + 1);
        cr_assert_eq(memcmp(out.frames[i].data, cap.frames[i].data, cap.frames[i].len), 0,
                     "frame %zu", i + 1);
    }
    capture_free(&out);
    capture_free(&cap);
    unlink(path);
}

/* Two captures of one TCP exchange with different ISNs dissect to the same fields. */
Test(dissect, tcp_sequence_numbers_are_relative_to_each_direction)
{
    uint8_t a[2][54], b[2][54];
    const uint32_t isn_a[2] = {1000, 5000}, isn_b[2] = {77777, 123456};
    for (int side = 0; side < 2; side++) {
        uint8_t *fa = a[side], *fb = b[side];
        memset(fa, 0, 54);
        fa[12] = 0x08;
        fa[14] = 0x45;
        fa[17] = 40; /* ip.len */
        fa[22] = 64;
        fa[23] = 6;
        fa[26 + 3] = (uint8_t)(side ? 2 : 1); /* src 0.0.0.1 / 0.0.0.2 */
        fa[30 + 3] = (uint8_t)(side ? 1 : 2);
        fa[34 + 1] = (uint8_t)(side ? 80 : 99);
        fa[36 + 1] = (uint8_t)(side ? 99 : 80);
        fa[46] = 0x50;
        fa[47] = (uint8_t)(side ? 0x12 : 0x02); /* SYN / SYN+ACK */
        memcpy(fb, fa, 54);
        for (int k = 0; k < 4; k++) {
            fa[38 + k] = (uint8_t)(isn_a[side] >> (24 - 8 * k));
            fb[38 + k] = (uint8_t)(isn_b[side] >> (24 - 8 * k));
            fa[42 + k] = (uint8_t)((isn_a[!side] + 1) >> (24 - 8 * k));
            fb[42 + k] = (uint8_t)((isn_b[!side] + 1) >> (24 - 8 * k));
        }
    }
    struct dissect_ctx ca = {0}, cb = {0};
    struct dissection da, db;
    dissect(&ca, a[0], 54, &da);
    dissect(&cb, b[0], 54, &db);
    dissect(&ca, a[1], 54, &da);
    dissect(&cb, b[1], 54, &db);
    cr_assert_eq(da.n, db.n);
    for (size_t i = 0; i < da.n; i++) {
        if (!strcmp(da.f[i].name, "tcp.checksum"))
            continue; /* both incorrect here: the frames carry no checksum */
        cr_assert(field_equal(&da.f[i], &db.f[i]), "%s differs", da.f[i].name);
    }
    /* The SYN+ACK acknowledges the peer's ISN + 1: relative ack 1. */
    for (size_t i = 0; i < da.n; i++)
        if (!strcmp(da.f[i].name, "tcp.ack"))
            cr_assert_eq(da.f[i].num, 1);
}
