/*
 * test_ipv4.c — IPv4: the codec, input validation, routing, output and fragmentation,
 * and reassembly, driven through a whole node on the fake link (harness/testbed.h).
 *
 * Inputs are built with harness/frames.h and outputs are read field by field and summed
 * with its naive checksum (fr_csum), so neither side of a test trusts the stack's codecs.
 * Every drop test first teaches the node the peer's MAC: a node that wrongly accepted the
 * packet could then answer it, and the expect-nothing would catch that.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "frames.h"
#include "netstack/arp_wire.h"
#include "netstack/eth_wire.h"
#include "netstack/icmp_wire.h"
#include "netstack/ipv4.h"
#include "netstack/node.h"
#include "testbed.h"
#include "support.h"

/* `ping -s 3000`: an ICMP message of 3008 bytes, cut at MTU 1500 into 1480 + 1480 + 48. */
#define BIG_DATA 3000
#define BIG_MSG (ICMP_HDR_LEN + BIG_DATA)

/* After damaging a header on purpose, make its checksum right again so that only the
 * damage under test is wrong. Always over the fixed 20 bytes: these tests use no options,
 * and a damaged IHL must not decide what gets summed. */
static void fix_ip_csum(uint8_t *ip)
{
    net_put16(ip + IPV4_OFF_CSUM, 0);
    net_put16(ip + IPV4_OFF_CSUM, ref_csum(ip, IPV4_HDR_LEN));
}

/* node_ping at `at`, with the clock moved there first so frames carry that time. */
static int ping_at(struct testbed *tb, net_ip4 dst, uint16_t seq, size_t len, uint64_t at)
{
    tb_advance(tb, at);
    return node_ping(tb->node, dst, seq, len, at);
}

/* ipv4_send at `at`, likewise. */
static int send_at(struct testbed *tb, const struct ipv4_tx *tx, const struct net_iov *iov,
                   uint64_t at)
{
    tb_advance(tb, at);
    return ipv4_send(&tb->node->ip, tx, iov, 1, at);
}

/* An echo request from the peer to us with `len` bytes of data: a frame ready to damage. */
static size_t echo_request(uint8_t *buf, uint16_t seq, size_t len)
{
    uint8_t data[FAKE_LINK_FRAME_MAX];
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + seq);
    return fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REQUEST, 0x1234, seq, data,
                   len);
}

/* `f` is an IPv4 packet from us to `dst` behind `eth_dst` carrying `proto`, with a valid
 * header checksum and no options; returns its IP header. */
static const uint8_t *expect_ip(const struct fake_frame *f, const struct net_mac *eth_dst,
                                net_ip4 dst, uint8_t proto)
{
    cr_assert_not_null(f, "expected a packet, the node sent nothing");
    cr_assert_geq(f->len, ETH_HDR_LEN + IPV4_HDR_LEN);
    cr_assert(memcmp(f->data + ETH_OFF_DST, eth_dst->b, NET_MAC_LEN) == 0, "wrong MAC dst");
    cr_assert(memcmp(f->data + ETH_OFF_SRC, mac_us.b, NET_MAC_LEN) == 0, "wrong MAC src");
    cr_assert_eq(net_get16(f->data + ETH_OFF_TYPE), ETH_TYPE_IPV4);
    const uint8_t *ip = f->data + ETH_HDR_LEN;
    cr_assert_eq(ip[IPV4_OFF_VER_IHL], 0x45);
    cr_assert_eq(ref_csum(ip, IPV4_HDR_LEN), 0, "bad IP header checksum");
    cr_assert_leq(ETH_HDR_LEN + net_get16(ip + IPV4_OFF_LEN), f->len);
    cr_assert_eq(ip[IPV4_OFF_PROTO], proto);
    cr_assert_eq(net_get32(ip + IPV4_OFF_SRC), US);
    cr_assert_eq(net_get32(ip + IPV4_OFF_DST), dst);
    return ip;
}

/* An unfragmented echo reply to the peer for `echo_request(seq, len)`. */
static void expect_echo_reply(struct testbed *tb, uint16_t seq, size_t len, uint64_t at)
{
    const struct fake_frame *f = tb_next(tb);
    const uint8_t *ip = expect_ip(f, &fr_mac_peer, PEER, IPV4_PROTO_ICMP);
    cr_assert_eq(f->ts, at);
    cr_assert_eq(net_get16(ip + IPV4_OFF_LEN), IPV4_HDR_LEN + ICMP_HDR_LEN + len);
    cr_assert_eq(net_get16(ip + IPV4_OFF_FRAG) & (IPV4_FLAG_MF | IPV4_FRAG_MASK), 0);
    const uint8_t *icmp = ip + IPV4_HDR_LEN;
    cr_assert_eq(ref_csum(icmp, ICMP_HDR_LEN + len), 0, "bad ICMP checksum");
    cr_assert_eq(icmp[ICMP_OFF_TYPE], ICMP_ECHO_REPLY);
    cr_assert_eq(net_get16(icmp + ICMP_OFF_IDENT), 0x1234);
    cr_assert_eq(net_get16(icmp + ICMP_OFF_SEQ), seq);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(icmp[ICMP_HDR_LEN + i], (uint8_t)(i * 7 + seq), "data byte %zu", i);
}

/* The node must drop `frame` without a word. */
static void send_expect_nothing(struct testbed *tb, const uint8_t *frame, size_t len, uint64_t at)
{
    tb_send(tb, frame, len, at);
    cr_assert_null(tb_next(tb), "the node answered a packet it should have dropped");
    cr_assert_eq(tb->node->icmp.stats.rx_packets, 0);
}

/* A big echo request: an ICMP message of BIG_MSG bytes to cut into fragments. */
static void big_echo(uint8_t *msg, uint16_t seq)
{
    uint8_t data[BIG_DATA];
    for (size_t i = 0; i < BIG_DATA; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 8));
    fr_icmp_msg(msg, ICMP_ECHO_REQUEST, 0, 0x4242, seq, data, BIG_DATA);
}

