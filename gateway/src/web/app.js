// depthwatch live page: one WebSocket to /v1/stream, plain DOM + one hand-drawn canvas chart.
// Frames are {"cseq":N,"msgs":[...]}: message i of a frame has sequence N+i (see docs/protocol.md).

const $ = (sel) => document.querySelector(sel);
const HISTORY_MS = 5 * 60 * 1000;
const SAMPLE_MS = 250;
const STALE_MS = 30_000;

const state = {
  asset: (new URLSearchParams(location.search).get('asset') || 'BTC').toUpperCase(),
  symbol: new URLSearchParams(location.search).get('symbol') || '*',
  band: 2,
  depth: new Map(), // venue:symbol → latest depth message (+ _rx receive time)
  assetDepth: null, // latest engine cross-venue asset_depth of state.asset (+ _rx)
  series: [], // {t, mid, spread, bid, ask}
  alerts: new Map(), // id → alert (+ _resolvedAt)
  status: new Map(), // venue:symbol → status
  liqs: [],
  symbols: new Set(),
  assets: new Set(['BTC', 'ETH', 'SOL']),
  ws: null,
  expectedCseq: 1,
  gaps: 0,
  dropped: 0,
  received: 0,
  marketSub: null,
  marketReq: 0,
  reconnectMs: 500,
  dirty: { table: true, alerts: true, liqs: true, feeds: true, symbols: true },
};

// ------------------------------------------------------------------ formatting

function fmtUsd(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return '$' + (v / 1e9).toFixed(2) + 'B';
  if (a >= 1e6) return '$' + (v / 1e6).toFixed(2) + 'M';
  if (a >= 1e3) return '$' + (v / 1e3).toFixed(1) + 'k';
  return '$' + v.toFixed(0);
}
function fmtPrice(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: v >= 1000 ? 2 : 4, maximumFractionDigits: v >= 1000 ? 2 : 6 });
}
function fmtTime(ts) {
  return new Date(ts).toISOString().slice(11, 19);
}
function fmtPct(v) {
  return v == null || !Number.isFinite(v) ? '—' : (v >= 0 ? '+' : '') + v.toFixed(2) + ' %';
}
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function bandOf(d, pct) {
  return d.bands.find((b) => b.pct === pct);
}
function assetOf(symbol) {
  const i = symbol.indexOf('/');
  return i > 0 ? symbol.slice(0, i) : symbol;
}

// ------------------------------------------------------------------ connection

