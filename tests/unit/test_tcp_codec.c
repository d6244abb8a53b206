/*
 * test_tcp_codec.c — the pure pieces under TCP: the segment codec (parse, emit, checksum,
 * options), SipHash-2-4, RFC 6528 initial sequence numbers and SYN cookies.
 *
 * Segments are built with harness/frames.h or written out by hand and their checksums
 * made with its naive sum (fr_csum), never with the codec under test.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../lib/netstack/tcp_internal.h"
#include "frames.h"
#include "netstack/siphash.h"
#include "netstack/tcp.h"

#define SRC NET_IP4(10, 0, 0, 1)
#define DST NET_IP4(10, 0, 0, 2)
#define SEC NET_NS_PER_SEC
#define T0 (1000 * SEC)

/*
 * A SYN written by hand the way Linux lays one out (tcp_options_write), as a client at
 * 10.0.0.1 would send it to 10.0.0.2: port 42066 to 80, window 64240, options MSS 1460,
 * SACK_PERM, TS (val 0x000a2b3c, ecr 0), NOP, WS 7.
 * Checksum by hand: the pseudo-header (10.0.0.1, 10.0.0.2, proto 6, length 40) sums to
 * 0x1431 and the segment's 20 words to 0x2fb42; together 0x30f73, folded 0x0f76,
 * complemented 0xf089.
 */
/* clang-format off */
static const uint8_t linux_syn[40] = {
    0xa4, 0x52, 0x00, 0x50,                         /* ports 42066 -> 80 */
    0x2b, 0x3c, 0x4d, 0x5e,                         /* seq */
    0x00, 0x00, 0x00, 0x00,                         /* ack */
    0xa0, 0x02, 0xfa, 0xf0,                         /* data offset 10, SYN, window */
    0xf0, 0x89, 0x00, 0x00,                         /* checksum, urgent pointer */
    0x02, 0x04, 0x05, 0xb4,                         /* MSS 1460 */
    0x04, 0x02, 0x08, 0x0a,                         /* SACK_PERM, TS: */
    0x00, 0x0a, 0x2b, 0x3c, 0x00, 0x00, 0x00, 0x00, /*   val, ecr */
    0x01, 0x03, 0x03, 0x07,                         /* NOP, WS 7 */
};
/* clang-format on */

/* The checksum the naive way: pseudo-header and segment copied together, fr_csum. */
static uint16_t ref_tcp_csum(net_ip4 src, net_ip4 dst, const uint8_t *seg, size_t len)
{
    static uint8_t buf[12 + 65536];
    net_put32(buf, src);
    net_put32(buf + 4, dst);
    buf[8] = 0;
    buf[9] = 6;
    net_put16(buf + 10, (uint16_t)len);
    memcpy(buf + 12, seg, len);
    return fr_csum(buf, 12 + len);
}

/* Give a hand-damaged segment a correct checksum again, so only the damage is seen. */
static void reseal(uint8_t *seg, size_t len)
{
    net_put16(seg + TCP_OFF_CSUM, 0);
    net_put16(seg + TCP_OFF_CSUM, ref_tcp_csum(SRC, DST, seg, len));
}

/* Parse must refuse `seg` for `want`, with the return code that goes with it. */
static void expect_defect(const uint8_t *seg, size_t len, enum tcp_defect want, const char *what)
{
    struct tcp_repr r;
    enum tcp_defect why = TCP_DEFECT_NONE;
    int rc = tcp_parse(seg, len, SRC, DST, &r, &why);
    cr_assert_eq(why, want, "%s: defect %d, expected %d", what, why, want);
    cr_assert_eq(rc, want == TCP_DEFECT_CHECKSUM ? NET_EINVAL : NET_EMALFORMED, "%s", what);
}

/* A segment with `opt` as its options (a multiple of 4 bytes), no payload. */
static size_t seg_with_options(uint8_t *buf, const uint8_t *opt, size_t opt_len)
{
    struct fr_tcp t = {.sport = 1234,
                       .dport = 80,
                       .seq = 1,
                       .flags = TCP_SYN,
                       .window = 1000,
                       .options = opt,
                       .options_len = opt_len};
    return fr_tcp_seg(buf, SRC, DST, &t, NULL, 0);
}

static void parse_ok(const uint8_t *seg, size_t len, struct tcp_repr *r)
{
    enum tcp_defect why = TCP_DEFECT_CHECKSUM;
    cr_assert_eq(tcp_parse(seg, len, SRC, DST, r, &why), NET_OK);
    cr_assert_eq(why, TCP_DEFECT_NONE);
}

