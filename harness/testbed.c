#include "testbed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void record_ping(void *ctx, const struct icmp_ping_result *r)
{
    struct testbed *tb = ctx;
    if (tb->n_pings < TB_MAX_PING_RESULTS)
        tb->pings[tb->n_pings++] = *r;
}

static void record_tcp(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct testbed *tb = ctx;
    if (tb->n_tcp_events < TB_MAX_TCP_EVENTS)
        tb->tcp_events[tb->n_tcp_events++] = (struct tb_tcp_event){c, ev, tb->now};
    if (tb->tcp_hook)
        tb->tcp_hook(tb, c, ev, user);
}

struct node_cfg testbed_default_cfg(void)
{
    return (struct node_cfg){.mac = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}},
                             .addr = NET_IP4(10, 0, 0, 2),
                             .prefix_len = 24,
                             .gateway = NET_IP4(10, 0, 0, 1),
                             .mtu = 1500,
                             .seed = 1,
                             .tcp_conns = TB_TCP_CONNS,
                             .tcp_rx_size = TB_TCP_RING,
                             .tcp_tx_size = TB_TCP_RING};
}

int testbed_init(struct testbed *tb, const struct node_cfg *cfg, uint64_t now)
{
    memset(tb, 0, sizeof(*tb));
    tb->now = now;
    tb->cfg = *cfg;
    if (!tb->cfg.tcp_mem) {
        if (!tb->cfg.tcp_conns)
            tb->cfg.tcp_conns = TB_TCP_CONNS;
        if (!tb->cfg.tcp_rx_size)
            tb->cfg.tcp_rx_size = TB_TCP_RING;
        if (!tb->cfg.tcp_tx_size)
            tb->cfg.tcp_tx_size = TB_TCP_RING;
        tb->cfg.tcp_mem_len = TCP_MEM(tb->cfg.tcp_conns, tb->cfg.tcp_rx_size, tb->cfg.tcp_tx_size);
        /* Poisoned, not zeroed: the kernel gives TCP unzeroed pages, so no slot may be
         * read before tcp_conn_new sets it up. */
        tb->tcp_mem = tb->cfg.tcp_mem = malloc(tb->cfg.tcp_mem_len);
        if (!tb->tcp_mem)
            abort();
        memset(tb->tcp_mem, 0xa5, tb->cfg.tcp_mem_len);
    }
    fake_link_init(&tb->link, &tb->now);
    tb->link.caps = tb->cfg.dev_caps; /* the link does what the node is told it can */
    tb->node = malloc(sizeof(*tb->node)); /* poisoned: node_init must clear what it reads */
    if (!tb->node)
        abort();
    memset(tb->node, 0xa5, sizeof(*tb->node));
    tb->ops = (struct node_ops){.dev = &fake_link_ops, .dev_ctx = &tb->link,
                                .ping_result = record_ping, .tcp_event = record_tcp};
    return node_init(tb->node, &tb->cfg, &tb->ops, tb, now);
}

void testbed_free(struct testbed *tb)
{
    free(tb->node);
    free(tb->tcp_mem);
    tb->tcp_mem = NULL;
    fake_link_free(&tb->link);
    tb->node = NULL;
}

void tb_advance(struct testbed *tb, uint64_t to)
{
    unsigned stuck = 0;
    for (;;) {
        uint64_t d = node_next_deadline(tb->node);
        uint64_t a = tb->app_deadline ? tb->app_deadline(tb) : UINT64_MAX;
        if (a < d)
            d = a;
        if (d > to)
            break;
        /* A deadline that polling at it does not move is a timer that never fires: fail
         * loudly rather than spin (a test would otherwise hang, not fail). */
        if (d <= tb->now && ++stuck > 1000) {
            fprintf(stderr, "testbed: deadline %llu still due after polling at %llu\n",
                    (unsigned long long)d, (unsigned long long)tb->now);
            abort();
        }
        if (d > tb->now) {
            tb->now = d;
            stuck = 0;
        }
        node_poll(tb->node, tb->now);
        if (tb->app_poll)
            tb->app_poll(tb, tb->now);
    }
    if (to > tb->now)
        tb->now = to;
}

void tb_poll(struct testbed *tb, uint64_t at)
{
    tb_advance(tb, at);
    node_poll(tb->node, tb->now);
}

void tb_send(struct testbed *tb, const uint8_t *frame, size_t len, uint64_t at)
{
    tb_advance(tb, at);
    node_input(tb->node, frame, len, tb->now);
}

const struct fake_frame *tb_next(struct testbed *tb)
{
    return fake_link_next(&tb->link);
}
