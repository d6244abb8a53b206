#include "net.h"

#include <string.h>

#include "apic.h"
#include "arch.h"
#include "clock.h"
#include "mem.h"
#include "netstack/node.h"
#include "printk.h"
#include "task.h"
#include "trap.h"
#include "http/server.h"
#include "virtio/net.h"
#include "web.h"

#define QUEUE_SIZE 256
#define RX_BUDGET 64 /* frames per poll before others get the CPU */
/* TCP rings: requests are small, responses stream; per connection with its HTTP slot
 * about 34 KiB. The table takes half the free memory, between these bounds. */
#define TCP_RX_RING (8 * 1024)
#define TCP_TX_RING (16 * 1024)
#define TCP_CONNS_MIN 64
#define TCP_CONNS_MAX 4096
/* TSO buffers (64 KiB each) when the NIC segments for us: enough bursts in flight to
 * keep a tap busy, out of at most 1/32 of the free memory. */
#define TSO_BUFS_MAX 16

struct netif {
    struct virtio_mmio transport;
    struct vnet vnet;
    struct node *node;
    struct task task;
    struct node_ops node_ops;
    struct vnet_ops vnet_ops;
    net_ip4 gateway;
    bool pinged;
    bool up; /* the task runs: the counters below mean something */
};

static struct netif nif;

static uint64_t identity_phys(void *ctx, const void *p)
{
    (void)ctx;
    return (uint64_t)(uintptr_t)p; /* all RAM is identity-mapped */
}

static void rx_frame(void *ctx, const uint8_t *frame, size_t len)
{
    struct netif *n = ctx;
    node_input(n->node, frame, len, clock_ns());
}

static void ping_result(void *ctx, const struct icmp_ping_result *r)
{
    (void)ctx;
    char ip[16];
    kfmt_ip4(r->peer, ip, sizeof(ip));
    if (r->status == ICMP_PING_REPLY)
        klog("network", "gateway %s replied in %lu.%03lu ms", ip, r->rtt_ns / 1000000,
             r->rtt_ns / 1000 % 1000);
    else
        klog("network", "gateway %s did not reply (%s)", ip,
             r->status == ICMP_PING_TIMEOUT ? "timeout" : "unreachable");
}

static void tcp_event(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    (void)ctx;
    web_event(c, ev, user, clock_ns());
}

static uint64_t free_memory(void)
{
    const struct mem_stats *m = mem_stats();
    return m->total_bytes - m->pages_used * PAGE_SIZE;
}

static uint16_t tso_bufs_for_memory(void)
{
    uint64_t n = free_memory() / 32 / VNET_TSO_BUF_SIZE;
    return (uint16_t)(n < TSO_BUFS_MAX ? n : TSO_BUFS_MAX);
}

/* As many connections as half the free memory holds, within bounds. */
static uint32_t tcp_conns_for_memory(void)
{
    uint64_t free_bytes = free_memory();
    uint64_t per = TCP_MEM(1, TCP_RX_RING, TCP_TX_RING) + sizeof(struct http_conn);
    uint64_t n = free_bytes / 2 / per;
    return (uint32_t)(n < TCP_CONNS_MIN ? TCP_CONNS_MIN : n > TCP_CONNS_MAX ? TCP_CONNS_MAX : n);
}

static void on_irq(const struct trap_frame *f, void *ctx)
{
    (void)f;
    struct netif *n = ctx;
    vnet_irq(&n->vnet);
    vnet_disable_rx_interrupts(&n->vnet);
    task_wake(&n->task);
}

static void net_task(void *arg)
{
    struct netif *n = arg;
    uint64_t now = clock_ns();
    node_start(n->node, now); /* gratuitous ARP */
    if (n->gateway && node_ping(n->node, n->gateway, 1, 56, now) == 0)
        n->pinged = true;
    for (;;) {
        size_t got = vnet_poll(&n->vnet, RX_BUDGET);
        now = clock_ns();
        node_poll(n->node, now);
        web_poll(now);
        if (got == RX_BUDGET) {
            task_yield(); /* busy: stay in polling mode, but let others run */
            continue;
        }
        cli();
        /* A connection waiting for a transmit buffer needs the device's word when one
         * comes back, or it would wait for the next frame or timer. */
        bool tx_wait = node_tx_blocked(n->node);
        if (!vnet_enable_rx_interrupts(&n->vnet) ||
            (tx_wait && !vnet_enable_tx_interrupts(&n->vnet))) {
            sti(); /* frames or buffers came back while re-enabling: poll them now */
            continue;
        }
        /* Sleep until the node's next timer or the device's interrupt (task_wake). */
        uint64_t wake = node_next_deadline(n->node);
        uint64_t web = web_next_deadline();
        wake = web < wake ? web : wake;
        task_sleep_until(wake);
        sti();
        if (tx_wait)
            vnet_disable_tx_interrupts(&n->vnet);
    }
}