/* The fragment carrying bytes [off, off + len) of `data` as its payload. */
static size_t frag_frame(uint8_t *buf, uint16_t id, size_t off, const uint8_t *data, size_t len,
                         bool mf)
{
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP, .id = id, .mf = mf,
                       .frag_off = (uint16_t)off};
    return fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, data, len);
}

/* Bytes [off, off + len) of the datagram `msg`, sent as a fragment at `at`. */
static void send_frag(struct testbed *tb, const uint8_t *msg, uint16_t id, size_t off, size_t len,
                      bool mf, uint64_t at)
{
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    tb_send(tb, buf, frag_frame(buf, id, off, msg + off, len, mf), at);
}

/* Take the fragments of one datagram from us to the peer, checking each against RFC 791,
 * and reassemble its payload into `out`. Returns the payload length. */
static size_t take_datagram(struct testbed *tb, uint8_t *out, size_t cap, size_t *n_frags,
                            uint16_t *id, uint64_t *ts)
{
    size_t total = 0, n = 0;
    bool more = true;
    while (more) {
        const struct fake_frame *f = tb_next(tb);
        const uint8_t *ip = expect_ip(f, &fr_mac_peer, PEER, IPV4_PROTO_ICMP);
        size_t len = net_get16(ip + IPV4_OFF_LEN) - IPV4_HDR_LEN;
        uint16_t fl = net_get16(ip + IPV4_OFF_FRAG);
        cr_assert_leq(IPV4_HDR_LEN + len, tb->cfg.mtu, "fragment %zu over the MTU", n);
        cr_assert_eq(fl & (IPV4_FLAG_RF | IPV4_FLAG_DF), 0);
        cr_assert_eq((size_t)(fl & IPV4_FRAG_MASK) * 8, total, "fragment %zu offset", n);
        if (n == 0) {
            *id = net_get16(ip + IPV4_OFF_ID);
            *ts = f->ts;
        }
        cr_assert_eq(net_get16(ip + IPV4_OFF_ID), *id, "fragments of one datagram share an id");
        more = (fl & IPV4_FLAG_MF) != 0;
        if (more)
            cr_assert_eq(len % 8, 0, "non-final fragment %zu of %zu bytes", n, len);
        cr_assert_leq(total + len, cap);
        memcpy(out + total, ip + IPV4_HDR_LEN, len);
        total += len;
        n++;
    }
    *n_frags = n;
    return total;
}

/* The reply to big_echo(seq), fragmented as the request came and otherwise identical. */
static void expect_big_reply(struct testbed *tb, const uint8_t *request, uint64_t at)
{
    uint8_t reply[BIG_MSG + 64];
    size_t n_frags;
    uint16_t id;
    uint64_t ts;
    size_t len = take_datagram(tb, reply, sizeof(reply), &n_frags, &id, &ts);
    cr_assert_eq(ts, at);
    cr_assert_eq(len, BIG_MSG);
    cr_assert_eq(n_frags, 3);
    cr_assert_eq(ref_csum(reply, len), 0, "bad ICMP checksum on the reassembled reply");
    cr_assert_eq(reply[ICMP_OFF_TYPE], ICMP_ECHO_REPLY);
    cr_assert_eq(reply[ICMP_OFF_CODE], 0);
    cr_assert(memcmp(reply + ICMP_OFF_IDENT, request + ICMP_OFF_IDENT, 4) == 0, "ident/seq");
    cr_assert(memcmp(reply + ICMP_HDR_LEN, request + ICMP_HDR_LEN, BIG_DATA) == 0, "data");
}

/* ---- codec ---- */

Test(ipv4, parses_linux_ping_header)
{
    struct ipv4_repr r;
    enum ipv4_defect why = IPV4_DEFECT_TTL;
    cr_assert_eq(ipv4_parse(linux_ping, sizeof(linux_ping), &r, &why), NET_OK);
    cr_assert_eq(why, IPV4_DEFECT_NONE);
    cr_assert_eq(r.hdr_len, 20);
    cr_assert_eq(r.tos, 0);
    cr_assert_eq(r.total_len, 84);
    cr_assert_eq(r.id, 18097);
    cr_assert(r.df);
    cr_assert(!r.mf);
    cr_assert_eq(r.frag_off, 0);
    cr_assert_eq(r.ttl, 64);
    cr_assert_eq(r.proto, IPV4_PROTO_ICMP);
    cr_assert_eq(r.src, NET_IP4(10, 0, 0, 1));
    cr_assert_eq(r.dst, NET_IP4(10, 0, 0, 2));
}

Test(ipv4, emits_linux_ping_header)
{
    struct ipv4_repr r = {.hdr_len = 20, .total_len = 84, .id = 18097, .df = true, .ttl = 64,
                          .proto = IPV4_PROTO_ICMP, .src = NET_IP4(10, 0, 0, 1),
                          .dst = NET_IP4(10, 0, 0, 2)};
    uint8_t buf[IPV4_HDR_LEN];
    cr_assert_eq(ipv4_emit(&r, buf, sizeof(buf)), IPV4_HDR_LEN);
    cr_assert(memcmp(buf, linux_ping, IPV4_HDR_LEN) == 0, "differs from what Linux sent");
    cr_assert_eq(ipv4_emit(&r, buf, IPV4_HDR_LEN - 1), NET_EMSGSIZE);
}

