#include "wallclock.h"

#include "arch.h"
#include "clock.h"
#include "printk.h"
#include "rtc.h"

static uint64_t boot_wall_ns; /* wall time at monotonic 0; 0: unknown */
static const char *source = "none";

/* KVM's wall clock: the host writes the time of day at the guest's kvmclock zero, and
 * kvmclock's system time says how far we are past it. */
static uint64_t from_kvm_ns(void)
{
    static volatile struct {
        uint32_t version, sec, nsec;
    } wc;
    struct kvmclock k;
    if (!kvmclock_sample(&k))
        return 0;
    wrmsr(0x4b564d00, (uint64_t)(uintptr_t)&wc); /* the host fills it at once */
    uint64_t delta = rdtsc() - k.tsc_timestamp;
    delta = k.shift >= 0 ? delta << k.shift : delta >> -k.shift;
    uint64_t system = k.system_time + (uint64_t)(((unsigned __int128)delta * k.mul) >> 32);
    if (!wc.sec)
        return 0;
    return (uint64_t)wc.sec * 1000000000ull + wc.nsec + system;
}

void wallclock_init(void)
{
    uint64_t now = clock_ns();
    uint64_t t = rtc_read_seconds();
    if (t) {
        boot_wall_ns = t * 1000000000ull - now;
        source = "cmos";
    } else if ((t = from_kvm_ns())) {
        boot_wall_ns = t - clock_ns();
        source = "kvmclock";
    }
    if (!boot_wall_ns) {
        klog("clock", "no wall clock (no RTC, no kvmclock): responses carry no Date");
        return;
    }
    uint64_t s = wallclock_now(clock_ns());
    uint64_t days = s / 86400;
    unsigned y = 1970;
    for (;;) { /* only for the log line */
        unsigned len = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
        if (days < len)
            break;
        days -= len;
        y++;
    }
    klog("clock", "wall time %lu s since 1970 (year %u, from %s)", s, y, source);
}

void wallclock_anchor(uint64_t now)
{
    uint64_t t = rtc_read_seconds();
    if (t) {
        boot_wall_ns = t * 1000000000ull - now;
        source = "cmos";
    }
}

uint64_t wallclock_now(uint64_t now)
{
    return boot_wall_ns ? (boot_wall_ns + now) / 1000000000ull : 0;
}

const char *wallclock_source(void)
{
    return source;
}
