// Weft ACL stage for v1model switches (P4_16).
//
// The ingress holds one ternary table, weft_acl, whose entries Weft computes
// from the policy and writes over P4Runtime. Ids are pinned with @id so the
// P4Info is deterministic; p4/weft.p4info.txtpb is checked in beside this file
// and a test compares the two. Compile the device configuration with the
// operator's own toolchain, e.g. for bmv2:
//
//   p4c-bm2-ss --p4runtime-files weft.p4info.txtpb -o weft.json p4/weft.p4
//
// Forwarding is not Weft's business: in a production pipeline WeftIngress's
// table and actions are pasted into the switch's own ingress before its
// forwarding tables. Compiled alone, this program only filters.

#include <core.p4>
#include <v1model.p4>

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_IPV6 = 0x86dd;
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

// Lookup keys, zero unless the parser found the header, so a non-IP packet
// never matches an entry that constrains an IP field.
struct metadata_t {
    bit<32>  ipv4_src;
    bit<32>  ipv4_dst;
    bit<128> ipv6_src;
    bit<128> ipv6_dst;
    bit<8>   ip_proto;
    bit<16>  l4_src_port;
    bit<16>  l4_dst_port;
    bit<8>   tcp_flags;
    bit<8>   icmp_type;
    bit<8>   icmp_code;
}

parser WeftParser(packet_in packet, out headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t standard_metadata) {
    state start {
        meta.ipv4_src = 0;
        meta.ipv4_dst = 0;
        meta.ipv6_src = 0;
        meta.ipv6_dst = 0;
        meta.ip_proto = 0;
        meta.l4_src_port = 0;
        meta.l4_dst_port = 0;
        meta.tcp_flags = 0;
        meta.icmp_type = 0;
        meta.icmp_code = 0;
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.etherType) {
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }
    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        meta.ipv4_src = hdr.ipv4.srcAddr;
        meta.ipv4_dst = hdr.ipv4.dstAddr;
        meta.ip_proto = hdr.ipv4.protocol;
        // Non-first fragments carry no L4 header.
        transition select(hdr.ipv4.fragOffset) {
            0: parse_l4;
            default: accept;
        }
    }
    state parse_ipv6 {
        packet.extract(hdr.ipv6);
        meta.ipv6_src = hdr.ipv6.srcAddr;
        meta.ipv6_dst = hdr.ipv6.dstAddr;
        meta.ip_proto = hdr.ipv6.nextHdr;
        transition parse_l4;
    }
    state parse_l4 {
        transition select(meta.ip_proto) {
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
        meta.l4_src_port = hdr.l4.srcPort;
        meta.l4_dst_port = hdr.l4.dstPort;
        meta.tcp_flags = hdr.tcp.flags;
        transition accept;
    }
    state parse_udp {
        packet.extract(hdr.l4);
        meta.l4_src_port = hdr.l4.srcPort;
        meta.l4_dst_port = hdr.l4.dstPort;
        transition accept;
    }
    state parse_icmp {
        packet.extract(hdr.icmp);
        meta.icmp_type = hdr.icmp.type;
        meta.icmp_code = hdr.icmp.code;
        transition accept;
    }
}

control WeftVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control WeftIngress(inout headers_t hdr, inout metadata_t meta,
                    inout standard_metadata_t standard_metadata) {
    @id(0x13000001)
    direct_counter(CounterType.packets_and_bytes) weft_acl_counter;

    @id(0x01000001)
    action permit() {
        weft_acl_counter.count();
    }

    @id(0x01000002)
    action deny() {
        weft_acl_counter.count();
        mark_to_drop(standard_metadata);
    }

    // Priority-ordered (higher wins). Weft writes the IP default as explicit
    // lowest-priority entries; the table default permits what no entry
    // matches, which is non-IP control traffic (ARP, LLDP).
    @id(0x02000001)
    table weft_acl {
        key = {
            standard_metadata.ingress_port : ternary @name("ingress_port");
            hdr.ethernet.etherType         : ternary @name("ether_type");
            meta.ipv4_src                  : ternary @name("ipv4_src");
            meta.ipv4_dst                  : ternary @name("ipv4_dst");
            meta.ipv6_src                  : ternary @name("ipv6_src");
            meta.ipv6_dst                  : ternary @name("ipv6_dst");
            meta.ip_proto                  : ternary @name("ip_proto");
            meta.l4_src_port               : ternary @name("l4_src_port");
            meta.l4_dst_port               : ternary @name("l4_dst_port");
            meta.tcp_flags                 : ternary @name("tcp_flags");
            meta.icmp_type                 : ternary @name("icmp_type");
            meta.icmp_code                 : ternary @name("icmp_code");
        }
        actions = {
            permit;
            deny;
        }
        default_action = permit();
        counters = weft_acl_counter;
        size = 4096;
    }

    apply {
        weft_acl.apply();
    }
}

control WeftEgress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t standard_metadata) {
    apply { }
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
