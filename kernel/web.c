#include "web.h"

#include "http/server.h"
#include "http/site.h"
#include "mem.h"
#include "printk.h"
#include "wallclock.h"

extern const uint8_t __site_start[], __site_end[];

static struct site site;
static struct http_server server;
static bool running;

static uint64_t wall_clock(void *ctx, uint64_t now)
{
    (void)ctx;
    return wallclock_now(now);
}

static const struct http_ops ops = {.wall_clock = wall_clock};

bool web_start(struct tcp *tcp, uint16_t port, uint32_t n_conns)
{
    size_t len = (size_t)(__site_end - __site_start);
    if (site_open(&site, __site_start, len) != NET_OK) {
        klog("http", "the bundled site image is damaged (%lu bytes): not serving", len);
        return false;
    }
    size_t bytes = (size_t)n_conns * sizeof(struct http_conn);
    struct http_conn *conns = pages_alloc_unzeroed((bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    if (!conns) {
        klog("http", "out of memory for %u connections", n_conns);
        return false;
    }
    struct http_cfg cfg = {.port = port, .site = &site, .conns = conns, .n_conns = n_conns};
    int rc = http_init(&server, tcp, &cfg, &ops, 0);
    if (rc != NET_OK) {
        klog("http", "cannot listen on port %u (%d)", port, rc);
        return false;
    }
    running = true;
    klog("http", "serving %u files (%lu KiB) on port %u, %u connections", site.count,
         len / 1024, port, n_conns);
    return true;
}

void web_event(struct tcp_conn *c, enum tcp_event ev, void *user, uint64_t now)
{
    if (running)
        http_event(&server, c, ev, user, now);
}

void web_poll(uint64_t now)
{
    if (running)
        http_poll(&server, now);
}

uint64_t web_next_deadline(void)
{
    return running ? http_next_deadline(&server) : UINT64_MAX;
}

void web_report(void)
{
    if (!running) {
        klog("stats", "http: not serving");
        return;
    }
    const struct http_stats *h = &server.stats;
    klog("stats", "http: %u connections now, %lu accepted, %lu requests (2xx %lu, 3xx %lu, "
         "4xx %lu, 5xx %lu), %lu KiB of bodies, %lu timeouts, %lu without a slot",
         server.n_live, h->accepted, h->requests, h->status_2xx, h->status_3xx, h->status_4xx,
         h->status_5xx, h->bytes_out / 1024,
         h->header_timeouts + h->idle_timeouts + h->send_timeouts + h->linger_timeouts,
         h->no_slot);
}
