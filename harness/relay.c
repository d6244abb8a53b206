/*
 * relay — an impairing Ethernet relay between a Linux tap device and a UDP socket on
 * 127.0.0.1: netem for a host whose kernel has none.
 *
 *     relay --tap NAME --udp-local PORT --udp-remote PORT [--impair SPEC]
 *           [--impair-to-udp SPEC] [--impair-to-tap SPEC] [--duration SEC] [-v]
 *
 * Frames read from the tap go, one datagram each, to 127.0.0.1:--udp-remote; datagrams
 * arriving on 127.0.0.1:--udp-local from that port go to the tap. That is the framing of
 * QEMU's `-netdev dgram` / `-netdev socket,udp=` and of `taprun --udp-local/--udp-remote`,
 * so Linux's own TCP/IP on the tap talks to a guest or the host stack through the relay.
 *
 * Each direction has its own impairment queue (harness/impair.h, spec syntax there):
 * --impair sets both, --impair-to-udp (alias --impair-out: what Linux sends) and
 * --impair-to-tap (alias --impair-in: what Linux receives) set one and win over --impair.
 * Direction d (0 to-udp, 1 to-tap) seeds its queue with seed * 2 + d, so the same spec
 * on both sides still gives independent luck. Runs until SIGINT/SIGTERM or --duration;
 * prints "relay.<direction>.<counter>=N" lines on exit, and on SIGUSR1 without stopping
 * (after a "relay: counters:" line), so a test can take the difference around a run. Sleeps in
 * ppoll until a frame arrives or the next held frame is due, so an idle relay uses no CPU.
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
#include "impair.h"
#include "tap.h"
#include "udplink.h"

#define FRAME_MAX 65536
#define BURST 256 /* frames read from one fd per wake-up, so neither side starves the other */

struct dir {
    const char *name, *arrow;
    int from, to;
    struct impair imp;
    const char *spec;
    unsigned long long rx_errors, tx_errors;
    bool warned;
};

static volatile sig_atomic_t stop, dump;
static bool verbose;
/* ICMP port unreachable from the UDP peer (not listening yet, or gone), as the socket
 * reports it on a later read or write: expected around start and stop, so only counted. */
static unsigned long long refused;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        dump = 1;
    else
        stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void log_frame(const struct dir *d, const char *what, const uint8_t *f, size_t len,
                      const char *fate)
{
    if (!verbose)
        return;
    struct dissect_ctx ctx = {0};
    struct dissection s;
    dissect(&ctx, f, len, &s);
    printf("relay: %s %s %s%s%s\n", d->arrow, what, s.summary, *fate ? " " : "", fate);
}

static void receive(struct dir *d, uint8_t *buf)
{
    for (int i = 0; i < BURST; i++) {
        ssize_t n = read(d->from, buf, FRAME_MAX);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            /* The UDP peer is not listening (yet): ICMP port unreachable, reported once. */
            if (errno == ECONNREFUSED) {
                refused++;
                continue;
            }
            d->rx_errors++;
            fprintf(stderr, "relay: %s read: %s\n", d->name, strerror(errno));
            stop = 1;
            return;
        }
        struct impair_stats before = d->imp.stats;
        impair_push(&d->imp, buf, (size_t)n, now_ns());
        const struct impair_stats *after = &d->imp.stats;
        char fate[64] = "";
        if (after->lost != before.lost)
            strcat(fate, "[lost]");
        if (after->corrupted != before.corrupted)
            strcat(fate, "[corrupted]");
        if (after->duplicated != before.duplicated)
            strcat(fate, "[duplicated]");
        if (after->reordered != before.reordered)
            strcat(fate, "[reordered]");
        if (after->overflow != before.overflow)
            strcat(fate, "[overflow]");
        log_frame(d, "in ", buf, (size_t)n, fate);
    }
}

static void transmit(struct dir *d, uint8_t *buf, uint64_t now)
{
    size_t len;
    while (impair_pop(&d->imp, now, buf, FRAME_MAX, &len)) {
        log_frame(d, "out", buf, len, "");
        ssize_t n = write(d->to, buf, len);
        if (n == (ssize_t)len)
            continue;
        d->tx_errors++;
        if (n < 0 && errno == ECONNREFUSED)
            refused++;
        else if (!d->warned) {
            d->warned = true;
            fprintf(stderr, "relay: %s write: %s (counted from now on, not logged)\n", d->name,
                    n < 0 ? strerror(errno) : "short write");
        }
    }
}

static void print_counters(struct dir *dirs)
{
    for (int i = 0; i < 2; i++) {
        const struct dir *d = &dirs[i];
        const struct impair_stats *s = &d->imp.stats;
        const struct {
            const char *name;
            unsigned long long v;
        } c[] = {{"in", s->in},
                 {"out", s->out},
                 {"lost", s->lost},
                 {"duplicated", s->duplicated},
                 {"corrupted", s->corrupted},
                 {"reordered", s->reordered},
                 {"overflow", s->overflow},
                 {"queued", impair_queued(&d->imp)},
                 {"tx_errors", d->tx_errors},
                 {"rx_errors", d->rx_errors}};
        for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++)
            printf("relay.%s.%s=%llu\n", d->name, c[k].name, c[k].v);
    }
    printf("relay.udp.refused=%llu\n", refused);
    fflush(stdout);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: relay --tap NAME --udp-local PORT --udp-remote PORT [--impair SPEC]\n"
            "             [--impair-to-udp SPEC] [--impair-to-tap SPEC] [--duration SEC] [-v]\n"
            "  SPEC: loss=5%%,dup=1%%,corrupt=0.5%%,reorder=2%%,delay=2ms,jitter=1ms,seed=7\n"
            "        (also reorder_delay=TIME limit=N corrupt_offset=N)\n"
            "  --impair-out = --impair-to-udp (what Linux sends), --impair-in = --impair-to-tap\n"
            "  SIGINT/SIGTERM: print counters and stop; SIGUSR1: print counters\n");
    return 2;
}

