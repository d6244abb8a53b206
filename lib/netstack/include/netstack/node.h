/*
 * node.h — one network interface's whole stack: eth → arp / ipv4 → icmp.
 *
 * The node owns the layer structs and their fixed storage (sizes below are the stack's
 * compile-time limits) and wires each layer's ops to its neighbours in node_init, so
 * the kernel, the replay tool, the tap runner and the tests all run one data path.
 * Frames come in through node_input (borrowed for the call); frames go out through the
 * device ops given at init. node_poll runs every timer; node_next_deadline says when it
 * next needs to run, so a caller can sleep until then. Time is nanoseconds.
 */
#ifndef NETSTACK_NODE_H
#define NETSTACK_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/arp.h"
#include "netstack/eth.h"
#include "netstack/icmp.h"
#include "netstack/ipv4.h"
#include "netstack/net.h"
#include "netstack/tcp.h"

#define NODE_ARP_ENTRIES 64
#define NODE_ARP_PENDING 16
#define NODE_FRAG_SLOTS 4
#define NODE_FRAG_SIZE (IPV4_MAX_LEN - IPV4_HDR_LEN) /* any datagram IPv4 can carry */
#define NODE_PINGS 16
#define NODE_MTU_MAX 1500
#define NODE_TCP_LISTENERS 8

struct node_cfg {
    struct net_mac mac;
    net_ip4 addr;
    uint8_t prefix_len;
    net_ip4 gateway; /* 0: none */
    uint16_t mtu;    /* 0: 1500 */
    uint64_t seed;   /* all of the stack's randomness derives from this */
    struct net_dev_caps dev_caps; /* what the device finishes for TCP; zero: nothing */
    /* TCP: n connections with rings of the given sizes in TCP_MEM(n, rx, tx) bytes. */
    void *tcp_mem;
    size_t tcp_mem_len;
    uint32_t tcp_conns, tcp_rx_size, tcp_tx_size;
    const struct tcp_cfg *tcp_tune; /* optional: timer and retry tunables */
};

struct node_ops {
    const struct net_dev_ops *dev;
    void *dev_ctx;
    void (*ping_result)(void *ctx, const struct icmp_ping_result *r); /* optional */
    void (*tcp_event)(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user);
};

struct node {
    struct eth eth;
    struct arp arp;
    struct ipv4 ip;
    struct icmp icmp;
    struct tcp tcp;

    const struct node_ops *ops;
    void *ctx;
    struct eth_ops eth_ops;
    struct arp_ops arp_ops;
    struct ipv4_ops ip_ops;
    struct icmp_ops icmp_ops;
    struct tcp_ops tcp_ops;

    struct arp_entry arp_entries[NODE_ARP_ENTRIES];
    struct arp_pending arp_pending[NODE_ARP_PENDING];
    struct ipv4_frag_slot frag_slots[NODE_FRAG_SLOTS];
    struct icmp_ping pings[NODE_PINGS];
    struct tcp_listener listeners[NODE_TCP_LISTENERS];

    /* Storage last: node_init leaves it as it finds it (each byte is written before it
     * is read), which spares zeroing 280 KiB at boot. */
    uint8_t arp_queue[NODE_ARP_PENDING * NODE_MTU_MAX];
    uint8_t frag_mem[IPV4_FRAG_MEM(NODE_FRAG_SLOTS, NODE_FRAG_SIZE)];
};

int node_init(struct node *n, const struct node_cfg *cfg, const struct node_ops *ops, void *ctx,
              uint64_t now);
/* Bring the interface up: announce our address (gratuitous ARP). */
void node_start(struct node *n, uint64_t now);
void node_input(struct node *n, const uint8_t *frame, size_t len, uint64_t now);
void node_poll(struct node *n, uint64_t now);
uint64_t node_next_deadline(const struct node *n);
/* Whether a connection waits for the device to take a frame: its owner must then poll
 * again as soon as the device hands a transmit buffer back. */
bool node_tx_blocked(const struct node *n);
/* Ping `dst` with `len` payload bytes; the result arrives at ops->ping_result. */
int node_ping(struct node *n, net_ip4 dst, uint16_t seq, size_t len, uint64_t now);

#endif
