#include "impair.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct impair_slot {
    uint64_t at;  /* release time */
    uint64_t seq; /* push order: FIFO among equal release times */
    uint8_t *data;
    size_t len;
};

/* splitmix64 (Steele, Lea, Flood 2014): one add and a finaliser per draw, every seed good. */
static uint64_t draw(struct impair *imp)
{
    uint64_t z = (imp->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) from the high bits (Lemire's multiply-shift; bias < n / 2^64). */
static uint64_t below(uint64_t u, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)u * n) >> 64);
}

static bool chance(uint64_t u, uint32_t ppm)
{
    return below(u, IMPAIR_PPM) < ppm;
}

bool impair_is_clean(const struct impair_cfg *cfg)
{
    return !cfg->loss_ppm && !cfg->dup_ppm && !cfg->corrupt_ppm && !cfg->reorder_ppm &&
           !cfg->delay_ns && !cfg->jitter_ns;
}

int impair_init(struct impair *imp, const struct impair_cfg *cfg)
{
    memset(imp, 0, sizeof(*imp));
    if (cfg->loss_ppm > IMPAIR_PPM || cfg->dup_ppm > IMPAIR_PPM || cfg->corrupt_ppm > IMPAIR_PPM ||
        cfg->reorder_ppm > IMPAIR_PPM)
        return -1;
    imp->cfg = *cfg;
    if (!imp->cfg.limit)
        imp->cfg.limit = IMPAIR_DEFAULT_LIMIT;
    if (!imp->cfg.reorder_delay_ns) {
        imp->cfg.reorder_delay_ns = 2 * (cfg->delay_ns + cfg->jitter_ns);
        if (!imp->cfg.reorder_delay_ns)
            imp->cfg.reorder_delay_ns = IMPAIR_DEFAULT_REORDER_NS;
    }
    imp->rng = cfg->seed;
    return 0;
}

void impair_free(struct impair *imp)
{
    for (size_t i = 0; i < imp->n; i++)
        free(imp->heap[i].data);
    free(imp->heap);
    imp->heap = NULL;
    imp->n = imp->cap = 0;
}