Test(ipv4, round_trips_through_emit_and_parse)
{
    const struct ipv4_repr in[] = {
        {.hdr_len = 20, .tos = 0xb8, .total_len = 20, .id = 0, .ttl = 1, .proto = 17,
         .src = NET_IP4(192, 168, 1, 1), .dst = NET_IP4(8, 8, 8, 8)},
        {.hdr_len = 20, .total_len = 1500, .id = 0xffff, .mf = true, .frag_off = 65528 - 1480,
         .ttl = 255, .proto = 6, .src = 0x01020304, .dst = 0xfffffffe},
        {.hdr_len = 20, .total_len = 48, .id = 77, .frag_off = 2960, .ttl = 64, .proto = 1,
         .src = PEER, .dst = US},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        uint8_t buf[1500] = {0};
        struct ipv4_repr out;
        cr_assert_eq(ipv4_emit(&in[i], buf, sizeof(buf)), IPV4_HDR_LEN);
        cr_assert_eq(ipv4_parse(buf, in[i].total_len, &out, NULL), NET_OK, "case %zu", i);
        cr_assert_eq(out.hdr_len, in[i].hdr_len);
        cr_assert_eq(out.tos, in[i].tos);
        cr_assert_eq(out.total_len, in[i].total_len);
        cr_assert_eq(out.id, in[i].id);
        cr_assert_eq(out.df, in[i].df);
        cr_assert_eq(out.mf, in[i].mf);
        cr_assert_eq(out.frag_off, in[i].frag_off);
        cr_assert_eq(out.ttl, in[i].ttl);
        cr_assert_eq(out.proto, in[i].proto);
        cr_assert_eq(out.src, in[i].src);
        cr_assert_eq(out.dst, in[i].dst);
    }
}

Test(ipv4, parse_rejects_every_damaged_header)
{
    struct ipv4_repr r;
    enum ipv4_defect why;
    /* Any single flipped bit changes the ones'-complement sum, so none may slip through. */
    for (size_t bit = 0; bit < IPV4_HDR_LEN * 8; bit++) {
        uint8_t buf[sizeof(linux_ping)];
        memcpy(buf, linux_ping, sizeof(buf));
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(ipv4_parse(buf, sizeof(buf), &r, &why), NET_EMALFORMED, "bit %zu", bit);
        cr_assert_neq(why, IPV4_DEFECT_NONE);
    }
    for (size_t len = 0; len < sizeof(linux_ping); len++) {
        cr_assert_eq(ipv4_parse(linux_ping, len, &r, &why), NET_EMALFORMED, "len %zu", len);
        cr_assert_eq(why, IPV4_DEFECT_TRUNCATED, "len %zu", len);
    }
}

/* ---- input validation ---- */

Test(ipv4, drops_packet_shorter_than_a_header)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    echo_request(buf, 1, 0);
    send_expect_nothing(&tb, buf, ETH_HDR_LEN + 19, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_truncated, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_header_length_beyond_the_data)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 0); /* 28 bytes of IP, but IHL claims 60 */
    buf[ETH_HDR_LEN] = 0x4f;
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_truncated, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_total_length_beyond_the_data)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 56);
    send_expect_nothing(&tb, buf, n - 1, T0 + 1 * MS); /* the link lost the last byte */
    cr_assert_eq(tb.node->ip.stats.rx_truncated, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_wrong_version)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 8);
    buf[ETH_HDR_LEN] = 0x65; /* version 6 in an IPv4 EtherType */
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_bad_version, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_header_length_below_five_words)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 8);
    buf[ETH_HDR_LEN] = 0x44;
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_bad_ihl, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_total_length_below_header_length)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 8);
    net_put16(buf + ETH_HDR_LEN + IPV4_OFF_LEN, 19);
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_bad_length, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_bad_header_checksum)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 8);
    buf[ETH_HDR_LEN + IPV4_OFF_CSUM + 1] ^= 0x01;
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_bad_checksum, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_malformed_options)
{
    static const uint8_t bad[][4] = {
        {0x07, 0x00, 0x04, 0x00}, /* length 0 would loop forever */
        {0x07, 0x01, 0x01, 0x00}, /* length 1 cannot even cover type and length */
        {0x07, 0x08, 0x04, 0x00}, /* record route running past the header */
        {0x01, 0x01, 0x01, 0x07}, /* a type byte with no room for its length */
    };
    struct testbed tb;
    start(&tb);
    learn_peer(&tb, T0);
    uint8_t icmp[ICMP_HDR_LEN];
    fr_icmp_msg(icmp, ICMP_ECHO_REQUEST, 0, 1, 1, NULL, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t buf[FAKE_LINK_FRAME_MAX];
        struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP,
                           .options = bad[i], .options_len = 4};
        size_t n = fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, icmp, sizeof(icmp));
        send_expect_nothing(&tb, buf, n, T0 + (i + 1) * MS);
    }
    cr_assert_eq(tb.node->ip.stats.rx_bad_options, 4);
    testbed_free(&tb);
}

Test(ipv4, tolerates_nop_and_record_route_options)
{
    /* NOP, then record route (type 7, length 7, pointer 4) with room for one address. */
    static const uint8_t opts[8] = {0x01, 0x07, 0x07, 0x04, 0, 0, 0, 0};
    struct testbed tb;
    start(&tb);
    learn_peer(&tb, T0);
    uint8_t data[16], icmp[ICMP_HDR_LEN + 16], buf[FAKE_LINK_FRAME_MAX];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 5);
    size_t m = fr_icmp_msg(icmp, ICMP_ECHO_REQUEST, 0, 0x1234, 5, data, sizeof(data));
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP, .options = opts,
                       .options_len = sizeof(opts)};
    size_t n = fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, icmp, m);
    tb_send(&tb, buf, n, T0 + 1 * MS);
    expect_echo_reply(&tb, 5, sizeof(data), T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.rx_bad_options, 0);
    testbed_free(&tb);
}

Test(ipv4, drops_reserved_flag)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 8);
    net_put16(buf + ETH_HDR_LEN + IPV4_OFF_FRAG, IPV4_FLAG_RF); /* the "evil bit", RFC 3514 */
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_bad_flags, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_dont_fragment_on_a_fragment)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 8);
    net_put16(buf + ETH_HDR_LEN + IPV4_OFF_FRAG, IPV4_FLAG_DF | IPV4_FLAG_MF);
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    n = echo_request(buf, 1, 8);
    net_put16(buf + ETH_HDR_LEN + IPV4_OFF_FRAG, IPV4_FLAG_DF | (1480 / 8));
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 2 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_bad_flags, 2);
    cr_assert_eq(tb.node->ip.stats.frag_rx, 0);
    testbed_free(&tb);
}

