import { WebSocket } from 'ws';
import { isUnifiedSymbol, type Alert, type DepthMetrics, type FeedStatus, type Liquidation, type Ticker, type Trade } from '@depthwatch/schemas';
import { CHANNELS, type BookMessage, type Channel } from './stream/protocol.ts';

export interface TailOptions {
  /** Gateway base URL (http://host:port) or the stream URL (ws://host:port/v1/stream). */
  url: string;
  /** depth | book | trades | liquidations | tickers | alerts | status (singular and `liq` accepted). */
  channel: string;
  /** Unified symbol or prefix pattern (`BTC/*`); default all. */
  symbol?: string;
  venue?: string;
  apiKey?: string;
  out?: NodeJS.WritableStream;
  signal?: AbortSignal;
}

const ALIASES: Record<string, Channel> = {
  trade: 'trades',
  liq: 'liquidations',
  liquidation: 'liquidations',
  liqs: 'liquidations',
  ticker: 'tickers',
  alert: 'alerts',
  books: 'book',
};

export function streamUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/stream';
  return u.toString();
}

function fmtNum(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(digits)}B`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(digits)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(digits)}k`;
  return v.toFixed(digits);
}

function fmtPrice(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const digits = v >= 1000 ? 2 : v >= 1 ? 4 : 6;
  return v.toFixed(digits);
}

function time(ts: number): string {
  return new Date(ts).toISOString().slice(11, 23);
}

/** One readable line per message (exported for tests). */
export function formatTailLine(msg: { type: string } & Record<string, unknown>): string | null {
  switch (msg.type) {
    case 'depth': {
      const d = msg as unknown as DepthMetrics;
      const b2 = d.bands.find((b) => b.pct === 2);
      const trunc = b2 && (b2.bidTruncated || b2.askTruncated) ? '≥' : '';
      return `${time(d.ts)} ${d.venue.padEnd(15)} ${d.symbol.padEnd(16)} mid ${fmtPrice(d.mid).padStart(12)}  spread ${d.spreadBps.toFixed(2).padStart(6)}bp  2% bid ${trunc}$${fmtNum(b2?.bidQuote).padStart(8)} ask ${trunc}$${fmtNum(b2?.askQuote).padStart(8)}  imb ${d.imbalance >= 0 ? '+' : ''}${d.imbalance.toFixed(2)}`;
    }
    case 'book': {
      const b = msg as unknown as BookMessage;
      const top = (l: [number, number] | undefined) => (l ? `${fmtPrice(l[0])} x ${fmtNum(l[1], 3)}` : '—');
      return `${time(b.ts)} ${b.venue.padEnd(15)} ${b.symbol.padEnd(16)} bid ${top(b.bids[0]).padStart(24)} | ask ${top(b.asks[0])}  (${b.bids.length}/${b.asks.length} levels)`;
    }
    case 'trade': {
      const t = msg as unknown as Trade;
      return `${time(t.ts)} ${t.venue.padEnd(15)} ${t.symbol.padEnd(16)} ${t.side === 'buy' ? 'BUY ' : 'SELL'} ${fmtNum(t.amount, 4).padStart(10)} @ ${fmtPrice(t.price)}${t.liquidation ? '  (liquidation)' : ''}`;
    }
    case 'liquidation': {
      const l = msg as unknown as Liquidation;
      return `${time(l.ts)} ${l.venue.padEnd(15)} ${l.symbol.padEnd(16)} LIQ ${l.liquidatedPosition === 'long' ? 'LONG ' : 'SHORT'} $${fmtNum(l.notional).padStart(8)}  ${fmtNum(l.amount, 4)} @ ${fmtPrice(l.price)}${l.completeness === 'lower_bound' ? '  (sampled)' : ''}`;
    }
    case 'ticker': {
      const t = msg as unknown as Ticker;
      return `${time(t.ts)} ${t.venue.padEnd(15)} ${t.symbol.padEnd(16)} mark ${t.markPrice === null ? '—' : fmtPrice(t.markPrice)} index ${t.indexPrice === null ? '—' : fmtPrice(t.indexPrice)} funding ${t.fundingRate === null ? '—' : `${(t.fundingRate * 1e4).toFixed(2)}bp`} OI ${fmtNum(t.openInterest)}`;
    }
    case 'alert': {
      const a = msg as unknown as Alert;
      return `${time(a.ts)} ALERT ${a.severity.toUpperCase()} ${a.state} ${a.kind} ${a.scope} ${a.venue} ${a.symbol} [${a.asset}] ${a.stage}: ${a.explanation}`;
    }
    case 'status': {
      const s = msg as unknown as FeedStatus;
      return `${time(s.ts)} ${s.venue.padEnd(15)} ${s.symbol.padEnd(16)} ${s.state.toUpperCase()} ${s.reason} lag ${s.lagMs === null ? '—' : `${Math.round(s.lagMs)}ms`} resyncs ${s.resyncs} gaps ${s.gaps}`;
    }
    case 'dropped':
      return `!! the gateway dropped ${String(msg.count)} ${String(msg.channel)} message(s): this terminal is reading too slowly`;
    case 'error':
      return `!! error ${String(msg.code)}: ${String(msg.message)}`;
    default:
      return null;
  }
}

