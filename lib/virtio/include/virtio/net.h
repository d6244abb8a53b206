/*
 * net.h — the virtio-net driver (virtio 1.x section 5.1) over lib/virtio's transport and
 * virtqueues. It is the device under the netstack: it implements struct net_dev_ops.
 *
 * Memory: the caller hands over one block of DMA-able memory (vnet_mem_bytes()); the
 * driver lays out both rings (the legacy contiguous layout, which modern devices accept
 * too) and a buffer per descriptor in it. Nothing else is allocated.
 *
 * Receive: every RX buffer is posted at init; vnet_poll() hands completed frames to
 * ops->rx (borrowed for the call) and re-posts each buffer at once, so the ring never
 * runs dry. Transmit: reserve() takes a buffer from a free list (reclaiming completed
 * ones lazily, only when it runs out), commit() queues it and notifies the device unless
 * EVENT_IDX says it is already looking; many frames are in flight and nothing waits for
 * the device. A full ring is back-pressure: reserve() returns NULL, the netstack counts it
 * and queues the sender until the device hands buffers back (vnet_enable_tx_interrupts).
 * A TX device that missed a notification (virtq_device_stalled) is told again when the
 * ring is full and before the caller sleeps (vnet_enable_rx_interrupts).
 *
 * Offloads (5.1.6.2): when the device offers CSUM and HOST_TSO4 (QEMU does over a tap
 * with a vnet header, not over user networking) and the caller gives memory for TSO
 * buffers, vnet_caps() tells the stack it may leave TCP checksums to the device and hand
 * it bursts of up to 64 KiB, which commit() describes in the frame's virtio-net header.
 * A TSO burst takes one of the large buffers beside its descriptor's small one.
 *
 * Interrupts (NAPI-like): vnet_irq() acknowledges; the caller disables RX interrupts and
 * polls while frames keep coming, then vnet_enable_rx_interrupts(), which returns false
 * when frames raced in so the caller polls again instead of sleeping on them.
 */
#ifndef VIRTIO_NET_H
#define VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/net.h"
#include "virtio/mmio.h"
#include "virtio/virtq.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_NET_F_CSUM (1ull << 0)       /* the device finishes partial checksums */
#define VIRTIO_NET_F_HOST_TSO4 (1ull << 11) /* the device segments TCP/IPv4 bursts */
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define VIRTIO_NET_S_LINK_UP 1
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6

#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_QUEUE_MAX 256
#define VNET_BUF_SIZE 2048 /* header + 1514-byte frame, rounded to keep buffers aligned */
#define VNET_TSO_BUF_SIZE 65536 /* header + the largest burst a TSO buffer holds */
#define VNET_TSO_BUFS_MAX 32
/* The header: 10 bytes for legacy devices; 12 with VERSION_1 (num_buffers is always
 * there in 1.0). On send it describes the offloads asked for; receive ignores it (no
 * GUEST_CSUM: the host checksums what it gives us). Fields are little-endian. */
#define VNET_HDR_LEGACY 10
#define VNET_HDR_MODERN 12
#define VNET_HDR_F_NEEDS_CSUM 1
#define VNET_HDR_GSO_TCPV4 1

struct vnet_cfg {
    void *mem;           /* DMA-able, 4096-aligned, vnet_mem_bytes(queue_size, tso_bufs) */
    size_t mem_len;
    uint16_t queue_size; /* per queue, power of two <= VNET_QUEUE_MAX; clamped to the device */
    uint16_t tso_bufs;   /* TSO buffers (<= VNET_TSO_BUFS_MAX); 0: ask for no offloads */
};

struct vnet_ops {
    uint64_t (*phys)(void *ctx, const void *p);
    void (*rx)(void *ctx, const uint8_t *frame, size_t len);
};

struct vnet_stats {
    uint64_t rx_frames;
    uint64_t rx_runts; /* completions too short to hold a header and an Ethernet header */
    uint64_t tx_frames;
    uint64_t tx_full;  /* reserve found no free buffer */
    uint64_t tx_kicks; /* notifications sent (the rest were suppressed by EVENT_IDX) */
    uint64_t irqs;
    uint64_t link_changes;
    uint64_t resets; /* recoveries from DEVICE_NEEDS_RESET (or vnet_reset calls) */
    uint64_t tx_offloaded; /* frames whose checksum the device finishes */
    uint64_t tx_bursts;    /* of them, TSO bursts it segments */
    uint64_t tx_bad_offload; /* offloads asked of a device that did not offer them: dropped */
};

struct vnet {
    struct virtio_mmio *t;
    const struct vnet_ops *ops;
    void *ctx;
    struct virtq rx, tx;
    uint8_t *rx_buf, *tx_buf;
    uint16_t qsize;
    uint16_t hdr_len;
    uint16_t n_tx_free;
    int reserved; /* TX buffer handed out by reserve and not yet committed, or -1 */
    uint8_t *tso_buf;
    uint16_t n_tso, n_tso_free;
    int reserved_tso; /* TSO buffer reserved beside `reserved`, or -1 */
    struct net_mac mac;
    bool link_up;
    struct vnet_cfg cfg; /* kept for vnet_reset */
    struct vnet_stats stats;
    /* The tables last: vnet_init clears the fields above only. The queues set their slots
     * up themselves, and the free stacks are read only below their counts (~9 KiB that
     * PVM, emulating each iteration of rep stos, took a millisecond to clear). */
    struct virtq_slot rx_slots[VNET_QUEUE_MAX], tx_slots[VNET_QUEUE_MAX];
    uint16_t tx_free[VNET_QUEUE_MAX];
    uint8_t tso_free[VNET_TSO_BUFS_MAX];
};

/* Bytes of DMA memory for queues of `queue_size` and `tso_bufs` TSO buffers. */
size_t vnet_mem_bytes(uint16_t queue_size, uint16_t tso_bufs);
/* What the negotiated device finishes for the stack (node_cfg.dev_caps). */
struct net_dev_caps vnet_caps(const struct vnet *n);
/* Bring up a probed virtio-mmio net device: negotiate, set up both queues, post every RX
 * buffer, DRIVER_OK. Returns VIRTIO_OK or a negative virtio_mmio_err. */
int vnet_init(struct vnet *n, struct virtio_mmio *t, const struct vnet_cfg *cfg,
              const struct vnet_ops *ops, void *ctx);
/* Deliver up to `budget` received frames; returns how many. Also reclaims TX. */
size_t vnet_poll(struct vnet *n, size_t budget);
/* Acknowledge the device's interrupt; returns its cause (VIRTIO_INT_*). A device that
 * reports DEVICE_NEEDS_RESET is reset and brought up again here (vnet_reset). */
uint32_t vnet_irq(struct vnet *n);
/* Reset the device and bring it up again on the same memory: frames in flight are lost
 * (the device dropped them when it broke), every buffer returns, counters are kept. */
int vnet_reset(struct vnet *n);
void vnet_disable_rx_interrupts(struct vnet *n);
bool vnet_enable_rx_interrupts(struct vnet *n);
/* Sent frames are reaped lazily and cost no interrupt, except while the stack waits for a
 * transmit buffer: then the caller asks for one before it sleeps (false: buffers came back
 * already, poll instead) and turns it off again after. */
bool vnet_enable_tx_interrupts(struct vnet *n);
void vnet_disable_tx_interrupts(struct vnet *n);

/* The netstack's device contract; ctx is the struct vnet. */
extern const struct net_dev_ops vnet_dev_ops;

#endif
