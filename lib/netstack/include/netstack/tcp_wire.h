/* tcp_wire.h — the TCP header (RFC 9293 section 3.1) and the options Quartz speaks. */
#ifndef NETSTACK_TCP_WIRE_H
#define NETSTACK_TCP_WIRE_H

#define TCP_OFF_SRC 0
#define TCP_OFF_DST 2
#define TCP_OFF_SEQ 4
#define TCP_OFF_ACK 8
#define TCP_OFF_DATA_OFF 12 /* high nibble: header length in 32-bit words */
#define TCP_OFF_FLAGS 13
#define TCP_OFF_WINDOW 14
#define TCP_OFF_CSUM 16
#define TCP_OFF_URG 18
#define TCP_HDR_LEN 20
#define TCP_HDR_MAX 60
#define TCP_OPT_MAX (TCP_HDR_MAX - TCP_HDR_LEN)

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

/* Option kinds and their fixed lengths. */
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2 /* RFC 9293 3.2 */
#define TCP_OPT_MSS_LEN 4
#define TCP_OPT_WS 3 /* RFC 7323 2 */
#define TCP_OPT_WS_LEN 3
#define TCP_OPT_SACK_PERM 4 /* RFC 2018 */
#define TCP_OPT_SACK_PERM_LEN 2
#define TCP_OPT_SACK 5 /* 2 + 8 per block */
#define TCP_OPT_TS 8 /* RFC 7323 3 */
#define TCP_OPT_TS_LEN 10

#define TCP_WS_MAX 14         /* RFC 7323 2.3: larger shifts are treated as 14 */
#define TCP_DEFAULT_MSS 536   /* RFC 9293 3.7.1: assumed when the peer sends none */
#define TCP_SACK_BLOCKS_MAX 4 /* what fits in 40 option bytes (3 alongside timestamps) */

#endif