/**
 * Prints a live, readable view of one channel until the signal aborts or the connection closes.
 * Resolves on abort or on a normal close; rejects when the connection fails or the server refuses.
 */
export async function tail(opts: TailOptions): Promise<void> {
  const out = opts.out ?? process.stdout;
  const channel = (ALIASES[opts.channel] ?? opts.channel) as Channel;
  if (!(CHANNELS as readonly string[]).includes(channel)) {
    throw new Error(`unknown channel ${JSON.stringify(opts.channel)} (channels: ${CHANNELS.join(', ')})`);
  }
  if (opts.symbol && !opts.symbol.endsWith('*') && !isUnifiedSymbol(opts.symbol)) {
    throw new Error(`symbol ${JSON.stringify(opts.symbol)} is not a unified symbol like BTC/USDT:USDT (or a prefix pattern like BTC/*)`);
  }
  if (opts.signal?.aborted) return;
  const ws = new WebSocket(streamUrl(opts.url), { perMessageDeflate: false, headers: opts.apiKey ? { 'x-api-key': opts.apiKey } : {} });
  const write = (line: string) => out.write(line + '\n');
  return new Promise<void>((resolve, reject) => {
    let expected = 1;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => {
      ws.close(1000, 'tail stopped');
      finish();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        let msg = body;
        try {
          msg = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
          /* plain body */
        }
        finish(new Error(`gateway refused the connection (HTTP ${res.statusCode}): ${msg}`));
      });
    });
    ws.on('error', (err) => finish(err));
    ws.on('open', () => {
      ws.send(
        JSON.stringify({
          op: 'subscribe',
          channels: [channel],
          venues: [opts.venue ?? '*'],
          symbols: [opts.symbol ?? '*'],
        }),
      );
    });
    ws.on('message', (data) => {
      let frame: { cseq: number; msgs: ({ type: string } & Record<string, unknown>)[] };
      try {
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch {
        write('!! unreadable frame from the gateway');
        return;
      }
      if (frame.cseq !== expected) write(`!! message sequence gap: expected ${expected}, got ${frame.cseq}`);
      expected = frame.cseq + frame.msgs.length;
      for (const msg of frame.msgs) {
        if (msg.type === 'subscribed') {
          write(`# subscribed to ${channel} ${(msg.venues as string[]).join(',')} ${(msg.symbols as string[]).join(',')} (${String(msg.snapshot)} snapshot messages)`);
          continue;
        }
        const line = formatTailLine(msg);
        if (line) write(line);
      }
    });
    ws.on('close', (code, reason) => {
      if (!done && code !== 1000 && code !== 1005) write(`# connection closed: ${code} ${reason.toString()}`);
      finish();
    });
  });
}
