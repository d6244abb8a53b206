/*
 * gso.h — a device's offload work done in software, as Linux does it for a frame that
 * came from a virtio-net guest through a tap: the checksum the stack left partial, and
 * the cutting of a TCP/IPv4 burst into MSS-sized segments (struct net_offload). The fake
 * link uses it to stand in for such a device, so host tests see the wire the host
 * would. Checksums are computed with the harness's own fr_csum, not lib/netstack's.
 */
#ifndef HARNESS_GSO_H
#define HARNESS_GSO_H

#include <stddef.h>
#include <stdint.h>

#include "netstack/net.h"

#define GSO_FRAME_MAX 65550 /* Ethernet header and the largest IPv4 packet */

typedef void (*gso_emit_fn)(void *ctx, const uint8_t *frame, size_t len);

/* Finish `frame` (`len` bytes, Ethernet first) as `off` asks and pass each resulting
 * frame to `emit`. Returns the number of frames, or -1 for a request no device could
 * carry out (offsets outside the frame, a burst that is not TCP/IPv4 or whose IPv4 or TCP
 * header is shorter than its minimum, a bad gso_size). */
int gso_finish(const uint8_t *frame, size_t len, const struct net_offload *off, gso_emit_fn emit,
               void *ctx);

#endif
