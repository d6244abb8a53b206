/*
 * bench_common.h — what quartz_bench and lwip_bench share, so both stacks are measured
 * through the same in-memory link shape, the same clock and the same frames.
 *
 *   - a monotonic clock (clock_gettime), read once per pass of the event loop;
 *   - the link: a pool of ML_SLOTS frame buffers of ML_SLOT_SIZE bytes with a LIFO free
 *     list (the buffer freed last is handed out next, so the few buffers in flight stay
 *     in cache), and one FIFO of filled buffers per direction. Each buffer keeps
 *     ML_HEADROOM bytes in front of the frame for the driver's own metadata (lwIP's
 *     struct pbuf_custom lives there; Quartz leaves it unused);
 *   - frame builders for the receive-path row: ARP request, ICMP echo request, TCP
 *     segment, with correct checksums, and an incremental (RFC 1624) sequence-number
 *     patch so a pre-built segment can be replayed in order;
 *   - one JSON object per result row on stdout.
 *
 * Host code only: libc, no stack headers.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- Clock ----------------------------------------------------------------------- */

static inline uint64_t bench_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: what a row cost even when other work shares the core. */
static inline uint64_t bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- Shared parameters ------------------------------------------------------------- */

#define BENCH_MSS 1460
#define BENCH_BULK_BYTES (2ull << 30) /* row 1: 2 GiB A -> B */
#define BENCH_CHUNK 65536             /* bytes the application offers per send call */
#define BENCH_VERIFY_BYTES (4u << 20) /* the first 4 MiB are compared byte for byte */
#define BENCH_RX_SECONDS 1.0          /* row 2: the mix */
#define BENCH_RX_KIND_SECONDS 0.25    /* row 2: each frame kind alone */
#define BENCH_RX_DATA_LEN 64          /* the mix's data segments; both stacks ACK every second */
#define BENCH_RX_MSS_LEN BENCH_MSS    /* full-sized data segments: a row of their own */
#define BENCH_ICMP_DATA_LEN 56        /* ping's default */
#define BENCH_HTTP_SECONDS 1.5        /* row 3 */
#define BENCH_HTTP_WARMUP 2000        /* connections before the clock starts */
#define BENCH_HTTP_CONCURRENCY 1      /* connections the client keeps open at once */
#define BENCH_HTTP_TABLE 64           /* each side's TCP connections (server TIME_WAITs) */
#define BENCH_HTTP_PORT 80
#define BENCH_BULK_PORT 5001
#define BENCH_BATCH 64 /* frames each way between clock reads */

/* Node A (server / system under test) and node B (client / peer). */
#define BENCH_IP_A 0x0a000002u /* 10.0.0.2 */
#define BENCH_IP_B 0x0a000001u /* 10.0.0.1 */
static const uint8_t bench_mac_a[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t bench_mac_b[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};

static const char bench_http_request[] = "GET / HTTP/1.1\r\n"
                                         "Host: 10.0.0.2\r\n"
                                         "User-Agent: quartz-bench/1\r\n"
                                         "Accept: */*\r\n"
                                         "Connection: close\r\n"
                                         "\r\n";

/* The bulk stream: byte i is pattern[i % BENCH_CHUNK]; 2 * BENCH_CHUNK bytes so any
 * window of BENCH_CHUNK bytes is contiguous. */
static inline void bench_pattern(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i % BENCH_CHUNK) * 7 + (i % BENCH_CHUNK) / 251);
}

/* ---- Output ------------------------------------------------------------------------ */

static inline double bench_load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* {"row":..., "stack":..., "value":..., "unit":..., "cpu_value":..., "cpu_share":...,
 * <extra>} on one line. `value` is the work over wall-clock time; `cpu_value` the same work
 * over this thread's CPU time (equal on an idle machine, and the steadier one on a busy
 * one); cpu_share is CPU time / wall time. */
