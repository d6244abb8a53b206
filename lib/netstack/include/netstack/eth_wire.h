/* eth_wire.h — Ethernet II header layout (IEEE 802.3 clause 3, DIX framing). */
#ifndef NETSTACK_ETH_WIRE_H
#define NETSTACK_ETH_WIRE_H

#define ETH_OFF_DST 0
#define ETH_OFF_SRC 6
#define ETH_OFF_TYPE 12
#define ETH_HDR_LEN 14

/* Frames shorter than this are padded on output; the device adds the 4-byte FCS. */
#define ETH_MIN_FRAME 60
#define ETH_DEFAULT_MTU 1500

/* Values below 0x0600 are 802.3 length fields (LLC), not EtherTypes. */
#define ETH_TYPE_MIN 0x0600
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_QINQ 0x88a8
#define ETH_TYPE_IPV6 0x86dd

#endif
