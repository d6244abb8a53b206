/*
 * printk.h — formatted output to the serial console.
 *
 * kprintf understands %s %c %d %i %u %x %p with the l, ll and z modifiers, a field width
 * and zero padding — enough for the boot log. klog() prints one boot-log line,
 * "subsystem: message", the stable, grep-able form tests rely on.
 */
#ifndef KERNEL_PRINTK_H
#define KERNEL_PRINTK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
/* Format into buf (always NUL-terminated); returns the length written. */
size_t ksnprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "A.B.C.D" for a host-order IPv4 address; buf needs 16 bytes. Returns buf. */
const char *kfmt_ip4(uint32_t a, char *buf, size_t len);
void klog(const char *subsystem, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Debug lines appear only with log=debug. */
void kdebug(const char *subsystem, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void printk_set_debug(int on);

#endif
