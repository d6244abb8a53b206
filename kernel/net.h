/*
 * net.h — the guest's network: the first virtio-net device, driven by lib/virtio, under
 * the netstack node, in one task.
 *
 * The device interrupt (through the I/O APIC) only acknowledges, turns RX interrupts off
 * and wakes the network task; the task polls frames into the node in batches (NAPI-like:
 * it keeps polling while the ring keeps filling and re-enables interrupts only when it is
 * empty), runs the node's timers, and sleeps until the next deadline or interrupt. At
 * start it announces its address and pings its gateway once, logging the round trip; that
 * check never delays anything else.
 */
#ifndef KERNEL_NET_H
#define KERNEL_NET_H

#include <stdint.h>

#include "cmdline.h"
#include "devices.h"

/* Bind the first NIC in `devices`, if any; logs what it found. */
void net_start(const struct cmdline *cmd, const struct device_list *devices);
/* Log the counters of every layer, NIC to HTTP, as "stats: ..." lines (the console's
 * stats command). */
void net_report(void);
/* Pages taken for connection slots never used yet: the TCP and HTTP tables are sized to
 * memory and allocated whole at boot but touched only as connections first use their
 * slots, so these hold nothing (the console's mem command reports them). */
uint64_t net_reserved_pages(void);

#endif
