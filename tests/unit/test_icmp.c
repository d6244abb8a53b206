/*
 * test_icmp.c — ICMP: the codec, echo, the rules about when not to send an error, the
 * error rate limit, and the ping API, driven through a whole node on the fake link.
 *
 * Inputs are built with harness/frames.h; outputs are read field by field and their
 * checksums verified with its naive sum (fr_csum), not the stack's.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "frames.h"
#include "netstack/arp_wire.h"
#include "netstack/eth_wire.h"
#include "netstack/icmp.h"
#include "netstack/ipv4.h"
#include "netstack/node.h"
#include "testbed.h"
#include "support.h"

#define SUBNET_BCAST NET_IP4(10, 0, 0, 255)

/* The ICMP part of the kernel's reply (its IP header: id 63691, no DF, checksum 0x6ddb). */
static const uint8_t linux_pong_icmp[8] = {0x00, 0x00, 0xd1, 0x91, 0x15, 0x42, 0x00, 0x01};
#define PING_ICMP (linux_ping + IPV4_HDR_LEN)
#define PING_ICMP_LEN (sizeof(linux_ping) - IPV4_HDR_LEN)

/* `f` is an unfragmented ICMP message from us to the peer with valid IP and ICMP
 * checksums; returns the ICMP message and its length. */
static const uint8_t *expect_icmp(const struct fake_frame *f, net_ip4 dst, size_t *len)
{
    cr_assert_not_null(f, "expected an ICMP message, the node sent nothing");
    cr_assert(memcmp(f->data + ETH_OFF_DST, fr_mac_peer.b, NET_MAC_LEN) == 0, "wrong MAC dst");
    cr_assert(memcmp(f->data + ETH_OFF_SRC, mac_us.b, NET_MAC_LEN) == 0, "wrong MAC src");
    cr_assert_eq(net_get16(f->data + ETH_OFF_TYPE), ETH_TYPE_IPV4);
    const uint8_t *ip = f->data + ETH_HDR_LEN;
    cr_assert_eq(ip[IPV4_OFF_VER_IHL], 0x45);
    cr_assert_eq(ref_csum(ip, IPV4_HDR_LEN), 0, "bad IP header checksum");
    cr_assert_eq(net_get16(ip + IPV4_OFF_FRAG) & (IPV4_FLAG_MF | IPV4_FRAG_MASK), 0);
    cr_assert_eq(ip[IPV4_OFF_TTL], IPV4_DEFAULT_TTL);
    cr_assert_eq(ip[IPV4_OFF_PROTO], IPV4_PROTO_ICMP);
    cr_assert_eq(net_get32(ip + IPV4_OFF_SRC), US);
    cr_assert_eq(net_get32(ip + IPV4_OFF_DST), dst);
    size_t total = net_get16(ip + IPV4_OFF_LEN);
    cr_assert_geq(total, IPV4_HDR_LEN + ICMP_HDR_LEN);
    cr_assert_leq(ETH_HDR_LEN + total, f->len);
    *len = total - IPV4_HDR_LEN;
    cr_assert_eq(ref_csum(ip + IPV4_HDR_LEN, *len), 0, "bad ICMP checksum");
    return ip + IPV4_HDR_LEN;
}

/* An error from us to the peer: type, code, an unused rest word, and as its quote the
 * offending IP header and the first 8 bytes after it. */
static void expect_error(struct testbed *tb, uint8_t type, uint8_t code, const uint8_t *quoted)
{
    size_t len;
    const uint8_t *icmp = expect_icmp(tb_next(tb), PEER, &len);
    cr_assert_eq(icmp[ICMP_OFF_TYPE], type);
    cr_assert_eq(icmp[ICMP_OFF_CODE], code);
    cr_assert_eq(net_get32(icmp + ICMP_OFF_REST), 0);
    cr_assert_eq(len, ICMP_HDR_LEN + IPV4_HDR_LEN + ICMP_QUOTE_DATA);
    cr_assert(memcmp(icmp + ICMP_HDR_LEN, quoted, IPV4_HDR_LEN + ICMP_QUOTE_DATA) == 0,
              "quote differs from the offending packet");
}

