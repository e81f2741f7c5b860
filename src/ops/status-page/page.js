// The status page: reads /status every few seconds and shows it. Plain JavaScript, no
// dependencies. Everything from /status is written with textContent (keys and reasons come from
// clients); nothing is ever parsed as HTML.
'use strict';

const REFRESH_MS = 3000;
/** Buckets in 15 minutes (the server's ring). */
const BUCKETS = 90;
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

function text(id, value) {
  const el = $(id);
  if (el) el.textContent = String(value);
}

function pct(part, whole) {
  return whole > 0 ? ((100 * part) / whole).toFixed(1) + '%' : '–';
}

function bytes(n) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(1)) + ' ' + units[i];
}

function span(ms) {
  return ms < 60000 ? Math.round(ms / 1000) + ' s' : Math.round(ms / 60000) + ' min';
}

function time(ms) {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

/** Requests per second over the last minute of the series. */
function perSecond(series, now, pick) {
  const from = now - 60000;
  let n = 0;
  let start = now;
  for (const b of series) {
    if (b.t + 10000 <= from) continue;
    n += pick(b);
    start = Math.min(start, b.t);
  }
  const seconds = Math.max(1, (now - Math.max(start, from)) / 1000);
  return n / seconds;
}

function cell(row, value, cls) {
  const td = document.createElement('td');
  td.textContent = String(value);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fill(tableId, rows, empty, make) {
  const body = $(tableId).tBodies[0];
  const next = document.createElement('tbody');
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = cell(tr, empty);
    td.colSpan = $(tableId).tHead.rows[0].cells.length;
    next.appendChild(tr);
  }
  for (const r of rows) {
    const tr = document.createElement('tr');
    make(tr, r);
    next.appendChild(tr);
  }
  body.replaceWith(next);
}

function line(svg, values, max) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const w = 300;
  const h = svg.classList.contains('spark') ? 20 : 60;
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  if (values.length === 0) return;
  const top = max > 0 ? max : 1;
  // 15 minutes across, newest at the right: a young process draws only the right-hand part.
  const step = w / (BUCKETS - 1);
  const xy = values.map((v, i) => [w - (values.length - 1 - i) * step, h - 1 - (v / top) * (h - 2)]);
  const pl = document.createElementNS(SVG, 'polyline');
  pl.setAttribute('points', xy.map(([x, y]) => x.toFixed(1) + ',' + y.toFixed(1)).join(' '));
  svg.appendChild(pl);
  const last = xy[xy.length - 1];
  const dot = document.createElementNS(SVG, 'circle');
  dot.setAttribute('cx', last[0].toFixed(1));
  dot.setAttribute('cy', last[1].toFixed(1));
  dot.setAttribute('r', '2');
  svg.appendChild(dot);
}

function spark(values) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('preserveAspectRatio', 'none');
  line(svg, values, Math.max(0, ...values));
  return svg;
}

function render(s) {
  const seconds = s.bucketMs / 1000;
  text('state', 'live');
  text('since', time(s.since));
  text('workers', s.workers);
  text('updated', time(s.now));

  const t = s.totals;
  text('total-requests', t.requests);
  text('total-hits', t.hits);
  text('hit-ratio', pct(t.hits, t.requests));
  text('origin-saved', t.originSaved);
  text('lock-waits', t.collapsed);
  text('bytes-cache', bytes(t.bytesCache));
  text('bytes-fetched', bytes(t.bytesFetched));
  $('bytes-cache').dataset.value = String(t.bytesCache);
  $('bytes-fetched').dataset.value = String(t.bytesFetched);
  text('rps', perSecond(s.series, s.now, (b) => b.requests).toFixed(1));

  line($('chart-rps'), s.series.map((b) => b.requests / seconds), Math.max(0, ...s.series.map((b) => b.requests / seconds)));
  line($('chart-hit'), s.series.map((b) => (b.requests > 0 ? b.hits / b.requests : 0)), 1);

  const routes = Object.keys(t.routes).sort();
  fill('routes', routes, 'no requests yet', (tr, name) => {
    const c = t.routes[name];
    tr.dataset.route = name;
    cell(tr, name);
    cell(tr, c.requests, 'n requests');
    cell(tr, c.hits, 'n hits');
    cell(tr, pct(c.hits, c.requests), 'n ratio');
    cell(tr, perSecond(s.series, s.now, (b) => (b.routes[name] ? b.routes[name].requests : 0)).toFixed(1), 'n');
    const td = cell(tr, '');
    td.appendChild(spark(s.series.map((b) => (b.routes[name] ? b.routes[name].requests : 0))));
  });

  text('window', '(last ' + span(s.window.ms) + ')');
  fill('keys', s.window.keys, 'no requests in the window', (tr, k) => {
    cell(tr, k.key, 'key');
    cell(tr, k.requests, 'n');
    cell(tr, k.misses, 'n');
  });
  fill('reasons', s.window.missReasons, 'no misses in the window', (tr, r) => {
    cell(tr, r.reason, 'key');
    cell(tr, r.count, 'n');
  });

  const m = s.memory;
  text('memory-fill', pct(m.bytes, m.maxSize));
  text('memory-bytes', bytes(m.bytes));
  text('memory-max', bytes(m.maxSize));
  text('memory-entries', m.entries);
  text('evictions', m.evictions);
  const redis = $('redis');
  redis.textContent = s.redis.configured ? s.redis.state + (s.redis.breakerOpen ? ' (breaker open: Redis skipped)' : '') : 'not configured';
  redis.className = s.redis.configured && s.redis.state !== 'up' ? 'down' : '';
  const ups = $('upstreams');
  ups.textContent = s.upstreams.length === 0 ? 'none (each route has one origin)' : s.upstreams.map((u) => `${u.name}: ${u.servers.filter((x) => x.up).length} of ${u.servers.length} up` + u.servers.filter((x) => !x.up).map((x) => `, ${x.url} down`).join('')).join('; ');
  ups.className = s.upstreams.some((u) => u.servers.some((x) => !x.up)) ? 'down' : '';

  fill('events', s.events.slice().reverse(), 'none since start', (tr, e) => {
    cell(tr, time(e.at));
    cell(tr, e.kind);
    cell(tr, e.result, e.result);
    cell(tr, e.detail);
  });
  document.body.dataset.ready = '1';
}

async function refresh() {
  try {
    const res = await fetch('status', { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error('/status answered ' + res.status);
    render(await res.json());
  } catch (err) {
    text('state', 'cannot read /status: ' + (err && err.message ? err.message : String(err)));
    $('state').className = 'error';
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
