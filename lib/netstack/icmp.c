#include "netstack/icmp.h"

#include <string.h>

#include "netstack/checksum.h"

#define DEFAULT_PING_TIMEOUT_NS (2 * NET_NS_PER_SEC)
#define DEFAULT_ERROR_BURST 10
#define DEFAULT_ERROR_INTERVAL_NS (10 * NET_NS_PER_MS)

/* Ping payload: a readable repeating pattern, easy to spot in Wireshark. */
static const char pattern[64] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-";
#define PATTERN_LEN 64
#define PING_IOV_MAX (1 + ICMP_PING_MAX / PATTERN_LEN)

int icmp_parse(const uint8_t *buf, size_t len, struct icmp_repr *r)
{
    if (len < ICMP_HDR_LEN)
        return NET_EMALFORMED;
    if (csum_buf(buf, len) != 0)
        return NET_EINVAL;
    r->type = buf[ICMP_OFF_TYPE];
    r->code = buf[ICMP_OFF_CODE];
    r->ident = net_get16(buf + ICMP_OFF_IDENT);
    r->seq = net_get16(buf + ICMP_OFF_SEQ);
    r->data = buf + ICMP_HDR_LEN;
    r->data_len = len - ICMP_HDR_LEN;
    return NET_OK;
}

static void put_header(const struct icmp_repr *r, uint8_t *hdr)
{
    hdr[ICMP_OFF_TYPE] = r->type;
    hdr[ICMP_OFF_CODE] = r->code;
    net_put16(hdr + ICMP_OFF_CSUM, 0);
    net_put16(hdr + ICMP_OFF_IDENT, r->ident);
    net_put16(hdr + ICMP_OFF_SEQ, r->seq);
}

int icmp_emit(const struct icmp_repr *r, uint8_t *buf, size_t cap)
{
    if (cap < ICMP_HDR_LEN)
        return NET_EMSGSIZE;
    put_header(r, buf);
    struct net_iov iov[2] = {{buf, ICMP_HDR_LEN}, {r->data, r->data_len}};
    net_put16(buf + ICMP_OFF_CSUM, csum_iov(iov, 2));
    return ICMP_HDR_LEN;
}

int icmp_init(struct icmp *icmp, const struct icmp_cfg *cfg, const struct icmp_ops *ops,
              void *ctx, uint64_t now)
{
    if (!cfg || !ops || !ops->send || (cfg->n_pings && !cfg->pings))
        return NET_EINVAL;
    memset(icmp, 0, sizeof(*icmp));
    icmp->cfg = *cfg;
    if (!icmp->cfg.ping_timeout_ns)
        icmp->cfg.ping_timeout_ns = DEFAULT_PING_TIMEOUT_NS;
    if (!icmp->cfg.error_burst)
        icmp->cfg.error_burst = DEFAULT_ERROR_BURST;
    if (!icmp->cfg.error_interval_ns)
        icmp->cfg.error_interval_ns = DEFAULT_ERROR_INTERVAL_NS;
    if (cfg->n_pings)
        memset(cfg->pings, 0, cfg->n_pings * sizeof(*cfg->pings));
    struct net_rng rng = {cfg->seed ^ 0x85ebca6bu};
    icmp->ident = (uint16_t)net_rng_next(&rng);
    icmp->tokens = icmp->cfg.error_burst;
    icmp->refilled = now;
    icmp->ops = ops;
    icmp->ctx = ctx;
    return NET_OK;
}

/* Hand an ICMP header whose checksum is in place, then its data, to IP. */
static int send_raw(struct icmp *icmp, net_ip4 dst, struct net_iov *iov, size_t n, uint64_t now)
{
    struct ipv4_tx tx = {.dst = dst, .proto = IPV4_PROTO_ICMP};
    int rc = icmp->ops->send(icmp->ctx, &tx, iov, n, now);
    if (rc < 0)
        icmp->stats.tx_failed++;
    return rc;
}

/* Send header + data as one ICMP message, checksum computed over both in place. */
static int send_msg(struct icmp *icmp, net_ip4 dst, const struct icmp_repr *r,
                    const struct net_iov *data, size_t n_data, uint64_t now)
{
    uint8_t hdr[ICMP_HDR_LEN];
    struct net_iov iov[PING_IOV_MAX + 1];
    put_header(r, hdr);
    iov[0] = (struct net_iov){hdr, ICMP_HDR_LEN};
    for (size_t i = 0; i < n_data; i++)
        iov[1 + i] = data[i];
    net_put16(hdr + ICMP_OFF_CSUM, csum_iov(iov, 1 + n_data));
    return send_raw(icmp, dst, iov, 1 + n_data, now);
}

/*
 * The reply to an echo request is the request with type 0 (RFC 792): identifier,
 * sequence number and data come back unchanged. So its checksum is the request's with
 * one word changed (RFC 1624 eqn. 3), and the data, already summed once to check the
 * request, is not summed again.
 */