static inline void bench_row(const char *row, const char *stack, double value, const char *unit,
                             double wall_ns, double cpu_ns, const char *extra_fmt, ...)
{
    char extra[512] = "";
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        vsnprintf(extra, sizeof(extra), extra_fmt, ap);
        va_end(ap);
    }
    printf("{\"row\":\"%s\",\"stack\":\"%s\",\"value\":%.4f,\"unit\":\"%s\","
           "\"cpu_value\":%.4f,\"cpu_share\":%.3f,\"load1\":%.2f%s%s}\n",
           row, stack, value, unit, cpu_ns > 0 ? value * wall_ns / cpu_ns : 0.0,
           wall_ns > 0 ? cpu_ns / wall_ns : 0.0, bench_load1(), extra[0] ? "," : "", extra);
    fflush(stdout);
}

static inline void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- Files and processes ------------------------------------------------------------ */

/* The whole file at `path` in a malloc'd buffer (its length in *len), or NULL. */
static inline void *bench_load_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* site.img beside the program (where bench.mk builds it): the --site default. */
static inline const char *bench_site_beside(const char *argv0)
{
    static char path[4096];
    const char *slash = strrchr(argv0, '/');
    snprintf(path, sizeof(path), "%.*ssite.img", slash ? (int)(slash - argv0 + 1) : 0, argv0);
    return path;
}

#define BENCH_ROWS 3 /* row r of "bulk", "rx", "http" */

/* Each row named in `rows` in a fresh process, in order: lwIP is one global instance
 * whose PCBs (TIME_WAIT ones included) outlive a row, and Quartz runs the same way so
 * both start every row alike. 0 when every row's process exited 0. */
static inline int bench_run_rows(const char *rows, void (*run)(int row, void *ctx), void *ctx)
{
    static const char *const names[BENCH_ROWS] = {"bulk", "rx", "http"};
    int rc = 0;
    for (int r = 0; r < BENCH_ROWS; r++) {
        if (!strstr(rows, names[r]))
            continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork: %s", strerror(errno));
        if (pid == 0) {
            run(r, ctx);
            fflush(stdout);
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            rc = 1;
    }
    return rc;
}

/* ---- The in-memory link -------------------------------------------------------------- */

#define ML_SLOT_SIZE 2048
#define ML_HEADROOM 128
#define ML_FRAME_MAX (ML_SLOT_SIZE - ML_HEADROOM)
#define ML_SLOTS 4096 /* a power of two; more than any window here keeps in flight */
#define ML_NONE UINT32_MAX

struct ml_pool {
    uint8_t *mem;
    uint32_t n_free;
    uint32_t free[ML_SLOTS];
};

struct ml_fifo {
    uint32_t head, tail; /* free-running */
    uint32_t slot[ML_SLOTS];
    uint16_t len[ML_SLOTS];
    uint64_t frames, bytes;
};

static inline void ml_pool_init(struct ml_pool *p)
{
    p->mem = aligned_alloc(4096, (size_t)ML_SLOTS * ML_SLOT_SIZE);
    if (!p->mem)
        bench_die("out of memory");
    memset(p->mem, 0, (size_t)ML_SLOTS * ML_SLOT_SIZE);
    p->n_free = ML_SLOTS;
    for (uint32_t i = 0; i < ML_SLOTS; i++)
        p->free[i] = ML_SLOTS - 1 - i; /* slot 0 on top */
}

static inline uint8_t *ml_slot(const struct ml_pool *p, uint32_t i)
{
    return p->mem + (size_t)i * ML_SLOT_SIZE;
}

static inline uint8_t *ml_data(const struct ml_pool *p, uint32_t i)
{
    return ml_slot(p, i) + ML_HEADROOM;
}

static inline uint32_t ml_index(const struct ml_pool *p, const uint8_t *ptr)
{
    return (uint32_t)((size_t)(ptr - p->mem) / ML_SLOT_SIZE);
}

/* The slot a get would return, without taking it (Quartz's reserve). */
static inline uint32_t ml_peek(const struct ml_pool *p)
{
    return p->n_free ? p->free[p->n_free - 1] : ML_NONE;
}

static inline uint32_t ml_get(struct ml_pool *p)
{
    return p->n_free ? p->free[--p->n_free] : ML_NONE;
}

static inline void ml_put(struct ml_pool *p, uint32_t i)
{
    p->free[p->n_free++] = i;
}

static inline bool ml_empty(const struct ml_fifo *q)
{
    return q->head == q->tail;
}

static inline void ml_push(struct ml_fifo *q, uint32_t slot, size_t len)
{
    uint32_t at = q->tail++ & (ML_SLOTS - 1);
    q->slot[at] = slot;
    q->len[at] = (uint16_t)len;
    q->frames++;
    q->bytes += len;
}

static inline uint32_t ml_pop(struct ml_fifo *q, size_t *len)
{
    uint32_t at = q->head++ & (ML_SLOTS - 1);
    *len = q->len[at];
    return q->slot[at];
}

/* ---- Frames for the receive-path row --------------------------------------------------- */

static inline void bw_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void bw_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint16_t bw_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t bw_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t bw_sum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n >= 2; n -= 2, p += 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (n)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static inline uint16_t bw_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static inline size_t bw_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    bw_put16(f + 12, type);
    return 14;
}

