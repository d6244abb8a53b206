/*
 * netcfg.h — the text form of a node's configuration, shared by the tap runner's command
 * line and the sidecar file next to each capture (`<capture>.conf`):
 *
 *     mac=52:54:00:12:34:56
 *     ip=10.0.0.2/24
 *     gw=10.0.0.1
 *     mtu=1500
 *     seed=1
 *     boot=1732430000123456789      # capture timestamp (ns) at which the stack started
 *     ping=1500000000,10.0.0.1,1,56 # at 1.5 s after boot the application pinged 10.0.0.1
 *                                   # with sequence 1 and 56 bytes (one line per ping)
 *
 *     serve=echo:7                  # a TCP service (harness/services.h), one line each
 *     tcp=4096,16384                # TCP connections and ring bytes (default 64,65536)
 *
 *     inbound=34                    # capture frame 34 came in although its source is
 *                                   # our MAC (a spoof); direction is otherwise by source
 *
 * Actions (ping=) are what the application above the stack did; the tap runner appends
 * them as they happen and replay performs them at the same instants.
 * Lines are key=value; `#` starts a comment. Unknown keys are an error, so a typo cannot
 * silently change what a replay tests.
 */
#ifndef HARNESS_NETCFG_H
#define HARNESS_NETCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/node.h"
#include "services.h"

enum netcfg_action_kind { ACTION_PING };

struct netcfg_action {
    enum netcfg_action_kind kind;
    uint64_t at_ns; /* since boot */
    net_ip4 dst;
    uint16_t seq;
    uint16_t size;
};

#define NETCFG_MAX_ACTIONS 1024

struct netcfg {
    struct node_cfg node;
    uint64_t boot_ns;
    bool has_boot;
    struct netcfg_action actions[NETCFG_MAX_ACTIONS];
    size_t n_actions;
    uint32_t inbound[NETCFG_MAX_ACTIONS]; /* 1-based frame numbers, ascending */
    size_t n_inbound;
    struct service services[SERVICES_MAX];
    size_t n_services;
};

#define NETCFG_TCP_CONNS 64
#define NETCFG_TCP_RING 65536

void netcfg_defaults(struct netcfg *c);
/* Apply one "key=value"; returns -1 with a message in err. */
int netcfg_set(struct netcfg *c, const char *kv, char *err, size_t errlen);
int netcfg_load(const char *path, struct netcfg *c, char *err, size_t errlen);
int netcfg_save(const char *path, const struct netcfg *c, char *err, size_t errlen);
/* Does capture frame `frame` (1-based) appear in an inbound= line? */
bool netcfg_is_inbound(const struct netcfg *c, size_t frame);
/* Append one line ("inbound=N", say) to a saved sidecar. */
int netcfg_append_line(const char *path, const char *line, char *err, size_t errlen);
/* Append one action line to a saved sidecar. */
int netcfg_append_action(const char *path, const struct netcfg_action *a, char *err,
                         size_t errlen);

int parse_ip4(const char *s, net_ip4 *out);
int parse_mac(const char *s, struct net_mac *out);
/* Formatting into caller buffers (16 and 18 bytes are enough). */
const char *fmt_ip4(net_ip4 a, char *buf, size_t len);
const char *fmt_mac(const struct net_mac *m, char *buf, size_t len);

#endif