/* Send an echo request of `len` bytes and check the reply is its mirror image. */
static void check_echo(size_t len)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(0xa0 ^ i ^ (i >> 8));
    size_t n = fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REQUEST, 0xbeef, 0x0102,
                       data, len);
    tb_send(&tb, buf, n, T0 + 5 * MS);

    const struct fake_frame *f = tb_next(&tb);
    size_t rlen;
    const uint8_t *icmp = expect_icmp(f, PEER, &rlen);
    cr_assert_eq(f->ts, T0 + 5 * MS);
    cr_assert_eq(rlen, ICMP_HDR_LEN + len);
    cr_assert_eq(icmp[ICMP_OFF_TYPE], ICMP_ECHO_REPLY);
    cr_assert_eq(icmp[ICMP_OFF_CODE], 0);
    cr_assert_eq(net_get16(icmp + ICMP_OFF_IDENT), 0xbeef);
    cr_assert_eq(net_get16(icmp + ICMP_OFF_SEQ), 0x0102);
    cr_assert(memcmp(icmp + ICMP_HDR_LEN, data, len) == 0, "echoed data differs");
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.rx_echo_requests, 1);
    cr_assert_eq(tb.node->icmp.stats.tx_echo_replies, 1);
    testbed_free(&tb);
}

/* A datagram from the peer with a protocol nobody here speaks: a protocol unreachable. */
static size_t udp_frame(uint8_t *buf, const struct net_mac *eth_dst, net_ip4 dst, uint16_t id)
{
    static const uint8_t udp[12] = {0x8a, 0x3c, 0x00, 0x09, 0x00, 0x0c, 0x00, 0x00, 'q', 'r',
                                    't', 'z'};
    struct fr_ip ip = {.src = PEER, .dst = dst, .proto = IPV4_PROTO_UDP, .id = id};
    return fr_ipv4(buf, eth_dst, &fr_mac_peer, &ip, udp, sizeof(udp));
}

/* node_ping at `at`, with the clock moved there first so frames carry that time. */
static int ping_at(struct testbed *tb, net_ip4 dst, uint16_t seq, size_t len, uint64_t at)
{
    tb_advance(tb, at);
    return node_ping(tb->node, dst, seq, len, at);
}

/* Start a ping and take the echo request it sends. The IP packet is copied to `pkt` (the
 * link's frame log may move as it grows); returns the ICMP message inside it. */
static const uint8_t *start_ping(struct testbed *tb, net_ip4 dst, uint16_t seq, size_t data_len,
                                 uint64_t at, uint8_t *pkt)
{
    size_t len;
    cr_assert_eq(ping_at(tb, dst, seq, data_len, at), NET_OK);
    const struct fake_frame *f = tb_next(tb);
    const uint8_t *icmp = expect_icmp(f, dst, &len);
    cr_assert_eq(f->ts, at);
    cr_assert_eq(len, ICMP_HDR_LEN + data_len);
    cr_assert_eq(icmp[ICMP_OFF_TYPE], ICMP_ECHO_REQUEST);
    cr_assert_eq(net_get16(icmp + ICMP_OFF_SEQ), seq);
    memcpy(pkt, f->data + ETH_HDR_LEN, IPV4_HDR_LEN + len);
    return pkt + IPV4_HDR_LEN;
}

/* The peer answers `request` (an ICMP echo request of `len` bytes) with `data`. */
static void send_reply(struct testbed *tb, const uint8_t *request, const uint8_t *data,
                       size_t data_len, uint64_t at)
{
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    size_t n = fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REPLY,
                       net_get16(request + ICMP_OFF_IDENT), net_get16(request + ICMP_OFF_SEQ),
                       data, data_len);
    tb_send(tb, buf, n, at);
}

/* ---- codec ---- */

Test(icmp, parses_linux_ping_request)
{
    struct icmp_repr r;
    cr_assert_eq(icmp_parse(PING_ICMP, PING_ICMP_LEN, &r), NET_OK);
    cr_assert_eq(r.type, ICMP_ECHO_REQUEST);
    cr_assert_eq(r.code, 0);
    cr_assert_eq(r.ident, 5442);
    cr_assert_eq(r.seq, 1);
    cr_assert_eq(r.data, PING_ICMP + ICMP_HDR_LEN, "data must point into the buffer");
    cr_assert_eq(r.data_len, 56);
    cr_assert_eq(r.data[16], 0x10);
    cr_assert_eq(r.data[55], 0x37);
}

