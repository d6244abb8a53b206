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
 *
 * Lines are key=value; `#` starts a comment. Unknown keys are an error, so a typo cannot
 * silently change what a replay tests.
 */
#ifndef HARNESS_NETCFG_H
#define HARNESS_NETCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstack/node.h"

struct netcfg {
    struct node_cfg node;
    uint64_t boot_ns;
    bool has_boot;
};

void netcfg_defaults(struct netcfg *c);
/* Apply one "key=value"; returns -1 with a message in err. */
int netcfg_set(struct netcfg *c, const char *kv, char *err, size_t errlen);
int netcfg_load(const char *path, struct netcfg *c, char *err, size_t errlen);
int netcfg_save(const char *path, const struct netcfg *c, char *err, size_t errlen);

int parse_ip4(const char *s, net_ip4 *out);
int parse_mac(const char *s, struct net_mac *out);
/* Formatting into caller buffers (16 and 18 bytes are enough). */
const char *fmt_ip4(net_ip4 a, char *buf, size_t len);
const char *fmt_mac(const struct net_mac *m, char *buf, size_t len);

#endif
