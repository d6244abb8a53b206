/* icmp_wire.h — ICMP for IPv4 (RFC 792). */
#ifndef NETSTACK_ICMP_WIRE_H
#define NETSTACK_ICMP_WIRE_H

#define ICMP_OFF_TYPE 0
#define ICMP_OFF_CODE 1
#define ICMP_OFF_CSUM 2
#define ICMP_OFF_REST 4 /* echo: identifier (2) + sequence (2); errors: unused / MTU */
#define ICMP_OFF_IDENT 4
#define ICMP_OFF_SEQ 6
#define ICMP_HDR_LEN 8

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT 5
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12

/* Destination Unreachable codes. */
#define ICMP_UNREACH_NET 0
#define ICMP_UNREACH_HOST 1
#define ICMP_UNREACH_PROTO 2
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_FRAG_NEEDED 4

/* Time Exceeded codes. */
#define ICMP_EXC_TTL 0
#define ICMP_EXC_REASSEMBLY 1

/* An error quotes the offending header and this many bytes of its payload (RFC 792). */
#define ICMP_QUOTE_DATA 8

#endif