Test(icmp, emits_linux_ping_request_and_reply)
{
    struct icmp_repr r = {.type = ICMP_ECHO_REQUEST, .ident = 5442, .seq = 1,
                          .data = PING_ICMP + ICMP_HDR_LEN, .data_len = 56};
    uint8_t hdr[ICMP_HDR_LEN];
    cr_assert_eq(icmp_emit(&r, hdr, sizeof(hdr)), ICMP_HDR_LEN);
    cr_assert(memcmp(hdr, PING_ICMP, ICMP_HDR_LEN) == 0, "differs from what ping sent");
    r.type = ICMP_ECHO_REPLY;
    cr_assert_eq(icmp_emit(&r, hdr, sizeof(hdr)), ICMP_HDR_LEN);
    cr_assert(memcmp(hdr, linux_pong_icmp, ICMP_HDR_LEN) == 0, "differs from Linux's reply");
    cr_assert_eq(icmp_emit(&r, hdr, ICMP_HDR_LEN - 1), NET_EMSGSIZE);
}

Test(icmp, round_trips_through_emit_and_parse)
{
    static const uint8_t odd[5] = {1, 2, 3, 4, 5};
    const struct icmp_repr in[] = {
        {.type = ICMP_ECHO_REQUEST, .ident = 0xffff, .seq = 0, .data = NULL, .data_len = 0},
        {.type = ICMP_ECHO_REPLY, .ident = 1, .seq = 0xfffe, .data = odd, .data_len = 5},
        {.type = ICMP_DEST_UNREACH, .code = ICMP_UNREACH_FRAG_NEEDED, .ident = 0,
         .seq = 1400, .data = linux_ping, .data_len = 28},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        uint8_t buf[64];
        struct icmp_repr out;
        cr_assert_eq(icmp_emit(&in[i], buf, sizeof(buf)), ICMP_HDR_LEN);
        if (in[i].data_len)
            memcpy(buf + ICMP_HDR_LEN, in[i].data, in[i].data_len);
        size_t len = ICMP_HDR_LEN + in[i].data_len;
        cr_assert_eq(ref_csum(buf, len), 0, "case %zu", i);
        cr_assert_eq(icmp_parse(buf, len, &out), NET_OK, "case %zu", i);
        cr_assert_eq(out.type, in[i].type);
        cr_assert_eq(out.code, in[i].code);
        cr_assert_eq(out.ident, in[i].ident);
        cr_assert_eq(out.seq, in[i].seq);
        cr_assert_eq(out.data_len, in[i].data_len);
        cr_assert(memcmp(out.data, buf + ICMP_HDR_LEN, out.data_len) == 0);
    }
}

Test(icmp, parse_rejects_damage)
{
    struct icmp_repr r;
    for (size_t bit = 0; bit < PING_ICMP_LEN * 8; bit++) {
        uint8_t buf[PING_ICMP_LEN];
        memcpy(buf, PING_ICMP, sizeof(buf));
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(icmp_parse(buf, sizeof(buf), &r), NET_EINVAL, "bit %zu", bit);
    }
    for (size_t len = 0; len < ICMP_HDR_LEN; len++)
        cr_assert_eq(icmp_parse(PING_ICMP, len, &r), NET_EMALFORMED, "len %zu", len);
    /* Losing the tail breaks the checksum too (no suffix of this message sums to zero). */
    for (size_t len = ICMP_HDR_LEN; len < PING_ICMP_LEN; len++)
        cr_assert_eq(icmp_parse(PING_ICMP, len, &r), NET_EINVAL, "len %zu", len);
}

/* ---- echo ---- */

Test(icmp, echoes_empty_payload)
{
    check_echo(0);
}

Test(icmp, echoes_one_byte_payload)
{
    check_echo(1); /* odd length: the checksum pads with a zero byte */
}

Test(icmp, echoes_linux_default_payload)
{
    check_echo(56);
}

Test(icmp, echoes_largest_unfragmented_payload)
{
    check_echo(1500 - IPV4_HDR_LEN - ICMP_HDR_LEN); /* 1472 */
}

/* The reply's checksum is the request's updated for the new type (RFC 1624): it must be
 * what summing the whole reply gives, whatever the data, its length and the identifiers. */