static int setup(struct dir *d, int dirno, const char *spec)
{
    struct impair_cfg cfg;
    char err[256];
    d->spec = spec ? spec : "";
    if (impair_parse(d->spec, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "relay: %s: %s\n", d->name, err);
        return -1;
    }
    cfg.seed = cfg.seed * 2 + (uint64_t)dirno;
    return impair_init(&d->imp, &cfg);
}

int main(int argc, char **argv)
{
    const char *tap = NULL, *both = NULL, *to_udp = NULL, *to_tap = NULL;
    uint16_t local = 0, remote = 0;
    double duration = 0;
    char err[512];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-v")) {
            verbose = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--tap"))
            tap = v;
        else if (!strcmp(a, "--udp-local") && udplink_parse_port(v, &local) == 0)
            ;
        else if (!strcmp(a, "--udp-remote") && udplink_parse_port(v, &remote) == 0)
            ;
        else if (!strcmp(a, "--impair"))
            both = v;
        else if (!strcmp(a, "--impair-to-udp") || !strcmp(a, "--impair-out"))
            to_udp = v;
        else if (!strcmp(a, "--impair-to-tap") || !strcmp(a, "--impair-in"))
            to_tap = v;
        else if (!strcmp(a, "--duration")) {
            char *end;
            duration = strtod(v, &end);
            if (*end || !(duration > 0))
                return usage();
        } else
            return usage();
    }
    if (!tap || !local || !remote)
        return usage();

    struct dir dirs[2] = {{.name = "tap_to_udp", .arrow = "tap->udp"},
                          {.name = "udp_to_tap", .arrow = "udp->tap"}};
    if (setup(&dirs[0], 0, to_udp ? to_udp : both) < 0 ||
        setup(&dirs[1], 1, to_tap ? to_tap : both) < 0)
        return 2;

    int tap_fd = tap_open(tap, err, sizeof(err));
    if (tap_fd < 0) {
        fprintf(stderr, "relay: %s (needs root and /dev/net/tun)\n", err);
        return 1;
    }
    if (tap_wait_running(tap, 3000) < 0)
        fprintf(stderr, "relay: %s: link not up after 3 s; first frames may be lost\n", tap);
    int udp_fd = udplink_open(local, remote, err, sizeof(err));
    if (udp_fd < 0) {
        fprintf(stderr, "relay: %s\n", err);
        return 1;
    }
    dirs[0].from = dirs[1].to = tap_fd;
    dirs[0].to = dirs[1].from = udp_fd;

    /* Signals stay blocked except inside ppoll, so a stop request cannot slip in between
     * the check of `stop` and the sleep. */
    sigset_t block, during;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &during);
    sigdelset(&during, SIGINT);
    sigdelset(&during, SIGTERM);
    sigdelset(&during, SIGUSR1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("relay: up: tap %s <-> udp 127.0.0.1:%u -> 127.0.0.1:%u\n", tap, local, remote);
    for (int i = 0; i < 2; i++)
        printf("relay: %s %s\n", dirs[i].arrow,
               impair_is_clean(&dirs[i].imp.cfg) ? "clean" : dirs[i].spec);

    static uint8_t buf[FRAME_MAX];
    uint64_t start = now_ns();
    uint64_t end = duration ? start + (uint64_t)(duration * 1e9) : UINT64_MAX;
    while (!stop) {
        uint64_t now = now_ns();
        if (now >= end)
            break;
        if (dump) {
            dump = 0;
            printf("relay: counters:\n");
            print_counters(dirs);
        }
        transmit(&dirs[0], buf, now);
        transmit(&dirs[1], buf, now);

        uint64_t wake = end;
        for (int i = 0; i < 2; i++) {
            uint64_t d = impair_next_deadline(&dirs[i].imp);
            wake = d < wake ? d : wake;
        }
        struct timespec ts, *timeout = NULL;
        if (wake != UINT64_MAX) {
            uint64_t left = wake > now ? wake - now : 0;
            ts.tv_sec = (time_t)(left / 1000000000ull);
            ts.tv_nsec = (long)(left % 1000000000ull);
            timeout = &ts;
        }
        struct pollfd pfd[2] = {{.fd = tap_fd, .events = POLLIN}, {.fd = udp_fd, .events = POLLIN}};
        int n = ppoll(pfd, 2, timeout, &during);
        if (n < 0 && errno != EINTR) {
            perror("relay: ppoll");
            break;
        }
        if (n <= 0)
            continue;
        if (pfd[0].revents)
            receive(&dirs[0], buf);
        if (pfd[1].revents)
            receive(&dirs[1], buf);
    }
    printf("relay: stopping; counters:\n");
    print_counters(dirs);
    impair_free(&dirs[0].imp);
    impair_free(&dirs[1].imp);
    close(tap_fd);
    close(udp_fd);
    return 0;
}