/* Every field emit writes, compared; `n_sack` is how many blocks should have survived. */
static void expect_same(const struct tcp_repr *got, const struct tcp_repr *want, size_t n_sack,
                        int i)
{
    cr_assert_eq(got->src_port, want->src_port, "case %d", i);
    cr_assert_eq(got->dst_port, want->dst_port, "case %d", i);
    cr_assert_eq(got->seq, want->seq, "case %d", i);
    cr_assert_eq(got->ack, want->ack, "case %d", i);
    cr_assert_eq(got->flags, want->flags, "case %d", i);
    cr_assert_eq(got->window, want->window, "case %d", i);
    cr_assert_eq(got->urg, want->urg, "case %d", i);
    cr_assert_eq(got->has_mss, want->has_mss, "case %d", i);
    cr_assert_eq(got->mss, want->has_mss ? want->mss : 0, "case %d", i);
    cr_assert_eq(got->has_ws, want->has_ws, "case %d", i);
    cr_assert_eq(got->ws, want->has_ws ? want->ws : 0, "case %d", i);
    cr_assert_eq(got->sack_perm, want->sack_perm, "case %d", i);
    cr_assert_eq(got->has_ts, want->has_ts, "case %d", i);
    cr_assert_eq(got->ts_val, want->has_ts ? want->ts_val : 0, "case %d", i);
    cr_assert_eq(got->ts_ecr, want->has_ts ? want->ts_ecr : 0, "case %d", i);
    cr_assert_eq(got->n_sack, n_sack, "case %d", i);
    for (size_t b = 0; b < n_sack; b++) {
        cr_assert_eq(got->sack[b].left, want->sack[b].left, "case %d block %zu", i, b);
        cr_assert_eq(got->sack[b].right, want->sack[b].right, "case %d block %zu", i, b);
    }
}

/* Combination `i` of the options emit knows: bits for MSS, WS, SACK_PERM, TS, then a
 * count of SACK blocks (0..4). */
#define COMBINATIONS (16 * (TCP_SACK_BLOCKS_MAX + 1))
static struct tcp_repr combination(int i)
{
    struct tcp_repr r = {.src_port = 49152,
                         .dst_port = 443,
                         .seq = 0xfffffff0u,
                         .ack = 0x12345678u,
                         .flags = TCP_ACK | TCP_PSH,
                         .window = 0xffff,
                         .urg = 0x0102};
    r.has_mss = i & 1;
    r.mss = 1460;
    r.has_ws = (i >> 1) & 1;
    r.ws = 14;
    r.sack_perm = (i >> 2) & 1;
    r.has_ts = (i >> 3) & 1;
    r.ts_val = 0xdeadbeefu;
    r.ts_ecr = 0x01020304u;
    r.n_sack = (uint8_t)(i / 16);
    for (int b = 0; b < TCP_SACK_BLOCKS_MAX; b++)
        r.sack[b] = (struct tcp_sack_block){1000u * (uint32_t)b + 7, 1000u * (uint32_t)b + 507};
    return r;
}

/* Option bytes of a combination, counted independently of the codec: 4 for MSS, 12 for
 * TS (SACK_PERM rides in its padding), 4 for NOP WS, 4 for SACK_PERM alone, and SACK
 * blocks (4 + 8 each) as many as fit in what is left of 40. */
static size_t expected_sack_blocks(const struct tcp_repr *r)
{
    size_t used =
        4 * r->has_mss + 12 * r->has_ts + 4 * r->has_ws + 4 * (r->sack_perm && !r->has_ts);
    size_t fit = used + 12 <= 40 ? (40 - used - 4) / 8 : 0;
    return r->n_sack < fit ? r->n_sack : fit;
}

static size_t expected_len(const struct tcp_repr *r)
{
    size_t blocks = expected_sack_blocks(r);
    return 20 + 4 * r->has_mss + 12 * r->has_ts + 4 * r->has_ws + 4 * (r->sack_perm && !r->has_ts) +
           (blocks ? 4 + 8 * blocks : 0);
}

/* ---- parse ---- */

Test(tcp_codec, parses_a_linux_syn)
{
    struct tcp_repr r;
    parse_ok(linux_syn, sizeof(linux_syn), &r);
    cr_assert_eq(r.src_port, 42066);
    cr_assert_eq(r.dst_port, 80);
    cr_assert_eq(r.seq, 0x2b3c4d5e);
    cr_assert_eq(r.ack, 0);
    cr_assert_eq(r.flags, TCP_SYN);
    cr_assert_eq(r.window, 64240);
    cr_assert_eq(r.urg, 0);
    cr_assert_eq(r.hdr_len, 40);
    cr_assert(r.has_mss);
    cr_assert_eq(r.mss, 1460);
    cr_assert(r.sack_perm);
    cr_assert(r.has_ts);
    cr_assert_eq(r.ts_val, 0x000a2b3c);
    cr_assert_eq(r.ts_ecr, 0);
    cr_assert(r.has_ws);
    cr_assert_eq(r.ws, 7);
    cr_assert_eq(r.n_sack, 0);
    cr_assert_eq(r.payload, linux_syn + 40, "payload must point into the buffer");
    cr_assert_eq(r.payload_len, 0);
    cr_assert_eq(tcp_parse(linux_syn, sizeof(linux_syn), SRC, DST, &r, NULL), NET_OK,
                 "why may be NULL");
}