Test(ipv4, drops_ttl_zero_but_accepts_ttl_one)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = echo_request(buf, 1, 8);
    buf[ETH_HDR_LEN + IPV4_OFF_TTL] = 0;
    fix_ip_csum(buf + ETH_HDR_LEN);
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_bad_ttl, 1);

    /* TTL 1 has one hop left, and we are that hop. */
    n = echo_request(buf, 2, 8);
    buf[ETH_HDR_LEN + IPV4_OFF_TTL] = 1;
    fix_ip_csum(buf + ETH_HDR_LEN);
    tb_send(&tb, buf, n, T0 + 2 * MS);
    expect_echo_reply(&tb, 2, 8, T0 + 2 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.rx_bad_ttl, 1);
    testbed_free(&tb);
}

Test(ipv4, drops_impossible_source_addresses)
{
    const net_ip4 bad[] = {
        NET_IP4_BROADCAST, NET_IP4(10, 0, 0, 255), /* limited and subnet broadcast */
        NET_IP4(224, 0, 0, 1), NET_IP4(239, 255, 255, 250), /* multicast */
        0,                                             /* "this host", only for bootstrap */
        NET_IP4(127, 0, 0, 1), NET_IP4(127, 9, 9, 9), /* loopback never crosses a wire */
        US,                                            /* ourselves: a loop or a spoof */
    };
    struct testbed tb;
    start(&tb);
    learn_peer(&tb, T0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t buf[FAKE_LINK_FRAME_MAX], data[8] = {0};
        size_t n = fr_echo(buf, &mac_us, &fr_mac_peer, bad[i], US, ICMP_ECHO_REQUEST, 1,
                           (uint16_t)i, data, sizeof(data));
        send_expect_nothing(&tb, buf, n, T0 + (i + 1) * MS);
        cr_assert_eq(tb.node->ip.stats.rx_bad_src, i + 1, "source %08x", bad[i]);
    }
    cr_assert_eq(tb.node->icmp.stats.rx_echo_requests, 0);
    testbed_free(&tb);
}

Test(ipv4, ignores_unicast_for_another_host)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[8] = {0};
    start(&tb);
    learn_peer(&tb, T0);
    /* Our MAC, someone else's IP: a stale neighbour cache on the peer. */
    size_t n = fr_echo(buf, &mac_us, &fr_mac_peer, PEER, OTHER, ICMP_ECHO_REQUEST, 1, 1, data,
                       sizeof(data));
    send_expect_nothing(&tb, buf, n, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.rx_not_for_us, 1);
    cr_assert_eq(tb.node->ip.stats.rx_packets, 0);
    testbed_free(&tb);
}

Test(ipv4, ignores_link_padding_past_total_length)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    /* One data byte makes a 43-byte frame; the sender pads it to 60 with zeros. Zeros do not
     * change a checksum, so only the length can tell the padding from data. */
    size_t n = echo_request(buf, 1, 1);
    memset(buf + n, 0, ETH_MIN_FRAME - n);
    tb_send(&tb, buf, ETH_MIN_FRAME, T0 + 1 * MS);
    expect_echo_reply(&tb, 1, 1, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));

    /* Junk padding must not reach the ICMP checksum either. */
    n = echo_request(buf, 2, 1);
    memset(buf + n, 0xee, ETH_MIN_FRAME - n);
    tb_send(&tb, buf, ETH_MIN_FRAME, T0 + 2 * MS);
    expect_echo_reply(&tb, 2, 1, T0 + 2 * MS);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, answers_unknown_protocol_with_protocol_unreachable)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    /* A UDP datagram: ports 35388 -> 9 (discard), length 21, no checksum, 13 data bytes. */
    uint8_t udp[21] = {0x8a, 0x3c, 0x00, 0x09, 0x00, 0x15, 0x00, 0x00};
    memcpy(udp + 8, "hello, quartz", 13);
    start(&tb);
    learn_peer(&tb, T0);
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_UDP, .id = 0x7777};
    size_t n = fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, udp, sizeof(udp));
    tb_send(&tb, buf, n, T0 + 1 * MS);

    const struct fake_frame *f = tb_next(&tb);
    const uint8_t *rip = expect_ip(f, &fr_mac_peer, PEER, IPV4_PROTO_ICMP);
    size_t len = net_get16(rip + IPV4_OFF_LEN) - IPV4_HDR_LEN;
    const uint8_t *icmp = rip + IPV4_HDR_LEN;
    cr_assert_eq(len, ICMP_HDR_LEN + IPV4_HDR_LEN + ICMP_QUOTE_DATA, "header + 8 bytes");
    cr_assert_eq(ref_csum(icmp, len), 0);
    cr_assert_eq(icmp[ICMP_OFF_TYPE], ICMP_DEST_UNREACH);
    cr_assert_eq(icmp[ICMP_OFF_CODE], ICMP_UNREACH_PROTO);
    cr_assert_eq(net_get32(icmp + ICMP_OFF_REST), 0);
    cr_assert(memcmp(icmp + ICMP_HDR_LEN, buf + ETH_HDR_LEN, IPV4_HDR_LEN + 8) == 0,
              "the quote is not the offending header and its first 8 bytes");
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.rx_unknown_proto, 1);
    cr_assert_eq(tb.node->ip.stats.rx_packets, 0);
    cr_assert_eq(tb.node->icmp.stats.tx_errors, 1);
    testbed_free(&tb);
}

/* ---- routing ---- */