Test(icmp, echo_reply_checksum_equals_a_full_sum_of_the_reply)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[300];
    start(&tb);
    learn_peer(&tb, T0);
    uint32_t x = 12345;
    for (size_t len = 0; len < sizeof(data); len += 1 + len / 8) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            data[i] = (uint8_t)(x >> 16);
        }
        uint16_t ident = (uint16_t)(x >> 3 | 1), seq = (uint16_t)len;
        tb_send(&tb, buf, fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REQUEST,
                                  ident, seq, data, len), T0 + 1 * MS);
        size_t rlen;
        const uint8_t *icmp = expect_icmp(tb_next(&tb), PEER, &rlen);
        uint8_t want[ICMP_HDR_LEN];
        struct icmp_repr r = {.type = ICMP_ECHO_REPLY, .ident = ident, .seq = seq,
                              .data = data, .data_len = len};
        cr_assert_eq(icmp_emit(&r, want, sizeof(want)), ICMP_HDR_LEN);
        cr_assert(memcmp(icmp, want, ICMP_HDR_LEN) == 0,
                  "length %zu: checksum %04x, a full sum gives %04x", len,
                  net_get16(icmp + ICMP_OFF_CSUM), net_get16(want + ICMP_OFF_CSUM));
    }
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(icmp, answers_a_linux_ping_as_linux_does)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    size_t len;
    start(&tb);
    learn_peer(&tb, T0);
    tb_send(&tb, buf, fr_eth(buf, &mac_us, &fr_mac_peer, ETH_TYPE_IPV4, linux_ping,
                             sizeof(linux_ping)), T0 + 1 * MS);
    const uint8_t *icmp = expect_icmp(tb_next(&tb), PEER, &len);
    cr_assert_eq(len, PING_ICMP_LEN);
    cr_assert(memcmp(icmp, linux_pong_icmp, ICMP_HDR_LEN) == 0, "header differs from Linux's");
    cr_assert(memcmp(icmp + ICMP_HDR_LEN, PING_ICMP + ICMP_HDR_LEN, 56) == 0);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(icmp, answers_a_ping_flood_in_full)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[56] = {0};
    start(&tb);
    learn_peer(&tb, T0);
    /* Twice the error burst, all at one instant: echo replies have no token bucket. */
    for (uint16_t seq = 0; seq < 20; seq++)
        tb_send(&tb, buf, fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REQUEST, 7,
                                  seq, data, sizeof(data)), T0 + 1 * MS);
    for (uint16_t seq = 0; seq < 20; seq++) {
        size_t len;
        const uint8_t *icmp = expect_icmp(tb_next(&tb), PEER, &len);
        cr_assert_eq(icmp[ICMP_OFF_TYPE], ICMP_ECHO_REPLY);
        cr_assert_eq(net_get16(icmp + ICMP_OFF_SEQ), seq);
    }
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.tx_rate_limited, 0);
    testbed_free(&tb);
}

Test(icmp, ignores_echo_to_subnet_broadcast)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[8] = {0};
    start(&tb);
    learn_peer(&tb, T0);
    /* One request, every host on the subnet answering it at the victim: a smurf attack. */
    size_t n = fr_echo(buf, &fr_mac_broadcast, &fr_mac_peer, PEER, SUBNET_BCAST,
                       ICMP_ECHO_REQUEST, 1, 1, data, sizeof(data));
    tb_send(&tb, buf, n, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.rx_echo_requests, 1, "never reached ICMP");
    cr_assert_eq(tb.node->icmp.stats.rx_broadcast_echo, 1);
    cr_assert_eq(tb.node->icmp.stats.tx_echo_replies, 0);
    testbed_free(&tb);
}

Test(icmp, ignores_echo_to_limited_broadcast)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[8] = {0};
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = fr_echo(buf, &fr_mac_broadcast, &fr_mac_peer, PEER, NET_IP4_BROADCAST,
                       ICMP_ECHO_REQUEST, 1, 1, data, sizeof(data));
    tb_send(&tb, buf, n, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.rx_echo_requests, 1, "never reached ICMP");
    cr_assert_eq(tb.node->icmp.stats.rx_broadcast_echo, 1);
    testbed_free(&tb);
}

Test(icmp, drops_bad_checksum)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[56] = {0};
    start(&tb);
    learn_peer(&tb, T0);
    size_t n = fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REQUEST, 1, 1, data,
                       sizeof(data));
    buf[n - 1] ^= 0x40; /* the last data byte, damaged after the checksum was taken */
    tb_send(&tb, buf, n, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.rx_bad_checksum, 1);
    cr_assert_eq(tb.node->icmp.stats.rx_packets, 0);
    cr_assert_eq(tb.node->ip.stats.rx_packets, 1, "IP was fine and delivered it");
    testbed_free(&tb);
}

Test(icmp, drops_truncated_message)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], msg[ICMP_HDR_LEN];
    start(&tb);
    learn_peer(&tb, T0);
    fr_icmp_msg(msg, ICMP_ECHO_REQUEST, 0, 1, 1, NULL, 0);
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP};
    /* Seven bytes and none: neither is a whole ICMP header. */
    tb_send(&tb, buf, fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, msg, 7), T0 + 1 * MS);
    tb_send(&tb, buf, fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, msg, 0), T0 + 2 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.rx_truncated, 2);
    cr_assert_eq(tb.node->icmp.stats.rx_packets, 0);
    testbed_free(&tb);
}

