#include "clock.h"

#include "apic.h"
#include "arch.h"
#include "panic.h"
#include "printk.h"

extern uint64_t boot_tsc;

static uint64_t tsc_hz, lapic_hz;
static uint64_t ns_mult;    /* ns = tsc ticks * ns_mult >> 32 */
static uint64_t lapic_mult; /* lapic ticks = ns * lapic_mult >> 32 (no 128-bit division) */
static bool invariant;
static const char *source = "none";

static uint64_t ticks_to_ns(uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * ns_mult) >> 32);
}

uint64_t clock_tsc_to_us(uint64_t ticks)
{
    return ticks_to_ns(ticks) / 1000;
}

uint64_t clock_ns(void)
{
    return ticks_to_ns(rdtsc() - boot_tsc);
}

static uint64_t from_cpuid15(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 0x15)
        return 0;
    cpuid(0x15, 0, r); /* TSC = crystal (ecx) * ebx / eax */
    if (!r[0] || !r[1] || !r[2])
        return 0;
    return (uint64_t)r[2] * r[1] / r[0];
}

bool kvmclock_sample(struct kvmclock *k)
{
    uint32_t r[4];
    cpuid(0x40000000, 0, r);
    if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d) /* "KVMKVMKVM" */
        return false;
    cpuid(0x40000001, 0, r);
    if (!(r[0] & (1u << 3))) /* KVM_FEATURE_CLOCKSOURCE2 */
        return false;
    static volatile struct {
        uint32_t version, pad0;
        uint64_t tsc_timestamp, system_time;
        uint32_t mul;
        int8_t shift;
        uint8_t flags, pad[2];
    } __attribute__((aligned(64))) pv;
    wrmsr(0x4b564d01, (uint64_t)(uintptr_t)&pv | 1);
    for (int i = 0; i < 1000000 && (!pv.mul || (pv.version & 1)); i++)
        ;
    *k = (struct kvmclock){.tsc_timestamp = pv.tsc_timestamp, .system_time = pv.system_time,
                           .mul = pv.mul, .shift = pv.shift};
    wrmsr(0x4b564d01, 0); /* read once: nothing keeps it running */
    return k->mul != 0;
}

/* KVM's pvclock: the host tells us how it converts TSC ticks to ns (mul, shift). */
static uint64_t from_kvmclock(void)
{
    struct kvmclock k;
    if (!kvmclock_sample(&k))
        return 0;
    uint64_t hz = (1000000000ull << 32) / k.mul;
    return k.shift >= 0 ? hz >> k.shift : hz << -k.shift;
}

/* PIT channel 0 counts down at 1.193182 MHz whatever its gate; poll it for 5 ms: 5966
 * ticks give the TSC rate within 0.02%, and every millisecond here delays the boot. */
static uint64_t from_pit(void)
{
    const uint32_t pit_hz = 1193182, want = pit_hz / 200;
    outb(0x43, 0x34); /* channel 0, lo/hi, mode 2, binary */
    outb(0x40, 0);
    outb(0x40, 0); /* reload 65536 */
    uint32_t elapsed = 0, last = 0x10000;
    uint64_t t0 = rdtsc(), limit = t0 + (1ull << 36);
    while (elapsed < want) {
        outb(0x43, 0x00); /* latch channel 0 */
        uint32_t lo = inb(0x40), hi = inb(0x40);
        uint32_t cur = hi << 8 | lo;
        if (cur == 0)
            cur = 0x10000;
        elapsed += cur <= last ? last - cur : last + 0x10000 - cur;
        last = cur;
        if (rdtsc() > limit)
            return 0; /* no PIT answering */
    }
    uint64_t dt = rdtsc() - t0;
    return dt * pit_hz / elapsed;
}

void clock_spin_ns(uint64_t ns)
{
    uint64_t end = clock_ns() + ns;
    while (clock_ns() < end)
        __asm__ volatile("pause");
}

void clock_init(void)
{
    uint32_t r[4];
    cpuid(0x80000000, 0, r);
    if (r[0] >= 0x80000007) {
        cpuid(0x80000007, 0, r);
        invariant = r[3] & (1u << 8);
    }
    if ((tsc_hz = from_cpuid15()))
        source = "cpuid";
    else if ((tsc_hz = from_kvmclock()))
        source = "kvmclock";
    else if ((tsc_hz = from_pit()))
        source = "pit";
    else
        panic("timer: cannot find the TSC frequency (no CPUID 0x15, kvmclock or PIT)");
    ns_mult = (1000000000ull << 32) / tsc_hz;

    /* LAPIC timer: count down from the top for 0.5 ms of TSC time, timed by the TSC reads
     * around it (over 3 * 10^4 ticks at the tens of MHz QEMU gives it; both clocks follow
     * the same host time). Alarms only need it roughly right: whoever wakes early checks
     * the clock and sleeps again. Every millisecond here is boot time. */
    apic_timer_oneshot(0xffffffffu);
    uint64_t t0 = clock_ns();
    clock_spin_ns(500000);
    uint32_t left = apic_timer_current();
    uint64_t t1 = clock_ns();
    apic_timer_oneshot(0);
    lapic_hz = (uint64_t)(0xffffffffu - left) * 1000000000ull / (t1 - t0);
    if (!lapic_hz || lapic_hz >= (1ull << 32))
        panic("timer: the local APIC timer counts at %lu Hz", lapic_hz);
    lapic_mult = (lapic_hz << 32) / 1000000000u;
    klog("timer", "tsc %lu.%03lu MHz (%s)%s, lapic timer %lu.%03lu MHz",
         tsc_hz / 1000000, tsc_hz / 1000 % 1000, source, invariant ? " invariant" : "",
         lapic_hz / 1000000, lapic_hz / 1000 % 1000);
}

void clock_set_alarm(uint64_t deadline)
{
    if (deadline == UINT64_MAX) {
        apic_timer_oneshot(0);
        return;
    }
    uint64_t now = clock_ns();
    uint64_t ns = deadline > now ? deadline - now : 0;
    uint64_t ticks = (uint64_t)(((unsigned __int128)ns * lapic_mult) >> 32);
    if (ticks == 0)
        ticks = 1; /* zero would disarm; one tick fires almost at once */
    if (ticks > 0xffffffffu)
        ticks = 0xffffffffu; /* the caller re-arms when it wakes early */
    apic_timer_oneshot((uint32_t)ticks);
}

uint64_t clock_tsc_hz(void) { return tsc_hz; }
uint64_t clock_lapic_hz(void) { return lapic_hz; }
bool clock_tsc_invariant(void) { return invariant; }
const char *clock_source(void) { return source; }
