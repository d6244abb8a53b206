#include "services.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg.h"

#define CHUNK 16384

static const char *const kind_names[] = {"echo", "discard", "source"};

int service_parse(const char *spec, struct service *out, char *err, size_t errlen)
{
    char kind[16];
    unsigned port;
    unsigned long long size = 0;
    char tail;
    memset(out, 0, sizeof(*out));
    int n = sscanf(spec, "%15[a-z]:%u:%llu%c", kind, &port, &size, &tail);
    bool ok = false;
    if (n >= 2 && port >= 1 && port <= 65535) {
        for (int k = 0; k < 3; k++)
            if (!strcmp(kind, kind_names[k]))
                out->kind = (enum service_kind)k, ok = true;
        ok = ok && (out->kind == SERVICE_SOURCE ? n == 3 : n == 2);
    }
    if (!ok) {
        snprintf(err, errlen, "bad service '%s' (echo:PORT, discard:PORT, source:PORT:BYTES)",
                 spec);
        return -1;
    }
    out->port = (uint16_t)port;
    out->size = size;
    return 0;
}

const char *service_format(const struct service *s, char *buf, size_t len)
{
    if (s->kind == SERVICE_SOURCE)
        snprintf(buf, len, "source:%u:%" PRIu64, s->port, s->size);
    else
        snprintf(buf, len, "%s:%u", kind_names[s->kind], s->port);
    return buf;
}

uint8_t service_pattern(uint64_t i)
{
    return (uint8_t)(i % 251);
}

uint64_t service_fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int services_start(struct services *s, struct tcp *tcp, const struct service *list, size_t n,
                   FILE *log)
{
    memset(s, 0, sizeof(*s));
    s->tcp = tcp;
    s->list = list;
    s->n = n;
    s->log = log;
    s->conns = calloc(tcp->cfg.n_conns, sizeof(*s->conns));
    if (!s->conns)
        return NET_ENOBUFS;
    for (size_t i = 0; i < n; i++) {
        int rc = tcp_listen(tcp, list[i].port, SERVICE_BACKLOG, (void *)&list[i]);
        if (rc < 0)
            return rc;
    }
    return NET_OK;
}

void services_free(struct services *s)
{
    free(s->conns);
    s->conns = NULL;
}

static void finish(struct services *s, struct tcp_conn *c, struct service_conn *sc, uint64_t now)
{
    if (s->log) {
        char ip[16];
        fprintf(s->log, "service: %s:%u from %s:%u done: %" PRIu64 " bytes in, %" PRIu64
                        " out, fnv1a64 %016" PRIx64 "\n",
                kind_names[sc->svc->kind], sc->svc->port, fmt_ip4(c->remote_ip, ip, sizeof(ip)),
                c->remote_port, sc->in, sc->out, sc->hash);
        fflush(s->log);
    }
    s->finished++;
    tcp_close(s->tcp, c, now);
}

/* Read what the service wants to read: echo only as much as it can send back. */
static void take_input(struct services *s, struct tcp_conn *c, struct service_conn *sc,
                       uint64_t now)
{
    uint8_t buf[CHUNK];
    for (;;) {
        struct tcp_conn_info info;
        tcp_conn_info(c, &info);
        size_t want = sizeof(buf);
        if (sc->svc->kind == SERVICE_ECHO && info.tx_free < want)
            want = info.tx_free;
        if (!want || !info.unread)
            return;
        int n = tcp_recv(s->tcp, c, buf, want, now);
        if (n <= 0)
            return;
        sc->in += (uint64_t)n;
        sc->hash = service_fnv1a(sc->hash, buf, (size_t)n);
        if (sc->svc->kind == SERVICE_ECHO) {
            tcp_send(s->tcp, c, buf, (size_t)n, now); /* fits: we read only tx_free */
            sc->out += (uint64_t)n;
        }
    }
}

static void pump_source(struct services *s, struct tcp_conn *c, struct service_conn *sc,
                        uint64_t now)
{
    uint8_t buf[CHUNK];
    while (sc->out < sc->svc->size) {
        size_t n = sc->svc->size - sc->out < sizeof(buf) ? (size_t)(sc->svc->size - sc->out)
                                                         : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = service_pattern(sc->out + i);
        int sent = tcp_send(s->tcp, c, buf, n, now);
        if (sent <= 0)
            return;
        sc->out += (uint64_t)sent;
    }
}

/* A connection is done when its peer has closed (echo, discard) or everything is sent
 * (source), and nothing it sent us is left unread. */
static bool done(struct tcp_conn *c, const struct service_conn *sc)
{
    struct tcp_conn_info info;
    tcp_conn_info(c, &info);
    if (info.unread)
        return false;
    if (sc->svc->kind == SERVICE_SOURCE)
        return sc->out == sc->svc->size;
    return info.peer_closed;
}

void services_event(struct services *s, struct tcp_conn *c, enum tcp_event ev, void *user,
                    uint64_t now)
{
    struct service_conn *sc = &s->conns[c - s->tcp->conns];
    if (ev == TCP_EV_ACCEPTED) {
        memset(sc, 0, sizeof(*sc));
        sc->svc = user;
        sc->hash = SERVICE_FNV_INIT;
        tcp_set_user(c, sc);
        tcp_set_nodelay(c, true);
        s->accepted++;
    }
    if (!sc->svc)
        return;
    switch (ev) {
    case TCP_EV_CLOSED: {
        struct tcp_conn_info info;
        tcp_conn_info(c, &info);
        if (info.reason != TCP_REASON_NORMAL)
            s->reset++;
        sc->svc = NULL;
        return;
    }
    default:
        break;
    }
    take_input(s, c, sc, now);
    if (sc->svc->kind == SERVICE_SOURCE)
        pump_source(s, c, sc, now);
    if (done(c, sc)) {
        finish(s, c, sc, now);
        sc->svc = NULL;
    }
}