static int send_echo_reply(struct icmp *icmp, net_ip4 dst, const uint8_t *req,
                           const struct icmp_repr *r, uint64_t now)
{
    uint8_t hdr[ICMP_HDR_LEN];
    memcpy(hdr, req, ICMP_HDR_LEN);
    hdr[ICMP_OFF_TYPE] = ICMP_ECHO_REPLY;
    uint16_t was = (uint16_t)(ICMP_ECHO_REQUEST << 8 | r->code);
    uint16_t reply_word = (uint16_t)(ICMP_ECHO_REPLY << 8 | r->code);
    net_put16(hdr + ICMP_OFF_CSUM, csum_replace16(net_get16(req + ICMP_OFF_CSUM), was, reply_word));
    struct net_iov iov[2] = {{hdr, ICMP_HDR_LEN}, {r->data, r->data_len}};
    return send_raw(icmp, dst, iov, 2, now);
}

static bool rate_ok(struct icmp *icmp, uint64_t now)
{
    uint64_t earned = (now - icmp->refilled) / icmp->cfg.error_interval_ns;
    if (earned) {
        uint64_t t = icmp->tokens + earned;
        icmp->tokens = t > icmp->cfg.error_burst ? icmp->cfg.error_burst : (uint32_t)t;
        icmp->refilled += earned * icmp->cfg.error_interval_ns;
    }
    if (!icmp->tokens)
        return false;
    icmp->tokens--;
    return true;
}

static bool is_error_type(uint8_t type)
{
    return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
           type == ICMP_TIME_EXCEEDED || type == ICMP_PARAM_PROBLEM;
}

void icmp_send_error(struct icmp *icmp, uint8_t type, uint8_t code, const struct ipv4_repr *orig,
                     const uint8_t *hdr, const uint8_t *data, size_t data_len, uint64_t now)
{
    /* RFC 1122 3.2.2: never about an ICMP error, a broadcast or multicast, a link
     * broadcast, a non-initial fragment, or a source that is not one host. */
    if ((orig->proto == IPV4_PROTO_ICMP && (data_len < 1 || is_error_type(data[0]))) ||
        orig->to_broadcast || orig->link_broadcast || net_ip4_is_multicast(orig->dst) ||
        orig->frag_off != 0 || orig->src == 0 || net_ip4_is_multicast(orig->src)) {
        icmp->stats.tx_suppressed++;
        return;
    }
    if (!rate_ok(icmp, now)) {
        icmp->stats.tx_rate_limited++;
        return;
    }
    struct icmp_repr r = {.type = type, .code = code};
    struct net_iov quote[2] = {{hdr, orig->hdr_len},
                               {data, data_len < ICMP_QUOTE_DATA ? data_len : ICMP_QUOTE_DATA}};
    if (send_msg(icmp, orig->src, &r, quote, 2, now) == NET_OK)
        icmp->stats.tx_errors++;
}

static struct icmp_ping *find_ping(struct icmp *icmp, net_ip4 peer, uint16_t ident, uint16_t seq)
{
    if (ident != icmp->ident)
        return NULL;
    for (size_t i = 0; i < icmp->cfg.n_pings; i++) {
        struct icmp_ping *p = &icmp->cfg.pings[i];
        if (p->used && p->seq == seq && (p->dst == peer || peer == 0))
            return p;
    }
    return NULL;
}

static void finish_ping(struct icmp *icmp, struct icmp_ping *p, enum icmp_ping_status st,
                        uint8_t ttl, uint64_t now)
{
    struct icmp_ping_result res = {.status = st, .peer = p->dst, .ident = icmp->ident,
                                   .seq = p->seq, .len = p->len, .ttl = ttl,
                                   .rtt_ns = now - p->sent};
    p->used = false;
    if (icmp->ops->ping_result)
        icmp->ops->ping_result(icmp->ctx, &res);
}

static bool pattern_matches(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (data[i] != (uint8_t)pattern[i % PATTERN_LEN])
            return false;
    return true;
}

static void echo_reply_in(struct icmp *icmp, const struct ipv4_repr *ip,
                          const struct icmp_repr *r, uint64_t now)
{
    icmp->stats.rx_echo_replies++;
    struct icmp_ping *p = find_ping(icmp, ip->src, r->ident, r->seq);
    if (!p) {
        icmp->stats.rx_unmatched_replies++;
        return;
    }
    bool intact = r->data_len == p->len && pattern_matches(r->data, r->data_len);
    finish_ping(icmp, p, intact ? ICMP_PING_REPLY : ICMP_PING_CORRUPT, ip->ttl, now);
}

