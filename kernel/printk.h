/*
 * printk.h — formatted output to the serial console, deferred.
 *
 * The formatting is kformat.c's (host-tested): %s %c %d %i %u %x %p with the l, ll and z
 * modifiers, a field width and zero padding, and "\r\n" line ends in the log. klog()
 * prints one boot-log line, "subsystem: message", the stable, grep-able form tests rely on.
 *
 * Output goes into a 16 KiB log ring, a line (up to 256 bytes) at a time with interrupts
 * off, and reaches the UART in order: a FIFO burst at a time from the idle loop
 * (printk_drain_step), synchronously when the ring is full (the writer waits; nothing is
 * dropped), and all of it at ready, before a panic report (printk_panic) or before a
 * machine exit (printk_flush). log=sync on the command line (printk_set_sync) writes every line
 * through at once, as before the ring: for a hang during boot, where nothing idles.
 */
#ifndef KERNEL_PRINTK_H
#define KERNEL_PRINTK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kformat.h" /* ksnprintf and kfmt_ip4, for every user of printk */

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
void klog(const char *subsystem, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Debug lines appear only with log=debug. */
void kdebug(const char *subsystem, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void printk_set_debug(int on);

/* Every line straight to the UART from now on (after what is queued); off: deferred. */
void printk_set_sync(bool on);
/* Whether the ring holds output the UART has not had yet. */
bool printk_pending(void);
/* One UART burst of the oldest queued output (the idle loop's share). */
void printk_drain_step(void);
/* All queued output, now. */
void printk_flush(void);
/* For the panic path: interrupts off, all queued output now, then synchronous for good. */
void printk_panic(void);

struct printk_stats {
    size_t ring_bytes; /* the ring's size */
    size_t queued;     /* bytes waiting for the UART */
    uint64_t bytes;    /* ever logged */
    uint64_t full_waits; /* lines that found the ring full and waited for the UART */
};
struct printk_stats printk_stats(void);

#endif
