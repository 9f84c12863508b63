import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryBus } from '@depthwatch/bus';
import type { MarketEvent, VenueId } from '@depthwatch/schemas';
import { startEngine } from '@depthwatch/engine';
import { FIXTURES_DIR, readRestResponses, readWsFrames } from '../fixtures/cryptofeed.ts';
import { registerMarkets, type MarketInfo } from '../metadata/index.ts';
import { VENUES } from '../venues/index.ts';
import { importCryptofeed, unifiedFromCryptofeed } from './cryptofeed.ts';
import { rebuildBookFrom } from '../fixtures/replay.ts';
import { replayFiles, replayRecords, type ReplayResult } from './replay.ts';

/**
 * cryptofeed's real recordings through the whole pipeline: importer → the venue adapter and book
 * sync (REST snapshots from the recording) → bus → engine (timers off). Every book must end in
 * sync — the collector's book equals the one a consumer rebuilds from the published events — with
 * no parse errors, gaps or resyncs, and the engine must have computed depth for every book.
 */

async function pipeline(run: (bus: MemoryBus) => Promise<ReplayResult>) {
  const bus = new MemoryBus();
  const events: MarketEvent[] = [];
  for (const t of ['md.book', 'md.status', 'md.trade', 'md.ticker', 'md.liquidation'] as const) await bus.subscribe(t, (e) => events.push(e as MarketEvent));
  const depthKeys = new Set<string>();
  await bus.subscribe('out.depth', (e) => depthKeys.add(`${e.venue}:${e.symbol}`));
  const engine = await startEngine({ bus, timers: false });
  const result = await run(bus);
  engine.flushDepth();
  await engine.close();
  return { events, depthKeys, result, engineBooks: engine.books };
}


function expectInSync(r: Awaited<ReturnType<typeof pipeline>>, venue: VenueId, symbols: readonly string[], minDeltas: number): void {
  const session = r.result.sessions.get(venue)!;
  expect(session.counters.parseErrors, venue).toBe(0);
  expect(r.result.warnings, venue).toEqual([]);
  let deltas = 0;
  for (const symbol of symbols) {
    const feed = session.feeds.get(symbol)!;
    expect(feed.sync.synced, `${venue} ${symbol}`).toBe(true);
    expect(feed.stats, `${venue} ${symbol}`).toMatchObject({ gaps: 0, resyncs: 0, checksumFailures: 0 });
    const book = rebuildBookFrom(r.events, venue, symbol);
    const own = feed.book()!;
    const sorted = (m: Map<number, number>) => [...m].sort((a, b) => b[0] - a[0]);
    expect(sorted(book.bids), `${venue} ${symbol} bids`).toEqual(own.bids);
    expect(sorted(book.asks).reverse(), `${venue} ${symbol} asks`).toEqual(own.asks);
    deltas += book.deltas;
    expect(r.engineBooks.has(`${venue}:${symbol}`), `${venue} ${symbol} in the engine`).toBe(true);
    if (own.bids.length && own.asks.length) expect(r.depthKeys.has(`${venue}:${symbol}`), `${venue} ${symbol} depth`).toBe(true);
  }
  expect(deltas, venue).toBeGreaterThanOrEqual(minDeltas);
}