function streamUrl() {
  const u = new URL('/v1/stream', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const key = new URLSearchParams(location.search).get('apikey');
  if (key) u.searchParams.set('apikey', key);
  return u.toString();
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function setConn(text, cls) {
  const c = $('#conn');
  c.textContent = text;
  c.className = 'pill ' + cls;
}

function connect() {
  const ws = new WebSocket(streamUrl());
  state.ws = ws;
  state.expectedCseq = 1;
  state.marketSub = null;
  setConn('connecting…', 'warn');
  ws.onopen = () => {
    state.reconnectMs = 500;
    setConn('live', 'up');
    // Everything-wide: feed health and alerts. Per selection: depth and liquidations.
    send({ op: 'subscribe', reqId: 'global', channels: ['status', 'alerts'], venues: ['*'], symbols: ['*'] });
    subscribeMarket();
  };
  ws.onmessage = (ev) => {
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (frame.cseq !== state.expectedCseq) {
      state.gaps++;
      updateLoss();
    }
    state.expectedCseq = frame.cseq + frame.msgs.length;
    for (const m of frame.msgs) handle(m);
  };
  ws.onclose = (ev) => {
    setConn(ev.code === 4001 ? 'too slow — reconnecting' : 'disconnected', 'down');
    state.ws = null;
    setTimeout(connect, state.reconnectMs);
    state.reconnectMs = Math.min(state.reconnectMs * 2, 10_000);
  };
}

function subscribeMarket() {
  if (state.marketSub !== null) send({ op: 'unsubscribe', id: state.marketSub });
  state.marketSub = null;
  state.depth.clear();
  state.assetDepth = null;
  state.series = [];
  state.liqs = [];
  state.dirty.table = state.dirty.liqs = true;
  const symbols = state.symbol === '*' ? [state.asset + '/*'] : [state.symbol];
  state.marketReq++;
  send({ op: 'subscribe', reqId: 'market-' + state.marketReq, channels: ['depth', 'liquidations'], venues: ['*'], symbols, assets: [state.asset] });
}

function updateLoss() {
  const parts = [];
  if (state.gaps) parts.push(state.gaps + ' gaps');
  if (state.dropped) parts.push(state.dropped + ' dropped');
  $('#loss').textContent = parts.join(' · ');
}

// ------------------------------------------------------------------ messages

function handle(m) {
  state.received++;
  switch (m.type) {
    case 'subscribed':
      if (typeof m.reqId === 'string' && m.reqId.startsWith('market-')) {
        // A reply to an older selection (user switched again meanwhile) is dropped at once.
        if (m.reqId === 'market-' + state.marketReq) state.marketSub = m.id;
        else send({ op: 'unsubscribe', id: m.id });
      }
      break;
    case 'depth': {
      const key = m.venue + ':' + m.symbol;
      if (state.symbol !== '*' ? m.symbol !== state.symbol : assetOf(m.symbol) !== state.asset) break;
      m._rx = Date.now();
      state.depth.set(key, m);
      noteSymbol(m.symbol);
      state.dirty.table = true;
      break;
    }
    case 'asset_depth':
      // Engine aggregate over every venue quoting the asset in a USD-like currency (venue/symbol '*').
      if (m.asset !== state.asset) break;
      m._rx = Date.now();
      state.assetDepth = m;
      break;
    case 'liquidation':
      state.liqs.unshift(m);
      if (state.liqs.length > 60) state.liqs.length = 60;
      state.dirty.liqs = true;
      break;
    case 'alert':
      if (m.state === 'resolved') {
        const prev = state.alerts.get(m.id);
        if (prev) {
          m._resolvedAt = Date.now();
          state.alerts.set(m.id, m);
        }
      } else state.alerts.set(m.id, m);
      state.dirty.alerts = true;
      break;
    case 'status':
      state.status.set(m.venue + ':' + m.symbol, m);
      if (m.symbol !== '*') noteSymbol(m.symbol);
      state.dirty.feeds = true;
      break;
    case 'dropped':
      state.dropped += m.count;
      updateLoss();
      break;
    case 'error':
      console.warn('gateway error', m.code, m.message);
      break;
  }
}

function noteSymbol(symbol) {
  const a = assetOf(symbol);
  if (!state.assets.has(a)) {
    state.assets.add(a);
    state.dirty.symbols = true;
  }
  if (a === state.asset && !state.symbols.has(symbol)) {
    state.symbols.add(symbol);
    state.dirty.symbols = true;
  }
}

// ------------------------------------------------------------------ aggregation

function liveStreams() {
  const now = Date.now();
  return [...state.depth.values()].filter((d) => now - d._rx < STALE_MS);
}

function aggregate() {
  const ds = liveStreams();
  if (ds.length === 0) return null;
  let bid = 0, ask = 0, mid = 0, spread = 0, b1 = 0, a1 = 0;
  for (const d of ds) {
    const b = bandOf(d, state.band);
    if (b) {
      bid += b.bidQuote;
      ask += b.askQuote;
    }
    const one = bandOf(d, 1);
    if (one) {
      b1 += one.bidBase;
      a1 += one.askBase;
    }
    mid += d.mid;
    spread += d.spreadBps;
  }
  return { t: Date.now(), mid: mid / ds.length, spread: spread / ds.length, bid, ask, imb: b1 + a1 > 0 ? (b1 - a1) / (b1 + a1) : 0 };
}

function sample() {
  const a = aggregate();
  if (a) state.series.push(a);
  const cutoff = Date.now() - HISTORY_MS;
  while (state.series.length && state.series[0].t < cutoff) state.series.shift();
}

// ------------------------------------------------------------------ rendering

function renderSummary() {
  const a = aggregate();
  $('#summary-mid').textContent = a ? fmtPrice(a.mid) : '—';
  $('#summary-spread').textContent = a ? a.spread.toFixed(2) + ' bp' : '—';
  $('#summary-bid').textContent = a ? fmtUsd(a.bid) : '—';
  $('#summary-ask').textContent = a ? fmtUsd(a.ask) : '—';
  $('#summary-imb').textContent = a ? (a.imb >= 0 ? '+' : '') + a.imb.toFixed(2) : '—';
  const x = state.assetDepth && Date.now() - state.assetDepth._rx < STALE_MS ? state.assetDepth : null;
  const ratio = (v, base) => (base > 0 ? (v / base).toFixed(2) + '×' : '—');
  $('#summary-asset').textContent = x ? fmtUsd(x.depth2PctBidQuote) + ' / ' + fmtUsd(x.depth2PctAskQuote) + (x.depthTruncated ? ' ≥' : '') : '—';
  $('#summary-asset-base').textContent = x
    ? 'vs baseline ' + ratio(x.depth2PctBidQuote, x.depth2PctBidBaseline) + ' / ' + ratio(x.depth2PctAskQuote, x.depth2PctAskBaseline) + ' · ' + x.venues.length + ' venues'
    : '';
}

function renderTable() {
  const tbody = $('#streams tbody');
  const now = Date.now();
  const rows = [...state.depth.values()].sort((x, y) => (x.venue + x.symbol).localeCompare(y.venue + y.symbol));
  tbody.replaceChildren(
    ...rows.map((d) => {
      const b = bandOf(d, state.band);
      const trunc = (t) => (t ? '≥' : '');
      const tr = el(
        'tr',
        { 'data-stream': d.venue + ':' + d.symbol },
        el('td', {}, d.venue),
        el('td', {}, d.symbol),
        el('td', { class: 'num' }, fmtPrice(d.mid)),
        el('td', { class: 'num' }, d.spreadBps.toFixed(2)),
        el('td', { class: 'num bid' }, b ? trunc(b.bidTruncated) + fmtUsd(b.bidQuote) : '—'),
        el('td', { class: 'num ask' }, b ? trunc(b.askTruncated) + fmtUsd(b.askQuote) : '—'),
        el('td', { class: 'num' }, (d.imbalance >= 0 ? '+' : '') + d.imbalance.toFixed(2)),
        el('td', { class: 'num' }, d.bidLevels + '/' + d.askLevels),
        el('td', { class: 'num' }, ((now - d._rx) / 1000).toFixed(1) + 's'),
      );
      if (now - d._rx > STALE_MS) tr.className = 'stale';
      return tr;
    }),
  );
  $('#streams-empty').hidden = rows.length > 0;
}

function renderAlerts() {
  const box = $('#alerts');
  const now = Date.now();
  for (const [id, a] of state.alerts) if (a._resolvedAt && now - a._resolvedAt > 30_000) state.alerts.delete(id);
  const list = [...state.alerts.values()].sort((x, y) => y.ts - x.ts);
  $('#alert-count').textContent = list.length ? '(' + list.filter((a) => !a._resolvedAt).length + ')' : '';
  if (list.length === 0) {
    box.replaceChildren(el('p', { class: 'muted empty' }, 'no open alerts'));
    return;
  }
  box.replaceChildren(
    ...list.map((a) => {
      const e = a.evidence;
      const rows = [
        ['liquidations', fmtUsd(e.liquidationNotional) + (e.lowerBoundVenues.length ? ' (≥, sampled: ' + e.lowerBoundVenues.join(', ') + ')' : '')],
        ['liq rate', fmtUsd(e.liquidationRate) + '/s vs ' + fmtUsd(e.liquidationBaselineRate) + '/s'],
        ['depth ±2 %', (e.depthTruncated ? '≥' : '') + fmtUsd(e.depth2Pct) + ' vs ' + fmtUsd(e.depth2PctBaseline)],
        ['spread', e.spreadBps.toFixed(2) + ' bp vs ' + e.spreadBaselineBps.toFixed(2) + ' bp'],
        ['price move', fmtPct(e.priceMovePct)],
        ['venues', e.venues.join(', ') || '—'],
      ];
      return el(
        'div',
        { class: 'alert ' + a.severity + (a._resolvedAt ? ' resolved' : ''), 'data-alert': a.id },
        el(
          'div',
          { class: 'title' },
          el('span', { class: 'sev' }, a.severity),
          el('span', {}, a.kind + ' · ' + a.scope),
          el('span', {}, a.venue === '*' ? a.asset + ' (all venues)' : a.venue + ' ' + a.symbol),
          el('span', { class: 'muted' }, a.stage + ' · ' + (a._resolvedAt ? 'resolved' : a.state) + ' · since ' + fmtTime(a.startTs)),
        ),
        el('div', { class: 'explanation' }, a.explanation),
        el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
      );
    }),
  );
}

function renderLiqs() {
  const tbody = $('#liqs tbody');
  tbody.replaceChildren(
    ...state.liqs.map((l) =>
      el(
        'tr',
        { class: l.liquidatedPosition + (l.notional >= 1e6 ? ' large' : '') },
        el('td', {}, fmtTime(l.ts)),
        el('td', {}, l.venue),
        el('td', {}, l.symbol),
        el('td', { class: 'pos', title: l.liquidatedPosition + ' liquidated' }, l.liquidatedPosition === 'long' ? 'L' : 'S'),
        el('td', { class: 'num' }, l.price >= 1000 ? l.price.toLocaleString('en-US', { maximumFractionDigits: 1 }) : fmtPrice(l.price)),
        el('td', { class: 'num' }, (l.completeness === 'lower_bound' ? '≥' : '') + fmtUsd(l.notional)),
      ),
    ),
  );
}

const STATE_RANK = { synced: 0, connecting: 1, syncing: 1, resyncing: 2, stale: 3, down: 4 };

function renderFeeds() {
  const byVenue = new Map();
  for (const s of state.status.values()) {
    const list = byVenue.get(s.venue) || [];
    list.push(s);
    byVenue.set(s.venue, list);
  }
  const box = $('#feeds');
  if (byVenue.size === 0) {
    box.replaceChildren(el('p', { class: 'muted empty' }, 'no feed status yet'));
    return;
  }
  box.replaceChildren(
    ...[...byVenue.entries()].sort().map(([venue, list]) => {
      const worst = list.reduce((w, s) => (STATE_RANK[s.state] > STATE_RANK[w.state] ? s : w), list[0]);
      const lags = list.map((s) => s.lagMs).filter((v) => v != null);
      // symbol '*' is the venue's connection status: its counters are venue totals, not one more stream.
      const streams = list.filter((s) => s.symbol !== '*');
      const notSynced = streams.filter((s) => s.state !== 'synced');
      return el(
        'div',
        { class: 'feed', 'data-venue': venue },
        el('span', { class: 'venue' }, venue),
        el('span', { class: 'state ' + worst.state }, worst.state),
        el(
          'div',
          { class: 'detail' },
          streams.length + ' streams · lag ' + (lags.length ? Math.round(Math.max(...lags)) + ' ms' : '—') + ' · resyncs ' + streams.reduce((n, s) => n + s.resyncs, 0),
        ),
        notSynced.length ? el('div', { class: 'detail' }, notSynced.map((s) => s.symbol + ': ' + s.state).join(', ')) : el('span'),
        worst.state !== 'synced' && worst.reason ? el('div', { class: 'detail' }, worst.reason) : el('span'),
      );
    }),
  );
}

function renderSymbols() {
  $('#asset-list').replaceChildren(...[...state.assets].sort().map((a) => el('option', { value: a })));
  const sel = $('#symbol');
  const current = state.symbol;
  sel.replaceChildren(el('option', { value: '*' }, 'all ' + state.asset + ' symbols'), ...[...state.symbols].sort().map((s) => el('option', { value: s }, s)));
  sel.value = current;
}

// ------------------------------------------------------------------ chart

function drawChart() {
  const canvas = $('#chart');
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const css = getComputedStyle(document.documentElement);
  const color = (n) => css.getPropertyValue(n).trim();
  const pts = state.series;
  const padL = 8, padR = 96, top = 6, gap = 14;
  const plotW = w - padL - padR;
  const hMid = (h - top - 2 * gap - 18) * 0.4;
  const hDepth = (h - top - 2 * gap - 18) * 0.4;
  const hSpread = (h - top - 2 * gap - 18) * 0.2;
  const panels = [
    { y: top, h: hMid },
    { y: top + hMid + gap, h: hDepth },
    { y: top + hMid + gap + hDepth + gap, h: hSpread },
  ];
  const now = Date.now();
  // The window grows with the data from 1 to 5 minutes, so a fresh page is not a sliver at the right.
  const span = pts.length ? now - pts[0].t : 0;
  const win = Math.max(60_000, Math.min(HISTORY_MS, Math.ceil(span / 30_000) * 30_000));
  const x = (t) => padL + plotW * (1 - (now - t) / win);
  ctx.font = '11px ui-monospace, monospace';
  ctx.lineWidth = 1;
  for (const p of panels) {
    ctx.strokeStyle = color('--line');
    ctx.strokeRect(padL + 0.5, p.y + 0.5, plotW, p.h);
  }
  ctx.fillStyle = color('--muted');
  const step = win / 5;
  for (let k = 0; k <= 5; k++) {
    const ago = k * step;
    const label = k === 0 ? 'now' : ago % 60_000 === 0 ? '-' + ago / 60_000 + 'm' : '-' + Math.round(ago / 1000) + 's';
    ctx.fillText(label, Math.max(padL, x(now - ago) - (k === 0 ? 22 : 12)), h - 4);
  }
  if (pts.length < 2) {
    ctx.fillText('waiting for data…', padL + 10, top + 20);
    return;
  }
  const line = (panel, key, col, lo, hi) => {
    const span = hi - lo || 1;
    ctx.strokeStyle = col;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    pts.forEach((p, i) => {
      const yy = panel.y + panel.h - ((p[key] - lo) / span) * panel.h;
      if (i === 0) ctx.moveTo(x(p.t), yy);
      else ctx.lineTo(x(p.t), yy);
    });
    ctx.stroke();
  };
  const axis = (panel, lo, hi, fmt, col) => {
    ctx.fillStyle = col;
    ctx.fillText(fmt(hi), padL + plotW + 6, panel.y + 10);
    ctx.fillText(fmt(lo), padL + plotW + 6, panel.y + panel.h);
  };
  // Panel 1: mid.
  let lo = Math.min(...pts.map((p) => p.mid)), hi = Math.max(...pts.map((p) => p.mid));
  const padP = (hi - lo) * 0.1 || hi * 0.0005;
  lo -= padP;
  hi += padP;
  line(panels[0], 'mid', color('--mid'), lo, hi);
  axis(panels[0], lo, hi, fmtPrice, color('--mid'));
  // Panel 2: bid depth up, ask depth down (mirrored areas around the centre line).
  const maxD = Math.max(1, ...pts.map((p) => Math.max(p.bid, p.ask)));
  const p2 = panels[1];
  const mid2 = p2.y + p2.h / 2;
  for (const [key, col, sign] of [['bid', color('--bid'), -1], ['ask', color('--ask'), 1]]) {
    ctx.beginPath();
    ctx.moveTo(x(pts[0].t), mid2);
    for (const p of pts) ctx.lineTo(x(p.t), mid2 + sign * (p[key] / maxD) * (p2.h / 2 - 2));
    ctx.lineTo(x(pts[pts.length - 1].t), mid2);
    ctx.closePath();
    ctx.fillStyle = col + '55';
    ctx.fill();
    ctx.strokeStyle = col;
    ctx.lineWidth = 1.2;
    ctx.stroke();
  }
  ctx.fillStyle = color('--bid');
  ctx.fillText('bid ' + fmtUsd(maxD), padL + plotW + 6, p2.y + 10);
  ctx.fillStyle = color('--muted');
  ctx.fillText('0', padL + plotW + 6, mid2 + 4);
  ctx.fillStyle = color('--ask');
  ctx.fillText('ask ' + fmtUsd(maxD), padL + plotW + 6, p2.y + p2.h);
  // Panel 3: spread.
  const sHi = Math.max(...pts.map((p) => p.spread)) * 1.1 || 1;
  line(panels[2], 'spread', color('--spread'), 0, sHi);
  axis(panels[2], 0, sHi, (v) => v.toFixed(1) + 'bp', color('--spread'));
}

// ------------------------------------------------------------------ loop and controls

let lastCount = 0;
setInterval(() => {
  $('#rate').textContent = state.received - lastCount + ' msg/s';
  lastCount = state.received;
}, 1000);
setInterval(sample, SAMPLE_MS);
setInterval(() => {
  state.dirty.table = true; // ages
  state.dirty.alerts = true; // resolved expiry
}, 1000);

function frame() {
  renderSummary();
  if (state.dirty.table) renderTable();
  if (state.dirty.alerts) renderAlerts();
  if (state.dirty.liqs) renderLiqs();
  if (state.dirty.feeds) renderFeeds();
  if (state.dirty.symbols) renderSymbols();
  state.dirty = { table: false, alerts: false, liqs: false, feeds: false, symbols: false };
  drawChart();
}
// ~5 renders a second keeps the page cheap; the stream itself is coalesced per tick by the gateway.
setInterval(() => requestAnimationFrame(frame), 200);

function setBandLabels() {
  document.querySelectorAll('.band-label').forEach((e) => (e.textContent = '±' + state.band + ' %'));
}

$('#asset').value = state.asset;
$('#asset').addEventListener('change', (ev) => {
  const v = ev.target.value.trim().toUpperCase();
  if (!/^[A-Z0-9]{1,20}$/.test(v)) return;
  state.asset = v;
  state.symbol = '*';
  state.symbols = new Set();
  state.dirty.symbols = true;
  subscribeMarket();
});
$('#symbol').addEventListener('change', (ev) => {
  state.symbol = ev.target.value;
  subscribeMarket();
});
$('#band').addEventListener('change', (ev) => {
  state.band = Number(ev.target.value);
  state.series = [];
  setBandLabels();
  state.dirty.table = true;
});
setBandLabels();
renderSymbols();
// Resizing a canvas clears it: redraw at once instead of waiting for the next render tick.
new ResizeObserver(() => drawChart()).observe($('#chart'));
connect();

// For debugging from the console.
window.depthwatch = state;