/* An error quoting one of our packets: check the quote, then tell whoever sent it. */
static void error_in(struct icmp *icmp, const struct ipv4_repr *ip, const struct icmp_repr *r,
                     uint64_t now)
{
    struct icmp_error e = {.type = r->type, .code = r->code, .reporter = ip->src};
    size_t hl;
    if (r->data_len < IPV4_HDR_LEN || (r->data[0] >> 4) != 4 ||
        (hl = (size_t)(r->data[0] & 0xf) * 4) < IPV4_HDR_LEN || r->data_len < hl) {
        icmp->stats.rx_bad_errors++;
        return;
    }
    e.quoted.hdr_len = (uint8_t)hl;
    e.quoted.total_len = net_get16(r->data + IPV4_OFF_LEN);
    e.quoted.id = net_get16(r->data + IPV4_OFF_ID);
    e.quoted.proto = r->data[IPV4_OFF_PROTO];
    e.quoted.ttl = r->data[IPV4_OFF_TTL];
    e.quoted.src = net_get32(r->data + IPV4_OFF_SRC);
    e.quoted.dst = net_get32(r->data + IPV4_OFF_DST);
    if (e.quoted.src != icmp->cfg.addr) {
        icmp->stats.rx_bad_errors++; /* not about anything we sent */
        return;
    }
    e.quoted_data = r->data + hl;
    e.quoted_len = r->data_len - hl;
    if (r->type == ICMP_DEST_UNREACH && r->code == ICMP_UNREACH_FRAG_NEEDED)
        e.mtu = r->seq;
    icmp->stats.rx_errors++;

    if (e.quoted.proto == IPV4_PROTO_ICMP && e.quoted_len >= ICMP_HDR_LEN &&
        e.quoted_data[ICMP_OFF_TYPE] == ICMP_ECHO_REQUEST) {
        struct icmp_ping *p = find_ping(icmp, e.quoted.dst, net_get16(e.quoted_data + ICMP_OFF_IDENT),
                                        net_get16(e.quoted_data + ICMP_OFF_SEQ));
        if (p)
            finish_ping(icmp, p, ICMP_PING_UNREACHABLE, ip->ttl, now);
    }
    if (icmp->ops->error)
        icmp->ops->error(icmp->ctx, &e, now);
}

void icmp_input(struct icmp *icmp, const struct ipv4_repr *ip, const uint8_t *payload,
                size_t len, uint64_t now)
{
    struct icmp_repr r;
    int rc = icmp_parse(payload, len, &r);
    if (rc == NET_EMALFORMED) {
        icmp->stats.rx_truncated++;
        return;
    }
    if (rc < 0) {
        icmp->stats.rx_bad_checksum++;
        return;
    }
    icmp->stats.rx_packets++;
    switch (r.type) {
    case ICMP_ECHO_REQUEST: {
        icmp->stats.rx_echo_requests++;
        if (ip->to_broadcast) {
            icmp->stats.rx_broadcast_echo++;
            return;
        }
        if (send_echo_reply(icmp, ip->src, payload, &r, now) == NET_OK)
            icmp->stats.tx_echo_replies++;
        return;
    }
    case ICMP_ECHO_REPLY:
        echo_reply_in(icmp, ip, &r, now);
        return;
    case ICMP_DEST_UNREACH:
    case ICMP_TIME_EXCEEDED:
    case ICMP_PARAM_PROBLEM:
        error_in(icmp, ip, &r, now);
        return;
    default:
        icmp->stats.rx_unsupported++; /* redirects, source quench, timestamps: ignored */
        return;
    }
}

int icmp_ping(struct icmp *icmp, net_ip4 dst, uint16_t seq, size_t len, uint64_t now)
{
    if (len > ICMP_PING_MAX)
        return NET_EMSGSIZE;
    struct icmp_ping *slot = NULL;
    for (size_t i = 0; i < icmp->cfg.n_pings && !slot; i++)
        if (!icmp->cfg.pings[i].used)
            slot = &icmp->cfg.pings[i];
    if (!slot)
        return NET_ENOBUFS;

    struct net_iov data[PING_IOV_MAX];
    size_t n = 0;
    for (size_t off = 0; off < len; off += PATTERN_LEN)
        data[n++] = (struct net_iov){pattern, len - off < PATTERN_LEN ? len - off : PATTERN_LEN};
    struct icmp_repr r = {.type = ICMP_ECHO_REQUEST, .ident = icmp->ident, .seq = seq};
    int rc = send_msg(icmp, dst, &r, data, n, now);
    if (rc < 0)
        return rc;
    *slot = (struct icmp_ping){.used = true, .dst = dst, .seq = seq, .len = (uint16_t)len,
                               .sent = now};
    icmp->stats.tx_echo_requests++;
    return NET_OK;
}

void icmp_poll(struct icmp *icmp, uint64_t now)
{
    for (size_t i = 0; i < icmp->cfg.n_pings; i++) {
        struct icmp_ping *p = &icmp->cfg.pings[i];
        if (p->used && now - p->sent >= icmp->cfg.ping_timeout_ns) {
            icmp->stats.ping_timeouts++;
            finish_ping(icmp, p, ICMP_PING_TIMEOUT, 0, now);
        }
    }
}

uint64_t icmp_next_deadline(const struct icmp *icmp)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < icmp->cfg.n_pings; i++) {
        const struct icmp_ping *p = &icmp->cfg.pings[i];
        if (p->used && p->sent + icmp->cfg.ping_timeout_ns < d)
            d = p->sent + icmp->cfg.ping_timeout_ns;
    }
    return d;
}