Test(tcp_codec, parses_a_segment_built_by_the_harness)
{
    uint8_t opt[40], seg[128];
    static const uint32_t edges[4] = {5000, 6000, 7000, 7500};
    size_t o = fr_tcp_opt_ts(opt, 111, 222);
    o += fr_tcp_opt_sack(opt + o, edges, 2);
    struct fr_tcp t = {.sport = 80,
                       .dport = 42066,
                       .seq = 0xfffffffeu,
                       .ack = 0x2b3c4d5f,
                       .flags = TCP_ACK | TCP_PSH | TCP_FIN,
                       .window = 501,
                       .urg = 3,
                       .options = opt,
                       .options_len = o};
    size_t n = fr_tcp_seg(seg, SRC, DST, &t, "hello", 5);
    cr_assert_eq(n, 20 + 32 + 5);

    struct tcp_repr r;
    parse_ok(seg, n, &r);
    cr_assert_eq(r.src_port, 80);
    cr_assert_eq(r.dst_port, 42066);
    cr_assert_eq(r.seq, 0xfffffffeu);
    cr_assert_eq(r.ack, 0x2b3c4d5f);
    cr_assert_eq(r.flags, TCP_ACK | TCP_PSH | TCP_FIN);
    cr_assert_eq(r.window, 501);
    cr_assert_eq(r.urg, 3);
    cr_assert_eq(r.hdr_len, 52);
    cr_assert(!r.has_mss && !r.has_ws && !r.sack_perm);
    cr_assert(r.has_ts);
    cr_assert_eq(r.ts_val, 111);
    cr_assert_eq(r.ts_ecr, 222);
    cr_assert_eq(r.n_sack, 2);
    cr_assert_eq(r.sack[0].left, 5000);
    cr_assert_eq(r.sack[0].right, 6000);
    cr_assert_eq(r.sack[1].left, 7000);
    cr_assert_eq(r.sack[1].right, 7500);
    cr_assert_eq(r.payload, seg + 52);
    cr_assert_eq(r.payload_len, 5);
    cr_assert(memcmp(r.payload, "hello", 5) == 0);
}

Test(tcp_codec, parses_a_full_frame_from_the_harness)
{
    uint8_t frame[256], opt[4];
    size_t o = fr_tcp_opt_mss(opt, 536);
    struct fr_tcp t = {.sport = 7,
                       .dport = 9,
                       .seq = 1,
                       .flags = TCP_SYN,
                       .window = 8192,
                       .options = opt,
                       .options_len = o};
    size_t n = fr_tcp(frame, &fr_mac_peer, &fr_mac_other, SRC, DST, &t, "xyz", 3);
    cr_assert_eq(n, 14 + 20 + 24 + 3);
    cr_assert_eq(frame[14 + 9], IPV4_PROTO_TCP);
    cr_assert_eq(net_get16(frame + 14 + 2), 20 + 24 + 3, "IP total length");
    cr_assert_eq(fr_csum(frame + 14, 20), 0, "IP header checksum");

    struct tcp_repr r;
    parse_ok(frame + 34, n - 34, &r);
    cr_assert_eq(r.src_port, 7);
    cr_assert_eq(r.dst_port, 9);
    cr_assert(r.has_mss);
    cr_assert_eq(r.mss, 536);
    cr_assert_eq(r.payload_len, 3);
    cr_assert(memcmp(r.payload, "xyz", 3) == 0);
}

/* ---- emit ---- */

Test(tcp_codec, emits_the_linux_syn_byte_for_byte)
{
    struct tcp_repr r = {.src_port = 42066,
                         .dst_port = 80,
                         .seq = 0x2b3c4d5e,
                         .flags = TCP_SYN,
                         .window = 64240,
                         .has_mss = true,
                         .mss = 1460,
                         .sack_perm = true,
                         .has_ts = true,
                         .ts_val = 0x000a2b3c,
                         .has_ws = true,
                         .ws = 7};
    uint8_t buf[60], want[40];
    memset(buf, 0xee, sizeof(buf));
    cr_assert_eq(tcp_header_len(&r), 40);
    cr_assert_eq(tcp_emit(&r, buf, sizeof(buf)), 40);
    memcpy(want, linux_syn, sizeof(want));
    net_put16(want + TCP_OFF_CSUM, 0);
    cr_assert(memcmp(buf, want, 40) == 0, "differs from the Linux layout");
    cr_assert_eq(buf[40], 0xee, "wrote past the header");

    struct net_iov iov = {buf, 40};
    cr_assert_eq(tcp_checksum(SRC, DST, &iov, 1), 0xf089);
}

Test(tcp_codec, emit_refuses_a_buffer_too_small)
{
    for (int i = 0; i < COMBINATIONS; i++) {
        struct tcp_repr r = combination(i);
        size_t hl = tcp_header_len(&r);
        uint8_t buf[TCP_HDR_MAX + 1];
        memset(buf, 0xee, sizeof(buf));
        for (size_t cap = 0; cap < hl; cap++)
            cr_assert_eq(tcp_emit(&r, buf, cap), NET_EMSGSIZE, "case %d cap %zu", i, cap);
        cr_assert_eq(buf[0], 0xee, "case %d: wrote into a buffer it refused", i);
        cr_assert_eq(tcp_emit(&r, buf, hl), (int)hl, "case %d", i);
        cr_assert_eq(buf[hl], 0xee, "case %d: wrote past the header", i);
    }
}

