/*
 * net.h — the vocabulary every netstack layer shares.
 *
 * Error codes, addresses, the transmit contract between a layer and the one below,
 * and big-endian accessors for reading and writing wire fields at named offsets.
 * Nothing here holds state. Time, wherever a layer takes it, is `now` in
 * nanoseconds of a monotonic clock that the caller owns.
 */
#ifndef NETSTACK_NET_H
#define NETSTACK_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum net_err {
    NET_OK = 0,
    NET_EAGAIN = -1,     /* not now: waiting on resolution or a free buffer */
    NET_EINVAL = -2,     /* caller passed something nonsensical */
    NET_ENOBUFS = -3,    /* the device or a bounded queue is full */
    NET_EMALFORMED = -4, /* input failed validation */
    NET_EUNREACH = -5,   /* no route to the destination */
    NET_EMSGSIZE = -6,   /* larger than the layer can carry */
};

#define NET_MAC_LEN 6
#define NET_NS_PER_MS 1000000ull
#define NET_NS_PER_SEC 1000000000ull

struct net_mac {
    uint8_t b[NET_MAC_LEN];
};

/* IPv4 addresses are host-order integers inside the stack: 10.0.2.15 == 0x0a00020f. */
typedef uint32_t net_ip4;
#define NET_IP4(a, b, c, d)                                                                    \
    ((net_ip4)(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d)))
#define NET_IP4_BROADCAST ((net_ip4)0xffffffffu)

/* A scatter element: output paths take the payload as a short list of these. */
struct net_iov {
    const void *base;
    size_t len;
};

/*
 * Work a frame leaves to the device (virtio-net's checksum offload and TSO, 5.1.6.2):
 * - csum_offset != 0: the one's-complement checksum of the bytes from csum_start to the
 *   end goes into the 16-bit field at csum_start + csum_offset, which the sender has
 *   primed with the pseudo-header sum;
 * - gso_size != 0: the packet is a TCP/IPv4 segment larger than the MTU, to be cut into
 *   segments of gso_size payload bytes, each behind a copy of the first hdr_len bytes
 *   (Ethernet, IPv4 and TCP headers) with lengths, IP ids, sequence numbers, flags and
 *   checksums adjusted, as Linux's GSO does.
 * Offsets count from the start of the buffer a layer hands down, so each layer that puts
 * a header in front adds its length. A device is asked only for what its struct
 * net_dev_caps offered.
 */
struct net_offload {
    uint16_t csum_start, csum_offset;
    uint16_t hdr_len, gso_size;
};

/* What a device can finish for the stack; all zero: nothing, every frame leaves whole. */
struct net_dev_caps {
    bool tx_csum;     /* net_offload's checksum */
    uint32_t tso_max; /* with tx_csum: largest frame it segments; 0: no TSO */
};

/*
 * Transmit contract with the device (implemented by the virtio driver, the fake link
 * and the tap runner). `reserve` returns a buffer of at least `len` bytes or NULL when
 * the device has none free. A reservation stays with the device until `commit` hands
 * the first `len` bytes to the wire, with the offload work `off` asks for (NULL: the
 * frame is complete); a reservation that is never committed is simply handed out again
 * by the next `reserve`, so nothing is ever released on an error path.
 */
struct net_dev_ops {
    uint8_t *(*reserve)(void *ctx, size_t len);
    void (*commit)(void *ctx, uint8_t *frame, size_t len, const struct net_offload *off);
};

static inline uint16_t net_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t net_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void net_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void net_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A MAC's six bytes as one integer, for comparisons: the loads are unaligned copies,
 * which compile to two moves (these run several times for every frame received). */
static inline uint64_t net_mac_bits(const uint8_t *p)
{
    uint32_t lo;
    uint16_t hi;
    __builtin_memcpy(&lo, p, 4);
    __builtin_memcpy(&hi, p + 4, 2);
    return lo | (uint64_t)hi << 32;
}

#define NET_MAC_BITS_BROADCAST 0xffffffffffffull

static inline bool net_mac_eq(const struct net_mac *a, const struct net_mac *b)
{
    return net_mac_bits(a->b) == net_mac_bits(b->b);
}

static inline bool net_mac_is_broadcast(const struct net_mac *m)
{
    return net_mac_bits(m->b) == NET_MAC_BITS_BROADCAST;
}

/* The I/G bit: group (multicast or broadcast) addresses have the low bit of byte 0 set. */
static inline bool net_mac_is_group(const struct net_mac *m)
{
    return (m->b[0] & 1) != 0;
}

static inline bool net_mac_is_zero(const struct net_mac *m)
{
    return net_mac_bits(m->b) == 0;
}

static inline bool net_ip4_is_multicast(net_ip4 a)
{
    return (a >> 28) == 0xe;
}

/* A small seeded PRNG (splitmix64): layers that need random bits own one of these. */
struct net_rng {
    uint64_t state;
};

static inline uint64_t net_rng_next(struct net_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
