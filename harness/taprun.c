/*
 * taprun — the Quartz stack as a host process on a Linux tap device.
 *
 *     taprun [--tap NAME | --udp-local PORT --udp-remote PORT] [--pcap FILE]
 *            [--ping ADDR [--count N] [--size N] [--interval MS]] [--duration SEC] [-v]
 *            [key=value ...]
 *
 * key=value are the node settings of harness/netcfg.h (mac=, ip=A.B.C.D/N, gw=, mtu=, seed=,
 * tcp=CONNS,RING) and the TCP services to run (serve=echo:7 serve=source:19:1000000 ...).
 * People ping and arping it; tests and scripts/record-fixtures.sh record fixtures with
 * --pcap, which captures every frame in and out and writes the replay sidecar beside it.
 * Runs until SIGINT/SIGTERM, --duration, or (without --duration) the last --ping result;
 * prints counters on exit. With --udp-local/--udp-remote the link is UDP on 127.0.0.1 instead
 * of a tap, one frame per datagram (harness/udplink.h): the far side of harness/relay.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dissect.h"
#include "netcfg.h"
#include "pcap_io.h"
#include "replay.h"
#include "stats.h"
#include "tap.h"
#include "udplink.h"

#define FRAME_MAX 65536

struct runner {
    int fd;
    uint64_t mono0, real0; /* clocks at boot: now = mono - mono0; pcap time = real0 + now */
    struct pcap_writer *pcap;
    char conf[4096]; /* sidecar of the capture, where actions are appended */
    bool verbose;
    uint64_t frames; /* written to the capture so far */
    uint8_t txbuf[FRAME_MAX];
    unsigned long long tx_errors;
    uint64_t now;              /* what the stack was last called with: services act at it */
    struct services services;  /* TCP applications */
    /* pinging */
    net_ip4 ping_dst;
    unsigned ping_count, ping_size, ping_sent, ping_done, ping_ok;
    uint64_t ping_interval, ping_next;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(const struct runner *r)
{
    return clock_ns(CLOCK_MONOTONIC) - r->mono0;
}

static void log_frame(struct runner *r, const char *dir, const uint8_t *f, size_t len)
{
    if (!r->verbose)
        return;
    struct dissect_ctx ctx = {0};
    struct dissection d;
    dissect(&ctx, f, len, &d);
    printf("taprun: %s %s\n", dir, d.summary);
}

static uint8_t *dev_reserve(void *ctx, size_t len)
{
    struct runner *r = ctx;
    return len <= sizeof(r->txbuf) ? r->txbuf : NULL;
}

static void dev_commit(void *ctx, uint8_t *frame, size_t len, const struct net_offload *off)
{
    struct runner *r = ctx;
    (void)off; /* the runner offers no offloads (its caps are zero), so none are asked */
    if (r->pcap) {
        pcap_writer_put(r->pcap, r->real0 + now_ns(r), frame, len);
        r->frames++;
    }
    log_frame(r, "out", frame, len);
    ssize_t n = write(r->fd, frame, len);
    if (n != (ssize_t)len) {
        r->tx_errors++;
        fprintf(stderr, "taprun: link write: %s\n", n < 0 ? strerror(errno) : "short write");
    }
}

static const struct net_dev_ops tap_dev = {.reserve = dev_reserve, .commit = dev_commit};

static void on_ping(void *ctx, const struct icmp_ping_result *res)
{
    struct runner *r = ctx;
    char ip[16];
    static const char *status[] = {"reply", "timeout", "unreachable", "corrupt"};
    r->ping_done++;
    if (res->status == ICMP_PING_REPLY) {
        r->ping_ok++;
        printf("taprun: ping %s seq=%u len=%u ttl=%u rtt=%.3f ms\n",
               fmt_ip4(res->peer, ip, sizeof(ip)), res->seq, res->len, res->ttl,
               res->rtt_ns / 1e6);
    } else {
        printf("taprun: ping %s seq=%u %s\n", fmt_ip4(res->peer, ip, sizeof(ip)), res->seq,
               status[res->status]);
    }
    fflush(stdout);
}

static uint64_t next_deadline(const struct runner *r, const struct node *node)
{
    uint64_t d = node_next_deadline(node), a = services_next_deadline(&r->services);
    return a < d ? a : d;
}

/* Run every timer due by `now` at its own deadline, in order, as replay's clock does.
 * The process wakes late (poll has millisecond resolution, the host schedules us when it
 * likes); running a timer at the time it was due, before any later input, keeps what the
 * stack sends — timestamps, delayed ACKs — the same as a replay of the capture. */