void net_start(const struct cmdline *cmd, const struct device_list *devices)
{
    const struct mmio_device *dev = NULL;
    for (unsigned i = 0; i < devices->n && !dev; i++)
        if (devices->dev[i].transport.device_id == VIRTIO_ID_NET)
            dev = &devices->dev[i];
    if (!dev) {
        klog("network", "no virtio-net device: the guest is offline");
        klog("http", "port %u: no network, not serving", cmd->port);
        return;
    }
    struct netif *n = &nif;
    n->transport = dev->transport; /* probed during discovery; no need to ask again */
    uint16_t tso_bufs = tso_bufs_for_memory();
    size_t bytes = vnet_mem_bytes(QUEUE_SIZE, tso_bufs);
    /* Unzeroed: the driver clears the rings itself and every buffer is written before it
     * is read, and node_init clears the node (under PVM, zeroing these would cost more
     * than the rest of boot). */
    void *dma = pages_alloc_unzeroed((bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    n->node = pages_alloc_unzeroed((sizeof(struct node) + PAGE_SIZE - 1) / PAGE_SIZE);
    if (!dma || !n->node) {
        klog("network", "out of memory for the NIC's rings and the stack");
        return;
    }
    n->vnet_ops = (struct vnet_ops){.phys = identity_phys, .rx = rx_frame};
    struct vnet_cfg vcfg = {.mem = dma, .mem_len = bytes, .queue_size = QUEUE_SIZE,
                            .tso_bufs = tso_bufs};
    int rc = vnet_init(&n->vnet, &n->transport, &vcfg, &n->vnet_ops, n);
    if (rc < 0) {
        klog("network", "virtio-net at %lx refused initialisation (%d)", dev->base, rc);
        return;
    }
    char mac[18];
    const uint8_t *m = n->vnet.mac.b;
    ksnprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
              m[5]);
    struct net_dev_caps caps = vnet_caps(&n->vnet);
    klog("network", "virtio-net %s, %s transport, %u-entry queues, features %lx, link %s, "
         "offloads %s", mac, n->transport.version == 1 ? "legacy" : "modern", n->vnet.qsize,
         n->transport.features, n->vnet.link_up ? "up" : "down",
         caps.tso_max ? "checksum+TSO" : caps.tx_csum ? "checksum" : "none");

    n->node_ops = (struct node_ops){.dev = &vnet_dev_ops, .dev_ctx = &n->vnet,
                                    .ping_result = ping_result, .tcp_event = tcp_event};
    uint32_t conns = tcp_conns_for_memory();
    size_t tcp_bytes = TCP_MEM(conns, TCP_RX_RING, TCP_TX_RING);
    void *tcp_mem = pages_alloc_unzeroed((tcp_bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    if (!tcp_mem) {
        klog("network", "out of memory for %u TCP connections", conns);
        return;
    }
    struct node_cfg ncfg = {.mac = n->vnet.mac, .addr = cmd->ip, .prefix_len = cmd->prefix_len,
                            .gateway = cmd->gw, .mtu = 1500,
                            .seed = cmd->has_seed ? cmd->seed : rdtsc(), .dev_caps = caps,
                            .tcp_mem = tcp_mem, .tcp_mem_len = tcp_bytes,
                            .tcp_conns = conns, .tcp_rx_size = TCP_RX_RING,
                            .tcp_tx_size = TCP_TX_RING};
    if (node_init(n->node, &ncfg, &n->node_ops, n, clock_ns()) != NET_OK) {
        klog("network", "the stack refused this configuration");
        return;
    }
    web_start(&n->node->tcp, cmd->port, conns); /* the site, on the node's TCP */
    n->gateway = cmd->gw;
    uint8_t vector = (uint8_t)(VEC_DEVICE_BASE + dev->gsi);
    trap_set_handler(vector, on_irq, n);
    if (!ioapic_route(dev->gsi, vector)) {
        klog("network", "no I/O APIC input %u for the NIC", dev->gsi);
        return;
    }
    if (task_spawn(&n->task, "net", net_task, n) == 0)
        n->up = true;
}

/* Read while the network task may be between two increments of a counter: each is one
 * aligned 64-bit word, so a line can be a frame behind, never torn. */
uint64_t net_reserved_pages(void)
{
    const struct netif *n = &nif;
    if (!n->up)
        return 0;
    const struct tcp *tcp = &n->node->tcp;
    /* HTTP's state for slot i is first written when TCP's slot i first holds a connection. */
    uint64_t bytes = tcp_untouched_bytes(tcp) +
                     (uint64_t)tcp_slots_never_used(tcp) * sizeof(struct http_conn);
    return bytes / PAGE_SIZE;
}

void net_report(void)
{
    const struct netif *n = &nif;
    if (!n->up) {
        klog("stats", "network: offline");
        return;
    }
    const struct vnet_stats *v = &n->vnet.stats;
    klog("stats", "nic: rx %lu frames, tx %lu frames, %lu interrupts, %lu tx kicks, "
         "%lu tx ring full, %lu rx runts", v->rx_frames, v->tx_frames, v->irqs, v->tx_kicks,
         v->tx_full, v->rx_runts);
    const struct eth_stats *e = &n->node->eth.stats;
    klog("stats", "eth: rx %lu, tx %lu, dropped %lu not for us, %lu malformed, %lu other "
         "types, %lu no tx buffer", e->rx_frames, e->tx_frames,
         e->rx_not_for_us + e->rx_multicast, e->rx_runt + e->rx_oversize + e->rx_bad_src,
         e->rx_vlan + e->rx_llc + e->rx_unknown_type, e->tx_no_buffer);
    const struct arp_stats *a = &n->node->arp.stats;
    klog("stats", "arp: rx %lu, tx %lu requests %lu replies, %lu failed resolutions, %lu "
         "queued packets dropped", a->rx_packets, a->tx_requests, a->tx_replies,
         a->resolve_failed, a->queue_dropped);
    const struct ipv4_stats *ip = &n->node->ip.stats;
    uint64_t ip_bad = ip->rx_truncated + ip->rx_bad_version + ip->rx_bad_ihl +
                      ip->rx_bad_length + ip->rx_bad_checksum + ip->rx_bad_options +
                      ip->rx_bad_flags + ip->rx_bad_ttl + ip->rx_bad_src;
    klog("stats", "ip: rx %lu, tx %lu, dropped %lu malformed, %lu not for us, %lu unknown "
         "protocol; fragments %lu in, %lu reassembled, %lu dropped", ip->rx_packets,
         ip->tx_packets, ip_bad, ip->rx_not_for_us, ip->rx_unknown_proto, ip->frag_rx,
         ip->frag_reassembled, ip->frag_bad + ip->frag_overlap + ip->frag_too_big +
         ip->frag_timeout + ip->frag_evicted);
    const struct icmp_stats *ic = &n->node->icmp.stats;
    klog("stats", "icmp: rx %lu, echo requests %lu answered %lu, %lu malformed", ic->rx_packets,
         ic->rx_echo_requests, ic->tx_echo_replies, ic->rx_truncated + ic->rx_bad_checksum);
    const struct tcp *tcp = &n->node->tcp;
    const struct tcp_stats *t = &tcp->stats;
    klog("stats", "tcp: %u connections now (+%u in TIME_WAIT), %lu opened, %lu closed, %lu "
         "refused (table full), %lu timed out, %lu TIME_WAIT ended early", tcp_conns_in_use(tcp),
         tcp_time_wait_count(tcp), t->opened, t->closed, t->table_full, t->timeouts,
         t->time_wait_evicted);
    klog("stats", "tcp: rx %lu segments (%lu predicted), tx %lu (%lu TSO bursts), retransmits "
         "%lu + %lu fast, resets rx %lu tx %lu, %lu sends waited for the device",
         t->rx_segments, t->rx_predicted, t->tx_segments, t->tx_bursts, t->retransmits,
         t->fast_retransmits, t->rx_resets, t->tx_resets, t->tx_blocked);
    klog("stats", "tcp: dropped %lu malformed, %lu out of window, %lu old timestamps, %lu "
         "out-of-order; syn cookies %lu sent %lu ok %lu bad",
         t->rx_truncated + t->rx_bad_checksum + t->rx_bad_options + t->rx_bad_port +
         t->rx_bad_addr, t->rx_unacceptable, t->rx_paws, t->rx_ooo_dropped,
         t->syn_cookies_sent, t->syn_cookies_ok, t->syn_cookies_bad);
    web_report();
}