Test(tcp_codec, lays_out_options_as_linux_does)
{
    uint8_t buf[60];
    /* TS without SACK_PERM: NOP NOP TS. */
    struct tcp_repr r = {.src_port = 1, .dst_port = 2, .has_ts = true, .ts_val = 9};
    cr_assert_eq(tcp_emit(&r, buf, sizeof(buf)), 32);
    static const uint8_t ts_only[12] = {1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0};
    cr_assert(memcmp(buf + 20, ts_only, 12) == 0);

    /* SACK_PERM without TS goes after WS, padded by two NOPs. */
    r = (struct tcp_repr){.src_port = 1,
                          .dst_port = 2,
                          .has_mss = true,
                          .mss = 536,
                          .has_ws = true,
                          .ws = 2,
                          .sack_perm = true};
    cr_assert_eq(tcp_emit(&r, buf, sizeof(buf)), 32);
    static const uint8_t mss_ws_sackp[12] = {2, 4, 2, 24, 1, 3, 3, 2, 1, 1, 4, 2};
    cr_assert(memcmp(buf + 20, mss_ws_sackp, 12) == 0);

    /* SACK blocks after two NOPs. */
    r = (struct tcp_repr){.src_port = 1, .dst_port = 2, .n_sack = 1, .sack = {{10, 20}}};
    cr_assert_eq(tcp_emit(&r, buf, sizeof(buf)), 32);
    static const uint8_t sack[12] = {1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20};
    cr_assert(memcmp(buf + 20, sack, 12) == 0);

    /* No options: a bare 20-byte header, data offset 5, checksum field 0. */
    r = (struct tcp_repr){.src_port = 1, .dst_port = 2, .flags = TCP_RST};
    memset(buf, 0xff, sizeof(buf));
    cr_assert_eq(tcp_emit(&r, buf, sizeof(buf)), 20);
    cr_assert_eq(buf[TCP_OFF_DATA_OFF], 0x50);
    cr_assert_eq(net_get16(buf + TCP_OFF_CSUM), 0);
}

Test(tcp_codec, emit_ignores_the_hdr_len_field)
{
    struct tcp_repr r = {.src_port = 1, .dst_port = 2, .has_mss = true, .mss = 1, .hdr_len = 60};
    uint8_t buf[60];
    cr_assert_eq(tcp_header_len(&r), 24);
    cr_assert_eq(tcp_emit(&r, buf, sizeof(buf)), 24);
    cr_assert_eq(buf[TCP_OFF_DATA_OFF], 0x60);
}

Test(tcp_codec, header_len_agrees_with_emit_for_every_combination)
{
    for (int i = 0; i < COMBINATIONS; i++) {
        struct tcp_repr r = combination(i);
        uint8_t buf[TCP_HDR_MAX];
        size_t hl = tcp_header_len(&r);
        cr_assert_eq(hl, expected_len(&r), "case %d", i);
        cr_assert_eq(hl % 4, 0, "case %d", i);
        cr_assert_leq(hl, TCP_HDR_MAX, "case %d", i);
        cr_assert_eq(tcp_emit(&r, buf, sizeof(buf)), (int)hl, "case %d", i);
        cr_assert_eq((size_t)(buf[TCP_OFF_DATA_OFF] >> 4) * 4, hl, "case %d", i);
    }
}

/* ---- round trip ---- */

Test(tcp_codec, round_trips_every_option_combination)
{
    static const uint8_t data[7] = {'q', 'u', 'a', 'r', 't', 'z', '!'};
    for (int i = 0; i < COMBINATIONS; i++) {
        struct tcp_repr in = combination(i), out;
        uint8_t seg[TCP_HDR_MAX + sizeof(data)];
        int hl = tcp_emit(&in, seg, sizeof(seg));
        cr_assert_gt(hl, 0, "case %d", i);
        memcpy(seg + hl, data, sizeof(data));
        struct net_iov iov[2] = {{seg, (size_t)hl}, {data, sizeof(data)}};
        net_put16(seg + TCP_OFF_CSUM, tcp_checksum(SRC, DST, iov, 2));
        size_t len = (size_t)hl + sizeof(data);
        cr_assert_eq(ref_tcp_csum(SRC, DST, seg, len), 0, "case %d: checksum wrong", i);

        parse_ok(seg, len, &out);
        expect_same(&out, &in, expected_sack_blocks(&in), i);
        cr_assert_eq(out.hdr_len, hl, "case %d", i);
        cr_assert_eq(out.payload, seg + hl, "case %d", i);
        cr_assert_eq(out.payload_len, sizeof(data), "case %d", i);
    }
}

Test(tcp_codec, emit_drops_sack_blocks_that_do_not_fit)
{
    uint8_t seg[TCP_HDR_MAX];
    struct tcp_repr r = combination(16 * 4), out; /* four blocks, nothing else */
    cr_assert_eq(tcp_emit(&r, seg, sizeof(seg)), 20 + 4 + 32);
    reseal(seg, 56);
    parse_ok(seg, 56, &out);
    cr_assert_eq(out.n_sack, 4);

    r.has_ts = true; /* 12 + 4 + 3 * 8 = 40: the fourth block goes */
    cr_assert_eq(tcp_header_len(&r), 60);
    cr_assert_eq(tcp_emit(&r, seg, sizeof(seg)), 60);
    reseal(seg, 60);
    parse_ok(seg, 60, &out);
    expect_same(&out, &r, 3, 0);

    r.has_mss = r.has_ws = true; /* 20 bytes used: two blocks */
    cr_assert_eq(tcp_emit(&r, seg, sizeof(seg)), 60);
    reseal(seg, 60);
    parse_ok(seg, 60, &out);
    expect_same(&out, &r, 2, 1);
}

/* ---- checksum ---- */

