#include "netcfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void netcfg_defaults(struct netcfg *c)
{
    memset(c, 0, sizeof(*c));
    c->node.mac = (struct net_mac){{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
    c->node.addr = NET_IP4(10, 0, 0, 2);
    c->node.prefix_len = 24;
    c->node.gateway = NET_IP4(10, 0, 0, 1);
    c->node.mtu = 1500;
    c->node.seed = 1;
    c->node.tcp_conns = NETCFG_TCP_CONNS;
    c->node.tcp_rx_size = c->node.tcp_tx_size = NETCFG_TCP_RING;
}

int parse_ip4(const char *s, net_ip4 *out)
{
    unsigned a, b, c, d;
    char tail;
    if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
        c > 255 || d > 255)
        return -1;
    *out = NET_IP4(a, b, c, d);
    return 0;
}

int parse_mac(const char *s, struct net_mac *out)
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255)
            return -1;
        out->b[i] = (uint8_t)v[i];
    }
    return 0;
}

const char *fmt_ip4(net_ip4 a, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}

const char *fmt_mac(const struct net_mac *m, char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1], m->b[2], m->b[3],
             m->b[4], m->b[5]);
    return buf;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || v > max || *s == '-')
        return -1;
    *out = v;
    return 0;
}

int netcfg_set(struct netcfg *c, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        snprintf(err, errlen, "'%s' is not key=value", kv);
        return -1;
    }
    size_t klen = (size_t)(eq - kv);
    const char *v = eq + 1;
    uint64_t n;
#define KEY(k) (klen == strlen(k) && strncmp(kv, k, klen) == 0)
    if (KEY("mac")) {
        if (parse_mac(v, &c->node.mac) == 0)
            return 0;
    } else if (KEY("ip")) {
        char addr[32];
        const char *slash = strchr(v, '/');
        size_t alen = slash ? (size_t)(slash - v) : strlen(v);
        if (alen < sizeof(addr)) {
            memcpy(addr, v, alen);
            addr[alen] = 0;
            if (parse_ip4(addr, &c->node.addr) == 0 &&
                (!slash || (parse_u64(slash + 1, 32, &n) == 0 && (c->node.prefix_len = (uint8_t)n))))
                return 0;
        }
    } else if (KEY("gw")) {
        if (strcmp(v, "none") == 0) {
            c->node.gateway = 0;
            return 0;
        }
        if (parse_ip4(v, &c->node.gateway) == 0)
            return 0;
    } else if (KEY("mtu")) {
        if (parse_u64(v, 65535, &n) == 0) {
            c->node.mtu = (uint16_t)n;
            return 0;
        }
    } else if (KEY("seed")) {
        if (parse_u64(v, UINT64_MAX, &c->node.seed) == 0)
            return 0;
    } else if (KEY("boot")) {
        if (parse_u64(v, UINT64_MAX, &c->boot_ns) == 0) {
            c->has_boot = true;
            return 0;
        }
    } else if (KEY("inbound")) {
        if (parse_u64(v, UINT32_MAX, &n) == 0 && n > 0 && c->n_inbound < NETCFG_MAX_ACTIONS &&
            (c->n_inbound == 0 || n > c->inbound[c->n_inbound - 1])) {
            c->inbound[c->n_inbound++] = (uint32_t)n;
            return 0;
        }
    } else if (KEY("serve")) {
        if (c->n_services == SERVICES_MAX) {
            snprintf(err, errlen, "more than %d services", SERVICES_MAX);
            return -1;
        }
        return service_parse(v, &c->services[c->n_services++], err, errlen);
    } else if (KEY("tcp")) {
        unsigned conns, ring;
        char tail;
        if (sscanf(v, "%u,%u%c", &conns, &ring, &tail) == 2 && conns >= 1 &&
            conns <= 1u << 20 && ring >= 4096 && ring <= 1u << 24) {
            c->node.tcp_conns = conns;
            c->node.tcp_rx_size = c->node.tcp_tx_size = ring;
            return 0;
        }
    } else if (KEY("ping")) {
        unsigned long long at;
        char addr[32];
        unsigned seq, size;
        char tail;
        if (c->n_actions == NETCFG_MAX_ACTIONS) {
            snprintf(err, errlen, "more than %d actions", NETCFG_MAX_ACTIONS);
            return -1;
        }
        struct netcfg_action *a = &c->actions[c->n_actions];
        if (sscanf(v, "%llu,%31[0-9.],%u,%u%c", &at, addr, &seq, &size, &tail) == 4 &&
            parse_ip4(addr, &a->dst) == 0 && seq <= 65535 && size <= 65535 &&
            (c->n_actions == 0 || at >= c->actions[c->n_actions - 1].at_ns)) {
            a->kind = ACTION_PING;
            a->at_ns = at;
            a->seq = (uint16_t)seq;
            a->size = (uint16_t)size;
            c->n_actions++;
            return 0;
        }
    } else {
        snprintf(err, errlen, "unknown key '%.*s'", (int)klen, kv);
        return -1;
    }
