#include "http/server.h"

#include <string.h>

#include "response.h"

#define DEFAULT_BACKLOG 128
#define DEFAULT_HEADER_TIMEOUT_NS (10 * NET_NS_PER_SEC)
#define DEFAULT_IDLE_TIMEOUT_NS (30 * NET_NS_PER_SEC)
#define SEND_CHUNK (1u << 28) /* body bytes offered to TCP per call */

static const char ERROR_PAGE_START[] = "<!doctype html><title>";
static const char ERROR_PAGE_MID[] = "</title><h1>";
static const char ERROR_PAGE_END[] = "</h1>\n";

int http_init(struct http_server *s, struct tcp *tcp, const struct http_cfg *cfg,
              const struct http_ops *ops, void *ctx)
{
    if (!cfg || !cfg->site || !cfg->conns || !cfg->n_conns || !cfg->port || !ops)
        return NET_EINVAL;
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    if (!s->cfg.backlog)
        s->cfg.backlog = DEFAULT_BACKLOG;
    if (!s->cfg.header_timeout_ns)
        s->cfg.header_timeout_ns = DEFAULT_HEADER_TIMEOUT_NS;
    if (!s->cfg.idle_timeout_ns)
        s->cfg.idle_timeout_ns = DEFAULT_IDLE_TIMEOUT_NS;
    s->ops = ops;
    s->ctx = ctx;
    s->tcp = tcp;
    s->next_deadline = UINT64_MAX;
    return tcp_listen(tcp, cfg->port, s->cfg.backlog, s);
}

static bool ours(const struct http_server *s, const void *user)
{
    const struct http_conn *hc = user;
    return hc >= s->cfg.conns && hc < s->cfg.conns + s->cfg.n_conns;
}

static void set_deadline(struct http_server *s, struct http_conn *hc, uint64_t at)
{
    hc->deadline = at;
    if (at < s->next_deadline)
        s->next_deadline = at;
}

static void track(struct http_server *s, struct http_conn *hc, struct tcp_conn *c)
{
    hc->tcp = c;
    hc->live_prev = NULL;
    hc->live_next = s->live;
    if (s->live)
        s->live->live_prev = hc;
    s->live = hc;
    s->n_live++;
}

static void release(struct http_server *s, struct http_conn *hc)
{
    if (hc->live_prev)
        hc->live_prev->live_next = hc->live_next;
    else
        s->live = hc->live_next;
    if (hc->live_next)
        hc->live_next->live_prev = hc->live_prev;
    s->n_live--;
    hc->tcp = NULL;
    hc->deadline = 0;
}

/* ---- Responses -------------------------------------------------------------------- */

struct reply {
    int status;
    const struct site_file *file; /* the representation, or NULL for a generated page */
    const uint8_t *body;
    uint64_t len;          /* body bytes to send (after range and HEAD) */
    uint64_t full_len;     /* the representation's length, for Content-Range */
    uint64_t first;        /* 206: the range's first byte */
    bool gzip, vary;
    bool head_only;
    const char *etag; /* of the representation sent */
    size_t etag_len;
    const char *location;  /* 301 */
    size_t location_len;
};

static void common_headers(struct http_server *s, struct head *h, int status, uint64_t now)
{
    head_lit(h, "HTTP/1.1 ");
    head_u64(h, (uint64_t)status);
    head_lit(h, " ");
    head_str(h, http_reason(status));
    head_lit(h, "\r\nServer: Quartz-unikernel\r\n");
    uint64_t t = s->ops->wall_clock ? s->ops->wall_clock(s->ctx, now) : 0;
    if (t) { /* RFC 9110 6.6.1: a server without a clock sends no Date */
        /* Formatted once a second: a busy server answers many requests in each. */
        if (t != s->date_at) {
            struct head d;
            head_init(&d, s->date, sizeof(s->date));
            head_date(&d, t);
            s->date_at = d.len == HEAD_DATE_LEN ? t : 0;
        }
        head_lit(h, "Date: ");
        if (s->date_at)
            head_mem(h, s->date, HEAD_DATE_LEN);
        else
            head_date(h, t); /* a year past 9999: wider than the cache */
        head_lit(h, "\r\n");
    }
}

