// Weft's ACL stage as a control block an operator splices into their own
// ingress (p4/weft.p4 is the reference pipeline around it). Classify, then
// match:
//
//   1. four LPM classifier tables map the source and destination address
//      (IPv4 or IPv6, by ether_type) to 64-bit labels; an address no entry
//      covers keeps label 0. A label is a 16-bit class id (low bits) and
//      48 bits of layer fields. Addresses in the same class belong to
//      exactly the same address sets of the rules this switch holds (among
//      the sets outside layers); a layer field numbers a few sets that never
//      share an address, so each address is in at most one of them.
//   2. weft_acl matches ternary on the two labels, protocol, ports and TCP
//      flags. A rule from group A to group B costs the ternary cover of A's
//      class ids (or one ternary on A's layer field) times B's, times its
//      port expansion, never |A prefixes| x |B prefixes|.
//
// The destination port is matched fence-encoded (DIRPE): four 4-bit digits,
// each digit d written as 15 bits with the low d set, so a range of one digit
// is one ternary and any port range at most 7 entries (binary prefixes: up
// to 30). targets/p4/ternary.ts computes the entries; weft_fence here is the
// packet's side of the same encoding.
//
// The caller fills weft_acl_key_t from its own parsed headers (zero for a
// header that is absent, so a non-IP packet never matches an entry that
// constrains an IP field) and drops the packet when `drop` comes back true.
// The label and range encodings and their measured costs are described in
// README.md ("P4 switches"); targets/p4/classes.ts computes the labels.
//
// Needs core.p4 and v1model.p4 (for direct_counter) included before it.

#ifndef WEFT_ACL_P4
#define WEFT_ACL_P4

const bit<16> WEFT_ETHERTYPE_IPV4 = 0x0800;
const bit<16> WEFT_ETHERTYPE_IPV6 = 0x86dd;

// Lookup key of the ACL stage, filled by the including pipeline.
struct weft_acl_key_t {
    bit<16>  ether_type;
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

// One digit in fence code: d low bits set out of 15.
bit<15> weft_fence(in bit<4> d) {
    return (bit<15>)((16w1 << d) - 1);
}

control WeftAcl(in weft_acl_key_t k, in bit<9> ingress_port, out bool drop) {
    bit<64> src_label = 0;
    bit<64> dst_label = 0;
    bit<60> l4_dst_fence = 0;
    bit<1> gen = 0;

    @id(0x13000001)
    direct_counter(CounterType.packets_and_bytes) weft_acl_counter;

    @id(0x01000005)
    action set_gen(bit<1> generation) {
        gen = generation;
    }

    // No key: its default action is the whole table, and the one write that
    // modifies it switches every lookup below to the other generation.
    @id(0x02000006)
    table weft_gen {
        actions = {
            set_gen;
        }
        default_action = set_gen(0);
        size = 1;
    }

    @id(0x01000003)
    action set_src_label(bit<64> label) {
        src_label = label;
    }

    @id(0x01000004)
    action set_dst_label(bit<64> label) {
        dst_label = label;
    }

    @id(0x02000002)
    table weft_src_class_v4 {
        key = {
            k.ipv4_src : lpm @name("ipv4_src");
            gen : exact @name("gen");
        }
        actions = {
            set_src_label;
        }
        default_action = set_src_label(0);
        size = 16384;
    }

    @id(0x02000003)
    table weft_dst_class_v4 {
        key = {
            k.ipv4_dst : lpm @name("ipv4_dst");
            gen : exact @name("gen");
        }
        actions = {
            set_dst_label;
        }
        default_action = set_dst_label(0);
        size = 16384;
    }

    @id(0x02000004)
    table weft_src_class_v6 {
        key = {
            k.ipv6_src : lpm @name("ipv6_src");
            gen : exact @name("gen");
        }
        actions = {
            set_src_label;
        }
        default_action = set_src_label(0);
        size = 16384;
    }

    @id(0x02000005)
    table weft_dst_class_v6 {
        key = {
            k.ipv6_dst : lpm @name("ipv6_dst");
            gen : exact @name("gen");
        }
        actions = {
            set_dst_label;
        }
        default_action = set_dst_label(0);
        size = 16384;
    }

    @id(0x01000001)
    action permit() {
        weft_acl_counter.count();
        drop = false;
    }

    @id(0x01000002)
    action deny() {
        weft_acl_counter.count();
        drop = true;
    }

    // Priority-ordered (higher wins). Weft writes the IP default as explicit
    // lowest-priority entries; the table default permits what no entry
    // matches, which is non-IP control traffic (ARP, LLDP). An entry matches
    // only in its own generation (gen, the last key field).
    @id(0x02000001)
    table weft_acl {
        key = {
            ingress_port  : ternary @name("ingress_port");
            k.ether_type  : ternary @name("ether_type");
            src_label     : ternary @name("src_label");
            dst_label     : ternary @name("dst_label");
            k.ip_proto    : ternary @name("ip_proto");
            k.l4_src_port : ternary @name("l4_src_port");
            l4_dst_fence  : ternary @name("l4_dst_port_fence");
            k.tcp_flags   : ternary @name("tcp_flags");
            k.icmp_type   : ternary @name("icmp_type");
            k.icmp_code   : ternary @name("icmp_code");
            gen           : exact @name("gen");
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
        drop = false;
        weft_gen.apply();
        l4_dst_fence = weft_fence(k.l4_dst_port[15:12]) ++ weft_fence(k.l4_dst_port[11:8]) ++
                       weft_fence(k.l4_dst_port[7:4]) ++ weft_fence(k.l4_dst_port[3:0]);
        if (k.ether_type == WEFT_ETHERTYPE_IPV4) {
            weft_src_class_v4.apply();
            weft_dst_class_v4.apply();
        } else if (k.ether_type == WEFT_ETHERTYPE_IPV6) {
            weft_src_class_v6.apply();
            weft_dst_class_v6.apply();
        }
        weft_acl.apply();
    }
}

#endif