Test(tcp_codec, checksum_agrees_with_the_harness_however_the_segment_is_split)
{
    uint8_t opt[12], seg[128], data[41];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(0xc3 ^ (i * 37));
    struct fr_tcp t = {.sport = 5555,
                       .dport = 22,
                       .seq = 0x80000000u,
                       .ack = 0x7fffffffu,
                       .flags = TCP_ACK,
                       .window = 0,
                       .options = opt,
                       .options_len = fr_tcp_opt_ts(opt, 0xffffffffu, 1)};
    size_t n = fr_tcp_seg(seg, SRC, DST, &t, data, sizeof(data));
    uint16_t want = net_get16(seg + TCP_OFF_CSUM);
    net_put16(seg + TCP_OFF_CSUM, 0);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b += 7) {
            struct net_iov iov[3] = {{seg, a}, {seg + a, b - a}, {seg + b, n - b}};
            cr_assert_eq(tcp_checksum(SRC, DST, iov, 3), want, "split at %zu, %zu", a, b);
        }
    }
}

Test(tcp_codec, parse_detects_any_flipped_bit)
{
    uint8_t seg[64];
    struct tcp_repr r;
    for (size_t bit = 0; bit < sizeof(linux_syn) * 8; bit++) {
        memcpy(seg, linux_syn, sizeof(linux_syn));
        seg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        enum tcp_defect why;
        int rc = tcp_parse(seg, sizeof(linux_syn), SRC, DST, &r, &why);
        if (bit / 8 == TCP_OFF_DATA_OFF && bit % 8 >= 4) {
            /* The data offset itself: may be caught as a bad offset before the sum. */
            cr_assert_neq(rc, NET_OK, "bit %zu", bit);
            continue;
        }
        cr_assert_eq(rc, NET_EINVAL, "bit %zu", bit);
        cr_assert_eq(why, TCP_DEFECT_CHECKSUM, "bit %zu", bit);
    }
    /* The pseudo-header counts: the same bytes from another address are damaged. */
    cr_assert_eq(tcp_parse(linux_syn, sizeof(linux_syn), SRC + 1, DST, &r, NULL), NET_EINVAL);
    cr_assert_eq(tcp_parse(linux_syn, sizeof(linux_syn), SRC, DST ^ 0x100, &r, NULL), NET_EINVAL);
}

/* ---- damage ---- */

Test(tcp_codec, rejects_every_truncation)
{
    uint8_t seg[64];
    for (size_t len = 0; len < sizeof(linux_syn); len++) {
        memcpy(seg, linux_syn, len);
        expect_defect(seg, len, TCP_DEFECT_TRUNCATED, len < 20 ? "short header" : "short options");
    }
    /* A bare header cut short too, and one whose sum would still be right. */
    struct fr_tcp t = {.sport = 1, .dport = 2};
    size_t n = fr_tcp_seg(seg, SRC, DST, &t, NULL, 0);
    for (size_t len = 0; len < n; len++)
        expect_defect(seg, len, TCP_DEFECT_TRUNCATED, "bare header");
}

Test(tcp_codec, rejects_a_data_offset_below_five)
{
    uint8_t seg[64];
    struct fr_tcp t = {.sport = 1, .dport = 2, .flags = TCP_ACK};
    size_t n = fr_tcp_seg(seg, SRC, DST, &t, "abcdefgh", 8);
    for (uint8_t off = 0; off < 5; off++) {
        seg[TCP_OFF_DATA_OFF] = (uint8_t)(off << 4);
        reseal(seg, n);
        expect_defect(seg, n, TCP_DEFECT_DATA_OFF, "offset below 5");
    }
}

Test(tcp_codec, rejects_a_data_offset_past_the_end)
{
    uint8_t seg[64];
    struct tcp_repr r;
    struct fr_tcp t = {.sport = 1, .dport = 2, .flags = TCP_ACK};
    size_t n = fr_tcp_seg(seg, SRC, DST, &t, NULL, 0);
    for (uint8_t off = 6; off < 16; off++) {
        seg[TCP_OFF_DATA_OFF] = (uint8_t)(off << 4);
        reseal(seg, n);
        expect_defect(seg, n, TCP_DEFECT_TRUNCATED, "offset past a bare header");
    }
    /* Offset 15 with exactly 60 bytes (40 NOPs) is a valid header, payload empty. */
    memset(seg + 20, TCP_OPT_NOP, 40);
    seg[TCP_OFF_DATA_OFF] = 0xf0;
    reseal(seg, 60);
    parse_ok(seg, 60, &r);
    cr_assert_eq(r.hdr_len, 60);
    cr_assert_eq(r.payload_len, 0);
    expect_defect(seg, 59, TCP_DEFECT_TRUNCATED, "one byte short");
}