Test(ipv4, routes_on_link_destination_directly)
{
    struct testbed tb;
    net_ip4 hop = 0;
    start(&tb);
    cr_assert_eq(ipv4_route(&tb.node->ip, OTHER, &hop), NET_OK);
    cr_assert_eq(hop, OTHER);
    cr_assert_eq(ipv4_route(&tb.node->ip, NET_IP4(10, 0, 0, 254), &hop), NET_OK);
    cr_assert_eq(hop, NET_IP4(10, 0, 0, 254));

    /* So a ping to an unresolved neighbour asks for the neighbour, not the gateway. */
    cr_assert_eq(ping_at(&tb, OTHER, 1, 8, T0 + 1 * MS), NET_OK);
    const struct fake_frame *f = tb_next(&tb);
    cr_assert_not_null(f);
    cr_assert_eq(net_get16(f->data + ETH_OFF_TYPE), ETH_TYPE_ARP);
    cr_assert_eq(net_get16(f->data + ETH_HDR_LEN + ARP_OFF_OPER), ARP_OP_REQUEST);
    cr_assert_eq(net_get32(f->data + ETH_HDR_LEN + ARP_OFF_TPA), OTHER);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, routes_off_link_destination_via_gateway)
{
    struct testbed tb;
    net_ip4 hop = 0;
    start(&tb);
    learn_peer(&tb, T0); /* the peer is the gateway */
    cr_assert_eq(ipv4_route(&tb.node->ip, FAR, &hop), NET_OK);
    cr_assert_eq(hop, PEER);
    cr_assert_eq(ipv4_route(&tb.node->ip, NET_IP4(10, 0, 1, 1), &hop), NET_OK);
    cr_assert_eq(hop, PEER, "10.0.1.1 is outside 10.0.0.0/24");

    cr_assert_eq(ping_at(&tb, FAR, 1, 8, T0 + 1 * MS), NET_OK);
    expect_ip(tb_next(&tb), &fr_mac_peer, FAR, IPV4_PROTO_ICMP);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, refuses_off_link_destination_without_gateway)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    net_ip4 hop = 0x12345678;
    cfg.gateway = 0;
    cr_assert_eq(testbed_init(&tb, &cfg, T0), NET_OK);
    cr_assert_eq(ipv4_route(&tb.node->ip, FAR, &hop), NET_EUNREACH);
    cr_assert_eq(hop, 0x12345678, "next hop written on failure");
    cr_assert_eq(ipv4_route(&tb.node->ip, OTHER, &hop), NET_OK, "on-link still works");

    cr_assert_eq(ping_at(&tb, FAR, 1, 8, T0 + 1 * MS), NET_EUNREACH);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.tx_no_route, 1);
    testbed_free(&tb);
}

Test(ipv4, routes_broadcasts_to_the_broadcast_next_hop)
{
    struct testbed tb;
    net_ip4 hop = 0;
    start(&tb);
    cr_assert_eq(ipv4_route(&tb.node->ip, NET_IP4(10, 0, 0, 255), &hop), NET_OK);
    cr_assert_eq(hop, NET_IP4_BROADCAST);
    hop = 0;
    cr_assert_eq(ipv4_route(&tb.node->ip, NET_IP4_BROADCAST, &hop), NET_OK);
    cr_assert_eq(hop, NET_IP4_BROADCAST);
    /* Nothing here loops back or joins a group. */
    cr_assert_eq(ipv4_route(&tb.node->ip, US, &hop), NET_EUNREACH);
    cr_assert_eq(ipv4_route(&tb.node->ip, NET_IP4(127, 0, 0, 1), &hop), NET_EUNREACH);
    cr_assert_eq(ipv4_route(&tb.node->ip, NET_IP4(224, 0, 0, 1), &hop), NET_EUNREACH);
    cr_assert_eq(ipv4_route(&tb.node->ip, 0, &hop), NET_EUNREACH);

    /* A broadcast goes to the broadcast MAC with no ARP exchange first. */
    cr_assert_eq(ping_at(&tb, NET_IP4(10, 0, 0, 255), 1, 8, T0 + 1 * MS), NET_OK);
    expect_ip(tb_next(&tb), &fr_mac_broadcast, NET_IP4(10, 0, 0, 255), IPV4_PROTO_ICMP);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

/* ---- output ---- */

Test(ipv4, identification_increments_per_datagram_not_per_fragment)
{
    struct testbed tb;
    uint8_t out[BIG_MSG + 64];
    size_t n_frags;
    uint16_t id1, id2, id3;
    uint64_t ts;
    start(&tb);
    learn_peer(&tb, T0);
    cr_assert_eq(ping_at(&tb, PEER, 1, 56, T0 + 1 * MS), NET_OK);
    take_datagram(&tb, out, sizeof(out), &n_frags, &id1, &ts);
    cr_assert_eq(ping_at(&tb, PEER, 2, 3000, T0 + 2 * MS), NET_OK);
    take_datagram(&tb, out, sizeof(out), &n_frags, &id2, &ts);
    cr_assert_eq(n_frags, 3);
    cr_assert_eq(ping_at(&tb, PEER, 3, 56, T0 + 3 * MS), NET_OK);
    take_datagram(&tb, out, sizeof(out), &n_frags, &id3, &ts);
    cr_assert_eq(id2, (uint16_t)(id1 + 1));
    cr_assert_eq(id3, (uint16_t)(id2 + 1), "three fragments used up one id");
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, fragments_payload_over_the_mtu)
{
    struct testbed tb;
    uint8_t out[BIG_MSG + 64];
    size_t n_frags;
    uint16_t id;
    uint64_t ts;
    start(&tb);
    learn_peer(&tb, T0);
    cr_assert_eq(ping_at(&tb, PEER, 9, 3000, T0 + 1 * MS), NET_OK);

    /* take_datagram checks each piece: <= MTU, multiple of 8 unless last, MF on all but
     * the last, offsets contiguous from zero, one id. */
    size_t len = take_datagram(&tb, out, sizeof(out), &n_frags, &id, &ts);
    cr_assert_eq(n_frags, 3);
    cr_assert_eq(len, ICMP_HDR_LEN + 3000);
    cr_assert_eq(out[ICMP_OFF_TYPE], ICMP_ECHO_REQUEST);
    cr_assert_eq(net_get16(out + ICMP_OFF_SEQ), 9);
    cr_assert_eq(ref_csum(out, len), 0, "checksum over the whole datagram");
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.tx_fragments, 3);
    cr_assert_eq(tb.node->ip.stats.tx_packets, 1);
    testbed_free(&tb);
}

