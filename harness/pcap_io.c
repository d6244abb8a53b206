#include "pcap_io.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int capture_load(const char *path, struct capture *cap, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE];
    memset(cap, 0, sizeof(*cap));
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (!p) {
        snprintf(err, errlen, "%s", perr);
        return -1;
    }
    if (pcap_datalink(p) != DLT_EN10MB) {
        snprintf(err, errlen, "%s: link type %d is not Ethernet", path, pcap_datalink(p));
        pcap_close(p);
        return -1;
    }
    size_t cap_n = 0;
    struct pcap_pkthdr *h;
    const u_char *bytes;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &bytes)) == 1) {
        if (h->caplen != h->len) {
            snprintf(err, errlen, "%s: frame %zu truncated by the capture (snaplen)", path,
                     cap->n + 1);
            goto fail;
        }
        if (cap->n == cap_n) {
            cap_n = cap_n ? cap_n * 2 : 64;
            struct cap_frame *f = realloc(cap->frames, cap_n * sizeof(*f));
            if (!f) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            cap->frames = f;
        }
        struct cap_frame *f = &cap->frames[cap->n];
        f->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
        f->len = h->caplen;
        f->data = malloc(f->len ? f->len : 1);
        if (!f->data) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        memcpy(f->data, bytes, f->len);
        cap->n++;
    }
    if (rc == PCAP_ERROR) {
        snprintf(err, errlen, "%s: %s", path, pcap_geterr(p));
        goto fail;
    }
    pcap_close(p);
    return 0;
fail:
    pcap_close(p);
    capture_free(cap);
    return -1;
}

void capture_free(struct capture *cap)
{
    for (size_t i = 0; i < cap->n; i++)
        free(cap->frames[i].data);
    free(cap->frames);
    memset(cap, 0, sizeof(*cap));
}

struct pcap_writer {
    pcap_t *dead;
    pcap_dumper_t *dump;
};

struct pcap_writer *pcap_writer_open(const char *path, char *err, size_t errlen)
{
    struct pcap_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    w->dump = w->dead ? pcap_dump_open(w->dead, path) : NULL;
    if (!w->dump) {
        snprintf(err, errlen, "%s: %s", path, w->dead ? pcap_geterr(w->dead) : "pcap_open_dead");
        if (w->dead)
            pcap_close(w->dead);
        free(w);
        return NULL;
    }
    return w;
}

void pcap_writer_put(struct pcap_writer *w, uint64_t ts_ns, const uint8_t *data, size_t len)
{
    struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};
    /* With nanosecond precision libpcap reads tv_usec as nanoseconds. */
    h.ts.tv_sec = (time_t)(ts_ns / 1000000000ull);
    h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000ull);
    pcap_dump((u_char *)w->dump, &h, data);
}

void pcap_writer_flush(struct pcap_writer *w)
{
    pcap_dump_flush(w->dump);
}

void pcap_writer_close(struct pcap_writer *w)
{
    if (!w)
        return;
    pcap_dump_close(w->dump);
    pcap_close(w->dead);
    free(w);
}
