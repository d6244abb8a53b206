/* tap.h — open a Linux tap device (IFF_TAP, no packet-info header): whole Ethernet frames
 * in and out of one file descriptor. The device must exist or be creatable (root). */
#ifndef HARNESS_TAP_H
#define HARNESS_TAP_H

#include <stddef.h>

/* Returns an fd, or -1 with a message in err. */
int tap_open(const char *name, char *err, size_t errlen);

/* Wait until Linux will deliver frames on the attached tap (operstate "up"): 0, or -1
 * after timeout_ms. Call after tap_open. */
int tap_wait_running(const char *name, int timeout_ms);

#endif
