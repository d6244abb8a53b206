/*
 * kformat.h — the kernel's printf, without the console: text formatted into a caller's
 * buffer (ksnprintf) or into lines that a callback takes whole (the log ring's). Pure C,
 * so it is unit-tested on the host (tests/unit/test_kformat.c).
 *
 * Conversions: %s %c %d %i %u %x %p %%, the l, ll and z modifiers, a field width (at most
 * KFMT_WIDTH_MAX) and zero padding. Anything else prints "%?" in its place. A line end
 * is "\r\n" in the log (a terminal in raw mode needs the carriage return; the UART then
 * writes the bytes as they are) and "\n" in a buffer, wherever it comes from: the format
 * or a %s or %c argument.
 */
#ifndef KERNEL_KFORMAT_H
#define KERNEL_KFORMAT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define KFMT_LINE 256     /* the log takes a line, or a longer line's piece, in one call */
#define KFMT_WIDTH_MAX 64 /* wider fields are this wide */

struct kfmt {
    char *buf; /* a caller's buffer of len bytes; NULL: lines go to commit(ctx, ...) */
    size_t len, pos;
    void (*commit)(void *ctx, const char *p, size_t n);
    void *ctx;
    size_t staged;
    char line[KFMT_LINE];
};

void kfmt_init_buffer(struct kfmt *f, char *buf, size_t len);
void kfmt_init_log(struct kfmt *f, void (*commit)(void *ctx, const char *p, size_t n),
                   void *ctx);
void kfmt_format(struct kfmt *f, const char *fmt, va_list ap);
/* Text as it is, but for its line ends, which become the sink's. */
void kfmt_put(struct kfmt *f, const char *p, size_t n);
void kfmt_newline(struct kfmt *f);
/* Format into buf (NUL-terminated when len > 0); returns the length formatted, what buf
 * would hold had it been big enough. */
size_t ksnprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t kvsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
/* "A.B.C.D" for a host-order IPv4 address; buf needs 16 bytes. Returns buf. */
const char *kfmt_ip4(uint32_t a, char *buf, size_t len);

/* The end: the log's staged bytes go out (returns 0); a buffer is NUL-terminated when len
 * > 0 (returns the length formatted: what it would hold had it been big enough). */
size_t kfmt_end(struct kfmt *f);

#endif
