/*
 * logring.h — a byte FIFO over caller storage, apart from any hardware (host-tested).
 *
 * The console keeps its deferred output in one (printk) and the bytes the UART received
 * in another (console). Writers put whole runs or nothing, so a line is never split by a
 * full ring; readers peek the oldest bytes and consume what they used. Positions are
 * free-running byte counts, so `head - tail` is what is queued. No locking: the kernel
 * calls every verb with interrupts off.
 */
#ifndef KERNEL_LOGRING_H
#define KERNEL_LOGRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct logring {
    char *buf;
    size_t size;
    uint64_t head; /* bytes ever put */
    uint64_t tail; /* bytes ever consumed */
};

void logring_init(struct logring *r, char *buf, size_t size);
size_t logring_used(const struct logring *r);
size_t logring_room(const struct logring *r);
/* Append all `n` bytes, or nothing (false) when fewer than `n` are free. */
bool logring_put(struct logring *r, const char *p, size_t n);
/* Copy up to `max` of the oldest bytes to `out` without consuming them; returns how many. */
size_t logring_peek(const struct logring *r, char *out, size_t max);
/* Drop the `n` oldest bytes (at most what is queued). */
void logring_consume(struct logring *r, size_t n);

#endif