Test(icmp, ignores_unsupported_types)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX], data[28];
    start(&tb);
    learn_peer(&tb, T0);
    /* Timestamp request (13) with its three timestamps: answering would leak our clock. */
    memset(data, 0, sizeof(data));
    size_t n = fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, 13, 1, 1, data, 12);
    tb_send(&tb, buf, n, T0 + 1 * MS);
    /* Redirect (5) quoting one of our packets: a host must not let it rewrite routes. */
    memcpy(data, linux_ping, sizeof(data));
    net_put32(data + IPV4_OFF_SRC, US);
    net_put32(data + IPV4_OFF_DST, FAR);
    uint8_t msg[ICMP_HDR_LEN + sizeof(data)];
    size_t m = fr_icmp_msg(msg, ICMP_REDIRECT, 1, (uint16_t)(OTHER >> 16), (uint16_t)OTHER, data,
                           sizeof(data));
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP};
    tb_send(&tb, buf, fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, msg, m), T0 + 2 * MS);
    /* Source quench (4) and a type nobody assigned. */
    tb_send(&tb, buf, fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_SOURCE_QUENCH, 0, 0,
                              data, sizeof(data)), T0 + 3 * MS);
    tb_send(&tb, buf, fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, 200, 0, 0, data, 4),
            T0 + 4 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.rx_unsupported, 4);
    cr_assert_eq(tb.node->icmp.stats.rx_packets, 4);
    cr_assert_eq(tb.node->icmp.stats.rx_errors, 0);
    testbed_free(&tb);
}

/* ---- errors we must not send ---- */

Test(icmp, sends_no_error_about_an_icmp_error)
{
    struct testbed tb;
    uint8_t err[FRAG], echo[FRAG], buf[FAKE_LINK_FRAME_MAX], echo0[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    /* The first fragments of two datagrams that never finish: an ICMP error and an echo. */
    memset(err, 0x11, sizeof(err));
    fr_icmp_msg(err, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, 0, err + ICMP_HDR_LEN,
                sizeof(err) - ICMP_HDR_LEN);
    memset(echo, 0x22, sizeof(echo));
    fr_icmp_msg(echo, ICMP_ECHO_REQUEST, 0, 1, 1, echo + ICMP_HDR_LEN,
                sizeof(echo) - ICMP_HDR_LEN);
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP, .id = 500, .mf = true};
    tb_send(&tb, buf, fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, err, sizeof(err)), T0 + 1 * MS);
    ip.id = 501;
    tb_send(&tb, echo0, fr_ipv4(echo0, &mac_us, &fr_mac_peer, &ip, echo, sizeof(echo)),
            T0 + 1 * MS);

    /* Both time out; only the echo gets a Time Exceeded (RFC 1122 3.2.2). */
    tb_advance(&tb, T0 + 1 * MS + 30 * SEC);
    expect_error(&tb, ICMP_TIME_EXCEEDED, ICMP_EXC_REASSEMBLY, echo0 + ETH_HDR_LEN);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.frag_timeout, 2);
    cr_assert_eq(tb.node->icmp.stats.tx_suppressed, 1);
    cr_assert_eq(tb.node->icmp.stats.tx_errors, 1);
    testbed_free(&tb);
}

Test(icmp, sends_no_error_about_a_broadcast)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    tb_send(&tb, buf, udp_frame(buf, &fr_mac_broadcast, SUBNET_BCAST, 1), T0 + 1 * MS);
    tb_send(&tb, buf, udp_frame(buf, &fr_mac_broadcast, NET_IP4_BROADCAST, 2), T0 + 2 * MS);
    /* A directed broadcast in a frame to our MAC (as a router delivers one): the IP
     * address alone must be enough to stay quiet. */
    tb_send(&tb, buf, udp_frame(buf, &mac_us, SUBNET_BCAST, 3), T0 + 3 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->ip.stats.rx_unknown_proto, 3, "never reached the error path");
    cr_assert_eq(tb.node->icmp.stats.tx_suppressed, 3);
    cr_assert_eq(tb.node->icmp.stats.tx_errors, 0);
    testbed_free(&tb);
}

