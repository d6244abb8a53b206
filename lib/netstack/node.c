#include "netstack/node.h"

#include <string.h>

/* Upward demux: Ethernet payload by EtherType. */
static bool eth_deliver(void *ctx, const struct eth_repr *hdr, const uint8_t *payload, size_t len,
                        uint64_t now)
{
    struct node *n = ctx;
    switch (hdr->type) {
    case ETH_TYPE_ARP:
        arp_input(&n->arp, payload, len, now);
        return true;
    case ETH_TYPE_IPV4:
        ipv4_input(&n->ip, payload, len, net_mac_is_broadcast(&hdr->dst), now);
        return true;
    default:
        return false;
    }
}

/* Upward demux: IP payload by protocol. Unknown protocols are refused (RFC 1122 3.2.2.1). */
static bool ip_deliver(void *ctx, const struct ipv4_repr *r, const uint8_t *hdr,
                       const uint8_t *payload, size_t len, uint64_t now)
{
    struct node *n = ctx;
    switch (r->proto) {
    case IPV4_PROTO_ICMP:
        icmp_input(&n->icmp, r, payload, len, now);
        return true;
    case IPV4_PROTO_TCP:
        tcp_input(&n->tcp, r, payload, len, now);
        return true;
    default:
        icmp_send_error(&n->icmp, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, r, hdr, payload, len,
                        now);
        return false;
    }
}

static void ip_frag_timeout(void *ctx, const struct ipv4_repr *r, const uint8_t *hdr,
                            const uint8_t *data, size_t len, uint64_t now)
{
    struct node *n = ctx;
    icmp_send_error(&n->icmp, ICMP_TIME_EXCEEDED, ICMP_EXC_REASSEMBLY, r, hdr, data, len, now);
}

/* Downward: each layer reaches the one below through these. */
static uint8_t *link_reserve(void *ctx, size_t len)
{
    struct node *n = ctx;
    return eth_reserve(&n->eth, len);
}

static void link_send(void *ctx, uint8_t *payload, size_t len, const struct net_mac *dst,
                      uint16_t type, const struct net_offload *off)
{
    struct node *n = ctx;
    eth_send(&n->eth, payload, len, dst, type, off);
}

static void ip_output(void *ctx, net_ip4 next_hop, uint8_t *pkt, size_t len,
                      const struct net_offload *off, uint64_t now)
{
    struct node *n = ctx;
    arp_output(&n->arp, next_hop, pkt, len, off, now);
}

static int ip_send(void *ctx, const struct ipv4_tx *tx, const struct net_iov *iov, size_t cnt,
                   uint64_t now)
{
    struct node *n = ctx;
    return ipv4_send(&n->ip, tx, iov, cnt, now);
}

/* Upward: ICMP errors about our segments, and TCP's events for the application. */
static void icmp_error(void *ctx, const struct icmp_error *e, uint64_t now)
{
    struct node *n = ctx;
    if (e->quoted.proto == IPV4_PROTO_TCP)
        tcp_icmp_error(&n->tcp, e, now);
}

static void tcp_event(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct node *n = ctx;
    if (n->ops->tcp_event)
        n->ops->tcp_event(n->ctx, c, ev, user);
}

static void ping_result(void *ctx, const struct icmp_ping_result *r)
{
    struct node *n = ctx;
    if (n->ops->ping_result)
        n->ops->ping_result(n->ctx, r);
}

