/*
 * string.h — the slice of <string.h> that lib/ may use when built freestanding.
 * The kernel links implementations from lib/libc/string.c; host builds use the C library.
 */
#ifndef QUARTZ_LIBC_STRING_H
#define QUARTZ_LIBC_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
