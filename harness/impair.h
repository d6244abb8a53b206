/*
 * impair.h — a seeded, deterministic impairment queue for frames: what netem does to a
 * link, in-process. The relay (harness/relay.c) puts one on each direction between a tap
 * device and a UDP socket; a simulation can put one between two in-process stacks.
 *
 * Frames go in with impair_push(frame, len, now) and come out with impair_pop(now) once
 * their release time has come, in release-time order, first-in first-out among equal
 * times. On push, in this order, each frame may be
 *   lost        (loss_ppm)    dropped, counted;
 *   corrupted   (corrupt_ppm) one random bit flipped at one random byte at or after
 *                             corrupt_offset, so a checksum over those bytes catches it;
 *   duplicated  (dup_ppm)     a second, identical copy queued (after any corruption) with
 *                             its own delay;
 *   reordered   (reorder_ppm) held an extra reorder_delay_ns so later frames overtake it.
 * Every copy is held delay_ns plus a uniform jitter in [-jitter_ns, +jitter_ns] (never
 * before its push time). Jitter alone never reorders: a copy that is not reordered leaves
 * no earlier than the one pushed before it, so only reorder_ppm changes the order.
 * A copy that finds limit frames queued is dropped and counted as overflow.
 *
 * Rates are parts per million (1% = 10000). Decisions come from a splitmix64 stream
 * seeded with cfg.seed: the same seed and the same pushes and pops at the same times give
 * the same output, byte for byte. Time is nanoseconds on any monotonic clock the caller
 * chooses; nothing here reads a clock. This is host code: it copies frames with malloc.
 */
#ifndef HARNESS_IMPAIR_H
#define HARNESS_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMPAIR_PPM 1000000u
#define IMPAIR_DEFAULT_LIMIT 4096
#define IMPAIR_DEFAULT_REORDER_NS 1000000ull /* when delay and jitter are both 0 */

struct impair_cfg {
    uint32_t loss_ppm, dup_ppm, corrupt_ppm, reorder_ppm;
    uint64_t delay_ns, jitter_ns;
    uint64_t reorder_delay_ns; /* 0: 2 * (delay + jitter), or 1 ms if that is 0 */
    uint64_t seed;
    size_t limit;          /* most frames queued at once; 0: IMPAIR_DEFAULT_LIMIT */
    size_t corrupt_offset; /* first byte corruption may hit (14 spares the Ethernet header) */
};

struct impair_stats {
    uint64_t in;         /* frames pushed */
    uint64_t out;        /* copies popped */
    uint64_t lost;       /* frames dropped by loss_ppm */
    uint64_t duplicated; /* extra copies made */
    uint64_t corrupted;  /* frames with a bit flipped */
    uint64_t reordered;  /* copies given the extra reorder delay */
    uint64_t overflow;   /* copies dropped because the queue was full */
};

struct impair_slot; /* a queued copy; private to impair.c */

struct impair {
    struct impair_cfg cfg;
    struct impair_stats stats;
    uint64_t rng;
    uint64_t seq;          /* push order of copies: the tie-break among equal times */
    uint64_t last_release; /* release time of the last in-order copy */
    struct impair_slot *heap;
    size_t n, cap;
};

/* Returns 0, or -1 if a rate is over IMPAIR_PPM. The queue starts empty. */
int impair_init(struct impair *imp, const struct impair_cfg *cfg);
/* Frees every queued copy; the struct may then be initialised again. */
void impair_free(struct impair *imp);
/* Queue a frame (copied; `frame` is only borrowed). Returns how many copies were queued:
 * 0 (lost, or dropped on overflow), 1, or 2 (duplicated). */
int impair_push(struct impair *imp, const uint8_t *frame, size_t len, uint64_t now);
/* Take the next copy due at `now` into buf. Returns false when none is due. A copy longer
 * than cap is truncated to cap; *len is the length written. */
bool impair_pop(struct impair *imp, uint64_t now, uint8_t *buf, size_t cap, size_t *len);
/* When the next copy is due (possibly already past), or UINT64_MAX when none is queued. */
uint64_t impair_next_deadline(const struct impair *imp);
/* How many copies are queued. */
size_t impair_queued(const struct impair *imp);
/* Does this configuration leave every frame alone (no loss, dup, corruption, delay)? */
bool impair_is_clean(const struct impair_cfg *cfg);

/*
 * The text form shared by tools and tests: comma-separated key=value, e.g.
 *     loss=5%,dup=1%,corrupt=0.5%,reorder=2%,delay=2ms,jitter=1ms,seed=7
 * Keys: loss dup corrupt reorder (a percentage: "5%", "0.25%", or "5" meaning 5%, at most
 * 100%, to 1 ppm), delay jitter reorder_delay (a time with a unit: ns us ms s, e.g. "1.5ms";
 * a bare "0" is allowed), seed limit corrupt_offset (unsigned integers; seed also in 0x hex).
 * The cfg is reset to all zero first, so "" is a clean link. Returns 0, or -1 with a
 * message naming the offending item in err.
 */
int impair_parse(const char *spec, struct impair_cfg *cfg, char *err, size_t errlen);
/* The inverse, for logs: writes a spec impair_parse accepts (all keys that are non-zero). */
void impair_format(const struct impair_cfg *cfg, char *buf, size_t len);

#endif