Test(tcp_codec, rejects_impossible_option_lengths)
{
    static const struct {
        uint8_t opt[8];
        const char *what;
    } bad[] = {
        {{30, 0, 1, 1, 1, 1, 1, 1}, "unknown kind, length 0"},
        {{30, 1, 1, 1, 1, 1, 1, 1}, "unknown kind, length 1"},
        {{TCP_OPT_MSS, 0, 1, 1, 1, 1, 1, 1}, "MSS, length 0"},
        {{TCP_OPT_SACK, 1, 1, 1, 1, 1, 1, 1}, "SACK, length 1"},
        {{1, 1, 1, 1, 30, 5, 0, 0}, "runs past the header by one"},
        {{TCP_OPT_TS, 10, 0, 0, 0, 0, 0, 0}, "timestamps cut off by the data offset"},
        {{1, 1, 1, 1, 1, 1, 1, 30}, "kind in the last byte, no room for a length"},
        {{1, 1, 1, 1, 1, 1, 1, TCP_OPT_WS}, "WS in the last byte"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t seg[64];
        size_t n = seg_with_options(seg, bad[i].opt, 8);
        expect_defect(seg, n, TCP_DEFECT_OPTIONS, bad[i].what);
    }
}

Test(tcp_codec, stops_at_end_of_option_list)
{
    /* After EOL the rest is padding, whatever it holds. */
    static const uint8_t opt[8] = {TCP_OPT_MSS, 4, 0x02, 0x18, TCP_OPT_EOL, 30, 0, 0xff};
    uint8_t seg[64];
    struct tcp_repr r;
    size_t n = seg_with_options(seg, opt, sizeof(opt));
    parse_ok(seg, n, &r);
    cr_assert(r.has_mss);
    cr_assert_eq(r.mss, 536);
    cr_assert_eq(r.hdr_len, 28);
}

Test(tcp_codec, rejects_port_zero)
{
    uint8_t seg[64];
    struct fr_tcp t = {.sport = 0, .dport = 80, .flags = TCP_SYN};
    expect_defect(seg, fr_tcp_seg(seg, SRC, DST, &t, NULL, 0), TCP_DEFECT_PORT, "source 0");
    t = (struct fr_tcp){.sport = 80, .dport = 0, .flags = TCP_SYN};
    expect_defect(seg, fr_tcp_seg(seg, SRC, DST, &t, NULL, 0), TCP_DEFECT_PORT, "dest 0");
}

Test(tcp_codec, ignores_known_options_of_the_wrong_length)
{
    /* clang-format off */
    static const uint8_t opt[40] = {
        TCP_OPT_MSS, 6, 0x05, 0xb4, 0, 0,                /* MSS, 6 bytes */
        TCP_OPT_WS, 2,                                   /* WS with no shift */
        TCP_OPT_SACK_PERM, 3, 0,                         /* SACK_PERM with a value byte */
        TCP_OPT_TS, 6, 0, 0, 0, 1,                       /* TS with only a TSval */
        TCP_OPT_SACK, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0,     /* SACK, not 2 + 8n */
        TCP_OPT_SACK, 2,                                 /* SACK with no blocks */
        254, 4, 0xf9, 0x89,                              /* experimental (RFC 6994) */
        TCP_OPT_NOP, TCP_OPT_WS, 3, 5,                   /* and a good one after all that */
        TCP_OPT_NOP, TCP_OPT_NOP,
    };
    /* clang-format on */
    uint8_t seg[64];
    struct tcp_repr r;
    size_t n = seg_with_options(seg, opt, sizeof(opt));
    parse_ok(seg, n, &r);
    cr_assert(!r.has_mss);
    cr_assert(!r.sack_perm);
    cr_assert(!r.has_ts);
    cr_assert_eq(r.n_sack, 0);
    cr_assert(r.has_ws, "the well-formed WS after the others was lost");
    cr_assert_eq(r.ws, 5);
}

/* NOP NOP TS alone skips the option walk (tcp_codec.c's ts_only): the same twelve bytes
 * in another order, or with a TS whose length is wrong, take the walk and must parse as
 * the walk says; a flipped NOP leaves the fast test too. */
Test(tcp_codec, timestamps_alone_parse_the_same_by_the_short_path_and_the_walk)
{
    /* clang-format off */
    static const uint8_t cases[][12] = {
        {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TS, 10, 1, 2, 3, 4, 5, 6, 7, 8},  /* short path */
        {TCP_OPT_TS, 10, 1, 2, 3, 4, 5, 6, 7, 8, TCP_OPT_NOP, TCP_OPT_NOP},  /* the walk */
        {TCP_OPT_NOP, TCP_OPT_TS, 10, 1, 2, 3, 4, 5, 6, 7, 8, TCP_OPT_EOL},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t seg[64];
        struct tcp_repr r;
        size_t n = seg_with_options(seg, cases[i], sizeof(cases[i]));
        parse_ok(seg, n, &r);
        cr_assert(r.has_ts, "case %zu", i);
        cr_assert_eq(r.ts_val, 0x01020304u, "case %zu", i);
        cr_assert_eq(r.ts_ecr, 0x05060708u, "case %zu", i);
        cr_assert(!r.has_mss && !r.has_ws && !r.sack_perm && r.n_sack == 0, "case %zu", i);
        cr_assert_eq(r.hdr_len, TCP_HDR_LEN + 12);
    }
    /* NOP NOP, then a TS kind whose length byte says 9: ignored, as the walk ignores it. */
    static const uint8_t bad[12] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TS, 9, 1, 2, 3, 4, 5, 6, 7,
                                    TCP_OPT_NOP};
    uint8_t seg[64];
    struct tcp_repr r;
    parse_ok(seg, seg_with_options(seg, bad, sizeof(bad)), &r);
    cr_assert(!r.has_ts);
}

Test(tcp_codec, clamps_window_shift_above_14)
{
    static const uint8_t shifts[][2] = {{0, 0}, {7, 7}, {14, 14}, {15, 14}, {200, 14}, {255, 14}};
    for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
        uint8_t opt[4], seg[64];
        struct tcp_repr r;
        size_t n = seg_with_options(seg, opt, fr_tcp_opt_ws(opt, shifts[i][0]));
        parse_ok(seg, n, &r);
        cr_assert(r.has_ws);
        cr_assert_eq(r.ws, shifts[i][1], "shift %u", shifts[i][0]);
    }
}

