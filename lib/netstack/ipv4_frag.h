/* ipv4_frag.h — reassembly, private to ipv4.c (see the contract in netstack/ipv4.h). */
#ifndef NETSTACK_IPV4_FRAG_H
#define NETSTACK_IPV4_FRAG_H

#include "netstack/ipv4.h"

void ipv4_frag_init(struct ipv4 *ip);
/* Take one fragment. When it completes a datagram, returns the slot holding it (payload in
 * slot->data, slot->total bytes, first header in slot->hdr); the caller delivers it and
 * then calls ipv4_frag_release. Otherwise NULL. */
struct ipv4_frag_slot *ipv4_frag_input(struct ipv4 *ip, const struct ipv4_repr *r,
                                       const uint8_t *hdr, const uint8_t *payload, size_t len,
                                       uint64_t now);
void ipv4_frag_release(struct ipv4_frag_slot *slot);
/* The whole datagram's header fields, from fragment zero's header kept in the slot. */
void ipv4_frag_repr(const struct ipv4_frag_slot *slot, struct ipv4_repr *r);
void ipv4_frag_poll(struct ipv4 *ip, uint64_t now);
uint64_t ipv4_frag_next_deadline(const struct ipv4 *ip);

#endif
