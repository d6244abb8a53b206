/*
 * test_gso.c — harness/gso.c, the device's offload work done in software that the fake
 * link stands on: a checksum the stack left primed with the pseudo-header sum comes out
 * whole; a TCP/IPv4 burst is cut into MSS-sized frames as Linux's GSO cuts it (lengths,
 * IP ids, sequence numbers, both checksums, FIN/PSH on the last, CWR on the first); and
 * every request no device could carry out is refused with nothing emitted.
 *
 * Bursts are built with frames.h and the results are read at wire offsets and summed
 * with fr_csum over a pseudo-header assembled here, so the tests share no arithmetic with
 * the code under test beyond the naive sum itself.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "gso.h"

#define ETH 14
#define IP_HDR 20
#define TCP_HDR 32 /* with the timestamps option, as Linux sends bulk data */
#define HDRS (ETH + IP_HDR + TCP_HDR)
#define MSS 1448
#define SRC NET_IP4(10, 0, 0, 2)
#define DST NET_IP4(10, 0, 0, 1)

#define TH_FIN 0x01
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_CWR 0x80

static const struct net_mac mac_us = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

/* What the device handed on: each frame copied, in order. */
#define OUT_MAX 64
struct out {
    size_t n;
    size_t len[OUT_MAX];
    uint8_t *data[OUT_MAX];
};

static void collect(void *ctx, const uint8_t *frame, size_t len)
{
    struct out *o = ctx;
    cr_assert_lt(o->n, OUT_MAX, "too many frames");
    o->data[o->n] = malloc(len);
    cr_assert_not_null(o->data[o->n]);
    memcpy(o->data[o->n], frame, len);
    o->len[o->n++] = len;
}

static void out_free(struct out *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->data[i]);
}

/* The pseudo-header's sum for a TCP segment of `len` bytes, folded, not complemented:
 * what a sender leaves in the checksum field for the device to finish. */
static uint16_t pseudo_sum(net_ip4 src, net_ip4 dst, size_t len)
{
    uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)len;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* The TCP checksum of the segment behind the IPv4 header `ip` (its length from the IP
 * total length) verifies: pseudo-header and segment together sum to 0xffff. */
static bool tcp_sum_ok(const uint8_t *ip)
{
    size_t ihl = (size_t)(ip[0] & 15) * 4, tl = net_get16(ip + 2) - ihl;
    uint8_t *buf = malloc(12 + tl);
    cr_assert_not_null(buf);
    memcpy(buf, ip + 12, 8); /* source and destination */
    buf[8] = 0;
    buf[9] = ip[9];
    net_put16(buf + 10, (uint16_t)tl);
    memcpy(buf + 12, ip + ihl, tl);
    bool ok = fr_csum(buf, 12 + tl) == 0;
    free(buf);
    return ok;
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 131 + (i >> 9)); /* period unrelated to the MSS */
}

/*
 * Ethernet + IPv4 (id `id`, DF) + TCP with timestamps + `len` payload bytes into `buf`,
 * as a stack hands a burst to a device: the IP header whole, the TCP checksum field
 * primed with the pseudo-header sum for the whole segment. Returns the frame length.
 */
static size_t burst(uint8_t *buf, uint16_t id, uint32_t seq, uint8_t flags, size_t len)
{
    uint8_t opts[12];
    size_t olen = fr_tcp_opt_ts(opts, 0x01020304, 0x0a0b0c0d);
    cr_assert_eq(olen, TCP_HDR - 20);
    struct fr_tcp t = {.sport = 80,
                       .dport = 40000,
                       .seq = seq,
                       .ack = 0x11223344,
                       .flags = flags,
                       .window = 502,
                       .options = opts,
                       .options_len = olen};
    uint8_t *seg = buf + ETH + IP_HDR;
    uint8_t *payload = malloc(len ? len : 1);
    cr_assert_not_null(payload);
    for (size_t i = 0; i < len; i++)
        payload[i] = pattern(i);
    size_t n = fr_tcp_seg(seg, SRC, DST, &t, payload, len);
    free(payload);
    net_put16(seg + 16, pseudo_sum(SRC, DST, n));
    struct fr_ip ip = {.src = SRC, .dst = DST, .proto = 6, .id = id, .df = true};
    return fr_ipv4(buf, &fr_mac_peer, &mac_us, &ip, seg, n);
}

