#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "netstack/eth_wire.h"
#include "testbed.h"

const char *replay_sidecar_path(const char *pcap, char *buf, size_t len)
{
    size_t n = strlen(pcap);
    if (n > 5 && strcmp(pcap + n - 5, ".pcap") == 0)
        n -= 5;
    snprintf(buf, len, "%.*s.conf", (int)n, pcap);
    return buf;
}

/* One frame the stack sent, and the capture frame it followed (for the report). */
struct sent {
    const uint8_t *data;
    size_t len;
    size_t after; /* capture frame number (1-based) last fed before it; 0 = at boot */
};

struct expect {
    const uint8_t *data;
    size_t len;
    size_t frame; /* capture frame number, 1-based as in Wireshark */
};

static void describe_diff(FILE *out, const struct field *e, const struct field *a)
{
    char eb[200], ab[200];
    fprintf(out, "  layer:    %s\n  field:    %s\n", field_layer(e ? e : a), e ? e->name : a->name);
    fprintf(out, "  expected: %s\n", e ? field_format(e, eb, sizeof(eb)) : "(absent)");
    fprintf(out, "  actual:   %s\n", a ? field_format(a, ab, sizeof(ab)) : "(absent)");
    if (e && a && e->kind == F_BYTES && a->kind == F_BYTES) {
        size_t i = 0;
        while (i < e->len && i < a->len && e->bytes[i] == a->bytes[i])
            i++;
        fprintf(out, "  first differing byte: %zu of %s\n", i, e->name);
    }
}

/* The first field that differs. Checksum fields are looked at only when nothing else
 * differs: a changed field also breaks the checksum before it (ICMP's precedes the data),
 * and the report should name the cause, not the symptom. */
static size_t first_difference(const struct dissection *de, const struct dissection *da)
{
    size_t n = de->n > da->n ? de->n : da->n;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (i >= de->n || i >= da->n)
                return i;
            bool csum = de->f[i].kind == F_CSUM && da->f[i].kind == F_CSUM;
            if (csum != (pass == 1))
                continue;
            if (!field_equal(&de->f[i], &da->f[i]))
                return i;
        }
    }
    return n;
}

/* Compare one expected frame with one actual frame. Returns true when they match. */
static bool compare(FILE *out, const char *name, const struct expect *e, size_t k,
                    const struct sent *a, struct dissect_ctx *ectx, struct dissect_ctx *actx)
{
    struct dissection de, da;
    dissect(ectx, e->data, e->len, &de);
    dissect(actx, a->data, a->len, &da);
    size_t i = first_difference(&de, &da);
    if (i == (de.n > da.n ? de.n : da.n))
        return true;
    const struct field *fe = i < de.n ? &de.f[i] : NULL;
    const struct field *fa = i < da.n ? &da.f[i] : NULL;
    fprintf(out, "replay: %s: MISMATCH at capture frame %zu (the stack's frame %zu)\n", name,
            e->frame, k + 1);
    if (fe && fa && strcmp(fe->name, fa->name) != 0)
        fprintf(out, "  layer:    %s\n  field:    %s (expected) vs %s (actual): the frames "
                     "differ in structure\n", field_layer(fe), fe->name, fa->name);
    else
        describe_diff(out, fe, fa);
    fprintf(out, "  expected frame: %s\n  actual frame:   %s\n", de.summary, da.summary);
    return false;
}

/* The replay in progress: the stack under test and the bookkeeping around its output. */
struct run {
    struct testbed tb;
    struct services services; /* the recorded TCP applications, run again */
    uint64_t boot;
    size_t cur;      /* capture frame being processed (1-based), for attribution */
    size_t *after;   /* for each sent frame, the capture frame it followed */
    size_t n_after;
    struct pcap_writer *w;
    size_t written;  /* sent frames already copied to the output pcap */
};

static void run_services(struct testbed *tb, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    services_event(tb->hook_ctx, c, ev, user, tb->now);
}

static void poll_services(struct testbed *tb, uint64_t now)
{
    services_poll(tb->hook_ctx, now);
}

static uint64_t services_deadline(struct testbed *tb)
{
    return services_next_deadline(tb->hook_ctx);
}

/* Note the frames the stack has sent since the last call. */
static void collect(struct run *r)
{
    size_t n = r->tb.link.n;
    if (r->n_after < n) {
        size_t *na = realloc(r->after, n * sizeof(*na));
        if (!na)
            abort();
        r->after = na;
        while (r->n_after < n)
            r->after[r->n_after++] = r->cur;
    }
    for (; r->w && r->written < n; r->written++) {
        const struct fake_frame *f = &r->tb.link.frames[r->written];
        pcap_writer_put(r->w, r->boot + f->ts, f->data, f->len);
    }
}

/* Perform the application's recorded actions that fall due by `t`. */
static void act(struct run *r, const struct netcfg *cfg, size_t *next, uint64_t t)
{
    for (; *next < cfg->n_actions && cfg->actions[*next].at_ns <= t; (*next)++) {
        const struct netcfg_action *a = &cfg->actions[*next];
        tb_advance(&r->tb, a->at_ns);
        collect(r);
        node_ping(r->tb.node, a->dst, a->seq, a->size, r->tb.now);
        collect(r);
    }
}