static bool earlier(const struct impair_slot *a, const struct impair_slot *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void swap(struct impair_slot *a, struct impair_slot *b)
{
    struct impair_slot t = *a;
    *a = *b;
    *b = t;
}

static void enqueue(struct impair *imp, const uint8_t *frame, size_t len, uint64_t at)
{
    if (imp->n >= imp->cfg.limit) {
        imp->stats.overflow++;
        return;
    }
    if (imp->n == imp->cap) {
        size_t cap = imp->cap ? imp->cap * 2 : 64;
        struct impair_slot *h = realloc(imp->heap, cap * sizeof(*h));
        if (!h) {
            imp->stats.overflow++;
            return;
        }
        imp->heap = h;
        imp->cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        imp->stats.overflow++;
        return;
    }
    memcpy(copy, frame, len);
    size_t i = imp->n++;
    imp->heap[i] = (struct impair_slot){.at = at, .seq = imp->seq++, .data = copy, .len = len};
    while (i > 0 && earlier(&imp->heap[i], &imp->heap[(i - 1) / 2])) {
        swap(&imp->heap[i], &imp->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

/* now + delay + uniform jitter in [-jitter, +jitter], never before now. */
static uint64_t release_time(const struct impair *imp, uint64_t u, uint64_t now)
{
    uint64_t j = imp->cfg.jitter_ns;
    uint64_t t = now + imp->cfg.delay_ns;
    if (j) {
        uint64_t r = below(u, 2 * j + 1);
        if (r >= j)
            t += r - j;
        else
            t = t - now > j - r ? t - (j - r) : now;
    }
    return t;
}

int impair_push(struct impair *imp, const uint8_t *frame, size_t len, uint64_t now)
{
    /* A fixed number of draws per frame, used or not, so frame k meets the same luck
     * whatever the other rates are: raising dup_ppm does not change which frames are lost. */
    uint64_t u_loss = draw(imp), u_corrupt = draw(imp), u_where = draw(imp);
    uint64_t u_dup = draw(imp), u_reorder = draw(imp), u_jit = draw(imp), u_jit2 = draw(imp);

    imp->stats.in++;
    if (chance(u_loss, imp->cfg.loss_ppm)) {
        imp->stats.lost++;
        return 0;
    }
    uint8_t small[2048];
    uint8_t *buf = NULL;
    const uint8_t *out = frame;
    size_t off = imp->cfg.corrupt_offset;
    if (chance(u_corrupt, imp->cfg.corrupt_ppm) && len > off) {
        buf = len <= sizeof(small) ? small : malloc(len);
        if (buf) {
            memcpy(buf, frame, len);
            buf[off + below(u_where, len - off)] ^= (uint8_t)(1u << (u_where & 7));
            out = buf;
            imp->stats.corrupted++;
        }
    }
    size_t before = imp->n;
    uint64_t at = release_time(imp, u_jit, now);
    if (chance(u_reorder, imp->cfg.reorder_ppm)) {
        /* Held back, and not the floor for later frames: they overtake it. */
        at += imp->cfg.reorder_delay_ns;
        imp->stats.reordered++;
    } else {
        if (at < imp->last_release)
            at = imp->last_release;
        imp->last_release = at;
    }
    enqueue(imp, out, len, at);
    if (chance(u_dup, imp->cfg.dup_ppm)) {
        uint64_t overflow = imp->stats.overflow;
        uint64_t at2 = release_time(imp, u_jit2, now);
        if (at2 < imp->last_release)
            at2 = imp->last_release;
        imp->last_release = at2;
        enqueue(imp, out, len, at2);
        if (imp->stats.overflow == overflow)
            imp->stats.duplicated++;
    }
    if (buf && buf != small)
        free(buf);
    return (int)(imp->n - before);
}

bool impair_pop(struct impair *imp, uint64_t now, uint8_t *buf, size_t cap, size_t *len)
{
    if (!imp->n || imp->heap[0].at > now)
        return false;
    struct impair_slot top = imp->heap[0];
    imp->heap[0] = imp->heap[--imp->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < imp->n && earlier(&imp->heap[l], &imp->heap[m]))
            m = l;
        if (r < imp->n && earlier(&imp->heap[r], &imp->heap[m]))
            m = r;
        if (m == i)
            break;
        swap(&imp->heap[i], &imp->heap[m]);
        i = m;
    }
    size_t n = top.len < cap ? top.len : cap;
    memcpy(buf, top.data, n);
    *len = n;
    free(top.data);
    imp->stats.out++;
    return true;
}

uint64_t impair_next_deadline(const struct impair *imp)
{
    return imp->n ? imp->heap[0].at : UINT64_MAX;
}

size_t impair_queued(const struct impair *imp)
{
    return imp->n;
}

/* ---- the text form ---- */

/*
 * A decimal with an optional fraction, times `unit`, exactly: "1.5" with unit 1000000
 * is 1500000. Fraction digits finer than one unit must be zero. Returns the number of
 * characters consumed, or 0 when there is no number, it overflows or is too precise.
 */
static size_t parse_decimal(const char *s, uint64_t unit, uint64_t *out)
{
    const char *p = s;
    uint64_t v = 0;
    bool any = false;
    for (; *p >= '0' && *p <= '9'; p++, any = true) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (v && unit > UINT64_MAX / v)
        return 0;
    v *= unit;
    if (*p == '.') {
        p++;
        uint64_t scale = unit;
        bool frac = false;
        for (; *p >= '0' && *p <= '9'; p++, frac = true) {
            uint64_t d = (uint64_t)(*p - '0');
            if (scale % 10) {
                if (d)
                    return 0;
                continue;
            }
            scale /= 10;
            if (v > UINT64_MAX - d * scale)
                return 0;
            v += d * scale;
        }
        any = any || frac;
    }
    if (!any)
        return 0;
    *out = v;
    return (size_t)(p - s);
}

static int fail(char *err, size_t errlen, const char *key, const char *val, const char *why)
{
    snprintf(err, errlen, "impair: %s=%s: %s", key, val, why);
    return -1;
}

static int parse_rate(const char *key, const char *val, uint32_t *out, char *err, size_t errlen)
{
    uint64_t v;
    size_t n = parse_decimal(val, 10000, &v); /* percent to ppm */
    if (!n)
        return fail(err, errlen, key, val, "not a percentage (e.g. 5%, 0.5%, 250ppm)");
    const char *unit = val + n;
    if (!strcmp(unit, "ppm")) {
        if (v % 10000)
            return fail(err, errlen, key, val, "ppm must be a whole number");
        v /= 10000;
    } else if (*unit && strcmp(unit, "%")) {
        return fail(err, errlen, key, val, "unknown unit (use % or ppm)");
    }
    if (v > IMPAIR_PPM)
        return fail(err, errlen, key, val, "over 100%");
    *out = (uint32_t)v;
    return 0;
}

static int parse_time(const char *key, const char *val, uint64_t *out, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};
    size_t n = strspn(val, "0123456789.");
    if (!n)
        return fail(err, errlen, key, val, "not a time (e.g. 2ms, 500us, 1.5s)");
    const char *unit = val + n;
    if (!*unit) {
        uint64_t zero;
        if (parse_decimal(val, 1, &zero) == n && zero == 0) {
            *out = 0;
            return 0;
        }
        return fail(err, errlen, key, val, "a time needs a unit (ns, us, ms, s)");
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(unit, units[i].name))
            continue;
        if (parse_decimal(val, units[i].ns, out) != n)
            return fail(err, errlen, key, val, "not a time, or too large or too precise");
        return 0;
    }
    return fail(err, errlen, key, val, "unknown unit (use ns, us, ms or s)");
}

static int parse_u64(const char *key, const char *val, uint64_t *out, char *err, size_t errlen)
{
    char *end;
    if (*val < '0' || *val > '9')
        return fail(err, errlen, key, val, "not an unsigned integer");
    bool hex = val[0] == '0' && (val[1] == 'x' || val[1] == 'X');
    errno = 0;
    unsigned long long v = strtoull(val, &end, hex ? 16 : 10);
    if (*end || errno)
        return fail(err, errlen, key, val, "not an unsigned integer");
    *out = v;
    return 0;
}

static int set_item(struct impair_cfg *c, const char *key, const char *val, char *err,
                    size_t errlen)
{
    uint64_t v;
    if (!strcmp(key, "loss"))
        return parse_rate(key, val, &c->loss_ppm, err, errlen);
    if (!strcmp(key, "dup") || !strcmp(key, "duplicate"))
        return parse_rate(key, val, &c->dup_ppm, err, errlen);
    if (!strcmp(key, "corrupt"))
        return parse_rate(key, val, &c->corrupt_ppm, err, errlen);
    if (!strcmp(key, "reorder"))
        return parse_rate(key, val, &c->reorder_ppm, err, errlen);
    if (!strcmp(key, "delay"))
        return parse_time(key, val, &c->delay_ns, err, errlen);
    if (!strcmp(key, "jitter"))
        return parse_time(key, val, &c->jitter_ns, err, errlen);
    if (!strcmp(key, "reorder_delay"))
        return parse_time(key, val, &c->reorder_delay_ns, err, errlen);
    if (!strcmp(key, "seed"))
        return parse_u64(key, val, &c->seed, err, errlen);
    if (!strcmp(key, "limit") || !strcmp(key, "corrupt_offset")) {
        if (parse_u64(key, val, &v, err, errlen) < 0)
            return -1;
        if (v > 1000000000)
            return fail(err, errlen, key, val, "too large");
        *(key[0] == 'l' ? &c->limit : &c->corrupt_offset) = (size_t)v;
        return 0;
    }
    snprintf(err, errlen,
             "impair: unknown key '%s' (keys: loss dup corrupt reorder delay jitter "
             "reorder_delay seed limit corrupt_offset)",
             key);
    return -1;
}

static char *trim(char *s)
{
    s += strspn(s, " \t");
    for (char *e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t');)
        *--e = '\0';
    return s;
}

int impair_parse(const char *spec, struct impair_cfg *cfg, char *err, size_t errlen)
{
    struct impair_cfg c;
    memset(&c, 0, sizeof(c));
    for (const char *p = spec; *p;) {
        size_t n = strcspn(p, ",");
        char item[128];
        if (n >= sizeof(item)) {
            snprintf(err, errlen, "impair: item too long: %.40s...", p);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n + (p[n] == ',');
        char *s = trim(item);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "impair: '%s' is not key=value", s);
            return -1;
        }
        *eq = '\0';
        if (set_item(&c, trim(s), trim(eq + 1), err, errlen) < 0)
            return -1;
    }
    *cfg = c;
    return 0;
}

/* Append ",key=whole[.frac]unit" (no comma first); frac has `digits` digits, trimmed. */
static void put(char *buf, size_t len, size_t *at, const char *key, unsigned long long whole,
                unsigned long long frac, int digits, const char *unit)
{
    char num[32] = "";
    if (frac) {
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        snprintf(num, sizeof(num), ".%0*llu", digits, frac);
    }
    if (*at < len) {
        int w =
            snprintf(buf + *at, len - *at, "%s%s=%llu%s%s", *at ? "," : "", key, whole, num, unit);
        *at = w < 0 ? len : *at + (size_t)w;
    }
}

static void put_rate(char *buf, size_t len, size_t *at, const char *key, uint32_t ppm)
{
    if (ppm)
        put(buf, len, at, key, ppm / 10000, ppm % 10000, 4, "%");
}

static void put_time(char *buf, size_t len, size_t *at, const char *key, uint64_t ns)
{
    if (!ns)
        return;
    if (ns % 1000000 == 0)
        put(buf, len, at, key, ns / 1000000, 0, 0, "ms");
    else if (ns % 1000 == 0)
        put(buf, len, at, key, ns / 1000, 0, 0, "us");
    else
        put(buf, len, at, key, ns, 0, 0, "ns");
}

void impair_format(const struct impair_cfg *cfg, char *buf, size_t len)
{
    size_t at = 0;
    if (!len)
        return;
    buf[0] = '\0';
    put_rate(buf, len, &at, "loss", cfg->loss_ppm);
    put_rate(buf, len, &at, "dup", cfg->dup_ppm);
    put_rate(buf, len, &at, "corrupt", cfg->corrupt_ppm);
    put_rate(buf, len, &at, "reorder", cfg->reorder_ppm);
    put_time(buf, len, &at, "delay", cfg->delay_ns);
    put_time(buf, len, &at, "jitter", cfg->jitter_ns);
    put_time(buf, len, &at, "reorder_delay", cfg->reorder_delay_ns);
    if (cfg->seed)
        put(buf, len, &at, "seed", cfg->seed, 0, 0, "");
    if (cfg->limit)
        put(buf, len, &at, "limit", cfg->limit, 0, 0, "");
    if (cfg->corrupt_offset)
        put(buf, len, &at, "corrupt_offset", cfg->corrupt_offset, 0, 0, "");
}
