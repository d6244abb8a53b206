#include "services.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg.h"

#define CHUNK 16384

static const char *const kind_names[] = {"echo", "discard", "source", "http"};

int service_parse(const char *spec, struct service *out, char *err, size_t errlen)
{
    char kind[16];
    unsigned port;
    int used = 0;
    memset(out, 0, sizeof(*out));
    bool ok = sscanf(spec, "%15[a-z]:%u%n", kind, &port, &used) == 2 && port >= 1 &&
              port <= 65535;
    const char *rest = spec + used;
    if (ok && !strcmp(kind, "echo") && !*rest)
        out->kind = SERVICE_ECHO;
    else if (ok && !strcmp(kind, "discard") && !*rest)
        out->kind = SERVICE_DISCARD;
    else if (ok && !strcmp(kind, "source") && *rest == ':') {
        char *end;
        out->kind = SERVICE_SOURCE;
        out->size = strtoull(rest + 1, &end, 10);
        ok = end != rest + 1 && !*end;
    } else if (ok && !strcmp(kind, "http") && *rest == ':' && rest[1] &&
               strlen(rest + 1) < sizeof(out->path)) {
        out->kind = SERVICE_HTTP;
        strcpy(out->path, rest + 1);
    } else {
        ok = false;
    }
    if (!ok) {
        snprintf(err, errlen,
                 "bad service '%s' (echo:PORT, discard:PORT, source:PORT:BYTES, "
                 "http:PORT:IMAGE)", spec);
        return -1;
    }
    out->port = (uint16_t)port;
    return 0;
}

const char *service_format(const struct service *s, char *buf, size_t len)
{
    if (s->kind == SERVICE_SOURCE)
        snprintf(buf, len, "source:%u:%" PRIu64, s->port, s->size);
    else if (s->kind == SERVICE_HTTP)
        snprintf(buf, len, "http:%u:%s", s->port, s->path);
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

static void *load_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = p ? (size_t)n : 0;
    return p;
}

static uint64_t no_wall_clock(void *ctx, uint64_t now)
{
    (void)ctx;
    (void)now;
    return 0; /* replays must not depend on the day they run: no Date */
}

static const struct http_ops http_ops = {.wall_clock = no_wall_clock};

static int start_http(struct services *s, const struct service *svc, char *err, size_t errlen)
{
    size_t len;
    if (s->http_on) {
        snprintf(err, errlen, "one http service at most");
        return -1;
    }
    if (!(s->image = load_file(svc->path, &len)) || site_open(&s->site, s->image, len) < 0) {
        snprintf(err, errlen, "%s: not a readable site image", svc->path);
        return -1;
    }
    s->http_conns = calloc(s->tcp->cfg.n_conns, sizeof(*s->http_conns));
    if (!s->http_conns)
        abort();
    struct http_cfg cfg = {.port = svc->port, .site = &s->site, .conns = s->http_conns,
                           .n_conns = s->tcp->cfg.n_conns};
    if (http_init(&s->http, s->tcp, &cfg, &http_ops, NULL) < 0) {
        snprintf(err, errlen, "http: cannot listen on port %u", svc->port);
        return -1;
    }
    s->http_on = true;
    return 0;
}

int services_start(struct services *s, struct tcp *tcp, const struct service *list, size_t n,
                   FILE *log, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->tcp = tcp;
    s->list = list;
    s->n = n;
    s->log = log;
    s->conns = calloc(tcp->cfg.n_conns, sizeof(*s->conns));
    if (!s->conns)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (list[i].kind == SERVICE_HTTP) {
            if (start_http(s, &list[i], err, errlen) < 0)
                return -1;
        } else if (tcp_listen(tcp, list[i].port, SERVICE_BACKLOG, (void *)&list[i]) < 0) {
            snprintf(err, errlen, "cannot listen on port %u", list[i].port);
            return -1;
        }
    }
    return 0;
}

void services_free(struct services *s)
{
    free(s->conns);
    free(s->http_conns);
    free(s->image);
    s->conns = NULL;
    s->http_conns = NULL;
    s->image = NULL;
}

void services_poll(struct services *s, uint64_t now)
{
    if (s->http_on)
        http_poll(&s->http, now);
}

uint64_t services_next_deadline(const struct services *s)
{
    return s->http_on ? http_next_deadline(&s->http) : UINT64_MAX;
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

/* The HTTP server's events: its listener's new connections, then its own slots. */
static bool is_http(const struct services *s, enum tcp_event ev, const void *user)
{
    if (!s->http_on)
        return false;
    if (ev == TCP_EV_ACCEPTED)
        return user == &s->http;
    const struct http_conn *hc = user;
    return hc >= s->http_conns && hc < s->http_conns + s->tcp->cfg.n_conns;
}

void services_event(struct services *s, struct tcp_conn *c, enum tcp_event ev, void *user,
                    uint64_t now)
{
    if (is_http(s, ev, user)) {
        http_event(&s->http, c, ev, user, now);
        return;
    }
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
