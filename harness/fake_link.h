/*
 * fake_link.h — an in-memory device for host tests and replay.
 *
 * Implements net_dev_ops: one reservation buffer (re-issued until committed, exactly as
 * the contract in netstack/net.h says) and a growing log of committed frames, each
 * stamped with the fake clock's time. `full` makes reserve fail, to test back-pressure.
 * With `caps` set it stands in for a device with offloads: it finishes the checksums
 * and cuts the TSO bursts the stack leaves to it (gso.c), and logs the result as
 * separate frames, as a host would see them; it aborts on a request `caps` did not offer.
 */
#ifndef HARNESS_FAKE_LINK_H
#define HARNESS_FAKE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gso.h"
#include "netstack/net.h"

#define FAKE_LINK_FRAME_MAX 2048

struct fake_frame {
    uint64_t ts;
    size_t len;
    uint8_t data[FAKE_LINK_FRAME_MAX];
};

struct fake_link {
    const uint64_t *clock; /* time stamped on each committed frame */
    bool full;             /* reserve returns NULL while set */
    struct net_dev_caps caps; /* offloads it offers; zero: none */
    size_t bursts;            /* TSO bursts it cut */
    uint8_t slot[GSO_FRAME_MAX];
    struct fake_frame *frames;
    size_t n, cap;
    size_t taken; /* frames already consumed by fake_link_next */
};

extern const struct net_dev_ops fake_link_ops;

void fake_link_init(struct fake_link *l, const uint64_t *clock);
void fake_link_free(struct fake_link *l);
/* The oldest committed frame not yet taken, or NULL. */
const struct fake_frame *fake_link_next(struct fake_link *l);
/* How many committed frames have not been taken yet. */
size_t fake_link_pending(const struct fake_link *l);
void fake_link_clear(struct fake_link *l);

#endif