Test(ipv4, fragments_exactly_as_rfc791_cuts)
{
    struct testbed tb;
    start(&tb);
    learn_peer(&tb, T0);
    cr_assert_eq(ping_at(&tb, PEER, 1, 3000, T0 + 1 * MS), NET_OK);
    /* 3008 bytes at MTU 1500: 1480 at 0 (MF), 1480 at 1480 (MF), 48 at 2960. */
    const size_t off[3] = {0, 1480, 2960}, len[3] = {1480, 1480, 48};
    for (int i = 0; i < 3; i++) {
        const uint8_t *ip = expect_ip(tb_next(&tb), &fr_mac_peer, PEER, IPV4_PROTO_ICMP);
        uint16_t fl = net_get16(ip + IPV4_OFF_FRAG);
        cr_assert_eq(net_get16(ip + IPV4_OFF_LEN), IPV4_HDR_LEN + len[i], "fragment %d", i);
        cr_assert_eq((size_t)(fl & IPV4_FRAG_MASK) * 8, off[i], "fragment %d", i);
        cr_assert_eq((fl & IPV4_FLAG_MF) != 0, i < 2, "fragment %d", i);
    }
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, fragments_on_8_byte_boundaries_at_an_odd_mtu)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    uint8_t out[BIG_MSG + 64];
    size_t n_frags;
    uint16_t id;
    uint64_t ts;
    /* 1006 leaves 986 bytes after the header, not a multiple of 8: pieces must be 984. */
    cfg.mtu = 1006;
    cr_assert_eq(testbed_init(&tb, &cfg, T0), NET_OK);
    learn_peer(&tb, T0);
    cr_assert_eq(ping_at(&tb, PEER, 1, 3000, T0 + 1 * MS), NET_OK);
    size_t len = take_datagram(&tb, out, sizeof(out), &n_frags, &id, &ts);
    cr_assert_eq(len, BIG_MSG);
    cr_assert_eq(n_frags, 4, "3008 = 984 + 984 + 984 + 56");
    cr_assert_eq(ref_csum(out, len), 0);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, refuses_oversize_datagram_with_dont_fragment)
{
    static uint8_t payload[IPV4_MAX_LEN];
    struct testbed tb;
    start(&tb);
    learn_peer(&tb, T0);
    struct ipv4_tx tx = {.dst = PEER, .proto = IPV4_PROTO_UDP, .df = true};
    struct net_iov iov = {payload, 1481};
    cr_assert_eq(send_at(&tb, &tx, &iov, T0 + 1 * MS), NET_EMSGSIZE);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.tx_too_big, 1);

    /* One byte less fits, and leaves with DF set. */
    iov.len = 1480;
    cr_assert_eq(send_at(&tb, &tx, &iov, T0 + 2 * MS), NET_OK);
    const uint8_t *ip = expect_ip(tb_next(&tb), &fr_mac_peer, PEER, IPV4_PROTO_UDP);
    cr_assert_eq(net_get16(ip + IPV4_OFF_FRAG), IPV4_FLAG_DF);
    cr_assert_eq(net_get16(ip + IPV4_OFF_LEN), 1500);

    /* Without DF, nothing over what a 16-bit total length can describe. */
    tx.df = false;
    iov.len = IPV4_MAX_LEN - IPV4_HDR_LEN + 1;
    cr_assert_eq(send_at(&tb, &tx, &iov, T0 + 3 * MS), NET_EMSGSIZE);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.tx_too_big, 2);
    testbed_free(&tb);
}

Test(ipv4, reports_no_buffer_when_the_device_is_full)
{
    struct testbed tb;
    uint8_t payload[64] = {0};
    start(&tb);
    learn_peer(&tb, T0);
    tb.link.full = true;
    struct ipv4_tx tx = {.dst = PEER, .proto = IPV4_PROTO_UDP};
    struct net_iov iov = {payload, sizeof(payload)};
    cr_assert_eq(send_at(&tb, &tx, &iov, T0 + 1 * MS), NET_ENOBUFS);
    cr_assert_eq(tb.node->ip.stats.tx_no_buffer, 1);
    cr_assert_eq(ping_at(&tb, PEER, 1, 56, T0 + 2 * MS), NET_ENOBUFS);
    cr_assert_eq(tb.node->ip.stats.tx_no_buffer, 2);
    cr_assert_eq(tb.node->ip.stats.tx_packets, 0);
    tb.link.full = false;
    cr_assert_null(tb_next(&tb));

    /* The device recovers and so does sending. */
    cr_assert_eq(send_at(&tb, &tx, &iov, T0 + 3 * MS), NET_OK);
    expect_ip(tb_next(&tb), &fr_mac_peer, PEER, IPV4_PROTO_UDP);
    testbed_free(&tb);
}

/* ---- reassembly ---- */

Test(ipv4, reassembles_in_order_fragments)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 1);
    send_frag(&tb, msg, 100, 0, FRAG, true, T0 + 1 * MS);
    send_frag(&tb, msg, 100, FRAG, FRAG, true, T0 + 2 * MS);
    cr_assert_null(tb_next(&tb), "answered before the datagram was whole");
    send_frag(&tb, msg, 100, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 3 * MS);
    expect_big_reply(&tb, msg, T0 + 3 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_rx, 3);
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 1);
    cr_assert_eq(tb.node->ip.stats.rx_packets, 1);
    cr_assert_eq(ipv4_next_deadline(&tb.node->ip), UINT64_MAX, "slot not released");
    testbed_free(&tb);
}

Test(ipv4, reassembles_out_of_order_fragments)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 2);
    send_frag(&tb, msg, 101, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 1 * MS);
    send_frag(&tb, msg, 101, 0, FRAG, true, T0 + 2 * MS);
    cr_assert_null(tb_next(&tb), "answered with a hole in the middle");
    send_frag(&tb, msg, 101, FRAG, FRAG, true, T0 + 3 * MS);
    expect_big_reply(&tb, msg, T0 + 3 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 1);
    testbed_free(&tb);
}

