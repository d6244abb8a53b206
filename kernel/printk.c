#include "printk.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "logring.h"
#include "serial.h"

#define LOG_RING_BYTES (16 * 1024)
#define LINE_BYTES 256 /* a line (or a longer line's piece) enters the ring in one put */
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

void printk_flush(void)
{
    uint64_t flags = irq_save();
    drain_all();
    irq_restore(flags);
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

/* Where formatted text goes: a caller's buffer, or (buf NULL) the console log through a
 * line-sized staging buffer, so the log takes whole lines, not a call per character. */
struct sink {
    char *buf;
    size_t len, pos;
    char line[LINE_BYTES];
    size_t staged;
};

static void flush(struct sink *s)
{
    commit(s->line, s->staged);
    s->staged = 0;
}

/* Eight bytes a step, then the tail. Not memcpy: its rep movs has a large fixed cost under
 * PVM, and log text comes in short runs. */
static void copy(char *d, const char *p, size_t n)
{
    for (; n >= 8; n -= 8, d += 8, p += 8)
        __builtin_memcpy(d, p, 8);
    while (n--)
        *d++ = *p++;
}

/* A run of text into the sink, the general case: a full line flushes, ksnprintf keeps what
 * fits. */
static void emit_slow(struct sink *s, const char *p, size_t n)
{
    if (!s->buf) {
        while (n) {
            if (s->staged == sizeof(s->line))
                flush(s);
            size_t k = sizeof(s->line) - s->staged;
            if (k > n)
                k = n;
            copy(s->line + s->staged, p, k);
            s->staged += k;
            p += k;
            n -= k;
        }
        return;
    }
    /* ksnprintf: what fits before the terminating NUL; pos counts it all regardless. */
    size_t room = s->len && s->pos < s->len - 1 ? s->len - 1 - s->pos : 0;
    copy(s->buf + s->pos, p, n < room ? n : room);
    s->pos += n;
}

/* A run of text into the sink. Log text comes in short runs between conversions, and under
 * an emulating hypervisor (PVM) a call's fixed cost (~35 instructions) was most of a boot's
 * logging: the usual case, a run that fits the line, is copied in place. */
static inline __attribute__((always_inline)) void emit(struct sink *s, const char *p, size_t n)
{
    if (!s->buf && n <= sizeof(s->line) - s->staged) {
        char *d = s->line + s->staged;
        s->staged += n;
        while (n--)
            *d++ = *p++;
        return;
    }
    emit_slow(s, p, n);
}

/* A line end. The console's end "\r\n" (a terminal in raw mode needs the carriage return),
 * written once here, where the text is made, so that the UART gets the ring's bytes as
 * they are: converting there cost ~12 instructions a byte, and under PVM each is ~0.75 us.
 * A caller's buffer (ksnprintf) gets "\n". */
static void newline(struct sink *s)
{
    if (s->buf)
        emit(s, "\n", 1);
    else
        emit(s, "\r\n", 2);
}

/* Text from an argument (%s, %c), which may hold line ends of its own. */
static void emit_text(struct sink *s, const char *p, size_t n)
{
    for (;;) {
        size_t k = 0;
        while (k < n && p[k] != '\n')
            k++;
        emit(s, p, k);
        if (k == n)
            return;
        newline(s);
        p += k + 1;
        n -= k + 1;
    }
}

/* `width` characters of `c` (a space or a zero). */
static void pad(struct sink *s, char c, int width)
{
    static const char zeros[] = "0000000000000000", spaces[] = "                ";
    for (; width > 0; width -= 16)
        emit(s, c == '0' ? zeros : spaces, width < 16 ? (size_t)width : 16);
}

static void number(struct sink *s, uint64_t v, unsigned base, bool neg, int width, bool zero)
{
    char tmp[24];
    char *d = tmp + sizeof(tmp);
    do {
        *--d = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        *--d = '-';
    int n = (int)(tmp + sizeof(tmp) - d);
    pad(s, zero ? '0' : ' ', width - n);
    emit(s, d, (size_t)n);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p; p++) {
        if (*p == '\n') {
            newline(s);
            continue;
        }
        if (*p != '%') {
            const char *run = p; /* literal text goes out as one run, up to a line end */
            while (p[1] && p[1] != '%' && p[1] != '\n')
                p++;
            emit(s, run, (size_t)(p - run + 1));
            continue;
        }
        p++;
        bool zero = *p == '0';
        int width = 0, longs = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') {
            longs = *p == 'z' ? 2 : longs + 1;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            number(s, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, width, zero);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            number(s, v, *p == 'u' ? 10 : 16, false, width, zero);
            break;
        }
        case 'p':
            emit(s, "0x", 2);
            number(s, (uintptr_t)va_arg(ap, void *), 16, false, 16, true);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = 0;
            while (str[n])
                n++;
            pad(s, ' ', width - (int)n);
            emit_text(s, str, n);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            emit_text(s, &c, 1);
            break;
        }
        case '%':
            emit(s, "%", 1);
            break;
        default:
            emit(s, "%?", 2);
            if (!*p)
                return;
        }
    }
}

void kvprintf(const char *fmt, va_list ap)
{
    struct sink s;
    s.buf = 0;
    s.staged = 0;
    format(&s, fmt, ap);
    flush(&s);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

size_t ksnprintf(char *buf, size_t len, const char *fmt, ...)
{
    struct sink s;
    s.buf = buf;
    s.len = len;
    s.pos = 0;
    va_list ap;
    va_start(ap, fmt);
    format(&s, fmt, ap);
    va_end(ap);
    if (len)
        buf[s.pos < len ? s.pos : len - 1] = 0;
    return s.pos;
}

const char *kfmt_ip4(uint32_t a, char *buf, size_t len)
{
    ksnprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}

static void vlog(const char *subsystem, const char *fmt, va_list ap)
{
    struct sink s;
    s.buf = 0;
    s.staged = 0;
    size_t n = 0;
    while (subsystem[n])
        n++;
    emit(&s, subsystem, n);
    emit(&s, ": ", 2);
    format(&s, fmt, ap);
    newline(&s);
    flush(&s);
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
