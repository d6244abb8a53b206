#include "stats.h"

#include <string.h>

#define ETH_STATS(X) X(rx_frames) X(rx_runt) X(rx_oversize) X(rx_not_for_us) X(rx_multicast) \
    X(rx_bad_src) X(rx_vlan) X(rx_llc) X(rx_unknown_type) X(tx_frames) X(tx_no_buffer)
#define ARP_STATS(X) X(rx_packets) X(rx_truncated) X(rx_bad_format) X(rx_bad_op)             \
    X(rx_bad_sender) X(rx_conflict) X(rx_not_for_us) X(learned) X(updated) X(evicted)          \
    X(expired) X(resolve_failed) X(queue_dropped) X(tx_requests) X(tx_replies)                 \
    X(tx_announcements) X(tx_no_buffer)
#define IPV4_STATS(X) X(rx_packets) X(rx_truncated) X(rx_bad_version) X(rx_bad_ihl)          \
    X(rx_bad_length) X(rx_bad_checksum) X(rx_bad_options) X(rx_bad_flags) X(rx_bad_ttl)       \
    X(rx_bad_src) X(rx_not_for_us) X(rx_unknown_proto) X(frag_rx) X(frag_reassembled)         \
    X(frag_bad) X(frag_dup) X(frag_overlap) X(frag_too_big) X(frag_timeout) X(frag_evicted)   \
    X(tx_packets) X(tx_fragments) X(tx_no_route) X(tx_too_big) X(tx_no_buffer)
#define ICMP_STATS(X) X(rx_packets) X(rx_truncated) X(rx_bad_checksum) X(rx_echo_requests)   \
    X(rx_broadcast_echo) X(rx_echo_replies) X(rx_unmatched_replies) X(rx_errors)              \
    X(rx_bad_errors) X(rx_unsupported) X(tx_echo_replies) X(tx_echo_requests) X(tx_errors)    \
    X(tx_rate_limited) X(tx_suppressed) X(tx_failed) X(ping_timeouts)
#define TCP_STATS(X) X(rx_segments) X(rx_predicted) X(rx_truncated) X(rx_bad_checksum) \
    X(rx_bad_options) X(rx_bad_port) X(rx_bad_addr) X(rx_no_conn) X(rx_unacceptable) \
    X(rx_bad_ack) X(rx_paws) X(rx_ooo) X(rx_ooo_dropped) X(rx_dup_bytes) X(rx_after_close) \
    X(rx_resets) X(rx_bad_resets) X(challenge_acks) X(challenge_acks_limited) \
    X(syn_queue_full) X(syn_cookies_sent) X(syn_cookies_ok) X(syn_cookies_bad) X(table_full) \
    X(time_wait_evicted) X(time_wait_reopened) X(tx_segments) X(tx_resets) X(tx_failed) \
    X(retransmits) X(fast_retransmits) X(zero_window_probes) X(keepalive_probes) X(timeouts) \
    X(opened) X(closed)

struct counter {
    const char *name;
    unsigned long long value;
};

#define MAX_COUNTERS 160

static size_t collect(const struct node *n, struct counter *c)
{
    size_t k = 0;
#define ADD(layer, st) c[k++] = (struct counter){layer, (unsigned long long)(st)};
#define E(f) ADD("eth." #f, n->eth.stats.f)
#define A(f) ADD("arp." #f, n->arp.stats.f)
#define I(f) ADD("ipv4." #f, n->ip.stats.f)
#define C(f) ADD("icmp." #f, n->icmp.stats.f)
#define T(f) ADD("tcp." #f, n->tcp.stats.f)
    ETH_STATS(E) ARP_STATS(A) IPV4_STATS(I) ICMP_STATS(C) TCP_STATS(T)
#undef E
#undef A
#undef I
#undef C
#undef T
#undef ADD
    return k;
}

void stats_print(FILE *out, const struct node *n, bool all)
{
    struct counter c[MAX_COUNTERS];
    size_t k = collect(n, c);
    for (size_t i = 0; i < k; i++)
        if (all || c[i].value)
            fprintf(out, "%s=%llu\n", c[i].name, c[i].value);
}

long long stats_get(const struct node *n, const char *name)
{
    struct counter c[MAX_COUNTERS];
    size_t k = collect(n, c);
    for (size_t i = 0; i < k; i++)
        if (strcmp(c[i].name, name) == 0)
            return (long long)c[i].value;
    return -1;
}
