/*
 * wallclock.h — the time of day, for HTTP's Date header.
 *
 * Read at boot from the CMOS RTC (QEMU's MC146818, present unless the machine
 * turns it off) or else from KVM's wall-clock MSR, and re-anchored on the RTC's second
 * edge when the clock times one (clock.h); after that, time of day is boot wall
 * time plus the monotonic clock. With neither source the guest does not know the time
 * and says so: wallclock_now() returns 0 and the server omits Date (RFC 9110 6.6.1).
 */
#ifndef KERNEL_WALLCLOCK_H
#define KERNEL_WALLCLOCK_H

#include <stdint.h>

void wallclock_init(void);
/* Seconds since 1970-01-01 UTC at monotonic time `now` (ns), or 0 when unknown. */
uint64_t wallclock_now(uint64_t now);
/* A second of the RTC began at monotonic `now` (ns): the time of day is exact from here
 * (the boot-time read only knew the second it fell in). */
void wallclock_anchor(uint64_t now);
const char *wallclock_source(void);

#endif