/* The IPv4 header checksum made right again after a test changed a header field. */
static void fix_ip_sum(uint8_t *frame)
{
    net_put16(frame + ETH + 10, 0);
    net_put16(frame + ETH + 10, fr_csum(frame + ETH, IP_HDR));
}

static const struct net_offload tso = {
    .csum_start = ETH + IP_HDR, .csum_offset = 16, .hdr_len = HDRS, .gso_size = MSS};

/*
 * `o` is `burst(id, seq, flags, payload)` cut at MSS: `n` frames, each a copy of the
 * burst's headers with its own length, id, sequence number, flags and checksums, whose
 * payloads put together are the burst's.
 */
static void expect_cut(const struct out *o, const uint8_t *frame, size_t n, uint16_t id,
                       uint32_t seq, uint8_t flags, size_t payload)
{
    cr_assert_eq(o->n, n, "%zu frames, expected %zu", o->n, n);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = o->data[i], *ip = f + ETH, *tcp = ip + IP_HDR;
        size_t seg = payload - at < MSS ? payload - at : MSS;
        bool first = i == 0, last = i == n - 1;
        cr_assert_eq(o->len[i], HDRS + seg, "frame %zu is %zu bytes", i, o->len[i]);
        cr_assert_leq(o->len[i], HDRS + MSS);
        cr_assert_arr_eq(f, frame, ETH, "frame %zu: Ethernet header", i);
        cr_assert_eq(net_get16(ip + 2), IP_HDR + TCP_HDR + seg, "frame %zu: IP length", i);
        cr_assert_eq(net_get16(ip + 4), (uint16_t)(id + i), "frame %zu: IP id", i);
        cr_assert_eq(net_get16(ip + 6), 0x4000, "frame %zu: DF kept, no fragment", i);
        cr_assert_eq(fr_csum(ip, IP_HDR), 0, "frame %zu: IP header checksum", i);
        cr_assert(tcp_sum_ok(ip), "frame %zu: TCP checksum", i);
        cr_assert_eq(net_get32(tcp + 4), seq + (uint32_t)at, "frame %zu: sequence number", i);
        cr_assert_arr_eq(tcp, frame + ETH + IP_HDR, 4, "frame %zu: ports", i);
        cr_assert_arr_eq(tcp + 8, frame + ETH + IP_HDR + 8, 5, "frame %zu: ack, offset", i);
        cr_assert_arr_eq(tcp + 14, frame + ETH + IP_HDR + 14, 2, "frame %zu: window", i);
        cr_assert_arr_eq(tcp + 18, frame + ETH + IP_HDR + 18, TCP_HDR - 18,
                         "frame %zu: urgent pointer and options", i);
        uint8_t want = flags;
        if (!last)
            want &= (uint8_t) ~(TH_FIN | TH_PSH);
        if (!first)
            want &= (uint8_t)~TH_CWR;
        cr_assert_eq(tcp[13], want, "frame %zu: flags %#x, expected %#x", i, tcp[13], want);
        for (size_t j = 0; j < seg; j++)
            cr_assert_eq(f[HDRS + j], pattern(at + j), "payload byte %zu", at + j);
        at += seg;
    }
    cr_assert_eq(at, payload, "the frames carry the whole payload");
}

/* ---- Checksum only ------------------------------------------------------------------- */

Test(gso, finishes_a_checksum_left_to_the_device)
{
    static uint8_t frame[HDRS + 333];
    size_t len = burst(frame, 7, 1000, TH_ACK | TH_PSH, 333); /* odd: the last byte pads */
    cr_assert(!tcp_sum_ok(frame + ETH), "the primed field must not pass for a checksum");
    struct net_offload off = {.csum_start = ETH + IP_HDR, .csum_offset = 16};
    struct out o = {0};

    cr_assert_eq(gso_finish(frame, len, &off, collect, &o), 1);
    cr_assert_eq(o.n, 1);
    cr_assert_eq(o.len[0], len);
    cr_assert(tcp_sum_ok(o.data[0] + ETH), "TCP checksum not finished");
    /* Nothing else changed. */
    cr_assert_arr_eq(o.data[0], frame, ETH + IP_HDR + 16);
    cr_assert_arr_eq(o.data[0] + ETH + IP_HDR + 18, frame + ETH + IP_HDR + 18,
                     len - (ETH + IP_HDR + 18));
    out_free(&o);
}

/* ---- Segmentation -------------------------------------------------------------------- */

