/*
 * tsc-khz — print the host's TSC frequency in kHz, measured against CLOCK_MONOTONIC_RAW.
 *
 * Under TCG a guest's RDTSC reads the host's TSC, but a Linux guest on -M microvm has
 * no HPET or ACPI PM timer to calibrate it against, and its PIT calibration fails more
 * often than not under emulation ("tsc: Unable to calibrate against PIT"), after which
 * the boot hangs. scripts/bench/run-linux-peer.sh passes this number as tsc_early_khz=.
 *   cc -O2 -o build/bench/tsc-khz scripts/bench/tsc-khz.c && build/bench/tsc-khz
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void)
{
    /* The median of five 20 ms windows: a preempted window reads high or low. */
    double khz[5];
    for (int i = 0; i < 5; i++) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        int64_t t0 = now_ns();
        uint64_t c0 = rdtsc();
        nanosleep(&pause, NULL);
        int64_t t1 = now_ns();
        uint64_t c1 = rdtsc();
        khz[i] = (double)(c1 - c0) * 1e6 / (double)(t1 - t0);
        for (int j = i; j > 0 && khz[j] < khz[j - 1]; j--) {
            double t = khz[j];
            khz[j] = khz[j - 1];
            khz[j - 1] = t;
        }
    }
    printf("%.0f\n", khz[2]);
    return 0;
}