/* Queue the head and start the body; the rest follows from http_event as room frees. */
static void start_reply(struct http_server *s, struct http_conn *hc, const struct reply *r,
                        const struct http_request *req, uint64_t now)
{
    struct head h;
    head_init(&h, hc->head, sizeof(hc->head));
    common_headers(s, &h, r->status, now);
    if (r->file) {
        head_lit(&h, "Content-Type: ");
        head_mem(&h, r->file->mime, r->file->mime_len);
        head_lit(&h, "\r\nETag: ");
        head_mem(&h, r->etag, r->etag_len);
        head_lit(&h, "\r\nCache-Control: no-cache\r\nAccept-Ranges: bytes\r\n");
        if (r->vary)
            head_lit(&h, "Vary: Accept-Encoding\r\n");
        if (r->gzip)
            head_lit(&h, "Content-Encoding: gzip\r\n");
    } else if (r->status != 304) {
        head_lit(&h, "Content-Type: text/html; charset=utf-8\r\n");
    }
    if (r->status == 206 || r->status == 416) {
        head_lit(&h, "Content-Range: bytes ");
        if (r->status == 206) {
            head_u64(&h, r->first);
            head_lit(&h, "-");
            head_u64(&h, r->first + r->len - 1);
        } else {
            head_lit(&h, "*");
        }
        head_lit(&h, "/");
        head_u64(&h, r->full_len);
        head_lit(&h, "\r\n");
    }
    if (r->status == 405)
        head_lit(&h, "Allow: GET, HEAD\r\n");
    if (r->location) {
        head_lit(&h, "Location: ");
        head_path(&h, r->location, r->location_len);
        head_lit(&h, "/\r\n");
    }
    if (r->status != 304) { /* RFC 9110 8.6: HEAD says what GET would send */
        head_lit(&h, "Content-Length: ");
        head_u64(&h, r->len);
        head_lit(&h, "\r\n");
    }
    if (hc->close_after)
        head_lit(&h, "Connection: close\r\n");
    else if (req && req->minor == 0)
        head_lit(&h, "Connection: keep-alive\r\n");
    head_lit(&h, "\r\n");
    if (h.overflow) { /* cannot happen with HTTP_RESP_HEAD_MAX sized for our headers */
        head_init(&h, hc->head, sizeof(hc->head));
        head_lit(&h, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
        hc->close_after = true;
        r = NULL;
    }
    hc->head_len = (uint16_t)h.len;
    hc->head_sent = 0;
    hc->body = r && !r->head_only ? r->body : NULL;
    hc->body_len = r && !r->head_only ? r->len : 0;
    hc->body_sent = 0;
    hc->responding = true;
    hc->last_progress = now;
    int status = r ? r->status : 500;
    s->stats.status_2xx += status / 100 == 2;
    s->stats.status_3xx += status / 100 == 3;
    s->stats.status_4xx += status / 100 == 4;
    s->stats.status_5xx += status / 100 == 5;
}

/* A small generated page for statuses without a file: "<title>404 Not Found</title>". */
static void error_reply(struct http_server *s, struct http_conn *hc, int status,
                        const struct http_request *req, uint64_t now)
{
    /* The page is written after the head, in the same buffer: it is tiny. */
    struct reply r = {.status = status, .head_only = req && req->method == HTTP_HEAD};
    char page[160];
    struct head p;
    head_init(&p, page, sizeof(page));
    head_str(&p, ERROR_PAGE_START);
    head_u64(&p, (uint64_t)status);
    head_str(&p, " ");
    head_str(&p, http_reason(status));
    head_str(&p, ERROR_PAGE_MID);
    head_u64(&p, (uint64_t)status);
    head_str(&p, " ");
    head_str(&p, http_reason(status));
    head_str(&p, ERROR_PAGE_END);
    r.len = p.len;
    start_reply(s, hc, &r, req, now);
    hc->body = NULL; /* the page rides in the head buffer, after the head */
    hc->body_len = 0;
    if (!r.head_only && hc->head_len + p.len <= sizeof(hc->head)) {
        memcpy(hc->head + hc->head_len, page, p.len);
        hc->head_len = (uint16_t)(hc->head_len + p.len);
    }
}

/* Resolve a single range against `len` (RFC 9110 14.1.2); false: unsatisfiable. */
static bool resolve_range(const struct http_range *rg, uint64_t len, uint64_t *first,
                          uint64_t *n)
{
    if (rg->suffix) {
        if (!rg->last || !len)
            return false;
        uint64_t take = rg->last < len ? rg->last : len;
        *first = len - take;
        *n = take;
        return true;
    }
    if (rg->first >= len)
        return false;
    uint64_t last = rg->open || rg->last >= len ? len - 1 : rg->last;
    *first = rg->first;
    *n = last - rg->first + 1;
    return true;
}

static void file_reply(struct http_server *s, struct http_conn *hc,
                       const struct http_request *req, const struct site_file *f, uint64_t now)
{
    struct reply r = {.status = 200, .file = f, .body = f->body, .len = f->len,
                      .full_len = f->len, .vary = f->gz != NULL,
                      .head_only = req->method == HTTP_HEAD};
    /* RFC 9110 8.8.1: the gzip-coded representation is a different one, so it gets its
     * own strong tag: the file's with "-gz" inside the quotes. */
    bool gzip = f->gz && req->accept_gzip && !(req->range.present && !req->range.ignored);
    char gz_etag[80];
    struct head t;
    head_init(&t, gz_etag, sizeof(gz_etag));
    head_mem(&t, f->etag, f->etag_len - 1);
    head_str(&t, "-gz\"");
    const char *etag = gzip && !t.overflow ? gz_etag : f->etag;
    size_t etag_len = gzip && !t.overflow ? t.len : f->etag_len;
    r.etag = etag;
    r.etag_len = etag_len;
    if (req->if_none_match &&
        http_etag_match(req->if_none_match, req->if_none_match_len, etag, etag_len)) {
        r.status = 304; /* RFC 9110 13.1.2 */
        r.len = 0;
        r.head_only = true;
    } else if (req->range.present && !req->range.ignored) {
        uint64_t first, n;
        if (resolve_range(&req->range, f->len, &first, &n)) {
            r.status = 206;
            r.first = first;
            r.body = f->body + first;
            r.len = n;
        } else {
            r.status = 416;
            r.len = 0;
            r.body = NULL;
        }
    } else if (gzip) {
        r.gzip = true;
        r.body = f->gz;
        r.len = f->gz_len;
    }
    start_reply(s, hc, &r, req, now);
}

/* Map a request to the site: a directory path serves its index.html; a directory named
 * without its slash is sent to the slashed URL so its relative links resolve. */
static void site_reply(struct http_server *s, struct http_conn *hc,
                       const struct http_request *req, uint64_t now)
{
    struct site_file f;
    char path[HTTP_PATH_MAX + sizeof("/index.html")];
    size_t n = req->path_len;
    memcpy(path, req->path, n);
    if (req->dir) {
        memcpy(path + n, "index.html", sizeof("index.html") - 1);
        n += sizeof("index.html") - 1;
    }
    if (site_lookup(s->cfg.site, path, n, &f)) {
        file_reply(s, hc, req, &f, now);
        return;
    }
    if (!req->dir) {
        memcpy(path + n, "/index.html", sizeof("/index.html") - 1);
        if (site_lookup(s->cfg.site, path, n + sizeof("/index.html") - 1, &f)) {
            struct reply r = {.status = 301, .location = req->path,
                              .location_len = req->path_len,
                              .head_only = req->method == HTTP_HEAD};
            start_reply(s, hc, &r, req, now);
            return;
        }
    }
    error_reply(s, hc, 404, req, now);
}

/* ---- The connection's loop ---------------------------------------------------------- */

/* Push what TCP will take; true when the response is completely queued. */
static bool send_more(struct http_server *s, struct http_conn *hc, uint64_t now)
{
    struct tcp_conn *c = hc->tcp;
    if (hc->head_sent < hc->head_len) {
        const char *h = hc->head + hc->head_sent;
        size_t hn = hc->head_len - hc->head_sent;
        /* Corked when a body follows, or a FIN will: it then leaves with the tail. */
        int n = hc->body_len || hc->close_after ? tcp_send_more(s->tcp, c, h, hn, now)
                                                : tcp_send(s->tcp, c, h, hn, now);
        if (n < 0)
            return false;
        hc->head_sent = (uint16_t)(hc->head_sent + n);
        if (n)
            hc->last_progress = now;
        if (hc->head_sent < hc->head_len)
            return false;
    }
    while (hc->body_sent < hc->body_len) {
        uint64_t left = hc->body_len - hc->body_sent;
        /* Straight from the site image, which outlives the server: no copy, and the ring
         * does not bound what is in flight. Corked until the last piece, so no short
         * segment splits a body. */
        size_t piece = left > SEND_CHUNK ? SEND_CHUNK : (size_t)left;
        int n = tcp_send_static(s->tcp, c, hc->body + hc->body_sent, piece,
                                left > SEND_CHUNK || hc->close_after, now);
        if (n <= 0)
            return false;
        hc->body_sent += (uint64_t)n;
        s->stats.bytes_out += (uint64_t)n;
        hc->last_progress = now;
    }
    return true;
}

/* Skip a request body (bounded: HTTP_BODY_MAX). True once nothing is left to skip. */
static bool discard_body(struct http_server *s, struct http_conn *hc, uint64_t now)
{
    uint32_t take = hc->in_len < hc->discard ? hc->in_len : (uint32_t)hc->discard;
    memmove(hc->in, hc->in + take, hc->in_len - take);
    hc->in_len -= take;
    hc->discard -= take;
    while (hc->discard) {
        char sink[512];
        size_t want = hc->discard < sizeof(sink) ? (size_t)hc->discard : sizeof(sink);
        int n = tcp_recv(s->tcp, hc->tcp, sink, want, now);
        if (n <= 0)
            return false;
        hc->discard -= (uint64_t)n;
    }
    return true;
}

static void answer(struct http_server *s, struct http_conn *hc, int rc,
                   const struct http_request *req, uint64_t now)
{
    s->stats.requests++;
    hc->requests++;
    if (rc < 0) {
        hc->close_after = true; /* after a refusal the stream cannot be trusted */
        error_reply(s, hc, -rc, NULL, now);
        return;
    }
    hc->close_after = !req->keep_alive;
    if (req->chunked || (req->has_length && req->content_length > HTTP_BODY_MAX)) {
        hc->close_after = true; /* a body we will not read: answer, then close */
    } else if (req->has_length) {
        hc->discard = req->content_length;
    }
    if (req->has_length && req->content_length > HTTP_BODY_MAX && req->method <= HTTP_HEAD)
        error_reply(s, hc, 413, req, now);
    else if (req->method != HTTP_GET && req->method != HTTP_HEAD)
        error_reply(s, hc, 405, req, now);
    else
        site_reply(s, hc, req, now);
}

/* After our FIN: read and drop whatever the client still sends, until it closes too. */
static void linger(struct http_server *s, struct http_conn *hc, uint64_t now)
{
    char sink[512];
    while (tcp_recv(s->tcp, hc->tcp, sink, sizeof(sink), now) > 0)
        ;
    if (tcp_peer_closed(hc->tcp)) {
        struct tcp_conn *c = hc->tcp;
        release(s, hc);
        tcp_close(s->tcp, c, now);
    }
}

/* Everything a connection can do now: finish the response in progress, skip a body,
 * read and answer the next request. Returns when it must wait for the network. */
static void pump(struct http_server *s, struct http_conn *hc, uint64_t now)
{
    for (;;) {
        if (hc->responding) {
            if (!send_more(s, hc, now)) {
                set_deadline(s, hc, hc->last_progress + s->cfg.idle_timeout_ns);
                return;
            }
            hc->responding = false;
            if (hc->close_after) {
                tcp_shutdown(s->tcp, hc->tcp, now); /* FIN after the response */
                hc->lingering = true;
                set_deadline(s, hc, now + HTTP_LINGER_NS);
            }
        }
        if (hc->lingering) {
            linger(s, hc, now);
            return;
        }
        if (hc->discard && !discard_body(s, hc, now))
            break;
        int n = tcp_recv(s->tcp, hc->tcp, hc->in + hc->in_len, sizeof(hc->in) - hc->in_len,
                         now);
        if (n > 0) {
            if (!hc->in_len)
                hc->head_started = now;
            /* The parser reads the head from its start each time: call it only when a
             * line may have ended, so a byte-at-a-time client costs linear time. */
            hc->line_ended |= http_find(hc->in + hc->in_len, (size_t)n, '\n') < (size_t)n;
            hc->in_len += (uint32_t)n;
        }
        if (!hc->in_len || (!hc->line_ended && hc->in_len < sizeof(hc->in)))
            break;
        hc->line_ended = false;
        struct http_request req;
        int rc = http_parse_request(hc->in, hc->in_len, &req);
        if (rc == 0)
            break;
        if (rc > 0) {
            answer(s, hc, rc, &req, now);
            /* The head is answered; keep what follows it (a pipelined request, a body). */
            memmove(hc->in, hc->in + rc, hc->in_len - (uint32_t)rc);
            hc->in_len -= (uint32_t)rc;
            hc->head_started = hc->in_len ? now : 0;
            hc->line_ended = hc->in_len != 0; /* what followed may be a whole request */
        } else {
            answer(s, hc, rc, NULL, now);
            hc->in_len = 0;
        }
    }
    /* Waiting for the client: a started head has its own deadline, else the idle one. */
    if (tcp_peer_closed(hc->tcp) && !hc->responding) {
        struct tcp_conn *c = hc->tcp;
        release(s, hc);
        tcp_close(s->tcp, c, now); /* the client is done; so are we */
        return;
    }
    if (hc->in_len)
        set_deadline(s, hc, hc->head_started + s->cfg.header_timeout_ns);
    else
        set_deadline(s, hc, now + s->cfg.idle_timeout_ns);
}

void http_event(struct http_server *s, struct tcp_conn *c, enum tcp_event ev, void *user,
                uint64_t now)
{
    if (ev == TCP_EV_ACCEPTED) {
        if (user != s)
            return;
        /* Slot i is free: its last connection, TCP's slot i, was freed before this one. */
        size_t i = (size_t)(c - s->tcp->conns);
        if (i >= s->cfg.n_conns) {
            s->stats.no_slot++;
            tcp_abort(s->tcp, c, now);
            return;
        }
        struct http_conn *hc = &s->cfg.conns[i];
        memset(hc, 0, offsetof(struct http_conn, head));
        track(s, hc, c);
        tcp_set_user(c, hc);
        /* Every response is written whole: Nagle would only hold its tail for an ACK the
         * client delays (40 ms with Linux). The cork keeps segments full instead. */
        tcp_set_nodelay(c, true);
        s->stats.accepted++;
        pump(s, hc, now);
        return;
    }
    if (!ours(s, user))
        return;
    struct http_conn *hc = user;
    if (ev == TCP_EV_CLOSED) { /* reset or timed out: TCP is done with it */
        if (hc->tcp == c)
            release(s, hc);
        return;
    }
    if (hc->tcp == c)
        pump(s, hc, now);
}

/* An idle connection's deadline: a body is queued whole (tcp_send_static), so the client
 * may still be reading the last response out of TCP. False: it owes us nothing, and the
 * connection is idle. True: it is still reading, and the deadline is moved to
 * idle_timeout after its last acknowledgement; or it has gone that long without one
 * (stopped reading), and the connection is aborted and released. */
static bool reading_stopped(struct http_server *s, struct http_conn *hc, uint64_t now)
{
    struct tcp_conn_info info;
    tcp_conn_info(hc->tcp, &info);
    if (!info.unsent && !info.in_flight)
        return false;
    uint64_t moved = info.acked_at > hc->last_progress ? info.acked_at : hc->last_progress;
    if (now - moved < s->cfg.idle_timeout_ns) {
        hc->deadline = moved + s->cfg.idle_timeout_ns;
        return true;
    }
    struct tcp_conn *c = hc->tcp;
    release(s, hc);
    tcp_abort(s->tcp, c, now);
    return true;
}

void http_poll(struct http_server *s, uint64_t now)
{
    if (now < s->next_deadline)
        return;
    s->next_deadline = UINT64_MAX;
    uint64_t next = UINT64_MAX;
    struct http_conn *hc_next;
    /* Verbs raise no TCP events, so nothing below unlinks any connection but `hc`. */
    for (struct http_conn *hc = s->live; hc; hc = hc_next) {
        hc_next = hc->live_next;
        if (!hc->deadline)
            continue;
        if (hc->deadline > now) {
            if (hc->deadline < next)
                next = hc->deadline;
            continue;
        }
        struct tcp_conn *c = hc->tcp;
        if (hc->lingering) {
            s->stats.linger_timeouts++;
            release(s, hc);
            tcp_close(s->tcp, c, now); /* still sending: RST, as it must be */
        } else if (hc->responding) {
            s->stats.send_timeouts++; /* the client stopped reading */
            release(s, hc);
            tcp_abort(s->tcp, c, now);
        } else if (hc->in_len) {
            s->stats.header_timeouts++; /* RFC 9110 15.5.9: 408, then close */
            hc->close_after = true;
            error_reply(s, hc, 408, NULL, now);
            hc->in_len = 0;
            pump(s, hc, now);
            if (hc->tcp && hc->deadline && hc->deadline < next)
                next = hc->deadline;
        } else if (!reading_stopped(s, hc, now)) {
            s->stats.idle_timeouts++;
            release(s, hc);
            tcp_close(s->tcp, c, now);
        } else if (!hc->tcp) {
            s->stats.send_timeouts++;
        } else if (hc->deadline < next) {
            next = hc->deadline;
        }
    }
    if (next < s->next_deadline)
        s->next_deadline = next;
}

uint64_t http_next_deadline(const struct http_server *s)
{
    return s->next_deadline;
}

uint32_t http_conns_in_use(const struct http_server *s)
{
    return s->n_live;
}
