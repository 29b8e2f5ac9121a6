// The report page's behaviour: selecting a device of the fabric drawing shows
// its details and links, the zoom buttons scale the drawing, and the explain
// box evaluates a flow with WeftExplain (assets/explain.js) and draws its
// path. Everything comes from the data embedded in the page.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('weft-report-data').textContent);
  var explainer = globalThis.WeftExplain.create(data.explain);
  var svg = document.getElementById('fabric-svg');
  var view = document.getElementById('fabric-view');
  var details = document.getElementById('details');

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.append(c);
    });
    return node;
  }

  function list(items) {
    return el('ul', {}, items.map(function (t) { return el('li', {}, [t]); }));
  }

  function devNode(name) {
    return svg.querySelector('g.dev[data-name="' + CSS.escape(name) + '"]');
  }

  function clearMarks(cls) {
    svg.querySelectorAll('.' + cls).forEach(function (n) {
      n.classList.remove(cls);
    });
  }

  function usageText(u) {
    if (!u || u.used === undefined) return 'not reported';
    if (u.limit === undefined) return u.used.toLocaleString('en') + ' entries (no limit recorded)';
    return u.used.toLocaleString('en') + ' of ' + u.limit.toLocaleString('en') + ' entries (' + Math.round((100 * u.used) / u.limit) + '%, ' + u.level + ')';
  }

  function select(name) {
    var n = data.nodes[name];
    if (!n) return;
    clearMarks('selected');
    clearMarks('hl');
    var g = devNode(name);
    if (g) g.classList.add('selected');
    svg.querySelectorAll('line.link').forEach(function (l) {
      if (l.dataset.a === name || l.dataset.b === name) l.classList.add('hl');
    });
    var rows = [['kind', n.kind], ['target', n.target]];
    if (n.mode) rows.push(['mode', n.mode]);
    if (n.reason) rows.push(['why', n.reason]);
    if (n.mgmt) rows.push(['management', n.mgmt]);
    if (n.attach) rows.push(['plugs into', n.attach]);
    if (n.addresses) rows.push(['addresses', n.addresses.join(', ')]);
    if (n.labels) rows.push(['labels', Object.keys(n.labels).map(function (k) { return k + '=' + n.labels[k]; }).join(', ') || '-']);
    if (n.usage) rows.push(['entries', usageText(n.usage)]);
    if (n.interfaces) rows.push(['interfaces', list(n.interfaces)]);
    if (n.endpoints) rows.push(['endpoints', list(n.endpoints)]);
    if (n.stats) rows.push(['stats', Object.keys(n.stats).map(function (k) { return k + '=' + n.stats[k]; }).join(' ')]);
    if (n.notes && n.notes.length) rows.push(['notes', list(n.notes)]);
    var dl = el('dl');
    rows.forEach(function (r) {
      dl.append(el('dt', {}, [r[0]]), el('dd', {}, [r[1]]));
    });
    details.replaceChildren(el('h3', {}, [name]), dl);
  }

  svg.addEventListener('click', function (e) {
    var g = e.target.closest('g.dev');
    if (g) select(g.dataset.name);
  });
  svg.addEventListener('keydown', function (e) {
    var g = e.target.closest('g.dev');
    if (g && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      select(g.dataset.name);
    }
  });
  document.querySelectorAll('[data-select]').forEach(function (a) {
    a.addEventListener('click', function () {
      select(a.dataset.select);
    });
  });

  // A rule's enforcement points are listed when its row is opened.
  document.querySelectorAll('details.points').forEach(function (d) {
    d.addEventListener('toggle', function () {
      var ul = d.querySelector('ul');
      if (!d.open || ul.childElementCount) return;
      data.explain.rules[Number(d.dataset.ruleIndex)].points.forEach(function (k) {
        var p = data.explain.points[k];
        ul.append(el('li', {}, [el('b', {}, [p.device]), ' ' + p.attach + ' ', el('i', {}, [p.mode]), ': ' + p.reason]));
      });
    });
  });

  // Zoom scales the drawing's width; the pane scrolls to pan.
  var zoom = 1;
  function setZoom(z) {
    zoom = Math.min(20, Math.max(1, z));
    svg.style.width = zoom * 100 + '%';
  }
  document.querySelectorAll('[data-zoom]').forEach(function (b) {
    b.addEventListener('click', function () {
      var how = b.dataset.zoom;
      setZoom(how === 'in' ? zoom * 1.5 : how === 'out' ? zoom / 1.5 : 1);
    });
  });
  view.addEventListener(
    'wheel',
    function (e) {
      if (!e.ctrlKey) return;
      e.preventDefault();
      setZoom(zoom * (e.deltaY < 0 ? 1.2 : 1 / 1.2));
    },
    { passive: false },
  );
  // A large fabric opens zoomed so that labels are readable; the pane scrolls.
  var natural = Number(svg.getAttribute('width'));
  if (natural > view.clientWidth * 1.5) setZoom(natural / view.clientWidth / 1.5);

  // The explain box.
  var form = document.getElementById('explain-form');
  var out = document.getElementById('explain-out');

  function endText(e) {
    var who = e.endpoints.length ? 'endpoint ' + e.endpoints.join(', ') + (e.attachment ? ' at ' + e.attachment : '') : 'not a fabric endpoint';
    return e.address + '  [' + (e.groups.join(', ') || 'no groups') + ']  ' + who;
  }

  function showPath(x) {
    clearMarks('on-path');
    if (!x || !x.path) return;
    // Unmanaged endpoints are drawn too: the path starts or ends at them.
    var first = x.src.endpoints.length && devNode(x.src.endpoints[0]) ? [{ device: x.src.endpoints[0] }] : [];
    var last = x.dst.endpoints.length && devNode(x.dst.endpoints[0]) ? [{ device: x.dst.endpoints[0] }] : [];
    var hops = first.concat(x.path, last);
    hops.forEach(function (h, i) {
      var g = devNode(h.device);
      if (g) g.classList.add('on-path');
      if (i === 0) return;
      var prev = hops[i - 1].device;
      svg.querySelectorAll('line.link').forEach(function (l) {
        if ((l.dataset.a === prev && l.dataset.b === h.device) || (l.dataset.b === prev && l.dataset.a === h.device)) l.classList.add('on-path');
      });
    });
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var q = { src: form.elements.src.value, dst: form.elements.dst.value, proto: form.elements.proto.value, port: form.elements.port.value };
    var x = explainer.explain(q);
    if (x.error) {
      showPath(null);
      out.replaceChildren(el('p', { class: 'error', 'data-error': '' }, [x.error]));
      return;
    }
    var decided = x.rule ? 'rule ' + x.rule.name + ' (' + (x.rule.section ? 'section ' + x.rule.section + ', ' : '') + x.rule.location + ')' : 'default (no rule matches)';
    var points = x.points.map(function (p) {
      var here = p.placed.length
        ? p.placed.map(function (pl) { return pl.attach + ' ' + pl.mode + ': ' + pl.reason; }).join('; ')
        : 'the deciding rule is not placed on the ports this flow crosses';
      return p.device + ' (' + p.target + ', ' + p.mode + '): ' + here;
    });
    var rows = [
      ['verdict', el('span', { class: 'verdict ' + x.verdict }, [x.verdict])],
      ['decided by', decided],
      ['source', endText(x.src)],
      ['destination', endText(x.dst)],
      ['path', x.pathText || 'unknown'],
      ['enforcement points', points.length ? list(points) : 'none on this path'],
    ];
    x.notes.forEach(function (n) {
      rows.push(['note', n]);
    });
    var dl = el('dl', { 'data-verdict': x.verdict, 'data-rule': x.rule ? x.rule.name : '' });
    rows.forEach(function (r) {
      dl.append(el('dt', {}, [r[0]]), el('dd', {}, [r[1]]));
    });
    out.replaceChildren(dl);
    showPath(x);
  });
})();
