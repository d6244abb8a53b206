/*
 * wallclock.h — the time of day, for HTTP's Date header.
 *
 * Read once at boot from the CMOS RTC (QEMU's MC146818, present unless the machine
 * turns it off) or else from KVM's wall-clock MSR; after that, time of day is boot wall
 * time plus the monotonic clock. With neither source the guest does not know the time
 * and says so: wallclock_now() returns 0 and the server omits Date (RFC 9110 6.6.1).
 */
#ifndef KERNEL_WALLCLOCK_H
#define KERNEL_WALLCLOCK_H

#include <stdint.h>

void wallclock_init(void);
/* Seconds since 1970-01-01 UTC at monotonic time `now` (ns), or 0 when unknown. */
uint64_t wallclock_now(uint64_t now);
const char *wallclock_source(void);

#endif