Test(icmp, sends_no_error_about_a_link_layer_broadcast)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    /* Our IP, but the broadcast MAC: every host on the link got it, so none may complain. */
    tb_send(&tb, buf, udp_frame(buf, &fr_mac_broadcast, US, 1), T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.tx_suppressed, 1);
    /* The same datagram sent to our MAC does earn an error. */
    tb_send(&tb, buf, udp_frame(buf, &mac_us, US, 2), T0 + 2 * MS);
    expect_error(&tb, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, buf + ETH_HDR_LEN);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.tx_suppressed, 1);
    testbed_free(&tb);
}

Test(icmp, sends_no_error_about_a_non_initial_fragment)
{
    /* Only whole datagrams and fragment zero reach ICMP inside the node, so this rule is
     * checked at icmp_send_error itself, with headers the codec parsed. */
    struct testbed tb;
    uint8_t pkt[FAKE_LINK_FRAME_MAX], data[16];
    struct ipv4_repr r;
    start(&tb);
    learn_peer(&tb, T0);
    memset(data, 0x33, sizeof(data));
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_UDP, .id = 9,
                       .frag_off = FRAG};
    size_t n = fr_ipv4_pkt(pkt, &ip, data, sizeof(data));
    cr_assert_eq(ipv4_parse(pkt, n, &r, NULL), NET_OK);
    icmp_send_error(&tb.node->icmp, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, &r, pkt,
                    pkt + IPV4_HDR_LEN, n - IPV4_HDR_LEN, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->icmp.stats.tx_suppressed, 1);

    /* Fragment zero of the same datagram may be reported. */
    ip.frag_off = 0;
    ip.mf = true;
    n = fr_ipv4_pkt(pkt, &ip, data, sizeof(data));
    cr_assert_eq(ipv4_parse(pkt, n, &r, NULL), NET_OK);
    icmp_send_error(&tb.node->icmp, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, &r, pkt,
                    pkt + IPV4_HDR_LEN, n - IPV4_HDR_LEN, T0 + 2 * MS);
    expect_error(&tb, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, pkt);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(icmp, limits_error_rate_to_a_burst_then_one_per_interval)
{
    struct testbed tb;
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    for (uint16_t i = 0; i < 15; i++)
        tb_send(&tb, buf, udp_frame(buf, &mac_us, US, i), T0);
    for (uint16_t i = 0; i < 10; i++) {
        uint8_t sent[FAKE_LINK_FRAME_MAX];
        udp_frame(sent, &mac_us, US, i);
        expect_error(&tb, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, sent + ETH_HDR_LEN);
    }
    cr_assert_null(tb_next(&tb), "more than the burst of 10");
    cr_assert_eq(tb.node->icmp.stats.tx_rate_limited, 5);

    /* The bucket earns one token per 10 ms, not before. */
    tb_send(&tb, buf, udp_frame(buf, &mac_us, US, 100), T0 + 10 * MS - 1);
    cr_assert_null(tb_next(&tb));
    tb_send(&tb, buf, udp_frame(buf, &mac_us, US, 101), T0 + 10 * MS);
    expect_error(&tb, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, buf + ETH_HDR_LEN);
    tb_send(&tb, buf, udp_frame(buf, &mac_us, US, 102), T0 + 10 * MS);
    cr_assert_null(tb_next(&tb), "one token, two errors");
    cr_assert_eq(tb.node->icmp.stats.tx_rate_limited, 7);
    cr_assert_eq(tb.node->icmp.stats.tx_errors, 11);
    testbed_free(&tb);
}

/* ---- pings ---- */

