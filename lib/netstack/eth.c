#include "netstack/eth.h"

#include <string.h>

int eth_parse(const uint8_t *frame, size_t len, struct eth_repr *repr)
{
    if (len < ETH_HDR_LEN)
        return NET_EMALFORMED;
    memcpy(repr->dst.b, frame + ETH_OFF_DST, NET_MAC_LEN);
    memcpy(repr->src.b, frame + ETH_OFF_SRC, NET_MAC_LEN);
    repr->type = net_get16(frame + ETH_OFF_TYPE);
    return ETH_HDR_LEN;
}

int eth_emit(const struct eth_repr *repr, uint8_t *buf, size_t cap)
{
    if (cap < ETH_HDR_LEN)
        return NET_EMSGSIZE;
    memcpy(buf + ETH_OFF_DST, repr->dst.b, NET_MAC_LEN);
    memcpy(buf + ETH_OFF_SRC, repr->src.b, NET_MAC_LEN);
    net_put16(buf + ETH_OFF_TYPE, repr->type);
    return ETH_HDR_LEN;
}

int eth_init(struct eth *eth, const struct eth_cfg *cfg, const struct eth_ops *ops, void *ctx)
{
    if (!cfg || !ops || !ops->dev || !ops->deliver || net_mac_is_group(&cfg->mac) ||
        net_mac_is_zero(&cfg->mac))
        return NET_EINVAL;
    memset(eth, 0, sizeof(*eth));
    eth->cfg = *cfg;
    if (eth->cfg.mtu == 0)
        eth->cfg.mtu = ETH_DEFAULT_MTU;
    if (eth->cfg.mtu < 576)
        return NET_EINVAL; /* IPv4 hosts must be able to send 576-byte datagrams */
    eth->ops = ops;
    eth->ctx = ctx;
    return NET_OK;
}

/* The checks compare whole addresses as integers straight from the frame, and the header
 * is copied out only for a frame that passes them: this runs for every frame. */
void eth_input(struct eth *eth, const uint8_t *frame, size_t len, uint64_t now)
{
    if (len < ETH_HDR_LEN) {
        eth->stats.rx_runt++;
        return;
    }
    /* Devices strip the FCS; a frame longer than MTU + header is a jumbo we never offered. */
    if (len > (size_t)eth->cfg.mtu + ETH_HDR_LEN) {
        eth->stats.rx_oversize++;
        return;
    }
    uint64_t dst = net_mac_bits(frame + ETH_OFF_DST), src = net_mac_bits(frame + ETH_OFF_SRC);
    uint64_t me = net_mac_bits(eth->cfg.mac.b);
    if (frame[ETH_OFF_DST] & 1) { /* a group address (the I/G bit) */
        if (dst != NET_MAC_BITS_BROADCAST) {
            eth->stats.rx_multicast++;
            return;
        }
    } else if (dst != me) {
        eth->stats.rx_not_for_us++;
        return;
    }
    /* Our own MAC as source is a loop or a spoof; a group source is invalid (802.3 3.2.3). */
    if ((frame[ETH_OFF_SRC] & 1) || src == me) {
        eth->stats.rx_bad_src++;
        return;
    }
    uint16_t type = net_get16(frame + ETH_OFF_TYPE);
    if (type == ETH_TYPE_VLAN || type == ETH_TYPE_QINQ) {
        eth->stats.rx_vlan++;
        return;
    }
    if (type < ETH_TYPE_MIN) {
        eth->stats.rx_llc++;
        return;
    }
    struct eth_repr hdr;
    eth_parse(frame, len, &hdr);
    if (!eth->ops->deliver(eth->ctx, &hdr, frame + ETH_HDR_LEN, len - ETH_HDR_LEN, now)) {
        eth->stats.rx_unknown_type++;
        return;
    }
    eth->stats.rx_frames++;
}

uint8_t *eth_reserve(struct eth *eth, size_t len)
{
    size_t frame_len = ETH_HDR_LEN + len;
    if (len > eth->cfg.mtu && frame_len > eth->cfg.caps.tso_max)
        return NULL;
    if (frame_len < ETH_MIN_FRAME)
        frame_len = ETH_MIN_FRAME;
    uint8_t *frame = eth->ops->dev->reserve(eth->ops->dev_ctx, frame_len);
    if (!frame) {
        eth->stats.tx_no_buffer++;
        return NULL;
    }
    return frame + ETH_HDR_LEN;
}

void eth_send(struct eth *eth, uint8_t *payload, size_t len, const struct net_mac *dst,
              uint16_t type, const struct net_offload *off)
{
    uint8_t *frame = payload - ETH_HDR_LEN;
    size_t frame_len = ETH_HDR_LEN + len;

    memcpy(frame + ETH_OFF_DST, dst->b, NET_MAC_LEN);
    memcpy(frame + ETH_OFF_SRC, eth->cfg.mac.b, NET_MAC_LEN);
    net_put16(frame + ETH_OFF_TYPE, type);
    /* Pad in software so short frames look the same on every device (IEEE 802.3 4.2.3.3). */
    if (frame_len < ETH_MIN_FRAME) {
        memset(frame + frame_len, 0, ETH_MIN_FRAME - frame_len);
        frame_len = ETH_MIN_FRAME;
    }
    struct net_offload o;
    if (off) { /* the device counts from the frame's first byte */
        o = *off;
        o.csum_start = (uint16_t)(o.csum_start + ETH_HDR_LEN);
        o.hdr_len = (uint16_t)(o.hdr_len ? o.hdr_len + ETH_HDR_LEN : 0);
        off = &o;
    }
    eth->ops->dev->commit(eth->ops->dev_ctx, frame, frame_len, off);
    eth->stats.tx_frames++;
}

const struct net_mac *eth_mac(const struct eth *eth)
{
    return &eth->cfg.mac;
}

uint16_t eth_mtu(const struct eth *eth)
{
    return eth->cfg.mtu;
}
