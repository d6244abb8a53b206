/*
 * eth.h — Ethernet II framing.
 *
 * Consumes whole frames from the device (without FCS, borrowed for the duration of
 * eth_input) and hands the payload of frames addressed to us — our MAC or broadcast —
 * to ops->deliver. Everything else is dropped and counted: runts, frames over the MTU,
 * other unicast and multicast destinations, impossible source addresses, VLAN tags,
 * 802.3/LLC frames and EtherTypes nobody above registered for.
 *
 * Output is reserve-then-commit straight into the device's buffer: eth_reserve()
 * returns where the payload goes (ETH_HDR_LEN bytes of headroom already set aside),
 * the caller fills it, and eth_send() writes the header, pads to the minimum frame
 * and commits. A reservation not sent is reused by the next one (see net.h).
 */
#ifndef NETSTACK_ETH_H
#define NETSTACK_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/eth_wire.h"
#include "netstack/net.h"

struct eth_repr {
    struct net_mac dst;
    struct net_mac src;
    uint16_t type;
};

/* Codec. parse fills repr and returns the header length, or NET_EMALFORMED. */
int eth_parse(const uint8_t *frame, size_t len, struct eth_repr *repr);
/* Writes ETH_HDR_LEN bytes; returns NET_EMSGSIZE if cap is too small. */
int eth_emit(const struct eth_repr *repr, uint8_t *buf, size_t cap);

struct eth_stats {
    uint64_t rx_frames;    /* accepted and delivered */
    uint64_t rx_runt;      /* shorter than a header */
    uint64_t rx_oversize;  /* longer than MTU + header */
    uint64_t rx_not_for_us; /* unicast to another MAC */
    uint64_t rx_multicast; /* group address other than broadcast: we join no groups */
    uint64_t rx_bad_src;   /* multicast or our own MAC as source */
    uint64_t rx_vlan;      /* 802.1Q / 802.1ad tagged */
    uint64_t rx_llc;       /* 802.3 length field instead of an EtherType */
    uint64_t rx_unknown_type;
    uint64_t tx_frames;
    uint64_t tx_no_buffer; /* device had no free buffer */
};

struct eth_cfg {
    struct net_mac mac;
    uint16_t mtu; /* largest payload; 0 means ETH_DEFAULT_MTU */
    struct net_dev_caps caps; /* what the device finishes (net_offload); zero: nothing */
};

struct eth_ops {
    const struct net_dev_ops *dev;
    void *dev_ctx;
    /* Upper layer demux. Return false when no protocol handles `type` (counted here). */
    bool (*deliver)(void *ctx, const struct eth_repr *hdr, const uint8_t *payload, size_t len,
                    uint64_t now);
};

struct eth {
    struct eth_cfg cfg;
    const struct eth_ops *ops;
    void *ctx;
    struct eth_stats stats;
};

int eth_init(struct eth *eth, const struct eth_cfg *cfg, const struct eth_ops *ops, void *ctx);
void eth_input(struct eth *eth, const uint8_t *frame, size_t len, uint64_t now);

/* Room for a payload of `len` bytes (<= MTU, or up to what the device segments when it
 * offers TSO), or NULL if the device is full (counted). */
uint8_t *eth_reserve(struct eth *eth, size_t len);
/* Frame the reserved `payload` of `len` bytes to `dst` and commit it to the device with
 * the offload work `off` (offsets from `payload`; NULL: none). */
void eth_send(struct eth *eth, uint8_t *payload, size_t len, const struct net_mac *dst,
              uint16_t type, const struct net_offload *off);
const struct net_mac *eth_mac(const struct eth *eth);
uint16_t eth_mtu(const struct eth *eth);

#endif
