/*
 * services.h — small TCP applications for the tap runner and for replay, so that Linux's
 * own stack (nc, curl, Python) can exercise Quartz's TCP:
 *
 *     echo:PORT          every byte back (RFC 862), then close after the peer does
 *     discard:PORT       read and count (RFC 863); logs bytes and an FNV-1a 64 hash
 *     source:PORT:BYTES  BYTES of the pattern byte[i] = i % 251, then close
 *     http:PORT:IMAGE    lib/http's server with the site image IMAGE (build/site.img):
 *                        the guest's web server as a host process, for captures that
 *                        replay exactly and for comparisons
 *
 * They react only to TCP events, with no clock or I/O of their own, so a replay running
 * the same services reproduces the recorded conversation byte for byte. Echo moves data
 * only as fast as its send ring takes it: a slow reader closes the window all the way
 * back to the sender, which is back-pressure working as it should.
 */
#ifndef HARNESS_SERVICES_H
#define HARNESS_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http/server.h"
#include "http/site.h"
#include "netstack/tcp.h"

enum service_kind { SERVICE_ECHO, SERVICE_DISCARD, SERVICE_SOURCE, SERVICE_HTTP };

#define SERVICE_PATH_MAX 256

struct service {
    enum service_kind kind;
    uint16_t port;
    uint64_t size;                /* source: bytes to send */
    char path[SERVICE_PATH_MAX]; /* http: the site image */
};

#define SERVICES_MAX 8
#define SERVICE_BACKLOG 128

/* Per connection, indexed like tcp->conns. */
struct service_conn {
    const struct service *svc;
    uint64_t in, out;
    uint64_t hash;
};

struct services {
    struct tcp *tcp;
    const struct service *list;
    size_t n;
    struct service_conn *conns;
    FILE *log; /* one line per finished connection; NULL: quiet */
    uint64_t accepted, finished, reset;
    /* http: one server at most */
    bool http_on;
    struct http_server http;
    struct site site;
    void *image;
    struct http_conn *http_conns;
};

/* "echo:7", "discard:9", "source:19:1048576", "http:80:build/site.img". */
int service_parse(const char *spec, struct service *out, char *err, size_t errlen);
/* The spec string of a service (for sidecars), into buf. */
const char *service_format(const struct service *s, char *buf, size_t len);
/* Listen on every service's port. Returns 0, or -1 with a message in err. */
int services_start(struct services *s, struct tcp *tcp, const struct service *list, size_t n,
                   FILE *log, char *err, size_t errlen);
/* The HTTP server's timers (header and idle timeouts). */
void services_poll(struct services *s, uint64_t now);
uint64_t services_next_deadline(const struct services *s);
void services_free(struct services *s);
/* Feed every TCP event here (the node's tcp_event). */
void services_event(struct services *s, struct tcp_conn *c, enum tcp_event ev, void *user,
                    uint64_t now);

/* The source pattern and the discard hash, for tools that check what they received. */
uint8_t service_pattern(uint64_t i);
uint64_t service_fnv1a(uint64_t h, const uint8_t *p, size_t n);
#define SERVICE_FNV_INIT 0xcbf29ce484222325ull

#endif
