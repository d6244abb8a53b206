/*
 * Every frame of every recorded capture, run through each layer's codec: what Linux and
 * the stack really put on the wire must parse, and must come back byte for byte when
 * emitted again from the parsed form. Damaged frames from the damage captures must be
 * refused by the layer that owns the damage, never accepted and never crash a parser.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <string.h>

#include "netstack/arp.h"
#include "netstack/checksum.h"
#include "netstack/eth.h"
#include "netstack/icmp.h"
#include "netstack/ipv4.h"
#include "pcap_io.h"

typedef void (*frame_fn)(const char *pcap, size_t n, const uint8_t *f, size_t len,
                         size_t *checked);

/* Run fn over every frame of every capture matching `pattern`; returns how many it checked. */
static size_t each_frame(const char *pattern, frame_fn fn)
{
    glob_t g;
    size_t checked = 0;
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no captures match %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct capture cap;
        char err[256];
        cr_assert_eq(capture_load(g.gl_pathv[i], &cap, err, sizeof(err)), 0, "%s", err);
        for (size_t k = 0; k < cap.n; k++)
            fn(g.gl_pathv[i], k + 1, cap.frames[k].data, cap.frames[k].len, &checked);
        capture_free(&cap);
    }
    globfree(&g);
    return checked;
}

static void eth_frame(const char *pcap, size_t n, const uint8_t *f, size_t len, size_t *checked)
{
    struct eth_repr r;
    uint8_t out[ETH_HDR_LEN];
    cr_assert_eq(eth_parse(f, len, &r), ETH_HDR_LEN, "%s frame %zu", pcap, n);
    cr_assert_eq(eth_emit(&r, out, sizeof(out)), ETH_HDR_LEN);
    cr_assert_eq(memcmp(out, f, ETH_HDR_LEN), 0, "%s frame %zu", pcap, n);
    (*checked)++;
}

Test(eth, round_trips_every_captured_header)
{
    cr_assert_gt(each_frame("pcaps/*/*.pcap", eth_frame), 500);
}

static void arp_frame(const char *pcap, size_t n, const uint8_t *f, size_t len, size_t *checked)
{
    struct arp_repr r;
    uint8_t out[ARP_LEN];
    if (len < ETH_HDR_LEN || net_get16(f + ETH_OFF_TYPE) != ETH_TYPE_ARP)
        return;
    if (arp_parse(f + ETH_HDR_LEN, len - ETH_HDR_LEN, &r) < 0) {
        /* Only the damage capture carries ARP we must refuse. */
        cr_assert(strstr(pcap, "arp/damaged"), "%s frame %zu refused", pcap, n);
        return;
    }
    cr_assert_eq(arp_emit(&r, out, sizeof(out)), ARP_LEN);
    cr_assert_eq(memcmp(out, f + ETH_HDR_LEN, ARP_LEN), 0, "%s frame %zu", pcap, n);
    (*checked)++;
}

Test(arp, round_trips_every_captured_packet)
{
    cr_assert_gt(each_frame("pcaps/*/*.pcap", arp_frame), 40);
}

static bool is_ipv4(const uint8_t *f, size_t len)
{
    return len >= ETH_HDR_LEN && net_get16(f + ETH_OFF_TYPE) == ETH_TYPE_IPV4;
}

static void ipv4_frame(const char *pcap, size_t n, const uint8_t *f, size_t len, size_t *checked)
{
    struct ipv4_repr r;
    uint8_t out[IPV4_HDR_LEN];
    if (!is_ipv4(f, len))
        return;
    const uint8_t *p = f + ETH_HDR_LEN;
    if (ipv4_parse(p, len - ETH_HDR_LEN, &r, NULL) < 0) {
        cr_assert(strstr(pcap, "damaged"), "%s frame %zu refused", pcap, n);
        return;
    }
    cr_assert_leq(r.total_len, len - ETH_HDR_LEN);
    if (r.hdr_len != IPV4_HDR_LEN)
        return; /* we never emit options; the parse above is the check */
    cr_assert_eq(ipv4_emit(&r, out, sizeof(out)), IPV4_HDR_LEN);
    cr_assert_eq(memcmp(out, p, IPV4_HDR_LEN), 0, "%s frame %zu", pcap, n);
    (*checked)++;
}

Test(ipv4, round_trips_every_captured_header)
{
    cr_assert_gt(each_frame("pcaps/*/*.pcap", ipv4_frame), 300);
}

static void icmp_frame(const char *pcap, size_t n, const uint8_t *f, size_t len, size_t *checked)
{
    struct ipv4_repr ip;
    struct icmp_repr r;
    if (!is_ipv4(f, len) || ipv4_parse(f + ETH_HDR_LEN, len - ETH_HDR_LEN, &ip, NULL) < 0 ||
        ip.proto != IPV4_PROTO_ICMP || ip.mf || ip.frag_off)
        return;
    const uint8_t *msg = f + ETH_HDR_LEN + ip.hdr_len;
    size_t mlen = (size_t)ip.total_len - ip.hdr_len;
    if (icmp_parse(msg, mlen, &r) < 0) {
        cr_assert(strstr(pcap, "icmp/damaged"), "%s frame %zu refused", pcap, n);
        return;
    }
    uint8_t out[ICMP_HDR_LEN];
    cr_assert_eq(icmp_emit(&r, out, sizeof(out)), ICMP_HDR_LEN);
    cr_assert_eq(memcmp(out, msg, ICMP_HDR_LEN), 0, "%s frame %zu", pcap, n);
    (*checked)++;
}

Test(icmp, round_trips_every_captured_message)
{
    cr_assert_gt(each_frame("pcaps/*/*.pcap", icmp_frame), 150);
}

/* Every prefix of every captured frame goes through every parser: truncation anywhere
 * must give a clean refusal (ASan and UBSan watch for anything else). */
static void truncations(const char *pcap, size_t n, const uint8_t *f, size_t len, size_t *checked)
{
    for (size_t cut = 0; cut <= len && cut <= 200; cut++) {
        struct eth_repr e;
        struct arp_repr a;
        struct ipv4_repr i;
        struct icmp_repr c;
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees any overread */
        memcpy(copy, f, cut);
        if (eth_parse(copy, cut, &e) < 0)
            cr_assert_lt(cut, ETH_HDR_LEN);
        if (cut > ETH_HDR_LEN) {
            const uint8_t *p = copy + ETH_HDR_LEN;
            size_t plen = cut - ETH_HDR_LEN;
            if (arp_parse(p, plen, &a) == ARP_LEN)
                cr_assert_geq(plen, ARP_LEN);
            if (ipv4_parse(p, plen, &i, NULL) == NET_OK)
                cr_assert_leq(i.total_len, plen);
            (void)icmp_parse(p, plen, &c);
        }
        free(copy);
    }
    (*checked)++;
}

Test(captures, every_prefix_of_every_frame_is_refused_cleanly)
{
    cr_assert_gt(each_frame("pcaps/*/*.pcap", truncations), 500);
}
