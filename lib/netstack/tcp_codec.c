/* tcp_codec.c — the TCP header and its options on the wire (RFC 9293 3.1). */
#include <string.h>

#include "netstack/checksum.h"
#include "netstack/ipv4_wire.h"
#include "tcp_internal.h"

/* Emitted option blocks, each a multiple of 4 bytes so no padding is ever needed. */
#define OPT_MSS_BYTES 4       /* MSS */
#define OPT_TS_BYTES 12       /* NOP NOP TS, or SACK_PERM TS */
#define OPT_WS_BYTES 4        /* NOP WS */
#define OPT_SACK_PERM_BYTES 4 /* NOP NOP SACK_PERM, when there is no TS to share with */
#define OPT_SACK_HDR_BYTES 4  /* NOP NOP SACK len */
#define OPT_SACK_BLOCK_BYTES 8

/* The pseudo-header's six 16-bit words, summed for csum_buf_seeded or add_pseudo. */
static uint32_t pseudo_words(net_ip4 src, net_ip4 dst, size_t len)
{
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + IPV4_PROTO_TCP +
           (uint16_t)len;
}

/* The IPv4 pseudo-header (RFC 9293 3.1): addresses, zero, protocol, TCP length. */
static void add_pseudo(struct csum *c, net_ip4 src, net_ip4 dst, size_t len)
{
    /* Six 16-bit words, summed at once: a fifth of a small segment's receive cost was
     * going to folding each of them separately. */
    csum_add_words(c, pseudo_words(src, dst, len));
}

uint16_t tcp_checksum(net_ip4 src, net_ip4 dst, const struct net_iov *iov, size_t n)
{
    struct csum c;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += iov[i].len;
    if (n == 1) /* a bare header: every ACK */
        return csum_buf_seeded(iov[0].base, len, pseudo_words(src, dst, len));
    csum_init(&c);
    add_pseudo(&c, src, dst, len);
    for (size_t i = 0; i < n; i++)
        csum_add(&c, iov[i].base, iov[i].len);
    return csum_finish(&c);
}

uint16_t tcp_pseudo_sum(net_ip4 src, net_ip4 dst, size_t len)
{
    struct csum c;
    csum_init(&c);
    add_pseudo(&c, src, dst, len);
    return (uint16_t)~csum_finish(&c);
}

/* A known option whose length is wrong is ignored rather than fatal, as Linux does; the
 * caller has already checked that `n` bytes are there. */
static void take_option(const uint8_t *p, size_t n, struct tcp_repr *r)
{
    switch (p[0]) {
    case TCP_OPT_MSS:
        if (n == TCP_OPT_MSS_LEN) {
            r->has_mss = true;
            r->mss = net_get16(p + 2);
        }
        break;
    case TCP_OPT_WS:
        if (n == TCP_OPT_WS_LEN) {
            r->has_ws = true;
            r->ws = p[2] > TCP_WS_MAX ? TCP_WS_MAX : p[2]; /* RFC 7323 2.3 */
        }
        break;
    case TCP_OPT_SACK_PERM:
        if (n == TCP_OPT_SACK_PERM_LEN)
            r->sack_perm = true;
        break;
    case TCP_OPT_TS:
        if (n == TCP_OPT_TS_LEN) {
            r->has_ts = true;
            r->ts_val = net_get32(p + 2);
            r->ts_ecr = net_get32(p + 6);
        }
        break;
    case TCP_OPT_SACK:
        if (n >= 2 + OPT_SACK_BLOCK_BYTES && (n - 2) % OPT_SACK_BLOCK_BYTES == 0) {
            size_t blocks = (n - 2) / OPT_SACK_BLOCK_BYTES;
            r->n_sack = (uint8_t)(blocks < TCP_SACK_BLOCKS_MAX ? blocks : TCP_SACK_BLOCKS_MAX);
            for (size_t i = 0; i < r->n_sack; i++) {
                r->sack[i].left = net_get32(p + 2 + 8 * i);
                r->sack[i].right = net_get32(p + 6 + 8 * i);
            }
        }
        break;
    default: break; /* unknown kinds are skipped by their length */
    }
}

