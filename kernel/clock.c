#include "clock.h"

#include "apic.h"
#include "arch.h"
#include "clockcal.h"
#include "panic.h"
#include "printk.h"
#include "rtc.h"
#include "trap.h"
#include "wallclock.h"

#define PIT_HZ 1193182
/* 0.5 ms of PIT: 597 ticks, each end read to within a tick, so the rate is good to ~0.3%
 * at once; the RTC's seconds refine it to ppm once the guest serves. */
#define PIT_WINDOW (PIT_HZ / 2000)
/* With the TSC rate known exactly (cpuid, kvmclock), the LAPIC timer alone is timed. */
#define LAPIC_WINDOW_NS 250000
/* An RTC interval further than this from the PIT's estimate is no whole second. */
#define REFINE_TOLERANCE_PPM 20000
#define REFINE_MAX_EDGES 16

extern uint64_t boot_tsc;

static struct timescale ts;     /* TSC -> ns since entry */
static uint64_t lapic_hz;
static uint64_t lapic_mult;     /* lapic ticks = ns * lapic_mult >> 32 (no 128-bit division) */
static uint64_t cal_tsc, cal_lapic; /* the LAPIC/TSC ratio measured at boot */
static bool invariant, refinable;
static const char *source = "none";
static struct rtc_edges edges;
static unsigned edges_seen;

uint64_t clock_tsc_to_us(uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * ts.mult) >> 32) / 1000;
}

