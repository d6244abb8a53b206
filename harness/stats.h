/* stats.h — print every counter of a node, one "layer.counter=value" per line, non-zero only
 * unless `all`. Used by the tap runner on exit and by anyone debugging a replay. */
#ifndef HARNESS_STATS_H
#define HARNESS_STATS_H

#include <stdbool.h>
#include <stdio.h>

#include "netstack/node.h"

void stats_print(FILE *out, const struct node *n, bool all);
/* The value of one counter by name ("ipv4.rx_bad_checksum"), or -1 if no such counter. */
long long stats_get(const struct node *n, const char *name);

#endif