Test(tcp_codec, parses_one_to_four_sack_blocks)
{
    static const uint32_t edges[8] = {0xfffffff0u, 0x10, 100, 200, 300, 400, 500, 600};
    for (size_t blocks = 1; blocks <= 4; blocks++) {
        uint8_t opt[40], seg[64];
        struct tcp_repr r;
        size_t n = seg_with_options(seg, opt, fr_tcp_opt_sack(opt, edges, blocks));
        parse_ok(seg, n, &r);
        cr_assert_eq(r.n_sack, blocks);
        for (size_t b = 0; b < blocks; b++) {
            cr_assert_eq(r.sack[b].left, edges[2 * b], "block %zu of %zu", b, blocks);
            cr_assert_eq(r.sack[b].right, edges[2 * b + 1], "block %zu of %zu", b, blocks);
        }
    }
}

/* ---- SipHash ---- */

/* The reference key 00 01 .. 0f as two little-endian words. */
static const uint64_t ref_key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

Test(tcp_codec, siphash_matches_the_reference_vectors)
{
    /* Message 00 01 .. len-1; vectors_sip64 in the reference code (veorq/SipHash),
     * read as little-endian words. Length 15 is the paper's worked example. */
    static const struct {
        size_t len;
        uint64_t hash;
    } v[] = {
        {0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull},  {7, 0xab0200f58b01d137ull},
        {8, 0x93f5f5799a932462ull},  {15, 0xa129ca6149be45e5ull}, {16, 0x3f2acc7f57c29bdbull},
        {63, 0x958a324ceb064572ull},
    };
    uint8_t msg[64];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        cr_assert_eq(siphash24(ref_key, msg, v[i].len), v[i].hash, "length %zu", v[i].len);
}

Test(tcp_codec, siphash_depends_on_every_input_and_not_on_alignment)
{
    uint8_t buf[80], msg[64];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    for (size_t len = 0; len <= sizeof(msg); len++) {
        uint64_t h = siphash24(ref_key, msg, len);
        for (size_t shift = 1; shift < 8; shift++) {
            memcpy(buf + shift, msg, len);
            cr_assert_eq(siphash24(ref_key, buf + shift, len), h, "len %zu at +%zu", len, shift);
        }
        if (len)
            cr_assert_neq(siphash24(ref_key, msg, len - 1), h, "len %zu", len);
    }
    uint64_t key[2] = {ref_key[0], ref_key[1] ^ 1};
    cr_assert_neq(siphash24(key, msg, 8), siphash24(ref_key, msg, 8));
}

/* ---- ISN and SYN cookies ---- */

static void keyed(struct tcp *tcp, uint64_t k0, uint64_t k1)
{
    memset(tcp, 0, sizeof(*tcp));
    tcp->secret[0] = k0;
    tcp->secret[1] = k1;
}

#define LPORT 80
#define RPORT 42066

Test(tcp_codec, isn_differs_per_tuple)
{
    struct tcp tcp;
    keyed(&tcp, 1, 2);
    uint32_t base = tcp_isn(&tcp, DST, LPORT, SRC, RPORT, T0);
    cr_assert_eq(tcp_isn(&tcp, DST, LPORT, SRC, RPORT, T0), base, "not a function of its inputs");
    cr_assert_neq(tcp_isn(&tcp, DST + 1, LPORT, SRC, RPORT, T0), base, "local address");
    cr_assert_neq(tcp_isn(&tcp, DST, LPORT + 1, SRC, RPORT, T0), base, "local port");
    cr_assert_neq(tcp_isn(&tcp, DST, LPORT, SRC + 1, RPORT, T0), base, "remote address");
    cr_assert_neq(tcp_isn(&tcp, DST, LPORT, SRC, RPORT + 1, T0), base, "remote port");
    cr_assert_neq(tcp_isn(&tcp, SRC, RPORT, DST, LPORT, T0), base, "the reverse direction");
}

Test(tcp_codec, isn_advances_one_per_4_microseconds)
{
    struct tcp tcp;
    keyed(&tcp, 3, 4);
    uint32_t base = tcp_isn(&tcp, DST, LPORT, SRC, RPORT, T0); /* T0 is a whole tick */
    cr_assert_eq(tcp_isn(&tcp, DST, LPORT, SRC, RPORT, T0 + 3999), base);
    cr_assert_eq(tcp_isn(&tcp, DST, LPORT, SRC, RPORT, T0 + 4000), base + 1);
    cr_assert_eq(tcp_isn(&tcp, DST, LPORT, SRC, RPORT, T0 + SEC), base + 250000);
    /* It wraps like a sequence number: 2^32 ticks is about 4.8 hours. */
    cr_assert_eq(tcp_isn(&tcp, DST, LPORT, SRC, RPORT, T0 + 4000ull * 0x100000000ull), base);
}

