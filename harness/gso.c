#include "gso.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"

#define ETH_LEN 14

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* The TCP checksum of the segment at `ip` (its IPv4 header, then TCP), from scratch. */
static void tcp_sum(uint8_t *ip, size_t ip_len)
{
    size_t ihl = (size_t)(ip[0] & 15) * 4, tl = ip_len - ihl;
    uint8_t *tcp = ip + ihl;
    uint8_t *buf = malloc(12 + tl);
    if (!buf)
        abort();
    memcpy(buf, ip + 12, 8);
    buf[8] = 0;
    buf[9] = ip[9];
    put16(buf + 10, (uint16_t)tl);
    put16(tcp + 16, 0);
    memcpy(buf + 12, tcp, tl);
    put16(tcp + 16, fr_csum(buf, 12 + tl));
    free(buf);
}

static int checksum_only(const uint8_t *frame, size_t len, const struct net_offload *off,
                         gso_emit_fn emit, void *ctx)
{
    size_t at = (size_t)off->csum_start + off->csum_offset;
    if (off->csum_offset && (off->csum_start >= len || at + 2 > len))
        return -1;
    uint8_t *f = malloc(len);
    if (!f)
        abort();
    memcpy(f, frame, len);
    if (off->csum_offset) { /* the field holds the pseudo-header sum: sum over it all */
        uint16_t pseudo = get16(f + at);
        put16(f + at, 0);
        uint32_t s = (uint16_t)~fr_csum(f + off->csum_start, len - off->csum_start);
        s += pseudo;
        s = (s & 0xffff) + (s >> 16);
        put16(f + at, (uint16_t)~s);
    }
    emit(ctx, f, len);
    free(f);
    return 1;
}

int gso_finish(const uint8_t *frame, size_t len, const struct net_offload *off, gso_emit_fn emit,
               void *ctx)
{
    if (!off->gso_size)
        return checksum_only(frame, len, off, emit, ctx);
    const uint8_t *ip = frame + ETH_LEN;
    size_t hl = off->hdr_len;
    /* Both headers at least their minimum (IHL and data offset >= 5, as Linux checks),
     * so the TCP fields rewritten below lie inside the headers copied to each segment;
     * csum_start + 20 <= hl < len before the data offset is read. */
    if (len > GSO_FRAME_MAX || len <= hl || hl < ETH_LEN + 40 || get16(frame + 12) != 0x0800 ||
        (ip[0] >> 4) != 4 || (ip[0] & 15) < 5 || ip[9] != 6 ||
        off->csum_start != ETH_LEN + (ip[0] & 15) * 4u || off->csum_offset != 16 ||
        off->csum_start + 20u > hl ||
        hl != off->csum_start + (size_t)(frame[off->csum_start + 12] >> 4) * 4u)
        return -1;
    const uint8_t *tcp = frame + off->csum_start;
    uint32_t seq = get32(tcp + 4);
    uint16_t id = get16(ip + 4);
    uint8_t flags = tcp[13];
    size_t payload = len - hl, n = 0;
    uint8_t *f = malloc(hl + off->gso_size);
    if (!f)
        abort();
    for (size_t at = 0; at < payload; at += off->gso_size, n++) {
        size_t seg = payload - at < off->gso_size ? payload - at : off->gso_size;
        bool last = at + seg == payload;
        memcpy(f, frame, hl);
        memcpy(f + hl, frame + hl + at, seg);
        uint8_t *fip = f + ETH_LEN, *ftcp = f + off->csum_start;
        put16(fip + 2, (uint16_t)(hl - ETH_LEN + seg));
        put16(fip + 4, (uint16_t)(id + n));
        put16(fip + 10, 0);
        put16(fip + 10, fr_csum(fip, (size_t)(fip[0] & 15) * 4));
        put32(ftcp + 4, seq + (uint32_t)at);
        /* FIN and PSH belong to the last segment, CWR to the first (as Linux's GSO). */
        ftcp[13] = (uint8_t)(flags & ~(last ? 0 : 0x09) & ~(n ? 0x80 : 0));
        tcp_sum(fip, hl - ETH_LEN + seg);
        emit(ctx, f, hl + seg);
    }
    free(f);
    return (int)n;
}