Test(ipv4, reassembles_the_largest_datagram_ipv4_can_carry)
{
    static uint8_t msg[IPV4_MAX_LEN - IPV4_HDR_LEN], reply[IPV4_MAX_LEN];
    struct testbed tb;
    size_t n_frags;
    uint16_t id;
    uint64_t ts;
    start(&tb);
    learn_peer(&tb, T0);
    for (size_t i = 0; i < sizeof(msg) - ICMP_HDR_LEN; i++)
        msg[ICMP_HDR_LEN + i] = (uint8_t)(i ^ (i >> 8));
    fr_icmp_msg(msg, ICMP_ECHO_REQUEST, 0, 0x4242, 3, msg + ICMP_HDR_LEN,
                sizeof(msg) - ICMP_HDR_LEN);
    /* 65515 bytes: 44 fragments of 1480 and a last one of 395, ending at exactly 64 KiB - 1. */
    size_t off = 0;
    for (uint64_t t = T0 + 1 * MS; off < sizeof(msg); t += MS) {
        size_t len = sizeof(msg) - off < FRAG ? sizeof(msg) - off : FRAG;
        send_frag(&tb, msg, 102, off, len, off + len < sizeof(msg), t);
        off += len;
    }
    size_t len = take_datagram(&tb, reply, sizeof(reply), &n_frags, &id, &ts);
    cr_assert_eq(len, sizeof(msg));
    cr_assert_eq(n_frags, 45);
    cr_assert_eq(reply[ICMP_OFF_TYPE], ICMP_ECHO_REPLY);
    cr_assert_eq(ref_csum(reply, len), 0);
    cr_assert(memcmp(reply + ICMP_HDR_LEN, msg + ICMP_HDR_LEN, len - ICMP_HDR_LEN) == 0);
    cr_assert_eq(tb.node->ip.stats.frag_bad, 0);
    cr_assert_eq(tb.node->ip.stats.frag_too_big, 0);
    testbed_free(&tb);
}

Test(ipv4, ignores_exact_duplicate_fragment)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 3);
    send_frag(&tb, msg, 103, 0, FRAG, true, T0 + 1 * MS);
    send_frag(&tb, msg, 103, 0, FRAG, true, T0 + 2 * MS); /* a retransmission */
    cr_assert_eq(tb.node->ip.stats.frag_dup, 1);
    send_frag(&tb, msg, 103, FRAG, FRAG, true, T0 + 3 * MS);
    send_frag(&tb, msg, 103, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 4 * MS);
    expect_big_reply(&tb, msg, T0 + 4 * MS);
    cr_assert_null(tb_next(&tb), "the duplicate produced a second reply");
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 1);
    cr_assert_eq(tb.node->ip.stats.frag_overlap, 0);
    testbed_free(&tb);
}

Test(ipv4, discards_datagram_on_overlap_with_different_data)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG], forged[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 4);
    memcpy(forged, msg, sizeof(forged));
    forged[100] ^= 0xff; /* same place, different bytes: RFC 5722 says trust neither */
    send_frag(&tb, msg, 104, 0, FRAG, true, T0 + 1 * MS);
    send_frag(&tb, forged, 104, 0, FRAG, true, T0 + 2 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_overlap, 1);
    /* The rest arrives, but fragment zero went with the discarded datagram. */
    send_frag(&tb, msg, 104, FRAG, FRAG, true, T0 + 3 * MS);
    send_frag(&tb, msg, 104, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 4 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 0);
    cr_assert_eq(tb.node->ip.stats.frag_dup, 0);
    testbed_free(&tb);
}

Test(ipv4, discards_datagram_on_partial_overlap)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 5);
    send_frag(&tb, msg, 105, 0, FRAG, true, T0 + 1 * MS);
    /* Starts one block inside fragment zero; the shared bytes even agree. */
    send_frag(&tb, msg, 105, FRAG - 8, FRAG, true, T0 + 2 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_overlap, 1);
    send_frag(&tb, msg, 105, FRAG, FRAG, true, T0 + 3 * MS);
    send_frag(&tb, msg, 105, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 4 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 0);
    testbed_free(&tb);
}

Test(ipv4, discards_datagram_with_conflicting_last_fragment)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 6);
    send_frag(&tb, msg, 106, 0, FRAG, true, T0 + 1 * MS);
    send_frag(&tb, msg, 106, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 2 * MS);
    /* A second "last fragment" saying the datagram ends 3 bytes earlier: inside the final
     * 8-byte block, so no received block lies past its end and its bytes agree with what
     * arrived. Only the two lengths disagree. */
    send_frag(&tb, msg, 106, 2 * FRAG, BIG_MSG - 2 * FRAG - 3, false, T0 + 3 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_overlap, 1);
    send_frag(&tb, msg, 106, FRAG, FRAG, true, T0 + 4 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 0);
    testbed_free(&tb);
}

Test(ipv4, discards_datagram_with_data_past_its_end)
{
    static const uint8_t junk[16];
    struct testbed tb;
    uint8_t msg[BIG_MSG], buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 6);
    /* The last fragment says 3008 bytes; then a middle piece arrives beyond that. */
    send_frag(&tb, msg, 115, 0, FRAG, true, T0 + 1 * MS);
    send_frag(&tb, msg, 115, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 2 * MS);
    tb_send(&tb, buf, frag_frame(buf, 115, BIG_MSG, junk, sizeof(junk), true), T0 + 3 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_overlap, 1);
    send_frag(&tb, msg, 115, FRAG, FRAG, true, T0 + 4 * MS);
    cr_assert_null(tb_next(&tb));

    /* The same lie told the other way round: the piece beyond first, the last one after. */
    tb_send(&tb, buf, frag_frame(buf, 116, BIG_MSG, junk, sizeof(junk), true), T0 + 5 * MS);
    send_frag(&tb, msg, 116, 0, FRAG, true, T0 + 6 * MS);
    send_frag(&tb, msg, 116, FRAG, FRAG, true, T0 + 7 * MS);
    send_frag(&tb, msg, 116, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 8 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_overlap, 2);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 0);
    testbed_free(&tb);
}

