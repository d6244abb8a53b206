/*
 * rtc.h — the CMOS real-time clock (MC146818, QEMU's "rtc", absent with microvm,rtc=off).
 *
 * Two uses: the time of day (whole seconds), and the update-ended interrupt that the RTC
 * raises on ISA IRQ 8 as each second begins — a once-a-second edge the clock times the
 * TSC against. Callers keep interrupts off around these (the index port is shared).
 */
#ifndef KERNEL_RTC_H
#define KERNEL_RTC_H

#include <stdbool.h>
#include <stdint.h>

#define RTC_GSI 8

bool rtc_present(void);
/* Seconds since 1970-01-01 UTC, or 0 if the RTC is absent or reads nonsense. */
uint64_t rtc_read_seconds(void);
/* Raise (or stop raising) the update-ended interrupt once a second. */
void rtc_update_irq(bool on);
/* Acknowledge the RTC's interrupt (reading register C); true if a second just began. */
bool rtc_ack(void);

#endif