int node_init(struct node *n, const struct node_cfg *cfg, const struct node_ops *ops, void *ctx,
              uint64_t now)
{
    if (!cfg || !ops || !ops->dev || (cfg->mtu && cfg->mtu > NODE_MTU_MAX))
        return NET_EINVAL;
    memset(n, 0, offsetof(struct node, arp_queue)); /* the queues' storage needs no clearing */
    n->ops = ops;
    n->ctx = ctx;
    uint16_t mtu = cfg->mtu ? cfg->mtu : ETH_DEFAULT_MTU;
    int rc;

    /* Link: frames to and from the device. */
    n->eth_ops = (struct eth_ops){.dev = ops->dev, .dev_ctx = ops->dev_ctx, .deliver = eth_deliver};
    struct net_dev_caps caps = cfg->dev_caps;
    if (!caps.tx_csum)
        caps.tso_max = 0; /* TSO needs the device to finish each segment's checksum */
    struct eth_cfg eth_cfg = {.mac = cfg->mac, .mtu = mtu, .caps = caps};
    if ((rc = eth_init(&n->eth, &eth_cfg, &n->eth_ops, n)) < 0)
        return rc;

    /* Neighbours: IPv4 next hop → MAC, with a queue for packets awaiting resolution. */
    n->arp_ops = (struct arp_ops){.reserve = link_reserve, .send = link_send};
    struct arp_cfg arp_cfg = {.ip = cfg->addr, .mac = cfg->mac,
                              .entries = n->arp_entries, .n_entries = NODE_ARP_ENTRIES,
                              .pending = n->arp_pending, .n_pending = NODE_ARP_PENDING,
                              .pending_mem = n->arp_queue, .pending_slot = NODE_MTU_MAX};
    if ((rc = arp_init(&n->arp, &arp_cfg, &n->arp_ops, n)) < 0)
        return rc;

    /* Network: validation, routing, fragmentation and reassembly. */
    n->ip_ops = (struct ipv4_ops){.reserve = link_reserve, .output = ip_output,
                                  .deliver = ip_deliver, .frag_timeout = ip_frag_timeout};
    struct ipv4_cfg ip_cfg = {.addr = cfg->addr, .prefix_len = cfg->prefix_len,
                              .gateway = cfg->gateway, .mtu = mtu, .seed = cfg->seed,
                              .frag_slots = n->frag_slots, .n_frag_slots = NODE_FRAG_SLOTS,
                              .frag_mem = n->frag_mem, .frag_slot_size = NODE_FRAG_SIZE};
    if ((rc = ipv4_init(&n->ip, &ip_cfg, &n->ip_ops, n)) < 0)
        return rc;

    /* Control: echo, errors, pings. */
    n->icmp_ops = (struct icmp_ops){.send = ip_send, .ping_result = ping_result,
                                    .error = icmp_error};
    struct icmp_cfg icmp_cfg = {.addr = cfg->addr, .seed = cfg->seed, .pings = n->pings,
                                .n_pings = NODE_PINGS};
    if ((rc = icmp_init(&n->icmp, &icmp_cfg, &n->icmp_ops, n, now)) < 0)
        return rc;

    /* Transport: connections for the application. */
    n->tcp_ops = (struct tcp_ops){.send = ip_send, .event = tcp_event};
    struct tcp_cfg tcp_cfg = {0};
    if (cfg->tcp_tune)
        tcp_cfg = *cfg->tcp_tune;
    tcp_cfg.addr = cfg->addr;
    tcp_cfg.seed = cfg->seed;
    tcp_cfg.mss = (uint16_t)(mtu - IPV4_HDR_LEN - TCP_HDR_LEN);
    tcp_cfg.csum_offload = caps.tx_csum;
    if (caps.tso_max > (uint32_t)ETH_HDR_LEN + mtu) { /* an IP length has 16 bits */
        uint32_t seg = caps.tso_max - ETH_HDR_LEN - IPV4_HDR_LEN;
        uint32_t most = IPV4_MAX_LEN - IPV4_HDR_LEN;
        tcp_cfg.tso_max = seg < most ? seg : most;
    }
    tcp_cfg.mem = cfg->tcp_mem;
    tcp_cfg.mem_len = cfg->tcp_mem_len;
    tcp_cfg.n_conns = cfg->tcp_conns;
    tcp_cfg.rx_size = cfg->tcp_rx_size;
    tcp_cfg.tx_size = cfg->tcp_tx_size;
    tcp_cfg.listeners = n->listeners;
    tcp_cfg.n_listeners = NODE_TCP_LISTENERS;
    return tcp_init(&n->tcp, &tcp_cfg, &n->tcp_ops, n, now);
}

void node_start(struct node *n, uint64_t now)
{
    arp_announce(&n->arp, now);
}

void node_input(struct node *n, const uint8_t *frame, size_t len, uint64_t now)
{
    eth_input(&n->eth, frame, len, now);
}

void node_poll(struct node *n, uint64_t now)
{
    arp_poll(&n->arp, now);
    ipv4_poll(&n->ip, now);
    icmp_poll(&n->icmp, now);
    tcp_poll(&n->tcp, now);
}

uint64_t node_next_deadline(const struct node *n)
{
    uint64_t d = arp_next_deadline(&n->arp);
    uint64_t t = ipv4_next_deadline(&n->ip);
    if (t < d)
        d = t;
    t = icmp_next_deadline(&n->icmp);
    if (t < d)
        d = t;
    t = tcp_next_deadline(&n->tcp);
    return t < d ? t : d;
}

bool node_tx_blocked(const struct node *n)
{
    return tcp_tx_blocked(&n->tcp);
}

int node_ping(struct node *n, net_ip4 dst, uint16_t seq, size_t len, uint64_t now)
{
    return icmp_ping(&n->icmp, dst, seq, len, now);
}
