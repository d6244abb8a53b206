/*
 * udplink.h — an Ethernet link over UDP on 127.0.0.1: one datagram per frame, no header,
 * the framing QEMU's `-netdev dgram` and `-netdev socket,udp=` use. The socket is bound to
 * 127.0.0.1:local and connected to 127.0.0.1:remote, so read() and write() move whole
 * frames exactly as on a tap fd, and datagrams from anyone else are filtered by the kernel.
 * If nobody listens on the remote port, writes fail with ECONNREFUSED; the link stays up.
 */
#ifndef HARNESS_UDPLINK_H
#define HARNESS_UDPLINK_H

#include <stddef.h>
#include <stdint.h>

/* Returns a non-blocking fd, or -1 with a message in err. */
int udplink_open(uint16_t local_port, uint16_t remote_port, char *err, size_t errlen);

/* Parse a port number (1..65535) for command lines; returns -1 if it is not one. */
int udplink_parse_port(const char *s, uint16_t *port);

#endif
