/*
 * server.h — an HTTP/1.1 server (RFC 9110, RFC 9112) for a bundled static site, on the
 * TCP API of netstack/tcp.h.
 *
 * Input: the TCP events of the node (http_event), for connections on the server's port.
 * Each connection assembles a request head in its own buffer (struct http_conn, caller
 * storage, one per TCP connection slot), parses it (http/request.h), answers, and only
 * then reads the next request: pipelined requests wait in TCP's receive ring and are
 * answered in order, and a client that sends faster than it reads is slowed by its own
 * window. Output: the response head is corked (tcp_send_more) and the body is queued
 * where it lies in the site image (tcp_send_static): nothing is copied until the segment
 * is built, and a large file is in flight as fast as the windows allow while other
 * connections go on. So the site image must stay unchanged as long as the TCP instance
 * lives.
 *
 * What it answers: GET and HEAD of the site's files (a directory path serves its
 * index.html; a directory named without its slash is redirected to it), 304 for a
 * matching If-None-Match, 206 for one satisfiable byte range and 416 otherwise, the gzip
 * variant with Vary when the client accepts it, 404, 405 with Allow for other known
 * methods, and the parser's refusals (400, 414, 431, 501, 505) with Connection: close.
 * Request bodies up to HTTP_BODY_MAX are read and discarded; longer or chunked ones get
 * their answer and the connection closes. HTTP/1.0 and Connection: close are honoured.
 *
 * Time is nanoseconds. A head must arrive within cfg.header_timeout_ns of its first byte
 * (then 408 and close); an idle keep-alive connection closes after cfg.idle_timeout_ns;
 * a response the client stops reading is aborted after cfg.idle_timeout_ns without
 * progress. A connection the server closes (Connection: close, a refusal) sends FIN after
 * its response and then drains what the client still sends for up to HTTP_LINGER_NS
 * before letting go: closing with unread input would reset the connection and could
 * destroy the response before the client read it. http_poll runs those timers;
 * http_next_deadline says when next.
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/request.h"
#include "http/site.h"
#include "netstack/tcp.h"

#define HTTP_BODY_MAX (64 * 1024) /* request body bytes read and discarded */
#define HTTP_RESP_HEAD_MAX 768
#define HTTP_LINGER_NS (2 * NET_NS_PER_SEC)

/* One connection's state; `tcp` NULL when the slot is free. Buffers last: a new
 * connection clears only what comes before them. */
struct http_conn {
    struct tcp_conn *tcp;
    struct http_conn *live_prev, *live_next; /* the server's list of connections in use */
    uint32_t in_len;
    uint16_t head_len, head_sent;
    const uint8_t *body;
    uint64_t body_len, body_sent;
    bool responding;
    bool close_after;  /* close once this response is out */
    bool lingering;    /* response out and FIN queued: drain input until the peer closes */
    bool line_ended;   /* input since the last parse holds a '\n': worth parsing again */
    uint64_t discard;  /* request body bytes still to skip */
    uint64_t head_started; /* when the current head's first byte arrived */
    uint64_t last_progress;
    uint64_t deadline;
    uint32_t requests;
    char head[HTTP_RESP_HEAD_MAX]; /* the response head (and a generated page) */
    char in[HTTP_HEAD_MAX]; /* the request head being assembled, and what follows it */
};

struct http_stats {
    uint64_t accepted;
    uint64_t requests;
    uint64_t status_2xx, status_3xx, status_4xx, status_5xx;
    uint64_t bytes_out; /* response bodies */
    uint64_t header_timeouts, idle_timeouts, send_timeouts, linger_timeouts;
    uint64_t no_slot; /* a connection with no http_conn (the tables differ): reset */
};

struct http_cfg {
    uint16_t port;
    uint16_t backlog;            /* [128] half-open connections before SYN cookies */
    const struct site *site;
    struct http_conn *conns;     /* n_conns slots, indexed like the TCP table */
    size_t n_conns;
    uint64_t header_timeout_ns;  /* [10 s] */
    uint64_t idle_timeout_ns;    /* [30 s] */
};

struct http_ops {
    /* Seconds since 1970 for a Date header, or 0 when the machine does not know. */
    uint64_t (*wall_clock)(void *ctx, uint64_t now);
};

struct http_server {
    struct http_cfg cfg;
    const struct http_ops *ops;
    void *ctx;
    struct tcp *tcp;
    /* Connections in use, linked: the poll walks these, and a slot is touched only once
     * TCP hands it a connection, so neither start-up nor a deadline visits the table. */
    struct http_conn *live;
    uint32_t n_live;
    uint64_t next_deadline; /* a lower bound, like TCP's */
    uint64_t date_at; /* the Unix second `date` holds (0: none) */
    char date[32];    /* its IMF-fixdate, for the Date header */
    struct http_stats stats;
};

/* Listen on cfg.port. NET_OK or the error of tcp_listen / NET_EINVAL. */
int http_init(struct http_server *s, struct tcp *tcp, const struct http_cfg *cfg,
              const struct http_ops *ops, void *ctx);
/* Every TCP event of the node; events of other listeners' connections are ignored. */
void http_event(struct http_server *s, struct tcp_conn *c, enum tcp_event ev, void *user,
                uint64_t now);
void http_poll(struct http_server *s, uint64_t now);
uint64_t http_next_deadline(const struct http_server *s);
/* Connections with an http_conn in use. */
uint32_t http_conns_in_use(const struct http_server *s);

#endif
