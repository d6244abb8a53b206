/*
 * dissect.h — turn a frame into the flat list of named fields a diff can walk.
 *
 * Names follow Wireshark's display filters (eth.dst, ip.ttl, icmp.seq, tcp.seq ...) so a
 * report reads like the packet pane. Every byte of a frame lands in some field — trailing
 * bytes as eth.padding, unparsed ones as data.data — so a change to any bit of a frame
 * changes at least one field. Checksums appear as their status (correct or not): their
 * value follows from the fields before them, and reporting the field that actually changed
 * is more useful. TCP sequence and acknowledgement numbers are relative to the first
 * sequence number seen in each direction of a connection (tracked in struct dissect_ctx),
 * so a new ISN is not a difference.
 */
#ifndef HARNESS_DISSECT_H
#define HARNESS_DISSECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum field_kind { F_UINT, F_HEX, F_MAC, F_IP4, F_BYTES, F_CSUM };

struct field {
    const char *name; /* Wireshark display-filter name */
    enum field_kind kind;
    uint64_t num;     /* F_UINT, F_HEX, F_IP4; F_CSUM: 1 correct, 0 incorrect */
    uint32_t aux;     /* F_CSUM: the value in the frame */
    uint32_t width;   /* F_HEX digits */
    const uint8_t *bytes; /* F_MAC, F_BYTES: points into the dissected frame */
    size_t len;
};

#define DISSECT_MAX_FIELDS 64
#define DISSECT_MAX_FLOWS 64

struct dissection {
    struct field f[DISSECT_MAX_FIELDS];
    size_t n;
    char summary[160];
};

struct dissect_flow {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t isn;
};

/* Per-stream state: one context per side of a comparison. */
struct dissect_ctx {
    struct dissect_flow flows[DISSECT_MAX_FLOWS];
    size_t n_flows;
};

void dissect(struct dissect_ctx *ctx, const uint8_t *frame, size_t len, struct dissection *out);
bool field_equal(const struct field *a, const struct field *b);
/* "Ethernet", "ARP", "IPv4", "ICMP", "TCP", "UDP" or "Data", from the field's name. */
const char *field_layer(const struct field *f);
/* Human form of a value, e.g. "64", "0x1c46", "10.0.0.2", "correct (0xb1e6)". */
const char *field_format(const struct field *f, char *buf, size_t len);

#endif
