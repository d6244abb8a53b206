#include "kformat.h"

#include <stdbool.h>
#include <stdint.h>

void kfmt_init_buffer(struct kfmt *f, char *buf, size_t len)
{
    f->buf = buf;
    f->len = len;
    f->pos = 0;
}

void kfmt_init_log(struct kfmt *f, void (*commit)(void *ctx, const char *p, size_t n),
                   void *ctx)
{
    f->buf = NULL;
    f->commit = commit;
    f->ctx = ctx;
    f->staged = 0;
}

static void flush(struct kfmt *f)
{
    if (f->staged)
        f->commit(f->ctx, f->line, f->staged);
    f->staged = 0;
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

/* A run of text into the sink, the general case: a full line goes out, a buffer keeps what
 * fits. */
static void emit_slow(struct kfmt *f, const char *p, size_t n)
{
    if (!f->buf) {
        while (n) {
            if (f->staged == KFMT_LINE)
                flush(f);
            size_t k = KFMT_LINE - f->staged;
            if (k > n)
                k = n;
            copy(f->line + f->staged, p, k);
            f->staged += k;
            p += k;
            n -= k;
        }
        return;
    }
    /* What fits before the terminating NUL; pos counts it all regardless. */
    size_t room = f->len && f->pos < f->len - 1 ? f->len - 1 - f->pos : 0;
    copy(f->buf + f->pos, p, n < room ? n : room);
    f->pos += n;
}

/* A run of text into the sink. Log text comes in short runs between conversions, and under
 * an emulating hypervisor (PVM) a call's fixed cost (~35 instructions) was most of a boot's
 * logging: the usual case, a run that fits the line, is copied in place. */
static inline __attribute__((always_inline)) void emit(struct kfmt *f, const char *p, size_t n)
{
    if (!f->buf && n <= KFMT_LINE - f->staged) {
        char *d = f->line + f->staged;
        f->staged += n;
        while (n--)
            *d++ = *p++;
        return;
    }
    emit_slow(f, p, n);
}

/* Made here, where the text is made, so that the UART gets the log's bytes as they are:
 * converting there cost ~12 instructions a byte, and under PVM each is ~0.75 us. */
void kfmt_newline(struct kfmt *f)
{
    if (f->buf)
        emit(f, "\n", 1);
    else
        emit(f, "\r\n", 2);
}

void kfmt_put(struct kfmt *f, const char *p, size_t n)
{
    for (;;) {
        size_t k = 0;
        while (k < n && p[k] != '\n')
            k++;
        emit(f, p, k);
        if (k == n)
            return;
        kfmt_newline(f);
        p += k + 1;
        n -= k + 1;
    }
}

/* `width` characters of `c` (a space or a zero). */
static void pad(struct kfmt *f, char c, int width)
{
    static const char zeros[] = "0000000000000000", spaces[] = "                ";
    for (; width > 0; width -= 16)
        emit(f, c == '0' ? zeros : spaces, width < 16 ? (size_t)width : 16);
}

static void number(struct kfmt *f, uint64_t v, unsigned base, bool neg, int width, bool zero)
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
    if (neg && zero) { /* the sign before the zeros: -0042, as printf */
        emit(f, d++, 1);
        width--;
        n--;
    }
    pad(f, zero ? '0' : ' ', width - n);
    emit(f, d, (size_t)n);
}

void kfmt_format(struct kfmt *f, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p; p++) {
        if (*p == '\n') {
            kfmt_newline(f);
            continue;
        }
        if (*p != '%') {
            const char *run = p; /* literal text goes out as one run, up to a line end */
            while (p[1] && p[1] != '%' && p[1] != '\n')
                p++;
            emit(f, run, (size_t)(p - run + 1));
            continue;
        }
        p++;
        bool zero = *p == '0';
        int width = 0, longs = 0;
        while (*p >= '0' && *p <= '9') {
            width = width * 10 + (*p++ - '0');
            if (width > KFMT_WIDTH_MAX)
                width = KFMT_WIDTH_MAX;
        }
        while (*p == 'l' || *p == 'z') {
            longs = *p == 'z' ? 2 : longs + 1;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            /* The magnitude in unsigned arithmetic: -v overflows for the most negative. */
            number(f, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0, width, zero);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            number(f, v, *p == 'u' ? 10 : 16, false, width, zero);
            break;
        }
        case 'p':
            emit(f, "0x", 2);
            number(f, (uintptr_t)va_arg(ap, void *), 16, false, 16, true);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = 0;
            while (str[n])
                n++;
            pad(f, ' ', width - (int)n);
            kfmt_put(f, str, n);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            kfmt_put(f, &c, 1);
            break;
        }
        case '%':
            emit(f, "%", 1);
            break;
        default:
            emit(f, "%?", 2);
            if (!*p)
                return; /* the format ended inside a conversion */
        }
    }
}

size_t kvsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
    struct kfmt f;
    kfmt_init_buffer(&f, buf, len);
    kfmt_format(&f, fmt, ap);
    return kfmt_end(&f);
}

size_t ksnprintf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = kvsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n;
}

const char *kfmt_ip4(uint32_t a, char *buf, size_t len)
{
    ksnprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}

size_t kfmt_end(struct kfmt *f)
{
    if (!f->buf) {
        flush(f);
        return 0;
    }
    if (f->len)
        f->buf[f->pos < f->len ? f->pos : f->len - 1] = 0;
    return f->pos;
}
