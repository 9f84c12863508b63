import { BAND_PCTS, CAPACITY_BPS, SLIPPAGE_NOTIONALS, VENUE_ID_HELP, isUnifiedSymbol, isVenueId, serializeEvent, type Alert, type DepthMetrics, type Liquidation, type Trade } from '@depthwatch/schemas';
import { HISTORY_KINDS, type HistoryKind, type HistoryQuery, type HistoryRows } from './history-store.ts';

export type HistoryFormat = 'json' | 'csv';

export type ParsedHistoryRequest =
  | { ok: true; kind: HistoryKind; query: HistoryQuery; format: HistoryFormat }
  | { ok: false; status: 400 | 404; code: string; message: string };

const ALLOWED_PARAMS = new Set(['venue', 'symbol', 'from', 'to', 'limit', 'format', 'apikey']);
const INT = /^(0|[1-9][0-9]{0,19})$/;

export function isHistoryKind(v: string): v is HistoryKind {
  return (HISTORY_KINDS as readonly string[]).includes(v);
}

/**
 * Strict validation of `GET /v1/history/{kind}?venue=&symbol=&from=&to=&limit=&format=`:
 * unknown or repeated parameters, venues outside the enum, non-unified symbols, non-integer
 * times and out-of-range limits are all 400s naming the parameter.
 */
export function parseHistoryRequest(kindText: string, params: URLSearchParams, limits: { maxLimit: number; defaultLimit: number }): ParsedHistoryRequest {
  const bad = (message: string): ParsedHistoryRequest => ({ ok: false, status: 400, code: 'bad_parameter', message });
  if (!isHistoryKind(kindText)) {
    return { ok: false, status: 404, code: 'unknown_kind', message: `unknown history kind ${JSON.stringify(kindText)} (kinds: ${HISTORY_KINDS.join(', ')})` };
  }
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (!ALLOWED_PARAMS.has(name)) return bad(`unknown parameter ${JSON.stringify(name)} (allowed: venue, symbol, from, to, limit, format)`);
    if (seen.has(name)) return bad(`parameter ${name} given more than once`);
    seen.add(name);
  }
  const venue = params.get('venue');
  if (venue !== null && !isVenueId(venue)) return bad(`venue ${JSON.stringify(venue)} is not a venue id (${VENUE_ID_HELP})`);
  const symbol = params.get('symbol');
  if (symbol !== null && !isUnifiedSymbol(symbol)) return bad(`symbol ${JSON.stringify(symbol)} is not a unified symbol like BTC/USDT:USDT`);
  const time = (name: 'from' | 'to'): number | null | string => {
    const v = params.get(name);
    if (v === null) return null;
    if (!INT.test(v)) return `${name} must be an integer number of milliseconds since the epoch, got ${JSON.stringify(v)}`;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) return `${name} is out of range`;
    return n;
  };
  const from = time('from');
  if (typeof from === 'string') return bad(from);
  const to = time('to');
  if (typeof to === 'string') return bad(to);
  if (from !== null && to !== null && from >= to) return bad('from must be less than to (from inclusive, to exclusive)');
  let limit = limits.defaultLimit;
  const limitText = params.get('limit');
  if (limitText !== null) {
    if (!INT.test(limitText) || Number(limitText) < 1 || Number(limitText) > limits.maxLimit) return bad(`limit must be an integer in 1..${limits.maxLimit}, got ${JSON.stringify(limitText)}`);
    limit = Number(limitText);
  }
  const format = params.get('format') ?? 'json';
  if (format !== 'json' && format !== 'csv') return bad(`format must be json or csv, got ${JSON.stringify(format)}`);
  return { ok: true, kind: kindText, format, query: { venue: venue as HistoryQuery['venue'], symbol, from, to, limit } };
}

/** `{"kind":"trades","count":N,"rows":[...]}`; rows serialized by the compiled event serializers. */
export function historyJson(kind: HistoryKind, rows: HistoryRows[HistoryKind][], query: HistoryQuery): string {
  const body = rows.map((r) => serializeEvent(r)).join(',');
  return `{"kind":"${kind}","count":${rows.length},"limit":${query.limit},"truncated":${rows.length >= query.limit},"rows":[${body}]}`;
}