Test(icmp, ping_reports_reply_with_round_trip_time)
{
    struct testbed tb;
    uint8_t pkt[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    const uint8_t *req = start_ping(&tb, PEER, 7, 56, T0 + 1 * MS, pkt);
    cr_assert_null(tb_next(&tb));
    send_reply(&tb, req, req + ICMP_HDR_LEN, 56, T0 + 1 * MS + 3500 * 1000);

    cr_assert_eq(tb.n_pings, 1);
    cr_assert_eq(tb.pings[0].status, ICMP_PING_REPLY);
    cr_assert_eq(tb.pings[0].peer, PEER);
    cr_assert_eq(tb.pings[0].ident, net_get16(req + ICMP_OFF_IDENT));
    cr_assert_eq(tb.pings[0].seq, 7);
    cr_assert_eq(tb.pings[0].len, 56);
    cr_assert_eq(tb.pings[0].ttl, 64);
    cr_assert_eq(tb.pings[0].rtt_ns, 3500 * 1000);
    cr_assert_null(tb_next(&tb), "answered an echo reply");

    /* The ping is finished: a duplicate reply matches nothing. */
    send_reply(&tb, req, req + ICMP_HDR_LEN, 56, T0 + 5 * MS);
    cr_assert_eq(tb.n_pings, 1);
    cr_assert_eq(tb.node->icmp.stats.rx_unmatched_replies, 1);
    testbed_free(&tb);
}

Test(icmp, ping_reports_corrupt_reply)
{
    struct testbed tb;
    uint8_t pkt[FAKE_LINK_FRAME_MAX], data[64];
    start(&tb);
    learn_peer(&tb, T0);
    const uint8_t *req = start_ping(&tb, PEER, 1, 56, T0 + 1 * MS, pkt);
    memcpy(data, req + ICMP_HDR_LEN, 56);
    data[10] ^= 0x01; /* with a checksum that matches the damage: a bad path, not a bad link */
    send_reply(&tb, req, data, 56, T0 + 2 * MS);
    cr_assert_eq(tb.n_pings, 1);
    cr_assert_eq(tb.pings[0].status, ICMP_PING_CORRUPT);
    cr_assert_eq(tb.pings[0].seq, 1);

    /* A reply that lost its tail is corrupt too. */
    req = start_ping(&tb, PEER, 2, 56, T0 + 3 * MS, pkt);
    send_reply(&tb, req, req + ICMP_HDR_LEN, 55, T0 + 4 * MS);
    cr_assert_eq(tb.n_pings, 2);
    cr_assert_eq(tb.pings[1].status, ICMP_PING_CORRUPT);
    cr_assert_eq(tb.pings[1].seq, 2);
    testbed_free(&tb);
}

Test(icmp, ping_times_out_after_two_seconds)
{
    struct testbed tb;
    uint8_t pkt[FAKE_LINK_FRAME_MAX];
    start(&tb);
    learn_peer(&tb, T0);
    uint64_t t1 = T0 + 1 * MS;
    const uint8_t *req = start_ping(&tb, PEER, 3, 56, t1, pkt);
    cr_assert_eq(node_next_deadline(tb.node), t1 + 2 * SEC);
    tb_advance(&tb, t1 + 2 * SEC - 1);
    cr_assert_eq(tb.n_pings, 0, "gave up early");
    tb_advance(&tb, t1 + 2 * SEC);
    cr_assert_eq(tb.n_pings, 1);
    cr_assert_eq(tb.pings[0].status, ICMP_PING_TIMEOUT);
    cr_assert_eq(tb.pings[0].seq, 3);
    cr_assert_eq(tb.pings[0].peer, PEER);
    cr_assert_eq(tb.node->icmp.stats.ping_timeouts, 1);
    cr_assert_null(tb_next(&tb));

    /* Too late to count. */
    send_reply(&tb, req, req + ICMP_HDR_LEN, 56, t1 + 3 * SEC);
    cr_assert_eq(tb.n_pings, 1);
    cr_assert_eq(tb.node->icmp.stats.rx_unmatched_replies, 1);
    testbed_free(&tb);
}

Test(icmp, ping_ends_on_destination_unreachable)
{
    struct testbed tb;
    uint8_t pkt[FAKE_LINK_FRAME_MAX], buf[FAKE_LINK_FRAME_MAX];
    uint8_t msg[ICMP_HDR_LEN + IPV4_HDR_LEN + ICMP_QUOTE_DATA];
    start(&tb);
    learn_peer(&tb, T0);
    /* The gateway cannot reach FAR and says so, quoting our request as RFC 792 asks. */
    start_ping(&tb, FAR, 4, 56, T0 + 1 * MS, pkt);
    size_t m = fr_icmp_msg(msg, ICMP_DEST_UNREACH, ICMP_UNREACH_HOST, 0, 0, pkt,
                           IPV4_HDR_LEN + ICMP_QUOTE_DATA);
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP};
    tb_send(&tb, buf, fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, msg, m), T0 + 40 * MS);

    cr_assert_eq(tb.n_pings, 1);
    cr_assert_eq(tb.pings[0].status, ICMP_PING_UNREACHABLE);
    cr_assert_eq(tb.pings[0].peer, FAR);
    cr_assert_eq(tb.pings[0].seq, 4);
    cr_assert_eq(tb.node->icmp.stats.rx_errors, 1);
    cr_assert_eq(tb.node->icmp.stats.rx_bad_errors, 0);
    cr_assert_null(tb_next(&tb), "answered an ICMP error");
    tb_advance(&tb, T0 + 10 * SEC);
    cr_assert_eq(tb.n_pings, 1, "the ping also timed out");
    testbed_free(&tb);
}

