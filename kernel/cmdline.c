#include "cmdline.h"

#include <stddef.h>

static bool parse_uint(const char *s, int len, uint64_t max, uint64_t *out, int *used)
{
    uint64_t v = 0;
    int i = 0;
    bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    if (hex)
        i = 2;
    int start = i;
    for (; i < len; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (hex && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            break;
        if (v > (max - d) / (hex ? 16 : 10))
            return false;
        v = v * (hex ? 16 : 10) + d;
    }
    if (i == start)
        return false;
    *out = v;
    *used = i;
    return true;
}

/* A size with an optional K/M/G suffix, as Linux's virtio_mmio.device= takes it. */
static bool parse_size(const char *s, int len, uint64_t *out, int *used)
{
    if (!parse_uint(s, len, UINT64_MAX >> 30, out, used))
        return false;
    if (*used < len) {
        char c = s[*used];
        int shift = c == 'K' || c == 'k'   ? 10
                    : c == 'M' || c == 'm' ? 20
                    : c == 'G' || c == 'g' ? 30
                                           : 0;
        if (shift) {
            *out <<= shift;
            (*used)++;
        }
    }
    return true;
}

static bool parse_ip(const char *s, int len, uint32_t *ip, int *used)
{
    uint32_t a = 0;
    int pos = 0;
    for (int part = 0; part < 4; part++) {
        uint64_t v;
        int n;
        if (part) {
            if (pos >= len || s[pos] != '.')
                return false;
            pos++;
        }
        if (!parse_uint(s + pos, len - pos, 255, &v, &n) || n > 3)
            return false;
        a = a << 8 | (uint32_t)v;
        pos += n;
    }
    *ip = a;
    *used = pos;
    return true;
}

static bool key_is(const char *w, int klen, const char *key)
{
    int i = 0;
    for (; i < klen && key[i]; i++)
        if (w[i] != key[i])
            return false;
    return i == klen && !key[i];
}

/* What became of one word: taken, a known key with a bad value, or an unknown key. */
enum word_result { WORD_UNKNOWN = -1, WORD_BAD_VALUE = 0, WORD_OK = 1 };

static int word(struct cmdline *c, const char *w, int len)
{
    int klen = 0;
    while (klen < len && w[klen] != '=')
        klen++;
    const char *v = w + klen + 1;
    int vlen = len - klen - 1;
    uint64_t n;
    int used;

    if (klen == len) { /* a bare flag */
        if (key_is(w, klen, "selftest")) {
            c->selftest = true;
            return WORD_OK;
        }
        if (key_is(w, klen, "costs")) {
            c->costs = true;
            return WORD_OK;
        }
        return WORD_UNKNOWN;
    }
    if (key_is(w, klen, "ip")) {
        uint32_t ip;
        if (!parse_ip(v, vlen, &ip, &used))
            return WORD_BAD_VALUE;
        uint8_t prefix = 24;
        if (used < vlen) {
            int pn;
            if (v[used] != '/' || !parse_uint(v + used + 1, vlen - used - 1, 30, &n, &pn) ||
                used + 1 + pn != vlen || n < 1)
                return WORD_BAD_VALUE;
            prefix = (uint8_t)n;
        }
        c->ip = ip;
        c->prefix_len = prefix;
        return WORD_OK;
    }
    if (key_is(w, klen, "gw")) {
        uint32_t ip;
        if (!parse_ip(v, vlen, &ip, &used) || used != vlen)
            return WORD_BAD_VALUE;
        c->gw = ip;
        return WORD_OK;
    }
    if (key_is(w, klen, "port")) {
        if (!parse_uint(v, vlen, 65535, &n, &used) || used != vlen || n == 0)
            return WORD_BAD_VALUE;
        c->port = (uint16_t)n;
        return WORD_OK;
    }
    if (key_is(w, klen, "seed")) {
        if (!parse_uint(v, vlen, UINT64_MAX, &c->seed, &used) || used != vlen)
            return WORD_BAD_VALUE;
        c->has_seed = true;
        return WORD_OK;
    }
    if (key_is(w, klen, "log")) {
        if (key_is(v, vlen, "info") || key_is(v, vlen, "debug")) {
            c->debug = key_is(v, vlen, "debug");
            return WORD_OK;
        }
        if (key_is(v, vlen, "sync")) {
            c->log_sync = true;
            return WORD_OK;
        }
        return WORD_BAD_VALUE;
    }
    if (key_is(w, klen, "panic")) {
        if (key_is(v, vlen, "test")) {
            c->panic_test = true;
            return WORD_OK;
        }
        if (key_is(v, vlen, "stack")) {
            c->panic_stack = true;
            return WORD_OK;
        }
        return WORD_BAD_VALUE;
    }
    if (key_is(w, klen, "selftest")) {
        if (!key_is(v, vlen, "fail"))
            return WORD_BAD_VALUE;
        {
            c->selftest = c->selftest_fail = true;
            return WORD_OK;
        }
    }
    if (key_is(w, klen, "virtio_mmio.device")) {
        /* SIZE@BASE:IRQ */
        struct cmdline_mmio m;
        int a, b, d;
        if (c->n_mmio == CMDLINE_MAX_MMIO || !parse_size(v, vlen, &m.size, &a) || a >= vlen ||
            v[a] != '@' || !parse_uint(v + a + 1, vlen - a - 1, UINT64_MAX, &m.base, &b) ||
            a + 1 + b >= vlen || v[a + 1 + b] != ':' ||
            !parse_uint(v + a + 2 + b, vlen - a - 2 - b, 255, &n, &d) || a + 2 + b + d != vlen)
            return WORD_BAD_VALUE;
        m.irq = (uint32_t)n;
        c->mmio[c->n_mmio++] = m;
        return WORD_OK;
    }
    return WORD_UNKNOWN;
}

void cmdline_parse(const char *s, struct cmdline *c,
                   void (*warn)(void *ctx, const char *why, const char *word, int len), void *ctx)
{
    *c = (struct cmdline){.ip = 0x0a00020f, .prefix_len = 24, .gw = 0x0a000202, .port = 80};
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        int len = 0;
        while (s[len] && s[len] != ' ' && s[len] != '\t' && s[len] != '\n')
            len++;
        int r = len ? word(c, s, len) : WORD_OK;
        if (r != WORD_OK && warn)
            warn(ctx, r == WORD_BAD_VALUE ? "bad value, ignored" : "unknown key, ignored", s, len);
        s += len;
    }
}
