/*
 * testbed.h — a whole node on a fake link with a fake clock: what unit tests and the
 * replay tool drive. The node is heap-allocated (it carries ~270 KiB of reassembly
 * storage); testbed_free releases it.
 *
 * Conversation helpers keep protocol tests readable:
 *     tb_send(tb, frame, len, at_ns);      a frame arrives at time `at_ns`
 *     f = tb_next(tb);                      the next frame the stack sent, NULL if none
 *     cr_assert_null(tb_next(tb));          (in a test) the stack sent nothing more
 *     tb_advance(tb, to_ns);                run every timer due up to `to_ns`
 *     tb_poll(tb, at_ns);                   ...then poll once more at `at_ns`, as the kernel
 *                                           does when the device has room again
 */
#ifndef HARNESS_TESTBED_H
#define HARNESS_TESTBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_link.h"
#include "netstack/node.h"

#define TB_MAX_PING_RESULTS 64
#define TB_MAX_TCP_EVENTS 1024
/* TCP table when the cfg brings none: small rings make window behaviour easy to reach. */
#define TB_TCP_CONNS 8
#define TB_TCP_RING 8192

struct tb_tcp_event {
    struct tcp_conn *conn;
    enum tcp_event ev;
    uint64_t at;
};

struct testbed;
typedef void tb_tcp_hook(struct testbed *tb, struct tcp_conn *c, enum tcp_event ev, void *user);

struct testbed {
    uint64_t now;
    struct fake_link link;
    struct node *node;
    struct node_ops ops;
    struct node_cfg cfg;
    struct icmp_ping_result pings[TB_MAX_PING_RESULTS];
    size_t n_pings;
    void *tcp_mem; /* allocated here when the cfg brought none */
    struct tb_tcp_event tcp_events[TB_MAX_TCP_EVENTS]; /* every TCP event, in order */
    size_t n_tcp_events;
    tb_tcp_hook *tcp_hook; /* optional: a test's application, called after logging */
    void *hook_ctx;
    /* optional: the application's own timers, run by tb_advance with the node's */
    void (*app_poll)(struct testbed *tb, uint64_t now);
    uint64_t (*app_deadline)(struct testbed *tb);
};

/* Returns the node_init result; the testbed is usable only when it is NET_OK. */
int testbed_init(struct testbed *tb, const struct node_cfg *cfg, uint64_t now);
void testbed_free(struct testbed *tb);
/* Default test configuration: 52:54:00:12:34:56, 10.0.0.2/24, gateway 10.0.0.1, seed 1,
 * TB_TCP_CONNS connections with TB_TCP_RING-byte rings (memory from testbed_init). */
struct node_cfg testbed_default_cfg(void);

void tb_send(struct testbed *tb, const uint8_t *frame, size_t len, uint64_t at);
/* Run node_poll at every deadline up to and including `to`, then set the clock to `to`. */
void tb_advance(struct testbed *tb, uint64_t to);
void tb_poll(struct testbed *tb, uint64_t at);
/* Next frame sent, or NULL if none (tests assert on the result). */
const struct fake_frame *tb_next(struct testbed *tb);

#endif
