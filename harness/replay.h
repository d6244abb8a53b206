/*
 * replay.h — feed a capture's inbound frames through the stack and diff what it sends.
 *
 * The capture's frames are split by Ethernet source: frames from the stack's MAC are what
 * it sent when recorded (expected), all others are input. The stack is configured from the
 * sidecar `<capture>.conf` (harness/netcfg.h), booted at the sidecar's `boot` time
 * (default: the first frame's), and its clock follows the capture's timestamps, with every
 * timer that falls due between two frames run at its deadline. Expected and actual frames
 * are then compared in order, field by field (harness/dissect.h); the first difference is
 * reported with its capture frame number, layer and field.
 *
 * Results are git-bisect-run exit codes: REPLAY_MATCH 0, REPLAY_DIFFER 1,
 * REPLAY_CANNOT_RUN 125 (unreadable capture or sidecar, stack refused its configuration).
 */
#ifndef HARNESS_REPLAY_H
#define HARNESS_REPLAY_H

#include <stdbool.h>
#include <stdio.h>

#include "netcfg.h"
#include "pcap_io.h"

enum { REPLAY_MATCH = 0, REPLAY_DIFFER = 1, REPLAY_CANNOT_RUN = 125 };

struct replay_opts {
    const char *write_path; /* optional: the replayed conversation, stack's actual output */
    bool verbose;           /* one line per frame */
};

/* The sidecar path for a capture: x.pcap → x.conf (caller buffer). */
const char *replay_sidecar_path(const char *pcap, char *buf, size_t len);
/* Replay one capture file with its sidecar. Reports to `out`. */
int replay_file(const char *pcap, const struct replay_opts *o, FILE *out);
/* Replay an in-memory capture (tests use this to damage expectations). `name` labels output. */
int replay_capture(const char *name, const struct capture *cap, const struct netcfg *cfg,
                   const struct replay_opts *o, FILE *out);

#endif