/* Feed the capture; expected (outbound) frames are gathered into `exp`. */
static size_t feed(struct run *r, const struct capture *cap, const struct netcfg *cfg,
                   const struct replay_opts *o, struct expect *exp, FILE *out)
{
    size_t n_exp = 0, next_action = 0;
    node_start(r->tb.node, 0);
    collect(r);
    for (size_t i = 0; i < cap->n; i++) {
        const struct cap_frame *f = &cap->frames[i];
        uint64_t t = f->ts_ns > r->boot ? f->ts_ns - r->boot : 0;
        r->cur = i + 1;
        act(r, cfg, &next_action, t);
        tb_advance(&r->tb, t); /* timers due by now fire before this frame */
        collect(r);
        if (f->len >= ETH_HDR_LEN && memcmp(f->data + ETH_OFF_SRC, cfg->node.mac.b, 6) == 0 &&
            !netcfg_is_inbound(cfg, i + 1)) {
            exp[n_exp++] = (struct expect){f->data, f->len, i + 1};
            continue;
        }
        if (r->w)
            pcap_writer_put(r->w, f->ts_ns, f->data, f->len);
        node_input(r->tb.node, f->data, f->len, t);
        collect(r);
        if (o->verbose)
            fprintf(out, "  in  #%zu at %.6f s, stack has sent %zu\n", i + 1, t / 1e9,
                    r->tb.link.n);
    }
    act(r, cfg, &next_action, UINT64_MAX); /* actions after the last frame still happened */
    return n_exp;
}

static void summary(const uint8_t *data, size_t len, struct dissection *d)
{
    struct dissect_ctx ctx = {0};
    dissect(&ctx, data, len, d);
}

/* Walk expected and actual frames in order; report the first difference. */
static int diff(const char *name, const struct run *r, const struct expect *exp, size_t n_exp,
                const struct replay_opts *o, FILE *out)
{
    struct dissect_ctx ectx = {0}, actx = {0};
    size_t n_sent = r->tb.link.n;
    struct dissection d;
    for (size_t k = 0; k < n_exp || k < n_sent; k++) {
        if (k >= n_sent) {
            summary(exp[k].data, exp[k].len, &d);
            fprintf(out, "replay: %s: MISMATCH at capture frame %zu: the stack sent nothing "
                         "(it sent %zu frames, the capture %zu)\n  expected frame: %s\n",
                    name, exp[k].frame, n_sent, n_exp, d.summary);
            return REPLAY_DIFFER;
        }
        struct sent a = {r->tb.link.frames[k].data, r->tb.link.frames[k].len, r->after[k]};
        if (k >= n_exp) {
            summary(a.data, a.len, &d);
            fprintf(out, "replay: %s: MISMATCH: the stack sent an extra frame after capture "
                         "frame %zu (it sent %zu frames, the capture %zu)\n  actual frame: %s\n",
                    name, a.after, n_sent, n_exp, d.summary);
            return REPLAY_DIFFER;
        }
        if (!compare(out, name, &exp[k], k, &a, &ectx, &actx))
            return REPLAY_DIFFER;
        if (o->verbose) {
            summary(a.data, a.len, &d);
            fprintf(out, "  out #%zu matches: %s\n", exp[k].frame, d.summary);
        }
    }
    fprintf(out, "replay: %s: ok, %zu frames sent as recorded\n", name, n_exp);
    return REPLAY_MATCH;
}

int replay_capture(const char *name, const struct capture *cap, const struct netcfg *cfg,
                   const struct replay_opts *o, FILE *out)
{
    struct run r = {.boot = cfg->has_boot ? cfg->boot_ns : (cap->n ? cap->frames[0].ts_ns : 0)};
    int rc = REPLAY_CANNOT_RUN;
    struct expect *exp = calloc(cap->n + 1, sizeof(*exp));
    if (!exp) {
        fprintf(out, "replay: %s: out of memory\n", name);
        return REPLAY_CANNOT_RUN;
    }
    if (testbed_init(&r.tb, &cfg->node, 0) != NET_OK) {
        fprintf(out, "replay: %s: cannot run: the stack refused the sidecar configuration\n",
                name);
        goto done;
    }
    char err[256];
    if (services_start(&r.services, &r.tb.node->tcp, cfg->services, cfg->n_services, NULL, err,
                       sizeof(err)) < 0) {
        fprintf(out, "replay: %s: cannot run: %s\n", name, err);
        goto done;
    }
    r.tb.tcp_hook = run_services;
    r.tb.hook_ctx = &r.services;
    r.tb.app_poll = poll_services;
    r.tb.app_deadline = services_deadline;
    if (o->write_path) {
        if (!(r.w = pcap_writer_open(o->write_path, err, sizeof(err)))) {
            fprintf(out, "replay: cannot run: %s\n", err);
            goto done;
        }
    }
    size_t n_exp = feed(&r, cap, cfg, o, exp, out);
    rc = diff(name, &r, exp, n_exp, o, out);
done:
    pcap_writer_close(r.w);
    free(r.after);
    free(exp);
    services_free(&r.services);
    testbed_free(&r.tb);
    return rc;
}

int replay_file(const char *pcap, const struct replay_opts *o, FILE *out)
{
    char conf[4096], err[512];
    struct netcfg cfg;
    struct capture cap;

    netcfg_defaults(&cfg);
    replay_sidecar_path(pcap, conf, sizeof(conf));
    if (netcfg_load(conf, &cfg, err, sizeof(err)) < 0) {
        fprintf(out, "replay: cannot run: %s\n", err);
        return REPLAY_CANNOT_RUN;
    }
    if (capture_load(pcap, &cap, err, sizeof(err)) < 0) {
        fprintf(out, "replay: cannot run: %s\n", err);
        return REPLAY_CANNOT_RUN;
    }
    int rc = replay_capture(pcap, &cap, &cfg, o, out);
    capture_free(&cap);
    return rc;
}