uint64_t clock_ns(void)
{
    return timescale_ns(&ts, rdtsc());
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

/* One calibration: a reference (the PIT, or none) and the LAPIC timer, read together
 * between two TSC reads. */
struct calib {
    bool pit;
    uint32_t pit_last;
    uint64_t pit_ticks;
};

static void take(struct calib *c, struct clock_sample *s)
{
    s->tsc_before = rdtsc();
    if (c->pit)
        outb(0x43, 0x00); /* latch channel 0 */
    s->lapic = apic_timer_current();
    s->tsc_after = rdtsc();
    if (c->pit) {
        uint32_t lo = inb(0x40), hi = inb(0x40);
        uint32_t cur = hi << 8 | lo;
        c->pit_ticks += pit_ticks_between(c->pit_last, cur);
        c->pit_last = cur;
    }
    s->ref = c->pit_ticks;
}

/* The best of three readings: a host that stalls the guest mid-reading (TCG waiting for
 * QEMU's lock, say) widens that bracket, and its midpoint is not to be trusted. */
static struct clock_sample take_best(struct calib *c)
{
    struct clock_sample s[3];
    for (int i = 0; i < 3; i++)
        take(c, &s[i]);
    return *clock_sample_best(clock_sample_best(&s[0], &s[1]), &s[2]);
}

/* The TSC rate over PIT_WINDOW of PIT channel 0 (which counts at 1.193182 MHz whatever its
 * gate), and the LAPIC timer over the same window; 0 when no PIT answers. */
static uint64_t from_pit(void)
{
    struct calib c = {.pit = true, .pit_last = 0};
    outb(0x43, 0x34); /* channel 0, lo/hi, mode 2, binary */
    outb(0x40, 0);
    outb(0x40, 0); /* reload 65536 */
    struct clock_sample start = take_best(&c), s = start;
    while (s.ref < start.ref + PIT_WINDOW) {
        take(&c, &s);
        if (s.tsc_after - start.tsc_after > (1ull << 33))
            return 0; /* seconds at any plausible rate: no PIT answering */
    }
    struct clock_sample end = take_best(&c);
    cal_tsc = clock_sample_tsc(&end) - clock_sample_tsc(&start);
    cal_lapic = start.lapic - end.lapic;
    return clock_rate(cal_tsc, end.ref - start.ref, PIT_HZ);
}

/* The LAPIC timer over LAPIC_WINDOW_NS of TSC time, with the TSC rate known. */
static void lapic_window(uint64_t tsc_hz)
{
    struct calib c = {.pit = false};
    struct clock_sample start = take_best(&c);
    uint64_t until = start.tsc_after + tsc_hz / (1000000000 / LAPIC_WINDOW_NS);
    while (rdtsc() < until)
        __asm__ volatile("pause");
    struct clock_sample end = take_best(&c);
    cal_tsc = clock_sample_tsc(&end) - clock_sample_tsc(&start);
    cal_lapic = start.lapic - end.lapic;
}

/* LAPIC alarms follow the TSC rate through the ratio measured at boot (both clocks follow
 * the same host time), so a refined TSC rate refines them too. */
static void lapic_follow(uint64_t tsc_hz)
{
    lapic_hz = clock_rate(cal_lapic, cal_tsc, tsc_hz);
    if (!lapic_hz || lapic_hz >= (1ull << 32))
        panic("timer: the local APIC timer counts at %lu Hz", lapic_hz);
    lapic_mult = (lapic_hz << 32) / 1000000000u;
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
    uint64_t tsc_hz;
    apic_timer_oneshot(0xffffffffu); /* counting down from the top through calibration */
    if ((tsc_hz = from_cpuid15()))
        source = "cpuid";
    else if ((tsc_hz = from_kvmclock()))
        source = "kvmclock";
    else if ((tsc_hz = from_pit()))
        source = "pit", refinable = true;
    else
        panic("timer: cannot find the TSC frequency (no CPUID 0x15, kvmclock or PIT)");
    if (!cal_tsc)
        lapic_window(tsc_hz);
    apic_timer_oneshot(0);
    timescale_init(&ts, boot_tsc, tsc_hz);
    lapic_follow(tsc_hz);
    klog("timer", "tsc %lu.%03lu MHz (%s)%s, lapic timer %lu.%03lu MHz",
         tsc_hz / 1000000, tsc_hz / 1000 % 1000, source, invariant ? " invariant" : "",
         lapic_hz / 1000000, lapic_hz / 1000 % 1000);
}

static void rtc_stop(void)
{
    rtc_update_irq(false);
    ioapic_mask(RTC_GSI);
}

/* A second of the RTC began: time the TSC across such edges (clockcal.h). */
static void on_rtc(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    uint64_t tsc = rdtsc(); /* first: the edge is now */
    if (!rtc_ack())
        return;
    uint64_t hz = rtc_edges_feed(&edges, tsc, ts.hz, REFINE_TOLERANCE_PPM);
    edges_seen++;
    if (!hz) {
        if (edges_seen == REFINE_MAX_EDGES) {
            rtc_stop();
            klog("timer", "the RTC's seconds never matched the tsc: rate stays %lu.%03lu MHz "
                 "(unrefined)", ts.hz / 1000000, ts.hz / 1000 % 1000);
        }
        return;
    }
    uint64_t was = ts.hz;
    timescale_set_rate(&ts, tsc, hz); /* time at the edge stays what it was */
    lapic_follow(hz);
    rtc_stop();
    wallclock_anchor(timescale_ns(&ts, tsc));
    klog("timer", "tsc refined to %lu.%06lu MHz from the RTC (was %lu.%06lu), lapic timer "
         "%lu.%03lu MHz", hz / 1000000, hz % 1000000, was / 1000000, was % 1000000,
         lapic_hz / 1000000, lapic_hz / 1000 % 1000);
}

void clock_refine_start(void)
{
    if (!refinable)
        return; /* cpuid and kvmclock state the rate */
    const char *why = 0;
    uint8_t vector = (uint8_t)(VEC_DEVICE_BASE + RTC_GSI);
    if (!rtc_present())
        why = "no RTC";
    else if (trap_has_handler(vector))
        why = "the RTC's interrupt line is a device's";
    if (why) {
        klog("timer", "%s: the tsc rate stays %lu.%03lu MHz from %u us of PIT (unrefined)",
             why, ts.hz / 1000000, ts.hz / 1000 % 1000, 1000000 / (PIT_HZ / PIT_WINDOW));
        return;
    }
    trap_set_handler(vector, on_rtc, 0);
    ioapic_route(RTC_GSI, vector);
    rtc_update_irq(true);
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

uint64_t clock_tsc_hz(void) { return ts.hz; }
uint64_t clock_lapic_hz(void) { return lapic_hz; }
bool clock_tsc_invariant(void) { return invariant; }
const char *clock_source(void) { return source; }