Test(tcp_codec, isn_changes_with_the_secret)
{
    struct tcp a, b, c;
    keyed(&a, 5, 6);
    keyed(&b, 5, 7);
    keyed(&c, 4, 6);
    uint32_t isn = tcp_isn(&a, DST, LPORT, SRC, RPORT, T0);
    cr_assert_neq(tcp_isn(&b, DST, LPORT, SRC, RPORT, T0), isn);
    cr_assert_neq(tcp_isn(&c, DST, LPORT, SRC, RPORT, T0), isn);
}

static const uint16_t table_mss[8] = {216, 536, 1200, 1360, 1400, 1440, 1460, 8960};

Test(tcp_codec, cookie_round_trips_each_mss_value)
{
    struct tcp tcp;
    keyed(&tcp, 7, 8);
    for (uint32_t i = 0; i < 8; i++) {
        /* The table value itself, and anything up to the next one, rounds down to it. */
        uint16_t asked[3] = {table_mss[i], (uint16_t)(table_mss[i] + 1),
                             i < 7 ? (uint16_t)(table_mss[i + 1] - 1) : 65535};
        for (int k = 0; k < 3; k++) {
            uint32_t isn = tcp_cookie_isn(&tcp, DST, LPORT, SRC, RPORT, 0x1000, asked[k], T0);
            cr_assert_eq(isn & 7, i, "mss %u", asked[k]);
            cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 0x1000, isn, T0),
                         table_mss[i], "mss %u", asked[k]);
        }
    }
    /* Below the smallest value: the smallest. */
    uint32_t isn = tcp_cookie_isn(&tcp, DST, LPORT, SRC, RPORT, 0x1000, 88, T0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 0x1000, isn, T0), 216);
}

Test(tcp_codec, cookie_rejected_with_any_bit_flipped)
{
    struct tcp tcp;
    keyed(&tcp, 9, 10);
    uint32_t isn = tcp_cookie_isn(&tcp, DST, LPORT, SRC, RPORT, 77, 1460, T0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 77, isn, T0), 1460);
    for (int bit = 0; bit < 32; bit++)
        cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 77, isn ^ (1u << bit), T0), 0,
                     "bit %d", bit);
}

Test(tcp_codec, cookie_rejected_for_another_tuple_peer_isn_or_secret)
{
    struct tcp tcp, other;
    keyed(&tcp, 11, 12);
    keyed(&other, 11, 13);
    uint32_t isn = tcp_cookie_isn(&tcp, DST, LPORT, SRC, RPORT, 77, 1460, T0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST + 1, LPORT, SRC, RPORT, 77, isn, T0), 0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT + 1, SRC, RPORT, 77, isn, T0), 0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC + 1, RPORT, 77, isn, T0), 0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT + 1, 77, isn, T0), 0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 78, isn, T0), 0);
    cr_assert_eq(tcp_cookie_check(&other, DST, LPORT, SRC, RPORT, 77, isn, T0), 0);
}

Test(tcp_codec, cookie_lives_through_the_next_slot_only)
{
    struct tcp tcp;
    keyed(&tcp, 13, 14);
    const uint64_t slot = 64 * SEC;
    const uint64_t made = 20 * slot + slot - 1; /* the last nanosecond of slot 20 */
    uint32_t isn = tcp_cookie_isn(&tcp, DST, LPORT, SRC, RPORT, 5, 536, made);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn, made), 536);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn, 20 * slot), 536);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn, 21 * slot), 536);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn, 22 * slot - 1), 536);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn, 22 * slot), 0,
                 "two slots later");
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn, 19 * slot), 0,
                 "a cookie from the future");
}

Test(tcp_codec, cookie_works_in_the_first_slot)
{
    struct tcp tcp;
    keyed(&tcp, 15, 16);
    uint32_t isn = tcp_cookie_isn(&tcp, DST, LPORT, SRC, RPORT, 5, 1400, 0);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn, 0), 1400);
    cr_assert_eq(tcp_cookie_check(&tcp, DST, LPORT, SRC, RPORT, 5, isn ^ 8, 0), 0);
}

Test(tcp_codec, cookie_tsval_round_trips_the_syn_options)
{
    static const uint32_t clocks[] = {0, 1, 31, 32, 0x12345678u, 0xffffffffu};
    for (size_t c = 0; c < sizeof(clocks) / sizeof(clocks[0]); c++) {
        for (int sack = 0; sack < 2; sack++) {
            for (int ws = -1; ws <= TCP_WS_MAX; ws++) {
                struct tcp_syn_opts in = {
                    .mss = 1460, .sack = sack, .ws_ok = ws >= 0, .ws = ws >= 0 ? (uint8_t)ws : 0};
                struct tcp_syn_opts out = {.mss = 999, .ws = 99};
                uint32_t ts = tcp_cookie_tsval(clocks[c], &in);
                /* Never ahead of the clock, never more than 31 behind it. */
                cr_assert(seq_le(ts, clocks[c]), "clock %u", clocks[c]);
                cr_assert_lt(clocks[c] - ts, 32u, "clock %u", clocks[c]);
                tcp_cookie_ts_decode(ts, &out);
                cr_assert_eq(out.sack, in.sack, "clock %u sack %d ws %d", clocks[c], sack, ws);
                cr_assert_eq(out.ws_ok, in.ws_ok, "clock %u sack %d ws %d", clocks[c], sack, ws);
                cr_assert_eq(out.ws, in.ws, "clock %u sack %d ws %d", clocks[c], sack, ws);
                cr_assert_eq(out.mss, 999, "decode touched the MSS");
            }
        }
    }
}
