/* ipv4_wire.h — IPv4 header layout (RFC 791). */
#ifndef NETSTACK_IPV4_WIRE_H
#define NETSTACK_IPV4_WIRE_H

#define IPV4_OFF_VER_IHL 0
#define IPV4_OFF_TOS 1
#define IPV4_OFF_LEN 2
#define IPV4_OFF_ID 4
#define IPV4_OFF_FRAG 6 /* flags (3 bits) + fragment offset in 8-byte units (13 bits) */
#define IPV4_OFF_TTL 8
#define IPV4_OFF_PROTO 9
#define IPV4_OFF_CSUM 10
#define IPV4_OFF_SRC 12
#define IPV4_OFF_DST 16
#define IPV4_HDR_LEN 20
#define IPV4_HDR_MAX 60
#define IPV4_MAX_LEN 65535

#define IPV4_FLAG_RF 0x8000 /* reserved, must be zero */
#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_FRAG_MASK 0x1fff

#define IPV4_OPT_END 0
#define IPV4_OPT_NOP 1

#define IPV4_PROTO_ICMP 1
#define IPV4_PROTO_TCP 6
#define IPV4_PROTO_UDP 17

#define IPV4_DEFAULT_TTL 64

#endif
