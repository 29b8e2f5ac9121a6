// The explain box's evaluator, run inside the report page (plain JavaScript,
// no imports, embedded verbatim) and tested in Node against the reference
// evaluator. It reads the policy the way the reference does, one rule after
// another over its groups' CIDRs, excepts and endpoint addresses, so the page
// needs only data that grows with rules and endpoints, never a table of
// identity pairs. It also finds the flow's path over the fabric's links the
// way `weft explain` does (breadth-first, hosts never transit, lexically
// first devices among equal-cost paths).
(function (root) {
  'use strict';

  var PROTO_NUMBERS = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };

  /** An IPv4 or IPv6 address as {family, value: BigInt}, or null. */
  function parseAddress(text) {
    var t = String(text).trim();
    if (t.indexOf(':') < 0) {
      var v4 = parseV4(t);
      return v4 === null ? null : { family: 4, value: v4 };
    }
    var v6 = parseV6(t);
    return v6 === null ? null : { family: 6, value: v6 };
  }

  function parseV4(t) {
    var parts = t.split('.');
    if (parts.length !== 4) return null;
    // A Number holds 32 bits exactly; one BigInt at the end spares thousands of allocations.
    var v = 0;
    for (var i = 0; i < 4; i++) {
      if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return null;
      var n = Number(parts[i]);
      if (n > 255) return null;
      v = v * 256 + n;
    }
    return BigInt(v);
  }

  function parseV6(t) {
    var halves = t.split('::');
    if (halves.length > 2) return null;
    var groups = function (s) {
      return s === '' ? [] : s.split(':');
    };
    var head = groups(halves[0]);
    var tail = halves.length === 2 ? groups(halves[1]) : [];
    // A dotted IPv4 tail (::ffff:10.0.0.1) counts as two words; it can only end the address.
    var lastHalf = halves.length === 2 ? tail : head;
    var v4tail = null;
    if (lastHalf.length && lastHalf[lastHalf.length - 1].indexOf('.') >= 0) {
      v4tail = parseV4(lastHalf[lastHalf.length - 1]);
      if (v4tail === null) return null;
      lastHalf.pop();
    }
    var words = [];
    var wordCount = head.length + tail.length + (v4tail === null ? 0 : 2);
    if (halves.length === 1 ? wordCount !== 8 : wordCount > 7) return null;
    var fill = 8 - wordCount;
    var hex = function (w) {
      return /^[0-9a-fA-F]{1,4}$/.test(w) ? parseInt(w, 16) : null;
    };
    for (var i = 0; i < head.length; i++) words.push(hex(head[i]));
    for (var j = 0; j < fill; j++) words.push(0);
    for (var k = 0; k < tail.length; k++) words.push(hex(tail[k]));
    if (v4tail !== null) words.push(Number(v4tail >> 16n), Number(v4tail & 0xffffn));
    var v = 0n;
    for (var w = 0; w < words.length; w++) {
      if (words[w] === null) return null;
      v = (v << 16n) | BigInt(words[w]);
    }
    return v;
  }

  /** "10.0.0.0/8" as {family, lo, hi}. */
  function parseRange(text) {
    var slash = text.indexOf('/');
    var a = parseAddress(text.slice(0, slash));
    var len = BigInt(Number(text.slice(slash + 1)));
    var bits = a.family === 4 ? 32n : 128n;
    var host = (1n << (bits - len)) - 1n;
    return { family: a.family, lo: a.value & ~host, hi: (a.value & ~host) | host };
  }

  function inRanges(a, ranges) {
    for (var i = 0; i < ranges.length; i++) {
      var r = ranges[i];
      if (r.family === a.family && a.value >= r.lo && a.value <= r.hi) return true;
    }
    return false;
  }

  function addrKey(a) {
    return a.family + '/' + a.value.toString();
  }

  function portMatches(m, f) {
    switch (m.p) {
      case 'any':
        return true;
      case 'tcp':
      case 'udp':
        return f.proto === PROTO_NUMBERS[m.p] && f.dport >= m.lo && f.dport <= m.hi;
      case 'icmp':
      case 'icmpv6':
        if (f.proto !== PROTO_NUMBERS[m.p]) return false;
        if (m.type !== undefined && (f.icmpType || 0) !== m.type) return false;
        if (m.code !== undefined && (f.icmpCode || 0) !== m.code) return false;
        return true;
      default:
        throw new Error('unknown port match ' + JSON.stringify(m));
    }
  }

  // The orders `weft explain` sorts links by (String.localeCompare), with one
  // collator each instead of one per comparison.
  var compareNames = new Intl.Collator().compare;
  var comparePorts = new Intl.Collator('en', { numeric: true }).compare;

  function create(data) {
    var endpointAddrs = data.endpoints.map(function (e) {
      return e.addresses.map(parseAddress);
    });
    var endpointKeys = endpointAddrs.map(function (list) {
      return list.map(addrKey);
    });
    var groups = data.groups.map(function (g) {
      var members = new Set();
      g.members.forEach(function (i) {
        endpointKeys[i].forEach(function (k) {
          members.add(k);
        });
      });
      return { name: g.name, members: members, cidrs: g.cidrs.map(parseRange), except: g.except.map(parseRange) };
    });
    var owners = new Map();
    data.endpoints.forEach(function (e, i) {
      endpointKeys[i].forEach(function (k) {
        if (!owners.has(k)) owners.set(k, []);
        owners.get(k).push(i);
      });
    });
    var devices = new Map(
      data.devices.map(function (d) {
        return [d.name, d];
      }),
    );
    var adjacency = new Map();
    var addEdge = function (d, e) {
      if (!adjacency.has(d)) adjacency.set(d, []);
      adjacency.get(d).push(e);
    };
    data.links.forEach(function (l) {
      addEdge(l[0], { port: l[1], peer: l[2], peerPort: l[3] });
      addEdge(l[2], { port: l[3], peer: l[0], peerPort: l[1] });
    });
    adjacency.forEach(function (edges) {
      edges.sort(function (x, y) {
        return compareNames(x.peer, y.peer) || comparePorts(x.port, y.port);
      });
    });

    function inGroup(a, key, g) {
      if (g.members.has(key)) return true;
      return inRanges(a, g.cidrs) && !inRanges(a, g.except);
    }
    function inPeers(a, key, refs) {
      for (var i = 0; i < refs.length; i++) {
        if (refs[i] < 0 || inGroup(a, key, groups[refs[i]])) return true;
      }
      return false;
    }

    /** First matching rule: {verdict, rule} with rule -1 for the default. Addresses already parsed. */
    function verdict(f) {
      var sk = addrKey(f.src);
      var dk = addrKey(f.dst);
      for (var i = 0; i < data.rules.length; i++) {
        var r = data.rules[i];
        if (!inPeers(f.src, sk, r.from)) continue;
        if (!inPeers(f.dst, dk, r.to)) continue;
        if (r.ports.length > 0 && !r.ports.some(function (m) { return portMatches(m, f); })) continue;
        return { verdict: r.action, rule: i };
      }
      return { verdict: data.defaultAction, rule: -1 };
    }

    function groupsOf(a) {
      var key = addrKey(a);
      return groups
        .filter(function (g) {
          return inGroup(a, key, g);
        })
        .map(function (g) {
          return g.name;
        })
        .sort();
    }

    function search(from, isGoal) {
      var prev = new Map([[from.device, null]]);
      var queue = [from.device];
      var goal;
      while (queue.length) {
        var cur = queue.shift();
        if (isGoal(cur)) {
          goal = cur;
          break;
        }
        var dev = devices.get(cur);
        if (cur !== from.device && dev && dev.kind === 'host') continue;
        (adjacency.get(cur) || []).forEach(function (e) {
          if (prev.has(e.peer)) return;
          prev.set(e.peer, { device: cur, out: e.port, in: e.peerPort });
          queue.push(e.peer);
        });
      }
      if (goal === undefined) return null;
      var chain = [];
      for (var at = goal; at !== undefined; ) {
        var p = prev.get(at);
        chain.push({ device: at, in: p ? p.in : undefined });
        at = p ? p.device : undefined;
      }
      chain.reverse();
      return chain.map(function (c, i) {
        return { device: c.device, in: i === 0 ? from.port : c.in, out: i + 1 < chain.length ? prev.get(chain[i + 1].device).out : undefined };
      });
    }

    function isSwitch(name) {
      var d = devices.get(name);
      return !!d && d.kind === 'switch';
    }

    function pathOf(from, to) {
      if (from && to) {
        var hops = search(from, function (d) {
          return d === to.device;
        });
        if (hops && to.port) hops[hops.length - 1].out = to.port;
        return { hops: hops, note: hops ? null : 'no path between ' + at(from) + ' and ' + at(to) + " over the fabric's links" };
      }
      if (from) return { hops: search(from, isSwitch), note: 'the destination is not a fabric endpoint: only the source side of the path is known' };
      if (to) {
        var back = search(to, isSwitch);
        var rev = back
          ? back.reverse().map(function (h) {
              return { device: h.device, in: h.out, out: h.in };
            })
          : null;
        return { hops: rev, note: 'the source is not a fabric endpoint: only the destination side of the path is known' };
      }
      return { hops: null, note: 'neither address is a fabric endpoint: no Weft enforcement point is on this path' };
    }

    /**
     * Whether the flow passes a placement point ("eth1 ingress", or "* egress"
     * for a host's own endpoints) at this hop: ports by the way it enters or
     * leaves, a host's endpoints by being the source (egress) or the
     * destination (ingress).
     */
    function crosses(attach, hop, first, last) {
      var parts = attach.split(' ');
      if (parts[0] === '*') return parts[1] === 'egress' ? first : last;
      return parts[1] === 'ingress' ? parts[0] === hop.in : parts[0] === hop.out;
    }

    function at(attachment) {
      return attachment.port ? attachment.device + ':' + attachment.port : attachment.device;
    }

    function end(a, text) {
      var list = owners.get(addrKey(a)) || [];
      var first = list.length ? data.endpoints[list[0]] : null;
      var attachment = first && first.device ? { device: first.device, port: first.port } : null;
      return {
        info: {
          address: text,
          groups: groupsOf(a),
          endpoints: list.map(function (i) {
            return data.endpoints[i].name;
          }),
          attachment: attachment ? at(attachment) : null,
        },
        attachment: attachment,
      };
    }

    /**
     * The page's question: {src, dst, proto (name), port (tcp/udp port, or
     * ICMP type)}. Returns {error} for input the page cannot evaluate.
     */
    function explain(q) {
      var src = parseAddress(q.src);
      var dst = parseAddress(q.dst);
      if (!src) return { error: 'source "' + q.src + '" is not an IPv4 or IPv6 address' };
      if (!dst) return { error: 'destination "' + q.dst + '" is not an IPv4 or IPv6 address' };
      if (src.family !== dst.family) return { error: 'source and destination are of different address families' };
      var proto = PROTO_NUMBERS[q.proto];
      if (proto === undefined) return { error: 'protocol "' + q.proto + '" is not one of tcp, udp, icmp, icmpv6' };
      var icmp = proto === 1 || proto === 58;
      if (icmp && src.family !== (proto === 1 ? 4 : 6)) return { error: q.proto + ' needs IPv' + (proto === 1 ? 4 : 6) + ' addresses' };
      var portText = String(q.port === undefined || q.port === null ? '' : q.port).trim();
      var max = icmp ? 255 : 65535;
      var port = portText === '' && icmp ? (proto === 1 ? 8 : 128) : Number(portText);
      if (!/^[0-9]*$/.test(portText) || !Number.isInteger(port) || port < 0 || port > max || (portText === '' && !icmp)) {
        return { error: (icmp ? 'ICMP type' : 'port') + ' "' + portText + '" is not an integer within 0-' + max };
      }
      var flow = icmp ? { src: src, dst: dst, proto: proto, sport: 0, dport: 0, icmpType: port, icmpCode: 0 } : { src: src, dst: dst, proto: proto, sport: 49152, dport: port };
      var v = verdict(flow);
      var rule = v.rule >= 0 ? data.rules[v.rule] : null;
      var s = end(src, String(q.src).trim());
      var d = end(dst, String(q.dst).trim());
      var path = pathOf(s.attachment, d.attachment);
      var points = [];
      var hops = path.hops || [];
      hops.forEach(function (h, i) {
        var dev = devices.get(h.device);
        if (!dev || !dev.target) return;
        var placed = rule
          ? rule.points
              .map(function (k) {
                return data.points[k];
              })
              .filter(function (p) {
                return p.device === h.device && crosses(p.attach, h, i === 0, i === hops.length - 1);
              })
          : [];
        points.push({ device: h.device, target: dev.target, mode: dev.mode, placed: placed });
      });
      return {
        verdict: v.verdict,
        rule: rule ? { index: v.rule, name: rule.name, section: rule.section, location: rule.location } : null,
        src: s.info,
        dst: d.info,
        path: path.hops,
        pathText: path.hops ? formatPath(path.hops) : null,
        points: points,
        notes: path.note ? [path.note] : [],
      };
    }

    return { verdict: verdict, explain: explain, groupsOf: groupsOf };
  }

  function formatPath(hops) {
    return hops
      .map(function (h) {
        return (h.in ? h.in + ':' : '') + h.device + (h.out ? ':' + h.out : '');
      })
      .join(' -> ');
  }

  root.WeftExplain = { create: create, parseAddress: parseAddress, formatPath: formatPath };
})(globalThis);