Test(gso, cuts_a_tcp_burst_into_mss_frames_like_linux)
{
    /* Six full segments and a 700-byte tail; the ids wrap past 0xffff on the way. */
    const size_t payload = 6 * MSS + 700;
    const uint8_t flags = TH_ACK | TH_PSH | TH_FIN | TH_CWR;
    static uint8_t frame[HDRS + 6 * MSS + 700];
    size_t len = burst(frame, 0xfffd, 0xfffff000, flags, payload);
    struct out o = {0};

    cr_assert_eq(gso_finish(frame, len, &tso, collect, &o), 7);
    expect_cut(&o, frame, 7, 0xfffd, 0xfffff000, flags, payload);
    out_free(&o);
}

Test(gso, cuts_a_burst_of_whole_segments_without_an_empty_tail)
{
    const size_t payload = 4 * MSS;
    const uint8_t flags = TH_ACK | TH_PSH | TH_FIN | TH_CWR;
    static uint8_t frame[HDRS + 4 * MSS];
    size_t len = burst(frame, 100, 5000, flags, payload);
    struct out o = {0};

    cr_assert_eq(gso_finish(frame, len, &tso, collect, &o), 4);
    expect_cut(&o, frame, 4, 100, 5000, flags, payload);
    out_free(&o);
}

Test(gso, a_burst_without_fin_psh_or_cwr_keeps_its_flags_on_every_frame)
{
    const size_t payload = 2 * MSS + 1;
    static uint8_t frame[HDRS + 2 * MSS + 1];
    size_t len = burst(frame, 1, 1, TH_ACK, payload);
    struct out o = {0};

    cr_assert_eq(gso_finish(frame, len, &tso, collect, &o), 3);
    expect_cut(&o, frame, 3, 1, 1, TH_ACK, payload);
    out_free(&o);
}

/* ---- Refusals -------------------------------------------------------------------------- */

/* gso_finish refuses `off` for `frame` and hands on nothing. */
static void expect_refused(const uint8_t *frame, size_t len, const struct net_offload *off,
                           const char *why)
{
    struct out o = {0};
    cr_assert_eq(gso_finish(frame, len, off, collect, &o), -1, "accepted %s", why);
    cr_assert_eq(o.n, 0, "emitted %zu frames for %s", o.n, why);
    out_free(&o);
}

Test(gso, refuses_offsets_past_the_frame)
{
    static uint8_t frame[HDRS + 100];
    size_t len = burst(frame, 1, 1, TH_ACK, 100);

    struct net_offload off = {.csum_start = (uint16_t)len, .csum_offset = 16};
    expect_refused(frame, len, &off, "a checksum starting at the frame's end");
    off = (struct net_offload){.csum_start = ETH + IP_HDR, .csum_offset = (uint16_t)(len - 35)};
    expect_refused(frame, len, &off, "a checksum field straddling the frame's end");
    off = (struct net_offload){.csum_start = ETH + IP_HDR, .csum_offset = (uint16_t)(len - 34)};
    expect_refused(frame, len, &off, "a checksum field just past the frame's end");

    off = tso;
    off.hdr_len = (uint16_t)len;
    expect_refused(frame, len, &off, "headers as long as the frame (no payload to cut)");
    off.csum_start = (uint16_t)(len + 1);
    expect_refused(frame, len, &off, "a burst whose checksum starts past the frame");

    /* The same frame with sane offsets is finished, so the refusals came from them. */
    off = (struct net_offload){.csum_start = ETH + IP_HDR, .csum_offset = 16};
    struct out o = {0};
    cr_assert_eq(gso_finish(frame, len, &off, collect, &o), 1);
    out_free(&o);
}

Test(gso, refuses_to_segment_anything_but_tcp_over_ipv4)
{
    static uint8_t frame[HDRS + 3 * MSS];
    size_t len = burst(frame, 1, 1, TH_ACK, 3 * MSS);

    frame[ETH + 9] = 17; /* UDP */
    fix_ip_sum(frame);
    expect_refused(frame, len, &tso, "a UDP burst");
    frame[ETH + 9] = 6;
    fix_ip_sum(frame);

    net_put16(frame + 12, 0x86dd); /* IPv6 EtherType */
    expect_refused(frame, len, &tso, "an IPv6 EtherType");
    net_put16(frame + 12, 0x0800);

    frame[ETH] = 0x65; /* version 6 behind an IPv4 EtherType */
    fix_ip_sum(frame);
    expect_refused(frame, len, &tso, "IP version 6");
    frame[ETH] = 0x45;
    fix_ip_sum(frame);

    struct out o = {0};
    cr_assert_eq(gso_finish(frame, len, &tso, collect, &o), 3, "the repaired burst is cut");
    out_free(&o);
}