/* Walk the options: EOL ends them, NOP is one byte, everything else is kind, length
 * (>= 2, within the header), value. False when the structure does not hold. */
static bool parse_options(const uint8_t *opt, size_t len, struct tcp_repr *r)
{
    size_t i = 0;
    while (i < len) {
        if (opt[i] == TCP_OPT_EOL)
            return true;
        if (opt[i] == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
            return false;
        take_option(opt + i, opt[i + 1], r);
        i += opt[i + 1];
    }
    return true;
}

/* RFC 7323 appendix A: most segments of a connection with timestamps carry exactly
 * NOP NOP TS and nothing else; those skip the option walk (header prediction's cheap
 * test, as BSD and Linux make it). */
static bool ts_only(const uint8_t *opt, size_t len)
{
    return len == 12 && opt[0] == TCP_OPT_NOP && opt[1] == TCP_OPT_NOP &&
           opt[2] == TCP_OPT_TS && opt[3] == TCP_OPT_TS_LEN;
}

/*
 * The repr is filled in place rather than cleared and copied whole: this runs for every
 * segment, and the SACK blocks alone are 32 bytes that n_sack says are unused. On an
 * error `r` holds nothing the caller may use.
 */
int tcp_parse(const uint8_t *buf, size_t len, net_ip4 src, net_ip4 dst, struct tcp_repr *r,
              enum tcp_defect *why)
{
    enum tcp_defect d = TCP_DEFECT_NONE;
    size_t hl = 0;

    r->has_mss = r->has_ws = r->sack_perm = r->has_ts = false;
    r->mss = 0;
    r->ws = 0;
    r->ts_val = r->ts_ecr = 0;
    r->n_sack = 0;
    if (len < TCP_HDR_LEN)
        d = TCP_DEFECT_TRUNCATED;
    else if ((hl = (size_t)(buf[TCP_OFF_DATA_OFF] >> 4) * 4) < TCP_HDR_LEN)
        d = TCP_DEFECT_DATA_OFF;
    else if (hl > len)
        d = TCP_DEFECT_TRUNCATED;
    else if (csum_buf_seeded(buf, len, pseudo_words(src, dst, len)) != 0)
        d = TCP_DEFECT_CHECKSUM; /* the sum over a segment carrying its checksum is 0 */
    else if (net_get16(buf + TCP_OFF_SRC) == 0 || net_get16(buf + TCP_OFF_DST) == 0)
        d = TCP_DEFECT_PORT;
    else if (ts_only(buf + TCP_HDR_LEN, hl - TCP_HDR_LEN))
        take_option(buf + TCP_HDR_LEN + 2, TCP_OPT_TS_LEN, r);
    else if (!parse_options(buf + TCP_HDR_LEN, hl - TCP_HDR_LEN, r))
        d = TCP_DEFECT_OPTIONS;
    if (why)
        *why = d;
    if (d == TCP_DEFECT_CHECKSUM)
        return NET_EINVAL;
    if (d != TCP_DEFECT_NONE)
        return NET_EMALFORMED;

    r->src_port = net_get16(buf + TCP_OFF_SRC);
    r->dst_port = net_get16(buf + TCP_OFF_DST);
    r->seq = net_get32(buf + TCP_OFF_SEQ);
    r->ack = net_get32(buf + TCP_OFF_ACK);
    r->flags = buf[TCP_OFF_FLAGS];
    r->window = net_get16(buf + TCP_OFF_WINDOW);
    r->urg = net_get16(buf + TCP_OFF_URG);
    r->hdr_len = (uint8_t)hl;
    r->payload = buf + hl;
    r->payload_len = len - hl;
    return NET_OK;
}

/* Option bytes other than SACK blocks, in the order below. */
static size_t fixed_options_len(const struct tcp_repr *r)
{
    size_t n = 0;
    if (r->has_mss)
        n += OPT_MSS_BYTES;
    if (r->has_ts)
        n += OPT_TS_BYTES;
    if (r->has_ws)
        n += OPT_WS_BYTES;
    if (r->sack_perm && !r->has_ts)
        n += OPT_SACK_PERM_BYTES;
    return n;
}

/* SACK blocks that fit in the 40 option bytes left after the others (RFC 2018 3: three
 * alongside timestamps, four without); the first ones are kept, the rest dropped. */
static size_t sack_blocks_fitting(const struct tcp_repr *r)
{
    size_t used = fixed_options_len(r);
    size_t n = r->n_sack < TCP_SACK_BLOCKS_MAX ? r->n_sack : TCP_SACK_BLOCKS_MAX;
    if (!n || used + OPT_SACK_HDR_BYTES + OPT_SACK_BLOCK_BYTES > TCP_OPT_MAX)
        return 0;
    size_t room = (TCP_OPT_MAX - used - OPT_SACK_HDR_BYTES) / OPT_SACK_BLOCK_BYTES;
    return n < room ? n : room;
}

size_t tcp_header_len(const struct tcp_repr *r)
{
    size_t blocks = sack_blocks_fitting(r);
    size_t n = TCP_HDR_LEN + fixed_options_len(r);
    if (blocks)
        n += OPT_SACK_HDR_BYTES + blocks * OPT_SACK_BLOCK_BYTES;
    return n;
}

/* Linux's layout (tcp_options_write): MSS; SACK_PERM sharing a word with TS, or NOP NOP
 * TS; NOP WS; NOP NOP SACK_PERM when it had no TS to share with; NOP NOP SACK blocks.
 * Matching it keeps our SYNs looking like everyone else's to middleboxes. */
static uint8_t *put_options(const struct tcp_repr *r, uint8_t *p)
{
    size_t blocks = sack_blocks_fitting(r);
    if (r->has_mss) {
        *p++ = TCP_OPT_MSS;
        *p++ = TCP_OPT_MSS_LEN;
        net_put16(p, r->mss);
        p += 2;
    }
    if (r->has_ts) {
        *p++ = r->sack_perm ? TCP_OPT_SACK_PERM : TCP_OPT_NOP;
        *p++ = r->sack_perm ? TCP_OPT_SACK_PERM_LEN : TCP_OPT_NOP;
        *p++ = TCP_OPT_TS;
        *p++ = TCP_OPT_TS_LEN;
        net_put32(p, r->ts_val);
        net_put32(p + 4, r->ts_ecr);
        p += 8;
    }
    if (r->has_ws) {
        *p++ = TCP_OPT_NOP;
        *p++ = TCP_OPT_WS;
        *p++ = TCP_OPT_WS_LEN;
        *p++ = r->ws;
    }
    if (r->sack_perm && !r->has_ts) {
        *p++ = TCP_OPT_NOP;
        *p++ = TCP_OPT_NOP;
        *p++ = TCP_OPT_SACK_PERM;
        *p++ = TCP_OPT_SACK_PERM_LEN;
    }
    if (blocks) {
        *p++ = TCP_OPT_NOP;
        *p++ = TCP_OPT_NOP;
        *p++ = TCP_OPT_SACK;
        *p++ = (uint8_t)(2 + blocks * OPT_SACK_BLOCK_BYTES);
        for (size_t i = 0; i < blocks; i++, p += OPT_SACK_BLOCK_BYTES) {
            net_put32(p, r->sack[i].left);
            net_put32(p + 4, r->sack[i].right);
        }
    }
    return p;
}

int tcp_emit(const struct tcp_repr *r, uint8_t *buf, size_t cap)
{
    size_t hl = tcp_header_len(r);
    if (cap < hl)
        return NET_EMSGSIZE;
    net_put16(buf + TCP_OFF_SRC, r->src_port);
    net_put16(buf + TCP_OFF_DST, r->dst_port);
    net_put32(buf + TCP_OFF_SEQ, r->seq);
    net_put32(buf + TCP_OFF_ACK, r->ack);
    buf[TCP_OFF_DATA_OFF] = (uint8_t)((hl / 4) << 4);
    buf[TCP_OFF_FLAGS] = r->flags;
    net_put16(buf + TCP_OFF_WINDOW, r->window);
    net_put16(buf + TCP_OFF_CSUM, 0);
    net_put16(buf + TCP_OFF_URG, r->urg);
    put_options(r, buf + TCP_HDR_LEN);
    return (int)hl;
}
