/*
 * coninput.h — the UART's bytes on their way from the interrupt to the console task,
 * apart from any hardware (host-tested).
 *
 * A pasted burst can outrun the task (under PVM it echoes a byte in tens of
 * microseconds), and bytes that find the ring full are dropped and counted. Two rules keep
 * that from doing harm. The last byte of room is kept for a line end, so a paste that
 * overflows still ends its line and the console answers. And every byte that arrives
 * after a loss is marked, so the task discards the line it belongs to instead of running
 * what is left of it (a command with bytes missing is another command).
 *
 * Positions are the ring's free-running byte counts. The interrupt side calls
 * coninput_put, the task coninput_take, both with interrupts off.
 */
#ifndef KERNEL_CONINPUT_H
#define KERNEL_CONINPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logring.h"

struct coninput {
    struct logring ring;
    bool lost;          /* bytes were dropped; those from lost_from on follow a gap */
    uint64_t lost_from; /* position of the first byte after the first unreported loss */
    uint64_t lost_to;   /* position of the first byte after the latest loss */
    uint64_t dropped;   /* bytes dropped, ever */
};

void coninput_init(struct coninput *in, char *buf, size_t size);
/* One byte from the UART: queued, or dropped (counted, and the gap remembered). */
void coninput_put(struct coninput *in, char b);
/* Up to `max` of the oldest bytes into `out`, consumed. after_loss[i] says byte i follows
 * lost input (between the first and the latest gap not yet taken): its line must go. */
size_t coninput_take(struct coninput *in, char *out, bool *after_loss, size_t max);

#endif