Test(icmp, counts_errors_not_about_our_packets)
{
    struct testbed tb;
    uint8_t pkt[FAKE_LINK_FRAME_MAX], buf[FAKE_LINK_FRAME_MAX];
    uint8_t quote[IPV4_HDR_LEN + ICMP_QUOTE_DATA], msg[ICMP_HDR_LEN + sizeof(quote)];
    start(&tb);
    learn_peer(&tb, T0);
    start_ping(&tb, FAR, 5, 56, T0 + 1 * MS, pkt);
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP};

    /* Our request as if another host had sent it: spoofed, or meant for someone else. */
    memcpy(quote, pkt, sizeof(quote));
    net_put32(quote + IPV4_OFF_SRC, OTHER);
    size_t m = fr_icmp_msg(msg, ICMP_DEST_UNREACH, ICMP_UNREACH_HOST, 0, 0, quote,
                           sizeof(quote));
    tb_send(&tb, buf, fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, msg, m), T0 + 2 * MS);
    cr_assert_eq(tb.node->icmp.stats.rx_bad_errors, 1);

    /* A quote too short to hold an IP header. */
    m = fr_icmp_msg(msg, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0, 0, pkt, 19);
    tb_send(&tb, buf, fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, msg, m), T0 + 3 * MS);
    cr_assert_eq(tb.node->icmp.stats.rx_bad_errors, 2);

    cr_assert_eq(tb.node->icmp.stats.rx_errors, 0);
    cr_assert_eq(tb.n_pings, 0, "a bogus error ended our ping");
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(icmp, ping_refuses_when_the_table_is_full)
{
    struct testbed tb;
    start(&tb);
    learn_peer(&tb, T0);
    for (uint16_t seq = 0; seq < NODE_PINGS; seq++) {
        cr_assert_eq(ping_at(&tb, PEER, seq, 8, T0 + 1 * MS), NET_OK, "ping %u", seq);
        cr_assert_not_null(tb_next(&tb));
    }
    cr_assert_eq(ping_at(&tb, PEER, NODE_PINGS, 8, T0 + 2 * MS), NET_ENOBUFS);
    cr_assert_null(tb_next(&tb), "sent a ping it cannot track");
    cr_assert_eq(tb.node->icmp.stats.tx_echo_requests, NODE_PINGS);

    /* Once they time out the table has room again. */
    tb_advance(&tb, T0 + 1 * MS + 2 * SEC);
    cr_assert_eq(tb.n_pings, NODE_PINGS);
    cr_assert_eq(ping_at(&tb, PEER, 99, 8, T0 + 3 * SEC), NET_OK);
    cr_assert_not_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(icmp, ping_refuses_payload_over_the_limit)
{
    struct testbed tb;
    start(&tb);
    learn_peer(&tb, T0);
    cr_assert_eq(ping_at(&tb, PEER, 1, ICMP_PING_MAX + 1, T0 + 1 * MS), NET_EMSGSIZE);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(ping_at(&tb, PEER, 2, ICMP_PING_MAX, T0 + 2 * MS), NET_OK);
    testbed_free(&tb);
}

Test(icmp, counts_unmatched_echo_reply)
{
    struct testbed tb;
    uint8_t pkt[FAKE_LINK_FRAME_MAX], buf[FAKE_LINK_FRAME_MAX], data[56] = {0};
    start(&tb);
    learn_peer(&tb, T0);
    const uint8_t *req = start_ping(&tb, PEER, 6, 56, T0 + 1 * MS, pkt);
    uint16_t ident = net_get16(req + ICMP_OFF_IDENT);
    /* Right identifier, wrong sequence; then somebody else's ping altogether. */
    tb_send(&tb, buf, fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REPLY, ident, 60,
                              data, sizeof(data)), T0 + 2 * MS);
    tb_send(&tb, buf, fr_echo(buf, &mac_us, &fr_mac_peer, PEER, US, ICMP_ECHO_REPLY,
                              (uint16_t)(ident + 1), 6, data, sizeof(data)), T0 + 3 * MS);
    cr_assert_eq(tb.node->icmp.stats.rx_echo_replies, 2);
    cr_assert_eq(tb.node->icmp.stats.rx_unmatched_replies, 2);
    cr_assert_eq(tb.n_pings, 0);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}