/* IPv4 header at f (20 bytes, DF, TTL 64) for `payload_len` bytes. */
static inline void bw_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t payload_len,
                         uint16_t id)
{
    memset(f, 0, 20);
    f[0] = 0x45;
    bw_put16(f + 2, (uint16_t)(20 + payload_len));
    bw_put16(f + 4, id);
    bw_put16(f + 6, 0x4000);
    f[8] = 64;
    f[9] = proto;
    bw_put32(f + 12, src);
    bw_put32(f + 16, dst);
    bw_put16(f + 10, bw_fold(bw_sum(0, f, 20)));
}

static inline size_t bw_pad(uint8_t *f, size_t len)
{
    if (len < 60) {
        memset(f + len, 0, 60 - len);
        len = 60;
    }
    return len;
}

/* Broadcast "who has tip? tell sip" from (smac, sip). */
static inline size_t bw_arp_request(uint8_t *f, const uint8_t smac[6], uint32_t sip, uint32_t tip)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    size_t n = bw_eth(f, bcast, smac, 0x0806);
    uint8_t *a = f + n;
    bw_put16(a, 1);
    bw_put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    bw_put16(a + 6, 1);
    memcpy(a + 8, smac, 6);
    bw_put32(a + 14, sip);
    memset(a + 18, 0, 6);
    bw_put32(a + 24, tip);
    return bw_pad(f, n + 28);
}

static inline size_t bw_icmp_echo(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6],
                                  uint32_t sip, uint32_t dip, uint16_t ident, uint16_t seq,
                                  size_t data_len)
{
    size_t n = bw_eth(f, dmac, smac, 0x0800);
    bw_ip(f + n, sip, dip, 1, 8 + data_len, 0x1234);
    uint8_t *m = f + n + 20;
    m[0] = 8;
    m[1] = 0;
    bw_put16(m + 2, 0);
    bw_put16(m + 4, ident);
    bw_put16(m + 6, seq);
    for (size_t i = 0; i < data_len; i++)
        m[8 + i] = (uint8_t)(0x10 + i);
    bw_put16(m + 2, bw_fold(bw_sum(0, m, 8 + data_len)));
    return bw_pad(f, n + 20 + 8 + data_len);
}

#define BW_TCP_FIN 0x01
#define BW_TCP_SYN 0x02
#define BW_TCP_RST 0x04
#define BW_TCP_PSH 0x08
#define BW_TCP_ACK 0x10