#undef KEY
    snprintf(err, errlen, "bad value in '%s'", kv);
    return -1;
}

/* Length of the directory part of `path`, slash included ("a/b.conf" -> 2). */
static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path + 1) : 0;
}

/* A site image named relative to the sidecar is found beside it, so a capture, its
 * sidecar and its image can move together (to /tmp for a bisect, say). */
static void resolve_beside(const char *conf, struct netcfg *c)
{
    for (size_t i = 0; i < c->n_services; i++) {
        struct service *svc = &c->services[i];
        char cand[SERVICE_PATH_MAX + 4096];
        if (svc->kind != SERVICE_HTTP || svc->path[0] == '/')
            continue;
        snprintf(cand, sizeof(cand), "%.*s%s", (int)dir_len(conf), conf, svc->path);
        FILE *f = fopen(cand, "rb");
        if (f && strlen(cand) < sizeof(svc->path))
            strcpy(svc->path, cand);
        if (f)
            fclose(f);
    }
}

int netcfg_load(const char *path, struct netcfg *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t')
            s++;
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        if (!*s)
            continue;
        char msg[200];
        if (netcfg_set(c, s, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    resolve_beside(path, c);
    return 0;
}

int netcfg_save(const char *path, const struct netcfg *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char mac[18], ip[16], gw[16];
    fprintf(f, "# Stack configuration for the capture beside this file (see harness/netcfg.h).\n");
    fprintf(f, "mac=%s\nip=%s/%u\ngw=%s\nmtu=%u\nseed=%llu\n", fmt_mac(&c->node.mac, mac, sizeof(mac)),
            fmt_ip4(c->node.addr, ip, sizeof(ip)), c->node.prefix_len,
            c->node.gateway ? fmt_ip4(c->node.gateway, gw, sizeof(gw)) : "none", c->node.mtu,
            (unsigned long long)c->node.seed);
    if (c->has_boot)
        fprintf(f, "boot=%llu\n", (unsigned long long)c->boot_ns);
    fprintf(f, "tcp=%u,%u\n", c->node.tcp_conns, c->node.tcp_rx_size);
    for (size_t i = 0; i < c->n_services; i++) {
        /* An image in the sidecar's own directory is named by its file name alone. */
        struct service svc = c->services[i];
        size_t d = dir_len(path);
        if (svc.kind == SERVICE_HTTP && d && dir_len(svc.path) == d && !strncmp(svc.path, path, d))
            memmove(svc.path, svc.path + d, strlen(svc.path + d) + 1);
        char spec[SERVICE_PATH_MAX + 32];
        fprintf(f, "serve=%s\n", service_format(&svc, spec, sizeof(spec)));
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < c->n_actions; i++)
        if (netcfg_append_action(path, &c->actions[i], err, errlen) < 0)
            return -1;
    for (size_t i = 0; i < c->n_inbound; i++) {
        char line[32];
        snprintf(line, sizeof(line), "inbound=%u", c->inbound[i]);
        if (netcfg_append_line(path, line, err, errlen) < 0)
            return -1;
    }
    return 0;
}

bool netcfg_is_inbound(const struct netcfg *c, size_t frame)
{
    for (size_t i = 0; i < c->n_inbound; i++)
        if (c->inbound[i] == frame)
            return true;
    return false;
}

int netcfg_append_line(const char *path, const char *line, char *err, size_t errlen)
{
    FILE *f = fopen(path, "a");
    if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int netcfg_append_action(const char *path, const struct netcfg_action *a, char *err,
                         size_t errlen)
{
    char ip[16], line[96];
    snprintf(line, sizeof(line), "ping=%llu,%s,%u,%u", (unsigned long long)a->at_ns,
             fmt_ip4(a->dst, ip, sizeof(ip)), a->seq, a->size);
    return netcfg_append_line(path, line, err, errlen);
}
