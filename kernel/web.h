/*
 * web.h — the guest's web server: the bundled site (linked in section .site by the
 * build), lib/http's server on the node's TCP, and the wall clock for its Date headers.
 * The network task feeds it TCP events and runs its timers with the node's.
 */
#ifndef KERNEL_WEB_H
#define KERNEL_WEB_H

#include <stdbool.h>
#include <stdint.h>

#include "netstack/tcp.h"

/* Open the bundled site and listen on `port` with one HTTP slot per TCP connection. */
bool web_start(struct tcp *tcp, uint16_t port, uint32_t n_conns);
void web_event(struct tcp_conn *c, enum tcp_event ev, void *user, uint64_t now);
void web_poll(uint64_t now);
uint64_t web_next_deadline(void);
/* Log the server's counters as a "stats: http: ..." line. */
void web_report(void);

#endif
