// Weft's reference pipeline for v1model switches (P4_16): a parser, the
// WeftAcl stage (p4/weft_acl.p4: classify addresses, then match the ACL) and
// a plain L2 switch behind it, so a lab leaf running this program on bmv2
// both filters and forwards. The two stages share nothing: the ACL decides
// drop or pass, and only a packet that passes reaches weft_l2_fwd.
//
// Ids are pinned with @id so the P4Info is deterministic;
// p4/weft.p4info.txtpb is checked in beside this file and a test compares it
// with p4c's. Compile the device configuration with the operator's own
// toolchain, e.g. for bmv2:
//
//   p4c-bm2-ss --arch v1model -o weft.json --p4runtime-files weft.p4info.txtpb p4/weft.p4
//
// A production switch splices WeftAcl into its own ingress instead, before
// its forwarding tables, filling weft_acl_key_t from its own headers.

#include <core.p4>
#include <v1model.p4>
#include "weft_acl.p4"

const bit<8> PROTO_ICMP = 1;
const bit<8> PROTO_TCP = 6;
const bit<8> PROTO_UDP = 17;
const bit<8> PROTO_ICMPV6 = 58;

header ethernet_t {
    bit<48> dstAddr;
    bit<48> srcAddr;
    bit<16> etherType;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> totalLen;
    bit<16> identification;
    bit<3>  flags;
    bit<13> fragOffset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdrChecksum;
    bit<32> srcAddr;
    bit<32> dstAddr;
}

header ipv6_t {
    bit<4>   version;
    bit<8>   trafficClass;
    bit<20>  flowLabel;
    bit<16>  payloadLen;
    bit<8>   nextHdr;
    bit<8>   hopLimit;
    bit<128> srcAddr;
    bit<128> dstAddr;
}

// Only the leading bytes the ACL needs: ports for TCP/UDP, type/code for ICMP.
header l4_ports_t {
    bit<16> srcPort;
    bit<16> dstPort;
}

header tcp_rest_t {
    bit<32> seqNo;
    bit<32> ackNo;
    bit<4>  dataOffset;
    bit<4>  res;
    bit<8>  flags;
}

header icmp_t {
    bit<8> type;
    bit<8> code;
}

struct headers_t {
    ethernet_t ethernet;
    ipv4_t     ipv4;
    ipv6_t     ipv6;
    l4_ports_t l4;
    tcp_rest_t tcp;
    icmp_t     icmp;
}

// The ACL's lookup key, zero unless the parser found the header.
struct metadata_t {
    weft_acl_key_t acl;
}

parser WeftParser(packet_in packet, out headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t standard_metadata) {
    state start {
        meta.acl.ipv4_src = 0;
        meta.acl.ipv4_dst = 0;
        meta.acl.ipv6_src = 0;
        meta.acl.ipv6_dst = 0;
        meta.acl.ip_proto = 0;
        meta.acl.l4_src_port = 0;
        meta.acl.l4_dst_port = 0;
        meta.acl.tcp_flags = 0;
        meta.acl.icmp_type = 0;
        meta.acl.icmp_code = 0;
        packet.extract(hdr.ethernet);
        meta.acl.ether_type = hdr.ethernet.etherType;
        transition select(hdr.ethernet.etherType) {
            WEFT_ETHERTYPE_IPV4: parse_ipv4;
            WEFT_ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }
    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        meta.acl.ipv4_src = hdr.ipv4.srcAddr;
        meta.acl.ipv4_dst = hdr.ipv4.dstAddr;
        meta.acl.ip_proto = hdr.ipv4.protocol;
        // Non-first fragments carry no L4 header.
        transition select(hdr.ipv4.fragOffset) {
            0: parse_l4;
            default: accept;
        }
    }
    state parse_ipv6 {
        packet.extract(hdr.ipv6);
        meta.acl.ipv6_src = hdr.ipv6.srcAddr;
        meta.acl.ipv6_dst = hdr.ipv6.dstAddr;
        meta.acl.ip_proto = hdr.ipv6.nextHdr;
        transition parse_l4;
    }
    state parse_l4 {
        transition select(meta.acl.ip_proto) {
            PROTO_TCP: parse_tcp;
            PROTO_UDP: parse_udp;
            PROTO_ICMP: parse_icmp;
            PROTO_ICMPV6: parse_icmp;
            default: accept;
        }
    }
    state parse_tcp {
        packet.extract(hdr.l4);
        packet.extract(hdr.tcp);
        meta.acl.l4_src_port = hdr.l4.srcPort;
        meta.acl.l4_dst_port = hdr.l4.dstPort;
        meta.acl.tcp_flags = hdr.tcp.flags;
        transition accept;
    }
    state parse_udp {
        packet.extract(hdr.l4);
        meta.acl.l4_src_port = hdr.l4.srcPort;
        meta.acl.l4_dst_port = hdr.l4.dstPort;
        transition accept;
    }
    state parse_icmp {
        packet.extract(hdr.icmp);
        meta.acl.icmp_type = hdr.icmp.type;
        meta.acl.icmp_code = hdr.icmp.code;
        transition accept;
    }
}

control WeftVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

// Multicast group the control plane fills with every port (targets/p4/forwarding.ts).
const bit<16> WEFT_FLOOD_GROUP = 1;

control WeftIngress(inout headers_t hdr, inout metadata_t meta,
                    inout standard_metadata_t standard_metadata) {
    WeftAcl() acl;
    bool drop;

    @id(0x01000010)
    action forward(bit<9> port) {
        standard_metadata.egress_spec = port;
    }

    @id(0x01000011)
    action flood() {
        standard_metadata.mcast_grp = WEFT_FLOOD_GROUP;
    }

    // L2 forwarding: a known destination MAC goes to its port; unknown and
    // broadcast destinations are flooded through WEFT_FLOOD_GROUP.
    @id(0x02000010)
    table weft_l2_fwd {
        key = {
            hdr.ethernet.dstAddr : exact @name("dst_mac");
        }
        actions = {
            forward;
            flood;
        }
        default_action = flood();
        size = 4096;
    }

    apply {
        acl.apply(meta.acl, standard_metadata.ingress_port, drop);
        if (drop) {
            mark_to_drop(standard_metadata);
        } else {
            weft_l2_fwd.apply();
        }
    }
}

control WeftEgress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t standard_metadata) {
    apply {
        // A flooded copy never goes back out of the port it came in on.
        if (standard_metadata.mcast_grp != 0 && standard_metadata.egress_port == standard_metadata.ingress_port) {
            mark_to_drop(standard_metadata);
        }
    }
}

control WeftComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control WeftDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.ethernet);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.ipv6);
        packet.emit(hdr.l4);
        packet.emit(hdr.tcp);
        packet.emit(hdr.icmp);
    }
}

V1Switch(WeftParser(), WeftVerifyChecksum(), WeftIngress(), WeftEgress(),
         WeftComputeChecksum(), WeftDeparser()) main;
