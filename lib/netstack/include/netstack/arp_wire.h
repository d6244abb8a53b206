/* arp_wire.h — ARP for IPv4 over Ethernet (RFC 826); announcements per RFC 5227. */
#ifndef NETSTACK_ARP_WIRE_H
#define NETSTACK_ARP_WIRE_H

#define ARP_OFF_HTYPE 0
#define ARP_OFF_PTYPE 2
#define ARP_OFF_HLEN 4
#define ARP_OFF_PLEN 5
#define ARP_OFF_OPER 6
#define ARP_OFF_SHA 8
#define ARP_OFF_SPA 14
#define ARP_OFF_THA 18
#define ARP_OFF_TPA 24
#define ARP_LEN 28

#define ARP_HTYPE_ETHERNET 1
#define ARP_PTYPE_IPV4 0x0800
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

#endif
