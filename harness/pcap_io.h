/*
 * pcap_io.h — whole-capture reading and frame-by-frame writing on libpcap.
 *
 * Timestamps are nanoseconds since the Unix epoch in both directions; captures are
 * written with nanosecond precision, and microsecond captures read fine. Only Ethernet
 * (DLT_EN10MB) captures are accepted: that is what every fixture and tap carries.
 */
#ifndef HARNESS_PCAP_IO_H
#define HARNESS_PCAP_IO_H

#include <stddef.h>
#include <stdint.h>

struct cap_frame {
    uint64_t ts_ns;
    size_t len;
    uint8_t *data;
};

struct capture {
    struct cap_frame *frames;
    size_t n;
};

/* Load every frame; on failure returns -1 with a message in err. */
int capture_load(const char *path, struct capture *cap, char *err, size_t errlen);
void capture_free(struct capture *cap);

struct pcap_writer;
struct pcap_writer *pcap_writer_open(const char *path, char *err, size_t errlen);
void pcap_writer_put(struct pcap_writer *w, uint64_t ts_ns, const uint8_t *data, size_t len);
/* Flush what was written so far (so a capture survives a killed process). */
void pcap_writer_flush(struct pcap_writer *w);
void pcap_writer_close(struct pcap_writer *w);

#endif