Test(gso, refuses_a_header_length_the_tcp_data_offset_contradicts)
{
    static uint8_t frame[HDRS + 3 * MSS];
    size_t len = burst(frame, 1, 1, TH_ACK, 3 * MSS);
    struct net_offload off = tso;

    off.hdr_len = HDRS - 12; /* as if there were no options */
    expect_refused(frame, len, &off, "hdr_len 12 bytes short of the TCP header");
    off.hdr_len = HDRS + 4;
    expect_refused(frame, len, &off, "hdr_len 4 bytes past the TCP header");
    frame[ETH + IP_HDR + 12] = 5 << 4; /* the header says 20 bytes, hdr_len says 32 */
    expect_refused(frame, len, &tso, "a data offset shorter than hdr_len");
}

Test(gso, refuses_ip_and_tcp_headers_shorter_than_their_minimum)
{
    static uint8_t frame[HDRS + 3 * MSS];
    size_t len = burst(frame, 1, 1, TH_ACK, 3 * MSS);
    struct net_offload off = tso;

    /* IHL 4: a 16-byte "IPv4 header", offsets that agree with it and a data offset of 10
     * where it puts the TCP header. */
    frame[ETH] = 0x44;
    fix_ip_sum(frame);
    frame[ETH + 16 + 12] = 10 << 4;
    off.csum_start = ETH + 16;
    off.hdr_len = ETH + 16 + 40;
    expect_refused(frame, len, &off, "an IPv4 header of 16 bytes");

    /*
     * A 60-byte IPv4 header (40 bytes of NOP options) and a TCP data offset of 0: the
     * headers add up to 74 bytes, past the 54 every burst has, but there is no TCP header
     * to rewrite. A 2-byte payload cut 1 byte at a time: a device that took it would write
     * sequence numbers and checksums past its 75-byte segments. The frame is allocated to
     * its length so a read past it shows too.
     */
    uint8_t nops[40];
    memset(nops, 1, sizeof(nops));
    uint8_t body[2] = {0xab, 0xcd};
    struct fr_ip ip = {.src = SRC,
                       .dst = DST,
                       .proto = 6,
                       .id = 1,
                       .df = true,
                       .options = nops,
                       .options_len = sizeof(nops)};
    uint8_t tmp[ETH + 60 + 2];
    size_t n = fr_ipv4(tmp, &fr_mac_peer, &mac_us, &ip, body, sizeof(body));
    cr_assert_eq(n, sizeof(tmp));
    uint8_t *exact = malloc(n);
    cr_assert_not_null(exact);
    memcpy(exact, tmp, n);
    off = (struct net_offload){
        .csum_start = ETH + 60, .csum_offset = 16, .hdr_len = ETH + 60, .gso_size = 1};
    expect_refused(exact, n, &off, "a TCP header of 0 bytes behind IP options");
    free(exact);
}

Test(gso, refuses_a_checksum_offset_other_than_tcps_with_gso)
{
    static uint8_t frame[HDRS + 3 * MSS];
    size_t len = burst(frame, 1, 1, TH_ACK, 3 * MSS);
    struct net_offload off = tso;

    off.csum_offset = 6; /* UDP's */
    expect_refused(frame, len, &off, "csum_offset 6");
    off.csum_offset = 0;
    expect_refused(frame, len, &off, "gso without a checksum");
    off.csum_offset = 18;
    expect_refused(frame, len, &off, "csum_offset 18");
}

Test(gso, refuses_a_frame_over_gso_frame_max)
{
    uint8_t *frame = calloc(1, GSO_FRAME_MAX + 1);
    cr_assert_not_null(frame);
    /* The largest burst IPv4 allows is cut; a frame over GSO_FRAME_MAX is refused. */
    size_t len = burst(frame, 1, 1, TH_ACK, 65535 - IP_HDR - TCP_HDR);
    cr_assert_eq(len, ETH + 65535);
    cr_assert_leq(len, GSO_FRAME_MAX);
    struct out o = {0};
    cr_assert_eq(gso_finish(frame, len, &tso, collect, &o), (int)((len - HDRS + MSS - 1) / MSS),
                 "the largest burst is cut");
    out_free(&o);

    expect_refused(frame, GSO_FRAME_MAX + 1, &tso, "a frame one byte over GSO_FRAME_MAX");
    free(frame);
}
