#include "udplink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int udplink_open(uint16_t local_port, uint16_t remote_port, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "udp socket: %s", strerror(errno));
        return -1;
    }
    /* Bursts of full-size frames must not be dropped by a small default buffer. */
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    struct sockaddr_in local = loopback(local_port), remote = loopback(remote_port);
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
        snprintf(err, errlen, "udp bind 127.0.0.1:%u: %s", local_port, strerror(errno));
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&remote, sizeof(remote)) < 0) {
        snprintf(err, errlen, "udp connect 127.0.0.1:%u: %s", remote_port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int udplink_parse_port(const char *s, uint16_t *port)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}
