#include "printk.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "kformat.h"
#include "logring.h"
#include "serial.h"

#define LOG_RING_BYTES (16 * 1024)
#define DRAIN_BYTES 16 /* one UART FIFO's worth per drain step: interrupts stay off that long */

/* The console log. Under TCG each byte to the UART costs ~2 us and under PVM far more, so
 * lines wait here and go out when the CPU would otherwise idle, instead of in the middle
 * of whatever logged them (the boot, a request). */
static struct console_log {
    struct logring ring;
    char mem[LOG_RING_BYTES];
    bool debug;
    bool sync;           /* log=sync or a panic: every line goes straight to the UART */
    uint64_t bytes;      /* ever logged */
    uint64_t full_waits; /* lines that found the ring full and drained room themselves */
} clog = {.ring = {.buf = clog.mem, .size = LOG_RING_BYTES}};

void printk_set_debug(int on)
{
    clog.debug = on;
}

/* Interrupts off: one burst from the ring's oldest bytes to the UART. */
static void drain_step(void)
{
    char b[DRAIN_BYTES];
    size_t n = logring_peek(&clog.ring, b, sizeof(b));
    serial_write(b, n);
    logring_consume(&clog.ring, n);
}

static void drain_all(void)
{
    while (logring_used(&clog.ring))
        drain_step();
}

/* A whole line (or piece) into the log; with interrupts off throughout, so a line logged
 * from an interrupt handler lands before or after it, never inside. A full ring is
 * drained here, synchronously, until the line fits: lines are never dropped. */
static void commit(const char *p, size_t n)
{
    if (!n)
        return;
    uint64_t flags = irq_save();
    clog.bytes += n;
    if (clog.sync) {
        drain_all(); /* what was queued before still goes first */
        serial_write(p, n);
    } else if (!logring_put(&clog.ring, p, n)) {
        clog.full_waits++;
        while (!logring_put(&clog.ring, p, n))
            drain_step();
    }
    irq_restore(flags);
}

void printk_set_sync(bool on)
{
    uint64_t flags = irq_save();
    clog.sync = on;
    if (on)
        drain_all();
    irq_restore(flags);
}

bool printk_pending(void)
{
    return logring_used(&clog.ring) != 0;
}

void printk_drain_step(void)
{
    uint64_t flags = irq_save();
    drain_step();
    irq_restore(flags);
}

/* A burst at a time with interrupts as they were between bursts: at ready the boot log
 * (~1 KiB, ~20 ms under PVM) must not hold interrupts off throughout. A line logged from
 * a handler meanwhile joins the queue and goes out in the same loop. */
void printk_flush(void)
{
    while (printk_pending())
        printk_drain_step();
}

void printk_panic(void)
{
    cli();
    clog.sync = true;
    drain_all();
}

struct printk_stats printk_stats(void)
{
    uint64_t flags = irq_save();
    struct printk_stats st = {.ring_bytes = LOG_RING_BYTES, .queued = logring_used(&clog.ring),
                              .bytes = clog.bytes, .full_waits = clog.full_waits};
    irq_restore(flags);
    return st;
}

/* The formatter's lines into the ring. */
static void commit_line(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    commit(p, n);
}

void kvprintf(const char *fmt, va_list ap)
{
    struct kfmt f;
    kfmt_init_log(&f, commit_line, NULL);
    kfmt_format(&f, fmt, ap);
    kfmt_end(&f);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

static void vlog(const char *subsystem, const char *fmt, va_list ap)
{
    struct kfmt f;
    kfmt_init_log(&f, commit_line, NULL);
    size_t n = 0;
    while (subsystem[n])
        n++;
    kfmt_put(&f, subsystem, n);
    kfmt_put(&f, ": ", 2);
    kfmt_format(&f, fmt, ap);
    kfmt_newline(&f);
    kfmt_end(&f);
}

void klog(const char *subsystem, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(subsystem, fmt, ap);
    va_end(ap);
}

void kdebug(const char *subsystem, const char *fmt, ...)
{
    if (!clog.debug)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(subsystem, fmt, ap);
    va_end(ap);
}
