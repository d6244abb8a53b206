/*
 * siphash.h — SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash that an
 * observer cannot predict without the key. TCP uses it for RFC 6528 initial sequence
 * numbers and for SYN cookies, where a plain hash would let an attacker forge them.
 */
#ifndef NETSTACK_SIPHASH_H
#define NETSTACK_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint64_t key[2], const void *data, size_t len);

#endif
