/* tcp_isn.c — RFC 6528 initial sequence numbers and SYN cookies, keyed by tcp->secret. */
#include "netstack/siphash.h"
#include "tcp_internal.h"

#define ISN_TICK_NS 4000ull /* RFC 6528 3: M is a 4 microsecond timer */
#define COOKIE_SLOT_NS (64 * NET_NS_PER_SEC)
#define COOKIE_MSS_BITS 3
#define COOKIE_MSS_MASK ((1u << COOKIE_MSS_BITS) - 1)
#define COOKIE_TS_BITS 5 /* of our TSval: SACK-permitted, then 4 bits of shift */
#define COOKIE_TS_MASK ((1u << COOKIE_TS_BITS) - 1)
#define COOKIE_TS_SACK 0x10
#define COOKIE_TS_NO_WS 0xf

/* What a cookie can remember of the peer's MSS: common path MTUs less 40, ascending.
 * 1460 is Ethernet, 1440/1400/1360 tunnels and PPPoE, 536 the RFC default, 8960 jumbo. */
static const uint16_t cookie_mss[1u << COOKIE_MSS_BITS] = {216,  536,  1200, 1360,
                                                           1400, 1440, 1460, 8960};

/* The hash input: the 4-tuple in wire order, then what the caller adds. */
#define TUPLE_LEN 12
#define COOKIE_LEN (TUPLE_LEN + 4 + 8 + 1)

static void put_tuple(uint8_t *p, net_ip4 lip, uint16_t lport, net_ip4 rip, uint16_t rport)
{
    net_put32(p, lip);
    net_put32(p + 4, rip);
    net_put16(p + 8, lport);
    net_put16(p + 10, rport);
}

uint32_t tcp_isn(const struct tcp *tcp, net_ip4 lip, uint16_t lport, net_ip4 rip, uint16_t rport,
                 uint64_t now)
{
    uint8_t in[TUPLE_LEN];
    put_tuple(in, lip, lport, rip, rport);
    return (uint32_t)(now / ISN_TICK_NS) + (uint32_t)siphash24(tcp->secret, in, sizeof(in));
}

/* The MSS index is hashed too, so flipping the low bits of a cookie cannot choose
 * another MSS: all 32 bits are checked. */
static uint32_t cookie_hash(const struct tcp *tcp, net_ip4 lip, uint16_t lport, net_ip4 rip,
                            uint16_t rport, uint32_t peer_isn, uint64_t slot, uint8_t idx)
{
    uint8_t in[COOKIE_LEN];
    put_tuple(in, lip, lport, rip, rport);
    net_put32(in + TUPLE_LEN, peer_isn);
    net_put32(in + TUPLE_LEN + 4, (uint32_t)(slot >> 32));
    net_put32(in + TUPLE_LEN + 8, (uint32_t)slot);
    in[TUPLE_LEN + 12] = idx;
    return (uint32_t)siphash24(tcp->secret, in, sizeof(in)) & ~COOKIE_MSS_MASK;
}

/* The largest table value not above `mss`; the smallest when even that is too big. */
static uint8_t mss_index(uint16_t mss)
{
    uint8_t i = (uint8_t)(sizeof(cookie_mss) / sizeof(cookie_mss[0]) - 1);
    while (i > 0 && cookie_mss[i] > mss)
        i--;
    return i;
}

uint32_t tcp_cookie_isn(const struct tcp *tcp, net_ip4 lip, uint16_t lport, net_ip4 rip,
                        uint16_t rport, uint32_t peer_isn, uint16_t mss, uint64_t now)
{
    uint8_t idx = mss_index(mss);
    uint64_t slot = now / COOKIE_SLOT_NS;
    return cookie_hash(tcp, lip, lport, rip, rport, peer_isn, slot, idx) | idx;
}

/* A cookie made in this slot or the one before it is good: it lives 64 to 128 s. */
uint16_t tcp_cookie_check(const struct tcp *tcp, net_ip4 lip, uint16_t lport, net_ip4 rip,
                          uint16_t rport, uint32_t peer_isn, uint32_t isn, uint64_t now)
{
    uint8_t idx = (uint8_t)(isn & COOKIE_MSS_MASK);
    uint64_t slot = now / COOKIE_SLOT_NS;
    for (uint64_t age = 0; age < 2 && age <= slot; age++)
        if (cookie_hash(tcp, lip, lport, rip, rport, peer_isn, slot - age, idx) ==
            (isn & ~COOKIE_MSS_MASK))
            return cookie_mss[idx];
    return 0;
}

uint32_t tcp_cookie_tsval(uint32_t tsval, const struct tcp_syn_opts *o)
{
    uint8_t ws = o->ws > TCP_WS_MAX ? TCP_WS_MAX : o->ws;
    uint32_t bits = (o->sack ? COOKIE_TS_SACK : 0) | (o->ws_ok ? ws : COOKIE_TS_NO_WS);
    uint32_t ts = (tsval & ~COOKIE_TS_MASK) | bits;
    /* Never ahead of the clock, as Linux: later TSvals must not look older to PAWS. */
    if (seq_gt(ts, tsval))
        ts -= 1u << COOKIE_TS_BITS;
    return ts;
}

void tcp_cookie_ts_decode(uint32_t tsecr, struct tcp_syn_opts *o)
{
    uint32_t ws = tsecr & COOKIE_TS_NO_WS;
    o->sack = (tsecr & COOKIE_TS_SACK) != 0;
    o->ws_ok = ws != COOKIE_TS_NO_WS;
    o->ws = o->ws_ok ? (uint8_t)ws : 0;
}
