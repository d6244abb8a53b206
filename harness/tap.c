#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int tap_open(const char *name, char *err, size_t errlen)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        snprintf(err, errlen, "tap %s: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Linux brings a tap's carrier up when a file descriptor attaches, but activates its
 * queueing discipline later, from the link-watch work (rate limited to about once a
 * second). Until then every frame Linux sends to us is dropped: a first ARP reply lost
 * that way costs the stack a one-second retry. So wait until operstate says "up". */
int tap_wait_running(const char *name, int timeout_ms)
{
    char path[96];
    snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", name);
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        char state[16] = "";
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(state, sizeof(state), f))
                state[0] = 0;
            fclose(f);
        }
        if (!strncmp(state, "up", 2))
            return 0;
        if (!strncmp(state, "unknown", 7))
            return 0; /* a driver that does not report operstate: nothing to wait for */
        usleep(5000);
    }
    return -1;
}