/* Ethernet + IPv4 + TCP; a SYN carries the MSS option (and nothing else). */
static inline size_t bw_tcp(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip,
                            uint32_t dip, uint16_t sport, uint16_t dport, uint32_t seq,
                            uint32_t ack, uint8_t flags, uint16_t window, size_t data_len)
{
    size_t n = bw_eth(f, dmac, smac, 0x0800);
    size_t hl = (flags & BW_TCP_SYN) ? 24 : 20;
    bw_ip(f + n, sip, dip, 6, hl + data_len, 0x2345);
    uint8_t *t = f + n + 20;
    memset(t, 0, hl);
    bw_put16(t, sport);
    bw_put16(t + 2, dport);
    bw_put32(t + 4, seq);
    bw_put32(t + 8, ack);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = flags;
    bw_put16(t + 14, window);
    if (flags & BW_TCP_SYN) {
        t[20] = 2;
        t[21] = 4;
        bw_put16(t + 22, BENCH_MSS);
    }
    for (size_t i = 0; i < data_len; i++)
        t[hl + i] = (uint8_t)('a' + i % 26);
    uint8_t ph[12];
    bw_put32(ph, sip);
    bw_put32(ph + 4, dip);
    ph[8] = 0;
    ph[9] = 6;
    bw_put16(ph + 10, (uint16_t)(hl + data_len));
    bw_put16(t + 16, bw_fold(bw_sum(bw_sum(0, ph, 12), t, hl + data_len)));
    return bw_pad(f, n + 20 + hl + data_len);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for each 16-bit word that changes. */
static inline void bw_csum_replace16(uint8_t *csum, uint16_t old, uint16_t new_)
{
    uint32_t sum = (uint16_t)~bw_get16(csum);
    sum += (uint16_t)~old;
    sum += new_;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    bw_put16(csum, (uint16_t)~sum);
}

/* Rewrite the sequence number of the TCP segment in frame f (Ethernet + 20-byte IPv4). */
static inline void bw_tcp_set_seq(uint8_t *f, uint32_t seq)
{
    uint8_t *t = f + 14 + 20;
    uint32_t old = bw_get32(t + 4);
    bw_put32(t + 4, seq);
    bw_csum_replace16(t + 16, (uint16_t)(old >> 16), (uint16_t)(seq >> 16));
    bw_csum_replace16(t + 16, (uint16_t)old, (uint16_t)seq);
}

/* The SYN-ACK's sequence number, from a frame the stack sent; false if it is not one. */
static inline bool bw_parse_synack(const uint8_t *f, size_t len, uint32_t *seq)
{
    if (len < 54 || bw_get16(f + 12) != 0x0800 || f[14 + 9] != 6)
        return false;
    const uint8_t *t = f + 14 + (size_t)(f[14] & 0x0f) * 4;
    if ((t[13] & (BW_TCP_SYN | BW_TCP_ACK)) != (BW_TCP_SYN | BW_TCP_ACK))
        return false;
    *seq = bw_get32(t + 4);
    return true;
}

/* One line per frame on stderr (--trace N): who sent it, when, and what it is. */
static inline void bw_trace(const char *dir, uint64_t ns, const uint8_t *f, size_t len)
{
    uint16_t type = len >= 14 ? bw_get16(f + 12) : 0;
    if (type == 0x0806) {
        fprintf(stderr, "%12.6f %s ARP op %u\n", (double)ns / 1e9, dir, bw_get16(f + 20));
        return;
    }
    if (type != 0x0800 || len < 34) {
        fprintf(stderr, "%12.6f %s type %04x len %zu\n", (double)ns / 1e9, dir, type, len);
        return;
    }
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = bw_get16(ip + 2);
    if (ip[9] == 6 && len >= 14 + ihl + 20) {
        const uint8_t *t = ip + ihl;
        size_t hl = (size_t)(t[12] >> 4) * 4;
        char fl[8], *q = fl;
        static const char names[] = "FSRPAU";
        for (int b = 0; b < 6; b++)
            if (t[13] & (1 << b))
                *q++ = names[b];
        *q = 0;
        fprintf(stderr, "%12.6f %s TCP %u>%u [%s] seq %u ack %u win %u len %zu\n", (double)ns / 1e9,
                dir, bw_get16(t), bw_get16(t + 2), fl, bw_get32(t + 4), bw_get32(t + 8),
                bw_get16(t + 14), tot - ihl - hl);
        return;
    }
    fprintf(stderr, "%12.6f %s IP proto %u len %zu\n", (double)ns / 1e9, dir, ip[9], tot);
}

/* The receive-path frames; the mix (BW_MIX) is one each of the first four per round. */
enum bw_kind { BW_K_ARP, BW_K_ICMP, BW_K_DATA, BW_K_ACK, BW_K_MSS, BW_KINDS };
#define BW_MIX ((1u << BW_K_ARP) | (1u << BW_K_ICMP) | (1u << BW_K_DATA) | (1u << BW_K_ACK))
static const char *const bw_kind_row[BW_KINDS] = {"host_rx_arp", "host_rx_icmp", "host_rx_tcp_data",
                                                  "host_rx_tcp_ack", "host_rx_tcp_mss"};

/* --rx-kinds arp,icmp,data,ack,mss,mix: which receive-path rows to run (bit BW_KINDS: the
 * mix). Returns false on an unknown name. */
static inline bool bw_parse_kinds(const char *list, unsigned *mask)
{
    static const char *const names[BW_KINDS + 1] = {"arp", "icmp", "data", "ack", "mss", "mix"};
    *mask = 0;
    while (*list) {
        size_t n = strcspn(list, ",");
        unsigned k = 0;
        while (k <= BW_KINDS && (strlen(names[k]) != n || strncmp(list, names[k], n)))
            k++;
        if (k > BW_KINDS)
            return false;
        *mask |= 1u << k;
        list += n + (list[n] == ',');
    }
    return true;
}
#define BW_ALL_ROWS ((1u << (BW_KINDS + 1)) - 1)

/* Frames the synthetic peer (B's addresses) sends to the system under test (A). */
struct bw_mix {
    uint8_t frame[BW_KINDS][ML_FRAME_MAX];
    size_t len[BW_KINDS];
    uint32_t seq; /* the peer's next sequence number */
};

/* Build the mix for a connection whose next peer sequence number is `seq` and that
 * acknowledges `ack` (all the stack has sent). */
static inline void bw_mix_build(struct bw_mix *m, uint16_t sport, uint16_t dport, uint32_t seq,
                                uint32_t ack)
{
    m->seq = seq;
    m->len[BW_K_ARP] = bw_arp_request(m->frame[BW_K_ARP], bench_mac_b, BENCH_IP_B, BENCH_IP_A);
    m->len[BW_K_ICMP] = bw_icmp_echo(m->frame[BW_K_ICMP], bench_mac_a, bench_mac_b, BENCH_IP_B,
                                     BENCH_IP_A, 0x5151, 1, BENCH_ICMP_DATA_LEN);
    m->len[BW_K_DATA] =
        bw_tcp(m->frame[BW_K_DATA], bench_mac_a, bench_mac_b, BENCH_IP_B, BENCH_IP_A, sport, dport,
               seq, ack, BW_TCP_ACK | BW_TCP_PSH, 65535, BENCH_RX_DATA_LEN);
    m->len[BW_K_ACK] = bw_tcp(m->frame[BW_K_ACK], bench_mac_a, bench_mac_b, BENCH_IP_B, BENCH_IP_A,
                              sport, dport, seq, ack, BW_TCP_ACK, 65535, 0);
    m->len[BW_K_MSS] =
        bw_tcp(m->frame[BW_K_MSS], bench_mac_a, bench_mac_b, BENCH_IP_B, BENCH_IP_A, sport, dport,
               seq, ack, BW_TCP_ACK | BW_TCP_PSH, 65535, BENCH_RX_MSS_LEN);
}

/* Ready frame `k` for its next use (in-order sequence numbers) and return its length. */
static inline size_t bw_mix_next(struct bw_mix *m, enum bw_kind k)
{
    if (k == BW_K_DATA) {
        bw_tcp_set_seq(m->frame[k], m->seq);
        m->seq += BENCH_RX_DATA_LEN;
    } else if (k == BW_K_MSS) {
        bw_tcp_set_seq(m->frame[k], m->seq);
        m->seq += BENCH_RX_MSS_LEN;
    } else if (k == BW_K_ACK) {
        bw_tcp_set_seq(m->frame[k], m->seq);
    }
    return m->len[k];
}

#endif