describe('cryptofeed recordings through ingest → engine', () => {
  it('maps cryptofeed symbols to unified symbols', () => {
    expect(unifiedFromCryptofeed('SUSHI-USDT-PERP')).toBe('SUSHI/USDT:USDT');
    expect(unifiedFromCryptofeed('NKN-USDT')).toBe('NKN/USDT');
    expect(unifiedFromCryptofeed('UNI-USD-PERP')).toBe('UNI/USD:UNI');
    expect(unifiedFromCryptofeed('BTC-USD-22K27')).toBe('BTC/USD:BTC-220527');
    expect(unifiedFromCryptofeed('BTC-8000-21U24-put')).toBe('BTC/USD:BTC-210924-8000-P');
    expect(unifiedFromCryptofeed('weird')).toBeNull();
  });

  it('Binance USD-M futures and spot: replayFiles on the raw files, books in sync, depth computed', async () => {
    const files = ['BINANCE_FUTURES.0', 'BINANCE_FUTURES.http.0.0', 'BINANCE_FUTURES.ws.1.0', 'BINANCE.0', 'BINANCE.http.0.0', 'BINANCE.ws.1.0'].map((f) => join(FIXTURES_DIR, f));
    const r = await pipeline((bus) => replayFiles(files, { bus }));
    expect(r.result.restResponses).toBeGreaterThanOrEqual(8);
    expect(r.result.unansweredRequests).toBe(0);
    expectInSync(r, 'binance-futures', ['SUSHI/USDT:USDT', 'AKRO/USDT:USDT', 'KEEP/USDT:USDT', 'CTK/USDT:USDT'], 700);
    expectInSync(r, 'binance', ['NKN/USDT', 'BLZ/ETH', 'LRC/BTC', 'RUNE/EUR'], 100);
    expect(r.events.filter((e) => e.type === 'trade').length).toBeGreaterThan(50);
  });

  // Adapters being written alongside: these run once venues/<venue>.ts is registered.
  const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
  const extra: { exchange: string; venue: VenueId; minDeltas: number; setup: () => Promise<string[]> }[] = [
    {
      exchange: 'OKX',
      venue: 'okx',
      minDeltas: 250,
      setup: async () => {
        const symbols = ['BTC/USD:BTC-220527', 'UNI/USD:UNI', 'BTC/USDT'];
        // ctVal and precision from the recording's own instrument lists, through ccxt (as the OKX adapter's tests do).
        const { loadVenueMarkets } = await import('../../scripts/refresh-metadata.ts');
        registerMarkets(await loadVenueMarkets({ venue: 'okx', ccxtId: 'okx', options: { fetchMarkets: { types: ['spot', 'swap', 'future'] } }, fixture: 'OKX.0', symbols }, { live: false }));
        return symbols;
      },
    },
    {
      exchange: 'DERIBIT',
      venue: 'deribit',
      minDeltas: 30,
      setup: async () => {
        // 2021 option instruments from the recorded instrument list (ccxt cannot name them).
        const rows = readRestResponses(join(FIXTURES_DIR, 'DERIBIT.0')).flatMap((r) => JSON.parse(r.body).result as Record<string, unknown>[]);
        const ws = readWsFrames(join(FIXTURES_DIR, 'DERIBIT.ws.1.0'));
        const sub = JSON.parse((ws.find((r) => r.kind === 'sent') as { text: string }).text);
        const names = (sub.params.channels as string[]).filter((c) => c.startsWith('book.')).map((c) => c.split('.')[1]);
        const markets: MarketInfo[] = names.map((name) => {
          const row = rows.find((r) => r.instrument_name === name)!;
          const [base, expiry, strike, cp] = name.split('-');
          const m = /^(\d+)([A-Z]{3})(\d\d)$/.exec(expiry)!;
          const yymmdd = `${m[3]}${String(MONTHS.indexOf(m[2]) + 1).padStart(2, '0')}${m[1].padStart(2, '0')}`;
          return { venue: 'deribit', symbol: `${base}/USD:${base}-${yymmdd}-${strike}-${cp}`, venueSymbol: name, type: 'option', base, quote: 'USD', settle: base, linear: false, inverse: true, contractSize: row.contract_size as number, tickSize: row.tick_size as number, lotSize: row.min_trade_amount as number };
        });
        registerMarkets(markets);
        return markets.map((m) => m.symbol);
      },
    },
    {
      exchange: 'BITMEX',
      venue: 'bitmex',
      minDeltas: 50,
      setup: async () => {
        const ws = readWsFrames(join(FIXTURES_DIR, 'BITMEX.ws.1.0'));
        const books = ws.flatMap((r) => (r.kind === 'sent' && r.text.includes('orderBookL2') ? (JSON.parse(r.text).args as string[]) : [])).map((a) => a.split(':')[1]);
        // XBTUSD is in the shipped metadata; the quanto/linear 2021 contracts are kept in contracts.
        const markets: MarketInfo[] = books
          .filter((vs) => vs !== 'XBTUSD')
          .map((vs) => ({ venue: 'bitmex', symbol: `${vs}/CONTRACTS:XBT`, venueSymbol: vs, type: 'swap', base: vs, quote: 'CONTRACTS', settle: 'XBT', linear: true, inverse: false, contractSize: 1, tickSize: null, lotSize: null }));
        registerMarkets(markets);
        return books.map((vs) => (vs === 'XBTUSD' ? 'BTC/USD:BTC' : `${vs}/CONTRACTS:XBT`));
      },
    },
  ];
  for (const x of extra) {
    const ready = VENUES[x.venue] !== undefined && existsSync(join(FIXTURES_DIR, `${x.exchange}.ws.1.0`));
    it.runIf(ready)(`${x.exchange}: imported recording through the ${x.venue} adapter, books in sync, depth computed`, async () => {
      const symbols = await x.setup();
      const imported = importCryptofeed(FIXTURES_DIR, x.exchange, { symbols });
      const r = await pipeline((bus) => replayRecords(imported.records, { bus }));
      expectInSync(r, x.venue, symbols, x.minDeltas);
    }, 20_000);
  }
});