Test(ipv4, rejects_more_fragments_with_length_not_multiple_of_eight)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 7);
    send_frag(&tb, msg, 107, 0, FRAG - 4, true, T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_bad, 1);
    send_frag(&tb, msg, 107, FRAG, 0, true, T0 + 2 * MS); /* an empty middle piece */
    cr_assert_eq(tb.node->ip.stats.frag_bad, 2);
    cr_assert_eq(ipv4_next_deadline(&tb.node->ip), UINT64_MAX, "a bad fragment took a slot");
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, rejects_fragment_reaching_past_64k)
{
    static uint8_t junk[FRAG];
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    /* The ping of death: a last fragment at 65000 whose 1480 bytes end at 66480. */
    tb_send(&tb, buf, frag_frame(buf, 108, 65000, junk, FRAG, false), T0 + 1 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_bad, 1);
    /* The largest offset the field can hold, with one block. */
    tb_send(&tb, buf, frag_frame(buf, 109, 8191 * 8, junk, 8, true), T0 + 2 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_bad, 2);
    /* One byte past the limit: header 20 + 65516. */
    tb_send(&tb, buf, frag_frame(buf, 110, 64040, junk, 1476, false), T0 + 3 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_bad, 3);
    cr_assert_eq(ipv4_next_deadline(&tb.node->ip), UINT64_MAX, "a bad fragment took a slot");
    /* Exactly at the limit is legal and is held for reassembly. */
    tb_send(&tb, buf, frag_frame(buf, 111, 64040, junk, 1475, false), T0 + 4 * MS);
    cr_assert_eq(tb.node->ip.stats.frag_bad, 3);
    cr_assert_eq(ipv4_next_deadline(&tb.node->ip), T0 + 4 * MS + 30 * SEC);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(ipv4, times_out_and_reports_when_fragment_zero_arrived)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG], frag0[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 8);
    uint64_t t1 = T0 + 1 * MS;
    tb_send(&tb, frag0, frag_frame(frag0, 112, 0, msg, FRAG, true), t1);
    send_frag(&tb, msg, 112, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 2 * MS);

    tb_advance(&tb, t1 + 30 * SEC - 1);
    cr_assert_null(tb_next(&tb), "gave up before 30 s");
    tb_advance(&tb, t1 + 30 * SEC);
    const struct fake_frame *f = tb_next(&tb);
    const uint8_t *ip = expect_ip(f, &fr_mac_peer, PEER, IPV4_PROTO_ICMP);
    cr_assert_eq(f->ts, t1 + 30 * SEC);
    const uint8_t *icmp = ip + IPV4_HDR_LEN;
    size_t len = net_get16(ip + IPV4_OFF_LEN) - IPV4_HDR_LEN;
    cr_assert_eq(len, ICMP_HDR_LEN + IPV4_HDR_LEN + ICMP_QUOTE_DATA);
    cr_assert_eq(ref_csum(icmp, len), 0);
    cr_assert_eq(icmp[ICMP_OFF_TYPE], ICMP_TIME_EXCEEDED);
    cr_assert_eq(icmp[ICMP_OFF_CODE], ICMP_EXC_REASSEMBLY);
    cr_assert(memcmp(icmp + ICMP_HDR_LEN, frag0 + ETH_HDR_LEN, IPV4_HDR_LEN + 8) == 0,
              "must quote fragment zero's header and first 8 bytes");
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_timeout, 1);
    cr_assert_eq(ipv4_next_deadline(&tb.node->ip), UINT64_MAX, "slot still held");

    /* The missing middle arrives too late: its datagram is gone. */
    send_frag(&tb, msg, 112, FRAG, FRAG, true, t1 + 31 * SEC);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 0);
    testbed_free(&tb);
}

Test(ipv4, times_out_silently_without_fragment_zero)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 9);
    send_frag(&tb, msg, 113, FRAG, FRAG, true, T0 + 1 * MS);
    send_frag(&tb, msg, 113, 2 * FRAG, BIG_MSG - 2 * FRAG, false, T0 + 2 * MS);
    tb_advance(&tb, T0 + 1 * MS + 30 * SEC);
    /* RFC 792: with no fragment zero there is no header to quote, so no Time Exceeded. */
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_timeout, 1);
    cr_assert_eq(tb.node->icmp.stats.tx_errors, 0);
    cr_assert_eq(ipv4_next_deadline(&tb.node->ip), UINT64_MAX, "slot still held");
    testbed_free(&tb);
}

Test(ipv4, evicts_oldest_datagram_when_every_slot_is_busy)
{
    struct testbed tb;
    uint8_t msg[BIG_MSG];
    start(&tb);
    learn_peer(&tb, T0);
    big_echo(msg, 10);
    /* NODE_FRAG_SLOTS datagrams that never finish, oldest first. */
    for (uint16_t i = 0; i < NODE_FRAG_SLOTS; i++)
        send_frag(&tb, msg, (uint16_t)(200 + i), 0, FRAG, true, T0 + (1 + i) * MS);
    cr_assert_eq(tb.node->ip.stats.frag_evicted, 0);

    uint64_t t = T0 + 10 * MS;
    send_frag(&tb, msg, 300, 0, FRAG, true, t);
    cr_assert_eq(tb.node->ip.stats.frag_evicted, 1);
    send_frag(&tb, msg, 300, FRAG, FRAG, true, t);
    send_frag(&tb, msg, 300, 2 * FRAG, BIG_MSG - 2 * FRAG, false, t);
    expect_big_reply(&tb, msg, t);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_evicted, 1);

    /* The evicted one was the oldest: the rest of it can no longer complete... */
    send_frag(&tb, msg, 200, FRAG, FRAG, true, t + 1 * MS);
    send_frag(&tb, msg, 200, 2 * FRAG, BIG_MSG - 2 * FRAG, false, t + 1 * MS);
    cr_assert_null(tb_next(&tb));
    /* ...while the youngest survivor still can. */
    send_frag(&tb, msg, 200 + NODE_FRAG_SLOTS - 1, FRAG, FRAG, true, t + 2 * MS);
    send_frag(&tb, msg, 200 + NODE_FRAG_SLOTS - 1, 2 * FRAG, BIG_MSG - 2 * FRAG, false,
              t + 2 * MS);
    expect_big_reply(&tb, msg, t + 2 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_reassembled, 2);
    cr_assert_eq(tb.node->ip.stats.frag_evicted, 1);
    testbed_free(&tb);
}