type Cell = string | number | boolean | null;

function csvCell(v: Cell): string {
  if (v === null) return '';
  if (typeof v !== 'string') return String(v);
  // Spreadsheet formula injection: text starting with = + - @ is prefixed with a quote.
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const HEAD = ['ts', 'venue', 'symbol', 'seq'];

const COLUMNS: { [K in HistoryKind]: { header: string[]; row: (r: HistoryRows[K]) => Cell[] } } = {
  trades: {
    header: [...HEAD, 'recvTs', 'id', 'price', 'amount', 'side', 'liquidation'],
    row: (r: Trade) => [r.ts, r.venue, r.symbol, r.seq, r.recvTs, r.id, r.price, r.amount, r.side, r.liquidation],
  },
  liquidations: {
    header: [...HEAD, 'recvTs', 'id', 'liquidatedPosition', 'price', 'amount', 'notional', 'completeness'],
    row: (r: Liquidation) => [r.ts, r.venue, r.symbol, r.seq, r.recvTs, r.id, r.liquidatedPosition, r.price, r.amount, r.notional, r.completeness],
  },
  depth: {
    header: [
      ...HEAD,
      'bestBid', 'bestAsk', 'mid', 'microprice', 'spreadBps', 'imbalance', 'bidLevels', 'askLevels',
      ...BAND_PCTS.flatMap((p) => [`bidQuote_${p}pct`, `askQuote_${p}pct`, `bidBase_${p}pct`, `askBase_${p}pct`, `truncated_${p}pct`]),
      ...SLIPPAGE_NOTIONALS.flatMap((n) => [`buyBps_${n}`, `sellBps_${n}`]),
      ...CAPACITY_BPS.flatMap((b) => [`buyQuote_${b}bps`, `sellQuote_${b}bps`]),
    ],
    row: (r: DepthMetrics) => [
      r.ts, r.venue, r.symbol, r.seq, r.bestBid, r.bestAsk, r.mid, r.microprice, r.spreadBps, r.imbalance, r.bidLevels, r.askLevels,
      ...BAND_PCTS.flatMap((p) => {
        const b = r.bands.find((x) => x.pct === p);
        return b ? [b.bidQuote, b.askQuote, b.bidBase, b.askBase, b.bidTruncated || b.askTruncated] : [null, null, null, null, null];
      }),
      ...SLIPPAGE_NOTIONALS.flatMap((n) => {
        const s = r.slippage.find((x) => x.notional === n);
        return s ? [s.buyBps, s.sellBps] : [null, null];
      }),
      ...CAPACITY_BPS.flatMap((bps) => {
        const c = r.capacity.find((x) => x.bps === bps);
        return c ? [c.buyQuote, c.sellQuote] : [null, null];
      }),
    ],
  },
  alerts: {
    header: [
      ...HEAD, 'id', 'kind', 'scope', 'asset', 'side', 'stage', 'severity', 'state', 'startTs', 'endTs',
      'liquidationNotional', 'liquidationRate', 'liquidationBaselineRate', 'depth2Pct', 'depth2PctBaseline', 'spreadBps',
      'spreadBaselineBps', 'priceMovePct', 'venues', 'lowerBoundVenues', 'depthTruncated', 'explanation',
    ],
    row: (r: Alert) => {
      const e = r.evidence;
      return [
        r.ts, r.venue, r.symbol, r.seq, r.id, r.kind, r.scope, r.asset, r.side, r.stage, r.severity, r.state, r.startTs, r.endTs,
        e.liquidationNotional, e.liquidationRate, e.liquidationBaselineRate, e.depth2Pct, e.depth2PctBaseline, e.spreadBps,
        e.spreadBaselineBps, e.priceMovePct, e.venues.join(' '), e.lowerBoundVenues.join(' '), e.depthTruncated, r.explanation,
      ];
    },
  },
};

export function historyCsv<K extends HistoryKind>(kind: K, rows: HistoryRows[K][]): string {
  const cols = COLUMNS[kind] as unknown as { header: string[]; row: (r: HistoryRows[K]) => Cell[] };
  const lines = [cols.header.join(',')];
  for (const r of rows) lines.push(cols.row(r).map(csvCell).join(','));
  return lines.join('\r\n') + '\r\n';
}