static void catch_up(struct runner *r, struct node *node, uint64_t now)
{
    for (;;) {
        uint64_t d = next_deadline(r, node);
        if (d > now)
            break;
        r->now = d > r->now ? d : r->now;
        node_poll(node, r->now);
        services_poll(&r->services, r->now);
        if (next_deadline(r, node) <= r->now)
            break; /* a deadline polling does not move: leave it to the next round */
    }
    r->now = now;
}

static void on_tcp(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    struct runner *r = ctx;
    services_event(&r->services, c, ev, user, r->now);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: taprun [--tap NAME | --udp-local PORT --udp-remote PORT] [--pcap FILE]\n"
            "              [--ping ADDR [--count N] [--size N] [--interval MS]]\n"
            "              [--duration SEC] [-v] [key=value ...]\n"
            "  key=value: mac=52:54:00:12:34:56 ip=10.0.0.2/24 gw=10.0.0.1 mtu=1500 seed=1\n"
            "             tcp=CONNS,RING serve=echo:PORT serve=discard:PORT\n"
            "             serve=source:PORT:BYTES\n");
    return 2;
}

static bool parse_uint(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 1000000)
        return false;
    *out = (unsigned)v;
    return true;
}

int main(int argc, char **argv)
{
    static struct runner r = {.ping_count = 4, .ping_size = 56};
    static struct node node;
    struct netcfg cfg;
    const char *tap = "qz0", *pcap_path = NULL;
    unsigned duration = 0, interval_ms = 1000;
    uint16_t udp_local = 0, udp_remote = 0; /* both set: a UDP link instead of the tap */
    char link[64];
    char err[512];

    netcfg_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--tap") && more)
            tap = argv[++i];
        else if (!strcmp(a, "--udp-local") && more) {
            if (udplink_parse_port(argv[++i], &udp_local) < 0)
                return usage();
        } else if (!strcmp(a, "--udp-remote") && more) {
            if (udplink_parse_port(argv[++i], &udp_remote) < 0)
                return usage();
        } else if (!strcmp(a, "--pcap") && more)
            pcap_path = argv[++i];
        else if (!strcmp(a, "--ping") && more) {
            if (parse_ip4(argv[++i], &r.ping_dst) < 0)
                return usage();
        } else if (!strcmp(a, "--count") && more) {
            if (!parse_uint(argv[++i], &r.ping_count))
                return usage();
        } else if (!strcmp(a, "--size") && more) {
            if (!parse_uint(argv[++i], &r.ping_size))
                return usage();
        } else if (!strcmp(a, "--interval") && more) {
            if (!parse_uint(argv[++i], &interval_ms))
                return usage();
        } else if (!strcmp(a, "--duration") && more) {
            if (!parse_uint(argv[++i], &duration))
                return usage();
        } else if (!strcmp(a, "-v")) {
            r.verbose = true;
        } else if (strchr(a, '=') && a[0] != '-') {
            if (netcfg_set(&cfg, a, err, sizeof(err)) < 0) {
                fprintf(stderr, "taprun: %s\n", err);
                return 2;
            }
        } else {
            return usage();
        }
    }
    r.ping_interval = (uint64_t)interval_ms * NET_NS_PER_MS;

    if (!udp_local != !udp_remote)
        return usage();
    if (udp_local) {
        snprintf(link, sizeof(link), "udp 127.0.0.1:%u -> 127.0.0.1:%u", udp_local, udp_remote);
        if ((r.fd = udplink_open(udp_local, udp_remote, err, sizeof(err))) < 0) {
            fprintf(stderr, "taprun: %s\n", err);
            return 1;
        }
    } else {
        snprintf(link, sizeof(link), "%s", tap);
        if ((r.fd = tap_open(tap, err, sizeof(err))) < 0) {
            fprintf(stderr, "taprun: %s (needs root and /dev/net/tun)\n", err);
            return 1;
        }
        if (tap_wait_running(tap, 3000) < 0)
            fprintf(stderr, "taprun: %s: link not up after 3 s; first frames may be lost\n", tap);
    }
    r.mono0 = clock_ns(CLOCK_MONOTONIC);
    r.real0 = clock_ns(CLOCK_REALTIME);
    if (pcap_path) {
        if (!(r.pcap = pcap_writer_open(pcap_path, err, sizeof(err)))) {
            fprintf(stderr, "taprun: %s\n", err);
            return 1;
        }
        cfg.boot_ns = r.real0;
        cfg.has_boot = true;
        replay_sidecar_path(pcap_path, r.conf, sizeof(r.conf));
        if (netcfg_save(r.conf, &cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "taprun: %s\n", err);
            return 1;
        }
    }
    cfg.node.tcp_mem_len = TCP_MEM(cfg.node.tcp_conns, cfg.node.tcp_rx_size, cfg.node.tcp_tx_size);
    if (!(cfg.node.tcp_mem = calloc(1, cfg.node.tcp_mem_len))) {
        fprintf(stderr, "taprun: no memory for %u TCP connections\n", cfg.node.tcp_conns);
        return 1;
    }
    struct node_ops ops = {.dev = &tap_dev, .dev_ctx = &r, .ping_result = on_ping,
                           .tcp_event = on_tcp};
    if (node_init(&node, &cfg.node, &ops, &r, 0) != NET_OK) {
        fprintf(stderr, "taprun: the stack refused this configuration\n");
        return 2;
    }
    if (services_start(&r.services, &node.tcp, cfg.services, cfg.n_services, stdout, err,
                       sizeof(err)) < 0) {
        fprintf(stderr, "taprun: %s\n", err);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    char mac[18], ip[16], gw[16];
    printf("taprun: up on %s: %s/%u gw %s mac %s\n", link, fmt_ip4(cfg.node.addr, ip, sizeof(ip)),
           cfg.node.prefix_len,
           cfg.node.gateway ? fmt_ip4(cfg.node.gateway, gw, sizeof(gw)) : "none",
           fmt_mac(&cfg.node.mac, mac, sizeof(mac)));
    fflush(stdout);
    node_start(&node, 0);

    static uint8_t rx[FRAME_MAX];
    uint64_t end = duration ? (uint64_t)duration * NET_NS_PER_SEC : UINT64_MAX;
    while (!stop) {
        uint64_t now = now_ns(&r);
        if (now >= end)
            break;
        if (r.ping_dst && r.ping_sent < r.ping_count && now >= r.ping_next) {
            struct netcfg_action a = {.kind = ACTION_PING, .at_ns = now, .dst = r.ping_dst,
                                      .seq = (uint16_t)(r.ping_sent + 1),
                                      .size = (uint16_t)r.ping_size};
            if (r.pcap && netcfg_append_action(r.conf, &a, err, sizeof(err)) < 0)
                fprintf(stderr, "taprun: %s\n", err);
            catch_up(&r, &node, now);
            int rc = node_ping(&node, a.dst, a.seq, a.size, now);
            if (rc < 0)
                printf("taprun: ping seq=%u not sent (error %d)\n", r.ping_sent + 1, rc);
            r.ping_sent++;
            r.ping_next = now + r.ping_interval;
        }
        if (r.ping_dst && r.ping_done >= r.ping_count && !duration)
            break; /* with --duration, keep running: timers after the pings still matter */
        catch_up(&r, &node, now);
        node_poll(&node, now);
        services_poll(&r.services, now);

        uint64_t wake = next_deadline(&r, &node);
        if (r.ping_dst && r.ping_sent < r.ping_count && r.ping_next < wake)
            wake = r.ping_next;
        if (end < wake)
            wake = end;
        int timeout = -1;
        if (wake != UINT64_MAX)
            timeout = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
        struct pollfd pfd = {.fd = r.fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR) {
            perror("taprun: poll");
            break;
        }
        if (n <= 0)
            continue;
        for (;;) {
            ssize_t len = read(r.fd, rx, sizeof(rx));
            if (len <= 0)
                break;
            now = now_ns(&r);
            if (r.pcap) {
                pcap_writer_put(r.pcap, r.real0 + now, rx, (size_t)len);
                r.frames++;
                /* Replay tells direction by source MAC; note the spoofs of ours. */
                if (len >= 12 && memcmp(rx + 6, cfg.node.mac.b, 6) == 0) {
                    char line[32];
                    snprintf(line, sizeof(line), "inbound=%llu", (unsigned long long)r.frames);
                    if (netcfg_append_line(r.conf, line, err, sizeof(err)) < 0)
                        fprintf(stderr, "taprun: %s\n", err);
                }
            }
            log_frame(&r, "in ", rx, (size_t)len);
            catch_up(&r, &node, now);
            node_input(&node, rx, (size_t)len, now);
        }
        if (r.pcap)
            pcap_writer_flush(r.pcap);
    }
    printf("taprun: stopping; counters:\n");
    stats_print(stdout, &node, false);
    if (r.tx_errors)
        printf("taprun.tx_errors=%llu\n", r.tx_errors);
    pcap_writer_close(r.pcap);
    services_free(&r.services);
    free(cfg.node.tcp_mem);
    close(r.fd);
    if (r.ping_dst)
        return r.ping_ok == r.ping_count ? 0 : 1;
    return 0;
}
