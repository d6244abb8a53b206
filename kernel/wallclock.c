#include "wallclock.h"

#include "arch.h"
#include "clock.h"
#include "printk.h"

static uint64_t boot_wall_ns; /* wall time at monotonic 0; 0: unknown */
static const char *source = "none";

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static unsigned bcd(uint8_t v, bool binary)
{
    return binary ? v : (unsigned)(v >> 4) * 10 + (v & 15);
}

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). */
static uint64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
    y -= m <= 2;
    unsigned era = y / 400, yoe = y - era * 400;
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (uint64_t)era * 146097 + doe - 719468;
}

/* MC146818: wait out an update in progress, read twice until two reads agree. */
static uint64_t from_cmos(void)
{
    if (cmos(0x0a) == 0xff && cmos(0x0b) == 0xff)
        return 0; /* nothing answers on the ports */
    uint8_t a[6], b[6];
    for (int tries = 0; tries < 10; tries++) {
        for (int i = 0; i < 100000 && (cmos(0x0a) & 0x80); i++)
            ;
        const uint8_t regs[6] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09};
        for (int i = 0; i < 6; i++)
            a[i] = cmos(regs[i]);
        for (int i = 0; i < 6; i++)
            b[i] = cmos(regs[i]);
        bool same = true;
        for (int i = 0; i < 6; i++)
            same = same && a[i] == b[i];
        if (!same)
            continue;
        uint8_t status_b = cmos(0x0b);
        bool binary = status_b & 0x04, h24 = status_b & 0x02;
        unsigned hour = bcd(a[2] & 0x7f, binary);
        if (!h24 && (a[2] & 0x80))
            hour = (hour % 12) + 12;
        unsigned sec = bcd(a[0], binary), min = bcd(a[1], binary), day = bcd(a[3], binary);
        unsigned mon = bcd(a[4], binary), year = 2000 + bcd(a[5], binary);
        if (sec > 59 || min > 59 || hour > 23 || !day || day > 31 || !mon || mon > 12)
            return 0;
        return days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    }
    return 0;
}

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
    uint64_t t = from_cmos();
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

uint64_t wallclock_now(uint64_t now)
{
    return boot_wall_ns ? (boot_wall_ns + now) / 1000000000ull : 0;
}

const char *wallclock_source(void)
{
    return source;
}
