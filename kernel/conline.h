/*
 * conline.h — one line of console input, apart from any hardware (host-tested).
 *
 * Bytes come in one at a time as the UART received them; each returns what to echo (the
 * terminal is raw: QEMU's -serial stdio turns its echo off) and whether a line ended.
 * Enter is CR or LF, and the LF of a CR LF pair is swallowed. Backspace (BS or DEL)
 * erases; tabs count as spaces; other control bytes and non-ASCII are ignored. A line
 * longer than CONLINE_MAX is not overflowed: the rest of it is dropped, unechoed, and
 * Enter reports it as CONLINE_TOO_LONG instead of running it; a line that lost bytes on
 * the way (conline_lost) ends as CONLINE_LOST. A finished line has its
 * surrounding blanks trimmed; an empty one is CONLINE_NONE (the echo is just the newline).
 */
#ifndef KERNEL_CONLINE_H
#define KERNEL_CONLINE_H

#include <stdbool.h>
#include <stddef.h>

#define CONLINE_MAX 80
#define CONLINE_ECHO_MAX 4 /* echo bytes one input byte can produce, with the NUL */

enum conline_event {
    CONLINE_NONE,     /* taken or ignored: nothing to run */
    CONLINE_LINE,     /* a line ended: conline_text() until the next feed */
    CONLINE_TOO_LONG, /* a line over CONLINE_MAX ended: discarded */
    CONLINE_LOST,     /* a line with input missing (conline_lost) ended: discarded */
};

struct conline {
    char buf[CONLINE_MAX + 1];
    size_t len;
    size_t start; /* the finished line's first non-blank, for conline_text */
    bool overlong;
    bool lost;
    bool after_cr;
};

void conline_init(struct conline *l);
/* Take one byte; `echo` (CONLINE_ECHO_MAX bytes) gets what to echo, NUL-terminated. */
enum conline_event conline_feed(struct conline *l, char c, char *echo);
/* Bytes of the line being typed were lost on the way (coninput.h): when it ends it is
 * reported as CONLINE_LOST, not run. */
void conline_lost(struct conline *l);
/* The line that CONLINE_LINE announced, trimmed and NUL-terminated. */
const char *conline_text(const struct conline *l);

#endif
