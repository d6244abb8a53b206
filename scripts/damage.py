#!/usr/bin/python3
"""Send damaged and noisy frames at the stack over a tap device, for fixture recording.

    damage.py IFACE SET     SET: eth | arp | ipv4 | icmp | frag | tcp | noise | fragment-zero-only

Run inside the recording namespace (scripts/record-fixtures.sh does). Every damaged frame is
followed by a well-formed echo request (ident 0x7a7a, sequence = the frame's number), so the
capture also shows the stack still answering after each one. Frames come from the Linux side
of the tap, addressed like real traffic; scapy builds what Linux's own tools will not send.
"""
import sys
import time

from scapy.all import (ARP, ICMP, IP, LLC, STP, TCP, UDP, Dot1Q, Dot3, Ether, IPOption_NOP,
                       IPOption_RR, Raw, get_if_hwaddr, raw, sendp)

QMAC = "52:54:00:12:34:56"
QIP, LIP, NET_BCAST = "10.0.0.2", "10.0.0.1", "10.0.0.255"


def main():
    iface, which = sys.argv[1], sys.argv[2]
    dry = iface == "-"  # build and list the frames without sending (a syntax check)
    lmac = "02:00:00:00:00:aa" if dry else get_if_hwaddr(iface)
    to_q = Ether(dst=QMAC, src=lmac)

    def echo(seq, **ip):
        fields = dict(src=LIP, dst=QIP, id=0x1000 + seq)
        fields.update(ip)
        return IP(**fields) / ICMP(id=0x7a7a, seq=seq) / b"quartz-fixture"

    def tcp_csum(frame):
        """Recompute the TCP checksum of an Ethernet/IPv4/TCP frame after an edit."""
        b = bytearray(frame)
        b[50:52] = b"\0\0"
        seglen = len(b) - 34
        data = bytes(b[26:34]) + bytes([0, 6]) + seglen.to_bytes(2, "big") + bytes(b[34:])
        if len(data) % 2:
            data += b"\0"
        s = sum((data[i] << 8) | data[i + 1] for i in range(0, len(data), 2))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        b[50:52] = ((~s) & 0xffff).to_bytes(2, "big")
        return bytes(b)

    def fix(pkt):
        """Freeze scapy's computed fields so later edits keep the rest consistent."""
        return pkt.__class__(raw(pkt))

    def with_bytes(pkt, offset, value):
        b = bytearray(raw(pkt))
        b[offset:offset + len(value)] = value
        return bytes(b)

    def ip_with_bytes(pkt, offset, value, recsum=True):
        """Edit IPv4 header bytes (offset within the IP header), optionally re-checksumming."""
        b = bytearray(raw(pkt))
        b[14 + offset:14 + offset + len(value)] = value
        if recsum:
            hl = (b[14] & 0xf) * 4
            b[24:26] = b"\0\0"
            s = 0
            for i in range(14, 14 + hl, 2):
                s += (b[i] << 8) | b[i + 1]
            while s >> 16:
                s = (s & 0xffff) + (s >> 16)
            b[24:26] = ((~s) & 0xffff).to_bytes(2, "big")
        return bytes(b)

    sets = {}
    sets["eth"] = [
        ("oversize frame (1600 bytes)", raw(to_q / echo(0) / (b"x" * 1540))),
        ("802.1Q tagged echo", raw(Ether(dst=QMAC, src=lmac) / Dot1Q(vlan=5) / echo(0))),
        ("802.1ad tagged echo", raw(Ether(dst=QMAC, src=lmac, type=0x88a8) / Dot1Q(vlan=5) / echo(0))),
        ("802.3 LLC (STP BPDU)", raw(Dot3(dst="01:80:c2:00:00:00", src=lmac) / LLC() / STP())),
        ("802.3 LLC to our MAC", raw(Dot3(dst=QMAC, src=lmac) / LLC() / Raw(b"\0" * 40))),
        ("unknown EtherType 0x88b5", raw(Ether(dst=QMAC, src=lmac, type=0x88b5) / Raw(b"\1" * 46))),
        ("IPv6 EtherType to our MAC", raw(Ether(dst=QMAC, src=lmac, type=0x86dd) / Raw(b"\x60" + b"\0" * 45))),
        ("unicast to another MAC", raw(Ether(dst="02:00:00:00:00:99", src=lmac) / echo(0))),
        ("IPv4 multicast MAC", raw(Ether(dst="01:00:5e:00:00:01", src=lmac) / echo(0, dst="224.0.0.1"))),
        ("our own MAC as source", raw(Ether(dst=QMAC, src=QMAC) / echo(0))),
        ("group MAC as source", raw(Ether(dst=QMAC, src="01:00:5e:00:00:01") / echo(0))),
        ("header only, IPv4 type", raw(Ether(dst=QMAC, src=lmac, type=0x0800))),
    ]
    arp_ok = dict(hwsrc=lmac, psrc=LIP, pdst=QIP)
    sets["arp"] = [
        ("truncated ARP (20 bytes)", raw(to_q / ARP(op=1, **arp_ok))[:14 + 20]),
        ("hardware type 6", raw(to_q / ARP(hwtype=6, op=1, **arp_ok))),
        ("protocol type IPv6", raw(to_q / ARP(ptype=0x86dd, op=1, **arp_ok))),
        ("hardware length 8", with_bytes(to_q / ARP(op=1, **arp_ok), 14 + 4, b"\x08")),
        ("protocol length 16", with_bytes(to_q / ARP(op=1, **arp_ok), 14 + 5, b"\x10")),
        ("opcode 7", raw(to_q / ARP(op=7, **arp_ok))),
        ("broadcast sender MAC", raw(to_q / ARP(op=1, hwsrc="ff:ff:ff:ff:ff:ff", psrc=LIP, pdst=QIP))),
        ("zero sender MAC", raw(to_q / ARP(op=1, hwsrc="00:00:00:00:00:00", psrc=LIP, pdst=QIP))),
        ("broadcast sender IP", raw(to_q / ARP(op=1, hwsrc=lmac, psrc="255.255.255.255", pdst=QIP))),
        ("multicast sender IP", raw(to_q / ARP(op=1, hwsrc=lmac, psrc="224.0.0.9", pdst=QIP))),
        ("RFC 5227 probe for our address", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) /
                                              ARP(op=1, hwsrc=lmac, psrc="0.0.0.0", pdst=QIP))),
        ("address conflict: another MAC claims us", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:66") /
                                                       ARP(op=2, hwsrc="02:00:00:00:00:66", psrc=QIP, pdst=QIP))),
        ("request for another host", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) /
                                        ARP(op=1, hwsrc=lmac, psrc=LIP, pdst="10.0.0.9"))),
        ("reply between other hosts", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:05") /
                                         ARP(op=2, hwsrc="02:00:00:00:00:05", psrc="10.0.0.5", pdst="10.0.0.9"))),
    ]
    good = to_q / echo(0)
    sets["ipv4"] = [
        ("bad header checksum", ip_with_bytes(good, 10, b"\xde\xad", recsum=False)),
        ("version 6 in an IPv4 frame", ip_with_bytes(good, 0, b"\x65")),
        ("IHL 4", ip_with_bytes(good, 0, b"\x44")),
        ("IHL 15 beyond the packet", raw(to_q / Raw(ip_with_bytes(good, 0, b"\x4f", recsum=False)[14:14 + 40]))),
        ("total length beyond the frame", ip_with_bytes(good, 2, b"\x05\xdc")),
        ("total length below the header", ip_with_bytes(good, 2, b"\x00\x10")),
        ("reserved flag set", ip_with_bytes(good, 6, b"\x80\x00")),
        ("DF with MF", ip_with_bytes(good, 6, b"\x60\x00")),
        ("DF with an offset", ip_with_bytes(good, 6, b"\x40\x10")),
        ("TTL 0", raw(to_q / echo(0, ttl=0))),
        ("TTL 1 (valid: answered)", raw(to_q / echo(0, ttl=1))),
        ("options NOP + record route (valid: answered)",
         raw(to_q / echo(0, options=[IPOption_NOP(), IPOption_RR(routers=["0.0.0.0"] * 2)]))),
        ("option length 1", raw(to_q / Raw(ip_with_bytes(to_q / echo(0, options=[IPOption_NOP()] * 4), 20, b"\x07\x01")[14:]))),
        ("option running past the header", raw(to_q / Raw(ip_with_bytes(to_q / echo(0, options=[IPOption_NOP()] * 4), 20, b"\x07\x09")[14:]))),
        ("source 255.255.255.255", raw(to_q / echo(0, src="255.255.255.255"))),
        ("source subnet broadcast", raw(to_q / echo(0, src=NET_BCAST))),
        ("source multicast", raw(to_q / echo(0, src="224.0.0.5"))),
        ("source loopback", raw(to_q / echo(0, src="127.0.0.1"))),
        ("source 0.0.0.0", raw(to_q / echo(0, src="0.0.0.0"))),
        ("source is our own address", raw(to_q / echo(0, src=QIP))),
        ("destination another host", raw(to_q / echo(0, dst="10.0.0.9"))),
        ("UDP: protocol unreachable", raw(to_q / IP(src=LIP, dst=QIP, id=7) / UDP(sport=5000, dport=53) / b"query")),
        ("protocol 253: protocol unreachable", raw(to_q / IP(src=LIP, dst=QIP, id=8, proto=253) / b"experimental")),
        ("short echo padded to 60 bytes", raw(to_q / IP(src=LIP, dst=QIP, id=9) / ICMP(id=0x7a7a, seq=999)) + b"\0" * 18),
    ]
    sets["icmp"] = [
        ("bad ICMP checksum", with_bytes(good, 14 + 20 + 2, b"\xbe\xef")),
        ("ICMP truncated to 4 bytes", ip_with_bytes(raw(to_q / IP(src=LIP, dst=QIP, id=3, proto=1) / b"\x08\0\xf7\xff"), 0, b"\x45")),
        ("echo to the subnet broadcast", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / echo(0, dst=NET_BCAST))),
        ("echo to 255.255.255.255", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / echo(0, dst="255.255.255.255"))),
        ("timestamp request", raw(to_q / IP(src=LIP, dst=QIP, id=4) / ICMP(type=13))),
        ("redirect", raw(to_q / IP(src=LIP, dst=QIP, id=5) / ICMP(type=5, code=1, gw="10.0.0.9") / raw(IP(src=QIP, dst="10.0.5.5") / UDP())[:28])),
        ("unreachable about a packet not from us", raw(to_q / IP(src=LIP, dst=QIP, id=6) / ICMP(type=3, code=3) / raw(IP(src="10.0.0.7", dst=LIP) / UDP())[:28])),
        ("unreachable about our packet", raw(to_q / IP(src=LIP, dst=QIP, id=7) / ICMP(type=3, code=3) / raw(IP(src=QIP, dst=LIP) / UDP(sport=80, dport=4000))[:28])),
        ("unreachable with a short quote", raw(to_q / IP(src=LIP, dst=QIP, id=8) / ICMP(type=3, code=1) / b"short")),
        ("echo reply nobody asked for", raw(to_q / IP(src=LIP, dst=QIP, id=9) / ICMP(type=0, id=0x4242, seq=1) / b"stray")),
        ("UDP to a broadcast: no error back", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / IP(src=LIP, dst=NET_BCAST, id=10) / UDP(sport=137, dport=137) / b"netbios")),
    ]

    def frags(seq, size, pieces, ident):
        """An echo request of `size` data bytes cut at the given (offset, length) pieces."""
        payload = raw(ICMP(id=0x7a7a, seq=seq) / (bytes(range(256)) * (size // 256 + 1))[:size])
        out = []
        for off, length, mf, data in pieces:
            body = (data if data is not None else payload[off:off + length])
            out.append(raw(to_q / IP(src=LIP, dst=QIP, id=ident, proto=1, frag=off // 8,
                                     flags="MF" if mf else 0) / body))
        return out, payload

    # Every fragment fits the link (<= 1480 data bytes): what is tested is the overlap rule.
    f_over, _ = frags(0, 3000, [(0, 1480, True, None), (1480, 1480, True, None),
                                (1472, 16, True, b"Z" * 16), (2960, 48, False, None)], 0x2001)
    f_dup, _ = frags(0, 2000, [(0, 1480, True, None), (0, 1480, True, None),
                               (1480, 528, False, None)], 0x2002)
    f_rev, _ = frags(0, 2000, [(1480, 528, False, None), (0, 1480, True, None)], 0x2003)
    f_part, _ = frags(0, 2000, [(0, 1480, True, None), (1000, 1008, False, None)], 0x2004)
    f_pod, _ = frags(0, 100, [(65528, 16, False, b"D" * 16)], 0x2005)
    f_odd, _ = frags(0, 100, [(0, 7, True, b"\x08\0\0\0\0\0\0")], 0x2006)
    sets["frag"] = [
        ("overlap with different data: datagram dropped", f_over),
        ("exact duplicate fragment: ignored, datagram answered", f_dup),
        ("fragments in reverse order: answered", f_rev),
        ("partial overlap: datagram dropped", f_part),
        ("ping of death: offset + length past 64 KiB", f_pod),
        ("MF fragment of 7 bytes", f_odd),
    ]
    f_zero, _ = frags(0, 3000, [(0, 1480, True, None)], 0x2007)
    sets["fragment-zero-only"] = [("fragment zero alone: time exceeded after 30 s", f_zero)]
    def seg(**tcp):
        """A TCP segment from Linux's side to the echo service (port 7) unless told."""
        fields = dict(sport=40000, dport=7, flags="S", seq=1000, window=64240)
        fields.update(tcp)
        return to_q / IP(src=LIP, dst=QIP, id=0x3000) / TCP(**fields)

    def tcp_truncated():
        b = bytearray(raw(seg()))
        del b[34 + 12:]
        b[16:18] = (20 + 12).to_bytes(2, "big")  # IP total length: 12 bytes of TCP
        return ip_with_bytes(bytes(b), 2, b[16:18])

    sets["tcp"] = [
        ("SYN with a bad checksum: dropped", raw(seg(chksum=0x1234))),
        ("12 bytes of TCP header: dropped", tcp_truncated()),
        ("data offset 4: dropped", raw(fix(seg(dataofs=4)))),
        ("data offset 15 past the segment's end: dropped", raw(seg(dataofs=15))),
        ("option of length 0: dropped",
         tcp_csum(with_bytes(raw(seg(options=[("NOP", None)] * 4)), 54, b"\x02\x00\x00\x00"))),
        ("option running past the header: dropped",
         tcp_csum(with_bytes(raw(seg(options=[("NOP", None)] * 4)), 54, b"\x01\x01\x08\x0a"))),
        ("source port 0: dropped", raw(seg(sport=0))),
        ("SYN to closed port 8: RST+ACK", raw(seg(dport=8))),
        ("ACK to closed port 8: RST with its sequence", raw(seg(dport=8, flags="A", ack=777))),
        ("RST to closed port 8: never answered", raw(seg(dport=8, flags="R"))),
        ("SYN to the subnet broadcast: ignored",
         raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / IP(src=LIP, dst=NET_BCAST, id=0x3001) /
             TCP(sport=40001, dport=7, flags="S", seq=5))),
        ("FIN without ACK to the listener: dropped", raw(seg(flags="F"))),
        ("ACK to the listener that is no cookie of ours: RST", raw(seg(flags="A", ack=4242))),
    ]
    sets["noise"] = [
        ("DHCP discover broadcast", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / IP(src="0.0.0.0", dst="255.255.255.255", id=1) / UDP(sport=68, dport=67) / (b"\1\1\6\0" + b"\0" * 236))),
        ("mDNS multicast", raw(Ether(dst="01:00:5e:00:00:fb", src=lmac) / IP(src=LIP, dst="224.0.0.251", id=2, ttl=255) / UDP(sport=5353, dport=5353) / (b"\0" * 12))),
        ("LLDP", raw(Ether(dst="01:80:c2:00:00:0e", src=lmac, type=0x88cc) / Raw(b"\2\7\4" + bytes(6) + b"\0" * 37))),
        ("IPv6 all-nodes multicast", raw(Ether(dst="33:33:00:00:00:01", src=lmac, type=0x86dd) / Raw(b"\x60" + b"\0" * 53))),
        ("ARP requests for other hosts", [raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / ARP(op=1, hwsrc=lmac, psrc=LIP, pdst="10.0.0.%d" % h)) for h in (3, 4, 5)]),
        ("NetBIOS broadcast to the subnet", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / IP(src=LIP, dst=NET_BCAST, id=3) / UDP(sport=137, dport=137) / b"nb")),
        ("broadcast ping", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=lmac) / echo(0, dst="255.255.255.255"))),
    ]

    for n, (what, frames) in enumerate(sets[which], start=1):
        print("%2d %s" % (n, what))
        if dry:
            continue
        for f in frames if isinstance(frames, list) else [frames]:
            sendp(f, iface=iface, verbose=False)
            time.sleep(0.02)
        if which != "fragment-zero-only":
            sendp(raw(to_q / echo(n)), iface=iface, verbose=False)  # still alive?
            time.sleep(0.05)


if __name__ == "__main__":
    main()
